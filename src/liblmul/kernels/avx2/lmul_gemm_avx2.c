/*
 * GEMM microkernels for AVX2: float32 tiles of 16 x 5 (two vectors of A by
 * five broadcasts of B, 10 accumulators of the 16 registers, which leaves
 * room for A's zero factors) and float64 tiles of 8 x 6 (12 accumulators).
 * The one-add kernel's product is vpaddd/vpaddq of the
 * packed bits. The safe kernel masks out, by per-B thresholds, every
 * product that is zero or underflows, or (infinity, NaN or a possible
 * overflow) restores A's bits and runs the full lane logic.
 */
#include "../../frame/lmul_internal.h"

#if LMUL_X86
#include <immintrin.h>
#include <string.h>

#include "lmul_kernels_avx2.h"
#include "lmul_lanes_avx2.h"

#define SMR 16
#define SNR 5       /* 10 accumulators: A's two vectors and their two zero factors fit too */
#define DMR 8
#define NR 6
#define HALF 3      /* the flush kernels (and float64's zero kernel) run the k loop
                       over columns 0 .. HALF - 1, then over the rest */
#define KSTEP 256   /* inner steps per chunk of flush thresholds */

/*
 * Flush thresholds for the safe kernels' zeros-and-underflow case (no
 * infinity, NaN or possible overflow), where a + b is every normal product:
 * a product counts when |A| > thr, thr = (the smallest |A| bits whose product
 * with B is normal) - 1, the largest signed value for a zero B; a zero A
 * compares as -1. Magnitudes are below 2^(w-1), so signed compares order them.
 */
static void thresholds32(int64_t n, const int32_t *b, int32_t *thr, uint32_t normal_from)
{
    for (int64_t i = 0; i < n; i++) {
        const uint32_t mb = (uint32_t)b[i] & 0x7FFFFFFFu;
        thr[i] = mb == 0 ? INT32_MAX
                         : (int32_t)(normal_from - (mb < normal_from ? mb : normal_from)) - 1;
    }
}

static void thresholds64(int64_t n, const int64_t *b, int64_t *thr, uint64_t normal_from)
{
    for (int64_t i = 0; i < n; i++) {
        const uint64_t mb = (uint64_t)b[i] & UINT64_C(0x7FFFFFFFFFFFFFFF);
        thr[i] = mb == 0 ? INT64_MAX
                         : (int64_t)(normal_from - (mb < normal_from ? mb : normal_from)) - 1;
    }
}

/* ---------------------------------------------------------------- float32 */

LMUL_TARGET_AVX2
static inline __m256 sprod(__m256i a, __m256i b, __m256i a_addend,
                           const lmul_params *p, int full)
{
    if (!full)
        return _mm256_castsi256_ps(_mm256_add_epi32(a, b));
    return _mm256_castsi256_ps(lmul32_full(_mm256_sub_epi32(a, a_addend), b, p, 0));
}

/* C = (alpha * acc) + (beta * C), or alpha * acc when C is not read. */
LMUL_TARGET_AVX2
static inline void sstore_cols(float *c, int64_t ldc, const __m256 *acc0,
                               const __m256 *acc1, const lmul_gemm_aux *aux, int cols)
{
    const float beta = *(const float *)aux->beta;
    const __m256 va = _mm256_set1_ps(*(const float *)aux->alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    for (int j = 0; j < cols; j++, c += ldc) {
        __m256 r0 = _mm256_mul_ps(va, acc0[j]), r1 = _mm256_mul_ps(va, acc1[j]);
        if (beta != 0.0f) {
            r0 = _mm256_add_ps(r0, _mm256_mul_ps(vb, _mm256_loadu_ps(c)));
            r1 = _mm256_add_ps(r1, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8)));
        }
        _mm256_storeu_ps(c, r0);
        _mm256_storeu_ps(c + 8, r1);
    }
}

LMUL_TARGET_AVX2
static inline void sstore(float *c, int64_t ldc, const __m256 *acc0,
                          const __m256 *acc1, const lmul_gemm_aux *aux)
{
    sstore_cols(c, ldc, acc0, acc1, aux, SNR);
}

/* The one-add kernel (full = 0) or the lane-by-lane one (full = 1), on the
 * first `cols` columns of B's panel (a constant where it is inlined). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void sgemm_avx2_16xn(
    int64_t kc, const int32_t *a, const int32_t *b, float *c, int64_t ldc,
    const lmul_gemm_aux *aux, int full, int cols)
{
    __m256 acc0[SNR], acc1[SNR];
    for (int j = 0; j < cols; j++) {
        acc0[j] = acc1[j] = _mm256_setzero_ps();
        _mm_prefetch((const char *)(c + j * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + j * ldc + 15), _MM_HINT_T0);
    }
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, a += SMR, b += SNR) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8));
#pragma GCC unroll 6
        for (int j = 0; j < cols; j++) {
            const __m256i bj = _mm256_set1_epi32(b[j]);
            acc0[j] = _mm256_add_ps(acc0[j], sprod(a0, bj, addend, aux->p, full));
            acc1[j] = _mm256_add_ps(acc1[j], sprod(a1, bj, addend, aux->p, full));
        }
    }
    sstore_cols(c, ldc, acc0, acc1, aux, cols);
}

/* Columns j0 .. j0 + cols - 1 of the flush kernel over `steps` steps. */
LMUL_TARGET_AVX2
static inline void sflush_half(int64_t steps, const int32_t *a, const int32_t *b,
                               const int32_t *thr, __m256 *acc0, __m256 *acc1,
                               __m256i addend, int j0, int cols)
{
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
    for (int64_t p = 0; p < steps; p++, a += SMR, b += SNR, thr += SNR) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8));
        __m256i m0 = _mm256_and_si256(_mm256_sub_epi32(a0, addend), abs_mask);
        __m256i m1 = _mm256_and_si256(_mm256_sub_epi32(a1, addend), abs_mask);
        m0 = _mm256_or_si256(m0, _mm256_cmpeq_epi32(m0, _mm256_setzero_si256()));
        m1 = _mm256_or_si256(m1, _mm256_cmpeq_epi32(m1, _mm256_setzero_si256()));
#pragma GCC unroll 3
        for (int j = j0; j < j0 + cols; j++) {
            const __m256i bj = _mm256_set1_epi32(b[j]), tj = _mm256_set1_epi32(thr[j]);
            const __m256i s0 = _mm256_and_si256(_mm256_cmpgt_epi32(m0, tj),
                                                _mm256_add_epi32(a0, bj));
            const __m256i s1 = _mm256_and_si256(_mm256_cmpgt_epi32(m1, tj),
                                                _mm256_add_epi32(a1, bj));
            acc0[j] = _mm256_add_ps(acc0[j], _mm256_castsi256_ps(s0));
            acc1[j] = _mm256_add_ps(acc1[j], _mm256_castsi256_ps(s1));
        }
    }
}

/* Zeros and underflow: a + b masked by the thresholds above. */
LMUL_TARGET_AVX2
static void sgemm_avx2_16x5_flush(int64_t kc, const int32_t *a, const int32_t *b,
                             float *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    __m256 acc0[SNR], acc1[SNR];
    int32_t thr[KSTEP * SNR];
    for (int j = 0; j < SNR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_ps();
    const __m256i addend = _mm256_set1_epi32((int)aux->a_addend);
    const uint32_t normal_from = (uint32_t)(0x00800000u - aux->a_addend);
    for (int64_t k0 = 0; k0 < kc; k0 += KSTEP) {
        const int64_t steps = kc - k0 < KSTEP ? kc - k0 : KSTEP;
        thresholds32(steps * SNR, b, thr, normal_from);
        sflush_half(steps, a, b, thr, acc0, acc1, addend, 0, HALF);
        sflush_half(steps, a, b, thr, acc0, acc1, addend, HALF, SNR - HALF);
        a += steps * SMR;
        b += steps * SNR;
    }
    sstore(c, ldc, acc0, acc1, aux);
}

/*
 * The zero kernel (no product under- or overflows; zeros present). The
 * frame prepares each panel with zeros once (lmul_zprep32a_avx2 and
 * lmul_zprep32s_avx2), per step SMR (or SNR) values then as many float32
 * factors. A: a' for a non-zero, 1.0 as its factor; for a zero, the factor
 * 0.0 and a value z (see below, or 0). B: b + 2^100 (its bits plus
 * SCALE_SHIFT) for a non-zero, 2^-100 as its factor; -a_addend and 0.0 for
 * a zero (A's own finite bits come out of a' - a_addend). An FMA with the
 * factor adds the product exactly (a' + b'' is the product times 2^100: the
 * frame keeps products below 2^(128-100), zeros_scale) or adds +-0 (a
 * finite value times 0.0), which leaves the sum as it is: two operations
 * per product with zeros on one side.
 *
 * With zeros on both sides, z makes a zero A's a' + b'' a value below
 * 2^-50 for every non-zero b'' of the block (it is the smallest one's
 * complement, plus the smallest normal), which B's factor 2^-100 takes
 * below half the smallest subnormal: in round-to-nearest the FMA leaves a
 * non-zero sum unchanged and turns a zero sum into +0 or -0, and +0.0
 * added at the end turns -0 back into the +0 that the contract's order
 * gives (a sum from +0 is never -0). So two operations per product here
 * too. Where the frame cannot choose such a z (z = 0: another rounding
 * mode, B's magnitudes spread over more than 2^76), A's factors become
 * masks once per step (factor > 0) that clear the sum's bits first
 * (vpand); there is no register left for A's second vector then, which is
 * read again from L1 as vpaddd's operand (an empty asm keeps the compiler
 * from hoisting it into a register and spilling an accumulator).
 */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void szeros_16x5(
    int64_t kc, const int32_t *a, const int32_t *b, float *c, int64_t ldc,
    const lmul_gemm_aux *aux, int a_zeros, int b_zeros, int masked)
{
    __m256 acc0[SNR], acc1[SNR];
    for (int j = 0; j < SNR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_ps();
    const int64_t a_step = a_zeros ? 2 * SMR : SMR, b_step = b_zeros ? 2 * SNR : SNR;
    const int a_factors = a_zeros && !b_zeros, a_masks = a_zeros && b_zeros && masked;
    for (int64_t p = 0; p < kc; p++, a += a_step, b += b_step) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 8));
        __m256i f0 = _mm256_setzero_si256(), f1 = f0;
        if (a_factors || a_masks) {
            f0 = _mm256_loadu_si256((const __m256i *)(a + SMR));
            f1 = _mm256_loadu_si256((const __m256i *)(a + SMR + 8));
        }
        if (a_masks) {
            f0 = _mm256_cmpgt_epi32(f0, _mm256_setzero_si256());
            f1 = _mm256_cmpgt_epi32(f1, _mm256_setzero_si256());
        }
#pragma GCC unroll 5
        for (int j = 0; j < SNR; j++) {
            const __m256i bj = _mm256_set1_epi32(b[j]);
            __m256i s0 = _mm256_add_epi32(a0, bj), s1;
            __m256 m0 = _mm256_castsi256_ps(f0), m1 = _mm256_castsi256_ps(f1);
            if (a_masks) {
                const int32_t *q = a + 8;
                __asm__ volatile("" : "+r"(q));
                s1 = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)q), bj);
                s0 = _mm256_and_si256(s0, f0);
                s1 = _mm256_and_si256(s1, f1);
            } else {
                s1 = _mm256_add_epi32(a1, bj);
            }
            if (b_zeros)
                m0 = m1 = _mm256_castsi256_ps(_mm256_set1_epi32(b[SNR + j]));
            acc0[j] = _mm256_fmadd_ps(_mm256_castsi256_ps(s0), m0, acc0[j]);
            acc1[j] = _mm256_fmadd_ps(_mm256_castsi256_ps(s1), m1, acc1[j]);
        }
    }
    if (a_zeros && b_zeros && !masked)   /* -0 to +0 */
        for (int j = 0; j < SNR; j++) {
            acc0[j] = _mm256_add_ps(acc0[j], _mm256_setzero_ps());
            acc1[j] = _mm256_add_ps(acc1[j], _mm256_setzero_ps());
        }
    sstore(c, ldc, acc0, acc1, aux);
}

LMUL_TARGET_AVX2
void lmul_sgemm_zeros_avx2_16x5(int64_t kc, const void *pa, const void *pb,
                                void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    if (aux->pb_zero == NULL)
        szeros_16x5(kc, aux->pa_zero, pb, c, ldc, aux, 1, 0, 0);
    else if (aux->pa_zero != NULL && aux->zeros_unmasked)
        szeros_16x5(kc, aux->pa_zero, aux->pb_zero, c, ldc, aux, 1, 1, 0);
    else if (aux->pa_zero != NULL)
        szeros_16x5(kc, aux->pa_zero, aux->pb_zero, c, ldc, aux, 1, 1, 1);
    else
        szeros_16x5(kc, pa, aux->pb_zero, c, ldc, aux, 0, 1, 0);
}

#define ONE32 0x3F800000u   /* 1.0f */

/* All ones when the float32 bits x are not +-0, else 0 (no branch: zeros
 * are as unpredictable as the data). */
static inline uint32_t nonzero32(uint32_t x)
{
    return -(uint32_t)((x & 0x7FFFFFFFu) != 0);
}

/* 8 elements x of a zero-kernel panel as `val` and `factor`: x itself (plus
 * `shift`) and `one` where x less `minus` is not +-0, else `zero_as` and 0. */
LMUL_TARGET_AVX2
static inline void zprep32_avx2_8(const uint32_t *x, uint32_t *val, uint32_t *factor,
                                  __m256i minus, __m256i shift, __m256i zero_as,
                                  __m256i one)
{
    const __m256i v = _mm256_loadu_si256((const __m256i *)x);
    const __m256i mag = _mm256_and_si256(_mm256_sub_epi32(v, minus),
                                         _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i zero = _mm256_cmpeq_epi32(mag, _mm256_setzero_si256());
    _mm256_storeu_si256((__m256i *)val,
                        _mm256_blendv_epi8(_mm256_add_epi32(v, shift), zero_as, zero));
    _mm256_storeu_si256((__m256i *)factor, _mm256_andnot_si256(zero, one));
}

/* The same for one element (panel tails). */
static inline void zprep32_1(uint32_t x, uint32_t *val, uint32_t *factor, uint32_t minus,
                             uint32_t shift, uint32_t zero_as, uint32_t one)
{
    const uint32_t keep = nonzero32(x - minus);
    *val = ((x + shift) & keep) | (zero_as & ~keep);
    *factor = one & keep;
}

/* A's panel for the float32 zero kernel (lmul_zprep_ft): per step, `width`
 * values a' then `width` factors, as described above (a zero A's bits less
 * a_addend are +-0; it becomes a_zero_as). */
LMUL_TARGET_AVX2
void lmul_zprep32a_avx2(int64_t kc, int width, const void *pa, void *dst,
                        uint64_t a_addend, uint64_t a_zero_as)
{
    const uint32_t *a = pa;
    uint32_t *out = dst;
    const __m256i minus = _mm256_set1_epi32((int)a_addend), none = _mm256_setzero_si256();
    const __m256i zero_as = _mm256_set1_epi32((int)a_zero_as);
    const __m256i one = _mm256_set1_epi32((int)ONE32);
    const int vectors = width / 8 * 8;
    for (int64_t p = 0; p < kc; p++, a += width, out += 2 * width) {
        for (int i = 0; i < vectors; i += 8)
            zprep32_avx2_8(a + i, out + i, out + width + i, minus, none, zero_as, one);
        for (int i = vectors; i < width; i++)
            zprep32_1(a[i], out + i, out + width + i, (uint32_t)a_addend, 0,
                      (uint32_t)a_zero_as, ONE32);
    }
}

/* A's panel for the float64 zero kernel: per step, `width` masks, all ones
 * for a non-zero A, 0 for a zero (the mask clears the product after the add). */
void lmul_zprep64a_avx2(int64_t kc, int width, const void *pa, void *dst,
                        uint64_t a_addend, uint64_t a_zero_as)
{
    (void)a_zero_as;
    const uint64_t *a = pa;
    uint64_t *out = dst;
    for (int64_t i = 0; i < kc * width; i++)
        out[i] = ((a[i] - a_addend) & UINT64_C(0x7FFFFFFFFFFFFFFF)) == 0 ? 0 : UINT64_MAX;
}

#define SCALE_SHIFT ((uint32_t)LMUL_SZEROS_SCALE_AVX2 << 23)     /* times 2^100 */
#define SCALE_FACTOR ((uint32_t)(127 - LMUL_SZEROS_SCALE_AVX2) << 23)   /* 2^-100 */

#define ZFLAT 1024    /* elements of a B panel prepared per round into flat buffers */

/* Per step, nr values then nr float32 factors: b + shift and `factor` for a
 * non-zero B, -a_addend (A's own finite bits come out of a + b') and 0.0
 * for a zero. Vectors run over the panel's elements as they lie, into flat
 * buffers; each step's nr values and factors are then copied into place
 * (nr a constant where it is inlined: the copies are a few moves). */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void zprep32b_avx2_nr(
    int64_t kc, int nr, const uint32_t *b, uint32_t *out, uint32_t a_addend,
    uint32_t shift, uint32_t factor)
{
    uint32_t val[ZFLAT], fac[ZFLAT];
    const int64_t per_round = ZFLAT / nr;   /* nr is a kernel's, far below ZFLAT */
    const __m256i none = _mm256_setzero_si256(), vshift = _mm256_set1_epi32((int)shift);
    const __m256i zero_as = _mm256_set1_epi32(-(int)a_addend);
    const __m256i vfactor = _mm256_set1_epi32((int)factor);
    for (int64_t p0 = 0; p0 < kc; p0 += per_round) {
        const int64_t steps = kc - p0 < per_round ? kc - p0 : per_round, n = steps * nr;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            zprep32_avx2_8(b + i, val + i, fac + i, none, vshift, zero_as, vfactor);
        for (; i < n; i++)
            zprep32_1(b[i], val + i, fac + i, 0, shift, -a_addend, factor);
        for (int64_t p = 0; p < steps; p++, out += 2 * nr) {
            memcpy(out, val + p * nr, (size_t)nr * sizeof *out);
            memcpy(out + nr, fac + p * nr, (size_t)nr * sizeof *out);
        }
        b += n;
    }
}

LMUL_TARGET_AVX2
static void zprep32b_avx2(int64_t kc, int nr, const uint32_t *b, uint32_t *out,
                          uint32_t a_addend, uint32_t shift, uint32_t factor)
{
    if (nr == 5)            /* this level's panels */
        zprep32b_avx2_nr(kc, 5, b, out, a_addend, shift, factor);
    else if (nr == 12)      /* the AVX-512 level's */
        zprep32b_avx2_nr(kc, 12, b, out, a_addend, shift, factor);
    else
        zprep32b_avx2_nr(kc, nr, b, out, a_addend, shift, factor);
}

/* B's panel for the zero kernels of the AVX-512 level (lmul_zprep_ft):
 * b and 1.0 for a non-zero. */
void lmul_zprep32_avx2(int64_t kc, int nr, const void *pb, void *dst,
                       uint64_t a_addend, uint64_t a_zero_as)
{
    (void)a_zero_as;
    zprep32b_avx2(kc, nr, pb, dst, (uint32_t)a_addend, 0, ONE32);
}

/* B's panel for this level's zero kernel (lmul_zprep_ft): b + SCALE_SHIFT
 * and 2^-100 for a non-zero, as described above. */
void lmul_zprep32s_avx2(int64_t kc, int nr, const void *pb, void *dst,
                        uint64_t a_addend, uint64_t a_zero_as)
{
    (void)a_zero_as;
    zprep32b_avx2(kc, nr, pb, dst, (uint32_t)a_addend, SCALE_SHIFT, SCALE_FACTOR);
}

LMUL_TARGET_AVX2
void lmul_sgemm_fast_avx2_16x5(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    sgemm_avx2_16xn(kc, pa, pb, c, ldc, aux, 0, SNR);
}

/* The one-add kernel on the first `cols` columns of an edge tile's B panel. */
LMUL_TARGET_AVX2
void lmul_sgemm_fast_avx2_16xn(int64_t kc, int cols, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
#define COLS(n) case n: sgemm_avx2_16xn(kc, pa, pb, c, ldc, aux, 0, n); return
    switch (cols) {
    COLS(1); COLS(2); COLS(3); COLS(4);
    default: sgemm_avx2_16xn(kc, pa, pb, c, ldc, aux, 0, SNR);
    }
#undef COLS
}

LMUL_TARGET_AVX2
void lmul_sgemm_safe_avx2_16x5(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    if (aux->safe_case == LMUL_SAFE_FULL)
        sgemm_avx2_16xn(kc, pa, pb, c, ldc, aux, 1, SNR);
    else
        sgemm_avx2_16x5_flush(kc, pa, pb, c, ldc, aux);
}

/* ---------------------------------------------------------------- float64 */

LMUL_TARGET_AVX2
static inline __m256d dprod(__m256i a, __m256i b, __m256i a_addend,
                            const lmul_params *p, int full)
{
    if (!full)
        return _mm256_castsi256_pd(_mm256_add_epi64(a, b));
    return _mm256_castsi256_pd(lmul64_full(_mm256_sub_epi64(a, a_addend), b, p, 0));
}

LMUL_TARGET_AVX2
static inline void dstore(double *c, int64_t ldc, const __m256d *acc0,
                          const __m256d *acc1, const lmul_gemm_aux *aux)
{
    const double beta = *(const double *)aux->beta;
    const __m256d va = _mm256_set1_pd(*(const double *)aux->alpha);
    const __m256d vb = _mm256_set1_pd(beta);
    for (int j = 0; j < NR; j++, c += ldc) {
        __m256d r0 = _mm256_mul_pd(va, acc0[j]), r1 = _mm256_mul_pd(va, acc1[j]);
        if (beta != 0.0) {
            r0 = _mm256_add_pd(r0, _mm256_mul_pd(vb, _mm256_loadu_pd(c)));
            r1 = _mm256_add_pd(r1, _mm256_mul_pd(vb, _mm256_loadu_pd(c + 4)));
        }
        _mm256_storeu_pd(c, r0);
        _mm256_storeu_pd(c + 4, r1);
    }
}

LMUL_TARGET_AVX2
static inline void dgemm_avx2_8x6(int64_t kc, const int64_t *a, const int64_t *b,
                             double *c, int64_t ldc, const lmul_gemm_aux *aux,
                             int full)
{
    __m256d acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_pd();
    const __m256i addend = _mm256_set1_epi64x((long long)aux->a_addend);
    for (int64_t p = 0; p < kc; p++, a += DMR, b += NR) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 4));
#pragma GCC unroll 6
        for (int j = 0; j < NR; j++) {
            const __m256i bj = _mm256_set1_epi64x(b[j]);
            acc0[j] = _mm256_add_pd(acc0[j], dprod(a0, bj, addend, aux->p, full));
            acc1[j] = _mm256_add_pd(acc1[j], dprod(a1, bj, addend, aux->p, full));
        }
    }
    dstore(c, ldc, acc0, acc1, aux);
}

LMUL_TARGET_AVX2
static inline void dflush_half(int64_t steps, const int64_t *a, const int64_t *b,
                               const int64_t *thr, __m256d *acc0, __m256d *acc1,
                               __m256i addend, int j0)
{
    const __m256i abs_mask = _mm256_set1_epi64x(0x7FFFFFFFFFFFFFFF);
    for (int64_t p = 0; p < steps; p++, a += DMR, b += NR, thr += NR) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 4));
        __m256i m0 = _mm256_and_si256(_mm256_sub_epi64(a0, addend), abs_mask);
        __m256i m1 = _mm256_and_si256(_mm256_sub_epi64(a1, addend), abs_mask);
        m0 = _mm256_or_si256(m0, _mm256_cmpeq_epi64(m0, _mm256_setzero_si256()));
        m1 = _mm256_or_si256(m1, _mm256_cmpeq_epi64(m1, _mm256_setzero_si256()));
#pragma GCC unroll 3
        for (int j = j0; j < j0 + HALF; j++) {
            const __m256i bj = _mm256_set1_epi64x(b[j]), tj = _mm256_set1_epi64x(thr[j]);
            const __m256i s0 = _mm256_and_si256(_mm256_cmpgt_epi64(m0, tj),
                                                _mm256_add_epi64(a0, bj));
            const __m256i s1 = _mm256_and_si256(_mm256_cmpgt_epi64(m1, tj),
                                                _mm256_add_epi64(a1, bj));
            acc0[j] = _mm256_add_pd(acc0[j], _mm256_castsi256_pd(s0));
            acc1[j] = _mm256_add_pd(acc1[j], _mm256_castsi256_pd(s1));
        }
    }
}

LMUL_TARGET_AVX2
static void dgemm_avx2_8x6_flush(int64_t kc, const int64_t *a, const int64_t *b,
                            double *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    __m256d acc0[NR], acc1[NR];
    int64_t thr[KSTEP * NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_pd();
    const __m256i addend = _mm256_set1_epi64x((long long)aux->a_addend);
    const uint64_t normal_from = UINT64_C(0x0010000000000000) - aux->a_addend;
    for (int64_t k0 = 0; k0 < kc; k0 += KSTEP) {
        const int64_t steps = kc - k0 < KSTEP ? kc - k0 : KSTEP;
        thresholds64(steps * NR, b, thr, normal_from);
        dflush_half(steps, a, b, thr, acc0, acc1, addend, 0);
        dflush_half(steps, a, b, thr, acc0, acc1, addend, HALF);
        a += steps * DMR;
        b += steps * NR;
    }
    dstore(c, ldc, acc0, acc1, aux);
}

/* The zero kernel of float64, as szeros_16x5. */
LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void dzeros_cols(
    int64_t kc, const int64_t *a, const int64_t *nz, const int64_t *b,
    __m256d *acc0, __m256d *acc1, int j0, int cols, int a_zeros, int b_zeros)
{
    const int64_t b_step = b_zeros ? 2 * NR : NR;
    for (int64_t p = 0; p < kc; p++, a += DMR, nz += DMR, b += b_step) {
        const __m256i a0 = _mm256_loadu_si256((const __m256i *)a);
        const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + 4));
        __m256i z0 = _mm256_setzero_si256(), z1 = z0;
        if (a_zeros && cols != NR) {
            z0 = _mm256_loadu_si256((const __m256i *)nz);
            z1 = _mm256_loadu_si256((const __m256i *)(nz + 4));
        }
#pragma GCC unroll 6
        for (int j = j0; j < j0 + cols; j++) {
            const __m256i bj = _mm256_set1_epi64x(b[j]);
            __m256i s0, s1;
            if (cols == NR) {   /* the full tile: reread what does not fit */
                const __m256i *q = (const __m256i *)(a_zeros ? nz : a);
                __asm__ volatile("" : "+r"(q));
                if (a_zeros) {
                    s0 = _mm256_and_si256(_mm256_add_epi64(a0, bj), _mm256_loadu_si256(q));
                    s1 = _mm256_and_si256(_mm256_add_epi64(a1, bj), _mm256_loadu_si256(q + 1));
                } else {
                    s0 = _mm256_add_epi64(a0, bj);
                    s1 = _mm256_add_epi64(_mm256_loadu_si256(q + 1), bj);
                }
            } else {
                s0 = _mm256_add_epi64(a0, bj);
                s1 = _mm256_add_epi64(a1, bj);
                if (a_zeros) {
                    s0 = _mm256_and_si256(z0, s0);
                    s1 = _mm256_and_si256(z1, s1);
                }
            }
            if (b_zeros) {
                const __m256d f = _mm256_castsi256_pd(_mm256_set1_epi64x(b[NR + j]));
                acc0[j] = _mm256_fmadd_pd(_mm256_castsi256_pd(s0), f, acc0[j]);
                acc1[j] = _mm256_fmadd_pd(_mm256_castsi256_pd(s1), f, acc1[j]);
            } else {
                acc0[j] = _mm256_add_pd(acc0[j], _mm256_castsi256_pd(s0));
                acc1[j] = _mm256_add_pd(acc1[j], _mm256_castsi256_pd(s1));
            }
        }
    }
}

LMUL_TARGET_AVX2
static inline __attribute__((always_inline)) void dzeros_8x6(
    int64_t kc, const int64_t *a, const int64_t *b, double *c, int64_t ldc,
    const lmul_gemm_aux *aux, int a_zeros, int b_zeros)
{
    __m256d acc0[NR], acc1[NR];
    for (int j = 0; j < NR; j++)
        acc0[j] = acc1[j] = _mm256_setzero_pd();
    const int64_t *nz = a_zeros ? aux->pa_zero : (const void *)a;
    if (a_zeros && b_zeros) {
        dzeros_cols(kc, a, nz, b, acc0, acc1, 0, HALF, 1, 1);
        dzeros_cols(kc, a, nz, b, acc0, acc1, HALF, HALF, 1, 1);
    } else {
        dzeros_cols(kc, a, nz, b, acc0, acc1, 0, NR, a_zeros, b_zeros);
    }
    dstore(c, ldc, acc0, acc1, aux);
}

LMUL_TARGET_AVX2
void lmul_dgemm_zeros_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    if (aux->pb_zero == NULL)
        dzeros_8x6(kc, pa, pb, c, ldc, aux, 1, 0);
    else if (aux->pa_zero != NULL)
        dzeros_8x6(kc, pa, aux->pb_zero, c, ldc, aux, 1, 1);
    else
        dzeros_8x6(kc, pa, aux->pb_zero, c, ldc, aux, 0, 1);
}

void lmul_zprep64_avx2(int64_t kc, int nr, const void *pb, void *dst,
                       uint64_t a_addend, uint64_t a_zero_as)
{
    (void)a_zero_as;
    const uint64_t *b = pb;
    uint64_t *out = dst;
    const double one = 1.0, zero = 0.0;
    for (int64_t p = 0; p < kc; p++, b += nr, out += 2 * nr)
        for (int j = 0; j < nr; j++) {
            const int is_zero = (b[j] & UINT64_C(0x7FFFFFFFFFFFFFFF)) == 0;
            out[j] = is_zero ? -a_addend : b[j];
            memcpy(&out[nr + j], is_zero ? &zero : &one, sizeof(double));
        }
}

LMUL_TARGET_AVX2
void lmul_dgemm_fast_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                              void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    dgemm_avx2_8x6(kc, pa, pb, c, ldc, aux, 0);
}

LMUL_TARGET_AVX2
void lmul_dgemm_safe_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                              void *c, int64_t ldc, const lmul_gemm_aux *aux)
{
    if (aux->safe_case == LMUL_SAFE_FULL)
        dgemm_avx2_8x6(kc, pa, pb, c, ldc, aux, 1);
    else
        dgemm_avx2_8x6_flush(kc, pa, pb, c, ldc, aux);
}

/* *min and *max lowered and raised to the unsigned lanes of lo and hi. */
LMUL_TARGET_AVX2
static void fold_minmax8(__m256i lo, __m256i hi, uint32_t *min, uint32_t *max)
{
    _Alignas(32) uint32_t l[8], h[8];
    _mm256_store_si256((__m256i *)l, lo);
    _mm256_store_si256((__m256i *)h, hi);
    for (int i = 0; i < 8; i++) {
        *min = l[i] < *min ? l[i] : *min;
        *max = h[i] > *max ? h[i] : *max;
    }
}

/* Packing preparation of float32 bits, 8 lanes at a time (see lmul_prep_ft);
 * NaN is never rounded. Magnitudes are below 2^31: signed compares order them. */
LMUL_TARGET_AVX2
void lmul_prep32_avx2(int64_t rows, int64_t width, const void *src,
                      int64_t src_stride, void *dst, uint64_t addend,
                      const lmul_params *p, lmul_range *range)
{
    int32_t *out = dst;
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    const __m256i below_normal = _mm256_set1_epi32(0x007FFFFF);
    const __m256i add = _mm256_set1_epi32((int)addend);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i all = _mm256_set1_epi32(-1);
    __m256i lo = _mm256_set1_epi32(-1), hi = _mm256_setzero_si256();
    __m256i zeros = _mm256_setzero_si256();
    for (int64_t row = 0; row < rows; row++, out += width) {
        const int32_t *x = (const int32_t *)((const char *)src + row * src_stride);
        for (int64_t i = 0; i < width; i += 8) {
            /* masked loads and stores only at the tail: vpmaskmovd stores
             * are microcoded on AMD cores */
            const int left = width - i < 8 ? (int)(width - i) : 8;
            const __m256i m = left == 8 ? all
                              : _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
            const __m256i v = left == 8 ? _mm256_loadu_si256((const __m256i *)(x + i))
                                        : _mm256_maskload_epi32(x + i, m);
            __m256i mag = _mm256_andnot_si256(sign, v);
            mag = _mm256_and_si256(mag, _mm256_cmpgt_epi32(mag, below_normal));
            if (p->round_shift)
                mag = _mm256_blendv_epi8(round32(mag, p), mag, _mm256_cmpgt_epi32(mag, inf));
            /* lanes past the tail load as 0: they count as zeros, masked
             * out of `zeros` and ignored by the min (all ones) and max */
            const __m256i zero = _mm256_cmpeq_epi32(mag, _mm256_setzero_si256());
            lo = _mm256_min_epu32(lo, _mm256_or_si256(mag, zero));
            hi = _mm256_max_epu32(hi, mag);
            zeros = _mm256_or_si256(zeros, _mm256_and_si256(zero, m));
            const __m256i r = _mm256_or_si256(_mm256_and_si256(v, sign), mag);
            if (left == 8)
                _mm256_storeu_si256((__m256i *)(out + i), _mm256_add_epi32(r, add));
            else
                _mm256_maskstore_epi32(out + i, m, _mm256_add_epi32(r, add));
        }
    }
    uint32_t min = UINT32_MAX, max = 0;
    fold_minmax8(lo, hi, &min, &max);
    range->min = min == UINT32_MAX ? UINT64_MAX : min;
    range->max = max;
    range->zeros = !_mm256_testz_si256(zeros, zeros);
}

/* Float32 rows copied with their raw range (lmul_copy_range_ft). */
LMUL_TARGET_AVX2
void lmul_copy_range32_avx2(int64_t rows, int64_t width, const void *src,
                            int64_t src_stride, void *dst, lmul_range *range)
{
    const __m256i abs = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i least_normal = _mm256_set1_epi32(LMUL_F32_MIN_NORMAL_BITS);
    __m256i lo = _mm256_set1_epi32(-1), hi = _mm256_setzero_si256();
    __m256i zeros = _mm256_setzero_si256();
    uint32_t lo_tail = UINT32_MAX, hi_tail = 0, *out = dst;
    int zeros_tail = 0;
    for (int64_t row = 0; row < rows; row++, out += width) {
        const uint32_t *x = (const uint32_t *)((const char *)src + row * src_stride);
        int64_t i = 0;
        for (; i + 8 <= width; i += 8) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
            const __m256i mag = _mm256_and_si256(v, abs);
            const __m256i zero = _mm256_cmpgt_epi32(least_normal, mag);
            lo = _mm256_min_epu32(lo, _mm256_or_si256(mag, zero));
            hi = _mm256_max_epu32(hi, mag);
            zeros = _mm256_or_si256(zeros, zero);
            _mm256_storeu_si256((__m256i *)(out + i), v);
        }
        for (; i < width; i++) {
            const uint32_t mag = x[i] & 0x7FFFFFFFu;
            if (mag < LMUL_F32_MIN_NORMAL_BITS)
                zeros_tail = 1;
            else
                lo_tail = mag < lo_tail ? mag : lo_tail;
            hi_tail = mag > hi_tail ? mag : hi_tail;
            out[i] = x[i];
        }
    }
    fold_minmax8(lo, hi, &lo_tail, &hi_tail);
    *range = (lmul_range){lo_tail == UINT32_MAX ? UINT64_MAX : lo_tail, hi_tail,
                          zeros_tail || !_mm256_testz_si256(zeros, zeros)};
}

/* Transposing packing copy of 32-bit elements, 4 x 4 blocks (lmul_tcopy_ft). */
LMUL_TARGET_AVX2
void lmul_tcopy32_avx2(int64_t width, int64_t kc, const void *src,
                       int64_t src_stride, void *dst)
{
    float *out = dst;
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4)
        for (int64_t i = 0; i < width; i += 4) {
            const char *s = (const char *)src + i * src_stride + p * (int64_t)sizeof(float);
            __m128 r0 = _mm_loadu_ps((const float *)s);
            __m128 r1 = _mm_loadu_ps((const float *)(s + src_stride));
            __m128 r2 = _mm_loadu_ps((const float *)(s + 2 * src_stride));
            __m128 r3 = _mm_loadu_ps((const float *)(s + 3 * src_stride));
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(out + p * width + i, r0);
            _mm_storeu_ps(out + (p + 1) * width + i, r1);
            _mm_storeu_ps(out + (p + 2) * width + i, r2);
            _mm_storeu_ps(out + (p + 3) * width + i, r3);
        }
    for (; p < kc; p++)
        for (int64_t i = 0; i < width; i++)
            memcpy(out + p * width + i, (const char *)src + i * src_stride
                   + p * (int64_t)sizeof(float), sizeof(float));
}

#endif /* LMUL_X86 */
