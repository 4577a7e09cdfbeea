/* The AVX2 level: registers the AVX2 kernels and GEMM block sizes. */
#include "../kernels/scalar/lmul_kernels_scalar.h"
#include "../kernels/avx2/lmul_kernels_avx2.h"

#if LMUL_X86
const lmul_kernels lmul_kernels_avx2 = {
    .isa = LMUL_ISA_AVX2,
    .smul = lmul_smul_avx2_8,
    .dmul = lmul_dmul_avx2_4,
    .hmul = lmul_hmul_avx2_8,
    .bmul = lmul_bmul_avx2_8,
    .f8mul = lmul_f8mul_avx2_8,
    .widen = lmul_widen_avx2_8,
    .sgemm = {.mr = 16, .nr = 5, .mc = 192, .nc = 3070,
              .fast = lmul_sgemm_fast_avx2_16x5,
              .fast_cols = lmul_sgemm_fast_avx2_16xn,
              .zeros = lmul_sgemm_zeros_avx2_16x5,
              .safe = lmul_sgemm_safe_avx2_16x5, .prep = lmul_prep32_avx2,
              .zeros_scale = LMUL_SZEROS_SCALE_AVX2, .zprep_a = lmul_zprep32a_avx2,
              .zprep_b = lmul_zprep32s_avx2,
              .copy_range32 = lmul_copy_range32_avx2, .tcopy = lmul_tcopy32_avx2,
              .gemv_nb = 16, .gemv_fast = lmul_sgemv_fast_avx2_16,
              .gemv_safe = lmul_sgemv_safe_avx2_16,
              .gemv_lanes = 8, .gemv_stream = lmul_sgemv_stream_avx2,
              .gemv_dots = lmul_sgemv_dots_avx2_8, .gemv_dots_rows = 8,
              .sdots = lmul_sdots_avx2_8,
              .sdots_fast = lmul_sdots_fast_avx2_8, .sdots_items = 8},
    .dgemm = {.mr = 8, .nr = 6, .mc = 96, .nc = 3072,
              .fast = lmul_dgemm_fast_avx2_8x6,
              .zeros = lmul_dgemm_zeros_avx2_8x6,
              .safe = lmul_dgemm_safe_avx2_8x6, .prep = lmul_prep64_scalar,
              .zprep_a = lmul_zprep64a_avx2,
              .zprep_b = lmul_zprep64_avx2},
    .sgemm_small = lmul_sgemm_small_avx2,
};
#endif
