/*
 * Few-row kernels for AVX2 (lmul_gemv_ukr_ft): 16 columns as two vectors,
 * up to 4 rows of A at a time, A's element broadcast, B's row a vector.
 * Each accumulator adds its products in step order from +0, as the GEMM
 * microkernels do, so the sums are theirs bit for bit.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx2.h"
#include "lmul_lanes_avx2.h"

#define NB 16
#define ROWS 4

LMUL_TARGET_AVX2
static inline __m256 prod(__m256i x, __m256i w, __m256i addend, const lmul_params *p,
                          int full)
{
    if (!full)
        return _mm256_castsi256_ps(_mm256_add_epi32(x, w));
    return _mm256_castsi256_ps(lmul32_full(_mm256_sub_epi32(x, addend), w, p, 0));
}

/* rows (a constant at each call) rows of A by the 16 columns. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void gemv_rows(
    int rows, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full)
{
    __m256 a0[ROWS], a1[ROWS];
    for (int r = 0; r < rows; r++)
        a0[r] = a1[r] = _mm256_setzero_ps();
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, w += ldw) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w),
                      w1 = _mm256_loadu_si256((const __m256i *)(w + 8));
        for (int r = 0; r < rows; r++) {
            const __m256i x = _mm256_set1_epi32((int)xa[r * kc + p]);
            a0[r] = _mm256_add_ps(a0[r], prod(x, w0, addend, aux->p, full));
            a1[r] = _mm256_add_ps(a1[r], prod(x, w1, addend, aux->p, full));
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(acc + r * NB, a0[r]);
        _mm256_storeu_ps(acc + r * NB + 8, a1[r]);
    }
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void gemv(
    int64_t m, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full)
{
    for (int64_t i = 0; i < m; i += ROWS) {
        const uint32_t *x = xa + i * kc;
        float *out = acc + i * NB;
        switch (m - i < ROWS ? m - i : ROWS) {
        case 1: gemv_rows(1, kc, x, w, ldw, out, aux, full); break;
        case 2: gemv_rows(2, kc, x, w, ldw, out, aux, full); break;
        case 3: gemv_rows(3, kc, x, w, ldw, out, aux, full); break;
        default: gemv_rows(4, kc, x, w, ldw, out, aux, full);
        }
    }
}

LMUL_TARGET_AVX2
void lmul_sgemv_fast_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 0);
}

LMUL_TARGET_AVX2
void lmul_sgemv_safe_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1);
}

#endif /* LMUL_X86 */
