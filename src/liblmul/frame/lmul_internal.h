/* Types shared by the frame (portable loops, dispatch) and the kernels. */
#ifndef LMUL_INTERNAL_H
#define LMUL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "lmul_simd.h"

/* LMUL_PORTABLE_ONLY builds the scalar level alone, as on a non-x86 CPU. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) \
    && !defined(LMUL_PORTABLE_ONLY)
#  define LMUL_X86 1
#  define LMUL_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#  define LMUL_TARGET_AVX512 \
     __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#else
#  define LMUL_X86 0
#endif

/* The IEEE container an L-Mul is computed in (SPEC.md section 2). */
typedef struct lmul_container {
    int P;                  /* mantissa bits */
    uint64_t bias;          /* bit pattern of 1.0 */
    uint64_t sign;          /* the sign bit */
    uint64_t inf;           /* bit pattern of +infinity */
    uint64_t qnan;          /* canonical quiet NaN */
} lmul_container;

extern const lmul_container lmul_container_f32;
extern const lmul_container lmul_container_f64;

/*
 * Everything that depends on k, computed once per call. Fields are 64-bit;
 * float32 kernels use their low 32 bits.
 */
typedef struct lmul_params {
    int round_shift;        /* P - k: mantissa bits rounded away (0: none) */
    uint64_t round_add;     /* 2^(shift-1) - 1: round-half-down addend */
    uint64_t round_mask;    /* clears the rounded-away bits */
    uint64_t offset;        /* 2^(P - l(k)) in units of the last mantissa bit */
} lmul_params;

/* Fills p for container c and k; LMUL_ERR_K if k is outside 1..P. */
int lmul_params_init(lmul_params *p, const lmul_container *c, int k);

/* Rounding to k bits in the float32 container changes nothing for a format
 * with at most k mantissa bits: only otherwise do narrow kernels pay for it. */
static inline int lmul_rounding_needed(const lmul_params *p, int format_mantissa_bits)
{
    return p->round_shift > 23 - format_mantissa_bits;
}

/* Contiguous elementwise microkernels: z[i] = lmul(x[i], y[i]) for n elements.
 * z may equal x or y. Pointers need no alignment beyond the element's. */
typedef void (*lmul_smul_ker_ft)(int64_t n, const float *x, const float *y,
                                 float *z, const lmul_params *p);
typedef void (*lmul_dmul_ker_ft)(int64_t n, const double *x, const double *y,
                                 double *z, const lmul_params *p);
typedef void (*lmul_hmul_ker_ft)(int64_t n, const uint16_t *x, const uint16_t *y,
                                 uint16_t *z, const lmul_params *p);

/* bfloat16 in and out, as bit patterns. */
typedef void (*lmul_bmul_ker_ft)(int64_t n, const uint16_t *x, const uint16_t *y,
                                 uint16_t *z, const lmul_params *p);

/*
 * A float8 format, decoded exactly into the float32 container. With m the
 * 7 magnitude bits: m >= special_from is infinity or NaN, (m << shift) +
 * special_add; m below 1 << mantissa_bits is subnormal, m * subnormal_unit;
 * otherwise (m << shift) + normal_add.
 */
typedef struct lmul_fp8_format {
    int mantissa_bits;
    int shift;                  /* 23 - mantissa_bits */
    uint32_t normal_add;        /* (127 - bias) << 23 */
    uint32_t special_from;
    uint32_t special_add;       /* puts the top exponent field at 255 */
    float subnormal_unit;       /* 2^(1 - bias - mantissa_bits) */
} lmul_fp8_format;

extern const lmul_fp8_format lmul_fp8_e4m3fn;
extern const lmul_fp8_format lmul_fp8_e5m2;

/* float8 in (either format), float32 out. */
typedef void (*lmul_f8mul_ker_ft)(int64_t n, const uint8_t *x, const uint8_t *y,
                                  float *z, const lmul_params *p,
                                  const lmul_fp8_format *f);

/* What one instruction-set level provides (registered in config/). */
typedef struct lmul_kernels {
    lmul_isa isa;
    lmul_smul_ker_ft smul;
    lmul_dmul_ker_ft dmul;
    lmul_hmul_ker_ft hmul;
    lmul_bmul_ker_ft bmul;
    lmul_f8mul_ker_ft f8mul;
} lmul_kernels;

extern const lmul_kernels lmul_kernels_scalar;
#if LMUL_X86
extern const lmul_kernels lmul_kernels_avx2;
extern const lmul_kernels lmul_kernels_avx512;
#endif

/* The kernels of the instruction set in use (frame/lmul_dispatch.c). */
const lmul_kernels *lmul_active_kernels(void);

#endif /* LMUL_INTERNAL_H */
