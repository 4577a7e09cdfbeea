/* The GEMM frame's problem description, shared by the API entry points
 * (lmul_gemm.c) and the blocked driver (lmul_gemm_driver.c). */
#ifndef LMUL_GEMM_FRAME_H
#define LMUL_GEMM_FRAME_H

#include "lmul_internal.h"
#include "../kernels/scalar/lmul_half_scalar.h"

/*
 * How the elements of an operand are stored. CONTAINER: the container's own
 * float32 or float64. The others are narrower than float32 and live in the
 * float32 container: inputs widen exactly as they are packed (or read), a
 * float16 or bfloat16 C is summed in float32 and narrowed once at the end.
 */
typedef enum lmul_elem_format {
    LMUL_ELEM_CONTAINER,
    LMUL_ELEM_HALF,                 /* IEEE binary16 bit patterns */
    LMUL_ELEM_BFLOAT16,
    LMUL_ELEM_E4M3FN,               /* float8, inputs only */
    LMUL_ELEM_E5M2
} lmul_elem_format;

/* Bytes of one element; container_size for LMUL_ELEM_CONTAINER. */
static inline size_t lmul_elem_size(lmul_elem_format f, size_t container_size)
{
    switch (f) {
    case LMUL_ELEM_CONTAINER: return container_size;
    case LMUL_ELEM_HALF:
    case LMUL_ELEM_BFLOAT16: return sizeof(uint16_t);
    default: return sizeof(uint8_t);
    }
}

/* The float8 format's description, NULL for the others. */
static inline const lmul_fp8_format *lmul_elem_fp8(lmul_elem_format f)
{
    if (f == LMUL_ELEM_E4M3FN)
        return &lmul_fp8_e4m3fn;
    return f == LMUL_ELEM_E5M2 ? &lmul_fp8_e5m2 : NULL;
}

/* The float32 bits of a narrow element at e, exactly. */
static inline uint32_t lmul_elem_widen(lmul_elem_format f, const char *e)
{
    const lmul_fp8_format *fp8 = lmul_elem_fp8(f);
    if (fp8 != NULL)
        return lmul_fp8_to_float_bits(*(const uint8_t *)e, fp8);
    uint16_t h;
    memcpy(&h, e, sizeof h);
    return f == LMUL_ELEM_HALF ? lmul_half_to_float_bits(h)
                               : lmul_bfloat16_to_float_bits(h);
}

/* A float32 value into a float16 or bfloat16 element at e, rounded to
 * nearest even. */
static inline void lmul_elem_narrow(lmul_elem_format f, float v, char *e)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    const uint16_t h = f == LMUL_ELEM_HALF ? lmul_float_bits_to_half(bits)
                                           : lmul_float_bits_to_bfloat16(bits);
    memcpy(e, &h, sizeof h);
}

/* A narrow element at e as a float. */
static inline float lmul_elem_read(lmul_elem_format f, const char *e)
{
    const uint32_t bits = lmul_elem_widen(f, e);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* An operand packed once as the A side of the blocked loops
 * (lmul_gemm_packed.c): for each chunk of kc steps of the inner dimension,
 * the micro-panels of mr elements over all `len` of them, prepared as
 * pack_a prepares them, and their ranges. */
typedef struct lmul_gemm_prepacked lmul_gemm_prepacked;

/* m*n*k below this: one thread. */
#define LMUL_GEMM_MIN_WORK_PER_THREAD (INT64_C(1) << 21)

static inline int64_t lmul_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t lmul_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* bytes rounded up to the workspace alignment, so that blocks carved from one
 * lmul_workspace_alloc stay aligned */
static inline size_t lmul_align_up(size_t bytes)
{
    return (bytes + LMUL_WORKSPACE_ALIGN - 1) / LMUL_WORKSPACE_ALIGN * LMUL_WORKSPACE_ALIGN;
}

/* a * b, saturating at INT64_MAX: shapes of broadcast views can be huge with
 * no memory behind them, and signed overflow is undefined. a, b >= 0. */
static inline int64_t lmul_mul_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

/* How one input operand is stored: its format and, for float8, the float32
 * bits of its 256 codes (widened once per call, for the packing), else NULL. */
typedef struct lmul_operand {
    lmul_elem_format in;
    const uint32_t *fp8_table;
} lmul_operand;

/* into = what into and r saw together. */
static inline void lmul_range_merge(lmul_range *into, lmul_range r)
{
    into->min = r.min < into->min ? r.min : into->min;
    into->max = r.max > into->max ? r.max : into->max;
    into->zeros |= r.zeros;
}

/* C = alpha * A B + beta * C, m, n, k > 0, strides in bytes. */
typedef struct lmul_gemm_problem {
    const lmul_gemm_kernels *ker;
    const lmul_container *container;
    size_t elsize;                  /* 4 (float32 container) or 8 (float64) */
    lmul_operand op_a, op_b;        /* not CONTAINER: widened when packed or
                                       streamed (elsize 4); A and B may differ */
    lmul_elem_format out;           /* C: CONTAINER, HALF or BFLOAT16 (then
                                       summed in a float32 block, rounded once) */
    int64_t m, n, k;
    const char *a;
    int64_t rs_a, cs_a;
    const char *b;
    int64_t rs_b, cs_b;
    char *c;
    int64_t rs_c, cs_c;
    const void *alpha, *beta;       /* float or double, by elsize */
    lmul_params params;             /* rounding to k bits, for the packing */
    const lmul_gemm_prepacked *packed_a;  /* NULL, or A packed already (then
                                       a, rs_a, cs_a are unused) */
    lmul_sgemm_small_ft small;      /* the level's, for float32; or NULL */
} lmul_gemm_problem;

/* lmul_nan.c: whether the sums of the call in progress may hold a NaN that
 * is not canonical (the invalid flag raised, or beta != 0: an old C met them;
 * beta NULL: none), and the step that makes every NaN of C canonical. */
int lmul_sums_may_hold_odd_nans(size_t elsize, const void *beta);
void lmul_canonical_nans(size_t elsize, lmul_elem_format out, char *c, int64_t m,
                         int64_t n, int64_t rs_c, int64_t cs_c);

/* m * n * k of a problem, saturating. */
static inline int64_t lmul_gemm_work(const lmul_gemm_problem *pr)
{
    return lmul_mul_sat(lmul_mul_sat(pr->m, pr->n), pr->k);
}

/* One thread's packing buffers, sized for a problem (lmul_gemm_driver.c). */
typedef struct lmul_gemm_workspace lmul_gemm_workspace;
lmul_gemm_workspace *lmul_gemm_workspace_new(const lmul_gemm_problem *pr);
void lmul_gemm_workspace_free(lmul_gemm_workspace *ws);

/* Makes C's contiguous dimension the microkernels' (C^T = B^T A^T); 1 if
 * it transposed the problem. */
int lmul_gemm_orient(lmul_gemm_problem *pr);

/* An oriented problem, whole, in the calling thread. */
void lmul_gemm_run_serial(const lmul_gemm_problem *pr, lmul_gemm_workspace *ws);

/* Packs len elements (rows of A, or columns of B) by kc steps into
 * micro-panels of width, prepared, with addend; a range per panel. */
void lmul_gemm_pack_block(const lmul_gemm_problem *pr, lmul_operand op, char *dst,
                          const char *src, int64_t len, int64_t width, int64_t kc,
                          int64_t s_idx, int64_t s_k, uint64_t addend,
                          lmul_range *ranges);

/* offset - bias modulo 2^width: the packing adds it to A; with it in A,
 * a + b is the L-Mul product. */
uint64_t lmul_gemm_a_addend(const lmul_gemm_problem *pr);

/* -1: the one-add kernel is valid for operands in ranges a and b (no zero,
 * subnormal, infinity or NaN, every product normal); else the lmul_safe_case
 * the safe kernel must handle. */
int lmul_gemm_tile_case(const lmul_gemm_problem *pr, lmul_range a, lmul_range b);

/* Whether every product of operands in ranges a and b (of container c,
 * parameters p) is the one-add sum or, where an operand is zero or
 * subnormal, +0 (as a masked one-add sum takes it): none infinite or NaN,
 * every product of normal operands normal. */
int lmul_ranges_masked_one_add(const lmul_container *c, const lmul_params *p,
                               lmul_range a, lmul_range b);

/* The panels of a pre-packed A from element ic (a multiple of mr) at step pc
 * (a multiple of kc), and their ranges. */
void lmul_gemm_prepacked_block(const lmul_gemm_prepacked *p, int64_t ic, int64_t pc,
                               char **panels, lmul_range **ranges);

/* gemm_strided of lmul_gemm.c over `count` problems, the i-th with A, B and
 * C at i*bs_a, i*bs_b, i*bs_c bytes from the first. */
typedef struct lmul_gemm_batch {
    int64_t count, bs_a, bs_b, bs_c;
} lmul_gemm_batch;

/* Checks and runs C = alpha A B + beta C (lmul_gemm.c); in_a, in_b, out:
 * how A, B and C are stored; batch NULL for one product. */
int lmul_gemm_strided(const lmul_container *ct, size_t elsize, lmul_elem_format in_a,
                      lmul_elem_format in_b, lmul_elem_format out, int64_t m,
                      int64_t n, int64_t kdim, const void *alpha, const void *a,
                      int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b,
                      int64_t cs_b, const void *beta, void *c, int64_t rs_c,
                      int64_t cs_c, int k, const lmul_gemm_batch *batch);

/* table = the float32 bits of every code of a float8 `in`; NULL (table
 * unused) for the other formats (lmul_gemm.c). */
const uint32_t *lmul_gemm_fp8_codes(lmul_elem_format in, uint32_t table[256]);

/* A public lmul_format as the frame's: container, element size, formats of
 * the inputs and of C; LMUL_ERR_ARG for an unknown one. */
int lmul_format_describe(lmul_format f, const lmul_container **ct, size_t *elsize,
                         lmul_elem_format *in, lmul_elem_format *out);

/* Runs a validated batch (lmul_gemm_batch.c); LMUL_OK or LMUL_ERR_NOMEM. */
int lmul_gemm_run_batch(lmul_gemm_problem *pr, const lmul_gemm_batch *batch);

/* Runs a validated problem; LMUL_OK or LMUL_ERR_NOMEM (then C is untouched). */
int lmul_gemm_run(lmul_gemm_problem *pr);

/* Shared by the blocked driver and the few-row path (lmul_gemv.c). */

/* C^T = B^T A^T: the same problem with A and B swapped and transposed
 * (L-Mul commutes, so every element keeps its bits). */
void lmul_gemm_transpose(lmul_gemm_problem *pr);

/* Part idx of `parts` of [0, len) as even as whole units allow (the last
 * unit may be short): [*lo, *hi). Threads share out work by it. */
void lmul_split(int64_t len, int64_t unit, int parts, int idx, int64_t *lo, int64_t *hi);

/* The largest of lmul_split's parts: whole units, at least one. */
static inline int64_t lmul_even_share(int64_t len, int64_t unit, int parts)
{
    const int64_t units = (len + unit - 1) / unit;
    const int64_t share = (units + parts - 1) / parts * unit;
    return share > unit ? share : unit;
}

/* C = (alpha * t) + (beta * C) for an mr x nr tile t (t[i + j*ldt]), C's
 * element (i, j) at c + i*rs + j*cs: the microkernels' two roundings. */
void lmul_merge_f32(const float *t, int64_t ldt, char *c, int64_t mr, int64_t nr,
                    int64_t rs, int64_t cs, float alpha, float beta);

/* A block of a narrow C (mc x nc, format fmt) and its float32 sums in acc,
 * columns ld apart; passed by value, so the loops keep it in registers. */
typedef struct lmul_narrow_block {
    lmul_elem_format fmt;
    char *c;
    int64_t rs, cs, mc, nc;
    float *acc;
    int64_t ld;
} lmul_narrow_block;

/* acc = beta * C (beta 0 does not read C); C = acc rounded to C's format once. */
void lmul_narrow_block_load(lmul_narrow_block b, float beta);
void lmul_narrow_block_store(lmul_narrow_block b);

/* The few-row path (m or n at most LMUL_GEMV_MAX_ROWS, the long operand
 * contiguous along one dimension): LMUL_OK, LMUL_ERR_NOMEM, or
 * LMUL_GEMV_NOT_MINE when the problem is not of its class. Same bits as
 * lmul_gemm_run. */
#define LMUL_GEMV_MAX_ROWS 16
#define LMUL_GEMV_NOT_MINE 1
int lmul_gemv_run(const lmul_gemm_problem *pr);

/* batch dot products in the float32 container: r[b*bs_r] = sum_i lmul(x_b[i],
 * y_b[i]) with x_b[i] at x + b*bs_x + i*s_x (bytes), y alike, n > 0,
 * batch > 0; r float32 (out CONTAINER) or float16 / bfloat16, rounded once.
 * The blocked GEMM's summation order (lmul_dot.c). */
typedef struct lmul_dot_problem {
    const lmul_gemm_kernels *ker;
    lmul_operand op_x, op_y;
    lmul_elem_format out;
    int64_t batch, n;
    const char *x;
    int64_t bs_x, s_x;
    const char *y;
    int64_t bs_y, s_y;
    char *r;
    int64_t bs_r;
    lmul_params params;
} lmul_dot_problem;

/* LMUL_OK or LMUL_ERR_NOMEM (nothing written). */
int lmul_dot_run(const lmul_dot_problem *d);

#endif
