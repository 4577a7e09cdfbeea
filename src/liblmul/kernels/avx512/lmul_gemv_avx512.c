/*
 * Few-row kernels for AVX-512 (lmul_gemv_ukr_ft): 32 columns as two vectors,
 * up to 8 rows of A at a time, A's element broadcast, B's row a vector.
 * Each accumulator adds its products in step order from +0, as the GEMM
 * microkernels do, so the sums are theirs bit for bit.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx512.h"
#include "lmul_lanes_avx512.h"

#define NB 32
#define ROWS 8

LMUL_TARGET_AVX512
static inline __m512 prod(__m512i x, __m512i w, __m512i addend, const lmul_params *p,
                          int full)
{
    if (!full)
        return _mm512_castsi512_ps(_mm512_add_epi32(x, w));
    return _mm512_castsi512_ps(lmul32_full(_mm512_sub_epi32(x, addend), w, p, 0));
}

/* rows (a constant at each call) rows of A by the 32 columns. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void gemv_rows(
    int rows, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full)
{
    __m512 a0[ROWS], a1[ROWS];
    for (int r = 0; r < rows; r++)
        a0[r] = a1[r] = _mm512_setzero_ps();
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, w += ldw) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 16);
        for (int r = 0; r < rows; r++) {
            const __m512i x = _mm512_set1_epi32((int)xa[r * kc + p]);
            a0[r] = _mm512_add_ps(a0[r], prod(x, w0, addend, aux->p, full));
            a1[r] = _mm512_add_ps(a1[r], prod(x, w1, addend, aux->p, full));
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(acc + r * NB, a0[r]);
        _mm512_storeu_ps(acc + r * NB + 16, a1[r]);
    }
}

LMUL_TARGET_AVX512
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
        case 4: gemv_rows(4, kc, x, w, ldw, out, aux, full); break;
        case 5: gemv_rows(5, kc, x, w, ldw, out, aux, full); break;
        case 6: gemv_rows(6, kc, x, w, ldw, out, aux, full); break;
        case 7: gemv_rows(7, kc, x, w, ldw, out, aux, full); break;
        default: gemv_rows(8, kc, x, w, ldw, out, aux, full);
        }
    }
}

LMUL_TARGET_AVX512
void lmul_sgemv_fast_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 0);
}

LMUL_TARGET_AVX512
void lmul_sgemv_safe_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1);
}

#endif /* LMUL_X86 */
