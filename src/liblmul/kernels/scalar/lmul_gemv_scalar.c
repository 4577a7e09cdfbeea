/* Few-row kernels in portable C (lmul_gemv_ukr_ft): 4 columns, one row of A
 * at a time, each sum from +0 in step order as in the GEMM microkernels. */
#include <string.h>

#include "lmul_bits_scalar.h"
#include "lmul_half_scalar.h"
#include "lmul_kernels_scalar.h"

#define NB 4

static inline void gemv(int64_t m, int64_t kc, const uint32_t *xa,
                        const uint32_t *w, int64_t ldw, float *acc,
                        const lmul_gemm_aux *aux, int safe)
{
    for (int64_t i = 0; i < m; i++) {
        float sum[NB] = {0};
        const uint32_t *x = xa + i * kc, *row = w;
        for (int64_t p = 0; p < kc; p++, row += ldw) {
            if (!safe && aux->a_zeros && lmul_prepared_zero(x[p], aux->a_addend))
                continue;                       /* A's zero: +0, masked */
            for (int j = 0; j < NB; j++) {
                if (!safe && aux->b_zeros && (row[j] & 0x7FFFFFFFu) < 0x00800000u)
                    continue;                   /* B's zero or subnormal: +0, masked */
                const uint32_t r = safe ? (uint32_t)lmul_bits_scalar(
                    (uint32_t)(x[p] - aux->a_addend), row[j], &lmul_container_f32,
                    aux->p) : x[p] + row[j];
                float f;
                memcpy(&f, &r, sizeof f);
                sum[j] += f;
            }
        }
        memcpy(acc + i * NB, sum, sizeof sum);
    }
}

void lmul_sgemv_fast_scalar_4(int64_t m, int64_t kc, const uint32_t *xa,
                              const uint32_t *w, int64_t ldw, float *acc,
                              const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 0);
}

void lmul_sgemv_safe_scalar_4(int64_t m, int64_t kc, const uint32_t *xa,
                              const uint32_t *w, int64_t ldw, float *acc,
                              const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1);
}

/* ------------------------------------------------ streamed, unprepared B */

/* B's bits ready for the one-add product, recorded in *r (a subnormal as a
 * zero). */
static inline uint32_t prepared(uint32_t v, const lmul_params *p, lmul_range *r)
{
    const uint32_t mag = v & 0x7FFFFFFFu;
    const uint32_t rounded = mag < 0x00800000u ? 0 : (uint32_t)lmul_round_scalar(mag, p);
    if (rounded == 0)
        r->zeros = 1;
    else if (rounded < r->min)
        r->min = rounded;
    r->max = rounded > r->max ? rounded : r->max;
    return (v & 0x80000000u) | rounded;
}

/* Whether B's prepared element v is a zero whose products the masked
 * one-add loop takes as +0 (skipped). */
static inline int w_zero_masked(uint32_t v, int fast)
{
    return fast == LMUL_FAST_MASKED && (v & 0x7FFFFFFFu) == 0;
}

static inline float product(uint32_t x, uint32_t w, const lmul_gemm_aux *aux, int fast)
{
    if (fast == LMUL_FAST_MASKED && lmul_prepared_zero(x, aux->a_addend))
        return 0.0f;
    const uint32_t r = fast ? x + w : (uint32_t)lmul_bits_scalar(
        (uint32_t)(x - aux->a_addend), w, &lmul_container_f32, aux->p);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* Element j of a row of W in format kind, as float32 bits. */
static inline uint32_t element(lmul_widen_kind kind, const lmul_fp8_format *f,
                               const char *row, int64_t j)
{
    if (kind == LMUL_WIDEN_F8)
        return lmul_fp8_to_float_bits((uint8_t)row[j], f);
    if (kind == LMUL_WIDEN_BF16) {
        uint16_t h;
        memcpy(&h, row + j * 2, sizeof h);
        return lmul_bfloat16_to_float_bits(h);
    }
    uint32_t v;
    memcpy(&v, row + j * 4, sizeof v);
    return v;
}

void lmul_sgemv_stream_scalar(int64_t m, int64_t kc, int64_t n, const uint32_t *xa,
                              int64_t ldx, const char *w, int64_t rs_w,
                              lmul_widen_kind kind, const lmul_fp8_format *f,
                              float *acc, lmul_range *range, const lmul_gemm_aux *aux,
                              int fast)
{
    for (int64_t p = 0; p < kc; p++) {
        const char *row = w + p * rs_w;
        for (int64_t j = 0; j < n; j++) {
            uint32_t v = element(kind, f, row, j);
            if (fast)
                v = prepared(v, aux->p, range);
            if (w_zero_masked(v, fast))
                continue;
            for (int64_t i = 0; i < m; i++)
                acc[i * n + j] += product(xa[i * ldx + p], v, aux, fast);
        }
    }
}

#define LANES 4

void lmul_sgemv_dots_scalar_4(int64_t m, int64_t kc, int64_t rows, const uint32_t *xa,
                              const char *w, int64_t rs_w, float *acc,
                              lmul_range *range, const lmul_gemm_aux *aux, int fast)
{
    for (int64_t j = 0; j < rows; j++) {
        const char *row = w + j * rs_w;
        float sum[LMUL_GEMV_STREAM_ROWS] = {0};
        for (int64_t p = 0; p < kc; p++) {
            uint32_t v;
            memcpy(&v, row + p * (int64_t)sizeof v, sizeof v);
            if (fast)
                v = prepared(v, aux->p, range);
            if (w_zero_masked(v, fast))
                continue;
            for (int64_t i = 0; i < m; i++)
                sum[i] += product(xa[i * kc + p], v, aux, fast);
        }
        for (int64_t i = 0; i < m; i++)
            acc[i * LANES + j] = sum[i];
    }
}

/* ------------------------------------------------ dots in lanes */

void lmul_sdots_scalar_4(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                         const char *y, int64_t rs_y, float *sums, const lmul_params *p)
{
    for (int64_t j = 0; j < items; j++) {
        float sum = 0.0f;
        for (int64_t i = 0; i < kc; i++) {
            uint32_t a, b;
            memcpy(&a, x + j * rs_x + i * (int64_t)sizeof a, sizeof a);
            memcpy(&b, y + j * rs_y + i * (int64_t)sizeof b, sizeof b);
            const uint32_t r = (uint32_t)lmul_bits_scalar(a, b, &lmul_container_f32, p);
            float f;
            memcpy(&f, &r, sizeof f);
            sum += f;
        }
        sums[j] = sum;
    }
}
