/* Library-wide helpers: version, error messages, containers, k parameters,
 * workspace allocation. */
#include <stdlib.h>

#include "lmul_internal.h"

#define LMUL_STR2(x) #x
#define LMUL_STR(x) LMUL_STR2(x)

const lmul_container lmul_container_f32 = {
    23, 0x3F800000u, 0x80000000u, 0x7F800000u, 0x7FC00000u};
const lmul_container lmul_container_f64 = {
    52, 0x3FF0000000000000u, 0x8000000000000000u, 0x7FF0000000000000u,
    0x7FF8000000000000u};

const lmul_fp8_format lmul_fp8_e4m3fn = {
    3, 20, 120u << 23, 0x7Fu, 240u << 23, 0x1p-9f};   /* no infinity; 0x7F is NaN */
const lmul_fp8_format lmul_fp8_e5m2 = {
    2, 21, 112u << 23, 0x7Cu, 224u << 23, 0x1p-16f};

const char *lmul_version(void)
{
    return LMUL_STR(LMUL_SIMD_VERSION_MAJOR) "." LMUL_STR(LMUL_SIMD_VERSION_MINOR)
        "." LMUL_STR(LMUL_SIMD_VERSION_PATCH);
}

const char *lmul_strerror(int status)
{
    switch (status) {
    case LMUL_OK: return "success";
    case LMUL_ERR_K: return "mantissa bits k out of range for the container";
    case LMUL_ERR_ARG: return "invalid argument";
    case LMUL_ERR_ISA: return "instruction set not supported by this CPU or build";
    case LMUL_ERR_DIM: return "leading dimension too small";
    case LMUL_ERR_NOMEM: return "out of memory";
    default: return "unknown status";
    }
}

/* l(k) of the paper: k for k <= 3, 3 for k == 4, 4 for k > 4. */
static int offset_exponent(int k)
{
    if (k <= 3)
        return k;
    return k == 4 ? 3 : 4;
}

int lmul_params_init(lmul_params *p, const lmul_container *c, int k)
{
    if (k < 1 || k > c->P)
        return LMUL_ERR_K;
    p->round_shift = c->P - k;
    p->round_add = p->round_shift ? (UINT64_C(1) << (p->round_shift - 1)) - 1 : 0;
    p->round_mask = ~((UINT64_C(1) << p->round_shift) - 1);
    p->offset = UINT64_C(1) << (c->P - offset_exponent(k));
    return LMUL_OK;
}
