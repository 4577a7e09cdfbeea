/*
 * The one place that decides the instruction set: CPUID and XGETBV at load
 * time, lowered by LMUL_SIMD_ISA, changed at run time by lmul_set_isa().
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_internal.h"

#if LMUL_X86
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static lmul_isa detect_isa(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return LMUL_ISA_SCALAR;
    const int osxsave = (ecx >> 27) & 1, fma = (ecx >> 12) & 1;
    const int avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!(osxsave && avx && fma && f16c))
        return LMUL_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    const uint64_t ymm_state = 0x6;            /* SSE and AVX registers */
    const uint64_t zmm_state = 0xE0;           /* opmask, ZMM0-15 upper, ZMM16-31 */
    if ((xcr0 & ymm_state) != ymm_state)
        return LMUL_ISA_SCALAR;
    if (__get_cpuid_max(0, NULL) < 7)
        return LMUL_ISA_SCALAR;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const int avx2 = (ebx >> 5) & 1;
    const int avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1)   /* F, DQ */
                    && ((ebx >> 30) & 1) && ((ebx >> 31) & 1);  /* BW, VL */
    if (!avx2)
        return LMUL_ISA_SCALAR;
    if (avx512 && (xcr0 & zmm_state) == zmm_state)
        return LMUL_ISA_AVX512;
    return LMUL_ISA_AVX2;
}

static const lmul_kernels *kernels_of(lmul_isa isa)
{
    switch (isa) {
    case LMUL_ISA_AVX512: return &lmul_kernels_avx512;
    case LMUL_ISA_AVX2: return &lmul_kernels_avx2;
    default: return &lmul_kernels_scalar;
    }
}
#else
static lmul_isa detect_isa(void) { return LMUL_ISA_SCALAR; }
static const lmul_kernels *kernels_of(lmul_isa isa)
{
    (void)isa;
    return &lmul_kernels_scalar;
}
#endif

/* best_isa and env_status are written once, at load; the active level is
 * read once per call (the call keeps its kernels) while another thread may
 * change it. */
static lmul_isa best_isa = LMUL_ISA_SCALAR;
static _Atomic(const lmul_kernels *) active = &lmul_kernels_scalar;
static int env_status = LMUL_OK;

static const char *const isa_names[] = {"scalar", "avx2", "avx512"};

const char *lmul_isa_name(lmul_isa isa)
{
    if ((int)isa < 0 || (int)isa > LMUL_ISA_AVX512)
        return "unknown";
    return isa_names[isa];
}

int lmul_isa_from_name(const char *name, lmul_isa *isa)
{
    if (name == NULL || isa == NULL)
        return LMUL_ERR_ARG;
    for (int i = 0; i <= LMUL_ISA_AVX512; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa = (lmul_isa)i;
            return LMUL_OK;
        }
    }
    return LMUL_ERR_ARG;
}

lmul_isa lmul_best_isa(void) { return best_isa; }
lmul_isa lmul_get_isa(void) { return atomic_load(&active)->isa; }
int lmul_isa_env_status(void) { return env_status; }
const lmul_kernels *lmul_active_kernels(void) { return atomic_load(&active); }

int lmul_set_isa(lmul_isa isa)
{
    if ((int)isa < 0 || (int)isa > LMUL_ISA_AVX512)
        return LMUL_ERR_ARG;
    if (isa > best_isa)
        return LMUL_ERR_ISA;
    atomic_store(&active, kernels_of(isa));
    return LMUL_OK;
}

/* Test-only: LMUL_SIMD_TEST_BEST_ISA=scalar|avx2 pretends the CPU has no
 * level above it (to test what happens on a CPU without AVX-512). */
static lmul_isa test_cap(lmul_isa detected)
{
    lmul_isa cap;
    const char *env = getenv("LMUL_SIMD_TEST_BEST_ISA");
    if (env != NULL && lmul_isa_from_name(env, &cap) == LMUL_OK && cap < detected)
        return cap;
    return detected;
}

__attribute__((constructor)) static void lmul_dispatch_init(void)
{
    best_isa = test_cap(detect_isa());
    atomic_store(&active, kernels_of(best_isa));
    const char *requested = getenv("LMUL_SIMD_ISA");
    if (requested == NULL || requested[0] == '\0')
        return;
    lmul_isa isa;
    env_status = lmul_isa_from_name(requested, &isa);
    if (env_status == LMUL_OK)
        env_status = lmul_set_isa(isa);
}
