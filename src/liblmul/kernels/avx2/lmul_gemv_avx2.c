/*
 * Few-row kernels for AVX2 (lmul_gemv_ukr_ft): 16 columns as two vectors,
 * up to 4 rows of A at a time, A's element broadcast, B's row a vector.
 * Each accumulator adds its products in step order from +0, as the GEMM
 * microkernels do, so the sums are theirs bit for bit.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx2.h"
#include "lmul_lanes_avx2.h"

#define NB 16
#define ROWS 4

LMUL_TARGET_AVX2
static inline __m256 prod(__m256i x, __m256i w, __m256i addend, const lmul_params *p,
                          int full)
{
    if (!full)
        return _mm256_castsi256_ps(_mm256_add_epi32(x, w));
    return _mm256_castsi256_ps(lmul32_full(_mm256_sub_epi32(x, addend), w, p, 0));
}

/* rows (a constant at each call) rows of A by the 16 columns. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void gemv_rows(
    int rows, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full)
{
    __m256 a0[ROWS], a1[ROWS];
    for (int r = 0; r < rows; r++)
        a0[r] = a1[r] = _mm256_setzero_ps();
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, w += ldw) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w),
                      w1 = _mm256_loadu_si256((const __m256i *)(w + 8));
        for (int r = 0; r < rows; r++) {
            const __m256i x = _mm256_set1_epi32((int)xa[r * kc + p]);
            a0[r] = _mm256_add_ps(a0[r], prod(x, w0, addend, aux->p, full));
            a1[r] = _mm256_add_ps(a1[r], prod(x, w1, addend, aux->p, full));
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
    float *acc, const lmul_gemm_aux *aux, int full)
{
    for (int64_t i = 0; i < m; i += ROWS) {
        const uint32_t *x = xa + i * kc;
        float *out = acc + i * NB;
        switch (m - i < ROWS ? m - i : ROWS) {
        case 1: gemv_rows(1, kc, x, w, ldw, out, aux, full); break;
        case 2: gemv_rows(2, kc, x, w, ldw, out, aux, full); break;
        case 3: gemv_rows(3, kc, x, w, ldw, out, aux, full); break;
        default: gemv_rows(4, kc, x, w, ldw, out, aux, full);
        }
    }
}

LMUL_TARGET_AVX2
void lmul_sgemv_fast_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 0);
}

LMUL_TARGET_AVX2
void lmul_sgemv_safe_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1);
}

/* ------------------------------------------------ streamed, unprepared B */

#define ONE_BITS 0x3F800000     /* a lane past the end reads 1.0: no range */

typedef struct seen8 {
    __m256i lo_raw, lo, hi;
} seen8;

LMUL_TARGET_AVX2
static inline seen8 seen8_start(void)
{
    return (seen8){_mm256_set1_epi32(-1), _mm256_set1_epi32(-1), _mm256_setzero_si256()};
}

LMUL_TARGET_AVX2
static inline void seen8_merge(seen8 s, lmul_range *r)
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

LMUL_TARGET_AVX2
static inline __m256 product(__m256i x, __m256i w, __m256i addend, const lmul_params *p,
                             int fast, int rounding)
{
    if (fast)
        return _mm256_castsi256_ps(_mm256_add_epi32(x, w));
    return _mm256_castsi256_ps(lmul32_full(_mm256_sub_epi32(x, addend), w, p, rounding));
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

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void stream(
    int64_t m, int64_t kc, int64_t n, const uint32_t *xa, int64_t ldx, const char *w,
    int64_t rs_w, float *acc, lmul_range *range, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    seen8 s = seen8_start();
    for (int64_t p = 0; p < kc; p++) {
        const uint32_t *row = (const uint32_t *)(w + p * rs_w);
        for (int64_t j = 0; j < n; j += 8) {
            const int whole = n - j >= 8;
            const __m256i mk = lanes_below(n - j);
            __m256i v = whole ? _mm256_loadu_si256((const __m256i *)(row + j))
                              : load_padded(row + j, mk);
            if (fast)
                v = prepared(v, aux->p, rounding, &s);
            for (int64_t i = 0; i < m; i++) {
                const __m256i x = _mm256_set1_epi32((int)xa[i * ldx + p]);
                float *a = acc + i * n + j;
                const __m256 old = whole ? _mm256_loadu_ps(a) : _mm256_maskload_ps(a, mk);
                const __m256 sum = _mm256_add_ps(old, product(x, v, addend, aux->p,
                                                              fast, rounding));
                if (whole)
                    _mm256_storeu_ps(a, sum);
                else
                    _mm256_maskstore_ps(a, mk, sum);
            }
        }
    }
    if (fast)
        seen8_merge(rounding ? s : (seen8){s.lo_raw, s.lo_raw, s.hi}, range);
}

LMUL_TARGET_AVX2
void lmul_sgemv_stream_avx2(int64_t m, int64_t kc, int64_t n, const uint32_t *xa, int64_t ldx,
                            const char *w, int64_t rs_w, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast)
{
    const int rounding = aux->p->round_shift != 0;
    if (fast && rounding)
        stream(m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 1, 1);
    else if (fast)
        stream(m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 1, 0);
    else
        stream(m, kc, n, xa, ldx, w, rs_w, acc, range, aux, 0, rounding);
}

/* r[q] = column q of the 8 x 8 block of rows r[0..7]. */
LMUL_TARGET_AVX2
static inline void transpose8(__m256i r[8])
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

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void dots(
    int64_t m, int64_t kc, int64_t rows, const uint32_t *xa, const char *w,
    int64_t rs_w, float *acc, lmul_range *range, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    const uint32_t *row[8];
    for (int j = 0; j < 8; j++)
        row[j] = (const uint32_t *)(w + (j < rows ? j : rows - 1) * rs_w);
    seen8 s = seen8_start();
    __m256 sum[LMUL_GEMV_STREAM_ROWS];
    for (int64_t i = 0; i < m; i++)
        sum[i] = _mm256_setzero_ps();
    for (int64_t p0 = 0; p0 < kc; p0 += 8) {
        const int steps = kc - p0 >= 8 ? 8 : (int)(kc - p0);
        const __m256i mk = lanes_below(steps);
        __m256i v[8];
        for (int j = 0; j < 8; j++) {
            v[j] = steps == 8 ? _mm256_loadu_si256((const __m256i *)(row[j] + p0))
                              : load_padded(row[j] + p0, mk);
            if (fast)
                v[j] = prepared(v[j], aux->p, rounding, &s);
        }
        for (int64_t i = 0; i < m; i++) {
            const __m256i x = _mm256_maskload_epi32((const int *)(xa + i * kc + p0), mk);
            __m256i t[8];
            for (int j = 0; j < 8; j++)
                t[j] = _mm256_castps_si256(product(x, v[j], addend, aux->p, fast,
                                                   rounding));
            transpose8(t);
            for (int q = 0; q < steps; q++)
                sum[i] = _mm256_add_ps(sum[i], _mm256_castsi256_ps(t[q]));
        }
    }
    for (int64_t i = 0; i < m; i++)
        _mm256_storeu_ps(acc + i * 8, sum[i]);
    if (fast)
        seen8_merge(rounding ? s : (seen8){s.lo_raw, s.lo_raw, s.hi}, range);
}

LMUL_TARGET_AVX2
void lmul_sgemv_dots_avx2_8(int64_t m, int64_t kc, int64_t rows, const uint32_t *xa,
                            const char *w, int64_t rs_w, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast)
{
    const int rounding = aux->p->round_shift != 0;
    if (fast && rounding)
        dots(m, kc, rows, xa, w, rs_w, acc, range, aux, 1, 1);
    else if (fast)
        dots(m, kc, rows, xa, w, rs_w, acc, range, aux, 1, 0);
    else
        dots(m, kc, rows, xa, w, rs_w, acc, range, aux, 0, rounding);
}

#endif /* LMUL_X86 */
