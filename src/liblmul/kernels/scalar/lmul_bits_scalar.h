/*
 * L-Mul of one pair of container bit patterns, docs/contract.md section 3, in
 * portable C. Used by the scalar kernels (and as the edge case of nothing
 * else: the SIMD kernels implement the same steps lane-wise).
 */
#ifndef LMUL_BITS_SCALAR_H
#define LMUL_BITS_SCALAR_H

#include "../../frame/lmul_internal.h"

static inline uint64_t lmul_round_scalar(uint64_t mag, const lmul_params *p)
{
    if (p->round_shift == 0)
        return mag;
    const uint64_t lowest_kept = (mag >> p->round_shift) & 1;
    return (mag + p->round_add + lowest_kept) & p->round_mask;
}

static inline uint64_t lmul_bits_scalar(uint64_t x, uint64_t y,
                                        const lmul_container *c,
                                        const lmul_params *p)
{
    const uint64_t sign = (x ^ y) & c->sign;
    const uint64_t min_normal = UINT64_C(1) << c->P;
    uint64_t ax = x & (c->sign - 1), ay = y & (c->sign - 1);
    const int x_zero = ax < min_normal, y_zero = ay < min_normal;  /* DAZ */
    if (ax > c->inf || ay > c->inf)
        return c->qnan;
    if (!x_zero && ax < c->inf)
        ax = lmul_round_scalar(ax, p);
    if (!y_zero && ay < c->inf)
        ay = lmul_round_scalar(ay, p);
    const int x_inf = ax == c->inf, y_inf = ay == c->inf;
    if ((x_inf && y_zero) || (x_zero && y_inf))
        return c->qnan;
    if (x_inf || y_inf)
        return sign | c->inf;
    if (x_zero || y_zero)
        return sign;
    /* R = |X| + |Y| - bias + offset; the sum before the bias fits 64 bits */
    const uint64_t t = ax + ay + p->offset;
    if (t < c->bias + min_normal)
        return sign;
    if (t >= c->bias + c->inf)
        return sign | c->inf;
    return sign | (t - c->bias);
}

#endif /* LMUL_BITS_SCALAR_H */
