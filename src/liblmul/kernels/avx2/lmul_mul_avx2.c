/*
 * Elementwise L-Mul microkernels for AVX2 (+F16C): 8 float32, 4 float64 or
 * 8 float16 lanes per step; the tail goes through a zero-padded block.
 * Each lane follows docs/contract.md section 3 with all-ones lane masks for the cases.
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
static inline __attribute__((always_inline)) void smul_loop(
    int64_t n, const float *x, const float *y, float *z,
    const lmul_params *p, int rounding)
{
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    for (; i + 8 <= n; i += 8) {
        const __m256i r = lmul32(_mm256_loadu_si256((const __m256i *)(x + i)),
                                 _mm256_loadu_si256((const __m256i *)(y + i)),
                                 p, rounding, &zero_run);
        _mm256_storeu_si256((__m256i *)(z + i), r);
    }
    if (i < n) {
        __m256i a, b;
        tail_load(&a, &b, x + i, y + i, (size_t)(n - i) * sizeof(float));
        tail_store(z + i, lmul32(a, b, p, rounding, &zero_run),
                   (size_t)(n - i) * sizeof(float));
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
static inline __attribute__((always_inline)) void dmul_loop(
    int64_t n, const double *x, const double *y,
                             double *z, const lmul_params *p, int rounding)
{
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    for (; i + 4 <= n; i += 4) {
        const __m256i r = lmul64(_mm256_loadu_si256((const __m256i *)(x + i)),
                                 _mm256_loadu_si256((const __m256i *)(y + i)),
                                 p, rounding, &zero_run);
        _mm256_storeu_si256((__m256i *)(z + i), r);
    }
    if (i < n) {
        __m256i a, b;
        tail_load(&a, &b, x + i, y + i, (size_t)(n - i) * sizeof(double));
        tail_store(z + i, lmul64(a, b, p, rounding, &zero_run),
                   (size_t)(n - i) * sizeof(double));
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

/* The 16-bit formats widen exactly into the float32 container and narrow
 * back with round-to-nearest-even. float16 converts in hardware (F16C);
 * bfloat16 is the top half of a float32. */
LMUL_TARGET_AVX2
static inline __m256i widen_f16(__m128i h)
{
    return _mm256_castps_si256(_mm256_cvtph_ps(h));
}

LMUL_TARGET_AVX2
static inline __m128i narrow_f16(__m256i f)
{
    return _mm256_cvtps_ph(_mm256_castsi256_ps(f), _MM_FROUND_TO_NEAREST_INT);
}

LMUL_TARGET_AVX2
static inline __m256i widen_bf16(__m128i b)
{
    return _mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16);
}

LMUL_TARGET_AVX2
static inline __m128i narrow_bf16(__m256i f)
{
    const __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(f, 16),
                                                 _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(
        _mm256_add_epi32(f, _mm256_set1_epi32(0x7FFF)), lowest_kept), 16);
    return _mm_packus_epi32(_mm256_castsi256_si128(rounded),
                            _mm256_extracti128_si256(rounded, 1));
}

typedef __m256i (*widen16_ft)(__m128i);
typedef __m128i (*narrow16_ft)(__m256i);

/* Inlined into each caller with constant widen/narrow, so no call remains. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void mul16_loop(
    int64_t n, const uint16_t *x, const uint16_t *y, uint16_t *z,
    const lmul_params *p, int format_mantissa_bits, widen16_ft widen,
    narrow16_ft narrow)
{
    const int rounding = lmul_rounding_needed(p, format_mantissa_bits);
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    for (; i + 8 <= n; i += 8) {
        const __m256i r = lmul32(widen(_mm_loadu_si128((const __m128i *)(x + i))),
                                 widen(_mm_loadu_si128((const __m128i *)(y + i))),
                                 p, rounding, &zero_run);
        _mm_storeu_si128((__m128i *)(z + i), narrow(r));
    }
    if (i < n) {
        __m256i a, b;
        const size_t bytes = (size_t)(n - i) * sizeof(uint16_t);
        tail_load(&a, &b, x + i, y + i, bytes);
        const __m256i r = lmul32(widen(_mm256_castsi256_si128(a)),
                                 widen(_mm256_castsi256_si128(b)), p, rounding, &zero_run);
        tail_store(z + i, _mm256_castsi128_si256(narrow(r)), bytes);
    }
}

LMUL_TARGET_AVX2
void lmul_hmul_avx2_8(int64_t n, const uint16_t *x, const uint16_t *y,
                      uint16_t *z, const lmul_params *p)
{
    mul16_loop(n, x, y, z, p, LMUL_F16_MANTISSA, widen_f16, narrow_f16);
}

LMUL_TARGET_AVX2
void lmul_bmul_avx2_8(int64_t n, const uint16_t *x, const uint16_t *y,
                      uint16_t *z, const lmul_params *p)
{
    mul16_loop(n, x, y, z, p, LMUL_BF16_MANTISSA, widen_bf16, narrow_bf16);
}

/* float8 -> float32 bits, exactly: see lmul_fp8_format. */
LMUL_TARGET_AVX2
static inline __m256i decode_fp8(__m128i bytes, const lmul_fp8_format *f)
{
    const __m256i v = _mm256_cvtepu8_epi32(bytes);
    const __m256i m = _mm256_and_si256(v, _mm256_set1_epi32(0x7F));
    const __m256i sign = _mm256_slli_epi32(_mm256_xor_si256(v, m), 24);
    const __m256i shifted = _mm256_sll_epi32(m, _mm_cvtsi32_si128(f->shift));
    const __m256i subnormal = _mm256_castps_si256(_mm256_mul_ps(
        _mm256_cvtepi32_ps(m), _mm256_set1_ps(f->subnormal_unit)));
    __m256i bits = _mm256_add_epi32(shifted, _mm256_set1_epi32((int)f->normal_add));
    bits = _mm256_blendv_epi8(
        bits, subnormal, _mm256_cmpgt_epi32(_mm256_set1_epi32(1 << f->mantissa_bits), m));
    bits = _mm256_blendv_epi8(
        bits, _mm256_add_epi32(shifted, _mm256_set1_epi32((int)f->special_add)),
        _mm256_cmpgt_epi32(m, _mm256_set1_epi32((int)f->special_from - 1)));
    return _mm256_or_si256(bits, sign);
}

LMUL_TARGET_AVX2
void lmul_f8mul_avx2_8(int64_t n, const uint8_t *x, const uint8_t *y, float *z,
                       const lmul_params *p, const lmul_fp8_format *f)
{
    const int rounding = lmul_rounding_needed(p, f->mantissa_bits);
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    const lmul_fp8_format own_format = *f;
    f = &own_format;
    for (; i + 8 <= n; i += 8) {
        const __m256i r = lmul32(
            decode_fp8(_mm_loadl_epi64((const __m128i *)(x + i)), f),
            decode_fp8(_mm_loadl_epi64((const __m128i *)(y + i)), f),
                                 p, rounding, &zero_run);
        _mm256_storeu_si256((__m256i *)(z + i), r);
    }
    if (i < n) {
        __m256i a, b;
        tail_load(&a, &b, x + i, y + i, (size_t)(n - i));
        const __m256i r = lmul32(decode_fp8(_mm256_castsi256_si128(a), f),
                                 decode_fp8(_mm256_castsi256_si128(b), f),
                                 p, rounding, &zero_run);
        tail_store(z + i, r, (size_t)(n - i) * sizeof(float));
    }
}

/* Narrow elements to float32 bits (lmul_widen_ft), 8 at a time; the tail
 * through a zeroed copy. */
LMUL_TARGET_AVX2
void lmul_widen_avx2_8(int64_t n, const void *src, lmul_widen_kind kind,
                       const lmul_fp8_format *f, uint32_t *dst)
{
    const size_t es = kind == LMUL_WIDEN_F8 ? 1 : 2;
    for (int64_t i = 0; i < n; i += 8) {
        const int64_t left = n - i < 8 ? n - i : 8;
        _Alignas(16) uint8_t in[16] = {0};
        memcpy(in, (const char *)src + i * (int64_t)es, (size_t)left * es);
        const __m128i v = _mm_load_si128((const __m128i *)in);
        __m256i r;
        if (kind == LMUL_WIDEN_F8)
            r = decode_fp8(v, f);
        else if (kind == LMUL_WIDEN_BF16)
            r = widen_bf16(v);
        else
            r = widen_f16(v);
        if (left == 8) {
            _mm256_storeu_si256((__m256i *)(dst + i), r);
        } else {
            _Alignas(32) uint32_t out[8];
            _mm256_store_si256((__m256i *)out, r);
            memcpy(dst + i, out, (size_t)left * sizeof(uint32_t));
        }
    }
}

#endif /* LMUL_X86 */
