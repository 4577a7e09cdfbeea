/*
 * GEMM and dot-product entry points: argument checks, the BLAS forms as
 * strided ones, k = 0, the narrow formats (float16, bfloat16, float8) in the
 * float32 container. The blocked work is in lmul_gemm_driver.c.
 */
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

/* One element of C = beta * C (kdim = 0); beta = 0 writes zero without
 * reading C. A narrow C (out) is scaled in float32 and rounded once. */
static void scale_one(char *e, size_t elsize, lmul_elem_format out,
                      const void *beta)
{
    if (elsize == 8) {
        const double b = *(const double *)beta;
        double v = 0.0;
        if (b != 0.0) {
            memcpy(&v, e, sizeof v);
            v = b * v;
        }
        memcpy(e, &v, sizeof v);
        return;
    }
    const float b = *(const float *)beta;
    const int narrow = out != LMUL_ELEM_CONTAINER;
    float v = 0.0f;
    if (b != 0.0f && narrow)
        v = lmul_elem_read(out, e);
    else if (b != 0.0f)
        memcpy(&v, e, sizeof v);
    v = b != 0.0f ? b * v : 0.0f;
    if (narrow)
        lmul_elem_narrow(out, v, e);
    else
        memcpy(e, &v, sizeof v);
}

static void scale_c(size_t elsize, lmul_elem_format out, char *c, int64_t m,
                    int64_t n, int64_t rs, int64_t cs, const void *beta)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++)
            scale_one(c + i * rs + j * cs, elsize, out, beta);
}

/* table = the float32 bits of every code of a float8 `in`, each widened once
 * for the packing; NULL (table unused) for the other formats. */
const uint32_t *lmul_gemm_fp8_codes(lmul_elem_format in, uint32_t table[256])
{
    const lmul_fp8_format *fp8 = lmul_elem_fp8(in);
    if (fp8 == NULL)
        return NULL;
    for (int code = 0; code < 256; code++)
        table[code] = lmul_fp8_to_float_bits((uint8_t)code, fp8);
    return table;
}

/* The checks both GEMM forms make first, in this order: k (LMUL_ERR_K),
 * then negative sizes (LMUL_ERR_ARG); p gets k's parameters. */
static int check_sizes(const lmul_container *ct, int64_t m, int64_t n,
                       int64_t kdim, int k, lmul_params *p)
{
    const int status = lmul_params_init(p, ct, k);
    if (status != LMUL_OK)
        return status;
    return m < 0 || n < 0 || kdim < 0 ? LMUL_ERR_ARG : LMUL_OK;
}

/* in_a, in_b, out: how A, B and C are stored (CONTAINER for float and
 * double); batch: NULL for one product. */
int lmul_gemm_strided(const lmul_container *ct, size_t elsize, lmul_elem_format in_a,
                      lmul_elem_format in_b, lmul_elem_format out, int64_t m,
                      int64_t n, int64_t kdim, const void *alpha, const void *a,
                      int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b,
                      int64_t cs_b, const void *beta, void *c, int64_t rs_c,
                      int64_t cs_c, int k, const lmul_gemm_batch *batch)
{
    lmul_gemm_problem pr;
    int status = check_sizes(ct, m, n, kdim, k, &pr.params);
    if (status != LMUL_OK || m == 0 || n == 0)
        return status;
    const int64_t count = batch != NULL ? batch->count : 1;
    if (count < 0)
        return LMUL_ERR_ARG;
    if (count == 0)
        return LMUL_OK;
    if (c == NULL || (kdim > 0 && (a == NULL || b == NULL)))
        return LMUL_ERR_ARG;
    if ((m > 1 && rs_c == 0) || (n > 1 && cs_c == 0))
        return LMUL_ERR_ARG;          /* two elements of C at one address */
    uint32_t table_a[256], table_b[256];
    pr.op_a = (lmul_operand){in_a, lmul_gemm_fp8_codes(in_a, table_a)};
    pr.op_b = (lmul_operand){in_b, lmul_gemm_fp8_codes(in_b, table_b)};
    const lmul_kernels *ks = lmul_active_kernels();   /* once: one level per call */
    pr.ker = elsize == 4 ? &ks->sgemm : &ks->dgemm;
    pr.container = ct;
    pr.elsize = elsize;
    pr.out = out;
    pr.m = m;
    pr.n = n;
    pr.k = kdim;
    pr.a = a;
    pr.rs_a = rs_a;
    pr.cs_a = cs_a;
    pr.b = b;
    pr.rs_b = rs_b;
    pr.cs_b = cs_b;
    pr.c = c;
    pr.rs_c = rs_c;
    pr.cs_c = cs_c;
    pr.alpha = alpha;
    pr.beta = beta;
    pr.packed_a = NULL;
    pr.small = elsize == 4 ? ks->sgemm_small : NULL;
    lmul_fp_scope fp;
    lmul_fp_enter(&fp);
    if (kdim == 0) {
        for (int64_t i = 0; i < count; i++)
            scale_c(elsize, out, (char *)c + i * (batch != NULL ? batch->bs_c : 0),
                    m, n, rs_c, cs_c, beta);
    } else {
        static const lmul_gemm_batch one = {1, 0, 0, 0};
        status = lmul_gemm_run_batch(&pr, batch != NULL ? batch : &one);
    }
    if (status == LMUL_OK && lmul_sums_may_hold_odd_nans(elsize, beta))
        for (int64_t i = 0; i < count; i++)
            lmul_canonical_nans(elsize, out, (char *)c + i * (batch != NULL ? batch->bs_c : 0),
                                m, n, rs_c, cs_c);
    lmul_fp_leave(&fp);
    return status;
}

int lmul_sgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                       const float *a, int64_t rs_a, int64_t cs_a, const float *b,
                       int64_t rs_b, int64_t cs_b, float beta, float *c,
                       int64_t rs_c, int64_t cs_c, int k)
{
    return lmul_gemm_strided(&lmul_container_f32, sizeof(float), LMUL_ELEM_CONTAINER,
                        LMUL_ELEM_CONTAINER, LMUL_ELEM_CONTAINER, m, n, kdim, &alpha,
                        a, rs_a, cs_a, b, rs_b, cs_b, &beta, c, rs_c, cs_c, k, NULL);
}

int lmul_dgemm_strided(int64_t m, int64_t n, int64_t kdim, double alpha,
                       const double *a, int64_t rs_a, int64_t cs_a,
                       const double *b, int64_t rs_b, int64_t cs_b, double beta,
                       double *c, int64_t rs_c, int64_t cs_c, int k)
{
    return lmul_gemm_strided(&lmul_container_f64, sizeof(double), LMUL_ELEM_CONTAINER,
                        LMUL_ELEM_CONTAINER, LMUL_ELEM_CONTAINER, m, n, kdim, &alpha,
                        a, rs_a, cs_a, b, rs_b, cs_b, &beta, c, rs_c, cs_c, k, NULL);
}

/* ---------------------------------------------------------------- BLAS form */

/* Byte strides of op(X), rows x cols, stored with leading dimension ld. */
static int blas_strides(lmul_layout layout, lmul_transpose trans, int64_t rows,
                        int64_t cols, int64_t ld, size_t elsize, int64_t *rs,
                        int64_t *cs)
{
    if ((layout != LMUL_ROW_MAJOR && layout != LMUL_COL_MAJOR)
        || (trans != LMUL_NO_TRANS && trans != LMUL_TRANS))
        return LMUL_ERR_ARG;
    const int t = trans == LMUL_TRANS, row_major = layout == LMUL_ROW_MAJOR;
    const int64_t stored_rows = t ? cols : rows, stored_cols = t ? rows : cols;
    const int64_t min_ld = row_major ? stored_cols : stored_rows;
    if (ld < (min_ld > 1 ? min_ld : 1))
        return LMUL_ERR_DIM;
    if (ld > INT64_MAX / (int64_t)elsize)
        return LMUL_ERR_ARG;          /* no byte stride can address it */
    const int64_t s_row = row_major ? ld : 1, s_col = row_major ? 1 : ld;
    *rs = (int64_t)elsize * (t ? s_col : s_row);
    *cs = (int64_t)elsize * (t ? s_row : s_col);
    return LMUL_OK;
}

static int gemm_blas(const lmul_container *ct, size_t elsize, lmul_layout layout,
                     lmul_transpose ta, lmul_transpose tb, int64_t m, int64_t n,
                     int64_t kdim, const void *alpha, const void *a, int64_t lda,
                     const void *b, int64_t ldb, const void *beta, void *c,
                     int64_t ldc, int k)
{
    lmul_params params;
    int status = check_sizes(ct, m, n, kdim, k, &params);
    if (status != LMUL_OK)
        return status;
    int64_t rs_a, cs_a, rs_b, cs_b, rs_c, cs_c;
    status = blas_strides(layout, ta, m, kdim, lda, elsize, &rs_a, &cs_a);
    if (status == LMUL_OK)
        status = blas_strides(layout, tb, kdim, n, ldb, elsize, &rs_b, &cs_b);
    if (status == LMUL_OK)
        status = blas_strides(layout, LMUL_NO_TRANS, m, n, ldc, elsize, &rs_c, &cs_c);
    if (status != LMUL_OK)
        return status;
    return lmul_gemm_strided(ct, elsize, LMUL_ELEM_CONTAINER, LMUL_ELEM_CONTAINER,
                        LMUL_ELEM_CONTAINER, m, n, kdim, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c,
                        cs_c, k, NULL);
}

int lmul_sgemm(lmul_layout layout, lmul_transpose trans_a, lmul_transpose trans_b,
               int64_t m, int64_t n, int64_t kdim, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc, int k)
{
    return gemm_blas(&lmul_container_f32, sizeof(float), layout, trans_a, trans_b,
                     m, n, kdim, &alpha, a, lda, b, ldb, &beta, c, ldc, k);
}

int lmul_dgemm(lmul_layout layout, lmul_transpose trans_a, lmul_transpose trans_b,
               int64_t m, int64_t n, int64_t kdim, double alpha, const double *a,
               int64_t lda, const double *b, int64_t ldb, double beta, double *c,
               int64_t ldc, int k)
{
    return gemm_blas(&lmul_container_f64, sizeof(double), layout, trans_a, trans_b,
                     m, n, kdim, &alpha, a, lda, b, ldb, &beta, c, ldc, k);
}

/* ---------------------------------------------------------------- narrow */

/* A and B in formats in_a and in_b (narrow ones widened as they are packed
 * or streamed), in the float32 container; C float32 (out CONTAINER) or
 * narrowed once (out). */
static int narrow_gemm(lmul_elem_format in_a, lmul_elem_format in_b,
                       lmul_elem_format out, int64_t m,
                       int64_t n, int64_t kdim, float alpha, const void *a,
                       int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b,
                       int64_t cs_b, float beta, void *c, int64_t rs_c,
                       int64_t cs_c, int k)
{
    return lmul_gemm_strided(&lmul_container_f32, sizeof(float), in_a, in_b, out, m, n,
                        kdim, &alpha, a, rs_a, cs_a, b, rs_b, cs_b, &beta, c, rs_c,
                        cs_c, k, NULL);
}

int lmul_hgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                       const uint16_t *a, int64_t rs_a, int64_t cs_a,
                       const uint16_t *b, int64_t rs_b, int64_t cs_b, float beta,
                       uint16_t *c, int64_t rs_c, int64_t cs_c, int k)
{
    return narrow_gemm(LMUL_ELEM_HALF, LMUL_ELEM_HALF, LMUL_ELEM_HALF, m, n, kdim, alpha, a, rs_a,
                       cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c, k);
}

int lmul_bgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                       const uint16_t *a, int64_t rs_a, int64_t cs_a,
                       const uint16_t *b, int64_t rs_b, int64_t cs_b, float beta,
                       uint16_t *c, int64_t rs_c, int64_t cs_c, int k)
{
    return narrow_gemm(LMUL_ELEM_BFLOAT16, LMUL_ELEM_BFLOAT16, LMUL_ELEM_BFLOAT16, m, n, kdim, alpha, a,
                       rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c, k);
}

int lmul_e4m3gemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                          const uint8_t *a, int64_t rs_a, int64_t cs_a,
                          const uint8_t *b, int64_t rs_b, int64_t cs_b, float beta,
                          float *c, int64_t rs_c, int64_t cs_c, int k)
{
    return narrow_gemm(LMUL_ELEM_E4M3FN, LMUL_ELEM_E4M3FN, LMUL_ELEM_CONTAINER, m, n, kdim, alpha, a,
                       rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c, k);
}

int lmul_e5m2gemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                          const uint8_t *a, int64_t rs_a, int64_t cs_a,
                          const uint8_t *b, int64_t rs_b, int64_t cs_b, float beta,
                          float *c, int64_t rs_c, int64_t cs_c, int k)
{
    return narrow_gemm(LMUL_ELEM_E5M2, LMUL_ELEM_E5M2, LMUL_ELEM_CONTAINER, m, n, kdim, alpha, a,
                       rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c, k);
}

/* The element format of a public format of the float32 container; -1 for
 * the others. */
static int elem_format(lmul_format f)
{
    const lmul_container *ct;
    size_t elsize;
    lmul_elem_format in, out;
    if (lmul_format_describe(f, &ct, &elsize, &in, &out) != LMUL_OK
        || elsize != sizeof(float))
        return -1;
    return (int)in;
}

int lmul_mgemm_strided(lmul_format format_a, lmul_format format_b, int64_t m,
                       int64_t n, int64_t kdim, float alpha, const void *a,
                       int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b,
                       int64_t cs_b, float beta, float *c, int64_t rs_c,
                       int64_t cs_c, int k)
{
    const int in_a = elem_format(format_a), in_b = elem_format(format_b);
    if (in_a < 0 || in_b < 0)
        return LMUL_ERR_ARG;
    return narrow_gemm((lmul_elem_format)in_a, (lmul_elem_format)in_b,
                       LMUL_ELEM_CONTAINER, m, n, kdim, alpha, a, rs_a, cs_a, b,
                       rs_b, cs_b, beta, c, rs_c, cs_c, k);
}

/* ---------------------------------------------------------------- dots */

/* float64: products of a chunk by the elementwise kernel, summed in order,
 * the chunks met in order: the blocked dgemm's order (kc of its level). */
int lmul_ddot(int64_t n, const double *x, int64_t x_stride, const double *y,
              int64_t y_stride, double *result, int k)
{
    lmul_params p;
    if (lmul_params_init(&p, &lmul_container_f64, k) != LMUL_OK)
        return LMUL_ERR_K;
    if (n < 0 || result == NULL || (n > 0 && (x == NULL || y == NULL)))
        return LMUL_ERR_ARG;
    double buf[LMUL_GEMM_KC], r = 0.0;
    const double one = 1.0;
    lmul_fp_scope fp;
    lmul_fp_enter(&fp);
    for (int64_t start = 0; start < n; start += LMUL_GEMM_KC) {
        const int64_t m = n - start < LMUL_GEMM_KC ? n - start : LMUL_GEMM_KC;
        lmul_dmul(m, (const double *)((const char *)x + start * x_stride), x_stride,
                  (const double *)((const char *)y + start * y_stride), y_stride,
                  buf, sizeof(double), k);
        double s = 0.0;
        for (int64_t i = 0; i < m; i++)
            s += buf[i];
        r = start == 0 ? one * s : one * s + one * r;
    }
    *result = r;
    if (lmul_sums_may_hold_odd_nans(sizeof(double), NULL))
        lmul_canonical_nans(sizeof(double), LMUL_ELEM_CONTAINER, (char *)result, 1, 1, 0, 0);
    lmul_fp_leave(&fp);
    return LMUL_OK;
}

/* A batch of dots in the float32 container (lmul_dot.c); out CONTAINER
 * (float32) or a 16-bit result format. */
static int dots_f32(lmul_elem_format fx, lmul_elem_format fy, lmul_elem_format out,
                    int64_t batch, int64_t n, const void *x, int64_t bs_x, int64_t s_x,
                    const void *y, int64_t bs_y, int64_t s_y, void *r, int64_t bs_r,
                    int k)
{
    lmul_params params;
    if (lmul_params_init(&params, &lmul_container_f32, k) != LMUL_OK)
        return LMUL_ERR_K;
    if (n < 0 || batch < 0 || (batch > 0 && r == NULL)
        || (batch > 0 && n > 0 && (x == NULL || y == NULL)))
        return LMUL_ERR_ARG;
    if (batch > 1 && bs_r == 0)
        return LMUL_ERR_ARG;            /* two results at one address */
    if (batch == 0)
        return LMUL_OK;
    if (n == 0) {
        for (int64_t b = 0; b < batch; b++)
            scale_one((char *)r + b * bs_r, sizeof(float), out, &(float){0.0f});
        return LMUL_OK;
    }
    uint32_t table_x[256], table_y[256];
    const lmul_dot_problem d = {&lmul_active_kernels()->sgemm,
                                {fx, lmul_gemm_fp8_codes(fx, table_x)},
                                {fy, lmul_gemm_fp8_codes(fy, table_y)},
                                out, batch, n, x, bs_x, s_x, y, bs_y, s_y, r, bs_r,
                                params};
    lmul_fp_scope fp;
    lmul_fp_enter(&fp);
    const int status = lmul_dot_run(&d);
    if (status == LMUL_OK && lmul_sums_may_hold_odd_nans(sizeof(float), NULL))
        lmul_canonical_nans(sizeof(float), out, r, batch, 1, bs_r, 0);
    lmul_fp_leave(&fp);
    return status;
}

int lmul_sdot(int64_t n, const float *x, int64_t x_stride, const float *y,
              int64_t y_stride, float *result, int k)
{
    return dots_f32(LMUL_ELEM_CONTAINER, LMUL_ELEM_CONTAINER, LMUL_ELEM_CONTAINER, 1,
                    n, x, 0, x_stride, y, 0, y_stride, result, 0, k);
}

int lmul_hdot(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
              int64_t y_stride, uint16_t *result, int k)
{
    return dots_f32(LMUL_ELEM_HALF, LMUL_ELEM_HALF, LMUL_ELEM_HALF, 1, n, x, 0,
                    x_stride, y, 0, y_stride, result, 0, k);
}

int lmul_bdot(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
              int64_t y_stride, uint16_t *result, int k)
{
    return dots_f32(LMUL_ELEM_BFLOAT16, LMUL_ELEM_BFLOAT16, LMUL_ELEM_BFLOAT16, 1, n,
                    x, 0, x_stride, y, 0, y_stride, result, 0, k);
}

/* float8 widens exactly to float32; the result is the float32 sum. */
int lmul_e4m3dot(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                 int64_t y_stride, float *result, int k)
{
    return dots_f32(LMUL_ELEM_E4M3FN, LMUL_ELEM_E4M3FN, LMUL_ELEM_CONTAINER, 1, n, x,
                    0, x_stride, y, 0, y_stride, result, 0, k);
}

int lmul_e5m2dot(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                 int64_t y_stride, float *result, int k)
{
    return dots_f32(LMUL_ELEM_E5M2, LMUL_ELEM_E5M2, LMUL_ELEM_CONTAINER, 1, n, x, 0,
                    x_stride, y, 0, y_stride, result, 0, k);
}

int lmul_dot_batched(lmul_format format_x, lmul_format format_y, int64_t batch,
                     int64_t n, const void *x, int64_t x_bstride, int64_t x_stride,
                     const void *y, int64_t y_bstride, int64_t y_stride, void *result,
                     int64_t r_stride, int k)
{
    const int fx = elem_format(format_x), fy = elem_format(format_y);
    if (fx < 0 || fy < 0)
        return LMUL_ERR_ARG;
    const int same16 = fx == fy && (fx == LMUL_ELEM_HALF || fx == LMUL_ELEM_BFLOAT16);
    return dots_f32((lmul_elem_format)fx, (lmul_elem_format)fy,
                    same16 ? (lmul_elem_format)fx : LMUL_ELEM_CONTAINER, batch, n, x,
                    x_bstride, x_stride, y, y_bstride, y_stride, result, r_stride, k);
}
