/* L-Mul of whole vectors of AVX2 lanes (docs/contract.md section 3), shared by
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
 * of the signs. Lanes with a zero (or subnormal) operand and a finite other
 * one are a zero of sign s: the zero-tolerant form blends them in; any other
 * lane sends the vector to the full computation. A loop keeps a counter for
 * lmul32/lmul64 as on AVX-512 (lmul_lanes_avx512.h): after a vector with a
 * special lane, the next LMUL_ZERO_RUN take the zero-tolerant form.
 */
#ifndef LMUL_ZERO_RUN
#  define LMUL_ZERO_RUN 64
#endif

/* r where `zero` is clear, else the zero of sign x XOR y. */
LMUL_TARGET_AVX2
static inline __m256i blend_zeros(__m256i r, __m256i x, __m256i y, __m256i zero,
                                  __m256i sign_bit)
{
    return _mm256_blendv_epi8(r, _mm256_and_si256(_mm256_xor_si256(x, y), sign_bit),
                              zero);
}

/*
 * The two-add sum and what decides whether it is the result. AVX2 has no
 * cheap class test of the sum (AVX-512 has), so R's range is judged from
 * the float product P = |x| |y| of the rounded operands, one multiply: R's
 * value is P times 0.75 .. 1.5 (the mantissa sum against the mantissa
 * product, with its carry and 2^-l(k) <= 1/2), so R is normal when
 * 2^-124 <= fl(P) <= 2^126 (conservatively, at the edges; an infinite or NaN
 * operand makes P infinite or NaN, out of range). *zero: a raw operand is
 * zero or subnormal (DAZ), by the smaller magnitude; *in_range: P is in
 * that range. The multiply may raise FP flags: the frame restores them.
 */
typedef struct lanes32 {
    __m256i r, ax, ay, rx, ry, zero, in_range;
} lanes32;

#define P_LOW 0x01800000u        /* 2^-124 */
#define P_HIGH 0x7E800000u       /* 2^126 */

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) lanes32 sum32(
    __m256i x, __m256i y, const lmul_params *p, int rounding)
{
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
    __m256i xr = x, yr = y;
    if (rounding) {   /* on the signed patterns: a finite value's carry stops at inf */
        xr = round32(x, p);
        yr = round32(y, p);
    }
    lanes32 l;
    l.ax = _mm256_and_si256(xr, abs_mask);
    l.ay = _mm256_and_si256(yr, abs_mask);
    l.rx = rounding ? _mm256_and_si256(x, abs_mask) : l.ax;
    l.ry = rounding ? _mm256_and_si256(y, abs_mask) : l.ay;
    l.zero = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x00800000),
                                _mm256_min_epi32(l.rx, l.ry));
    const __m256i prod = _mm256_castps_si256(_mm256_mul_ps(_mm256_castsi256_ps(l.ax),
                                                           _mm256_castsi256_ps(l.ay)));
    /* P_LOW <= prod <= P_HIGH by one signed compare, shifted by 2^31 */
    l.in_range = _mm256_cmpgt_epi32(
        _mm256_set1_epi32((int)(P_HIGH - P_LOW - 0x80000000u + 1)),
        _mm256_sub_epi32(prod, _mm256_set1_epi32((int)(P_LOW + 0x80000000u))));
    l.r = _mm256_add_epi32(_mm256_add_epi32(xr, yr),
                           _mm256_set1_epi32((int)(p->offset - 0x3F800000u)));
    return l;
}

/* Lanes where the larger magnitude of a and b is infinite or NaN. */
LMUL_TARGET_AVX2
static inline __m256i nonfinite32(__m256i a, __m256i b)
{
    return _mm256_cmpgt_epi32(_mm256_max_epi32(a, b), _mm256_set1_epi32(0x7F7FFFFF));
}

LMUL_TARGET_AVX2
static inline int all_lanes32(__m256i m)
{
    return _mm256_movemask_ps(_mm256_castsi256_ps(m)) == 0xFF;
}

/* Infinity or NaN before or after rounding makes a zero lane's product NaN. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) __m256i lmul32_zeros(
    __m256i x, __m256i y, const lmul_params *p, int rounding)
{
    const lanes32 l = sum32(x, y, p, rounding);
    __m256i nonfinite = nonfinite32(l.rx, l.ry);
    if (rounding)
        nonfinite = _mm256_or_si256(nonfinite, nonfinite32(l.ax, l.ay));
    if (!all_lanes32(_mm256_andnot_si256(nonfinite, _mm256_or_si256(l.zero, l.in_range))))
        return lmul32_full(x, y, p, rounding);
    return blend_zeros(l.r, x, y, l.zero, _mm256_set1_epi32((int)0x80000000u));
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) __m256i lmul32(
    __m256i x, __m256i y, const lmul_params *p, int rounding, int *zero_run)
{
    if (LMUL_UNLIKELY(*zero_run > 0)) {
        --*zero_run;
        return lmul32_zeros(x, y, p, rounding);
    }
    const lanes32 l = sum32(x, y, p, rounding);
    __m256i ok = _mm256_andnot_si256(l.zero, l.in_range);
    if (rounding)     /* a NaN's rounding is no longer NaN */
        ok = _mm256_andnot_si256(nonfinite32(l.rx, l.ry), ok);
    if (LMUL_LIKELY(all_lanes32(ok)))
        return l.r;
    *zero_run = LMUL_ZERO_RUN;
    return lmul32_zeros(x, y, p, rounding);
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

/* The two-add sum of float64 lanes; here R outside the normal range is
 * found in the sum itself, as a zero, subnormal, infinite or NaN pattern or
 * as a wrong sign (no 64-bit unsigned min/max in AVX2): *r_bad. *zero and
 * *nonfinite as for sum32. */
typedef struct lanes64 {
    __m256i r, zero, nonfinite, r_bad;
} lanes64;

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) lanes64 sum64(
    __m256i x, __m256i y, const lmul_params *p, int rounding)
{
    const __m256i exponent = _mm256_set1_epi64x(0x7FF0000000000000);
    const __m256i zero = _mm256_setzero_si256();
    __m256i xr = x, yr = y;
    if (rounding) {
        xr = round64(x, p);
        yr = round64(y, p);
    }
    const __m256i rx = _mm256_and_si256(x, exponent), ry = _mm256_and_si256(y, exponent);
    lanes64 l;
    l.zero = _mm256_or_si256(_mm256_cmpeq_epi64(rx, zero), _mm256_cmpeq_epi64(ry, zero));
    l.nonfinite = _mm256_or_si256(_mm256_cmpeq_epi64(rx, exponent),
                                  _mm256_cmpeq_epi64(ry, exponent));
    if (rounding)
        l.nonfinite = _mm256_or_si256(l.nonfinite, _mm256_or_si256(
            _mm256_cmpeq_epi64(_mm256_and_si256(xr, exponent), exponent),
            _mm256_cmpeq_epi64(_mm256_and_si256(yr, exponent), exponent)));
    const __m256i shift = _mm256_set1_epi64x((long long)(p->offset - 0x3FF0000000000000u));
    l.r = _mm256_add_epi64(_mm256_add_epi64(xr, yr), shift);
    const __m256i sign_flip = _mm256_xor_si256(l.r, _mm256_xor_si256(x, y));
    l.r_bad = _mm256_or_si256(special64(l.r), sign_flip);
    return l;
}

LMUL_TARGET_AVX2
static inline int any_lane64(__m256i m)
{
    return _mm256_movemask_pd(_mm256_castsi256_pd(m)) != 0;
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) __m256i lmul64_zeros(
    __m256i x, __m256i y, const lmul_params *p, int rounding)
{
    const lanes64 l = sum64(x, y, p, rounding);
    if (any_lane64(_mm256_or_si256(l.nonfinite, _mm256_andnot_si256(l.zero, l.r_bad))))
        return lmul64_full(x, y, p, rounding);
    return blend_zeros(l.r, x, y, l.zero,
                       _mm256_set1_epi64x((long long)0x8000000000000000u));
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) __m256i lmul64(
    __m256i x, __m256i y, const lmul_params *p, int rounding, int *zero_run)
{
    if (LMUL_UNLIKELY(*zero_run > 0)) {
        --*zero_run;
        return lmul64_zeros(x, y, p, rounding);
    }
    const lanes64 l = sum64(x, y, p, rounding);
    if (LMUL_LIKELY(!any_lane64(_mm256_or_si256(_mm256_or_si256(l.zero, l.nonfinite), l.r_bad))))
        return l.r;
    *zero_run = LMUL_ZERO_RUN;
    return lmul64_zeros(x, y, p, rounding);
}

#endif /* LMUL_LANES_AVX2_H */
