/*
 * Tiny float32 products of a batch for AVX-512 (lmul_sgemm_small_ft): per
 * item, A and B prepared into stack buffers with their raw magnitude
 * ranges in vectors, the range checked, then C: with m at most 8, two
 * columns per zmm (A's column in both halves, B's two values broadcast one
 * per half: an 8 x 8 product is four zmm); else each column as one or two
 * masked zmm. Each product is the vpaddd of the prepared bits.
 */
#include <immintrin.h>

#include "lmul_kernels_avx512.h"

#if LMUL_X86

#define LANES 16
#define HALF 8
#define COLS 8              /* accumulators of a block of columns */

typedef struct prep_consts {
    __m512i sign, round_add, keep, round_mask, addend;
    __m128i shift;
} prep_consts;

typedef struct raw_range {
    __m512i lo, hi;         /* magnitudes before DAZ and rounding */
} raw_range;

static inline __mmask16 lanes_below(int64_t n)
{
    return n >= LANES ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* min(left, 16) elements at x, prepared (rounded, plus the addend; only
 * one-add items are kept, so DAZ, infinity and NaN need no care here),
 * stored as a whole vector at out. Lanes past `left` repeat x[0]: their
 * products, computed and dropped, raise no flag the item's own do not. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void prep_vector(
    const uint32_t *x, uint32_t *out, int64_t left, const prep_consts *k, raw_range *r)
{
    const __mmask16 m = lanes_below(left);
    const __m512i v = m == 0xFFFF ? _mm512_loadu_si512(x)
                                  : _mm512_mask_loadu_epi32(_mm512_set1_epi32((int)x[0]), m, x);
    const __m512i mag = _mm512_andnot_si512(k->sign, v);
    r->lo = _mm512_min_epu32(r->lo, mag);
    r->hi = _mm512_max_epu32(r->hi, mag);
    const __m512i lowest_kept = _mm512_and_si512(_mm512_srl_epi32(v, k->shift), k->keep);
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(v, k->round_add), lowest_kept);
    _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_and_si512(sum, k->round_mask),
                                              k->addend));
}

/* rows of len contiguous elements, src_stride bytes apart, into rows of
 * dst_stride elements (whole vectors: dst has LANES elements to spare). */
LMUL_TARGET_AVX512
static inline void prep_rows(int64_t rows, int64_t len, const char *src,
                             int64_t src_stride, uint32_t *dst, int64_t dst_stride,
                             const prep_consts *k, raw_range *r)
{
    if (src_stride == len * (int64_t)sizeof(float) && dst_stride == len) {
        len *= rows;
        rows = 1;
    }
    for (int64_t row = 0; row < rows; row++) {
        const uint32_t *x = (const uint32_t *)(src + row * src_stride);
        uint32_t *out = dst + row * dst_stride;
        for (int64_t i = 0; i < len; i += LANES)
            prep_vector(x + i, out + i, len - i, k, r);
    }
}

/* (alpha * acc) + (beta * C) into C's lanes under `tail`. */
LMUL_TARGET_AVX512
static inline __m512 merged(const lmul_small_batch *sb, __m512 acc, __m512 old)
{
    const __m512 r = _mm512_mul_ps(_mm512_set1_ps(sb->alpha), acc);
    if (sb->beta == 0.0f)
        return r;
    return _mm512_add_ps(r, _mm512_mul_ps(_mm512_set1_ps(sb->beta), old));
}

/* m <= 8: columns j0 .. j0 + 2 * pairs - 1 of C (the last pair's second
 * column repeats its first when `odd`), two per zmm; A's prepared column
 * of the step at pa (8 apart), B's value b(p, j) at pb[p * bp + j * bj]. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void small_pairs(
    const lmul_small_batch *sb, const uint32_t *pa, const int32_t *pb, int64_t bp,
    int64_t bj, char *c, int64_t j0, int pairs, int odd, __mmask8 tail)
{
    __m512 acc[COLS];
    for (int q = 0; q < pairs; q++)
        acc[q] = _mm512_setzero_ps();
    const int32_t *b = pb + j0 * bj;
    for (int64_t p = 0; p < sb->k; p++, pa += HALF, b += bp) {
        const __m512i a = _mm512_broadcast_i32x8(_mm256_loadu_si256((const __m256i *)pa));
        for (int q = 0; q < pairs; q++) {
            const int64_t second = odd && q == pairs - 1 ? 2 * q : 2 * q + 1;
            const __m512i bv = _mm512_mask_set1_epi32(_mm512_set1_epi32(b[2 * q * bj]),
                                                      0xFF00, b[second * bj]);
            acc[q] = _mm512_add_ps(acc[q], _mm512_castsi512_ps(_mm512_add_epi32(a, bv)));
        }
    }
    for (int q = 0; q < pairs; q++) {
        const int single = odd && q == pairs - 1;
        float *c0 = (float *)(c + (j0 + 2 * q) * sb->cs_c);
        float *c1 = (float *)(c + (j0 + 2 * q + !single) * sb->cs_c);
        __m512 old = _mm512_setzero_ps();
        if (sb->beta != 0.0f)
            old = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_maskz_loadu_ps(tail, c0)),
                                     _mm256_maskz_loadu_ps(tail, c1), 1);
        const __m512 r = merged(sb, acc[q], old);
        _mm256_mask_storeu_ps(c0, tail, _mm512_castps512_ps256(r));
        if (!single)
            _mm256_mask_storeu_ps(c1, tail, _mm512_extractf32x8_ps(r, 1));
    }
}

/* m > 8: columns j0 .. j0 + cols - 1, each nv zmm (A's prepared column at
 * pa, nv * LANES apart), the last one's lanes under `tail`. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void small_columns(
    const lmul_small_batch *sb, const uint32_t *pa, const int32_t *pb, int64_t bp,
    int64_t bj, char *c, int64_t j0, int cols, int nv, __mmask16 tail)
{
    __m512 acc[COLS][2];
    for (int j = 0; j < cols; j++)
        for (int v = 0; v < nv; v++)
            acc[j][v] = _mm512_setzero_ps();
    const int32_t *b = pb + j0 * bj;
    for (int64_t p = 0; p < sb->k; p++, pa += nv * LANES, b += bp) {
        __m512i a[2];
        for (int v = 0; v < nv; v++)
            a[v] = _mm512_loadu_si512(pa + v * LANES);
        for (int j = 0; j < cols; j++) {
            const __m512i bv = _mm512_set1_epi32(b[j * bj]);
            for (int v = 0; v < nv; v++)
                acc[j][v] = _mm512_add_ps(acc[j][v],
                                          _mm512_castsi512_ps(_mm512_add_epi32(a[v], bv)));
        }
    }
    for (int j = 0; j < cols; j++) {
        float *cj = (float *)(c + (j0 + j) * sb->cs_c);
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? tail : (__mmask16)0xFFFF;
            __m512 old = _mm512_setzero_ps();
            if (sb->beta != 0.0f)
                old = _mm512_maskz_loadu_ps(m, cj + v * LANES);
            _mm512_mask_storeu_ps(cj + v * LANES, m, merged(sb, acc[j][v], old));
        }
    }
}

/* C of one item from its prepared panels; nv 0: m <= 8, in pairs. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void small_item(
    const lmul_small_batch *sb, const uint32_t *pa, const int32_t *pb, int64_t bp,
    int64_t bj, char *c, int nv)
{
    const int64_t n = sb->n;
    int64_t j = 0;
    if (nv == 0) {
        const __mmask8 tail = (__mmask8)lanes_below(sb->m);
        for (; j + 2 * COLS / 2 <= n; j += 2 * COLS / 2)
            small_pairs(sb, pa, pb, bp, bj, c, j, COLS / 2, 0, tail);
        for (; j + 2 <= n; j += 2)
            small_pairs(sb, pa, pb, bp, bj, c, j, 1, 0, tail);
        if (j < n)
            small_pairs(sb, pa, pb, bp, bj, c, j, 1, 1, tail);
        return;
    }
    const __mmask16 tail = lanes_below(sb->m - (nv - 1) * LANES);
    const int cols = COLS / nv;
    for (; j + cols <= n; j += cols)
        small_columns(sb, pa, pb, bp, bj, c, j, cols, nv, tail);
    for (; j < n; j++)
        small_columns(sb, pa, pb, bp, bj, c, j, 1, nv, tail);
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) int64_t small_items(
    const lmul_small_batch *sb, int64_t lo, int64_t hi, int nv)
{
    enum { PAD = LANES };
    uint32_t pa[LMUL_SMALL_MAX_K * LMUL_SMALL_MAX + PAD];
    uint32_t pb[LMUL_SMALL_MAX_K * LMUL_SMALL_MAX + PAD];
    const int64_t m = sb->m, n = sb->n, k = sb->k, width = nv ? nv * LANES : HALF;
    const prep_consts pc = {
        _mm512_set1_epi32((int)0x80000000u), _mm512_set1_epi32((int)sb->p.round_add),
        _mm512_set1_epi32(sb->p.round_shift ? 1 : 0),
        _mm512_set1_epi32((int)sb->p.round_mask), _mm512_setzero_si512(),
        _mm_cvtsi32_si128(sb->p.round_shift)};
    prep_consts pc_a = pc;
    pc_a.addend = _mm512_set1_epi32((int)sb->a_addend);
    const int b_columns = sb->rs_b == (int64_t)sizeof(float);
    const int64_t bp = b_columns ? 1 : n, bj = b_columns ? k : 1;
    for (int64_t i = lo; i < hi; i++) {
        const raw_range none = {_mm512_set1_epi32(-1), _mm512_setzero_si512()};
        raw_range ra = none, rb = none;
        prep_rows(k, m, sb->a + i * sb->bs_a, sb->cs_a, pa, width, &pc_a, &ra);
        if (b_columns)
            prep_rows(n, k, sb->b + i * sb->bs_b, sb->cs_b, pb, k, &pc, &rb);
        else
            prep_rows(k, n, sb->b + i * sb->bs_b, sb->rs_b, pb, n, &pc, &rb);
        if (!lmul_small_one_add(sb, _mm512_reduce_min_epu32(ra.lo),
                                _mm512_reduce_max_epu32(ra.hi),
                                _mm512_reduce_min_epu32(rb.lo),
                                _mm512_reduce_max_epu32(rb.hi)))
            return i;
        small_item(sb, pa, (const int32_t *)pb, bp, bj, sb->c + i * sb->bs_c, nv);
    }
    return hi;
}

LMUL_TARGET_AVX512
int64_t lmul_sgemm_small_avx512(const lmul_small_batch *sb, int64_t lo, int64_t hi)
{
    if (sb->m <= HALF)
        return small_items(sb, lo, hi, 0);
    return sb->m <= LANES ? small_items(sb, lo, hi, 1) : small_items(sb, lo, hi, 2);
}

#endif /* LMUL_X86 */
