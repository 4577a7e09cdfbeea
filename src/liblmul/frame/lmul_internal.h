/* Types shared by the frame (portable loops, dispatch) and the kernels. */
#ifndef LMUL_INTERNAL_H
#define LMUL_INTERNAL_H

#include <fenv.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lmul_simd.h"

/* LMUL_PORTABLE_ONLY builds the scalar level alone, as on a non-x86 CPU. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) \
    && !defined(LMUL_PORTABLE_ONLY)
#  define LMUL_X86 1
#  define LMUL_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#  define LMUL_TARGET_AVX512 \
     __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#else
#  define LMUL_X86 0
#endif

/* The vector loops' fast path is the fall-through (laid out in the loop, not
 * after its slow path), whatever the rest of the library's code does to the
 * loop's alignment. */
#if defined(__GNUC__)
#  define LMUL_LIKELY(c) __builtin_expect(!!(c), 1)
#  define LMUL_UNLIKELY(c) __builtin_expect(!!(c), 0)
#else
#  define LMUL_LIKELY(c) (c)
#  define LMUL_UNLIKELY(c) (c)
#endif

/* The IEEE container an L-Mul is computed in (docs/contract.md section 2). */
typedef struct lmul_container {
    int P;                  /* mantissa bits */
    uint64_t bias;          /* bit pattern of 1.0 */
    uint64_t sign;          /* the sign bit */
    uint64_t inf;           /* bit pattern of +infinity */
    uint64_t qnan;          /* canonical quiet NaN */
} lmul_container;

extern const lmul_container lmul_container_f32;
extern const lmul_container lmul_container_f64;

/*
 * Everything that depends on k, computed once per call. Fields are 64-bit;
 * float32 kernels use their low 32 bits.
 */
typedef struct lmul_params {
    int round_shift;        /* P - k: mantissa bits rounded away (0: none) */
    uint64_t round_add;     /* 2^(shift-1) - 1: round-half-down addend */
    uint64_t round_mask;    /* clears the rounded-away bits */
    uint64_t offset;        /* 2^(P - l(k)) in units of the last mantissa bit */
} lmul_params;

/* Fills p for container c and k; LMUL_ERR_K if k is outside 1..P. */
int lmul_params_init(lmul_params *p, const lmul_container *c, int k);

/* Rounding to k bits in the float32 container changes nothing for a format
 * with at most k mantissa bits: only otherwise do narrow kernels pay for it. */
static inline int lmul_rounding_needed(const lmul_params *p, int format_mantissa_bits)
{
    return p->round_shift > 23 - format_mantissa_bits;
}

/* Contiguous elementwise microkernels: z[i] = lmul(x[i], y[i]) for n elements.
 * z may equal x or y. Pointers need no alignment beyond the element's. */
typedef void (*lmul_smul_ker_ft)(int64_t n, const float *x, const float *y,
                                 float *z, const lmul_params *p);
typedef void (*lmul_dmul_ker_ft)(int64_t n, const double *x, const double *y,
                                 double *z, const lmul_params *p);
typedef void (*lmul_hmul_ker_ft)(int64_t n, const uint16_t *x, const uint16_t *y,
                                 uint16_t *z, const lmul_params *p);

/* bfloat16 in and out, as bit patterns. */
typedef void (*lmul_bmul_ker_ft)(int64_t n, const uint16_t *x, const uint16_t *y,
                                 uint16_t *z, const lmul_params *p);

/*
 * A float8 format, decoded exactly into the float32 container. With m the
 * 7 magnitude bits: m >= special_from is infinity or NaN, (m << shift) +
 * special_add; m below 1 << mantissa_bits is subnormal, m * subnormal_unit;
 * otherwise (m << shift) + normal_add.
 */
typedef struct lmul_fp8_format {
    int mantissa_bits;
    int shift;                  /* 23 - mantissa_bits */
    uint32_t normal_add;        /* (127 - bias) << 23 */
    uint32_t special_from;
    uint32_t special_add;       /* puts the top exponent field at 255 */
    float subnormal_unit;       /* 2^(1 - bias - mantissa_bits) */
} lmul_fp8_format;

extern const lmul_fp8_format lmul_fp8_e4m3fn;
extern const lmul_fp8_format lmul_fp8_e5m2;

/* float8 in (either format), float32 out. */
typedef void (*lmul_f8mul_ker_ft)(int64_t n, const uint8_t *x, const uint8_t *y,
                                  float *z, const lmul_params *p,
                                  const lmul_fp8_format *f);

/* Exact widening of n contiguous narrow elements to float32 bit patterns:
 * float16 or bfloat16 (uint16 patterns) or float8 in format f (bytes). */
typedef enum lmul_widen_kind {
    LMUL_WIDEN_F16,
    LMUL_WIDEN_BF16,
    LMUL_WIDEN_F8,
    LMUL_WIDEN_NONE             /* float32 already (a stream kernel's operand) */
} lmul_widen_kind;
typedef void (*lmul_widen_ft)(int64_t n, const void *src, lmul_widen_kind kind,
                              const lmul_fp8_format *f, uint32_t *dst);

/* What packing saw in a micro-panel: magnitudes are the bits without the
 * sign, after DAZ and rounding. */
typedef struct lmul_range {
    uint64_t min;               /* smallest non-zero magnitude (UINT64_MAX: none) */
    uint64_t max;               /* largest magnitude */
    int zeros;                  /* a zero (or subnormal) was seen */
} lmul_range;

/*
 * The one-add window: float32 magnitudes in [2^-31, 2^33) (exponents 96 ..
 * 159), where any two multiply by the one-add product (their exponents sum
 * far from both ends). A kernel checks it in two operations per vector where
 * the exact range takes three: each 32-bit lane's top half less
 * LMUL_WINDOW_BASE16 (a 16-bit subtraction: the sign bit drops out, as the
 * other half's garbage does), ORed together; at the end the bits
 * LMUL_WINDOW_OUT32 are clear in every lane when every element was inside
 * (its magnitude's top half, less the base, below the span).
 */
#define LMUL_WINDOW_BASE16 0x3000
#define LMUL_WINDOW_SPAN16 0x2000
#define LMUL_WINDOW_OUT32 ((uint32_t)(0x8000 - LMUL_WINDOW_SPAN16) << 16)

/* Whether the magnitudes in r lie in the one-add window. */
static inline int lmul_range_in_window(lmul_range r)
{
    return !r.zeros && r.min >= (uint64_t)LMUL_WINDOW_BASE16 << 16
        && r.max < (uint64_t)(LMUL_WINDOW_BASE16 + LMUL_WINDOW_SPAN16) << 16;
}

/* float32's least normal magnitude, 2^-126, as bits. */
#define LMUL_F32_MIN_NORMAL_BITS 0x00800000u

/* What a masked one-add sum (lmul_sdots_fast_ft without the window) saw,
 * merged into r: `least` its least normal magnitude's bits less 2^-126's
 * (at 2^31 or above: none normal, zeros and subnormals having wrapped past
 * every normal one), `most` its largest magnitude, `zeros` whether a zero
 * or subnormal was there. */
static inline void lmul_masked_range_merge(uint32_t least, uint32_t most, int zeros,
                                           lmul_range *r)
{
    const uint64_t min = (uint64_t)least + LMUL_F32_MIN_NORMAL_BITS;
    r->zeros |= zeros;
    if (least < 0x80000000u && min < r->min)
        r->min = min;
    r->max = most > r->max ? most : r->max;
}

/*
 * GEMM packing preparation: dst[r*width + i] = src element i of row r, the
 * rows `src_stride` bytes apart, each `width` contiguous container bit
 * patterns (uint32 or uint64 by the container; src may be dst when rows is 1),
 * prepared: subnormals to zeros of their sign (DAZ), finite values rounded
 * to k bits, NaN and infinity kept; what was seen goes to *range; then
 * `addend` is added modulo 2^width.
 */
typedef void (*lmul_prep_ft)(int64_t rows, int64_t width, const void *src,
                             int64_t src_stride, void *dst, uint64_t addend,
                             const lmul_params *p, lmul_range *range);

/* rows x width float32 elements (rows src_stride bytes apart) copied as
 * they are into dst (rows width apart), with their range as lmul_prep_ft
 * gives it: zeros when one is a zero or subnormal, min the smallest
 * magnitude of the others (UINT64_MAX if none), max the largest. */
typedef void (*lmul_copy_range_ft)(int64_t rows, int64_t width, const void *src,
                                   int64_t src_stride, void *dst, lmul_range *range);

/* What the safe microkernel must handle in a tile, from the two ranges. */
typedef enum lmul_safe_case {
    LMUL_SAFE_FLUSH,            /* zeros and underflow; no infinity, NaN, overflow */
    LMUL_SAFE_FULL              /* anything: every case of docs/contract.md lane by lane */
} lmul_safe_case;

/* What a GEMM microkernel needs besides its two micro-panels. */
typedef struct lmul_gemm_aux {
    const void *alpha, *beta;   /* the container's type; beta 0: C not read */
    uint64_t a_addend;          /* added to A's bits by the packing */
    lmul_safe_case safe_case;   /* for the safe kernel */
    /* for the zero kernel: A's and B's panels as zprep_a and zprep_b made
     * them; NULL where the panel has no zeros (or the level no zprep_a:
     * then a_zeros says whether A's panel has zeros) */
    int a_zeros;
    const void *pa_zero, *pb_zero;
    int zeros_unmasked;         /* zprep_a gave A's zeros a value the zero kernel adds
                                   unmasked (a level with zeros_scale only) */
    int b_zeros;                /* the few-row tile kernels: B's tile has zeros (or
                                   subnormals), whose products, with A's, are +0 */
    const lmul_params *p;
} lmul_gemm_aux;

/*
 * One register tile: C[i + j*ldc] = alpha * sum_p prod(pa[p*MR + i], pb[p*NR + j])
 * + beta * C[i + j*ldc] for i < MR, j < NR, computed as (alpha*acc) + (beta*c),
 * two roundings, so the frame's edge path gives the same bits. pa holds A's
 * bits plus a_addend, pb B's bits, both prepared.
 * The fast kernel's product is one integer add of the packed bits (valid
 * when no operand is zero, subnormal, infinite or NaN and no product leaves
 * the normal range). The zero kernel is valid when, besides, zeros (after
 * DAZ) are present: a product with a zero operand is added as +0 or not at
 * all, which leaves the sum's bits as they are (it starts at +0 and never
 * becomes -0). The safe kernel handles every case of docs/contract.md.
 */
typedef void (*lmul_gemm_ukr_ft)(int64_t kc, const void *pa, const void *pb,
                                 void *c, int64_t ldc, const lmul_gemm_aux *aux);

/* The fast kernel on the first `cols` (< nr) columns of B's panel only, for
 * the edge tiles of a product whose n is not a multiple of nr. */
typedef void (*lmul_gemm_edge_ft)(int64_t kc, int cols, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux);

/* A packed micro-panel (kc steps of `width`) with zeros, prepared once for
 * a level's zero kernel into dst (twice the panel's size), as that kernel
 * documents; a_zero_as: what a zero of A becomes (zprep_a of a level with
 * zeros_scale; 0 otherwise, and always for B). */
typedef void (*lmul_zprep_ft)(int64_t kc, int width, const void *panel, void *dst,
                              uint64_t a_addend, uint64_t a_zero_as);

/* Transposing copy for packing: dst[p*width + i] = src[i*src_stride + p]
 * (src_stride in bytes, elements of the container's width) for p < kc,
 * i < width; width a multiple of 4. */
typedef void (*lmul_tcopy_ft)(int64_t width, int64_t kc, const void *src,
                              int64_t src_stride, void *dst);

/*
 * The inner dimension's chunk: every GEMM path on every level and format sums
 * the products of one chunk of LMUL_GEMM_KC steps (the last one shorter) in
 * k order from +0, then merges it into C (docs/contract.md section 5.1). It
 * is part of the contract, so it is not a per-level block size.
 */
#define LMUL_GEMM_KC 256

/*
 * Few-row product over one chunk of the inner dimension (lmul_gemv.c):
 * acc[i*nb + j] = sum_{p < kc} prod(xa[i*kc + p], w[p*ldw + j]) for i < m,
 * j < nb (nb: the kernel's gemv_nb), each sum from +0 in p order, so it is
 * the blocked microkernel's accumulator bit for bit. xa holds A's prepared
 * bits plus aux->a_addend, w B's prepared bits; lanes of w past the real
 * columns may hold anything (their sums are not used). fast: the one-add
 * product (valid as for the GEMM's fast kernel), with aux->a_zeros that of
 * A's zero elements (lmul_prepared_zero) taken as +0; safe: every case.
 */
typedef void (*lmul_gemv_ukr_ft)(int64_t m, int64_t kc, const uint32_t *xa,
                                 const uint32_t *w, int64_t ldw, float *acc,
                                 const lmul_gemm_aux *aux);

/*
 * The streamed few-row kernels (m <= LMUL_GEMV_STREAM_ROWS) read B's float32
 * bits as they are, unprepared: `fast` then gives the one-add product of the
 * rounded element and merges what it saw into *range (as lmul_prep_ft, but
 * counting a subnormal as a zero), for the caller to check the product was
 * valid (else it computes again with fast = 0: every case, lane by lane).
 * xa as for lmul_gemv_ukr_ft; aux->p rounds B (not A, already rounded).
 *
 * stream (x @ W, W's rows contiguous): acc[i*n + j] += prod(xa[i*ldx + p],
 *     W[p][j]) for p < kc in order, i < m, j < n; row p of W at w + p*rs_w
 *     (bytes), its elements float32 (kind NONE), bfloat16 (BF16) or float8 in
 *     format f (F8: fast only and without rounding; the caller widens for
 *     the other cases).
 * dots (x @ W.T, W's rows the columns of B): acc[i*R + j] = the sum from
 *     +0, in p order, of prod(xa[i*kc + p], W[j][p]) for i < m, j < rows
 *     <= R (the kernel's gemv_dots_rows); row j of W at w + j*rs_w. With
 *     LMUL_FAST_MASKED the products of W's zeros and subnormals are +0 as
 *     well as A's, and *range is W's normal magnitudes with `zeros` set
 *     where W had any (lmul_masked_range_merge).
 */
#define LMUL_GEMV_STREAM_ROWS 4

/* Bytes per element of B read by a stream kernel in format `kind`. */
static inline int64_t lmul_widen_bytes(lmul_widen_kind kind)
{
    return kind == LMUL_WIDEN_F8 ? 1 : kind == LMUL_WIDEN_BF16 ? 2 : 4;
}

/* The cache line `ahead` bytes past p, into L2. The address is formed as
 * an integer: it may lie past the array (past W's last row, say), where it
 * is only prefetched, never read. Always inlined: GCC finds a call to it
 * free of effects, and drops it, where it is not. */
static inline __attribute__((always_inline)) void lmul_prefetch_l2(const void *p,
                                                                   int64_t ahead)
{
    __builtin_prefetch((const void *)((uintptr_t)p + (uintptr_t)ahead), 0, 2);
}

/*
 * A stream kernel's prefetch, once per cache line of its rows: where the
 * byte `at` of its rows begins a line, that line of each of its `rows` rows
 * of W, `below` bytes further on (the next group of rows), into L2. The
 * hardware prefetchers learn each new row's stream afresh (and stop at each
 * 4 KiB page, a whole row of 4096 float8 weights): the next group, asked
 * for while this one is computed, is in L2 when its turn comes (a 4096 x
 * 4096 GEMV from DRAM on two threads: 1.05-1.3x, every format, both levels).
 */
static inline __attribute__((always_inline)) void lmul_prefetch_rows_below(
    int rows, const char *const *row, int64_t below, int64_t at)
{
    if (at % 64 != 0)
        return;
    for (int q = 0; q < rows; q++)
        lmul_prefetch_l2(row[q] + at, below);
}

/* rows[j] = row j of `items` rows `stride` bytes apart from base, for
 * j < count, the last row repeated past `items`: a kernel's lanes past the
 * end read real elements, and their results are not kept. */
static inline void lmul_item_rows(const char *base, int64_t stride, int64_t items,
                                  int count, const uint32_t **rows)
{
    for (int j = 0; j < count; j++)
        rows[j] = (const uint32_t *)(base + (j < items ? j : items - 1) * stride);
}

/* Dots in lanes: sums[j] = the sum from +0, in p order, of lmul(x_j[p],
 * y_j[p]) for p < kc, j < items <= the kernel's gemv_lanes; x_j at
 * x + j*rs_x (bytes), y_j alike, float32 elements contiguous. Every case of
 * docs/contract.md (p rounds both operands). */
typedef void (*lmul_sdots_ft)(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                              const char *y, int64_t rs_y, float *sums,
                              const lmul_params *p);
/* The same dots by the one-add sum alone, p rounding nothing. With
 * `window`: 1 when every element of x and y lay in the one-add window (the
 * sums are the dots'), else 0. Without: 1, the products of a zero or
 * subnormal operand taken as +0 (docs/contract.md 5.1 step 3), and the
 * ranges of x and y in *rx and *ry (or of both together in each; their least
 * magnitude the least normal one, lmul_masked_range_merge): the sums are the
 * dots' when lmul_ranges_masked_one_add(rx, ry). Otherwise they are garbage
 * (and may have raised flags). */
typedef int (*lmul_sdots_fast_ft)(int64_t kc, int64_t items, const char *x,
                                  int64_t rs_x, const char *y, int64_t rs_y,
                                  float *sums, const lmul_params *p, int window,
                                  lmul_range *rx, lmul_range *ry);
/* A stream or dots kernel's `fast`: 0 every case; 1 the one-add product alone;
 * LMUL_FAST_MASKED the one-add product, that of A's zero elements (prepared:
 * lmul_prepared_zero) taken as +0 (docs/contract.md 5.1 step 3). */
#define LMUL_FAST_MASKED 2

/* Whether A's prepared element e (its bits plus addend, subnormals flushed
 * to zero) is a zero. */
static inline int lmul_prepared_zero(uint32_t e, uint64_t addend)
{
    return ((e - (uint32_t)addend) & 0x7FFFFFFFu) == 0;
}

typedef void (*lmul_gemv_stream_ft)(int64_t m, int64_t kc, int64_t n,
                                    const uint32_t *xa, int64_t ldx,
                                    const char *w, int64_t rs_w,
                                    lmul_widen_kind kind, const lmul_fp8_format *f,
                                    float *acc, lmul_range *range,
                                    const lmul_gemm_aux *aux, int fast);
typedef void (*lmul_gemv_dots_ft)(int64_t m, int64_t kc, int64_t rows,
                                  const uint32_t *xa, const char *w, int64_t rs_w,
                                  float *acc, lmul_range *range,
                                  const lmul_gemm_aux *aux, int fast);

typedef struct lmul_gemm_kernels {
    int mr, nr;                 /* register tile */
    int mc, nc;                 /* cache blocks; mc % mr == 0, nc % nr == 0 */
    lmul_gemm_ukr_ft fast, zeros, safe;
    lmul_gemm_edge_ft fast_cols;   /* NULL: edge tiles run `fast` on the whole panel */
    lmul_prep_ft prep;
    lmul_copy_range_ft copy_range32;   /* NULL: none (the few-row tiles are prepared) */
    lmul_tcopy_ft tcopy;        /* NULL: the frame's element copy */
    int gemv_nb;                /* columns of the few-row kernels; 0: none */
    lmul_gemv_ukr_ft gemv_fast, gemv_safe;
    int gemv_lanes;             /* dots per sdots call */
    lmul_gemv_stream_ft gemv_stream;
    lmul_gemv_dots_ft gemv_dots;
    int gemv_dots_rows;         /* rows of W per gemv_dots call */
    lmul_sdots_ft sdots;
    lmul_sdots_fast_ft sdots_fast;   /* NULL: sdots alone */
    int sdots_items;            /* dots per sdots_fast call, a multiple of gemv_lanes */
    int zeros_scale;            /* binades by which the zero kernel scales products
                                   (float32 AVX2, see its kernel), else 0 */
    lmul_zprep_ft zprep_a, zprep_b;   /* NULL: the zero kernel reads A or B
                                         as packed */
} lmul_gemm_kernels;

/*
 * Tiny float32 products of a batch (lmul_gemm_batch.c's direct items), each
 * whole, by a level's vector loops (kernels/<arch>/lmul_gemm_small_<arch>.c).
 * Item i has A, B and C at i * bs_a, i * bs_b, i * bs_c bytes from the
 * first; strides in bytes; A's and C's columns are contiguous (rs_a = rs_c =
 * 4), and B's columns (rs_b = 4) or rows (cs_b = 4); m, n at most
 * LMUL_SMALL_MAX, k at most LMUL_SMALL_MAX_K.
 */
#define LMUL_SMALL_MAX 32
#define LMUL_SMALL_MAX_K 64

typedef struct lmul_small_batch {
    int64_t m, n, k;
    const char *a, *b;
    char *c;
    int64_t cs_a, rs_b, cs_b, cs_c;
    int64_t bs_a, bs_b, bs_c;
    float alpha, beta;              /* beta 0: C is not read */
    uint32_t a_addend;
    /* one-add products (lmul_gemm_one_add_valid): with no magnitude zero,
     * subnormal, infinite or NaN, a + b < max_sum and a + b >= min_sum for
     * the prepared magnitudes of A and B */
    uint64_t min_sum, max_sum;
    lmul_params p;
} lmul_small_batch;

/* Items lo .. hi - 1 in turn: the item's A and B prepared as the packing
 * prepares them (DAZ, rounding to k, A plus a_addend); if every product is
 * a one-add one, C = (alpha * sum) + (beta * C), each element's sum in k
 * order from +0 (the blocked GEMM's bits). Returns the first item that is
 * not wholly one-add (its C untouched), hi when there is none. */
typedef int64_t (*lmul_sgemm_small_ft)(const lmul_small_batch *sb, int64_t lo,
                                       int64_t hi);

/* Whether an item with these raw (sign-less, unprepared) magnitude extremes
 * of A and B has only one-add products; prepared magnitudes are the raw
 * ones rounded, and rounding is monotone, so the extremes round alike. */
static inline uint32_t lmul_small_round(uint32_t mag, const lmul_params *p)
{
    if (p->round_shift == 0)
        return mag;
    const uint32_t lowest_kept = (mag >> p->round_shift) & 1;
    return (mag + (uint32_t)p->round_add + lowest_kept) & (uint32_t)p->round_mask;
}

static inline int lmul_small_one_add(const lmul_small_batch *sb, uint32_t a_min,
                                     uint32_t a_max, uint32_t b_min, uint32_t b_max)
{
    const uint32_t min_normal = 0x00800000u, inf = 0x7F800000u;
    if (a_min < min_normal || b_min < min_normal || a_max >= inf || b_max >= inf)
        return 0;
    a_max = lmul_small_round(a_max, &sb->p);
    b_max = lmul_small_round(b_max, &sb->p);
    if (a_max >= inf || b_max >= inf)
        return 0;
    const uint64_t lo = (uint64_t)lmul_small_round(a_min, &sb->p)
                        + lmul_small_round(b_min, &sb->p);
    return (uint64_t)a_max + b_max < sb->max_sum && lo >= sb->min_sum;
}

/* What one instruction-set level provides (registered in config/). */
typedef struct lmul_kernels {
    lmul_isa isa;
    lmul_smul_ker_ft smul;
    lmul_dmul_ker_ft dmul;
    lmul_hmul_ker_ft hmul;
    lmul_bmul_ker_ft bmul;
    lmul_f8mul_ker_ft f8mul;
    lmul_widen_ft widen;
    lmul_gemm_kernels sgemm;
    lmul_gemm_kernels dgemm;
    lmul_sgemm_small_ft sgemm_small;  /* NULL: the frame's portable direct loop */
} lmul_kernels;

extern const lmul_kernels lmul_kernels_scalar;
#if LMUL_X86
extern const lmul_kernels lmul_kernels_avx2;
extern const lmul_kernels lmul_kernels_avx512;
#endif

/* The kernels of the instruction set in use (frame/lmul_dispatch.c). */
const lmul_kernels *lmul_active_kernels(void);

/*
 * The floating-point flags a GEMM or dot product reports to its caller, as
 * numpy.matmul does: overflow and invalid (inf - inf) of its sums, wherever
 * they were computed (lmul_parallel_run hands a worker's flags to the caller).
 * Whatever else it raises internally (inexact, underflow, the flags of
 * its bit manipulations) is dropped; the caller's own flags are kept.
 */
#define LMUL_FP_REPORTED (FE_OVERFLOW | FE_INVALID)

typedef struct lmul_fp_scope {
    fexcept_t saved;
} lmul_fp_scope;

static inline void lmul_fp_enter(lmul_fp_scope *s)
{
    fegetexceptflag(&s->saved, FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
}

static inline void lmul_fp_leave(const lmul_fp_scope *s)
{
    const int raised = fetestexcept(LMUL_FP_REPORTED);
    fesetexceptflag(&s->saved, FE_ALL_EXCEPT);
    if (raised)
        feraiseexcept(raised);
}

/* Workspace (frame/lmul_workspace.c): LMUL_WORKSPACE_ALIGN-aligned, any
 * size, freed with lmul_workspace_free (NULL: nothing); NULL when out of
 * memory (or made to fail for a test: LMUL_SIMD_TEST_FAIL_ALLOC=1 in the
 * environment at load). Freed blocks are kept for the next calls. */
#define LMUL_WORKSPACE_ALIGN 64
void *lmul_workspace_alloc(size_t bytes);
void lmul_workspace_free(void *mem);

/* Threads (frame/lmul_threads.c): runs fn(arg, t) for t = 0..nt-1, the
 * calling thread taking t = 0; a task no worker can take runs in the caller.
 * The LMUL_FP_REPORTED flags a worker's task raises are raised in the caller. */
typedef void (*lmul_task_ft)(void *arg, int t);
void lmul_parallel_run(int nt, lmul_task_ft fn, void *arg);

/* Work shared out as the threads ask for it, not in equal parts fixed in
 * advance: a thread that shares its core (another library's spinning
 * thread, another process) takes less, and the run does not wait for it.
 * [0, len) in claims of `grain` (the last may be short); the bits never
 * depend on which thread computes a claim. */
typedef struct lmul_claims {
    _Atomic int64_t next;
    int64_t len, grain;
} lmul_claims;

static inline void lmul_claims_init(lmul_claims *c, int64_t len, int64_t grain)
{
    atomic_init(&c->next, 0);
    c->len = len;
    c->grain = grain;
}

/* The next claim [*lo, *hi), or 0 when all is taken. */
static inline int lmul_claim(lmul_claims *c, int64_t *lo, int64_t *hi)
{
    const int64_t at = atomic_fetch_add_explicit(&c->next, c->grain, memory_order_relaxed);
    if (at >= c->len)
        return 0;
    *lo = at;
    *hi = at + c->grain < c->len ? at + c->grain : c->len;
    return 1;
}

#endif /* LMUL_INTERNAL_H */
