/*
 * Few-row kernels for AVX2 (lmul_gemv_ukr_ft): 16 columns as two vectors,
 * up to 6 rows of A at a time (m split into groups as even as can be: 16 as
 * 6 + 5 + 5, 8 as 4 + 4), A's element broadcast, B's row a vector. 6 rows
 * keep 12 sums in registers; with 4, the kernel ran 13.3 products a cycle
 * from L1 on Zen 4, with 6, 14.5 (AVX-512's: 15.8).
 * Each accumulator adds its products in step order from +0, as the GEMM
 * microkernels do, so the sums are theirs bit for bit.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>
#include <string.h>

#include "../scalar/lmul_half_scalar.h"
#include "lmul_kernels_avx2.h"
#include "lmul_lanes_avx2.h"

#define NB 16
#define ROWS 6

/* The every-case product, out of line (it is long and only the safe loops
 * take it), with the lane logic inlined into it. */
LMUL_TARGET_AVX2 __attribute__((noinline, flatten))
static __m256i full_product_avx2(__m256i x, __m256i w, const lmul_params *p, int rounding)
{
    return rounding ? lmul32_full(x, w, p, 1) : lmul32_full(x, w, p, 0);
}

LMUL_TARGET_AVX2
static inline __m256 prod(__m256i x, __m256i w, __m256i addend, const lmul_params *p,
                          int full)
{
    if (!full)
        return _mm256_castsi256_ps(_mm256_add_epi32(x, w));
    return _mm256_castsi256_ps(full_product_avx2(_mm256_sub_epi32(x, addend), w, p, 0));
}

/* All ones in the lanes of v that hold a normal number (not a zero or
 * subnormal). */
LMUL_TARGET_AVX2
static inline __m256 normal_lanes(__m256i v)
{
    const __m256i mag = _mm256_andnot_si256(_mm256_set1_epi32((int)0x80000000u), v);
    return _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(LMUL_F32_MIN_NORMAL_BITS - 1)));
}

/* rows (a constant at each call) rows of A by the 16 columns; `masked` 1:
 * A's zeros' products +0, 2: B's zeros' and subnormals' too. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void gemv_rows(
    int rows, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full, int masked)
{
    __m256 a0[ROWS], a1[ROWS];
    for (int r = 0; r < rows; r++)
        a0[r] = a1[r] = _mm256_setzero_ps();
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, w += ldw) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w),
                      w1 = _mm256_loadu_si256((const __m256i *)(w + 8));
        const __m256 b0 = masked == 2 ? normal_lanes(w0) : _mm256_setzero_ps(),
                     b1 = masked == 2 ? normal_lanes(w1) : _mm256_setzero_ps();
        for (int r = 0; r < rows; r++) {
            const __m256i x = _mm256_set1_epi32((int)xa[r * kc + p]);
            __m256 p0 = prod(x, w0, addend, aux->p, full), p1 = prod(x, w1, addend, aux->p, full);
            if (masked) {
                const __m256 nz = _mm256_castsi256_ps(_mm256_set1_epi32(
                    lmul_prepared_zero(xa[r * kc + p], aux->a_addend) ? 0 : -1));
                p0 = _mm256_and_ps(p0, masked == 2 ? _mm256_and_ps(nz, b0) : nz);
                p1 = _mm256_and_ps(p1, masked == 2 ? _mm256_and_ps(nz, b1) : nz);
            }
            a0[r] = _mm256_add_ps(a0[r], p0);
            a1[r] = _mm256_add_ps(a1[r], p1);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(acc + r * NB, a0[r]);
        _mm256_storeu_ps(acc + r * NB + 8, a1[r]);
    }
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void gemv(
    int64_t m, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full, int masked)
{
    for (int64_t i = 0, rows; i < m; i += rows) {
        const int64_t groups = (m - i + ROWS - 1) / ROWS;
        rows = (m - i + groups - 1) / groups;
        const uint32_t *x = xa + i * kc;
        float *out = acc + i * NB;
        switch (rows) {
        case 1: gemv_rows(1, kc, x, w, ldw, out, aux, full, masked); break;
        case 2: gemv_rows(2, kc, x, w, ldw, out, aux, full, masked); break;
        case 3: gemv_rows(3, kc, x, w, ldw, out, aux, full, masked); break;
        case 4: gemv_rows(4, kc, x, w, ldw, out, aux, full, masked); break;
        case 5: gemv_rows(5, kc, x, w, ldw, out, aux, full, masked); break;
        default: gemv_rows(6, kc, x, w, ldw, out, aux, full, masked);
        }
    }
}

LMUL_TARGET_AVX2
void lmul_sgemv_fast_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    if (aux->b_zeros)
        gemv(m, kc, xa, w, ldw, acc, aux, 0, 2);
    else if (aux->a_zeros)
        gemv(m, kc, xa, w, ldw, acc, aux, 0, 1);
    else
        gemv(m, kc, xa, w, ldw, acc, aux, 0, 0);
}

LMUL_TARGET_AVX2
void lmul_sgemv_safe_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1, 0);
}

/* ------------------------------------------------ streamed, unprepared B */

#define ONE_BITS 0x3F800000     /* a lane past the end reads 1.0: no range */

/* STEPS rows of W at a time, so that each sum is loaded and stored once
 * per STEPS products (added in row order). */
#define STEPS 4

typedef struct seen8 {
    __m256i lo_raw, lo, hi;
} seen8;

/* A's elements of the rows being streamed, broadcast (v), and with
 * LMUL_FAST_MASKED all ones where they are not zero (nz). */
typedef struct xrows {
    __m256i v[LMUL_GEMV_STREAM_ROWS][STEPS], nz[LMUL_GEMV_STREAM_ROWS][STEPS];
} xrows;

LMUL_TARGET_AVX2
static inline seen8 seen8_start(void)
{
    return (seen8){_mm256_set1_epi32(-1), _mm256_set1_epi32(-1), _mm256_setzero_si256()};
}

LMUL_TARGET_AVX2
static inline void seen8_merge_avx2(seen8 s, lmul_range *r)
{
    _Alignas(32) uint32_t raw[8], lo[8], hi[8];
    _mm256_store_si256((__m256i *)raw, s.lo_raw);
    _mm256_store_si256((__m256i *)lo, s.lo);
    _mm256_store_si256((__m256i *)hi, s.hi);
    for (int i = 0; i < 8; i++) {
        r->zeros |= raw[i] < 0x00800000u;
        r->min = lo[i] < r->min ? lo[i] : r->min;
        r->max = hi[i] > r->max ? hi[i] : r->max;
    }
}

/* What a loop recorded in s, as seen8_merge_avx2 takes it: the plain
 * one-add loop without rounding records only lo_raw, its least magnitude. */
LMUL_TARGET_AVX2
static inline seen8 seen_as_merged(seen8 s, int fast, int rounding)
{
    return fast == LMUL_FAST_MASKED || rounding ? s : (seen8){s.lo_raw, s.lo_raw, s.hi};
}

/* B's bits ready for the one-add product (rounded to k), recorded in *s. */
LMUL_TARGET_AVX2
static inline __m256i prepared(__m256i v, const lmul_params *p, int rounding, seen8 *s)
{
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i mag = _mm256_andnot_si256(sign, v);
    s->lo_raw = _mm256_min_epu32(s->lo_raw, mag);
    if (!rounding) {
        s->hi = _mm256_max_epu32(s->hi, mag);
        return v;
    }
    const __m256i r = round32(mag, p);
    s->lo = _mm256_min_epu32(s->lo, r);
    s->hi = _mm256_max_epu32(s->hi, r);
    return _mm256_or_si256(_mm256_and_si256(v, sign), r);
}

/* B's bits as prepared() gives them, for the masked one-add loops: *zero
 * all ones where the element is a zero or subnormal (its products to be
 * taken as +0) and s->lo the least of the others, so that seen8_merge_avx2
 * gives B's normal magnitudes (and its zeros, from s->lo_raw). */
LMUL_TARGET_AVX2
static inline __m256i prepared_masked(__m256i v, const lmul_params *p, int rounding,
                                      seen8 *s, __m256i *zero)
{
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i mag = _mm256_andnot_si256(sign, v);
    *zero = _mm256_cmpgt_epi32(_mm256_set1_epi32(LMUL_F32_MIN_NORMAL_BITS), mag);
    const __m256i r = rounding ? round32(mag, p) : mag;
    s->lo_raw = _mm256_min_epu32(s->lo_raw, mag);
    s->lo = _mm256_min_epu32(s->lo, _mm256_or_si256(r, *zero));
    s->hi = _mm256_max_epu32(s->hi, r);
    return rounding ? _mm256_or_si256(_mm256_and_si256(v, sign), r) : v;
}

LMUL_TARGET_AVX2
static inline __m256 product(__m256i x, __m256i w, __m256i addend, const lmul_params *p,
                             int fast, int rounding)
{
    if (fast)
        return _mm256_castsi256_ps(_mm256_add_epi32(x, w));
    return _mm256_castsi256_ps(full_product_avx2(_mm256_sub_epi32(x, addend), w, p, rounding));
}

/* The lanes below `left` of p, 1.0 above. */
LMUL_TARGET_AVX2
static inline __m256i load_padded(const uint32_t *p, __m256i mask)
{
    return _mm256_blendv_epi8(_mm256_set1_epi32(ONE_BITS),
                              _mm256_maskload_epi32((const int *)p, mask), mask);
}

LMUL_TARGET_AVX2
static inline __m256i lanes_below(int64_t left)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left < 8 ? (int)left : 8),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* What f8_seen_cols saw, in the bytes of s.hi. */
LMUL_TARGET_AVX2
static inline void seen8_merge_f8_avx2(seen8 s, const lmul_fp8_format *f, lmul_range *r)
{
    _Alignas(32) uint8_t hi[32];
    _mm256_store_si256((__m256i *)hi, s.hi);
    lmul_fp8_seen_merge(hi, 32, f, r);
}

/* The 32 float8 codes c[q] of each of `rows` rows into the bytes of s->hi
 * (largest 2|code|, lmul_fp8_seen_merge); bit c set where byte c holds a
 * zero (+0 or -0) in one of the rows. The rows are reduced first and merged
 * into *s once: *s lives in memory, and a merge per row made a chain of
 * loads and stores through the whole stream. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) uint32_t f8_seen_codes(
    int rows, const __m256i *c, seen8 *s)
{
    __m256i hi = _mm256_setzero_si256(), least = _mm256_set1_epi8(-1);
    for (int q = 0; q < rows; q++) {
        const __m256i t = _mm256_add_epi8(c[q], c[q]);
        hi = q == 0 ? t : _mm256_max_epu8(hi, t);
        least = q == 0 ? t : _mm256_min_epu8(least, t);
    }
    s->hi = _mm256_max_epu8(s->hi, hi);
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(least, _mm256_setzero_si256()));
}

/* The float8 codes in columns j .. j + 32 (those below n) of `rows` rows,
 * recorded by f8_seen_codes (32 at a time, not 8 in load_w); which of the
 * columns below n hold a zero (the padding's zeros are no weights': counted
 * as a block with zeros, they switched stream's 32-column loop off for the
 * rest of a chunk wherever n is not a multiple of 32). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) uint32_t f8_seen_cols(
    int rows, const char *const *row, int64_t j, int64_t n, seen8 *s)
{
    __m256i c[STEPS];
    for (int q = 0; q < rows; q++) {
        _Alignas(32) uint8_t pad[32];
        const char *e = row[q] + j;
        if (n - j < 32) {
            memset(pad, 0, sizeof pad);                     /* past the end: 0 */
            e = memcpy(pad, e, (size_t)(n - j));
        }
        c[q] = _mm256_loadu_si256((const __m256i *)e);
    }
    const uint32_t real = n - j >= 32 ? UINT32_MAX : (1u << (n - j)) - 1;
    return f8_seen_codes(rows, c, s) & real;
}

/* The float8 widening's constants for lmul_fp8_half: the shift in the low
 * 64 bits, the float16 bits kept in the 16-bit lanes of the upper half. */
LMUL_TARGET_AVX2
static inline __m256i f8_half(const lmul_fp8_format *f)
{
    return _mm256_inserti128_si256(
        _mm256_zextsi128_si256(_mm_cvtsi32_si128(lmul_fp8_half_shift(f))),
        _mm_set1_epi16((short)lmul_fp8_half_keep(f)), 1);
}

/* 8 elements of a row of W at e, the first `left` real, the others 1.0, as
 * 32-bit lanes (float32 bits, bfloat16 bits widened) or float8 codes in
 * the low 8 bytes. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) __m256i load8(
    int kind, const lmul_fp8_format *f, const char *e, int64_t left)
{
    const size_t es = (size_t)lmul_widen_bytes(kind);
    _Alignas(32) uint8_t pad[32];
    if (left < 8) {
        for (int i = 0; i < 8; i++) {
            const uint32_t one = kind == LMUL_WIDEN_F8
                ? (ONE_BITS - f->normal_add) >> f->shift : (uint32_t)ONE_BITS >> (32 - 8 * es);
            memcpy(pad + i * es, &one, es);
        }
        memcpy(pad, e, (size_t)left * es);
        e = (const char *)pad;
    }
    if (kind == LMUL_WIDEN_F8)
        return _mm256_zextsi128_si256(_mm_loadl_epi64((const __m128i *)e));
    if (kind == LMUL_WIDEN_BF16)
        return _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)e)),
                                 16);
    return _mm256_loadu_si256((const __m256i *)e);
}

/* Columns j .. j + 8 (the first `left` real) of a row of W in format `kind`
 * (a constant), ready for the product: rounded and recorded in *s when
 * fast, *nz all ones in its non-zero lanes (with LMUL_FAST_MASKED; else all
 * ones). A float8 element is widened by the float16 conversion
 * (lmul_fp8_half: its float32 bits less the part of normal_add that is in
 * A's addend), *nz its non-zero lanes always (f8_seen_cols records its
 * range). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) __m256i load_w(
    int kind, const lmul_fp8_format *f, __m256i half, const char *row, int64_t j,
    int64_t left, seen8 *s, __m256i *nz, const lmul_params *p, int fast, int rounding)
{
    const size_t es = (size_t)lmul_widen_bytes(kind);
    const __m256i v = load8(kind, f, row + j * (int64_t)es, left);
    if (kind == LMUL_WIDEN_F8) {
        const __m128i h = _mm_and_si128(
            _mm_sll_epi16(_mm_cvtepi8_epi16(_mm256_castsi256_si128(v)),
                          _mm256_castsi256_si128(half)),
            _mm256_extracti128_si256(half, 1));
        const __m256 w = _mm256_cvtph_ps(h);
        *nz = _mm256_castps_si256(_mm256_cmp_ps(w, _mm256_setzero_ps(), _CMP_NEQ_UQ));
        return _mm256_castps_si256(w);
    }
    *nz = _mm256_set1_epi32(-1);
    if (fast != LMUL_FAST_MASKED)
        return fast ? prepared(v, p, rounding, s) : v;
    __m256i zero;
    const __m256i w = prepared_masked(v, p, rounding, s, &zero);
    *nz = _mm256_xor_si256(*nz, zero);
    return w;
}

/* Columns j .. j + 8 (the first `left` of them) of rows `rows` (a constant:
 * STEPS or 1); float8 zeros masked out of the sums when `zeros` (a
 * constant) says the columns may hold one. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream_cols(
    int kind, const lmul_fp8_format *f, __m256i half, int rows, int m,
    const char *const *row, int64_t j, int64_t left, const xrows *x,
    float *acc, int64_t n, seen8 *s, const lmul_gemm_aux *aux, int fast, int rounding,
    int zeros)
{
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    const int whole = left >= 8;
    const __m256i mk = lanes_below(left);
    __m256i v[STEPS], nz[STEPS];
    for (int q = 0; q < rows; q++)
        v[q] = load_w(kind, f, half, row[q], j, left, s, &nz[q], aux->p, fast,
                      rounding);
    for (int i = 0; i < m; i++) {
        float *a = acc + i * n + j;
        __m256 sum = whole ? _mm256_loadu_ps(a) : _mm256_maskload_ps(a, mk);
        for (int q = 0; q < rows; q++) {
            /* a float8 zero's product, +0 or -0, leaves the sum as it is */
            const __m256i sum8 = _mm256_add_epi32(x->v[i][q], v[q]);
            __m256 prod = kind == LMUL_WIDEN_F8
                ? _mm256_castsi256_ps(zeros ? _mm256_and_si256(sum8, nz[q]) : sum8)
                : product(x->v[i][q], v[q], addend, aux->p, fast, rounding);
            if (fast == LMUL_FAST_MASKED)    /* A's zero: +0 */
                prod = _mm256_and_ps(prod, _mm256_castsi256_ps(x->nz[i][q]));
            if (fast == LMUL_FAST_MASKED && kind != LMUL_WIDEN_F8)   /* B's zero: +0 */
                prod = _mm256_and_ps(prod, _mm256_castsi256_ps(nz[q]));
            /* lanes past the end add +0: no flag from what is not W */
            sum = _mm256_add_ps(sum, whole ? prod : _mm256_and_ps(prod, _mm256_castsi256_ps(mk)));
        }
        if (whole)
            _mm256_storeu_ps(a, sum);
        else
            _mm256_maskstore_ps(a, mk, sum);
    }
}

/* stream_cols on whole columns j .. j + 8, masking float8 zeros only where
 * the low 8 bits of zero_bits (the columns' bits of f8_seen_cols' mask) say
 * one is there: on weights cast from normal values, a zero in 1 block of
 * 4 x 8 in 20 where 1 of 4 x 32 in 5 (fewer masks, fewer mispredicted
 * branches). Other formats pass all ones. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream_cols8(
    int kind, const lmul_fp8_format *f, __m256i half, int rows, int m,
    const char *const *row, int64_t j, const xrows *x, float *acc, int64_t n,
    seen8 *s, const lmul_gemm_aux *aux, int fast, int rounding, uint32_t zero_bits)
{
    if (zero_bits & 0xFF)
        stream_cols(kind, f, half, rows, m, row, j, 8, x, acc, n, s, aux, fast, rounding, 1);
    else
        stream_cols(kind, f, half, rows, m, row, j, 8, x, acc, n, s, aux, fast, rounding, 0);
}

/* One row's 32 float8 codes c widened as load_w does, 32 at a time: each
 * code paired with itself in a 16-bit lane (c << 8 | c), shifted right
 * (arithmetic) and masked into lmul_fp8_half's float16, converted; w[g] =
 * columns 8g .. 8g + 8. Two unpacks and two shifts per 32 codes, where
 * load_w's sign extensions take four of each, and no second load. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void f8_widen32(__m256i c, __m128i sra,
                                                              __m256i keep, __m256 w[4])
{
    const __m256i lo = _mm256_and_si256(_mm256_sra_epi16(_mm256_unpacklo_epi8(c, c), sra), keep),
                  hi = _mm256_and_si256(_mm256_sra_epi16(_mm256_unpackhi_epi8(c, c), sra), keep);
    w[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(lo));
    w[1] = _mm256_cvtph_ps(_mm256_castsi256_si128(hi));
    w[2] = _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1));
    w[3] = _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1));
}

/* One row of A (m = 1) times 32 float8 columns without a zero, codes c[q]
 * of rows `rows` (STEPS or 1): the 32 sums in registers across the rows,
 * each row added in order (with `masked`, A's zeros' products +0). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream_f8_1x32(
    int rows, const __m256i *c, const __m256i *x, const __m256i *nz, int masked, float *a,
    __m128i sra, __m256i keep)
{
    __m256 sum[4];
    for (int g = 0; g < 4; g++)
        sum[g] = _mm256_loadu_ps(a + 8 * g);
    for (int q = 0; q < rows; q++) {
        __m256 w[4];
        f8_widen32(c[q], sra, keep, w);
        for (int g = 0; g < 4; g++) {
            __m256i prod = _mm256_add_epi32(x[q], _mm256_castps_si256(w[g]));
            if (masked)
                prod = _mm256_and_si256(prod, nz[q]);
            sum[g] = _mm256_add_ps(sum[g], _mm256_castsi256_ps(prod));
        }
    }
    for (int g = 0; g < 4; g++)
        _mm256_storeu_ps(a + 8 * g, sum[g]);
}

/* Two records of what the stream loop saw, taken in turn by successive
 * blocks of columns (of 8; of 32 in float8's 32-column loop, while its
 * 8-column loop records 32 columns at a time in the first): the compiler
 * keeps them in memory, and one record updated by every block made a chain
 * of stores and loads through the whole stream (bfloat16 weights from L2
 * ran 1.4-1.6x slower with one). */
typedef seen8 seen8_pair[2];

LMUL_TARGET_AVX2
static inline seen8 seen8_pair_merged(const seen8 *s, int kind)
{
    return (seen8){_mm256_min_epu32(s[0].lo_raw, s[1].lo_raw), _mm256_min_epu32(s[0].lo, s[1].lo),
                   kind == LMUL_WIDEN_F8 ? _mm256_max_epu8(s[0].hi, s[1].hi)
                                         : _mm256_max_epu32(s[0].hi, s[1].hi)};
}

/* m = 1, float8: columns 0 .. n of rows `rows` 32 at a time, as far as
 * whole blocks go (returned: where it stopped). Each row's 32 codes are
 * read once, for the record and for the widening (f8_widen32), and the sums
 * stay in registers across the rows: 1.15-1.2x the 8-column loop on
 * weights cast from normal values. A block with a zero (counted in
 * *zero_blocks) goes to the 8-column loop, which masks zeros block by
 * block of 8 (stream calls this only while such blocks are few: their
 * branch mispredicts). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) int64_t stream_f8_blocks32(
    const lmul_fp8_format *f, __m256i half, int rows, const char *const *row, int64_t n,
    int64_t rs_w, const xrows *x, float *acc, seen8_pair s, const lmul_gemm_aux *aux, int fast,
    int64_t *zero_blocks)
{
    const int shift = lmul_fp8_half_shift(f);
    const __m128i sra = _mm_cvtsi32_si128(8 - shift);
    const __m256i keep = _mm256_set1_epi16((short)(lmul_fp8_half_keep(f) & (0xFFFFu << shift)));
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256i c[STEPS];
        for (int q = 0; q < rows; q++)
            c[q] = _mm256_loadu_si256((const __m256i *)(row[q] + j));
        lmul_prefetch_rows_below(rows, row, STEPS * rs_w, j);
        const uint32_t zero_cols = f8_seen_codes(rows, c, &s[(j >> 5) & 1]);
        if (LMUL_LIKELY(zero_cols == 0)) {
            stream_f8_1x32(rows, c, x->v[0], x->nz[0], fast == LMUL_FAST_MASKED, acc + j, sra,
                           keep);
            continue;
        }
        ++*zero_blocks;
        for (int64_t b = j; b < j + 32; b += 8)
            stream_cols8(LMUL_WIDEN_F8, f, half, rows, 1, row, b, x, acc, n, &s[(j >> 5) & 1],
                         aux, fast, 0, zero_cols >> (b - j));
    }
    return j;
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) int64_t stream_rows(
    int kind, const lmul_fp8_format *f, __m256i half, int rows, int m, int64_t p,
    int64_t n, const uint32_t *xa, int64_t ldx, const char *w, int64_t rs_w,
    float *acc, seen8 *s, const lmul_gemm_aux *aux, int fast, int rounding, int by32)
{
    const uint32_t x_add = kind == LMUL_WIDEN_F8 ? lmul_fp8_half_add(f) : 0;
    xrows x;
    const char *row[STEPS];
    for (int q = 0; q < rows; q++) {
        row[q] = w + (p + q) * rs_w;
        for (int i = 0; i < m; i++) {
            const uint32_t e = xa[i * ldx + p + q];
            x.v[i][q] = _mm256_set1_epi32((int)(e + x_add));
            if (fast == LMUL_FAST_MASKED)
                x.nz[i][q] = _mm256_set1_epi32(lmul_prepared_zero(e, aux->a_addend) ? 0 : -1);
        }
    }
    const xrows *xs = &x;
    seen8_pair seen = {*s, seen8_start()};
    int64_t j = 0;
    uint32_t zero_cols = UINT32_MAX;
    int64_t zero_blocks = 0;
    if (kind == LMUL_WIDEN_F8 && m == 1 && by32)
        j = stream_f8_blocks32(f, half, rows, row, n, rs_w, xs, acc, seen, aux, fast,
                               &zero_blocks);
    for (; j + 8 <= n; j += 8) {
        seen8 *sj = &seen[(j >> 3) & 1];
        if (kind == LMUL_WIDEN_F8 && j % 32 == 0) {
            zero_cols = f8_seen_cols(rows, row, j, n, sj);
            zero_blocks += zero_cols != 0;
        }
        lmul_prefetch_rows_below(rows, row, STEPS * rs_w, j * lmul_widen_bytes(kind));
        stream_cols8(kind, f, half, rows, m, row, j, xs, acc, n, sj, aux, fast, rounding,
                     zero_cols >> (j % 32));
    }
    if (kind == LMUL_WIDEN_F8 && j < n && j % 32 == 0)
        f8_seen_cols(rows, row, j, n, seen);
    if (j < n)
        stream_cols(kind, f, half, rows, m, row, j, n - j, xs, acc, n, seen, aux, fast,
                    rounding, 1);
    *s = seen8_pair_merged(seen, kind);
    return zero_blocks;
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream(
    int kind, const lmul_fp8_format *f, int m, int64_t kc, int64_t n,
    const uint32_t *xa, int64_t ldx, const char *w, int64_t rs_w, float *acc,
    lmul_range *range, const lmul_gemm_aux *aux, int fast, int rounding)
{
    const __m256i half = kind == LMUL_WIDEN_F8 ? f8_half(f) : _mm256_setzero_si256();
    seen8 s = seen8_start();
    /* float8, m = 1: 32 columns at a time while fewer than 1 block of 32 in
     * 4 of the last rows held a zero (a choice per group of rows, which the
     * branch predictor follows: 1.2x at 1 block in 10, as fast at 1 in 6;
     * a limit of 1 in 8 gave less at both) */
    int by32 = 1;
    int64_t p = 0;
    for (; p + STEPS <= kc; p += STEPS)
        by32 = 4 * stream_rows(kind, f, half, STEPS, m, p, n, xa, ldx, w, rs_w, acc, &s,
                               aux, fast, rounding, by32) < n / 32;
    for (; p < kc; p++)
        stream_rows(kind, f, half, 1, m, p, n, xa, ldx, w, rs_w, acc, &s, aux, fast,
                    rounding, by32);
    if (fast && kind == LMUL_WIDEN_F8)
        seen8_merge_f8_avx2(s, f, range);
    else if (fast)
        seen8_merge_avx2(seen_as_merged(s, fast, rounding), range);
}

/* The loops for m rows, a constant at each call. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream_m(
    int kind, const lmul_fp8_format *f, int64_t m, int64_t kc, int64_t n,
    const uint32_t *xa, int64_t ldx, const char *w, int64_t rs_w, float *acc,
    lmul_range *range, const lmul_gemm_aux *aux, int fast, int rounding)
{
    switch (m) {
    case 1: stream(kind, f, 1, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast, rounding); break;
    case 2: stream(kind, f, 2, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast, rounding); break;
    case 3: stream(kind, f, 3, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast, rounding); break;
    default: stream(kind, f, 4, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast, rounding);
    }
}

/* Each format's loops: the one-add one (A's zeros masked or not), with or
 * without rounding, and the safe one. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream_kind(
    int kind, const lmul_fp8_format *f, int64_t m, int64_t kc, int64_t n,
    const uint32_t *xa, int64_t ldx, const char *w, int64_t rs_w, float *acc,
    lmul_range *range, const lmul_gemm_aux *aux, int fast)
{
    const int rounding = kind != LMUL_WIDEN_F8 && aux->p->round_shift != 0;
    if (fast == LMUL_FAST_MASKED && rounding)
        stream_m(kind, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, LMUL_FAST_MASKED, 1);
    else if (fast == LMUL_FAST_MASKED)
        stream_m(kind, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, LMUL_FAST_MASKED, 0);
    else if (kind == LMUL_WIDEN_F8)
        stream_m(kind, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 1, 0);
    else if (fast && rounding)
        stream_m(kind, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 1, 1);
    else if (fast)
        stream_m(kind, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 1, 0);
    else
        stream_m(kind, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 0, rounding);
}

LMUL_TARGET_AVX2
void lmul_sgemv_stream_avx2(int64_t m, int64_t kc, int64_t n, const uint32_t *xa,
                            int64_t ldx, const char *w, int64_t rs_w,
                            lmul_widen_kind kind, const lmul_fp8_format *f, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast)
{
    if (kind == LMUL_WIDEN_F8)
        stream_kind(LMUL_WIDEN_F8, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast);
    else if (kind == LMUL_WIDEN_BF16)
        stream_kind(LMUL_WIDEN_BF16, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast);
    else
        stream_kind(LMUL_WIDEN_NONE, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast);
}

/* r[q] = column q of the 8 x 8 block of rows r[0..7]. */
LMUL_TARGET_AVX2
static inline void transpose8_avx2(__m256i r[8])
{
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4g + c]: in each 128-bit half L, rows 4g..4g+3 of column 4L + c */
    for (int g = 0; g < 2; g++) {
        const __m256i *q = t + 4 * g;
        u[4 * g] = _mm256_unpacklo_epi64(q[0], q[2]);
        u[4 * g + 1] = _mm256_unpackhi_epi64(q[0], q[2]);
        u[4 * g + 2] = _mm256_unpacklo_epi64(q[1], q[3]);
        u[4 * g + 3] = _mm256_unpackhi_epi64(q[1], q[3]);
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
    }
}

/* Steps p0 .. p0 + steps (steps a constant where it is 8) of m (a constant)
 * rows of x times the 8 rows of W; with LMUL_FAST_MASKED, the products of
 * x's zeros and of W's zeros and subnormals +0. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void dots_steps(
    int64_t m, int steps, int64_t p0, int64_t kc, const uint32_t *const *row,
    const uint32_t *xa, __m256 *sum, seen8 *s, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    const __m256i mk = lanes_below(steps);
    __m256i v[8], vz[8];
    for (int j = 0; j < 8; j++) {
        v[j] = steps == 8 ? _mm256_loadu_si256((const __m256i *)(row[j] + p0))
                          : load_padded(row[j] + p0, mk);
        if (fast == LMUL_FAST_MASKED)
            v[j] = prepared_masked(v[j], aux->p, rounding, s, &vz[j]);
        else if (fast)
            v[j] = prepared(v[j], aux->p, rounding, s);
    }
    for (int64_t i = 0; i < m; i++) {
        const __m256i x = steps == 8
            ? _mm256_loadu_si256((const __m256i *)(xa + i * kc + p0))
            : _mm256_maskload_epi32((const int *)(xa + i * kc + p0), mk);
        __m256i t[8], zero = _mm256_setzero_si256();
        if (fast == LMUL_FAST_MASKED)
            zero = _mm256_cmpeq_epi32(_mm256_slli_epi32(_mm256_sub_epi32(x, addend), 1), zero);
        for (int j = 0; j < 8; j++) {
            t[j] = _mm256_castps_si256(product(x, v[j], addend, aux->p, fast, rounding));
            if (fast == LMUL_FAST_MASKED)
                t[j] = _mm256_andnot_si256(_mm256_or_si256(zero, vz[j]), t[j]);
        }
        transpose8_avx2(t);
        for (int q = 0; q < steps; q++)
            sum[i] = _mm256_add_ps(sum[i], _mm256_castsi256_ps(t[q]));
    }
}

/* How far ahead in its 8 rows of W the dots loop asks for lines (into
 * L2): 2 KiB. Eight rows read at once, on two cores, outrun the hardware
 * prefetchers (x @ W.T, 1x4096 @ 4096x4096 from DRAM in C: 1.10-1.14x on
 * two threads, 1.12x on one; 4 or 8 KiB ahead 0.93-1.0x of that, 0.5 KiB
 * into L1 0.85-0.99x). */
#define DOTS_AHEAD 512                  /* elements */

/* m (a constant) rows of x times 8 rows of W. The sums stay in registers
 * (a runtime m kept them in memory, and a store and load lengthened every
 * chain of adds). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void dots(
    int64_t m, int64_t kc, int64_t rows, const uint32_t *xa, const char *w,
    int64_t rs_w, float *acc, lmul_range *range, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    const uint32_t *row[8];
    lmul_item_rows(w, rs_w, rows, 8, row);
    seen8 s = seen8_start();
    __m256 sum[LMUL_GEMV_STREAM_ROWS];
    for (int64_t i = 0; i < m; i++)
        sum[i] = _mm256_setzero_ps();
    int64_t p0 = 0;
    for (; p0 + 8 <= kc; p0 += 8) {
        if (p0 % 16 == 0)       /* a cache line of each row, DOTS_AHEAD on */
            for (int j = 0; j < 8; j++)
                lmul_prefetch_l2(row[j] + p0, DOTS_AHEAD * (int64_t)sizeof(uint32_t));
        dots_steps(m, 8, p0, kc, row, xa, sum, &s, aux, fast, rounding);
    }
    if (p0 < kc)
        dots_steps(m, (int)(kc - p0), p0, kc, row, xa, sum, &s, aux, fast, rounding);
    for (int64_t i = 0; i < m; i++)
        _mm256_storeu_ps(acc + i * 8, sum[i]);
    if (fast)
        seen8_merge_avx2(seen_as_merged(s, fast, rounding), range);
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void dots_m(
    int64_t m, int64_t kc, int64_t rows, const uint32_t *xa, const char *w,
    int64_t rs_w, float *acc, lmul_range *range, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    switch (m) {
    case 1: dots(1, kc, rows, xa, w, rs_w, acc, range, aux, fast, rounding); break;
    case 2: dots(2, kc, rows, xa, w, rs_w, acc, range, aux, fast, rounding); break;
    case 3: dots(3, kc, rows, xa, w, rs_w, acc, range, aux, fast, rounding); break;
    default: dots(4, kc, rows, xa, w, rs_w, acc, range, aux, fast, rounding);
    }
}

LMUL_TARGET_AVX2
void lmul_sgemv_dots_avx2_8(int64_t m, int64_t kc, int64_t rows, const uint32_t *xa,
                            const char *w, int64_t rs_w, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast)
{
    const int rounding = aux->p->round_shift != 0;
    if (fast == LMUL_FAST_MASKED && rounding)
        dots_m(m, kc, rows, xa, w, rs_w, acc, range, aux, LMUL_FAST_MASKED, 1);
    else if (fast == LMUL_FAST_MASKED)
        dots_m(m, kc, rows, xa, w, rs_w, acc, range, aux, LMUL_FAST_MASKED, 0);
    else if (fast && rounding)
        dots_m(m, kc, rows, xa, w, rs_w, acc, range, aux, 1, 1);
    else if (fast)
        dots_m(m, kc, rows, xa, w, rs_w, acc, range, aux, 1, 0);
    else
        dots_m(m, kc, rows, xa, w, rs_w, acc, range, aux, 0, rounding);
}

/* ------------------------------------------------ dots in lanes */

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void sdots_steps(
    int steps, int64_t p0, const uint32_t *const *xr, const uint32_t *const *yr,
    __m256 *sum, const lmul_params *p, int rounding)
{
    const __m256i mk = lanes_below(steps);
    __m256i t[8];
    for (int j = 0; j < 8; j++) {
        const __m256i x = steps == 8 ? _mm256_loadu_si256((const __m256i *)(xr[j] + p0))
                                     : _mm256_maskload_epi32((const int *)(xr[j] + p0), mk);
        const __m256i y = steps == 8 ? _mm256_loadu_si256((const __m256i *)(yr[j] + p0))
                                     : _mm256_maskload_epi32((const int *)(yr[j] + p0), mk);
        t[j] = lmul32_full(x, y, p, rounding);   /* lmul32 may raise flags */
    }
    transpose8_avx2(t);
    for (int q = 0; q < steps; q++)
        *sum = _mm256_add_ps(*sum, _mm256_castsi256_ps(t[q]));
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void sdots(
    int64_t kc, int64_t items, const char *x, int64_t rs_x, const char *y, int64_t rs_y,
    float *sums, const lmul_params *p, int rounding)
{
    const uint32_t *xr[8], *yr[8];
    lmul_item_rows(x, rs_x, items, 8, xr);
    lmul_item_rows(y, rs_y, items, 8, yr);
    __m256 sum = _mm256_setzero_ps();
    int64_t p0 = 0;
    for (; p0 + 8 <= kc; p0 += 8)
        sdots_steps(8, p0, xr, yr, &sum, p, rounding);
    if (p0 < kc)
        sdots_steps((int)(kc - p0), p0, xr, yr, &sum, p, rounding);
    _mm256_maskstore_ps(sums, lanes_below(items), sum);
}

LMUL_TARGET_AVX2 __attribute__((flatten))
void lmul_sdots_avx2_8(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                       const char *y, int64_t rs_y, float *sums, const lmul_params *p)
{
    if (p->round_shift)
        sdots(kc, items, x, rs_x, y, rs_y, sums, p, 1);
    else
        sdots(kc, items, x, rs_x, y, rs_y, sums, p, 0);
}

/* v's elements checked against the one-add window (LMUL_WINDOW_BASE16):
 * their top halves less the base ORed into *out. */
LMUL_TARGET_AVX2
static inline void window_seen(__m256i v, __m256i *out)
{
    *out = _mm256_or_si256(*out, _mm256_sub_epi16(v, _mm256_set1_epi16(LMUL_WINDOW_BASE16)));
}

/* v's magnitude seen by the masked one-add sum: the largest in s->hi, the
 * least normal one in s->lo less 2^-126's bits (zeros and subnormals wrap
 * past every normal one there); all ones where v is zero or subnormal. */
LMUL_TARGET_AVX2
static inline __m256i masked_seen(__m256i v, seen8 *s)
{
    const __m256i mag = _mm256_andnot_si256(_mm256_set1_epi32((int)0x80000000u), v);
    const __m256i least_normal = _mm256_set1_epi32(LMUL_F32_MIN_NORMAL_BITS);
    s->lo = _mm256_min_epu32(s->lo, _mm256_sub_epi32(mag, least_normal));
    s->hi = _mm256_max_epu32(s->hi, mag);
    return _mm256_cmpgt_epi32(least_normal, mag);
}

/* What masked_seen saw, and where a zero or subnormal was (*zeros), as a
 * range: its least normal magnitude, its largest, whether it held zeros. */
LMUL_TARGET_AVX2
static inline void masked_seen_merge_avx2(seen8 s, __m256i zeros, lmul_range *r)
{
    _Alignas(32) uint32_t lo[8], hi[8];
    _mm256_store_si256((__m256i *)lo, s.lo);
    _mm256_store_si256((__m256i *)hi, s.hi);
    uint32_t least = UINT32_MAX, most = 0;
    for (int i = 0; i < 8; i++) {
        least = lo[i] < least ? lo[i] : least;
        most = hi[i] > most ? hi[i] : most;
    }
    lmul_masked_range_merge(least, most, !_mm256_testz_si256(zeros, zeros), r);
}

/* Steps p0 .. p0 + steps of the 8 dots by the one-add sum, x and y both
 * checked against the window (in out[0] and out[1]) when `window` (a
 * constant), else seen in *s, the products of a zero or subnormal operand
 * taken as +0 and their lanes marked in out[0] (lanes past `steps` read 1.0
 * and are not summed). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void sdots_fast_steps(
    int steps, int64_t p0, const uint32_t *const *xr, const uint32_t *const *yr,
    __m256 *sum, const lmul_params *p, int window, seen8 *s, __m256i out[2])
{
    const __m256i mk = lanes_below(steps);
    const __m256i add = _mm256_set1_epi32((int)(p->offset - 0x3F800000u));
    __m256i t[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        __m256i x = steps == 8 ? _mm256_loadu_si256((const __m256i *)(xr[j] + p0))
                               : load_padded(xr[j] + p0, mk);
        __m256i y = steps == 8 ? _mm256_loadu_si256((const __m256i *)(yr[j] + p0))
                               : load_padded(yr[j] + p0, mk);
        t[j] = _mm256_add_epi32(_mm256_add_epi32(x, y), add);
        if (window) {
            window_seen(x, &out[0]);
            window_seen(y, &out[1]);
        } else {
            const __m256i zero = _mm256_or_si256(masked_seen(x, s), masked_seen(y, s));
            out[0] = _mm256_or_si256(out[0], zero);
            t[j] = _mm256_andnot_si256(zero, t[j]);
        }
    }
    transpose8_avx2(t);
    for (int q = 0; q < steps; q++)
        *sum = _mm256_add_ps(*sum, _mm256_castsi256_ps(t[q]));
}

/* The 8 dots' sums into sums; with `window`, whether every element was in
 * the window, else their range (x and y together, lmul_masked_range_merge)
 * in *r. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) int sdots_fast(
    int window, int64_t kc, int64_t items, const uint32_t *const *xr,
    const uint32_t *const *yr, float *sums, const lmul_params *p, lmul_range *r)
{
    seen8 s = seen8_start();
    __m256i out[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    __m256 sum = _mm256_setzero_ps();
    int64_t p0 = 0;
    for (; p0 + 8 <= kc; p0 += 8)
        sdots_fast_steps(8, p0, xr, yr, &sum, p, window, &s, out);
    if (p0 < kc)
        sdots_fast_steps((int)(kc - p0), p0, xr, yr, &sum, p, window, &s, out);
    _mm256_maskstore_ps(sums, lanes_below(items), sum);
    if (window)
        return _mm256_testz_si256(_mm256_or_si256(out[0], out[1]),
                                  _mm256_set1_epi32((int)LMUL_WINDOW_OUT32));
    *r = (lmul_range){UINT64_MAX, 0, 0};
    masked_seen_merge_avx2(s, out[0], r);
    return 1;
}

/* One group of 8 dots. Not more groups at once: their chains of adds would
 * overlap, but with 16 registers their sums and transposes spill, and 32
 * rows read at once outrun the hardware prefetcher (two groups: 0.88x). */
LMUL_TARGET_AVX2
int lmul_sdots_fast_avx2_8(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                           const char *y, int64_t rs_y, float *sums, const lmul_params *p,
                           int window, lmul_range *rx, lmul_range *ry)
{
    const uint32_t *xr[8], *yr[8];
    lmul_item_rows(x, rs_x, items, 8, xr);
    lmul_item_rows(y, rs_y, items, 8, yr);
    if (window)
        return sdots_fast(1, kc, items, xr, yr, sums, p, rx);
    sdots_fast(0, kc, items, xr, yr, sums, p, rx);
    *ry = *rx;
    return 1;
}

#endif /* LMUL_X86 */
