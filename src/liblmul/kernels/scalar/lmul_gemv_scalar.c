/* Few-row kernels in portable C (lmul_gemv_ukr_ft): 4 columns, one row of A
 * at a time, each sum from +0 in step order as in the GEMM microkernels. */
#include <string.h>

#include "lmul_bits_scalar.h"
#include "lmul_kernels_scalar.h"

#define NB 4

static inline void gemv(int64_t m, int64_t kc, const uint32_t *xa,
                        const uint32_t *w, int64_t ldw, float *acc,
                        const lmul_gemm_aux *aux, int safe)
{
    for (int64_t i = 0; i < m; i++) {
        float sum[NB] = {0};
        const uint32_t *x = xa + i * kc, *row = w;
        for (int64_t p = 0; p < kc; p++, row += ldw)
            for (int j = 0; j < NB; j++) {
                const uint32_t r = safe ? (uint32_t)lmul_bits_scalar(
                    (uint32_t)(x[p] - aux->a_addend), row[j], &lmul_container_f32,
                    aux->p) : x[p] + row[j];
                float f;
                memcpy(&f, &r, sizeof f);
                sum[j] += f;
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
