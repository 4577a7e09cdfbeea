/*
 * NaN results of GEMMs and dots in the canonical quiet NaN of their format
 * (docs/contract.md section 5). When both operands of an addition are NaN,
 * which one comes out depends on the operand order the compiler chose for
 * that loop, and x86 makes inf - inf a negative NaN: without this step a NaN
 * result's sign and payload could differ between levels and paths.
 */
#include <fenv.h>
#include <string.h>

#include "lmul_gemm_frame.h"

int lmul_sums_may_hold_odd_nans(size_t elsize, const void *beta)
{
    if (fetestexcept(FE_INVALID))       /* inf - inf met in a sum */
        return 1;
    if (beta == NULL)
        return 0;
    /* an old C, NaN with any payload, met a NaN sum */
    return elsize == sizeof(float) ? *(const float *)beta != 0.0f
                                   : *(const double *)beta != 0.0;
}

static void canonical_f32(char *e)
{
    uint32_t v;
    memcpy(&v, e, sizeof v);
    if ((v & UINT32_C(0x7FFFFFFF)) > UINT32_C(0x7F800000)) {
        v = UINT32_C(0x7FC00000);
        memcpy(e, &v, sizeof v);
    }
}

static void canonical_f64(char *e)
{
    uint64_t v;
    memcpy(&v, e, sizeof v);
    if ((v & UINT64_C(0x7FFFFFFFFFFFFFFF)) > UINT64_C(0x7FF0000000000000)) {
        v = UINT64_C(0x7FF8000000000000);
        memcpy(e, &v, sizeof v);
    }
}

/* float16 (inf 0x7C00, quiet NaN 0x7E00) or bfloat16 (0x7F80, 0x7FC0) */
static void canonical_16(char *e, uint16_t inf, uint16_t qnan)
{
    uint16_t v;
    memcpy(&v, e, sizeof v);
    if ((v & 0x7FFF) > inf)
        memcpy(e, &qnan, sizeof qnan);
}

static void canonical_one(size_t elsize, lmul_elem_format out, char *e)
{
    if (out == LMUL_ELEM_HALF)
        canonical_16(e, 0x7C00, 0x7E00);
    else if (out == LMUL_ELEM_BFLOAT16)
        canonical_16(e, 0x7F80, 0x7FC0);
    else if (elsize == sizeof(float))
        canonical_f32(e);
    else
        canonical_f64(e);
}

void lmul_canonical_nans(size_t elsize, lmul_elem_format out, char *c, int64_t m,
                         int64_t n, int64_t rs_c, int64_t cs_c)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++)
            canonical_one(elsize, out, c + i * rs_c + j * cs_c);
}
