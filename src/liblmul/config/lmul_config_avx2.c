/* The AVX2 level: registers the AVX2 kernels. */
#include "../kernels/avx2/lmul_kernels_avx2.h"

#if LMUL_X86
const lmul_kernels lmul_kernels_avx2 = {
    .isa = LMUL_ISA_AVX2,
    .smul = lmul_smul_avx2_8,
    .dmul = lmul_dmul_avx2_4,
    .hmul = lmul_hmul_avx2_8,
    .bmul = lmul_bmul_avx2_8,
    .f8mul = lmul_f8mul_avx2_8,
};
#endif
