/* L-Mul of whole vectors of AVX2 lanes (SPEC.md section 3), shared by
 * the elementwise and the GEMM microkernels. Include inside #if LMUL_X86. */
#ifndef LMUL_LANES_AVX2_H
#define LMUL_LANES_AVX2_H

#include <immintrin.h>

#include "../../frame/lmul_internal.h"

LMUL_TARGET_AVX2
static inline __m256i round32(__m256i mag, const lmul_params *p)
{
    const __m128i shift = _mm_cvtsi32_si128(p->round_shift);
    const __m256i lowest_kept = _mm256_and_si256(_mm256_srl_epi32(mag, shift),
                                                 _mm256_set1_epi32(1));
    const __m256i sum = _mm256_add_epi32(
        _mm256_add_epi32(mag, _mm256_set1_epi32((int)p->round_add)), lowest_kept);
    return _mm256_and_si256(sum, _mm256_set1_epi32((int)p->round_mask));
}

/* L-Mul of 8 float32 bit patterns; magnitudes are below 2^31, so signed
 * compares order them; t may not be, so it is ordered with min/max_epu32. */
LMUL_TARGET_AVX2
static inline __m256i lmul32(__m256i x, __m256i y, const lmul_params *p,
                             int rounding)
{
    const __m256i sign_bit = _mm256_set1_epi32((int)0x80000000u);
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    const __m256i min_normal = _mm256_set1_epi32(0x00800000);
    const __m256i bias = _mm256_set1_epi32(0x3F800000);
    const __m256i sign = _mm256_and_si256(_mm256_xor_si256(x, y), sign_bit);
    __m256i ax = _mm256_andnot_si256(sign_bit, x);
    __m256i ay = _mm256_andnot_si256(sign_bit, y);
    const __m256i x_zero = _mm256_cmpgt_epi32(min_normal, ax);
    const __m256i y_zero = _mm256_cmpgt_epi32(min_normal, ay);
    const __m256i any_nan = _mm256_or_si256(_mm256_cmpgt_epi32(ax, inf),
                                            _mm256_cmpgt_epi32(ay, inf));
    if (rounding) {
        ax = round32(ax, p);
        ay = round32(ay, p);
    }
    const __m256i x_inf = _mm256_cmpeq_epi32(ax, inf);
    const __m256i y_inf = _mm256_cmpeq_epi32(ay, inf);
    const __m256i nan = _mm256_or_si256(any_nan, _mm256_or_si256(
        _mm256_and_si256(x_inf, y_zero), _mm256_and_si256(x_zero, y_inf)));
    const __m256i t = _mm256_add_epi32(_mm256_add_epi32(ax, ay),
                                       _mm256_set1_epi32((int)p->offset));
    const __m256i underflow_below = _mm256_add_epi32(bias, min_normal);
    const __m256i not_underflow = _mm256_cmpeq_epi32(
        _mm256_max_epu32(t, underflow_below), t);
    __m256i mag = _mm256_sub_epi32(
        _mm256_min_epu32(t, _mm256_add_epi32(bias, inf)), bias);
    mag = _mm256_and_si256(mag, not_underflow);
    mag = _mm256_andnot_si256(_mm256_or_si256(x_zero, y_zero), mag);
    mag = _mm256_blendv_epi8(mag, inf, _mm256_or_si256(x_inf, y_inf));
    return _mm256_blendv_epi8(_mm256_or_si256(mag, sign),
                              _mm256_set1_epi32(0x7FC00000), nan);
}

LMUL_TARGET_AVX2
static inline __m256i round64(__m256i mag, const lmul_params *p)
{
    const __m128i shift = _mm_cvtsi32_si128(p->round_shift);
    const __m256i lowest_kept = _mm256_and_si256(_mm256_srl_epi64(mag, shift),
                                                 _mm256_set1_epi64x(1));
    const __m256i sum = _mm256_add_epi64(
        _mm256_add_epi64(mag, _mm256_set1_epi64x((long long)p->round_add)),
        lowest_kept);
    return _mm256_and_si256(sum, _mm256_set1_epi64x((long long)p->round_mask));
}

/* L-Mul of 4 float64 bit patterns. t may reach 2^63, and AVX2 has only
 * signed 64-bit compares: flipping the top bit of both sides orders them
 * as unsigned. */
LMUL_TARGET_AVX2
static inline __m256i lmul64(__m256i x, __m256i y, const lmul_params *p,
                             int rounding)
{
    const __m256i sign_bit = _mm256_set1_epi64x((long long)0x8000000000000000u);
    const __m256i inf = _mm256_set1_epi64x(0x7FF0000000000000);
    const __m256i min_normal = _mm256_set1_epi64x(0x0010000000000000);
    const __m256i bias = _mm256_set1_epi64x(0x3FF0000000000000);
    const __m256i sign = _mm256_and_si256(_mm256_xor_si256(x, y), sign_bit);
    __m256i ax = _mm256_andnot_si256(sign_bit, x);
    __m256i ay = _mm256_andnot_si256(sign_bit, y);
    const __m256i x_zero = _mm256_cmpgt_epi64(min_normal, ax);
    const __m256i y_zero = _mm256_cmpgt_epi64(min_normal, ay);
    const __m256i any_nan = _mm256_or_si256(_mm256_cmpgt_epi64(ax, inf),
                                            _mm256_cmpgt_epi64(ay, inf));
    if (rounding) {
        ax = round64(ax, p);
        ay = round64(ay, p);
    }
    const __m256i x_inf = _mm256_cmpeq_epi64(ax, inf);
    const __m256i y_inf = _mm256_cmpeq_epi64(ay, inf);
    const __m256i nan = _mm256_or_si256(any_nan, _mm256_or_si256(
        _mm256_and_si256(x_inf, y_zero), _mm256_and_si256(x_zero, y_inf)));
    const __m256i t = _mm256_add_epi64(_mm256_add_epi64(ax, ay),
                                       _mm256_set1_epi64x((long long)p->offset));
    const __m256i t_flipped = _mm256_xor_si256(t, sign_bit);
    const __m256i underflow = _mm256_cmpgt_epi64(
        _mm256_xor_si256(_mm256_add_epi64(bias, min_normal), sign_bit), t_flipped);
    const __m256i overflow = _mm256_cmpgt_epi64(
        t_flipped, _mm256_xor_si256(_mm256_add_epi64(bias, _mm256_sub_epi64(
                       inf, _mm256_set1_epi64x(1))), sign_bit));
    __m256i mag = _mm256_sub_epi64(t, bias);
    mag = _mm256_blendv_epi8(mag, inf, overflow);
    mag = _mm256_andnot_si256(_mm256_or_si256(underflow,
                                  _mm256_or_si256(x_zero, y_zero)), mag);
    mag = _mm256_blendv_epi8(mag, inf, _mm256_or_si256(x_inf, y_inf));
    return _mm256_blendv_epi8(_mm256_or_si256(mag, sign),
                              _mm256_set1_epi64x(0x7FF8000000000000), nan);
}

#endif /* LMUL_LANES_AVX2_H */
