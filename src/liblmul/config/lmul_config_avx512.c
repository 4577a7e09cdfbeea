/* The AVX-512 level: registers the AVX-512 kernels and GEMM block sizes. */
#include "../kernels/avx2/lmul_kernels_avx2.h"   /* its transposing copy, x @ W.T dots */
#include "../kernels/avx512/lmul_kernels_avx512.h"

#if LMUL_X86
const lmul_kernels lmul_kernels_avx512 = {
    .isa = LMUL_ISA_AVX512,
    .smul = lmul_smul_avx512_16,
    .dmul = lmul_dmul_avx512_8,
    .hmul = lmul_hmul_avx512_16,
    .bmul = lmul_bmul_avx512_16,
    .f8mul = lmul_f8mul_avx512_16,
    .widen = lmul_widen_avx512_16,
    .sgemm = {.mr = 32, .nr = 12, .mc = 384, .nc = 3072,
              .fast = lmul_sgemm_fast_avx512_32x12,
              .fast_cols = lmul_sgemm_fast_avx512_32xn,
              .zeros = lmul_sgemm_zeros_avx512_32x12,
              .safe = lmul_sgemm_safe_avx512_32x12, .prep = lmul_prep32_avx512,
              .zprep_b = lmul_zprep32_avx2,
              .copy_range32 = lmul_copy_range32_avx2, .tcopy = lmul_tcopy32_avx2,
              .gemv_nb = 32, .gemv_fast = lmul_sgemv_fast_avx512_32,
              .gemv_safe = lmul_sgemv_safe_avx512_32,
              .gemv_lanes = 16, .gemv_stream = lmul_sgemv_stream_avx512,
              /* 8 rows of W at a time: 16 streams from memory at once read slower */
              .gemv_dots = lmul_sgemv_dots_avx2_8, .gemv_dots_rows = 8,
              .sdots = lmul_sdots_avx512_16,
              .sdots_fast = lmul_sdots_fast_avx512_32, .sdots_items = 32},
    .dgemm = {.mr = 16, .nr = 12, .mc = 192, .nc = 3072,
              .fast = lmul_dgemm_fast_avx512_16x12,
              .zeros = lmul_dgemm_zeros_avx512_16x12,
              .safe = lmul_dgemm_safe_avx512_16x12, .prep = lmul_prep64_avx512,
              .zprep_b = lmul_zprep64_avx2},
    .sgemm_small = lmul_sgemm_small_avx512,
};
#endif
