/*
 * GEMM microkernels for AVX-512: float32 tiles of 32 x 12 (two vectors of
 * A by twelve broadcasts of B, 24 accumulators) and float64 tiles of
 * 16 x 12. The one-add kernel's product is vpaddd/vpaddq of the packed
 * bits; the zero kernel clears the products of zero operands (below). The
 * safe kernel, by the tile's case, masks out every product that is zero or
 * underflows, or (infinity, NaN or a possible overflow) restores A's bits
 * and runs the full lane logic.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>

#include "lmul_kernels_avx512.h"
#include "lmul_lanes_avx512.h"

#define SMR 32
#define DMR 16
#define NR 12
#define KSTEP 256   /* inner steps per chunk of flush thresholds */

/*
 * The safe kernels' case of zeros and underflow but no infinity, NaN or
 * possible overflow: a + b is the product whenever it is
 * normal, so each product is that add, one compare of |A| with a threshold
 * per B element, and an add into the accumulator under the compare's mask.
 * thr = the smallest |A| bits whose product with B is normal (|A| + |B|
 * >= bias - offset + min_normal), or all ones for a zero B.
 */
LMUL_TARGET_AVX512
static void sthresholds(int64_t n, const int32_t *b, uint32_t *thr,
                        uint32_t normal_from)
{
    const __m512i low = _mm512_set1_epi32((int)normal_from);
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m512i mb = _mm512_and_si512(_mm512_maskz_loadu_epi32(m, b + i), abs_mask);
        __m512i t = _mm512_sub_epi32(low, _mm512_min_epu32(mb, low));
        t = _mm512_mask_mov_epi32(t, _mm512_testn_epi32_mask(mb, mb),
                                  _mm512_set1_epi32(-1));
        _mm512_mask_storeu_epi32(thr + i, m, t);
    }
}

LMUL_TARGET_AVX512
static void dthresholds(int64_t n, const int64_t *b, uint64_t *thr,
                        uint64_t normal_from)
{
    const __m512i low = _mm512_set1_epi64((long long)normal_from);
    const __m512i abs_mask = _mm512_set1_epi64(0x7FFFFFFFFFFFFFFF);
    for (int64_t i = 0; i < n; i += 8) {
        const __mmask8 m = n - i >= 8 ? 0xFF : (__mmask8)((1u << (n - i)) - 1);
        const __m512i mb = _mm512_and_si512(_mm512_maskz_loadu_epi64(m, b + i), abs_mask);
        __m512i t = _mm512_sub_epi64(low, _mm512_min_epu64(mb, low));
        t = _mm512_mask_mov_epi64(t, _mm512_testn_epi64_mask(mb, mb),
                                  _mm512_set1_epi64(-1));
        _mm512_mask_storeu_epi64(thr + i, m, t);
    }
}

/* ---------------------------------------------------------------- float32 */

LMUL_TARGET_AVX512
static inline __m512 sprod(__m512i a, __m512i b, __m512i a_addend,
                           const lmul_params *p, int full)
{
    if (!full)
        return _mm512_castsi512_ps(_mm512_add_epi32(a, b));
    return _mm512_castsi512_ps(lmul32_full(_mm512_sub_epi32(a, a_addend), b, p, 0));
}

/* C = (alpha * acc) + (beta * C), or alpha * acc when C is not read. */
LMUL_TARGET_AVX512
static inline void sstore_cols(float *c, int64_t ldc, const __m512 *acc0,
                               const __m512 *acc1, const lmul_gemm_aux *aux, int cols)
{
    const float beta = *(const float *)aux->beta;
    const __m512 va = _mm512_set1_ps(*(const float *)aux->alpha);
    const __m512 vb = _mm512_set1_ps(beta);
    for (int j = 0; j < cols; j++, c += ldc) {
        __m512 r0 = _mm512_mul_ps(va, acc0[j]), r1 = _mm512_mul_ps(va, acc1[j]);
        if (beta != 0.0f) {
            r0 = _mm512_add_ps(r0, _mm512_mul_ps(vb, _mm512_loadu_ps(c)));
            r1 = _mm512_add_ps(r1, _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16)));
        }
        _mm512_storeu_ps(c, r0);
        _mm512_storeu_ps(c + 16, r1);
    }
}

LMUL_TARGET_AVX512
static inline void sstore(float *c, int64_t ldc, const __m512 *acc0,
                          const __m512 *acc1, const lmul_gemm_aux *aux)
{
    sstore_cols(c, ldc, acc0, acc1, aux, NR);
}

/* The one-add kernel (full = 0) or the lane-by-lane one (full = 1), on the
 * first `cols` columns of B's panel (a constant where it is inlined). */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void sgemm_avx512_32xn(
    int64_t kc, const int32_t *a, const int32_t *b, float *c, int64_t ldc,
    const lmul_gemm_aux *aux, int full, int cols)
{
    __m512 acc0[NR], acc1[NR];
    for (int j = 0; j < cols; j++) {
        acc0[j] = acc1[j] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + j * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + j * ldc + 31), _MM_HINT_T0);
    }
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, a += SMR, b += NR) {
        const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 16);
#pragma GCC unroll 12
        for (int j = 0; j < cols; j++) {
            const __m512i bj = _mm512_set1_epi32(b[j]);
            acc0[j] = _mm512_add_ps(acc0[j], sprod(a0, bj, addend, aux->p, full));
            acc1[j] = _mm512_add_ps(acc1[j], sprod(a1, bj, addend, aux->p, full));
        }
    }
    sstore_cols(c, ldc, acc0, acc1, aux, cols);
}

/* Zeros and underflow only: the masked one-add loop described above. */
LMUL_TARGET_AVX512
static void sgemm_avx512_32x12_flush(int64_t kc, const int32_t *a, const int32_t *b,
                              float *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    __m512 acc0[NR], acc1[NR];
    uint32_t thr[KSTEP * NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm512_setzero_ps();
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
    const uint32_t normal_from = (uint32_t)(0x00800000u - aux->a_addend);
    for (int64_t k0 = 0; k0 < kc; k0 += KSTEP) {
        const int64_t steps = kc - k0 < KSTEP ? kc - k0 : KSTEP;
        sthresholds(steps * NR, b, thr, normal_from);
        const uint32_t *t = thr;
        for (int64_t p = 0; p < steps; p++, a += SMR, b += NR, t += NR) {
            const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 16);
            const __m512i m0 = _mm512_and_si512(_mm512_sub_epi32(a0, addend), abs_mask);
            const __m512i m1 = _mm512_and_si512(_mm512_sub_epi32(a1, addend), abs_mask);
            const __mmask16 nz0 = _mm512_test_epi32_mask(m0, m0);
            const __mmask16 nz1 = _mm512_test_epi32_mask(m1, m1);
#pragma GCC unroll 12
            for (int j = 0; j < NR; j++) {
                const __m512i bj = _mm512_set1_epi32(b[j]);
                const __m512i tj = _mm512_set1_epi32((int)t[j]);
                const __mmask16 k0m = _mm512_mask_cmpge_epu32_mask(nz0, m0, tj);
                const __mmask16 k1m = _mm512_mask_cmpge_epu32_mask(nz1, m1, tj);
                acc0[j] = _mm512_mask_add_ps(acc0[j], k0m, acc0[j],
                                             _mm512_castsi512_ps(_mm512_add_epi32(a0, bj)));
                acc1[j] = _mm512_mask_add_ps(acc1[j], k1m, acc1[j],
                                             _mm512_castsi512_ps(_mm512_add_epi32(a1, bj)));
            }
        }
    }
    sstore(c, ldc, acc0, acc1, aux);
}

/*
 * The zero kernel (no product under- or overflows; zeros present): a + b
 * with the lanes of a zero A cleared (a zeroing masked add); B's panel, when
 * it has zeros, as lmul_zprep32_avx2 prepared it: b' (A's own finite bits
 * come out for a zero B) and a factor 1.0 or 0.0 that an FMA applies, adding
 * the product exactly or adding +-0, which leaves the sum's bits as they are.
 */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void szeros_32x12(
    int64_t kc, const int32_t *a, const int32_t *b, float *c, int64_t ldc,
    const lmul_gemm_aux *aux, int a_zeros, int b_zeros)
{
    __m512 acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm512_setzero_ps();
    const __m512i addend = _mm512_set1_epi32((int)aux->a_addend);
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
    const int64_t b_step = b_zeros ? 2 * NR : NR;
    for (int64_t p = 0; p < kc; p++, a += SMR, b += b_step) {
        const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 16);
        __mmask16 nz0 = 0xFFFF, nz1 = 0xFFFF;
        if (a_zeros) {
            nz0 = _mm512_test_epi32_mask(_mm512_xor_si512(a0, addend), abs_mask);
            nz1 = _mm512_test_epi32_mask(_mm512_xor_si512(a1, addend), abs_mask);
        }
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            const __m512i bj = _mm512_set1_epi32(b[j]);
            const __m512 s0 = _mm512_castsi512_ps(_mm512_maskz_add_epi32(nz0, a0, bj));
            const __m512 s1 = _mm512_castsi512_ps(_mm512_maskz_add_epi32(nz1, a1, bj));
            if (b_zeros) {
                const __m512 f = _mm512_castsi512_ps(_mm512_set1_epi32(b[NR + j]));
                acc0[j] = _mm512_fmadd_ps(s0, f, acc0[j]);
                acc1[j] = _mm512_fmadd_ps(s1, f, acc1[j]);
            } else {
                acc0[j] = _mm512_add_ps(acc0[j], s0);
                acc1[j] = _mm512_add_ps(acc1[j], s1);
            }
        }
    }
    sstore(c, ldc, acc0, acc1, aux);
}

LMUL_TARGET_AVX512
void lmul_sgemm_zeros_avx512_32x12(int64_t kc, const void *pa, const void *pb,
                                   void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    if (aux->pb_zero == NULL)
        szeros_32x12(kc, pa, pb, c, ldc, aux, 1, 0);
    else if (aux->a_zeros)
        szeros_32x12(kc, pa, aux->pb_zero, c, ldc, aux, 1, 1);
    else
        szeros_32x12(kc, pa, aux->pb_zero, c, ldc, aux, 0, 1);
}

LMUL_TARGET_AVX512
void lmul_sgemm_fast_avx512_32x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_avx512_32xn(kc, pa, pb, c, ldc, aux, 0, NR);
}

/* The one-add kernel on the first `cols` columns of an edge tile's B panel:
 * a tile of a few columns does only their work (a constant count each). */
LMUL_TARGET_AVX512
void lmul_sgemm_fast_avx512_32xn(int64_t kc, int cols, const void *pa, const void *pb,
                                 void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
#define COLS(n) case n: sgemm_avx512_32xn(kc, pa, pb, c, ldc, aux, 0, n); return
    switch (cols) {
    COLS(1); COLS(2); COLS(3); COLS(4); COLS(5); COLS(6);
    COLS(7); COLS(8); COLS(9); COLS(10); COLS(11);
    default: sgemm_avx512_32xn(kc, pa, pb, c, ldc, aux, 0, NR);
    }
#undef COLS
}

LMUL_TARGET_AVX512
void lmul_sgemm_safe_avx512_32x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    switch (aux->safe_case) {
    case LMUL_SAFE_FLUSH: sgemm_avx512_32x12_flush(kc, pa, pb, c, ldc, aux); break;
    default: sgemm_avx512_32xn(kc, pa, pb, c, ldc, aux, 1, NR);
    }
}

/* ---------------------------------------------------------------- float64 */

LMUL_TARGET_AVX512
static inline __m512d dprod(__m512i a, __m512i b, __m512i a_addend,
                            const lmul_params *p, int full)
{
    if (!full)
        return _mm512_castsi512_pd(_mm512_add_epi64(a, b));
    return _mm512_castsi512_pd(lmul64_full(_mm512_sub_epi64(a, a_addend), b, p, 0));
}

LMUL_TARGET_AVX512
static inline void dstore(double *c, int64_t ldc, const __m512d *acc0,
                          const __m512d *acc1, const lmul_gemm_aux *aux)
{
    const double beta = *(const double *)aux->beta;
    const __m512d va = _mm512_set1_pd(*(const double *)aux->alpha);
    const __m512d vb = _mm512_set1_pd(beta);
    for (int j = 0; j < NR; j++, c += ldc) {
        __m512d r0 = _mm512_mul_pd(va, acc0[j]), r1 = _mm512_mul_pd(va, acc1[j]);
        if (beta != 0.0) {
            r0 = _mm512_add_pd(r0, _mm512_mul_pd(vb, _mm512_loadu_pd(c)));
            r1 = _mm512_add_pd(r1, _mm512_mul_pd(vb, _mm512_loadu_pd(c + 8)));
        }
        _mm512_storeu_pd(c, r0);
        _mm512_storeu_pd(c + 8, r1);
    }
}

LMUL_TARGET_AVX512
static inline void dgemm_avx512_16x12(int64_t kc, const int64_t *a, const int64_t *b,
                               double *c, int64_t ldc, const lmul_gemm_aux *aux,
                               int full)
{
    __m512d acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm512_setzero_pd();
    const __m512i addend = _mm512_set1_epi64((long long)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, a += DMR, b += NR) {
        const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 8);
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            const __m512i bj = _mm512_set1_epi64(b[j]);
            acc0[j] = _mm512_add_pd(acc0[j], dprod(a0, bj, addend, aux->p, full));
            acc1[j] = _mm512_add_pd(acc1[j], dprod(a1, bj, addend, aux->p, full));
        }
    }
    dstore(c, ldc, acc0, acc1, aux);
}

LMUL_TARGET_AVX512
static void dgemm_avx512_16x12_flush(int64_t kc, const int64_t *a, const int64_t *b,
                              double *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    __m512d acc0[NR], acc1[NR];
    uint64_t thr[KSTEP * NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm512_setzero_pd();
    const __m512i addend = _mm512_set1_epi64((long long)aux->a_addend);
    const __m512i abs_mask = _mm512_set1_epi64(0x7FFFFFFFFFFFFFFF);
    const uint64_t normal_from = UINT64_C(0x0010000000000000) - aux->a_addend;
    for (int64_t k0 = 0; k0 < kc; k0 += KSTEP) {
        const int64_t steps = kc - k0 < KSTEP ? kc - k0 : KSTEP;
        dthresholds(steps * NR, b, thr, normal_from);
        const uint64_t *t = thr;
        for (int64_t p = 0; p < steps; p++, a += DMR, b += NR, t += NR) {
            const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 8);
            const __m512i m0 = _mm512_and_si512(_mm512_sub_epi64(a0, addend), abs_mask);
            const __m512i m1 = _mm512_and_si512(_mm512_sub_epi64(a1, addend), abs_mask);
            const __mmask8 nz0 = _mm512_test_epi64_mask(m0, m0);
            const __mmask8 nz1 = _mm512_test_epi64_mask(m1, m1);
#pragma GCC unroll 12
            for (int j = 0; j < NR; j++) {
                const __m512i bj = _mm512_set1_epi64(b[j]);
                const __m512i tj = _mm512_set1_epi64((long long)t[j]);
                const __mmask8 k0m = _mm512_mask_cmpge_epu64_mask(nz0, m0, tj);
                const __mmask8 k1m = _mm512_mask_cmpge_epu64_mask(nz1, m1, tj);
                acc0[j] = _mm512_mask_add_pd(acc0[j], k0m, acc0[j],
                                             _mm512_castsi512_pd(_mm512_add_epi64(a0, bj)));
                acc1[j] = _mm512_mask_add_pd(acc1[j], k1m, acc1[j],
                                             _mm512_castsi512_pd(_mm512_add_epi64(a1, bj)));
            }
        }
    }
    dstore(c, ldc, acc0, acc1, aux);
}

/* The zero kernel of float64, as szeros_32x12. */
LMUL_TARGET_AVX512
static inline __attribute__((always_inline)) void dzeros_16x12(
    int64_t kc, const int64_t *a, const int64_t *b, double *c, int64_t ldc,
    const lmul_gemm_aux *aux, int a_zeros, int b_zeros)
{
    __m512d acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm512_setzero_pd();
    const __m512i addend = _mm512_set1_epi64((long long)aux->a_addend);
    const __m512i abs_mask = _mm512_set1_epi64(0x7FFFFFFFFFFFFFFF);
    const int64_t b_step = b_zeros ? 2 * NR : NR;
    for (int64_t p = 0; p < kc; p++, a += DMR, b += b_step) {
        const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 8);
        __mmask8 nz0 = 0xFF, nz1 = 0xFF;
        if (a_zeros) {
            nz0 = _mm512_test_epi64_mask(_mm512_xor_si512(a0, addend), abs_mask);
            nz1 = _mm512_test_epi64_mask(_mm512_xor_si512(a1, addend), abs_mask);
        }
#pragma GCC unroll 12
        for (int j = 0; j < NR; j++) {
            const __m512i bj = _mm512_set1_epi64(b[j]);
            const __m512d s0 = _mm512_castsi512_pd(_mm512_maskz_add_epi64(nz0, a0, bj));
            const __m512d s1 = _mm512_castsi512_pd(_mm512_maskz_add_epi64(nz1, a1, bj));
            if (b_zeros) {
                const __m512d f = _mm512_castsi512_pd(_mm512_set1_epi64(b[NR + j]));
                acc0[j] = _mm512_fmadd_pd(s0, f, acc0[j]);
                acc1[j] = _mm512_fmadd_pd(s1, f, acc1[j]);
            } else {
                acc0[j] = _mm512_add_pd(acc0[j], s0);
                acc1[j] = _mm512_add_pd(acc1[j], s1);
            }
        }
    }
    dstore(c, ldc, acc0, acc1, aux);
}

LMUL_TARGET_AVX512
void lmul_dgemm_zeros_avx512_16x12(int64_t kc, const void *pa, const void *pb,
                                   void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    if (aux->pb_zero == NULL)
        dzeros_16x12(kc, pa, pb, c, ldc, aux, 1, 0);
    else if (aux->a_zeros)
        dzeros_16x12(kc, pa, aux->pb_zero, c, ldc, aux, 1, 1);
    else
        dzeros_16x12(kc, pa, aux->pb_zero, c, ldc, aux, 0, 1);
}

LMUL_TARGET_AVX512
void lmul_dgemm_fast_avx512_16x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_avx512_16x12(kc, pa, pb, c, ldc, aux, 0);
}

LMUL_TARGET_AVX512
void lmul_dgemm_safe_avx512_16x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    switch (aux->safe_case) {
    case LMUL_SAFE_FLUSH: dgemm_avx512_16x12_flush(kc, pa, pb, c, ldc, aux); break;
    default: dgemm_avx512_16x12(kc, pa, pb, c, ldc, aux, 1);
    }
}

/* Packing preparation, 16 or 8 lanes at a time (see lmul_prep_ft); NaN is
 * never rounded (a carry could make it infinity). */
LMUL_TARGET_AVX512
void lmul_prep32_avx512(int64_t rows, int64_t width, const void *src,
                        int64_t src_stride, void *dst, uint64_t addend,
                        const lmul_params *p, lmul_range *range)
{
    uint32_t *out = dst;
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i inf = _mm512_set1_epi32(0x7F800000);
    const __m512i min_normal = _mm512_set1_epi32(0x00800000);
    const __m512i add = _mm512_set1_epi32((int)addend);
    __m512i lo = _mm512_set1_epi32(-1), hi = _mm512_setzero_si512();
    __mmask16 zeros = 0;
    for (int64_t row = 0; row < rows; row++, out += width) {
        const uint32_t *x = (const uint32_t *)((const char *)src + row * src_stride);
        for (int64_t i = 0; i < width; i += 16) {
            const __mmask16 m = width - i >= 16 ? 0xFFFF : (__mmask16)((1u << (width - i)) - 1);
            const __m512i v = m == 0xFFFF ? _mm512_loadu_si512(x + i)
                                         : _mm512_maskz_loadu_epi32(m, x + i);
            __m512i mag = _mm512_andnot_si512(sign, v);
            mag = _mm512_maskz_mov_epi32(_mm512_cmpge_epu32_mask(mag, min_normal), mag);
            if (p->round_shift)
                mag = _mm512_mask_mov_epi32(mag, _mm512_cmple_epu32_mask(mag, inf),
                                            round32(mag, p));
            const __mmask16 nonzero = _mm512_mask_test_epi32_mask(m, mag, mag);
            zeros |= m & ~nonzero;
            lo = _mm512_mask_min_epu32(lo, nonzero, lo, mag);
            hi = _mm512_mask_max_epu32(hi, m, hi, mag);
            const __m512i r = _mm512_ternarylogic_epi32(v, sign, mag, 0xEA);  /* v&sign | mag */
            if (m == 0xFFFF)
                _mm512_storeu_si512(out + i, _mm512_add_epi32(r, add));
            else
                _mm512_mask_storeu_epi32(out + i, m, _mm512_add_epi32(r, add));
        }
    }
    const uint64_t min = _mm512_reduce_min_epu32(lo);
    range->min = min == UINT32_MAX ? UINT64_MAX : min;
    range->max = _mm512_reduce_max_epu32(hi);
    range->zeros = zeros != 0;
}

LMUL_TARGET_AVX512
void lmul_prep64_avx512(int64_t rows, int64_t width, const void *src,
                        int64_t src_stride, void *dst, uint64_t addend,
                        const lmul_params *p, lmul_range *range)
{
    uint64_t *out = dst;
    const __m512i sign = _mm512_set1_epi64((long long)0x8000000000000000u);
    const __m512i inf = _mm512_set1_epi64(0x7FF0000000000000);
    const __m512i min_normal = _mm512_set1_epi64(0x0010000000000000);
    const __m512i add = _mm512_set1_epi64((long long)addend);
    __m512i lo = _mm512_set1_epi64(-1), hi = _mm512_setzero_si512();
    __mmask8 zeros = 0;
    for (int64_t row = 0; row < rows; row++, out += width) {
        const uint64_t *x = (const uint64_t *)((const char *)src + row * src_stride);
        for (int64_t i = 0; i < width; i += 8) {
            const __mmask8 m = width - i >= 8 ? 0xFF : (__mmask8)((1u << (width - i)) - 1);
            const __m512i v = m == 0xFF ? _mm512_loadu_si512(x + i)
                                         : _mm512_maskz_loadu_epi64(m, x + i);
            __m512i mag = _mm512_andnot_si512(sign, v);
            mag = _mm512_maskz_mov_epi64(_mm512_cmpge_epu64_mask(mag, min_normal), mag);
            if (p->round_shift)
                mag = _mm512_mask_mov_epi64(mag, _mm512_cmple_epu64_mask(mag, inf),
                                            round64(mag, p));
            const __mmask8 nonzero = _mm512_mask_test_epi64_mask(m, mag, mag);
            zeros |= m & ~nonzero;
            lo = _mm512_mask_min_epu64(lo, nonzero, lo, mag);
            hi = _mm512_mask_max_epu64(hi, m, hi, mag);
            const __m512i r = _mm512_ternarylogic_epi64(v, sign, mag, 0xEA);
            if (m == 0xFF)
                _mm512_storeu_si512(out + i, _mm512_add_epi64(r, add));
            else
                _mm512_mask_storeu_epi64(out + i, m, _mm512_add_epi64(r, add));
        }
    }
    const uint64_t min = _mm512_reduce_min_epu64(lo);
    range->min = min == UINT64_MAX ? UINT64_MAX : min;
    range->max = _mm512_reduce_max_epu64(hi);
    range->zeros = zeros != 0;
}

#endif /* LMUL_X86 */
