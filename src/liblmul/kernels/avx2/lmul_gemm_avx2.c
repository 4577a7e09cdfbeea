/*
 * GEMM microkernels for AVX2: float32 tiles of 16 x 6 (two vectors of A by
 * six broadcasts of B, 12 accumulators of the 16 registers) and float64
 * tiles of 8 x 6. The one-add kernel's product is vpaddd/vpaddq of the
 * packed bits; the safe kernel restores A's bits and runs the lane logic.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx2.h"
#include "lmul_lanes_avx2.h"

#define SMR 16
#define DMR 8
#define NR 6

LMUL_TARGET_AVX2
static inline __m256 sprod(__m256i a, __m256i b, __m256i a_addend,
                           const lmul_params *p, int safe)
{
    if (!safe)
        return _mm256_castsi256_ps(_mm256_add_epi32(a, b));
    return _mm256_castsi256_ps(lmul32(_mm256_sub_epi32(a, a_addend), b, p, 0));
}

/* (alpha * acc) + (beta * c), or alpha * acc when C is not read. */
LMUL_TARGET_AVX2
static inline void sstore(float *c, __m256 acc, __m256 alpha, __m256 beta,
                          int read_c)
{
    __m256 r = _mm256_mul_ps(alpha, acc);
    if (read_c)
        r = _mm256_add_ps(r, _mm256_mul_ps(beta, _mm256_loadu_ps(c)));
    _mm256_storeu_ps(c, r);
}

LMUL_TARGET_AVX2
static inline void sgemm_16x6(int64_t kc, const int32_t *a, const int32_t *b,
                              float *c, int64_t ldc, const lmul_gemm_aux *aux,
                              int safe)
{
    __m256 acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_ps();
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, a += SMR, b += NR) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8));
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) {
            const __m256i bj = _mm256_set1_epi32(b[j]);
            acc0[j] = _mm256_add_ps(acc0[j], sprod(a0, bj, addend, aux->p, safe));
            acc1[j] = _mm256_add_ps(acc1[j], sprod(a1, bj, addend, aux->p, safe));
        }
    }
    const float beta = *(const float *)aux->beta;
    const __m256 va = _mm256_set1_ps(*(const float *)aux->alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    for (int j = 0; j < NR; j++) {
        sstore(c + j * ldc, acc0[j], va, vb, beta != 0.0f);
        sstore(c + j * ldc + 8, acc1[j], va, vb, beta != 0.0f);
    }
}

LMUL_TARGET_AVX2
void lmul_sgemm_fast_avx2_16x6(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_16x6(kc, pa, pb, c, ldc, aux, 0);
}

LMUL_TARGET_AVX2
void lmul_sgemm_safe_avx2_16x6(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_16x6(kc, pa, pb, c, ldc, aux, 1);
}

LMUL_TARGET_AVX2
static inline __m256d dprod(__m256i a, __m256i b, __m256i a_addend,
                            const lmul_params *p, int safe)
{
    if (!safe)
        return _mm256_castsi256_pd(_mm256_add_epi64(a, b));
    return _mm256_castsi256_pd(lmul64(_mm256_sub_epi64(a, a_addend), b, p, 0));
}

LMUL_TARGET_AVX2
static inline void dstore(double *c, __m256d acc, __m256d alpha, __m256d beta,
                          int read_c)
{
    __m256d r = _mm256_mul_pd(alpha, acc);
    if (read_c)
        r = _mm256_add_pd(r, _mm256_mul_pd(beta, _mm256_loadu_pd(c)));
    _mm256_storeu_pd(c, r);
}

LMUL_TARGET_AVX2
static inline void dgemm_8x6(int64_t kc, const int64_t *a, const int64_t *b,
                             double *c, int64_t ldc, const lmul_gemm_aux *aux,
                             int safe)
{
    __m256d acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_pd();
    const __m256i addend = _mm256_set1_epi64x((long long)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, a += DMR, b += NR) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 4));
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) {
            const __m256i bj = _mm256_set1_epi64x(b[j]);
            acc0[j] = _mm256_add_pd(acc0[j], dprod(a0, bj, addend, aux->p, safe));
            acc1[j] = _mm256_add_pd(acc1[j], dprod(a1, bj, addend, aux->p, safe));
        }
    }
    const double beta = *(const double *)aux->beta;
    const __m256d va = _mm256_set1_pd(*(const double *)aux->alpha);
    const __m256d vb = _mm256_set1_pd(beta);
    for (int j = 0; j < NR; j++) {
        dstore(c + j * ldc, acc0[j], va, vb, beta != 0.0);
        dstore(c + j * ldc + 4, acc1[j], va, vb, beta != 0.0);
    }
}

LMUL_TARGET_AVX2
void lmul_dgemm_fast_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                              void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_8x6(kc, pa, pb, c, ldc, aux, 0);
}

LMUL_TARGET_AVX2
void lmul_dgemm_safe_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                              void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_8x6(kc, pa, pb, c, ldc, aux, 1);
}

/* Packing preparation of float32 bits, 8 lanes at a time (see lmul_prep_ft);
 * NaN is never rounded. Magnitudes are below 2^31: signed compares order them. */
LMUL_TARGET_AVX2
void lmul_prep32_avx2(int64_t rows, int64_t width, const void *src,
                      int64_t src_stride, void *dst, uint64_t addend,
                      const lmul_params *p, lmul_range *range)
{
    int32_t *out = dst;
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    const __m256i below_normal = _mm256_set1_epi32(0x007FFFFF);
    const __m256i add = _mm256_set1_epi32((int)addend);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i lo = _mm256_set1_epi32(-1), hi = _mm256_setzero_si256();
    __m256i zeros = _mm256_setzero_si256();
    for (int64_t row = 0; row < rows; row++, out += width) {
        const int32_t *x = (const int32_t *)((const char *)src + row * src_stride);
        for (int64_t i = 0; i < width; i += 8) {
            const int left = width - i < 8 ? (int)(width - i) : 8;
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
            const __m256i v = _mm256_maskload_epi32(x + i, m);
            __m256i mag = _mm256_andnot_si256(sign, v);
            mag = _mm256_and_si256(mag, _mm256_cmpgt_epi32(mag, below_normal));
            if (p->round_shift)
                mag = _mm256_blendv_epi8(round32(mag, p), mag, _mm256_cmpgt_epi32(mag, inf));
            const __m256i nonzero = _mm256_andnot_si256(
                _mm256_cmpeq_epi32(mag, _mm256_setzero_si256()), m);
            lo = _mm256_blendv_epi8(lo, _mm256_min_epu32(lo, mag), nonzero);
            hi = _mm256_blendv_epi8(hi, _mm256_max_epu32(hi, mag), m);
            zeros = _mm256_or_si256(zeros, _mm256_andnot_si256(nonzero, m));
            const __m256i r = _mm256_or_si256(_mm256_and_si256(v, sign), mag);
            _mm256_maskstore_epi32(out + i, m, _mm256_add_epi32(r, add));
        }
    }
    _Alignas(32) uint32_t l[8], h[8];
    _mm256_store_si256((__m256i *)l, lo);
    _mm256_store_si256((__m256i *)h, hi);
    uint32_t min = UINT32_MAX, max = 0;
    for (int i = 0; i < 8; i++) {
        min = l[i] < min ? l[i] : min;
        max = h[i] > max ? h[i] : max;
    }
    range->min = min == UINT32_MAX ? UINT64_MAX : min;
    range->max = max;
    range->zeros = !_mm256_testz_si256(zeros, zeros);
}

#endif /* LMUL_X86 */
