/* The scalar level: registers the portable C kernels. */
#include "../kernels/scalar/lmul_kernels_scalar.h"

const lmul_kernels lmul_kernels_scalar = {
    .isa = LMUL_ISA_SCALAR,
    .smul = lmul_smul_scalar_1,
    .dmul = lmul_dmul_scalar_1,
    .hmul = lmul_hmul_scalar_1,
    .bmul = lmul_bmul_scalar_1,
    .f8mul = lmul_f8mul_scalar_1,
};
