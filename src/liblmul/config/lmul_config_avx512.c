/* The AVX-512 level: registers the AVX-512 kernels. */
#include "../kernels/avx512/lmul_kernels_avx512.h"

#if LMUL_X86
const lmul_kernels lmul_kernels_avx512 = {
    .isa = LMUL_ISA_AVX512,
    .smul = lmul_smul_avx512_16,
    .dmul = lmul_dmul_avx512_8,
    .hmul = lmul_hmul_avx512_16,
    .bmul = lmul_bmul_avx512_16,
    .f8mul = lmul_f8mul_avx512_16,
};
#endif
