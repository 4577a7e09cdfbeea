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

#endif /* LMUL_HALF_SCALAR_H */
