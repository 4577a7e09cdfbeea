/*
 * The blocked GEMM of Goto and BLIS: five loops around a register-tile
 * microkernel. jc steps over NC columns of C, pc over KC of the inner
 * dimension (a KC x NC block of B is packed), ic over MC rows (an MC x KC
 * block of A is packed), jr and ir over the NR x MR register tiles.
 *
 * Packing copies each micro-panel contiguously and prepares it once per
 * element (DAZ, rounding to k bits, and for A the offset - bias folded in),
 * recording the range of its magnitudes; from the two ranges each tile
 * picks the one-add kernel, the zero kernel (zeros, but no product can
 * under- or overflow) or the safe one.
 *
 * Threads split C into rectangles over M and N, never K, each thread with
 * its own packed blocks, so every element of C is computed by the same
 * operations in the same order whatever the thread count.
 */
#include <fenv.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

#define LINE 64                                   /* cache line bytes */
#define LMUL_MAX_TILE 64                          /* largest mr or nr */
#define PACK_STEPS 32                             /* steps per direct prep */

#if defined(__GNUC__)
#  define PREFETCH(p) __builtin_prefetch(p)
#  define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#  define PREFETCH(p) ((void)(p))
#  define ALWAYS_INLINE inline
#endif

/* The microkernel a tile takes, and the index of its count. */
enum { KER_FAST, KER_ZEROS, KER_SAFE, KER_COUNT };

static _Atomic uint64_t tiles_by_kernel[KER_COUNT];

typedef struct lmul_gemm_workspace {
    void *mem;
    char *a, *b, *tile;
    char *az, *bz;              /* panels with zeros, as ker->zprep_a/b made them */
    lmul_range *ra, *rb;
    char *cbuf;                 /* narrow C: an MC x NC float32 block */
    uint64_t a_zero_as;         /* what zprep_a makes A's zeros, for this B block */
} workspace;

typedef struct region {
    int64_t m0, m1, n0, n1;
} region;

typedef struct run_state {
    const lmul_gemm_problem *pr;
    const region *regions;
    workspace *ws;
} run_state;

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

/* ---------------------------------------------------------------- packing */

/* dst[p*width + i] = element i (the last real one repeated past `real`) at
 * step p of the inner dimension; narrow sources (`in`) widen to float32 bits,
 * float8 ones by `table`, the bits of their 256 codes. Inlined for each
 * constant elsize and `in`. */
static ALWAYS_INLINE void pack_copy(char *dst, const char *src, int64_t real,
                                    int64_t width, int64_t kc, int64_t s_idx,
                                    int64_t s_k, size_t elsize, lmul_elem_format in,
                                    const uint32_t *table)
{
    const char *rows[LMUL_MAX_TILE];
    for (int64_t i = 0; i < width; i++)
        rows[i] = src + (i < real ? i : real - 1) * s_idx;
    const int64_t line_steps = LINE / (int64_t)lmul_elem_size(in, elsize);
    for (int64_t p = 0; p < kc; p++, dst += width * elsize) {
        if (p % line_steps == 0)   /* four lines ahead when the steps are contiguous */
            for (int64_t i = 0; i < width; i++)
                PREFETCH(rows[i] + (p + 4 * line_steps) * s_k);
        for (int64_t i = 0; i < width; i++) {
            if (in != LMUL_ELEM_CONTAINER) {
                const char *e = rows[i] + p * s_k;
                const uint32_t bits = table != NULL ? table[*(const uint8_t *)e]
                                                    : lmul_elem_widen(in, e);
                memcpy(dst + i * elsize, &bits, sizeof bits);
            } else {
                memcpy(dst + i * elsize, rows[i] + p * s_k, elsize);
            }
        }
    }
}

/* pack_copy from a narrow format `in`, one copy per format so each widens
 * inline; float8 by `table`, the float32 bits of its 256 codes. */
static void pack_widening(char *dst, const char *src, int64_t real, int64_t width,
                          int64_t kc, int64_t s_idx, int64_t s_k, lmul_elem_format in,
                          const uint32_t *table)
{
    if (in == LMUL_ELEM_HALF)
        pack_copy(dst, src, real, width, kc, s_idx, s_k, 4, LMUL_ELEM_HALF, NULL);
    else if (in == LMUL_ELEM_BFLOAT16)
        pack_copy(dst, src, real, width, kc, s_idx, s_k, 4, LMUL_ELEM_BFLOAT16, NULL);
    else
        pack_copy(dst, src, real, width, kc, s_idx, s_k, 4, in, table);
}

/* A gathered micro-panel, prepared in place. */
static void pack_panel(const lmul_gemm_problem *pr, lmul_operand op, char *dst,
                       const char *src, int64_t real, int64_t width, int64_t kc,
                       int64_t s_idx, int64_t s_k, uint64_t addend, lmul_range *range)
{
    const lmul_tcopy_ft tcopy = pr->ker->tcopy;
    const int transposing = real == width && width % 4 == 0 && s_k == (int64_t)pr->elsize;
    /* constant sizes let memcpy become one move */
    if (op.in != LMUL_ELEM_CONTAINER)
        pack_widening(dst, src, real, width, kc, s_idx, s_k, op.in, op.fp8_table);
    else if (tcopy != NULL && transposing)
        tcopy(width, kc, src, s_idx, dst);
    else if (pr->elsize == 4)
        pack_copy(dst, src, real, width, kc, s_idx, s_k, 4, LMUL_ELEM_CONTAINER, NULL);
    else
        pack_copy(dst, src, real, width, kc, s_idx, s_k, 8, LMUL_ELEM_CONTAINER, NULL);
    pr->ker->prep(1, width * kc, dst, 0, dst, addend, &pr->params, range);
}

/*
 * Packs `len` elements (rows of A or columns of B) by `kc` steps into
 * micro-panels of `width`. When the elements of a step are contiguous, whole
 * panels are prepared straight from the source, a few steps at a time across
 * all panels so that each source row is read once, in order; the others,
 * and a last panel that needs padding, are gathered first.
 */
void lmul_gemm_pack_block(const lmul_gemm_problem *pr, lmul_operand op, char *dst,
                          const char *src, int64_t len, int64_t width, int64_t kc,
                          int64_t s_idx, int64_t s_k, uint64_t addend, lmul_range *ranges)
{
    const size_t es = pr->elsize;
    const int64_t direct = s_idx == (int64_t)es && op.in == LMUL_ELEM_CONTAINER
        ? len / width * width : 0;
    for (int64_t r = 0; r < direct; r += width)
        ranges[r / width] = (lmul_range){UINT64_MAX, 0, 0};
    for (int64_t p0 = 0; p0 < kc && direct > 0; p0 += PACK_STEPS) {
        const int64_t steps = lmul_min64(PACK_STEPS, kc - p0);
        for (int64_t p = p0 + PACK_STEPS; p < lmul_min64(p0 + 2 * PACK_STEPS, kc); p++)
            for (int64_t b = 0; b < direct * (int64_t)es; b += LINE)
                PREFETCH(src + p * s_k + b);     /* the next steps' rows */
        for (int64_t r = 0; r < direct; r += width) {
            lmul_range got;
            pr->ker->prep(steps, width, src + r * s_idx + p0 * s_k, s_k,
                          dst + (r * kc + p0 * width) * es, addend, &pr->params, &got);
            lmul_range_merge(&ranges[r / width], got);
        }
    }
    for (int64_t r = direct; r < len; r += width)
        pack_panel(pr, op, dst + r * kc * es, src + r * s_idx, lmul_min64(width, len - r),
                   width, kc, s_idx, s_k, addend, &ranges[r / width]);
}

/* offset - bias modulo 2^width: with it in A, a + b is the L-Mul product. */
uint64_t lmul_gemm_a_addend(const lmul_gemm_problem *pr)
{
    const uint64_t v = pr->params.offset - pr->container->bias;
    return pr->elsize == 4 ? (uint32_t)v : v;
}

/* The panels of a packed block that have zeros, prepared by zprep into dst. */
static void zprep_block(const lmul_gemm_problem *pr, lmul_zprep_ft zprep,
                        const char *packed, char *dst, int64_t len, int width,
                        int64_t kc, const lmul_range *ranges, uint64_t a_zero_as)
{
    if (zprep == NULL)
        return;
    const int64_t panel = kc * width * (int64_t)pr->elsize;
    for (int64_t r = 0; r < len; r += width)
        if (ranges[r / width].zeros)
            zprep(kc, width, packed + r / width * panel, dst + r / width * 2 * panel,
                  lmul_gemm_a_addend(pr), a_zero_as);
}

#define TINY_BELOW 0x26800000u  /* 2^-50: times 2^-100, below half the least subnormal */

/* What A's zeros become for a level's zero kernel with zeros_scale (see the
 * AVX2 one): with B's block of non-zero magnitudes [lo, hi], the value z
 * that puts z + b + 2^scale in [2^-126, 2^-50) for each of them, when it
 * and z - a_addend (a zero B's) are finite and the rounding is to nearest;
 * else 0 (the kernel masks). */
static uint64_t a_zero_as(const lmul_gemm_problem *pr, lmul_range b_block)
{
    const lmul_container *c = pr->container;
    const uint64_t min_normal = UINT64_C(1) << c->P;
    if (pr->elsize != 4 || b_block.min == UINT64_MAX
        || b_block.max - b_block.min >= TINY_BELOW - min_normal
        || fegetround() != FE_TONEAREST)
        return 0;
    const uint32_t z = (uint32_t)(min_normal - b_block.min
                                  - ((uint64_t)pr->ker->zeros_scale << c->P));
    const uint32_t with_zero_b = z - (uint32_t)lmul_gemm_a_addend(pr);
    return (z & c->inf) == c->inf || (with_zero_b & c->inf) == c->inf ? 0 : z;
}

/* A pre-packed A (lmul_gemm_packed.c) is pointed to, not packed. */
static void pack_a(const lmul_gemm_problem *pr, workspace *ws, int64_t ic,
                   int64_t mc, int64_t pc, int64_t kc)
{
    if (pr->packed_a != NULL)
        lmul_gemm_prepacked_block(pr->packed_a, ic, pc, &ws->a, &ws->ra);
    else
        lmul_gemm_pack_block(pr, pr->op_a, ws->a, pr->a + ic * pr->rs_a + pc * pr->cs_a,
                             mc, pr->ker->mr, kc, pr->rs_a, pr->cs_a,
                             lmul_gemm_a_addend(pr), ws->ra);
    zprep_block(pr, pr->ker->zprep_a, ws->a, ws->az, mc, pr->ker->mr, kc, ws->ra,
                ws->a_zero_as);
}

static void pack_b(const lmul_gemm_problem *pr, workspace *ws, int64_t pc,
                   int64_t kc, int64_t jc, int64_t nc)
{
    lmul_gemm_pack_block(pr, pr->op_b, ws->b, pr->b + pc * pr->rs_b + jc * pr->cs_b, nc, pr->ker->nr,
               kc, pr->cs_b, pr->rs_b, 0, ws->rb);
    zprep_block(pr, pr->ker->zprep_b, ws->b, ws->bz, nc, pr->ker->nr, kc, ws->rb, 0);
    ws->a_zero_as = 0;
    if (pr->ker->zeros_scale != 0) {
        lmul_range block = {UINT64_MAX, 0, 0};
        for (int64_t j = 0; j < nc; j += pr->ker->nr)
            lmul_range_merge(&block, ws->rb[j / pr->ker->nr]);
        ws->a_zero_as = a_zero_as(pr, block);
    }
}

/* ---------------------------------------------------------------- tiles */

/* a + b + offset >= bound, with UINT64_MAX (no value) above every bound. */
static int sum_reaches(uint64_t a, uint64_t b, uint64_t offset, uint64_t bound)
{
    if (a == UINT64_MAX || b == UINT64_MAX)
        return 1;
    return a + b + offset >= bound;
}

/* The kernel for products of operands in ranges a and b of container c:
 * one-add (no zero, subnormal, infinity or NaN, every product normal),
 * zeros (the same with zeros), or safe, then *safe_case says what the safe
 * kernel must handle. */
static int range_kernel(const lmul_container *c, uint64_t off, lmul_range a, lmul_range b,
                        lmul_safe_case *safe_case)
{
    const uint64_t min_normal = UINT64_C(1) << c->P;
    *safe_case = LMUL_SAFE_FULL;
    if (a.max >= c->inf || b.max >= c->inf
        || sum_reaches(a.max, b.max, off, c->bias + c->inf))
        return KER_SAFE;
    *safe_case = LMUL_SAFE_FLUSH;
    if (!sum_reaches(a.min, b.min, off, c->bias + min_normal))
        return KER_SAFE;
    return a.zeros || b.zeros ? KER_ZEROS : KER_FAST;
}

static int tile_kernel(const lmul_gemm_problem *pr, lmul_range a, lmul_range b,
                       lmul_safe_case *safe_case)
{
    const int kernel = range_kernel(pr->container, pr->params.offset, a, b, safe_case);
    const uint64_t scale = (uint64_t)pr->ker->zeros_scale << pr->container->P;
    if (kernel == KER_ZEROS && scale != 0   /* its products times 2^zeros_scale finite */
        && sum_reaches(a.max, b.max, pr->params.offset + scale,
                       pr->container->bias + pr->container->inf))
        return KER_SAFE;
    return kernel;
}

int lmul_ranges_masked_one_add(const lmul_container *c, const lmul_params *p,
                               lmul_range a, lmul_range b)
{
    lmul_safe_case unused;
    return range_kernel(c, p->offset, a, b, &unused) != KER_SAFE;
}

int lmul_gemm_tile_case(const lmul_gemm_problem *pr, lmul_range a, lmul_range b)
{
    lmul_safe_case safe_case;
    return tile_kernel(pr, a, b, &safe_case) == KER_FAST ? -1 : (int)safe_case;
}

/* One line of C, n elements `stride` bytes apart: (alpha * t) + (beta * C). */
static inline void merge_line_f32(const float *restrict t, char *restrict c, int64_t n,
                                  int64_t stride, float alpha, float beta)
{
    for (int64_t i = 0; i < n; i++) {
        float r = alpha * t[i], old;
        if (beta != 0.0f) {
            memcpy(&old, c + i * stride, sizeof old);
            r = r + beta * old;
        }
        memcpy(c + i * stride, &r, sizeof r);
    }
}

/* C = (alpha * t) + (beta * C) on an edge or strided tile: the same two
 * roundings as the microkernels, so every element gets the same bits
 * whichever path it takes. Contiguous lines get the stride as a constant,
 * so that the compiler vectorises them (the few-row paths merge such lines
 * per kernel call). */
void lmul_merge_f32(const float *t, int64_t ldt, char *c, int64_t mr,
                      int64_t nr, int64_t rs, int64_t cs, float alpha, float beta)
{
    for (int64_t j = 0; j < nr; j++) {
        if (rs == (int64_t)sizeof(float))
            merge_line_f32(t + j * ldt, c + j * cs, mr, sizeof(float), alpha, beta);
        else
            merge_line_f32(t + j * ldt, c + j * cs, mr, rs, alpha, beta);
    }
}

static void merge_f64(const double *t, int64_t ldt, char *c, int64_t mr,
                      int64_t nr, int64_t rs, int64_t cs, double alpha, double beta)
{
    for (int64_t j = 0; j < nr; j++)
        for (int64_t i = 0; i < mr; i++) {
            char *e = c + i * rs + j * cs;
            double r = alpha * t[i + j * ldt], old;
            if (beta != 0.0) {
                memcpy(&old, e, sizeof old);
                r = r + beta * old;
            }
            memcpy(e, &r, sizeof r);
        }
}

static const float one_f32 = 1.0f, zero_f32 = 0.0f;
static const double one_f64 = 1.0, zero_f64 = 0.0;

static int direct_tile(const lmul_gemm_problem *pr, const char *c)
{
    return pr->rs_c == (int64_t)pr->elsize && pr->cs_c % (int64_t)pr->elsize == 0
        && (uintptr_t)c % pr->elsize == 0;
}

static void tile(const lmul_gemm_problem *pr, const workspace *ws, const char *pa,
                 const char *pb, const char *pa_zero, const char *pb_zero,
                 lmul_range ra, lmul_range rb, int64_t kc,
                 char *c, int64_t mr, int64_t nr, const void *beta,
                 uint64_t counts[KER_COUNT])
{
    const lmul_gemm_kernels *ker = pr->ker;
    lmul_safe_case safe_case;
    const int kernel = tile_kernel(pr, ra, rb, &safe_case);
    lmul_params kernel_params = pr->params;   /* packing did the rounding */
    kernel_params.round_shift = 0;
    lmul_gemm_aux aux = {pr->alpha, beta, lmul_gemm_a_addend(pr), safe_case, ra.zeros,
                         ra.zeros && ker->zprep_a != NULL ? pa_zero : NULL,
                         rb.zeros && ker->zprep_b != NULL ? pb_zero : NULL,
                         ws->a_zero_as != 0, 0, &kernel_params};
    const lmul_gemm_ukr_ft ukr = kernel == KER_FAST ? ker->fast
                               : kernel == KER_ZEROS ? ker->zeros : ker->safe;
    counts[kernel]++;
    if (mr == ker->mr && nr == ker->nr && direct_tile(pr, c)) {
        ukr(kc, pa, pb, c, pr->cs_c / (int64_t)pr->elsize, &aux);
        return;
    }
    const int f32 = pr->elsize == 4;
    aux.alpha = f32 ? (const void *)&one_f32 : (const void *)&one_f64;
    aux.beta = f32 ? (const void *)&zero_f32 : (const void *)&zero_f64;
    if (kernel == KER_FAST && nr < ker->nr && ker->fast_cols != NULL)
        ker->fast_cols(kc, (int)nr, pa, pb, ws->tile, ker->mr, &aux);
    else
        ukr(kc, pa, pb, ws->tile, ker->mr, &aux);
    if (f32)
        lmul_merge_f32((const float *)ws->tile, ker->mr, c, mr, nr, pr->rs_c, pr->cs_c,
                  *(const float *)pr->alpha, *(const float *)beta);
    else
        merge_f64((const double *)ws->tile, ker->mr, c, mr, nr, pr->rs_c,
                  pr->cs_c, *(const double *)pr->alpha, *(const double *)beta);
}

static void macro_kernel(const lmul_gemm_problem *pr, const workspace *ws,
                         int64_t mc, int64_t nc, int64_t kc, char *c,
                         const void *beta, uint64_t counts[KER_COUNT])
{
    const int64_t mr = pr->ker->mr, nr = pr->ker->nr;
    const size_t es = pr->elsize;
    for (int64_t jr = 0; jr < nc; jr += nr)
        for (int64_t ir = 0; ir < mc; ir += mr)
            tile(pr, ws, ws->a + ir * kc * es, ws->b + jr * kc * es,
                 ws->az + 2 * ir * kc * es, ws->bz + 2 * jr * kc * es,
                 ws->ra[ir / mr], ws->rb[jr / nr], kc,
                 c + ir * pr->rs_c + jr * pr->cs_c, lmul_min64(mr, mc - ir),
                 lmul_min64(nr, nc - jr), beta, counts);
}

/* ---------------------------------------------------------------- loops */

static void count_tiles(const uint64_t counts[KER_COUNT])
{
    for (int i = 0; i < KER_COUNT; i++)
        atomic_fetch_add_explicit(&tiles_by_kernel[i], counts[i], memory_order_relaxed);
}

static void gemm_region(const lmul_gemm_problem *pr, region r, workspace *ws)
{
    const lmul_gemm_kernels *ker = pr->ker;
    const void *one = pr->elsize == 4 ? (const void *)&one_f32 : (const void *)&one_f64;
    uint64_t counts[KER_COUNT] = {0};
    for (int64_t jc = r.n0; jc < r.n1; jc += ker->nc) {
        const int64_t nc = lmul_min64(ker->nc, r.n1 - jc);
        for (int64_t pc = 0; pc < pr->k; pc += LMUL_GEMM_KC) {
            const int64_t kc = lmul_min64(LMUL_GEMM_KC, pr->k - pc);
            pack_b(pr, ws, pc, kc, jc, nc);
            for (int64_t ic = r.m0; ic < r.m1; ic += ker->mc) {
                const int64_t mc = lmul_min64(ker->mc, r.m1 - ic);
                pack_a(pr, ws, ic, mc, pc, kc);
                macro_kernel(pr, ws, mc, nc, kc,
                             pr->c + ic * pr->rs_c + jc * pr->cs_c,
                             pc == 0 ? pr->beta : one, counts);
            }
        }
    }
    count_tiles(counts);
}

/* acc = beta * C, in float32. */
void lmul_narrow_block_load(lmul_narrow_block b, float beta)
{
    for (int64_t j = 0; j < b.nc; j++) {
        float *sums = b.acc + j * b.ld;
        const char *column = b.c + j * b.cs;
        for (int64_t i = 0; i < b.mc; i++)
            sums[i] = beta * lmul_elem_read(b.fmt, column + i * b.rs);
    }
}

/* C = acc, rounded to C's format once. */
void lmul_narrow_block_store(lmul_narrow_block b)
{
    for (int64_t j = 0; j < b.nc; j++) {
        const float *sums = b.acc + j * b.ld;
        char *column = b.c + j * b.cs;
        for (int64_t i = 0; i < b.mc; i++)
            lmul_elem_narrow(b.fmt, sums[i], column + i * b.rs);
    }
}

/* float16 or bfloat16 C: each MC x NC block is summed over the whole inner
 * dimension in a float32 buffer, then rounded to its format once; the loops
 * over pc and ic swap, so B is packed again for every block of rows. The
 * buffer meets the chunks as a float32 C would: the first chunk gives
 * alpha * sum + beta * C (alpha * sum alone for beta 0, C not read, so a -0
 * stays -0), the others alpha * sum + buffer. */
static void gemm_region_narrow(const lmul_gemm_problem *pr, region r,
                               workspace *ws)
{
    const lmul_gemm_kernels *ker = pr->ker;
    const float beta = *(const float *)pr->beta;
    uint64_t counts[KER_COUNT] = {0};
    lmul_gemm_problem block = *pr;           /* C is the float32 buffer */
    block.rs_c = sizeof(float);
    block.cs_c = ker->mc * (int64_t)sizeof(float);
    block.beta = &one_f32;
    for (int64_t jc = r.n0; jc < r.n1; jc += ker->nc) {
        const int64_t nc = lmul_min64(ker->nc, r.n1 - jc);
        for (int64_t ic = r.m0; ic < r.m1; ic += ker->mc) {
            const int64_t mc = lmul_min64(ker->mc, r.m1 - ic);
            const lmul_narrow_block nb = {pr->out, pr->c + ic * pr->rs_c + jc * pr->cs_c,
                                     pr->rs_c, pr->cs_c, mc, nc, (float *)ws->cbuf,
                                     ker->mc};
            if (beta != 0.0f)
                lmul_narrow_block_load(nb, beta);
            for (int64_t pc = 0; pc < pr->k; pc += LMUL_GEMM_KC) {
                const int64_t kc = lmul_min64(LMUL_GEMM_KC, pr->k - pc);
                pack_b(pr, ws, pc, kc, jc, nc);
                pack_a(pr, ws, ic, mc, pc, kc);
                macro_kernel(&block, ws, mc, nc, kc, ws->cbuf,
                             pc == 0 && beta == 0.0f ? &zero_f32 : &one_f32, counts);
            }
            lmul_narrow_block_store(nb);
        }
    }
    count_tiles(counts);
}

static void run_region(const lmul_gemm_problem *pr, region r, workspace *ws)
{
    if (r.m0 >= r.m1 || r.n0 >= r.n1)
        return;
    if (pr->out != LMUL_ELEM_CONTAINER)
        gemm_region_narrow(pr, r, ws);
    else
        gemm_region(pr, r, ws);
}

static void run_task(void *arg, int t)
{
    const run_state *st = arg;
    run_region(st->pr, st->regions[t], &st->ws[t]);
}

void lmul_gemm_run_serial(const lmul_gemm_problem *pr, lmul_gemm_workspace *ws)
{
    run_region(pr, (region){0, pr->m, 0, pr->n}, ws);
}

/* ---------------------------------------------------------------- threads */

/* Threads for a problem, from the setting read once per call (nt). */
static int thread_count(const lmul_gemm_problem *pr, int64_t nt)
{
    const int64_t tiles = lmul_mul_sat((pr->m + pr->ker->mr - 1) / pr->ker->mr,
                                       (pr->n + pr->ker->nr - 1) / pr->ker->nr);
    nt = lmul_min64(nt, lmul_gemm_work(pr) / LMUL_GEMM_MIN_WORK_PER_THREAD);
    nt = lmul_min64(nt, tiles);
    return nt < 1 ? 1 : (int)nt;
}

void lmul_split(int64_t len, int64_t unit, int parts, int idx, int64_t *lo, int64_t *hi)
{
    const int64_t units = (len + unit - 1) / unit;
    const int64_t per = units / parts, extra = units % parts;
    const int64_t u0 = idx * per + lmul_min64(idx, extra);
    const int64_t u1 = u0 + per + (idx < extra);
    *lo = lmul_min64(u0 * unit, len);
    *hi = lmul_min64(u1 * unit, len);
}

/* A tm x tn grid of threads whose largest rectangle (of real rows and
 * columns: an edge tile computes only its own) is smallest; ties split N. */
static void make_regions(const lmul_gemm_problem *pr, int nt, region *regions)
{
    const int64_t mr = pr->ker->mr, nr = pr->ker->nr;
    int best_tm = 1;
    int64_t best_cost = INT64_MAX;
    for (int tm = 1; tm <= nt; tm++) {
        if (nt % tm)
            continue;
        const int64_t rows = lmul_min64(round_up((pr->m + mr - 1) / mr, tm) / tm * mr, pr->m);
        const int64_t cols = lmul_min64(round_up((pr->n + nr - 1) / nr, nt / tm) / (nt / tm) * nr,
                                        pr->n);
        if (rows * cols < best_cost) {
            best_cost = rows * cols;
            best_tm = tm;
        }
    }
    const int tn = nt / best_tm;
    for (int t = 0; t < nt; t++) {
        region *r = &regions[t];
        lmul_split(pr->m, mr, best_tm, t / tn, &r->m0, &r->m1);
        lmul_split(pr->n, nr, tn, t % tn, &r->n0, &r->n1);
    }
}

static int workspace_alloc(const lmul_gemm_problem *pr, workspace *ws)
{
    const lmul_gemm_kernels *ker = pr->ker;
    const int64_t mc = lmul_min64(ker->mc, round_up(pr->m, ker->mr));
    const int64_t nc = lmul_min64(ker->nc, round_up(pr->n, ker->nr));
    const int64_t kc = lmul_min64(LMUL_GEMM_KC, pr->k);
    const size_t a = lmul_align_up((size_t)(mc * kc) * pr->elsize);
    const size_t b = lmul_align_up((size_t)(kc * nc) * pr->elsize);
    const size_t az = ker->zprep_a != NULL ? 2 * a : 0;
    const size_t bz = ker->zprep_b != NULL ? 2 * b : 0;
    const size_t t = lmul_align_up((size_t)(ker->mr * ker->nr) * pr->elsize);
    const size_t ra = lmul_align_up((size_t)(mc / ker->mr) * sizeof(lmul_range));
    const size_t rb = lmul_align_up((size_t)(nc / ker->nr) * sizeof(lmul_range));
    const size_t cb = pr->out != LMUL_ELEM_CONTAINER
        ? lmul_align_up((size_t)(ker->mc * nc) * sizeof(float)) : 0;
    char *mem = lmul_workspace_alloc(a + b + t + ra + rb + cb + az + bz);
    if (mem == NULL)
        return LMUL_ERR_NOMEM;
    char *const zeros = mem + a + b + t + ra + rb + cb;
    *ws = (workspace){mem, mem, mem + a, mem + a + b, zeros, zeros + az,
                      (lmul_range *)(mem + a + b + t), (lmul_range *)(mem + a + b + t + ra),
                      mem + a + b + t + ra + rb, 0};
    return LMUL_OK;
}

void lmul_gemm_transpose(lmul_gemm_problem *pr)
{
    const lmul_gemm_problem p = *pr;
    pr->m = p.n;
    pr->n = p.m;
    pr->a = p.b;
    pr->op_a = p.op_b;
    pr->op_b = p.op_a;
    pr->rs_a = p.cs_b;
    pr->cs_a = p.rs_b;
    pr->b = p.a;
    pr->rs_b = p.cs_a;
    pr->cs_b = p.rs_a;
    pr->rs_c = p.cs_c;
    pr->cs_c = p.rs_c;
}

lmul_gemm_workspace *lmul_gemm_workspace_new(const lmul_gemm_problem *pr)
{
    workspace *ws = malloc(sizeof *ws);
    if (ws != NULL && workspace_alloc(pr, ws) != LMUL_OK) {
        free(ws);
        return NULL;
    }
    return ws;
}

void lmul_gemm_workspace_free(lmul_gemm_workspace *ws)
{
    if (ws != NULL)
        lmul_workspace_free(ws->mem);
    free(ws);
}

/* C^T = B^T A^T: the microkernels store columns of C (and a narrow C is
 * narrowed by columns), so a C whose rows are contiguous is computed
 * transposed (L-Mul commutes); a pre-packed A stays A. */
int lmul_gemm_orient(lmul_gemm_problem *pr)
{
    const int64_t es = (int64_t)lmul_elem_size(pr->out, pr->elsize);
    if (pr->packed_a != NULL || pr->rs_c == es || pr->cs_c != es)
        return 0;
    lmul_gemm_transpose(pr);
    return 1;
}

int lmul_gemm_run(lmul_gemm_problem *pr)
{
    enum { MAX_THREADS = 256 };
    region regions[MAX_THREADS];
    workspace ws[MAX_THREADS];
    lmul_gemm_orient(pr);
    const int nt = thread_count(pr, lmul_min64(lmul_get_num_threads(), MAX_THREADS));
    for (int t = 0; t < nt; t++) {
        if (workspace_alloc(pr, &ws[t]) != LMUL_OK) {
            while (t-- > 0)
                lmul_workspace_free(ws[t].mem);
            return LMUL_ERR_NOMEM;
        }
    }
    make_regions(pr, nt, regions);
    run_state st = {pr, regions, ws};
    lmul_parallel_run(nt, run_task, &st);
    for (int t = 0; t < nt; t++)
        lmul_workspace_free(ws[t].mem);
    return LMUL_OK;
}

void lmul_gemm_get_stats(lmul_gemm_stats *stats)
{
    if (stats == NULL)
        return;
    stats->fast_tiles = atomic_load(&tiles_by_kernel[KER_FAST]);
    stats->zero_tiles = atomic_load(&tiles_by_kernel[KER_ZEROS]);
    stats->safe_tiles = atomic_load(&tiles_by_kernel[KER_SAFE]);
}

void lmul_gemm_reset_stats(void)
{
    for (int i = 0; i < KER_COUNT; i++)
        atomic_store(&tiles_by_kernel[i], 0);
}
