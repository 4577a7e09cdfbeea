/*
 * Few-row kernels for AVX-512 (lmul_gemv_ukr_ft): 32 columns as two vectors,
 * up to 8 rows of A at a time, A's element broadcast, B's row a vector.
 * Each accumulator adds its products in step order from +0, as the GEMM
 * microkernels do, so the sums are theirs bit for bit.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx512.h"
#include "lmul_lanes_avx512.h"

#define NB 32
#define ROWS 8

LMUL_TARGET_AVX512
static inline __m512 prod(__m512i x, __m512i w, __m512i addend, const lmul_params *p,
                          int full)
{
    if (!full)
        return _mm512_castsi512_ps(_mm512_add_epi32(x, w));
    return _mm512_castsi512_ps(lmul32_full(_mm512_sub_epi32(x, addend), w, p, 0));
}

/* rows (a constant at each call) rows of A by the 32 columns. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void gemv_rows(
    int rows, int64_t kc, const uint32_t *xa, const uint32_t *w, int64_t ldw,
    float *acc, const lmul_gemm_aux *aux, int full)
{
    __m512 a0[ROWS], a1[ROWS];
    for (int r = 0; r < rows; r++)
        a0[r] = a1[r] = _mm512_setzero_ps();
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, w += ldw) {
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 16);
        for (int r = 0; r < rows; r++) {
            const __m512i x = _mm512_set1_epi32((int)xa[r * kc + p]);
            a0[r] = _mm512_add_ps(a0[r], prod(x, w0, addend, aux->p, full));
            a1[r] = _mm512_add_ps(a1[r], prod(x, w1, addend, aux->p, full));
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
    float *acc, const lmul_gemm_aux *aux, int full)
{
    for (int64_t i = 0; i < m; i += ROWS) {
        const uint32_t *x = xa + i * kc;
        float *out = acc + i * NB;
        switch (m - i < ROWS ? m - i : ROWS) {
        case 1: gemv_rows(1, kc, x, w, ldw, out, aux, full); break;
        case 2: gemv_rows(2, kc, x, w, ldw, out, aux, full); break;
        case 3: gemv_rows(3, kc, x, w, ldw, out, aux, full); break;
        case 4: gemv_rows(4, kc, x, w, ldw, out, aux, full); break;
        case 5: gemv_rows(5, kc, x, w, ldw, out, aux, full); break;
        case 6: gemv_rows(6, kc, x, w, ldw, out, aux, full); break;
        case 7: gemv_rows(7, kc, x, w, ldw, out, aux, full); break;
        default: gemv_rows(8, kc, x, w, ldw, out, aux, full);
        }
    }
}

LMUL_TARGET_AVX512
void lmul_sgemv_fast_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 0);
}

LMUL_TARGET_AVX512
void lmul_sgemv_safe_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                               const uint32_t *w, int64_t ldw, float *acc,
                               const lmul_gemm_aux *aux)
{
    gemv(m, kc, xa, w, ldw, acc, aux, 1);
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
static inline void seen16_merge(seen16 s, lmul_range *r)
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

LMUL_TARGET_AVX512
static inline __m512 product(__m512i x, __m512i w, __m512i addend, const lmul_params *p,
                             int fast, int rounding)
{
    if (fast)
        return _mm512_castsi512_ps(_mm512_add_epi32(x, w));
    return _mm512_castsi512_ps(lmul32_full(_mm512_sub_epi32(x, addend), w, p, rounding));
}

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void stream(
    int64_t m, int64_t kc, int64_t n, const uint32_t *xa, int64_t ldx, const char *w,
    int64_t rs_w, float *acc, lmul_range *range, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    const __m512i one = _mm512_set1_epi32(ONE_BITS);
    seen16 s = seen16_start();
    for (int64_t p = 0; p < kc; p++) {
        const uint32_t *row = (const uint32_t *)(w + p * rs_w);
        for (int64_t j = 0; j < n; j += 16) {
            const __mmask16 mk = n - j >= 16 ? 0xFFFF : (__mmask16)((1u << (n - j)) - 1);
            __m512i v = _mm512_mask_loadu_epi32(one, mk, row + j);
            if (fast)
                v = prepared(v, aux->p, rounding, &s);
            for (int64_t i = 0; i < m; i++) {
                const __m512i x = _mm512_set1_epi32((int)xa[i * ldx + p]);
                float *a = acc + i * n + j;
                const __m512 sum = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, a),
                                                 product(x, v, addend, aux->p, fast,
                                                         rounding));
                _mm512_mask_storeu_ps(a, mk, sum);
            }
        }
    }
    if (fast)
        seen16_merge(rounding ? s : (seen16){s.lo_raw, s.lo_raw, s.hi}, range);
}

LMUL_TARGET_AVX512
void lmul_sgemv_stream_avx512(int64_t m, int64_t kc, int64_t n, const uint32_t *xa, int64_t ldx,
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

/* r[q] = column q of the 16 x 16 block of rows r[0..15]. */
LMUL_TARGET_AVX512
static inline void transpose16(__m512i r[16])
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

LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void dots(
    int64_t m, int64_t kc, int64_t rows, const uint32_t *xa, const char *w,
    int64_t rs_w, float *acc, lmul_range *range, const lmul_gemm_aux *aux, int fast,
    int rounding)
{
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    const __m512i one = _mm512_set1_epi32(ONE_BITS);
    const uint32_t *row[16];
    for (int j = 0; j < 16; j++)
        row[j] = (const uint32_t *)(w + (j < rows ? j : rows - 1) * rs_w);
    seen16 s = seen16_start();
    __m512 sum[LMUL_GEMV_STREAM_ROWS];
    for (int64_t i = 0; i < m; i++)
        sum[i] = _mm512_setzero_ps();
    for (int64_t p0 = 0; p0 < kc; p0 += 16) {
        const int steps = kc - p0 >= 16 ? 16 : (int)(kc - p0);
        const __mmask16 mk = (__mmask16)((1u << steps) - 1);
        __m512i v[16];
        for (int j = 0; j < 16; j++) {
            v[j] = _mm512_mask_loadu_epi32(one, mk, row[j] + p0);
            if (fast)
                v[j] = prepared(v[j], aux->p, rounding, &s);
        }
        for (int64_t i = 0; i < m; i++) {
            const __m512i x = _mm512_maskz_loadu_epi32(mk, xa + i * kc + p0);
            __m512i t[16];
            for (int j = 0; j < 16; j++)
                t[j] = _mm512_castps_si512(product(x, v[j], addend, aux->p, fast,
                                                   rounding));
            transpose16(t);
            for (int q = 0; q < steps; q++)
                sum[i] = _mm512_add_ps(sum[i], _mm512_castsi512_ps(t[q]));
        }
    }
    for (int64_t i = 0; i < m; i++)
        _mm512_storeu_ps(acc + i * 16, sum[i]);
    if (fast)
        seen16_merge(rounding ? s : (seen16){s.lo_raw, s.lo_raw, s.hi}, range);
}

LMUL_TARGET_AVX512
void lmul_sgemv_dots_avx512_16(int64_t m, int64_t kc, int64_t rows, const uint32_t *xa,
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
