/* The scalar level: registers the portable C kernels and their block sizes. */
#include "../kernels/scalar/lmul_kernels_scalar.h"

const lmul_kernels lmul_kernels_scalar = {
    .isa = LMUL_ISA_SCALAR,
    .smul = lmul_smul_scalar_1,
    .dmul = lmul_dmul_scalar_1,
    .hmul = lmul_hmul_scalar_1,
    .bmul = lmul_bmul_scalar_1,
    .f8mul = lmul_f8mul_scalar_1,
    .widen = lmul_widen_scalar_1,
    .sgemm = {.mr = 4, .nr = 4, .mc = 128, .nc = 1024,
              .fast = lmul_sgemm_fast_scalar_4x4,
              .zeros = lmul_sgemm_zeros_scalar_4x4,
              .safe = lmul_sgemm_safe_scalar_4x4, .prep = lmul_prep32_scalar,
              .gemv_nb = 4, .gemv_fast = lmul_sgemv_fast_scalar_4,
              .gemv_safe = lmul_sgemv_safe_scalar_4,
              .gemv_lanes = 4, .gemv_stream = lmul_sgemv_stream_scalar,
              .gemv_dots = lmul_sgemv_dots_scalar_4, .gemv_dots_rows = 4,
              .sdots = lmul_sdots_scalar_4},
    .dgemm = {.mr = 4, .nr = 4, .mc = 128, .nc = 1024,
              .fast = lmul_dgemm_fast_scalar_4x4,
              .zeros = lmul_dgemm_zeros_scalar_4x4,
              .safe = lmul_dgemm_safe_scalar_4x4, .prep = lmul_prep64_scalar},
};
