/*
 * GEMM and dot-product entry points: argument checks, the BLAS forms as
 * strided ones, k = 0, float16 through float32 copies. The blocked work is
 * in lmul_gemm_driver.c.
 */
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"
#include "../kernels/scalar/lmul_half_scalar.h"

/* C = beta * C (kdim = 0); beta = 0 writes zeros without reading C. */
static void scale_c(size_t elsize, char *c, int64_t m, int64_t n, int64_t rs,
                    int64_t cs, const void *beta)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            char *e = c + i * rs + j * cs;
            if (elsize == 4) {
                const float b = *(const float *)beta;
                float v = 0.0f;
                if (b != 0.0f) {
                    memcpy(&v, e, sizeof v);
                    v = b * v;
                }
                memcpy(e, &v, sizeof v);
            } else {
                const double b = *(const double *)beta;
                double v = 0.0;
                if (b != 0.0) {
                    memcpy(&v, e, sizeof v);
                    v = b * v;
                }
                memcpy(e, &v, sizeof v);
            }
        }
}

static int gemm_strided(const lmul_container *ct, size_t elsize, int64_t m,
                        int64_t n, int64_t kdim, const void *alpha, const void *a,
                        int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b,
                        int64_t cs_b, const void *beta, void *c, int64_t rs_c,
                        int64_t cs_c, int k)
{
    lmul_gemm_problem pr;
    const int status = lmul_params_init(&pr.params, ct, k);
    if (status != LMUL_OK)
        return status;
    if (m < 0 || n < 0 || kdim < 0)
        return LMUL_ERR_ARG;
    if (m == 0 || n == 0)
        return LMUL_OK;
    if (c == NULL || (kdim > 0 && (a == NULL || b == NULL)))
        return LMUL_ERR_ARG;
    if ((m > 1 && rs_c == 0) || (n > 1 && cs_c == 0))
        return LMUL_ERR_ARG;          /* two elements of C at one address */
    if (kdim == 0) {
        scale_c(elsize, c, m, n, rs_c, cs_c, beta);
        return LMUL_OK;
    }
    const lmul_kernels *ks = lmul_active_kernels();
    pr.ker = elsize == 4 ? &ks->sgemm : &ks->dgemm;
    pr.container = ct;
    pr.elsize = elsize;
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
    /* overflow and inf - inf raise flags in whichever thread meets them: the
     * caller's flags are left as they were, for every thread count */
    fexcept_t flags;
    fegetexceptflag(&flags, FE_ALL_EXCEPT);
    const int run_status = lmul_gemm_run(&pr);
    fesetexceptflag(&flags, FE_ALL_EXCEPT);
    return run_status;
}

int lmul_sgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                       const float *a, int64_t rs_a, int64_t cs_a, const float *b,
                       int64_t rs_b, int64_t cs_b, float beta, float *c,
                       int64_t rs_c, int64_t cs_c, int k)
{
    return gemm_strided(&lmul_container_f32, sizeof(float), m, n, kdim, &alpha,
                        a, rs_a, cs_a, b, rs_b, cs_b, &beta, c, rs_c, cs_c, k);
}

int lmul_dgemm_strided(int64_t m, int64_t n, int64_t kdim, double alpha,
                       const double *a, int64_t rs_a, int64_t cs_a,
                       const double *b, int64_t rs_b, int64_t cs_b, double beta,
                       double *c, int64_t rs_c, int64_t cs_c, int k)
{
    return gemm_strided(&lmul_container_f64, sizeof(double), m, n, kdim, &alpha,
                        a, rs_a, cs_a, b, rs_b, cs_b, &beta, c, rs_c, cs_c, k);
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
    if (m < 0 || n < 0 || kdim < 0)
        return LMUL_ERR_ARG;
    int64_t rs_a, cs_a, rs_b, cs_b, rs_c, cs_c;
    int status = blas_strides(layout, ta, m, kdim, lda, elsize, &rs_a, &cs_a);
    if (status == LMUL_OK)
        status = blas_strides(layout, tb, kdim, n, ldb, elsize, &rs_b, &cs_b);
    if (status == LMUL_OK)
        status = blas_strides(layout, LMUL_NO_TRANS, m, n, ldc, elsize, &rs_c, &cs_c);
    if (status != LMUL_OK)
        return status;
    return gemm_strided(ct, elsize, m, n, kdim, alpha, a, rs_a, cs_a, b, rs_b,
                        cs_b, beta, c, rs_c, cs_c, k);
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

/* ---------------------------------------------------------------- float16 */

/* dst[i + j*rows] = float(src element (i, j)). */
static float *half_to_float_copy(const uint16_t *src, int64_t rows, int64_t cols,
                                 int64_t rs, int64_t cs)
{
    float *dst = malloc((size_t)(rows * cols) * sizeof(float) + 1);
    if (dst == NULL)
        return NULL;
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < rows; i++) {
            uint16_t h;
            memcpy(&h, (const char *)src + i * rs + j * cs, sizeof h);
            const uint32_t bits = lmul_half_to_float_bits(h);
            memcpy(&dst[i + j * rows], &bits, sizeof bits);
        }
    return dst;
}

int lmul_hgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                       const uint16_t *a, int64_t rs_a, int64_t cs_a,
                       const uint16_t *b, int64_t rs_b, int64_t cs_b, float beta,
                       uint16_t *c, int64_t rs_c, int64_t cs_c, int k)
{
    lmul_params p;
    if (lmul_params_init(&p, &lmul_container_f32, k) != LMUL_OK)
        return LMUL_ERR_K;
    if (m < 0 || n < 0 || kdim < 0)
        return LMUL_ERR_ARG;
    if (m == 0 || n == 0)
        return LMUL_OK;
    if (c == NULL || (kdim > 0 && (a == NULL || b == NULL))
        || (m > 1 && rs_c == 0) || (n > 1 && cs_c == 0))
        return LMUL_ERR_ARG;
    const int64_t fs = sizeof(float);
    float *af = half_to_float_copy(a, m, kdim, rs_a, cs_a);
    float *bf = half_to_float_copy(b, kdim, n, rs_b, cs_b);
    float *cf = beta != 0.0f ? half_to_float_copy(c, m, n, rs_c, cs_c)
                             : malloc((size_t)(m * n) * sizeof(float));
    int status = af && bf && cf ? LMUL_OK : LMUL_ERR_NOMEM;
    if (status == LMUL_OK)
        status = lmul_sgemm_strided(m, n, kdim, alpha, af, fs, m * fs, bf, fs,
                                    kdim * fs, beta, cf, fs, m * fs, k);
    if (status == LMUL_OK) {
        fexcept_t flags;   /* no floating-point flags from the narrowing */
        fegetexceptflag(&flags, FE_ALL_EXCEPT);
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < m; i++) {
                uint32_t bits;
                memcpy(&bits, &cf[i + j * m], sizeof bits);
                const uint16_t h = lmul_float_bits_to_half(bits);
                memcpy((char *)c + i * rs_c + j * cs_c, &h, sizeof h);
            }
        fesetexceptflag(&flags, FE_ALL_EXCEPT);
    }
    free(af);
    free(bf);
    free(cf);
    return status;
}

/* ---------------------------------------------------------------- dots */

#define DOT_CHUNK 512

int lmul_ddot(int64_t n, const double *x, int64_t x_stride, const double *y,
              int64_t y_stride, double *result, int k)
{
    lmul_params p;
    if (lmul_params_init(&p, &lmul_container_f64, k) != LMUL_OK)
        return LMUL_ERR_K;
    if (n < 0 || result == NULL || (n > 0 && (x == NULL || y == NULL)))
        return LMUL_ERR_ARG;
    double buf[DOT_CHUNK], acc = 0.0;
    for (int64_t start = 0; start < n; start += DOT_CHUNK) {
        const int64_t m = n - start < DOT_CHUNK ? n - start : DOT_CHUNK;
        lmul_dmul(m, (const double *)((const char *)x + start * x_stride), x_stride,
                  (const double *)((const char *)y + start * y_stride), y_stride,
                  buf, sizeof(double), k);
        for (int64_t i = 0; i < m; i++)
            acc += buf[i];
    }
    *result = acc;
    return LMUL_OK;
}

int lmul_sdot(int64_t n, const float *x, int64_t x_stride, const float *y,
              int64_t y_stride, float *result, int k)
{
    lmul_params p;
    if (lmul_params_init(&p, &lmul_container_f32, k) != LMUL_OK)
        return LMUL_ERR_K;
    if (n < 0 || result == NULL || (n > 0 && (x == NULL || y == NULL)))
        return LMUL_ERR_ARG;
    float buf[DOT_CHUNK], acc = 0.0f;
    for (int64_t start = 0; start < n; start += DOT_CHUNK) {
        const int64_t m = n - start < DOT_CHUNK ? n - start : DOT_CHUNK;
        lmul_smul(m, (const float *)((const char *)x + start * x_stride), x_stride,
                  (const float *)((const char *)y + start * y_stride), y_stride,
                  buf, sizeof(float), k);
        for (int64_t i = 0; i < m; i++)
            acc += buf[i];
    }
    *result = acc;
    return LMUL_OK;
}

/* float16 widens exactly to float32; the products and the sum are float32. */
int lmul_hdot(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
              int64_t y_stride, uint16_t *result, int k)
{
    if (n < 0 || result == NULL || (n > 0 && (x == NULL || y == NULL)))
        return LMUL_ERR_ARG;
    float *xf = half_to_float_copy(x, n, 1, x_stride, 0);
    float *yf = half_to_float_copy(y, n, 1, y_stride, 0);
    float acc = 0.0f;
    int status = xf && yf ? LMUL_OK : LMUL_ERR_NOMEM;
    if (status == LMUL_OK)
        status = lmul_sdot(n, xf, sizeof(float), yf, sizeof(float), &acc, k);
    if (status == LMUL_OK) {
        uint32_t bits;
        memcpy(&bits, &acc, sizeof bits);
        *result = lmul_float_bits_to_half(bits);
    }
    free(xf);
    free(yf);
    return status;
}
