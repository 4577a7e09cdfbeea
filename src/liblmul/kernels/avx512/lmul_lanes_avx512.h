/* L-Mul of whole vectors of AVX-512 lanes (docs/contract.md section 3), shared by
 * the elementwise and the GEMM microkernels. Include inside #if LMUL_X86.
 * lmul32/lmul64 take the two-add fast path when every lane allows it;
 * lmul32_full/lmul64_full handle every case lane by lane. */
#ifndef LMUL_LANES_AVX512_H
#define LMUL_LANES_AVX512_H

#include <immintrin.h>

#include "../../frame/lmul_internal.h"

LMUL_TARGET_AVX512
static inline __m512i round32(__m512i mag, const lmul_params *p)
{
    const __m128i shift = _mm_cvtsi32_si128(p->round_shift);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i lowest_kept = _mm512_and_si512(_mm512_srl_epi32(mag, shift), one);
    const __m512i sum = _mm512_add_epi32(
        _mm512_add_epi32(mag, _mm512_set1_epi32((int)p->round_add)), lowest_kept);
    return _mm512_and_si512(sum, _mm512_set1_epi32((int)p->round_mask));
}

/* L-Mul of 16 float32 bit patterns, every case of the spec; `rounding` is a
 * constant at each call. */
LMUL_TARGET_AVX512
static inline __m512i lmul32_full(__m512i x, __m512i y, const lmul_params *p,
                             int rounding)
{
    const __m512i sign_bit = _mm512_set1_epi32((int)0x80000000u);
    const __m512i inf = _mm512_set1_epi32(0x7F800000);
    const __m512i min_normal = _mm512_set1_epi32(0x00800000);
    const __m512i bias = _mm512_set1_epi32(0x3F800000);
    const __m512i sign = _mm512_and_si512(_mm512_xor_si512(x, y), sign_bit);
    __m512i ax = _mm512_andnot_si512(sign_bit, x);
    __m512i ay = _mm512_andnot_si512(sign_bit, y);
    const __mmask16 x_zero = _mm512_cmplt_epu32_mask(ax, min_normal);
    const __mmask16 y_zero = _mm512_cmplt_epu32_mask(ay, min_normal);
    const __mmask16 any_nan = _mm512_cmpgt_epu32_mask(ax, inf)
                            | _mm512_cmpgt_epu32_mask(ay, inf);
    if (rounding) {   /* infinity has no low bits: only finite values move */
        ax = round32(ax, p);
        ay = round32(ay, p);
    }
    const __mmask16 x_inf = _mm512_cmpeq_epu32_mask(ax, inf);
    const __mmask16 y_inf = _mm512_cmpeq_epu32_mask(ay, inf);
    const __mmask16 nan = any_nan | (x_inf & y_zero) | (x_zero & y_inf);
    /* t = |X| + |Y| + offset < 2^32; R = t - bias, clamped to [0, inf] */
    const __m512i t = _mm512_add_epi32(_mm512_add_epi32(ax, ay),
                                       _mm512_set1_epi32((int)p->offset));
    const __m512i overflow_at = _mm512_add_epi32(bias, inf);
    const __mmask16 underflow = _mm512_cmplt_epu32_mask(
        t, _mm512_add_epi32(bias, min_normal));
    __m512i mag = _mm512_sub_epi32(_mm512_min_epu32(t, overflow_at), bias);
    mag = _mm512_maskz_mov_epi32((__mmask16)~(underflow | x_zero | y_zero), mag);
    mag = _mm512_mask_mov_epi32(mag, x_inf | y_inf, inf);
    return _mm512_mask_mov_epi32(_mm512_or_si512(mag, sign), nan,
                                 _mm512_set1_epi32(0x7FC00000));
}


/*
 * The common case in two integer adds: when both operands are normal (after
 * rounding) and R lies in the normal range, x + y + (offset - bias) modulo
 * 2^32 is the whole result, the carry out of bit 31 making the sign the XOR
 * of the signs. R outside the range shows in the sum as a zero, subnormal,
 * infinite or NaN pattern or as a wrong sign. Lanes with a zero (or
 * subnormal) operand and a finite other one are a zero of sign s: the
 * zero-tolerant form blends them in; any other special lane sends the vector
 * to the full computation.
 *
 * A loop calls lmul32/lmul64 with a counter it keeps (from 0): the plain
 * form runs while its vectors have no special lane; the first that has one
 * switches the next LMUL_ZERO_RUN vectors to the zero-tolerant form, so that
 * data with zeros here and there does not pay a mispredicted branch per
 * vector, and dense data does not pay for the blend.
 */
#define SPECIAL_CLASSES 0xBF  /* QNaN, +-0, +-inf, denormal, SNaN: all but negative finite */
#define ZERO_CLASSES 0x26     /* +-0, denormal */
#define NONFINITE_CLASSES 0x99   /* QNaN, +-inf, SNaN */
#define INF_CLASSES 0x18
#ifndef LMUL_ZERO_RUN
#  define LMUL_ZERO_RUN 64
#endif

/* Lanes of x and y in the classes `c` (float32 or float64 lanes). */
#define CLASS32(x, y, c) (_mm512_fpclass_ps_mask(_mm512_castsi512_ps(x), c) \
                          | _mm512_fpclass_ps_mask(_mm512_castsi512_ps(y), c))
#define CLASS64(x, y, c) (_mm512_fpclass_pd_mask(_mm512_castsi512_pd(x), c) \
                          | _mm512_fpclass_pd_mask(_mm512_castsi512_pd(y), c))

/* The two-add sum, with the lanes where it is not the result in *r_bad and
 * finite operands rounded to infinity in *to_inf. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i sum32(
    __m512i x, __m512i y, const lmul_params *p, int rounding, __mmask16 *r_bad,
    __mmask16 *to_inf)
{
    __m512i xr = x, yr = y;
    *to_inf = 0;
    if (rounding) {   /* on the signed patterns: a finite value's carry stops at inf */
        xr = round32(x, p);
        yr = round32(y, p);
        *to_inf = CLASS32(xr, yr, INF_CLASSES);
    }
    const __m512i r = _mm512_add_epi32(_mm512_add_epi32(xr, yr),
                                       _mm512_set1_epi32((int)(p->offset - 0x3F800000u)));
    *r_bad = _mm512_fpclass_ps_mask(_mm512_castsi512_ps(r), SPECIAL_CLASSES)
           | _mm512_movepi32_mask(_mm512_ternarylogic_epi32(r, x, y, 0x96));
    return r;
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i lmul32_zeros(
    __m512i x, __m512i y, const lmul_params *p, int rounding)
{
    __mmask16 r_bad, to_inf;
    const __m512i r = sum32(x, y, p, rounding, &r_bad, &to_inf);
    const __mmask16 zero = CLASS32(x, y, ZERO_CLASSES);
    if ((CLASS32(x, y, NONFINITE_CLASSES) | to_inf | (r_bad & ~zero)) != 0)
        return lmul32_full(x, y, p, rounding);
    return _mm512_mask_mov_epi32(r, zero, _mm512_and_si512(
        _mm512_xor_si512(x, y), _mm512_set1_epi32((int)0x80000000u)));
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i lmul32(
    __m512i x, __m512i y, const lmul_params *p, int rounding, int *zero_run)
{
    if (LMUL_UNLIKELY(*zero_run > 0)) {
        --*zero_run;
        return lmul32_zeros(x, y, p, rounding);
    }
    __mmask16 r_bad, to_inf;
    const __m512i r = sum32(x, y, p, rounding, &r_bad, &to_inf);
    if (LMUL_LIKELY((CLASS32(x, y, SPECIAL_CLASSES) | to_inf | r_bad) == 0))
        return r;
    *zero_run = LMUL_ZERO_RUN;
    return lmul32_zeros(x, y, p, rounding);
}

LMUL_TARGET_AVX512
static inline __m512i round64(__m512i mag, const lmul_params *p)
{
    const __m128i shift = _mm_cvtsi32_si128(p->round_shift);
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i lowest_kept = _mm512_and_si512(_mm512_srl_epi64(mag, shift), one);
    const __m512i sum = _mm512_add_epi64(
        _mm512_add_epi64(mag, _mm512_set1_epi64((long long)p->round_add)),
        lowest_kept);
    return _mm512_and_si512(sum, _mm512_set1_epi64((long long)p->round_mask));
}

/* L-Mul of 8 float64 bit patterns, the same steps as lmul32_full. */
LMUL_TARGET_AVX512
static inline __m512i lmul64_full(__m512i x, __m512i y, const lmul_params *p,
                             int rounding)
{
    const __m512i sign_bit = _mm512_set1_epi64((long long)0x8000000000000000u);
    const __m512i inf = _mm512_set1_epi64(0x7FF0000000000000);
    const __m512i min_normal = _mm512_set1_epi64(0x0010000000000000);
    const __m512i bias = _mm512_set1_epi64(0x3FF0000000000000);
    const __m512i sign = _mm512_and_si512(_mm512_xor_si512(x, y), sign_bit);
    __m512i ax = _mm512_andnot_si512(sign_bit, x);
    __m512i ay = _mm512_andnot_si512(sign_bit, y);
    const __mmask8 x_zero = _mm512_cmplt_epu64_mask(ax, min_normal);
    const __mmask8 y_zero = _mm512_cmplt_epu64_mask(ay, min_normal);
    const __mmask8 any_nan = _mm512_cmpgt_epu64_mask(ax, inf)
                           | _mm512_cmpgt_epu64_mask(ay, inf);
    if (rounding) {
        ax = round64(ax, p);
        ay = round64(ay, p);
    }
    const __mmask8 x_inf = _mm512_cmpeq_epu64_mask(ax, inf);
    const __mmask8 y_inf = _mm512_cmpeq_epu64_mask(ay, inf);
    const __mmask8 nan = any_nan | (x_inf & y_zero) | (x_zero & y_inf);
    const __m512i t = _mm512_add_epi64(_mm512_add_epi64(ax, ay),
                                       _mm512_set1_epi64((long long)p->offset));
    const __m512i overflow_at = _mm512_add_epi64(bias, inf);
    const __mmask8 underflow = _mm512_cmplt_epu64_mask(
        t, _mm512_add_epi64(bias, min_normal));
    __m512i mag = _mm512_sub_epi64(_mm512_min_epu64(t, overflow_at), bias);
    mag = _mm512_maskz_mov_epi64((__mmask8)~(underflow | x_zero | y_zero), mag);
    mag = _mm512_mask_mov_epi64(mag, x_inf | y_inf, inf);
    return _mm512_mask_mov_epi64(_mm512_or_si512(mag, sign), nan,
                                 _mm512_set1_epi64(0x7FF8000000000000));
}


/* The common case in two integer adds, as lmul32. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i sum64(
    __m512i x, __m512i y, const lmul_params *p, int rounding, __mmask8 *r_bad,
    __mmask8 *to_inf)
{
    __m512i xr = x, yr = y;
    *to_inf = 0;
    if (rounding) {
        xr = round64(x, p);
        yr = round64(y, p);
        *to_inf = CLASS64(xr, yr, INF_CLASSES);
    }
    const __m512i r = _mm512_add_epi64(
        _mm512_add_epi64(xr, yr),
        _mm512_set1_epi64((long long)(p->offset - 0x3FF0000000000000u)));
    *r_bad = _mm512_fpclass_pd_mask(_mm512_castsi512_pd(r), SPECIAL_CLASSES)
           | _mm512_movepi64_mask(_mm512_ternarylogic_epi64(r, x, y, 0x96));
    return r;
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i lmul64_zeros(
    __m512i x, __m512i y, const lmul_params *p, int rounding)
{
    __mmask8 r_bad, to_inf;
    const __m512i r = sum64(x, y, p, rounding, &r_bad, &to_inf);
    const __mmask8 zero = CLASS64(x, y, ZERO_CLASSES);
    if ((CLASS64(x, y, NONFINITE_CLASSES) | to_inf | (r_bad & ~zero)) != 0)
        return lmul64_full(x, y, p, rounding);
    return _mm512_mask_mov_epi64(r, zero, _mm512_and_si512(
        _mm512_xor_si512(x, y), _mm512_set1_epi64((long long)0x8000000000000000u)));
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i lmul64(
    __m512i x, __m512i y, const lmul_params *p, int rounding, int *zero_run)
{
    if (LMUL_UNLIKELY(*zero_run > 0)) {
        --*zero_run;
        return lmul64_zeros(x, y, p, rounding);
    }
    __mmask8 r_bad, to_inf;
    const __m512i r = sum64(x, y, p, rounding, &r_bad, &to_inf);
    if (LMUL_LIKELY((CLASS64(x, y, SPECIAL_CLASSES) | to_inf | r_bad) == 0))
        return r;
    *zero_run = LMUL_ZERO_RUN;
    return lmul64_zeros(x, y, p, rounding);
}

#endif /* LMUL_LANES_AVX512_H */
