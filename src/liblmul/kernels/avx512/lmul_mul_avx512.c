/*
 * Elementwise L-Mul microkernels for AVX-512 (F/BW/VL/DQ): 16 float32,
 * 8 float64 or 16 float16 lanes per step, tails by masked loads and stores.
 * Each lane follows SPEC.md section 3 with mask registers for the cases.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx512.h"
#include "lmul_lanes_avx512.h"

LMUL_TARGET_AVX512
static inline void smul_loop(int64_t n, const float *x, const float *y, float *z,
                             const lmul_params *p, int rounding)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i r = lmul32(_mm512_loadu_si512(x + i),
                                 _mm512_loadu_si512(y + i), p, rounding);
        _mm512_storeu_si512(z + i, r);
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m512i r = lmul32(_mm512_maskz_loadu_epi32(m, x + i),
                                 _mm512_maskz_loadu_epi32(m, y + i), p, rounding);
        _mm512_mask_storeu_epi32(z + i, m, r);
    }
}

LMUL_TARGET_AVX512
void lmul_smul_avx512_16(int64_t n, const float *x, const float *y, float *z,
                         const lmul_params *p)
{
    if (p->round_shift)
        smul_loop(n, x, y, z, p, 1);
    else
        smul_loop(n, x, y, z, p, 0);
}

LMUL_TARGET_AVX512
static inline void dmul_loop(int64_t n, const double *x, const double *y,
                             double *z, const lmul_params *p, int rounding)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i r = lmul64(_mm512_loadu_si512(x + i),
                                 _mm512_loadu_si512(y + i), p, rounding);
        _mm512_storeu_si512(z + i, r);
    }
    if (i < n) {
        const __mmask8 m = (__mmask8)((1u << (n - i)) - 1);
        const __m512i r = lmul64(_mm512_maskz_loadu_epi64(m, x + i),
                                 _mm512_maskz_loadu_epi64(m, y + i), p, rounding);
        _mm512_mask_storeu_epi64(z + i, m, r);
    }
}

LMUL_TARGET_AVX512
void lmul_dmul_avx512_8(int64_t n, const double *x, const double *y, double *z,
                        const lmul_params *p)
{
    if (p->round_shift)
        dmul_loop(n, x, y, z, p, 1);
    else
        dmul_loop(n, x, y, z, p, 0);
}

/* float16 widens exactly to float32 and narrows back with round-to-nearest-even,
 * exceptions suppressed. */
LMUL_TARGET_AVX512
static inline __m256i hmul16(__m256i x, __m256i y, const lmul_params *p)
{
    const __m512i xs = _mm512_castps_si512(_mm512_cvtph_ps(x));
    const __m512i ys = _mm512_castps_si512(_mm512_cvtph_ps(y));
    const __m512i r = lmul32(xs, ys, p, p->round_shift != 0);
    return _mm512_cvtps_ph(_mm512_castsi512_ps(r),
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

LMUL_TARGET_AVX512
void lmul_hmul_avx512_16(int64_t n, const uint16_t *x, const uint16_t *y,
                         uint16_t *z, const lmul_params *p)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i r = hmul16(_mm256_loadu_si256((const __m256i *)(x + i)),
                                 _mm256_loadu_si256((const __m256i *)(y + i)), p);
        _mm256_storeu_si256((__m256i *)(z + i), r);
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m256i r = hmul16(_mm256_maskz_loadu_epi16(m, x + i),
                                 _mm256_maskz_loadu_epi16(m, y + i), p);
        _mm256_mask_storeu_epi16(z + i, m, r);
    }
}

#endif /* LMUL_X86 */
