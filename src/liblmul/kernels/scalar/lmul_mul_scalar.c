/* Elementwise L-Mul microkernels in portable C, one element at a time. */
#include <string.h>

#include "lmul_bits_scalar.h"
#include "lmul_half_scalar.h"

void lmul_smul_scalar_1(int64_t n, const float *x, const float *y, float *z,
                        const lmul_params *p)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t xb, yb, zb;
        memcpy(&xb, x + i, sizeof xb);
        memcpy(&yb, y + i, sizeof yb);
        zb = (uint32_t)lmul_bits_scalar(xb, yb, &lmul_container_f32, p);
        memcpy(z + i, &zb, sizeof zb);
    }
}

void lmul_dmul_scalar_1(int64_t n, const double *x, const double *y, double *z,
                        const lmul_params *p)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t xb, yb, zb;
        memcpy(&xb, x + i, sizeof xb);
        memcpy(&yb, y + i, sizeof yb);
        zb = lmul_bits_scalar(xb, yb, &lmul_container_f64, p);
        memcpy(z + i, &zb, sizeof zb);
    }
}

void lmul_hmul_scalar_1(int64_t n, const uint16_t *x, const uint16_t *y,
                        uint16_t *z, const lmul_params *p)
{
    for (int64_t i = 0; i < n; i++) {
        const uint32_t xb = lmul_half_to_float_bits(x[i]);
        const uint32_t yb = lmul_half_to_float_bits(y[i]);
        const uint32_t zb = (uint32_t)lmul_bits_scalar(xb, yb, &lmul_container_f32, p);
        z[i] = lmul_float_bits_to_half(zb);
    }
}

void lmul_bmul_scalar_1(int64_t n, const uint16_t *x, const uint16_t *y,
                        uint16_t *z, const lmul_params *p)
{
    for (int64_t i = 0; i < n; i++) {
        const uint32_t xb = lmul_bfloat16_to_float_bits(x[i]);
        const uint32_t yb = lmul_bfloat16_to_float_bits(y[i]);
        const uint32_t zb = (uint32_t)lmul_bits_scalar(xb, yb, &lmul_container_f32, p);
        z[i] = lmul_float_bits_to_bfloat16(zb);
    }
}

void lmul_f8mul_scalar_1(int64_t n, const uint8_t *x, const uint8_t *y, float *z,
                         const lmul_params *p, const lmul_fp8_format *f)
{
    for (int64_t i = 0; i < n; i++) {
        const uint32_t xb = lmul_fp8_to_float_bits(x[i], f);
        const uint32_t yb = lmul_fp8_to_float_bits(y[i], f);
        const uint32_t zb = (uint32_t)lmul_bits_scalar(xb, yb, &lmul_container_f32, p);
        memcpy(z + i, &zb, sizeof zb);
    }
}

/* Narrow elements to float32 bits (lmul_widen_ft). */
void lmul_widen_scalar_1(int64_t n, const void *src, lmul_widen_kind kind,
                         const lmul_fp8_format *f, uint32_t *dst)
{
    const uint16_t *h = src;
    const uint8_t *b = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = kind == LMUL_WIDEN_F8 ? lmul_fp8_to_float_bits(b[i], f)
               : kind == LMUL_WIDEN_BF16 ? lmul_bfloat16_to_float_bits(h[i])
               : lmul_half_to_float_bits(h[i]);
}
