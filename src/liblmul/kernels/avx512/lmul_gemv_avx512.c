/*
 * Few-row kernels for AVX-512 (lmul_gemv_ukr_ft): 32 columns as two vectors,
 * up to 8 rows of A at a time, A's element broadcast, B's row a vector.
 * Each accumulator adds its products in step order from +0, as the GEMM
 * microkernels do, so the sums are theirs bit for bit.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "../scalar/lmul_half_scalar.h"
#include "lmul_kernels_avx512.h"
#include "lmul_lanes_avx512.h"

#define NB 32
#define ROWS 8

/* The every-case product, out of line (it is long and only the safe loops
 * take it), with the lane logic inlined into it. */
LMUL_TARGET_AVX512 __attribute__((noinline, flatten))
static __m512i full_product_avx512(__m512i x, __m512i w, const lmul_params *p, int rounding)
{
    return rounding ? lmul32_full(x, w, p, 1) : lmul32_full(x, w, p, 0);
}

LMUL_TARGET_AVX512
static inline __m512 prod(__m512i x, __m512i w, __m512i addend, const lmul_params *p,
                          int full)
{
    if (!full)
        return _mm512_castsi512_ps(_mm512_add_epi32(x, w));
    return _mm512_castsi512_ps(full_product_avx512(_mm512_sub_epi32(x, addend), w, p, 0));
}

/* The lanes of v that hold a normal number (not a zero or subnormal). */
LMUL_TARGET_AVX512
static inline __mmask16 normal_lanes(__m512i v)
{
    const __m512i mag = _mm512_andnot_si512(_mm512_set1_epi32((int)0x80000000u), v);
    return _mm512_cmpge_epu32_mask(mag, _mm512_set1_epi32((int)LMUL_F32_MIN_NORMAL_BITS));
}

/* rows (a constant at each call) rows of A by the 32 columns; `masked` 1:
 * A's zeros add nothing, 2: nor B's zeros and subnormals. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void gemv_rows(
    int rows, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full, int masked)
{
    __m512 a0[ROWS], a1[ROWS];
    for (int r = 0; r < rows; r++)
        a0[r] = a1[r] = _mm512_setzero_ps();
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, w += ldw) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 16);
        const __mmask16 b0 = masked == 2 ? normal_lanes(w0) : 0xFFFF,
                        b1 = masked == 2 ? normal_lanes(w1) : 0xFFFF;
        for (int r = 0; r < rows; r++) {
            const __m512i x = _mm512_set1_epi32((int)xa[r * kc + p]);
            const __mmask16 nz = masked && lmul_prepared_zero(xa[r * kc + p], aux->a_addend)
                ? 0 : 0xFFFF;
            a0[r] = _mm512_mask_add_ps(a0[r], nz & b0, a0[r], prod(x, w0, addend, aux->p, full));
            a1[r] = _mm512_mask_add_ps(a1[r], nz & b1, a1[r], prod(x, w1, addend, aux->p, full));
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(acc + r * NB, a0[r]);
        _mm512_storeu_ps(acc + r * NB + 16, a1[r]);
    }
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void gemv(
    int64_t m, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full, int masked)
{
    for (int64_t i = 0; i < m; i += ROWS) {
        const uint32_t *x = xa + i * kc;
        float *out = acc + i * NB;
        switch (m - i < ROWS ? m - i : ROWS) {
        case 1: gemv_rows(1, kc, x, w, ldw, out, aux, full, masked); break;
        case 2: gemv_rows(2, kc, x, w, ldw, out, aux, full, masked); break;
        case 3: gemv_rows(3, kc, x, w, ldw, out, aux, full, masked); break;
        case 4: gemv_rows(4, kc, x, w, ldw, out, aux, full, masked); break;
        case 5: gemv_rows(5, kc, x, w, ldw, out, aux, full, masked); break;
        case 6: gemv_rows(6, kc, x, w, ldw, out, aux, full, masked); break;
        case 7: gemv_rows(7, kc, x, w, ldw, out, aux, full, masked); break;
        default: gemv_rows(8, kc, x, w, ldw, out, aux, full, masked);
        }
    }
}

LMUL_TARGET_AVX512
void lmul_sgemv_fast_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
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

LMUL_TARGET_AVX512
void lmul_sgemv_safe_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1, 0);
}

/* ------------------------------------------------ streamed, unprepared B */

#define ONE_BITS 0x3F800000     /* a lane past the end reads 1.0: no range */

/* What the fast loops saw of B: raw magnitudes (for subnormals and zeros)
 * and rounded ones (for the range). */
typedef struct seen16 {
    __m512i lo_raw, lo, hi;
} seen16;

LMUL_TARGET_AVX512
static inline seen16 seen16_start(void)
{
    return (seen16){_mm512_set1_epi32(-1), _mm512_set1_epi32(-1), _mm512_setzero_si512()};
}

LMUL_TARGET_AVX512
static inline void seen16_merge_avx512(seen16 s, lmul_range *r)
{
    const uint32_t raw = _mm512_reduce_min_epu32(s.lo_raw);
    const uint32_t lo = _mm512_reduce_min_epu32(s.lo);
    const uint32_t hi = _mm512_reduce_max_epu32(s.hi);
    r->zeros |= raw < 0x00800000u;
    r->min = lo < r->min ? lo : r->min;
    r->max = hi > r->max ? hi : r->max;
}

/* B's bits ready for the one-add product (rounded to k), recorded in *s. */
LMUL_TARGET_AVX512
static inline __m512i prepared(__m512i v, const lmul_params *p, int rounding, seen16 *s)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i mag = _mm512_andnot_si512(sign, v);
    s->lo_raw = _mm512_min_epu32(s->lo_raw, mag);
    if (!rounding) {
        s->hi = _mm512_max_epu32(s->hi, mag);
        return v;
    }
    const __m512i r = round32(mag, p);
    s->lo = _mm512_min_epu32(s->lo, r);
    s->hi = _mm512_max_epu32(s->hi, r);
    return _mm512_ternarylogic_epi32(v, sign, r, 0xEA);   /* v&sign | r */
}

/* B's bits as prepared() gives them, for the masked one-add loop: *nz the
 * lanes of its normal elements (the others' products to be taken as +0),
 * s->lo the least of them, so that seen16_merge_avx512 gives B's normal
 * magnitudes (and its zeros, from s->lo_raw). */
LMUL_TARGET_AVX512
static inline __m512i prepared_masked(__m512i v, const lmul_params *p, int rounding,
                                      seen16 *s, __mmask16 *nz)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i mag = _mm512_andnot_si512(sign, v);
    *nz = normal_lanes(v);
    const __m512i r = rounding ? round32(mag, p) : mag;
    s->lo_raw = _mm512_min_epu32(s->lo_raw, mag);
    s->lo = _mm512_mask_min_epu32(s->lo, *nz, s->lo, r);
    s->hi = _mm512_max_epu32(s->hi, r);
    return rounding ? _mm512_ternarylogic_epi32(v, sign, r, 0xEA) : v;   /* v&sign | r */
}

/* What a loop recorded in s, as seen16_merge_avx512 takes it: the plain
 * one-add loop without rounding records only lo_raw, its least magnitude. */
LMUL_TARGET_AVX512
static inline seen16 seen_as_merged(seen16 s, int fast, int rounding)
{
    return fast == LMUL_FAST_MASKED || rounding ? s : (seen16){s.lo_raw, s.lo_raw, s.hi};
}

LMUL_TARGET_AVX512
static inline __m512 product(__m512i x, __m512i w, __m512i addend, const lmul_params *p,
                             int fast, int rounding)
{
    if (fast)
        return _mm512_castsi512_ps(_mm512_add_epi32(x, w));
    return _mm512_castsi512_ps(full_product_avx512(_mm512_sub_epi32(x, addend), w, p, rounding));
}

/* What f8_seen_cols saw, in the bytes of s.hi. */
LMUL_TARGET_AVX512
static inline void seen16_merge_f8_avx512(seen16 s, const lmul_fp8_format *f, lmul_range *r)
{
    _Alignas(64) uint8_t hi[64];
    _mm512_store_si512(hi, s.hi);
    lmul_fp8_seen_merge(hi, 64, f, r);
}

/* The float8 codes in columns j .. j + 64 (those below n) of `rows` rows,
 * into the bytes of s->hi (largest 2|code|, lmul_fp8_seen_merge): 64 at a
 * time, not 16 in load_w. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void f8_seen_cols(
    int rows, const char *const *row, int64_t j, int64_t n, seen16 *s)
{
    const __mmask64 mk = n - j >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - j)) - 1;
    for (int q = 0; q < rows; q++) {
        const __m512i c = _mm512_maskz_loadu_epi8(mk, row[q] + j);     /* past the end: 0 */
        s->hi = _mm512_max_epu8(s->hi, _mm512_add_epi8(c, c));
    }
}

/* The float8 widening's constants for lmul_fp8_half: the shift in the low
 * 64 bits, the float16 bits kept in the 16-bit lanes of the upper half. */
LMUL_TARGET_AVX512
static inline __m512i f8_half(const lmul_fp8_format *f)
{
    return _mm512_inserti64x4(
        _mm512_zextsi128_si512(_mm_cvtsi32_si128(lmul_fp8_half_shift(f))),
        _mm256_set1_epi16((short)lmul_fp8_half_keep(f)), 1);
}

/* Columns j .. j + 16 (mask mk) of a row of W in format `kind` (a
 * constant), ready for the product: rounded and recorded in *s when fast,
 * *nz its non-zero lanes with LMUL_FAST_MASKED (else all). A float8
 * element is widened by the float16 conversion (lmul_fp8_half: its float32
 * bits less the part of normal_add that is in A's addend), *nz its
 * non-zero lanes always (f8_seen_cols records its range). */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) __m512i load_w(
    int kind, __m512i half, const char *row, int64_t j, __mmask16 mk, seen16 *s,
    __mmask16 *nz, const lmul_params *p, int fast, int rounding)
{
    const __m512i one = _mm512_set1_epi32(ONE_BITS);
    if (kind == LMUL_WIDEN_F8) {
        const __m128i c = _mm_maskz_loadu_epi8(mk, row + j);    /* past the end: 0 */
        *nz = _mm_test_epi8_mask(c, _mm_set1_epi8(0x7F));
        const __m256i h = _mm256_and_si256(
            _mm256_sll_epi16(_mm256_cvtepi8_epi16(c), _mm512_castsi512_si128(half)),
            _mm512_extracti64x4_epi64(half, 1));
        return _mm512_castps_si512(_mm512_cvtph_ps(h));
    }
    __m512i v;
    if (kind == LMUL_WIDEN_BF16) {
        v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(
            _mm256_maskz_loadu_epi16(mk, (const uint16_t *)row + j)), 16);
        v = _mm512_mask_mov_epi32(one, mk, v);
    } else {
        v = _mm512_mask_loadu_epi32(one, mk, (const uint32_t *)row + j);
    }
    *nz = 0xFFFF;
    if (fast == LMUL_FAST_MASKED)
        return prepared_masked(v, p, rounding, s, nz);
    return fast ? prepared(v, p, rounding, s) : v;
}

/* STEPS rows of W at a time, so that each sum is loaded and stored once
 * per STEPS products (added in row order). */
#define STEPS 4

/* Columns j .. j + 16 (mask mk) of rows `rows` (a constant: STEPS or 1);
 * with LMUL_FAST_MASKED, A's zeros (xnz clear) and B's (nz clear) add
 * nothing. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void stream_cols(
    int kind, __m512i half, int rows, int m, const char *const *row, int64_t j,
    __mmask16 mk, const __m512i (*x)[STEPS], const __mmask16 (*xnz)[STEPS], float *acc,
    int64_t n, seen16 *s, const lmul_gemm_aux *aux, int fast, int rounding)
{
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    __m512i v[STEPS];
    __mmask16 nz[STEPS];
    for (int q = 0; q < rows; q++)
        v[q] = load_w(kind, half, row[q], j, mk, s, &nz[q], aux->p, fast, rounding);
    for (int i = 0; i < m; i++) {
        float *a = acc + i * n + j;
        __m512 sum = _mm512_maskz_loadu_ps(mk, a);
        for (int q = 0; q < rows; q++) {
            /* a float8 zero's product, +0 or -0, leaves the sum as it is */
            const __m512 prod = kind == LMUL_WIDEN_F8
                ? _mm512_castsi512_ps(_mm512_maskz_add_epi32(nz[q], x[i][q], v[q]))
                : product(x[i][q], v[q], addend, aux->p, fast, rounding);
            const __mmask16 lanes = fast == LMUL_FAST_MASKED ? mk & xnz[i][q] & nz[q] : mk;
            sum = _mm512_mask_add_ps(sum, lanes, sum, prod);   /* no lane past the end */
        }
        _mm512_mask_storeu_ps(a, mk, sum);
    }
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void stream_rows(
    int kind, const lmul_fp8_format *f, __m512i half, int rows, int m, int64_t p,
    int64_t n, const uint32_t *xa, int64_t ldx, const char *w, int64_t rs_w,
    float *acc, seen16 *s, const lmul_gemm_aux *aux, int fast, int rounding)
{
    const uint32_t x_add = kind == LMUL_WIDEN_F8 ? lmul_fp8_half_add(f) : 0;
    __m512i x[LMUL_GEMV_STREAM_ROWS][STEPS];
    __mmask16 xnz[LMUL_GEMV_STREAM_ROWS][STEPS];
    const char *row[STEPS];
    for (int q = 0; q < rows; q++) {
        row[q] = w + (p + q) * rs_w;
        for (int i = 0; i < m; i++) {
            const uint32_t e = xa[i * ldx + p + q];
            x[i][q] = _mm512_set1_epi32((int)(e + x_add));
            xnz[i][q] = fast == LMUL_FAST_MASKED && lmul_prepared_zero(e, aux->a_addend)
                ? 0 : 0xFFFF;
        }
    }
    const __mmask16 (*xnzs)[STEPS] = (const __mmask16 (*)[STEPS])xnz;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        if (kind == LMUL_WIDEN_F8 && j % 64 == 0)
            f8_seen_cols(rows, row, j, n, s);
        lmul_prefetch_rows_below(rows, row, STEPS * rs_w, j * lmul_widen_bytes(kind));
        stream_cols(kind, half, rows, m, row, j, 0xFFFF,
                    (const __m512i (*)[STEPS])x, xnzs, acc, n, s, aux, fast, rounding);
    }
    if (kind == LMUL_WIDEN_F8 && j < n && j % 64 == 0)
        f8_seen_cols(rows, row, j, n, s);
    if (j < n)
        stream_cols(kind, half, rows, m, row, j,
                    (__mmask16)((1u << (n - j)) - 1), (const __m512i (*)[STEPS])x, xnzs,
                    acc, n, s, aux, fast, rounding);
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void stream(
    int kind, const lmul_fp8_format *f, int m, int64_t kc, int64_t n,
    const uint32_t *xa, int64_t ldx, const char *w, int64_t rs_w, float *acc,
    lmul_range *range, const lmul_gemm_aux *aux, int fast, int rounding)
{
    const __m512i half = kind == LMUL_WIDEN_F8 ? f8_half(f) : _mm512_setzero_si512();
    seen16 s = seen16_start();
    int64_t p = 0;
    for (; p + STEPS <= kc; p += STEPS)
        stream_rows(kind, f, half, STEPS, m, p, n, xa, ldx, w, rs_w, acc, &s, aux,
                    fast, rounding);
    for (; p < kc; p++)
        stream_rows(kind, f, half, 1, m, p, n, xa, ldx, w, rs_w, acc, &s, aux,
                    fast, rounding);
    if (fast && kind == LMUL_WIDEN_F8)
        seen16_merge_f8_avx512(s, f, range);
    else if (fast)
        seen16_merge_avx512(seen_as_merged(s, fast, rounding), range);
}

/* The loops for m rows, a constant at each call. */
LMUL_TARGET_AVX512
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
LMUL_TARGET_AVX512
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

LMUL_TARGET_AVX512
void lmul_sgemv_stream_avx512(int64_t m, int64_t kc, int64_t n, const uint32_t *xa,
                              int64_t ldx, const char *w, int64_t rs_w,
                              lmul_widen_kind kind, const lmul_fp8_format *f,
                              float *acc, lmul_range *range, const lmul_gemm_aux *aux,
                              int fast)
{
    if (kind == LMUL_WIDEN_F8)
        stream_kind(LMUL_WIDEN_F8, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast);
    else if (kind == LMUL_WIDEN_BF16)
        stream_kind(LMUL_WIDEN_BF16, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast);
    else
        stream_kind(LMUL_WIDEN_NONE, f, m, kc, n, xa, ldx, w, rs_w, acc, range, aux, fast);
}

/* r[q] = column q of the 16 x 16 block of rows r[0..15]. */
LMUL_TARGET_AVX512
static inline void transpose16_avx512(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4g + c]: in each 128-bit block L, rows 4g..4g+3 of column 4L + c */
    for (int g = 0; g < 4; g++) {
        const __m512i *q = t + 4 * g;
        u[4 * g] = _mm512_unpacklo_epi64(q[0], q[2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(q[0], q[2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(q[1], q[3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(q[1], q[3]);
    }
    for (int c = 0; c < 4; c++) {
        const __m512i s0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
        const __m512i s1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
        const __m512i s2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        const __m512i s3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
        r[8 + c] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
    }
}

/* ------------------------------------------------ dots in lanes */

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void sdots_steps(
    int steps, int64_t p0, const uint32_t *const *xr, const uint32_t *const *yr,
    __m512 *sum, const lmul_params *p, int rounding, int *zero_run)
{
    const __mmask16 mk = (__mmask16)((1u << steps) - 1);
    __m512i t[16];
    for (int j = 0; j < 16; j++)
        t[j] = lmul32(_mm512_maskz_loadu_epi32(mk, xr[j] + p0),
                      _mm512_maskz_loadu_epi32(mk, yr[j] + p0), p, rounding, zero_run);
    transpose16_avx512(t);
    for (int q = 0; q < steps; q++)
        *sum = _mm512_add_ps(*sum, _mm512_castsi512_ps(t[q]));
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void sdots(
    int64_t kc, int64_t items, const char *x, int64_t rs_x, const char *y, int64_t rs_y,
    float *sums, const lmul_params *p, int rounding)
{
    const uint32_t *xr[16], *yr[16];
    lmul_item_rows(x, rs_x, items, 16, xr);
    lmul_item_rows(y, rs_y, items, 16, yr);
    __m512 sum = _mm512_setzero_ps();
    int zero_run = 0;           /* lmul32's run of zero-tolerant vectors */
    int64_t p0 = 0;
    for (; p0 + 16 <= kc; p0 += 16)
        sdots_steps(16, p0, xr, yr, &sum, p, rounding, &zero_run);
    if (p0 < kc)
        sdots_steps((int)(kc - p0), p0, xr, yr, &sum, p, rounding, &zero_run);
    _mm512_mask_storeu_ps(sums, (__mmask16)((1u << items) - 1), sum);
}

LMUL_TARGET_AVX512
void lmul_sdots_avx512_16(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                          const char *y, int64_t rs_y, float *sums, const lmul_params *p)
{
    if (p->round_shift)
        sdots(kc, items, x, rs_x, y, rs_y, sums, p, 1);
    else
        sdots(kc, items, x, rs_x, y, rs_y, sums, p, 0);
}

/* v's magnitude seen by the masked one-add sum: the largest in s->hi, the
 * least normal one in s->lo less 2^-126's bits (zeros and subnormals wrap
 * past every normal one there); set where v is zero or subnormal. */
LMUL_TARGET_AVX512
static inline __mmask16 masked_seen(__m512i v, seen16 *s)
{
    const __m512i mag = _mm512_andnot_si512(_mm512_set1_epi32((int)0x80000000u), v);
    const __m512i least_normal = _mm512_set1_epi32((int)LMUL_F32_MIN_NORMAL_BITS);
    s->lo = _mm512_min_epu32(s->lo, _mm512_sub_epi32(mag, least_normal));
    s->hi = _mm512_max_epu32(s->hi, mag);
    return _mm512_cmplt_epu32_mask(mag, least_normal);
}

/* What masked_seen saw as a range (lmul_masked_range_merge). */
LMUL_TARGET_AVX512
static inline void masked_seen_merge_avx512(seen16 s, int zeros, lmul_range *r)
{
    lmul_masked_range_merge(_mm512_reduce_min_epu32(s.lo), _mm512_reduce_max_epu32(s.hi),
                            zeros, r);
}

/* Steps p0 .. p0 + steps of 16 dots by the one-add sum, x and y checked
 * against the one-add window (their top halves less its base ORed into
 * *out) when `window` (a constant), else seen in *sx and *sy, the products
 * of a zero or subnormal operand taken as +0 and their lanes set in
 * zeros[0] (x) and zeros[1] (y). */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void sdots_fast_steps(
    int steps, int64_t p0, const uint32_t *const *xr, const uint32_t *const *yr,
    __m512 *sum, const lmul_params *p, int window, seen16 *sx, seen16 *sy, __m512i *out,
    __mmask16 zeros[2])
{
    const __mmask16 mk = (__mmask16)((1u << steps) - 1);
    const __m512i one = _mm512_set1_epi32(ONE_BITS);
    const __m512i add = _mm512_set1_epi32((int)(p->offset - 0x3F800000u));
    const __m512i base = _mm512_set1_epi16(LMUL_WINDOW_BASE16);
    __m512i t[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        __m512i x = _mm512_mask_loadu_epi32(one, mk, xr[j] + p0);
        __m512i y = _mm512_mask_loadu_epi32(one, mk, yr[j] + p0);
        if (window) {
            *out = _mm512_ternarylogic_epi32(*out, _mm512_sub_epi16(x, base),
                                             _mm512_sub_epi16(y, base), 0xFE);
            t[j] = _mm512_add_epi32(_mm512_add_epi32(x, y), add);
        } else {
            const __mmask16 zx = masked_seen(x, sx), zy = masked_seen(y, sy);
            zeros[0] |= zx;
            zeros[1] |= zy;
            t[j] = _mm512_maskz_add_epi32((__mmask16)~(zx | zy), _mm512_add_epi32(x, y), add);
        }
    }
    transpose16_avx512(t);
    for (int q = 0; q < steps; q++)
        *sum = _mm512_add_ps(*sum, _mm512_castsi512_ps(t[q]));
}

/* `groups` (a constant) groups of 16 dots, their steps interleaved: each
 * group's sums are one chain of dependent adds, which alone would wait on
 * the add's latency. With `window`, whether every element was in the
 * one-add window, else their ranges in *rx and *ry (the products of a zero
 * or subnormal operand taken as +0). */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) int sdots_fast_groups(
    int window, int groups, int64_t kc, const uint32_t *const *xr,
    const uint32_t *const *yr, __m512 *sum, const lmul_params *p, lmul_range *rx,
    lmul_range *ry)
{
    seen16 sx = seen16_start(), sy = seen16_start();
    __m512i out = _mm512_setzero_si512();
    __mmask16 zeros[2] = {0, 0};
    int64_t p0 = 0;
    for (int g = 0; g < groups; g++)
        sum[g] = _mm512_setzero_ps();
    for (; p0 + 16 <= kc; p0 += 16)
        for (int g = 0; g < groups; g++)
            sdots_fast_steps(16, p0, xr + 16 * g, yr + 16 * g, &sum[g], p, window, &sx, &sy,
                             &out, zeros);
    if (p0 < kc)
        for (int g = 0; g < groups; g++)
            sdots_fast_steps((int)(kc - p0), p0, xr + 16 * g, yr + 16 * g, &sum[g], p,
                             window, &sx, &sy, &out, zeros);
    if (window)
        return _mm512_test_epi32_mask(out, _mm512_set1_epi32((int)LMUL_WINDOW_OUT32)) == 0;
    *rx = *ry = (lmul_range){UINT64_MAX, 0, 0};
    masked_seen_merge_avx512(sx, zeros[0] != 0, rx);
    masked_seen_merge_avx512(sy, zeros[1] != 0, ry);
    return 1;
}

/* sdots_fast_groups with `window` and the number of groups known at run
 * time: each case its own loop. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) int sdots_fast_cases(
    int window, int64_t items, int64_t kc, const uint32_t *const *xr,
    const uint32_t *const *yr, __m512 *sum, const lmul_params *p, lmul_range *rx,
    lmul_range *ry)
{
    if (items > 16)
        return window ? sdots_fast_groups(1, 2, kc, xr, yr, sum, p, rx, ry)
                      : sdots_fast_groups(0, 2, kc, xr, yr, sum, p, rx, ry);
    return window ? sdots_fast_groups(1, 1, kc, xr, yr, sum, p, rx, ry)
                  : sdots_fast_groups(0, 1, kc, xr, yr, sum, p, rx, ry);
}

/* x and y each checked against the window in one subtraction, the two
 * ORed in one operation, where the exact ranges take three each. */
LMUL_TARGET_AVX512
int lmul_sdots_fast_avx512_32(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                              const char *y, int64_t rs_y, float *sums,
                              const lmul_params *p, int window, lmul_range *rx,
                              lmul_range *ry)
{
    const uint32_t *xr[32], *yr[32];
    lmul_item_rows(x, rs_x, items, 32, xr);
    lmul_item_rows(y, rs_y, items, 32, yr);
    __m512 sum[2];
    const int held = sdots_fast_cases(window, items, kc, xr, yr, sum, p, rx, ry);
    _mm512_mask_storeu_ps(sums, (__mmask16)((1u << (items < 16 ? items : 16)) - 1), sum[0]);
    if (items > 16)
        _mm512_mask_storeu_ps(sums + 16, (__mmask16)((1u << (items - 16)) - 1), sum[1]);
    return held;
}

#endif /* LMUL_X86 */
