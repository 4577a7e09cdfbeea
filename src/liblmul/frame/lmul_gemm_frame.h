/* The GEMM frame's problem description, shared by the API entry points
 * (lmul_gemm.c) and the blocked driver (lmul_gemm_driver.c). */
#ifndef LMUL_GEMM_FRAME_H
#define LMUL_GEMM_FRAME_H

#include "lmul_internal.h"

/* C = alpha * A B + beta * C, m, n, k > 0, strides in bytes. */
typedef struct lmul_gemm_problem {
    const lmul_gemm_kernels *ker;
    const lmul_container *container;
    size_t elsize;                  /* 4 (float32 container) or 8 (float64) */
    int half;                       /* A, B and C hold float16 (elsize 4): A and
                                       B widen when packed, C is summed in a
                                       float32 block and rounded once */
    int64_t m, n, k;
    const char *a;
    int64_t rs_a, cs_a;
    const char *b;
    int64_t rs_b, cs_b;
    char *c;
    int64_t rs_c, cs_c;
    const void *alpha, *beta;       /* float or double, by elsize */
    lmul_params params;             /* rounding to k bits, for the packing */
} lmul_gemm_problem;

/* Runs a validated problem; LMUL_OK or LMUL_ERR_NOMEM (then C is untouched). */
int lmul_gemm_run(lmul_gemm_problem *pr);

#endif
