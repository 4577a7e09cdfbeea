/*
 * Elementwise L-Mul microkernels for AVX2 (+F16C): 8 float32, 4 float64 or
 * 8 float16 lanes per step; the tail goes through a zero-padded block.
 * Each lane follows SPEC.md section 3 with all-ones lane masks for the cases.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>
#include <string.h>

#include "lmul_kernels_avx2.h"
#include "lmul_lanes_avx2.h"

/* The last n < lanes elements, through a zero-padded block of 32 bytes. */
#define TAIL_BYTES 32

LMUL_TARGET_AVX2
static inline void tail_load(__m256i *a, __m256i *b, const void *x,
                             const void *y, size_t bytes)
{
    _Alignas(32) unsigned char bx[TAIL_BYTES] = {0}, by[TAIL_BYTES] = {0};
    memcpy(bx, x, bytes);
    memcpy(by, y, bytes);
    *a = _mm256_load_si256((const __m256i *)bx);
    *b = _mm256_load_si256((const __m256i *)by);
}

LMUL_TARGET_AVX2
static inline void tail_store(void *z, __m256i r, size_t bytes)
{
    _Alignas(32) unsigned char bz[TAIL_BYTES];
    _mm256_store_si256((__m256i *)bz, r);
    memcpy(z, bz, bytes);
}

LMUL_TARGET_AVX2
static inline void smul_loop(int64_t n, const float *x, const float *y, float *z,
                             const lmul_params *p, int rounding)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i r = lmul32(_mm256_loadu_si256((const __m256i *)(x + i)),
                                 _mm256_loadu_si256((const __m256i *)(y + i)),
                                 p, rounding);
        _mm256_storeu_si256((__m256i *)(z + i), r);
    }
    if (i < n) {
        __m256i a, b;
        tail_load(&a, &b, x + i, y + i, (size_t)(n - i) * sizeof(float));
        tail_store(z + i, lmul32(a, b, p, rounding), (size_t)(n - i) * sizeof(float));
    }
}

LMUL_TARGET_AVX2
void lmul_smul_avx2_8(int64_t n, const float *x, const float *y, float *z,
                      const lmul_params *p)
{
    if (p->round_shift)
        smul_loop(n, x, y, z, p, 1);
    else
        smul_loop(n, x, y, z, p, 0);
}

LMUL_TARGET_AVX2
static inline void dmul_loop(int64_t n, const double *x, const double *y,
                             double *z, const lmul_params *p, int rounding)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256i r = lmul64(_mm256_loadu_si256((const __m256i *)(x + i)),
                                 _mm256_loadu_si256((const __m256i *)(y + i)),
                                 p, rounding);
        _mm256_storeu_si256((__m256i *)(z + i), r);
    }
    if (i < n) {
        __m256i a, b;
        tail_load(&a, &b, x + i, y + i, (size_t)(n - i) * sizeof(double));
        tail_store(z + i, lmul64(a, b, p, rounding), (size_t)(n - i) * sizeof(double));
    }
}

LMUL_TARGET_AVX2
void lmul_dmul_avx2_4(int64_t n, const double *x, const double *y, double *z,
                      const lmul_params *p)
{
    if (p->round_shift)
        dmul_loop(n, x, y, z, p, 1);
    else
        dmul_loop(n, x, y, z, p, 0);
}

/* float16: exact widening to float32, round-to-nearest-even narrowing. */
LMUL_TARGET_AVX2
static inline __m128i hmul8(__m128i x, __m128i y, const lmul_params *p)
{
    const __m256i xs = _mm256_castps_si256(_mm256_cvtph_ps(x));
    const __m256i ys = _mm256_castps_si256(_mm256_cvtph_ps(y));
    const __m256i r = lmul32(xs, ys, p, p->round_shift != 0);
    return _mm256_cvtps_ph(_mm256_castsi256_ps(r), _MM_FROUND_TO_NEAREST_INT);
}

LMUL_TARGET_AVX2
void lmul_hmul_avx2_8(int64_t n, const uint16_t *x, const uint16_t *y,
                      uint16_t *z, const lmul_params *p)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i r = hmul8(_mm_loadu_si128((const __m128i *)(x + i)),
                                _mm_loadu_si128((const __m128i *)(y + i)), p);
        _mm_storeu_si128((__m128i *)(z + i), r);
    }
    if (i < n) {
        __m256i a, b;
        const size_t bytes = (size_t)(n - i) * sizeof(uint16_t);
        tail_load(&a, &b, x + i, y + i, bytes);
        const __m128i r = hmul8(_mm256_castsi256_si128(a),
                                _mm256_castsi256_si128(b), p);
        tail_store(z + i, _mm256_castsi128_si256(r), bytes);
    }
}

#endif /* LMUL_X86 */
