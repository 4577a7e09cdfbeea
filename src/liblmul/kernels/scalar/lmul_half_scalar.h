/* Narrow formats <-> binary32 bit conversions: IEEE binary16, bfloat16 and
 * float8, exact widening, round-to-nearest-even narrowing. */
#ifndef LMUL_HALF_SCALAR_H
#define LMUL_HALF_SCALAR_H

#include <stdint.h>
#include <string.h>

#include "../../frame/lmul_internal.h"

/* Exact: every float16 value, subnormals included, is a float32 value. */
static inline uint32_t lmul_half_to_float_bits(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    if (exponent == 0x1F)
        return sign | 0x7F800000u | (mantissa << 13);
    if (exponent != 0)
        return sign | ((exponent + 112) << 23) | (mantissa << 13);
    if (mantissa == 0)
        return sign;
    exponent = 113;                       /* normalise a subnormal */
    while (!(mantissa & 0x400u)) {
        mantissa <<= 1;
        exponent--;
    }
    return sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
}

static inline uint16_t lmul_float_bits_to_half(uint32_t f)
{
    const uint16_t sign = (uint16_t)((f >> 16) & 0x8000u);
    const uint32_t a = f & 0x7FFFFFFFu;
    if (a > 0x7F800000u)                   /* NaN: quiet, top payload kept */
        return sign | 0x7E00u | (uint16_t)((a >> 13) & 0x3FFu);
    if (a >= 0x477FF000u)                  /* rounds beyond 65504: infinity */
        return sign | 0x7C00u;
    if (a >= 0x38800000u) {                /* a normal float16 */
        const uint32_t r = a - 0x38000000u;
        return sign | (uint16_t)((r + 0xFFFu + ((r >> 13) & 1u)) >> 13);
    }
    if (a <= 0x33000000u)                  /* at most 2^-25: rounds to zero */
        return sign;
    const uint32_t mantissa = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - (a >> 23);  /* 14..24: to units of 2^-24 */
    const uint32_t half = 1u << (shift - 1);
    return sign | (uint16_t)((mantissa + half - 1 + ((mantissa >> shift) & 1u))
                             >> shift);
}

/* bfloat16 is the top half of a float32. Narrowing rounds to nearest even;
 * L-Mul's NaNs are canonical (0x7FC00000), so they need no special case. */
static inline uint32_t lmul_bfloat16_to_float_bits(uint16_t b)
{
    return (uint32_t)b << 16;
}

static inline uint16_t lmul_float_bits_to_bfloat16(uint32_t f)
{
    return (uint16_t)((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
}

static inline uint32_t lmul_fp8_to_float_bits(uint8_t v, const lmul_fp8_format *f)
{
    const uint32_t m = v & 0x7Fu, sign = (uint32_t)(v & 0x80u) << 24;
    uint32_t bits;
    if (m >= f->special_from)
        bits = (m << f->shift) + f->special_add;
    else if (m < (1u << f->mantissa_bits)) {
        const float value = (float)m * f->subnormal_unit;
        memcpy(&bits, &value, sizeof bits);
    } else
        bits = (m << f->shift) + f->normal_add;
    return sign | bits;
}

/*
 * Float8 widened by the float16 conversion (the stream kernels): the code,
 * sign-extended to 16 bits, shifted left by lmul_fp8_half_shift and ANDed
 * with lmul_fp8_half_keep, is a float16 of the same sign, exponent field and
 * mantissa (e5m2: the float16's top byte; e4m3fn: its exponent field's top
 * bit clear), whose value is the float8's times 2^(bias - 15), subnormals
 * included. As float32 bits it is the float8's less lmul_fp8_half_add
 * (non-zero codes; e4m3fn's NaN code becomes finite: the range sees it).
 */
static inline int lmul_fp8_half_shift(const lmul_fp8_format *f)
{
    return 10 - f->mantissa_bits;
}

static inline uint16_t lmul_fp8_half_keep(const lmul_fp8_format *f)
{
    return (uint16_t)(0x8000u | ((1u << (7 + lmul_fp8_half_shift(f))) - 1u));
}

static inline uint32_t lmul_fp8_half_add(const lmul_fp8_format *f)
{
    return f->normal_add - ((127u - 15u) << 23);
}

/* The range of the codes a float8 loop saw, from its bytes hi[i], the
 * largest doubled magnitudes 2|c|. The smallest is taken to be the format's
 * smallest non-zero magnitude, whatever the loop saw (the zeros it masks):
 * a range only wider than the codes', which costs the one-add loop nothing
 * but activations near 2^-117 (e4m3fn), and spares the loops the record of
 * the least code (two operations in five per 32 codes on AVX2). */
static inline void lmul_fp8_seen_merge(const uint8_t *hi, int count,
                                       const lmul_fp8_format *f, lmul_range *r)
{
    uint8_t h = 0;
    for (int i = 0; i < count; i++)
        h = hi[i] > h ? hi[i] : h;
    const uint32_t min = lmul_fp8_to_float_bits(1, f);
    const uint32_t max = lmul_fp8_to_float_bits((uint8_t)(h >> 1), f);
    if (min < r->min)
        r->min = min;
    if (max > r->max)
        r->max = max;
}

#endif /* LMUL_HALF_SCALAR_H */
