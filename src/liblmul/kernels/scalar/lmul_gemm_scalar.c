/*
 * GEMM microkernels and packing preparation in portable C: 4 x 4 register
 * tiles of float32 and float64. The safe kernel takes each product through
 * lmul_bits_scalar, the fast one is the integer add of the packed bits.
 */
#include <string.h>

#include "lmul_bits_scalar.h"
#include "lmul_kernels_scalar.h"

static inline uint64_t prep_one(uint64_t bits, const lmul_container *c,
                                const lmul_params *p, lmul_range *r)
{
    const uint64_t sign = bits & c->sign;
    uint64_t mag = bits & (c->sign - 1);
    if (mag < (UINT64_C(1) << c->P))
        mag = 0;                                /* DAZ */
    else if (mag < c->inf)
        mag = lmul_round_scalar(mag, p);
    if (mag == 0)
        r->zeros = 1;
    else if (mag < r->min)
        r->min = mag;
    r->max = mag > r->max ? mag : r->max;
    return sign | mag;
}

void lmul_prep32_scalar(int64_t rows, int64_t width, const void *src,
                        int64_t src_stride, void *dst, uint64_t addend,
                        const lmul_params *p, lmul_range *range)
{
    uint32_t *out = dst;
    lmul_range r = {UINT64_MAX, 0, 0};
    for (int64_t row = 0; row < rows; row++) {
        const char *in = (const char *)src + row * src_stride;
        for (int64_t i = 0; i < width; i++, out++) {
            uint32_t x;
            memcpy(&x, in + i * sizeof x, sizeof x);
            *out = (uint32_t)(prep_one(x, &lmul_container_f32, p, &r) + addend);
        }
    }
    *range = r;
}

void lmul_prep64_scalar(int64_t rows, int64_t width, const void *src,
                        int64_t src_stride, void *dst, uint64_t addend,
                        const lmul_params *p, lmul_range *range)
{
    uint64_t *out = dst;
    lmul_range r = {UINT64_MAX, 0, 0};
    for (int64_t row = 0; row < rows; row++) {
        const char *in = (const char *)src + row * src_stride;
        for (int64_t i = 0; i < width; i++, out++) {
            uint64_t x;
            memcpy(&x, in + i * sizeof x, sizeof x);
            *out = prep_one(x, &lmul_container_f64, p, &r) + addend;
        }
    }
    *range = r;
}

#define MR 4
#define NR 4

/* How a kernel gets each product: the one-add, the one-add with products of
 * a zero operand made +0 (valid in the tiles the zero kernel gets), or
 * every rule of docs/contract.md. */
enum { ONE_ADD, ZEROS, SAFE };

/* a + b, or 0 where A's bits (less a_addend) or B's are a zero of either sign. */
static inline uint64_t masked_add(uint64_t a, uint64_t b, uint64_t a_addend, int bits)
{
    const int zero = (((a - a_addend) << 1) << (64 - bits)) == 0
                     || ((b << 1) << (64 - bits)) == 0;
    return zero ? 0 : a + b;
}

static inline float sprod(uint32_t a, uint32_t b, const lmul_gemm_aux *aux,
                          int mode)
{
    const uint32_t r = mode == SAFE ? (uint32_t)lmul_bits_scalar(
        (uint32_t)(a - aux->a_addend), b, &lmul_container_f32, aux->p)
        : mode == ZEROS ? (uint32_t)masked_add(a, b, aux->a_addend, 32) : a + b;
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

static inline void sgemm_4x4(int64_t kc, const uint32_t *a, const uint32_t *b,
                             float *c, int64_t ldc, const lmul_gemm_aux *aux,
                             int mode)
{
    float acc[MR * NR] = {0};
    for (int64_t p = 0; p < kc; p++, a += MR, b += NR)
        for (int j = 0; j < NR; j++)
            for (int i = 0; i < MR; i++)
                acc[i + j * MR] += sprod(a[i], b[j], aux, mode);
    const float alpha = *(const float *)aux->alpha, beta = *(const float *)aux->beta;
    for (int j = 0; j < NR; j++)
        for (int i = 0; i < MR; i++) {
            const float r = alpha * acc[i + j * MR];
            c[i + j * ldc] = beta == 0.0f ? r : r + beta * c[i + j * ldc];
        }
}

void lmul_sgemm_fast_scalar_4x4(int64_t kc, const void *pa, const void *pb,
                                void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_4x4(kc, pa, pb, c, ldc, aux, ONE_ADD);
}

void lmul_sgemm_zeros_scalar_4x4(int64_t kc, const void *pa, const void *pb,
                                 void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_4x4(kc, pa, pb, c, ldc, aux, ZEROS);
}

void lmul_sgemm_safe_scalar_4x4(int64_t kc, const void *pa, const void *pb,
                                void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_4x4(kc, pa, pb, c, ldc, aux, SAFE);
}

static inline double dprod(uint64_t a, uint64_t b, const lmul_gemm_aux *aux,
                           int mode)
{
    const uint64_t r = mode == SAFE ? lmul_bits_scalar(a - aux->a_addend, b,
                                                       &lmul_container_f64, aux->p)
                     : mode == ZEROS ? masked_add(a, b, aux->a_addend, 64) : a + b;
    double f;
    memcpy(&f, &r, sizeof f);
    return f;
}

static inline void dgemm_4x4(int64_t kc, const uint64_t *a, const uint64_t *b,
                             double *c, int64_t ldc, const lmul_gemm_aux *aux,
                             int mode)
{
    double acc[MR * NR] = {0};
    for (int64_t p = 0; p < kc; p++, a += MR, b += NR)
        for (int j = 0; j < NR; j++)
            for (int i = 0; i < MR; i++)
                acc[i + j * MR] += dprod(a[i], b[j], aux, mode);
    const double alpha = *(const double *)aux->alpha;
    const double beta = *(const double *)aux->beta;
    for (int j = 0; j < NR; j++)
        for (int i = 0; i < MR; i++) {
            const double r = alpha * acc[i + j * MR];
            c[i + j * ldc] = beta == 0.0 ? r : r + beta * c[i + j * ldc];
        }
}

void lmul_dgemm_fast_scalar_4x4(int64_t kc, const void *pa, const void *pb,
                                void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_4x4(kc, pa, pb, c, ldc, aux, ONE_ADD);
}

void lmul_dgemm_zeros_scalar_4x4(int64_t kc, const void *pa, const void *pb,
                                 void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_4x4(kc, pa, pb, c, ldc, aux, ZEROS);
}

void lmul_dgemm_safe_scalar_4x4(int64_t kc, const void *pa, const void *pb,
                                void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_4x4(kc, pa, pb, c, ldc, aux, SAFE);
}
