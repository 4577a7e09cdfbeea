/* L-Mul of whole vectors of AVX2 lanes (SPEC.md section 3), shared by
 * the elementwise and the GEMM microkernels. Include inside #if LMUL_X86.
 * lmul32/lmul64 take the two-add fast path when every lane allows it;
 * lmul32_full/lmul64_full handle every case lane by lane. */
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
static inline __m256i lmul32_full(__m256i x, __m256i y, const lmul_params *p,
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


/*
 * The common case in two integer adds: when both operands are normal (after
 * rounding) and R lies in the normal range, x + y + (offset - bias) modulo
 * 2^32 is the whole result, the carry out of bit 31 making the sign the XOR
 * of the signs. Any other lane sends the vector to the full computation.
 */

/* Lanes where a or b (exponent fields ea, eb) is zero, subnormal, infinite
 * or NaN: the fields are non-negative, so their min finds a zero field and
 * their max a full one. */
LMUL_TARGET_AVX2
static inline __m256i special32(__m256i ea, __m256i eb)
{
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    return _mm256_or_si256(
        _mm256_cmpeq_epi32(_mm256_min_epi32(ea, eb), _mm256_setzero_si256()),
        _mm256_cmpeq_epi32(_mm256_max_epi32(ea, eb), exponent));
}

/* R's range is tested on the operands' exponent fields (AVX2 has no cheap
 * class test of the sum, as AVX-512 has): R is normal when e_x + e_y - 127,
 * plus the mantissa sum's carry of 0..2, lies in 1..254, which
 * 128 <= e_x + e_y <= 379 ensures (conservatively, at the edges). */
LMUL_TARGET_AVX2
static inline __m256i lmul32(__m256i x, __m256i y, const lmul_params *p,
                             int rounding)
{
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    __m256i xr = x, yr = y;
    if (rounding) {   /* on the signed patterns: a finite value's carry stops at inf */
        xr = round32(x, p);
        yr = round32(y, p);
    }
    const __m256i ex = _mm256_and_si256(xr, exponent), ey = _mm256_and_si256(yr, exponent);
    __m256i bad = special32(ex, ey);
    if (rounding)     /* a subnormal may have rounded up to the smallest normal */
        bad = _mm256_or_si256(bad, special32(_mm256_and_si256(x, exponent),
                                             _mm256_and_si256(y, exponent)));
    const __m256i sum = _mm256_add_epi32(ex, ey);
    const __m256i clamped = _mm256_min_epu32(
        _mm256_max_epu32(sum, _mm256_set1_epi32(128 << 23)),
        _mm256_set1_epi32((int)(379u << 23)));
    bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_cmpeq_epi32(clamped, sum),
                                                _mm256_set1_epi32(-1)));
    if (_mm256_movemask_ps(_mm256_castsi256_ps(bad)) == 0)
        return _mm256_add_epi32(_mm256_add_epi32(xr, yr),
                                _mm256_set1_epi32((int)(p->offset - 0x3F800000u)));
    return lmul32_full(x, y, p, rounding);
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
static inline __m256i lmul64_full(__m256i x, __m256i y, const lmul_params *p,
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

/* Lanes whose exponent field is all zeros or all ones. */
LMUL_TARGET_AVX2
static inline __m256i special64(__m256i v)
{
    const __m256i exponent = _mm256_set1_epi64x(0x7FF0000000000000);
    const __m256i e = _mm256_and_si256(v, exponent);
    return _mm256_or_si256(_mm256_cmpeq_epi64(e, _mm256_setzero_si256()),
                           _mm256_cmpeq_epi64(e, exponent));
}

/* The common case in two integer adds, as lmul32; here R outside the normal
 * range is found in the sum itself, as a zero, subnormal, infinite or NaN
 * pattern or as a wrong sign (no 64-bit unsigned min/max in AVX2). */
LMUL_TARGET_AVX2
static inline __m256i lmul64(__m256i x, __m256i y, const lmul_params *p,
                             int rounding)
{
    __m256i xr = x, yr = y;
    __m256i bad = _mm256_or_si256(special64(x), special64(y));
    if (rounding) {
        xr = round64(x, p);
        yr = round64(y, p);
        bad = _mm256_or_si256(bad, _mm256_or_si256(special64(xr), special64(yr)));
    }
    const __m256i r = _mm256_add_epi64(
        _mm256_add_epi64(xr, yr),
        _mm256_set1_epi64x((long long)(p->offset - 0x3FF0000000000000u)));
    const __m256i sign_flip = _mm256_xor_si256(r, _mm256_xor_si256(x, y));
    bad = _mm256_or_si256(_mm256_or_si256(bad, special64(r)), sign_flip);
    if (_mm256_movemask_pd(_mm256_castsi256_pd(bad)) == 0)
        return r;
    return lmul64_full(x, y, p, rounding);
}

#endif /* LMUL_LANES_AVX2_H */
