/*
 * Elementwise L-Mul microkernels for AVX-512 (F/BW/VL/DQ): 16 float32,
 * 8 float64 or 16 float16 lanes per step, tails by masked loads and stores.
 * Each lane follows docs/contract.md section 3 with mask registers for the cases.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx512.h"
#include "lmul_lanes_avx512.h"

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void smul_loop(
    int64_t n, const float *x, const float *y, float *z,
    const lmul_params *p, int rounding)
{
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    for (; i + 16 <= n; i += 16) {
        const __m512i r = lmul32(_mm512_loadu_si512(x + i),
                                 _mm512_loadu_si512(y + i), p, rounding, &zero_run);
        _mm512_storeu_si512(z + i, r);
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m512i r = lmul32(_mm512_maskz_loadu_epi32(m, x + i),
                                 _mm512_maskz_loadu_epi32(m, y + i),
                                 p, rounding, &zero_run);
        _mm512_mask_storeu_epi32(z + i, m, r);
    }
}

LMUL_TARGET_AVX512
void lmul_smul_avx512_16(int64_t n, const float *x, const float *y, float *z,
                         const lmul_params *p)
{
    if (p->round_shift)
        smul_loop(n, x, y, z, p, 1);
    else
        smul_loop(n, x, y, z, p, 0);
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void dmul_loop(
    int64_t n, const double *x, const double *y,
                             double *z, const lmul_params *p, int rounding)
{
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    for (; i + 8 <= n; i += 8) {
        const __m512i r = lmul64(_mm512_loadu_si512(x + i),
                                 _mm512_loadu_si512(y + i), p, rounding, &zero_run);
        _mm512_storeu_si512(z + i, r);
    }
    if (i < n) {
        const __mmask8 m = (__mmask8)((1u << (n - i)) - 1);
        const __m512i r = lmul64(_mm512_maskz_loadu_epi64(m, x + i),
                                 _mm512_maskz_loadu_epi64(m, y + i),
                                 p, rounding, &zero_run);
        _mm512_mask_storeu_epi64(z + i, m, r);
    }
}

LMUL_TARGET_AVX512
void lmul_dmul_avx512_8(int64_t n, const double *x, const double *y, double *z,
                        const lmul_params *p)
{
    if (p->round_shift)
        dmul_loop(n, x, y, z, p, 1);
    else
        dmul_loop(n, x, y, z, p, 0);
}

/* The 16-bit formats widen exactly into the float32 container and narrow
 * back with round-to-nearest-even. float16 converts in hardware (exceptions
 * suppressed); bfloat16 is the top half of a float32. */
LMUL_TARGET_AVX512
static inline __m512i widen_f16(__m256i h)
{
    return _mm512_castps_si512(_mm512_cvtph_ps(h));
}

LMUL_TARGET_AVX512
static inline __m256i narrow_f16(__m512i f)
{
    return _mm512_cvtps_ph(_mm512_castsi512_ps(f),
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

LMUL_TARGET_AVX512
static inline __m512i widen_bf16(__m256i b)
{
    return _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16);
}

LMUL_TARGET_AVX512
static inline __m256i narrow_bf16(__m512i f)
{
    const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(f, 16),
                                                 _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(
        _mm512_add_epi32(f, _mm512_set1_epi32(0x7FFF)), lowest_kept);
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16));
}

typedef __m512i (*widen16_ft)(__m256i);
typedef __m256i (*narrow16_ft)(__m512i);

/* Inlined into each caller with constant widen/narrow, so no call remains. */
LMUL_TARGET_AVX512
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
    for (; i + 16 <= n; i += 16) {
        const __m512i r = lmul32(widen(_mm256_loadu_si256((const __m256i *)(x + i))),
                                 widen(_mm256_loadu_si256((const __m256i *)(y + i))),
                                 p, rounding, &zero_run);
        _mm256_storeu_si256((__m256i *)(z + i), narrow(r));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m512i r = lmul32(widen(_mm256_maskz_loadu_epi16(m, x + i)),
                                 widen(_mm256_maskz_loadu_epi16(m, y + i)),
                                 p, rounding, &zero_run);
        _mm256_mask_storeu_epi16(z + i, m, narrow(r));
    }
}

LMUL_TARGET_AVX512
void lmul_hmul_avx512_16(int64_t n, const uint16_t *x, const uint16_t *y,
                         uint16_t *z, const lmul_params *p)
{
    mul16_loop(n, x, y, z, p, LMUL_F16_MANTISSA, widen_f16, narrow_f16);
}

LMUL_TARGET_AVX512
void lmul_bmul_avx512_16(int64_t n, const uint16_t *x, const uint16_t *y,
                         uint16_t *z, const lmul_params *p)
{
    mul16_loop(n, x, y, z, p, LMUL_BF16_MANTISSA, widen_bf16, narrow_bf16);
}

/* float8 -> float32 bits, exactly: see lmul_fp8_format. */
LMUL_TARGET_AVX512
static inline __m512i decode_fp8(__m128i bytes, const lmul_fp8_format *f)
{
    const __m512i v = _mm512_cvtepu8_epi32(bytes);
    const __m512i m = _mm512_and_si512(v, _mm512_set1_epi32(0x7F));
    const __m512i sign = _mm512_slli_epi32(_mm512_xor_si512(v, m), 24);
    const __m512i shifted = _mm512_sll_epi32(m, _mm_cvtsi32_si128(f->shift));
    const __m512i subnormal = _mm512_castps_si512(_mm512_mul_ps(
        _mm512_cvtepi32_ps(m), _mm512_set1_ps(f->subnormal_unit)));
    __m512i bits = _mm512_add_epi32(shifted, _mm512_set1_epi32((int)f->normal_add));
    bits = _mm512_mask_mov_epi32(
        bits, _mm512_cmplt_epu32_mask(m, _mm512_set1_epi32(1 << f->mantissa_bits)),
        subnormal);
    bits = _mm512_mask_add_epi32(
        bits, _mm512_cmpge_epu32_mask(m, _mm512_set1_epi32((int)f->special_from)),
        shifted, _mm512_set1_epi32((int)f->special_add));
    return _mm512_or_si512(bits, sign);
}

LMUL_TARGET_AVX512
void lmul_f8mul_avx512_16(int64_t n, const uint8_t *x, const uint8_t *y, float *z,
                          const lmul_params *p, const lmul_fp8_format *f)
{
    const int rounding = lmul_rounding_needed(p, f->mantissa_bits);
    int64_t i = 0;
    int zero_run = 0;   /* see lmul32 */
    const lmul_params own = *p;   /* a copy the stores to z cannot change */
    p = &own;
    const lmul_fp8_format own_format = *f;
    f = &own_format;
    for (; i + 16 <= n; i += 16) {
        const __m512i r = lmul32(
            decode_fp8(_mm_loadu_si128((const __m128i *)(x + i)), f),
            decode_fp8(_mm_loadu_si128((const __m128i *)(y + i)), f),
                                 p, rounding, &zero_run);
        _mm512_storeu_si512(z + i, r);
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m512i r = lmul32(decode_fp8(_mm_maskz_loadu_epi8(m, x + i), f),
                                 decode_fp8(_mm_maskz_loadu_epi8(m, y + i), f),
                                 p, rounding, &zero_run);
        _mm512_mask_storeu_epi32(z + i, m, r);
    }
}

/* Narrow elements to float32 bits (lmul_widen_ft), 16 at a time. */
LMUL_TARGET_AVX512
void lmul_widen_avx512_16(int64_t n, const void *src, lmul_widen_kind kind,
                          const lmul_fp8_format *f, uint32_t *dst)
{
    const uint16_t *h = src;
    const uint8_t *b = src;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i r;
        if (kind == LMUL_WIDEN_F8)
            r = decode_fp8(_mm_maskz_loadu_epi8(m, b + i), f);
        else if (kind == LMUL_WIDEN_BF16)
            r = widen_bf16(_mm256_maskz_loadu_epi16(m, h + i));
        else
            r = widen_f16(_mm256_maskz_loadu_epi16(m, h + i));
        _mm512_mask_storeu_epi32(dst + i, m, r);
    }
}

#endif /* LMUL_X86 */
