/*
 * Tiny float32 products of a batch for AVX2 (lmul_sgemm_small_ft): per
 * item, A and B prepared into stack buffers with their raw magnitude
 * ranges in vectors, the range checked, then each column of C as one to
 * four vectors of 8 (an 8 x 8 product: one ymm per column), 8 / nv columns
 * of accumulators at once, each product the vpaddd of the prepared bits.
 */
#include <immintrin.h>

#include "lmul_kernels_avx2.h"

#if LMUL_X86

#define LANES 8
#define COLS 8              /* accumulators of a block of columns */

typedef struct prep_consts {
    __m256i sign, round_add, keep, round_mask, addend;
    __m128i shift;
} prep_consts;

typedef struct raw_range {
    __m256i lo, hi;         /* magnitudes before DAZ and rounding */
} raw_range;

LMUL_TARGET_AVX2
static inline __m256i lanes_below(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* min(left, 8) elements at x, prepared (rounded, plus the addend; only
 * one-add items are kept, so DAZ, infinity and NaN need no care here),
 * stored as a whole vector at out. Lanes past `left` repeat x[0]: their
 * products, computed and dropped, raise no flag the item's own do not. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void prep_vector(
    const int32_t *x, int32_t *out, int64_t left, const prep_consts *k, raw_range *r)
{
    __m256i v;
    if (left >= LANES) {
        v = _mm256_loadu_si256((const __m256i *)x);
    } else {
        const __m256i m = lanes_below(left);
        v = _mm256_blendv_epi8(_mm256_set1_epi32(x[0]), _mm256_maskload_epi32(x, m), m);
    }
    const __m256i mag = _mm256_andnot_si256(k->sign, v);
    r->lo = _mm256_min_epu32(r->lo, mag);
    r->hi = _mm256_max_epu32(r->hi, mag);
    const __m256i lowest_kept = _mm256_and_si256(_mm256_srl_epi32(v, k->shift), k->keep);
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(v, k->round_add), lowest_kept);
    _mm256_storeu_si256((__m256i *)out,
                        _mm256_add_epi32(_mm256_and_si256(sum, k->round_mask), k->addend));
}

/* rows of len contiguous elements, src_stride bytes apart, into rows of
 * dst_stride elements (whole vectors: dst has LANES elements to spare). */
LMUL_TARGET_AVX2
static inline void prep_rows(int64_t rows, int64_t len, const char *src,
                             int64_t src_stride, int32_t *dst, int64_t dst_stride,
                             const prep_consts *k, raw_range *r)
{
    if (src_stride == len * (int64_t)sizeof(float) && dst_stride == len) {
        len *= rows;
        rows = 1;
    }
    for (int64_t row = 0; row < rows; row++) {
        const int32_t *x = (const int32_t *)(src + row * src_stride);
        int32_t *out = dst + row * dst_stride;
        for (int64_t i = 0; i < len; i += LANES)
            prep_vector(x + i, out + i, len - i, k, r);
    }
}

/* The smallest (or largest) of the 8 unsigned lanes. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) uint32_t reduce(__m256i v, int largest)
{
    __m128i x = _mm256_castsi256_si128(v), y = _mm256_extracti128_si256(v, 1);
    for (int shuffle = 0; shuffle < 3; shuffle++) {
        x = largest ? _mm_max_epu32(x, y) : _mm_min_epu32(x, y);
        y = shuffle == 0 ? _mm_shuffle_epi32(x, 0x4E) : _mm_shuffle_epi32(x, 0xB1);
    }
    return (uint32_t)_mm_cvtsi128_si32(x);
}

/* Columns j0 .. j0 + cols - 1 of C: nv vectors of A's prepared column per
 * step (pa, nv * LANES apart), B's value b(p, j) at pb[p * bp + j * bj];
 * then (alpha * sum) + (beta * C), the last vector's lanes below `tail`
 * when `partial` (vmaskmovps stores are slow on some CPUs: only then). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void small_columns(
    const lmul_small_batch *sb, const int32_t *pa, const int32_t *pb, int64_t bp,
    int64_t bj, char *c, int64_t j0, int cols, int nv, int partial, __m256i tail)
{
    __m256 acc[COLS][4];
    for (int j = 0; j < cols; j++)
        for (int v = 0; v < nv; v++)
            acc[j][v] = _mm256_setzero_ps();
    const int32_t *b = pb + j0 * bj;
    for (int64_t p = 0; p < sb->k; p++, pa += nv * LANES, b += bp) {
        __m256i a[4];
        for (int v = 0; v < nv; v++)
            a[v] = _mm256_loadu_si256((const __m256i *)(pa + v * LANES));
        for (int j = 0; j < cols; j++) {
            const __m256i bv = _mm256_set1_epi32(b[j * bj]);
            for (int v = 0; v < nv; v++)
                acc[j][v] = _mm256_add_ps(acc[j][v],
                                          _mm256_castsi256_ps(_mm256_add_epi32(a[v], bv)));
        }
    }
    const __m256 alpha = _mm256_set1_ps(sb->alpha), beta = _mm256_set1_ps(sb->beta);
    for (int j = 0; j < cols; j++) {
        float *cj = (float *)(c + (j0 + j) * sb->cs_c);
        for (int v = 0; v < nv; v++) {
            const int last = partial && v == nv - 1;
            __m256 r = _mm256_mul_ps(alpha, acc[j][v]);
            if (sb->beta != 0.0f) {
                const __m256 old = last ? _mm256_maskload_ps(cj + v * LANES, tail)
                                        : _mm256_loadu_ps(cj + v * LANES);
                r = _mm256_add_ps(r, _mm256_mul_ps(beta, old));
            }
            if (last)
                _mm256_maskstore_ps(cj + v * LANES, tail, r);
            else
                _mm256_storeu_ps(cj + v * LANES, r);
        }
    }
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) int64_t small_items(
    const lmul_small_batch *sb, int64_t lo, int64_t hi, int nv, int partial)
{
    enum { PAD = LANES };
    int32_t pa[LMUL_SMALL_MAX_K * LMUL_SMALL_MAX + PAD];
    int32_t pb[LMUL_SMALL_MAX_K * LMUL_SMALL_MAX + PAD];
    const int64_t m = sb->m, n = sb->n, k = sb->k, width = nv * LANES;
    const int cols = COLS / nv;
    const prep_consts pc = {
        _mm256_set1_epi32((int)0x80000000u), _mm256_set1_epi32((int)sb->p.round_add),
        _mm256_set1_epi32(sb->p.round_shift ? 1 : 0),
        _mm256_set1_epi32((int)sb->p.round_mask), _mm256_setzero_si256(),
        _mm_cvtsi32_si128(sb->p.round_shift)};
    prep_consts pc_a = pc;
    pc_a.addend = _mm256_set1_epi32((int)sb->a_addend);
    const __m256i tail = lanes_below(m - (nv - 1) * LANES);
    const int b_columns = sb->rs_b == (int64_t)sizeof(float);
    const int64_t bp = b_columns ? 1 : n, bj = b_columns ? k : 1;
    for (int64_t i = lo; i < hi; i++) {
        const raw_range none = {_mm256_set1_epi32(-1), _mm256_setzero_si256()};
        raw_range ra = none, rb = none;
        prep_rows(k, m, sb->a + i * sb->bs_a, sb->cs_a, pa, width, &pc_a, &ra);
        if (b_columns)
            prep_rows(n, k, sb->b + i * sb->bs_b, sb->cs_b, pb, k, &pc, &rb);
        else
            prep_rows(k, n, sb->b + i * sb->bs_b, sb->rs_b, pb, n, &pc, &rb);
        if (!lmul_small_one_add(sb, reduce(ra.lo, 0), reduce(ra.hi, 1), reduce(rb.lo, 0),
                                reduce(rb.hi, 1)))
            return i;
        char *c = sb->c + i * sb->bs_c;
        int64_t j = 0;
        for (; j + cols <= n; j += cols)
            small_columns(sb, pa, pb, bp, bj, c, j, cols, nv, partial, tail);
        for (; j < n; j++)
            small_columns(sb, pa, pb, bp, bj, c, j, 1, nv, partial, tail);
    }
    return hi;
}

LMUL_TARGET_AVX2
int64_t lmul_sgemm_small_avx2(const lmul_small_batch *sb, int64_t lo, int64_t hi)
{
    const int partial = sb->m % LANES != 0;
    switch ((sb->m + LANES - 1) / LANES) {   /* constants for each */
    case 1: return partial ? small_items(sb, lo, hi, 1, 1) : small_items(sb, lo, hi, 1, 0);
    case 2: return partial ? small_items(sb, lo, hi, 2, 1) : small_items(sb, lo, hi, 2, 0);
    case 3: return partial ? small_items(sb, lo, hi, 3, 1) : small_items(sb, lo, hi, 3, 0);
    default: return partial ? small_items(sb, lo, hi, 4, 1) : small_items(sb, lo, hi, 4, 0);
    }
}

#endif /* LMUL_X86 */
