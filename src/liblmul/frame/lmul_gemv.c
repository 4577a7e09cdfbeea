/*
 * The few-row path: C = alpha * A B + beta * C with A of at most
 * LMUL_GEMV_MAX_ROWS rows (or B of at most that many columns, computed as
 * C^T = B^T A^T) and B contiguous along one of its dimensions: W as x @ W
 * (rows of B contiguous) or as x @ W.T, nn.Linear's layout (columns of B
 * contiguous). A is prepared once (DAZ, rounding to k, its range per chunk);
 * B is never packed whole: it is streamed in tiles of TILE columns by the
 * inner-dimension chunk (prefetched in software: its rows are far apart), each widened, transposed if need be
 * and prepared into a small buffer with its range, which chooses the
 * one-add kernel or the safe one for the tile.
 *
 * Summation order: the blocked GEMM's (docs/contract.md 5.1). The inner
 * dimension is cut into the same chunks of kc (the level's sgemm kc), each
 * chunk summed from +0 in order, then C = alpha*sum + beta*C for the first
 * chunk and alpha*sum + 1*C for the others (a narrow C: summed in a float32
 * block from beta*C, rounded once), so both paths give the same bits.
 * Threads split the columns of C; the stream path with at most 2 rows of A
 * on many threads splits whole chunks instead (split_k), each chunk's sums
 * kept and met with C in chunk order once all are made: the same bits.
 * Threads claim their columns (or chunks) as they go (lmul_claim), so which
 * thread computes a block changes from call to call, never its bits.
 */
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

#if defined(__GNUC__)
#  define PREFETCH(p) __builtin_prefetch(p)
#else
#  define PREFETCH(p) ((void)(p))
#endif

#define TILE 64                 /* B's columns per tile: a multiple of every gemv_nb */
#define STRIP 4096              /* columns of C per pass of the stream path */
#define MERGE_GRAIN 256         /* columns a thread claims at a time to merge (divides STRIP) */
#define WIDEN_ROWS 4            /* narrow rows of B widened at a time by the stream path */
#define GROUP 8                 /* steps per prefetch of the tile path */
#define AHEAD 16                /* how far ahead they prefetch */
/* m*n*k per thread at least (below it, one thread): 2^15, as the dots. At
 * 2^18, 1 x 384 @ 384 x 1536 took 2 threads of 16 on a 16-core Xeon and ran
 * at 0.27-0.30x NumPy's 16; at 2^15, 0.71-0.76x (and on the 2-core Zen 4,
 * 1 x 256 @ 256 x 512 1.5x faster on its second thread). */
#define MIN_WORK_PER_THREAD (INT64_C(1) << 15)
#define MAX_THREADS 256


typedef enum gemv_path { PATH_STREAM, PATH_DOTS, PATH_TILES } gemv_path;

typedef struct gemv_ws {
    void *mem;
    uint32_t *w, *tmp;          /* B's prepared tile; widened or gathered elements */
    float *acc, *cbuf;          /* a chunk's sums; a narrow C's float32 block */
    int b_zeros;                /* the stream or dots loop met zeros in B: masked from then on */
} gemv_ws;

typedef struct gemv_job {
    const lmul_gemm_problem *pr;
    gemv_path path;
    const uint32_t *xa;         /* A prepared: chunk at pc holds m rows of its length */
    const lmul_range *xr;       /* A's range per chunk */
    int64_t unit;               /* columns of C per kernel call (threads split in these) */
    int nt;
    gemv_ws *ws;
    int split_k;                /* threads take chunks of K (split_k), not columns */
    float *chunk_sums;          /* then every chunk's sums (chunk_sums_at) */
    lmul_claims *work;          /* what the threads take: chunks or columns */
} gemv_job;

/* Chunks of LMUL_GEMM_KC steps in the inner dimension (the last shorter). */
static int64_t chunk_count(const lmul_gemm_problem *pr)
{
    return (pr->k + LMUL_GEMM_KC - 1) / LMUL_GEMM_KC;
}

static lmul_widen_kind widen_kind(lmul_elem_format f)
{
    return f == LMUL_ELEM_HALF ? LMUL_WIDEN_F16
         : f == LMUL_ELEM_BFLOAT16 ? LMUL_WIDEN_BF16 : LMUL_WIDEN_F8;
}

/* n elements of operand op (stride s bytes) as float32 bits into dst. */
static void widen_strided(const lmul_operand *op, int64_t n, const char *src,
                          int64_t s, uint32_t *dst)
{
    if (op->in == LMUL_ELEM_CONTAINER) {
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + i, src + i * s, sizeof *dst);
    } else if (op->fp8_table != NULL) {
        for (int64_t i = 0; i < n; i++)
            dst[i] = op->fp8_table[*(const uint8_t *)(src + i * s)];
    } else {
        for (int64_t i = 0; i < n; i++)
            dst[i] = lmul_elem_widen(op->in, src + i * s);
    }
}

/* n contiguous elements of op as float32 bits, by the level's kernel
 * (float16 on the bits: the hardware's conversion raises invalid on a
 * signaling NaN, which the blocked path's packing does not). */
static void widen_row(const lmul_operand *op, int64_t n, const char *src, uint32_t *dst)
{
    if (op->in == LMUL_ELEM_CONTAINER)
        memcpy(dst, src, (size_t)n * sizeof *dst);
    else if (op->in == LMUL_ELEM_HALF)
        widen_strided(op, n, src, sizeof(uint16_t), dst);
    else
        lmul_active_kernels()->widen(n, src, widen_kind(op->in), lmul_elem_fp8(op->in),
                                     dst);
}

/* A's m rows, chunk by chunk, prepared with the addend of the fast product. */
static void prepare_a(const lmul_gemm_problem *pr, uint32_t *xa, lmul_range *xr)
{
    const int64_t kc_max = LMUL_GEMM_KC;
    for (int64_t pc = 0, c = 0; pc < pr->k; pc += kc_max, c++) {
        const int64_t kc = lmul_min64(kc_max, pr->k - pc);
        uint32_t *chunk = xa + pc * pr->m;
        for (int64_t i = 0; i < pr->m; i++)
            widen_strided(&pr->op_a, kc, pr->a + i * pr->rs_a + pc * pr->cs_a,
                          pr->cs_a, chunk + i * kc);
        pr->ker->prep(1, pr->m * kc, chunk, 0, chunk, lmul_gemm_a_addend(pr), &pr->params,
                      &xr[c]);
    }
}

/* ------------------------------------------------------------ merging */

/* A block of C's columns j0 .. j0 + width, computed over every chunk. */
typedef struct cblock {
    int64_t j0, width;
} cblock;

static lmul_narrow_block narrow_of(const gemv_job *g, const gemv_ws *ws, cblock b)
{
    const lmul_gemm_problem *pr = g->pr;
    return (lmul_narrow_block){pr->out, pr->c + b.j0 * pr->cs_c, pr->cs_c, pr->rs_c,
                               b.width, pr->m, ws->cbuf, b.width};
}

static void block_begin(const gemv_job *g, const gemv_ws *ws, cblock b)
{
    const float beta = *(const float *)g->pr->beta;
    if (g->pr->out != LMUL_ELEM_CONTAINER && beta != 0.0f)
        lmul_narrow_block_load(narrow_of(g, ws, b), beta);
}

static void block_end(const gemv_job *g, const gemv_ws *ws, cblock b)
{
    if (g->pr->out != LMUL_ELEM_CONTAINER)
        lmul_narrow_block_store(narrow_of(g, ws, b));
}

/* Columns s .. s + cols of the block += a chunk's sums (acc[i*ld + j]), as
 * the blocked GEMM merges a tile: alpha*sum + beta*C for the first chunk
 * (alpha*sum for beta 0), alpha*sum + 1*C after; a narrow C's float32 block
 * alike (it holds beta*C). */
static void block_merge(const gemv_job *g, const gemv_ws *ws, cblock b, int first,
                        const float *acc, int64_t ld, int64_t s, int64_t cols)
{
    const lmul_gemm_problem *pr = g->pr;
    const float alpha = *(const float *)pr->alpha, beta = *(const float *)pr->beta;
    if (pr->out != LMUL_ELEM_CONTAINER)
        lmul_merge_f32(acc, ld, (char *)(ws->cbuf + s), cols, pr->m, sizeof(float),
                       b.width * (int64_t)sizeof(float), alpha,
                       first && beta == 0.0f ? 0.0f : 1.0f);
    else
        lmul_merge_f32(acc, ld, pr->c + (b.j0 + s) * pr->cs_c, cols, pr->m, pr->cs_c,
                       pr->rs_c, alpha, first ? beta : 1.0f);
}

/* ------------------------------------------------------------ stream, dots */

/* The streamed kernels' aux: B rounded by the kernel, A already. */
static lmul_gemm_aux streamed_aux(const lmul_gemm_problem *pr)
{
    return (lmul_gemm_aux){.alpha = pr->alpha, .beta = pr->beta,
                           .a_addend = lmul_gemm_a_addend(pr), .safe_case = LMUL_SAFE_FULL,
                           .p = &pr->params};
}

/* The format the stream kernel reads B in itself (for the one-add loop, or
 * for both); LMUL_WIDEN_F16 here: none, B is widened first. */
static lmul_widen_kind streamed_kind(const lmul_gemm_problem *pr, int fast)
{
    const lmul_elem_format in = pr->op_b.in;
    if (in == LMUL_ELEM_CONTAINER)
        return LMUL_WIDEN_NONE;
    if (in == LMUL_ELEM_BFLOAT16)
        return LMUL_WIDEN_BF16;
    const lmul_fp8_format *f = lmul_elem_fp8(in);
    if (f != NULL && fast && !lmul_rounding_needed(&pr->params, f->mantissa_bits))
        return LMUL_WIDEN_F8;
    return LMUL_WIDEN_F16;
}

/* One chunk of a strip by the stream kernel, fast or not, into acc (m rows
 * of b.width); what it saw. */
static lmul_range stream_chunk(const gemv_job *g, const gemv_ws *ws, cblock b,
                               int64_t pc, int64_t kc, int fast, float *acc)
{
    const lmul_gemm_problem *pr = g->pr;
    const lmul_gemm_aux aux = streamed_aux(pr);
    const uint32_t *xa = g->xa + pc * pr->m;
    const char *src = pr->b + pc * pr->rs_b + b.j0 * pr->cs_b;
    const lmul_widen_kind kind = streamed_kind(pr, fast);
    const lmul_fp8_format *f = lmul_elem_fp8(pr->op_b.in);
    lmul_range r = {UINT64_MAX, 0, 0};
    memset(acc, 0, (size_t)(pr->m * b.width) * sizeof(float));
    if (kind != LMUL_WIDEN_F16) {
        pr->ker->gemv_stream(pr->m, kc, b.width, xa, kc, src, pr->rs_b, kind, f,
                             acc, &r, &aux, fast);
        return r;
    }
    for (int64_t p0 = 0; p0 < kc; p0 += WIDEN_ROWS) {
        const int64_t rows = lmul_min64(WIDEN_ROWS, kc - p0);
        for (int64_t p = 0; p < rows; p++)
            widen_row(&pr->op_b, b.width, src + (p0 + p) * pr->rs_b,
                      ws->tmp + p * b.width);
        pr->ker->gemv_stream(pr->m, rows, b.width, xa + p0, kc, (const char *)ws->tmp,
                             b.width * (int64_t)sizeof(uint32_t), LMUL_WIDEN_NONE, f,
                             acc, &r, &aux, fast);
    }
    return r;
}

/* One chunk of `rows` rows of W from column j of C by the dots kernel,
 * into acc. */
static lmul_range dots_chunk(const gemv_job *g, const gemv_ws *ws, int64_t j,
                             int64_t rows, int64_t pc, int64_t kc, int fast, float *acc)
{
    const lmul_gemm_problem *pr = g->pr;
    const lmul_gemm_aux aux = streamed_aux(pr);
    const char *src = pr->b + pc * pr->rs_b + j * pr->cs_b;
    int64_t rs = pr->cs_b;
    lmul_range r = {UINT64_MAX, 0, 0};
    if (pr->op_b.in != LMUL_ELEM_CONTAINER) {
        for (int64_t i = 0; i < rows; i++)
            widen_row(&pr->op_b, kc, src + i * pr->cs_b, ws->tmp + i * kc);
        src = (const char *)ws->tmp;
        rs = kc * (int64_t)sizeof(uint32_t);
    }
    pr->ker->gemv_dots(pr->m, kc, rows, g->xa + pc * pr->m, src, rs, acc, &r,
                       &aux, fast);
    return r;
}

/* How a chunk's stream or dots loop runs: masking the zeros of A where the
 * chunk of A has any (ReLU's outputs), and those of B once the thread has
 * met some (pruned weights); plain otherwise. */
static int one_add_mode(const gemv_job *g, const gemv_ws *ws, int64_t chunk)
{
    return g->xr[chunk].zeros || ws->b_zeros ? LMUL_FAST_MASKED : 1;
}

/* Whether a chunk's one-add sums are its products' sums, B's elements seen
 * as `seen`: with LMUL_FAST_MASKED, zeros in A and B are allowed (every
 * masked loop takes their products as +0). */
static int one_add_holds(const gemv_job *g, int64_t chunk, lmul_range seen, int fast)
{
    const lmul_gemm_problem *pr = g->pr;
    if (fast != LMUL_FAST_MASKED)
        return lmul_gemm_tile_case(pr, g->xr[chunk], seen) < 0;
    return lmul_ranges_masked_one_add(pr->container, &pr->params, g->xr[chunk], seen);
}

/* Chunk `chunk` (at pc) of columns b by the stream or the dots kernel into
 * acc: the one-add loop first (masking A's zeros where the chunk of A has
 * any: ReLU's outputs), again masking B's zeros where the plain one met
 * some, again by the safe one where the ranges say so (a discarded try
 * leaves no flags). */
static void chunk_sums(const gemv_job *g, gemv_ws *ws, cblock b, int64_t pc,
                       int64_t chunk, float *acc)
{
    const lmul_gemm_problem *pr = g->pr;
    const int dots = g->path == PATH_DOTS;
    const int64_t kc = lmul_min64(LMUL_GEMM_KC, pr->k - pc);
    const int fast = one_add_mode(g, ws, chunk);
    fexcept_t flags;
    fegetexceptflag(&flags, FE_ALL_EXCEPT);
    const lmul_range seen = dots ? dots_chunk(g, ws, b.j0, b.width, pc, kc, fast, acc)
                                 : stream_chunk(g, ws, b, pc, kc, fast, acc);
    if (one_add_holds(g, chunk, seen, fast))
        return;
    fesetexceptflag(&flags, FE_ALL_EXCEPT);
    if (fast != LMUL_FAST_MASKED && seen.zeros) {
        ws->b_zeros = 1;
        const lmul_range masked = dots
            ? dots_chunk(g, ws, b.j0, b.width, pc, kc, LMUL_FAST_MASKED, acc)
            : stream_chunk(g, ws, b, pc, kc, LMUL_FAST_MASKED, acc);
        if (one_add_holds(g, chunk, masked, LMUL_FAST_MASKED))
            return;
        fesetexceptflag(&flags, FE_ALL_EXCEPT);
    }
    if (dots)
        dots_chunk(g, ws, b.j0, b.width, pc, kc, 0, acc);
    else
        stream_chunk(g, ws, b, pc, kc, 0, acc);
}

/* Columns b of C by the stream or the dots kernel, chunk by chunk, each
 * chunk's sums met as soon as they are made. */
static void streamed_block(const gemv_job *g, gemv_ws *ws, cblock b)
{
    const lmul_gemm_problem *pr = g->pr;
    const int64_t ld = g->path == PATH_DOTS ? pr->ker->gemv_dots_rows : b.width;
    block_begin(g, ws, b);
    for (int64_t pc = 0, chunk = 0; pc < pr->k; pc += LMUL_GEMM_KC, chunk++) {
        chunk_sums(g, ws, b, pc, chunk, ws->acc);
        block_merge(g, ws, b, pc == 0, ws->acc, ld, 0, b.width);
    }
    block_end(g, ws, b);
}

/* ------------------------------------------------------------ tiles */

/* The `bytes` from each of `count` lines of B, `stride` apart, into cache. */
static void prefetch_lines(const char *first, int64_t count, int64_t stride,
                           int64_t bytes)
{
    for (int64_t i = 0; i < count; i++)
        for (int64_t b = 0; b < bytes; b += 64)
            PREFETCH(first + i * stride + b);
}

/* The tile's row stride: `real`, or rounded up to whole kernel widths when
 * that is not one (the lanes past `real` then repeat the last column, so
 * that no lane sums what is not B's: no flag from elsewhere). */
static int64_t rows_ldw(const gemv_job *g, int64_t real)
{
    const int64_t nb = g->pr->ker->gemv_nb;
    return real % nb == 0 ? real : (real + nb - 1) / nb * nb;
}

/* `steps` rows of the tile from src (rows rs_b apart) at step p0, one by one
 * into rows ldw apart, padded. */
static lmul_range prepare_padded_rows(const gemv_job *g, const gemv_ws *ws,
                                      const char *src, int64_t p0, int64_t steps,
                                      int64_t real, int64_t ldw)
{
    const lmul_gemm_problem *pr = g->pr;
    lmul_range r = {UINT64_MAX, 0, 0}, got;
    for (int64_t p = 0; p < steps; p++) {
        uint32_t *dst = ws->w + (p0 + p) * ldw;
        widen_row(&pr->op_b, real, src + p * pr->rs_b, dst);
        pr->ker->prep(1, real, dst, 0, dst, 0, &pr->params, &got);
        lmul_range_merge(&r, got);
        for (int64_t j = real; j < ldw; j++)
            dst[j] = dst[real - 1];
    }
    return r;
}

/* B's rows contiguous: steps pc .. pc + kc of columns j0 .. j0 + real,
 * prefetching AHEAD steps ahead (into the next chunk too); copied as they
 * are when plain (see tile_plain). */
static lmul_range prepare_rows(const gemv_job *g, const gemv_ws *ws, int64_t pc,
                               int64_t kc, int64_t j0, int64_t real, int plain)
{
    const lmul_gemm_problem *pr = g->pr;
    const int64_t es = (int64_t)lmul_elem_size(pr->op_b.in, 4);
    const char *src = pr->b + pc * pr->rs_b + j0 * pr->cs_b;
    lmul_range r = {UINT64_MAX, 0, 0};
    const int64_t ldw = rows_ldw(g, real);
    for (int64_t p0 = 0; p0 < kc; p0 += GROUP) {
        const int64_t steps = lmul_min64(GROUP, kc - p0);
        const int64_t ahead = lmul_min64(steps, pr->k - pc - p0 - AHEAD);
        if (ahead > 0)
            prefetch_lines(src + (p0 + AHEAD) * pr->rs_b, ahead, pr->rs_b, real * es);
        lmul_range got;
        if (ldw != real) {
            lmul_range_merge(&r, prepare_padded_rows(g, ws, src + p0 * pr->rs_b, p0,
                                                     steps, real, ldw));
            continue;
        }
        uint32_t *dst = ws->w + p0 * real;
        if (plain) {
            pr->ker->copy_range32(steps, real, src + p0 * pr->rs_b, pr->rs_b, dst, &got);
        } else if (pr->op_b.in == LMUL_ELEM_CONTAINER) {
            pr->ker->prep(steps, real, src + p0 * pr->rs_b, pr->rs_b, dst, 0,
                          &pr->params, &got);
        } else {
            for (int64_t p = 0; p < steps; p++)
                widen_row(&pr->op_b, real, src + (p0 + p) * pr->rs_b, dst + p * real);
            pr->ker->prep(1, steps * real, dst, 0, dst, 0, &pr->params, &got);
        }
        lmul_range_merge(&r, got);
    }
    return r;
}

/* B's columns contiguous (rows of W in x @ W.T): the tile transposed, TILE
 * rows of W (the last real one repeated) by kc steps, a line of each at a
 * time with the next ones prefetched. */
static lmul_range prepare_columns(const gemv_job *g, const gemv_ws *ws, int64_t pc,
                                  int64_t kc, int64_t j0, int64_t real)
{
    const lmul_gemm_problem *pr = g->pr;
    const int64_t es = (int64_t)lmul_elem_size(pr->op_b.in, 4);
    const char *src = pr->b + pc * pr->rs_b + j0 * pr->cs_b;
    const int direct = pr->op_b.in == LMUL_ELEM_CONTAINER && real == TILE
        && pr->ker->tcopy != NULL;
    const int64_t line = 64 / es;
    for (int64_t p0 = 0; p0 < kc; p0 += line) {
        const int64_t steps = lmul_min64(line, kc - p0);
        if (pc + p0 + 4 * line < pr->k)
            prefetch_lines(src + (p0 + 4 * line) * es, real, pr->cs_b, 1);
        if (direct) {
            pr->ker->tcopy(TILE, steps, src + p0 * es, pr->cs_b, ws->w + p0 * TILE);
            continue;
        }
        for (int64_t j = 0; j < TILE; j++)
            widen_row(&pr->op_b, steps, src + lmul_min64(j, real - 1) * pr->cs_b + p0 * es,
                      ws->tmp + j * steps);
        if (pr->ker->tcopy != NULL)
            pr->ker->tcopy(TILE, steps, ws->tmp, steps * (int64_t)sizeof(float),
                           ws->w + p0 * TILE);
        else
            for (int64_t p = 0; p < steps; p++)
                for (int64_t j = 0; j < TILE; j++)
                    ws->w[(p0 + p) * TILE + j] = ws->tmp[j * steps + p];
    }
    lmul_range r;
    pr->ker->prep(1, kc * TILE, ws->w, 0, ws->w, 0, &pr->params, &r);
    return r;
}

/* Whether B's tiles are copied as they are, with their range, instead of
 * prepared: float32 rows with nothing to round (preparing would only flush
 * subnormals, which the safe kernel takes as zeros itself, the plain
 * one-add kernel runs only where the range has none and the masked one
 * masks them). */
static int tile_plain(const gemv_job *g, int columns)
{
    const lmul_gemm_problem *pr = g->pr;
    return !columns && pr->op_b.in == LMUL_ELEM_CONTAINER && pr->params.round_shift == 0
        && pr->ker->copy_range32 != NULL;
}

/* Columns b (at most TILE) of C by prepared tiles and the register-tiled
 * kernels. */
static void tiled_block(const gemv_job *g, const gemv_ws *ws, cblock b)
{
    const lmul_gemm_problem *pr = g->pr;
    const lmul_gemm_kernels *ker = pr->ker;
    const int columns = pr->cs_b != (int64_t)lmul_elem_size(pr->op_b.in, 4);
    lmul_params kernel_params = pr->params;   /* the preparation did the rounding */
    kernel_params.round_shift = 0;
    const int plain = tile_plain(g, columns);
    block_begin(g, ws, b);
    for (int64_t pc = 0, chunk = 0; pc < pr->k; pc += LMUL_GEMM_KC, chunk++) {
        const int64_t kc = lmul_min64(LMUL_GEMM_KC, pr->k - pc);
        const int64_t ldw = columns ? TILE : rows_ldw(g, b.width);
        const lmul_range wr = columns ? prepare_columns(g, ws, pc, kc, b.j0, b.width)
                                      : prepare_rows(g, ws, pc, kc, b.j0, b.width, plain);
        const int mode = wr.zeros ? LMUL_FAST_MASKED : one_add_mode(g, ws, chunk);
        const lmul_gemm_aux aux = {.alpha = pr->alpha, .beta = pr->beta,
                                   .a_addend = lmul_gemm_a_addend(pr),
                                   .safe_case = LMUL_SAFE_FULL,
                                   .a_zeros = mode == LMUL_FAST_MASKED,
                                   .b_zeros = wr.zeros,
                                   .p = &kernel_params};
        const lmul_gemv_ukr_ft ukr = one_add_holds(g, chunk, wr, mode) ? ker->gemv_fast
                                                                       : ker->gemv_safe;
        for (int64_t s = 0; s < b.width; s += ker->gemv_nb) {
            ukr(pr->m, kc, g->xa + pc * pr->m, ws->w + s, ldw, ws->acc, &aux);
            block_merge(g, ws, b, pc == 0, ws->acc, ker->gemv_nb, s,
                        lmul_min64(ker->gemv_nb, b.width - s));
        }
    }
    block_end(g, ws, b);
}

/* ------------------------------------------------------------ threads */

static int64_t block_width(const gemv_job *g)
{
    return g->path == PATH_STREAM ? STRIP : g->path == PATH_DOTS ? g->unit : TILE;
}

/* Columns of C a thread claims at a time: a few claims a thread for the
 * tiles (4 tiles a claim) and the dots (64 rows of W.T a claim), so that a
 * thread slowed down by a neighbour on its core takes less; a thread's
 * even share for the stream path, where a claim streams a segment of every
 * row of B (shorter segments read slower from memory). */
static int64_t claim_grain(const gemv_job *g)
{
    const int64_t share = lmul_even_share(g->pr->n, g->unit, g->nt);
    if (g->path == PATH_STREAM)
        return share;
    return lmul_min64(share, g->path == PATH_DOTS ? 8 * g->unit : 4 * TILE);
}

static void gemv_task(void *arg, int t)
{
    const gemv_job *g = arg;
    int64_t j0, j1;
    while (lmul_claim(g->work, &j0, &j1))
        for (const int64_t width = block_width(g); j0 < j1; j0 += width) {
            const cblock b = {j0, lmul_min64(width, j1 - j0)};
            if (g->path == PATH_TILES)
                tiled_block(g, &g->ws[t], b);
            else
                streamed_block(g, &g->ws[t], b);
        }
}

/* ------------------------------------------------------------ split along k */

/* Where chunk `chunk`'s sums of the strip at column j0 lie (split_k): chunk
 * by chunk, strip by strip, m rows of the strip's width each. */
static float *chunk_sums_at(const gemv_job *g, int64_t chunk, int64_t j0)
{
    return g->chunk_sums + (chunk * g->pr->n + j0) * g->pr->m;
}

/* Whole chunks as the thread claims them, every column, each chunk's sums
 * kept. */
static void split_k_sums_task(void *arg, int t)
{
    const gemv_job *g = arg;
    const int64_t n = g->pr->n;
    int64_t chunk, end;
    while (lmul_claim(g->work, &chunk, &end))
        for (int64_t j0 = 0; j0 < n; j0 += STRIP) {
            const cblock b = {j0, lmul_min64(STRIP, n - j0)};
            chunk_sums(g, &g->ws[t], b, chunk * LMUL_GEMM_KC, chunk,
                       chunk_sums_at(g, chunk, j0));
        }
}

/* Columns of C as the thread claims them (MERGE_GRAIN at a time, never
 * across a strip) met with every chunk's sums in chunk order, as
 * streamed_block meets them. */
static void split_k_merge_task(void *arg, int t)
{
    const gemv_job *g = arg;
    const gemv_ws *ws = &g->ws[t];
    const int64_t chunks = chunk_count(g->pr);
    int64_t j0, j1;
    while (lmul_claim(g->work, &j0, &j1)) {
        const int64_t strip = j0 / STRIP * STRIP;
        const int64_t ld = lmul_min64(STRIP, g->pr->n - strip);
        const cblock b = {j0, j1 - j0};
        block_begin(g, ws, b);
        for (int64_t c = 0; c < chunks; c++)
            block_merge(g, ws, b, c == 0, chunk_sums_at(g, c, strip) + (j0 - strip), ld, 0,
                        b.width);
        block_end(g, ws, b);
    }
}

/* Whether the stream path's threads take whole chunks of the inner
 * dimension (their sums kept, met in order afterwards) rather than columns:
 * each thread then streams whole rows of B, where a share of the columns is
 * a segment of every row, short on many threads. Column split over k-split
 * time (Zen 4, 2 cores, 1 x K @ K x n, medians in one process):
 *   float32, n = 1024 (512 columns a thread): 1.32; n = 2048: 1.25;
 *   n = 1536: 1.06 (AVX2), 1.24 (AVX-512); n = 4096: 0.97-1.0;
 *   float8 e4m3fn, n = 1536-2048: 1.02-1.04; 2 rows of A, n = 1024: 1.21;
 *   4 rows of A: 0.85-0.98 (its sums, 4 n floats, leave L1), so not there;
 *   16 threads on the 2 cores (256 columns a thread), n = 4096: float32 1.77,
 *   float8 1.26, as on the 16-core Xeon, where the column split ran at
 *   0.6-0.8x NumPy (float8 weights 1.0-1.4x).
 * Taken for at most 2 rows of A, under 2048 columns a thread, where the
 * chunks share out evenly (the largest share at most 1/8 above an even
 * one) and their sums take at most 64 MiB, on nt threads: as many as the
 * chunks allow, so that a long K over a few columns (1 x 65536 @ 65536 x
 * 16: one unit of columns) is threaded too. */
static int split_k(const gemv_job *g, int nt)
{
    const lmul_gemm_problem *pr = g->pr;
    const int64_t chunks = chunk_count(pr);
    const int64_t largest = (chunks + nt - 1) / nt * LMUL_GEMM_KC;
    return g->path == PATH_STREAM && nt > 1 && pr->m <= 2 && pr->n < 2048 * nt
        && 8 * largest * nt <= 9 * pr->k && chunks * pr->m * pr->n <= (INT64_C(16) << 20);
}

/* One block per thread: each path's buffers, a narrow C's block only when C
 * is narrow and the widening buffer only when B's format needs one. */
static int ws_alloc(const gemv_job *g, gemv_ws *ws)
{
    const lmul_gemm_problem *pr = g->pr;
    const lmul_gemm_kernels *ker = pr->ker;
    const int64_t m = pr->m, width = block_width(g);
    const int widening = pr->op_b.in != LMUL_ELEM_CONTAINER;
    int64_t w = 0, acc = m * width, tmp = 0;
    if (g->path == PATH_TILES) {
        w = (LMUL_GEMM_KC + 1) * TILE;
        acc = m * ker->gemv_nb;
        tmp = 64 * TILE;        /* also the gathering copy of a last, narrower tile */
    } else if (g->path == PATH_DOTS) {
        acc = m * ker->gemv_dots_rows;
        tmp = widening ? ker->gemv_dots_rows * LMUL_GEMM_KC : 0;
    } else {
        tmp = widening && pr->op_b.in != LMUL_ELEM_BFLOAT16 ? WIDEN_ROWS * STRIP : 0;
    }
    const int64_t cbuf = pr->out != LMUL_ELEM_CONTAINER ? m * width : 0;
    const size_t sw = lmul_align_up((size_t)w * 4), sa = lmul_align_up((size_t)acc * 4);
    const size_t sc = lmul_align_up((size_t)cbuf * 4), st = lmul_align_up((size_t)tmp * 4);
    char *mem = lmul_workspace_alloc(sw + sa + sc + st);
    if (mem == NULL)
        return LMUL_ERR_NOMEM;
    *ws = (gemv_ws){mem, (uint32_t *)mem, (uint32_t *)(mem + sw + sa + sc),
                    (float *)(mem + sw), (float *)(mem + sw + sa), 0};
    return LMUL_OK;
}

/* Threads for `parts` parts of work (columns' units, or chunks of K). */
static int thread_count(const lmul_gemm_problem *pr, int64_t parts)
{
    int64_t nt = lmul_get_num_threads();
    nt = lmul_min64(nt, lmul_gemm_work(pr) / MIN_WORK_PER_THREAD);
    nt = lmul_min64(nt, parts);
    nt = lmul_min64(nt, MAX_THREADS);
    return nt < 1 ? 1 : (int)nt;
}

/* The problem in this path's orientation (A the short operand), or 0. */
static int oriented(const lmul_gemm_problem *in, lmul_gemm_problem *pr)
{
    *pr = *in;
    if (pr->elsize != 4 || pr->ker->gemv_nb == 0)
        return 0;
    if (pr->m > LMUL_GEMV_MAX_ROWS && pr->n <= LMUL_GEMV_MAX_ROWS)
        lmul_gemm_transpose(pr);
    const int64_t es = (int64_t)lmul_elem_size(pr->op_b.in, 4);
    return pr->m <= LMUL_GEMV_MAX_ROWS && (pr->cs_b == es || pr->rs_b == es);
}

static void choose_path(gemv_job *g)
{
    const lmul_gemm_problem *pr = g->pr;
    const int rows = pr->cs_b == (int64_t)lmul_elem_size(pr->op_b.in, 4);
    if (pr->m > LMUL_GEMV_STREAM_ROWS)
        g->path = PATH_TILES;
    else
        g->path = rows ? PATH_STREAM : PATH_DOTS;
    g->unit = g->path == PATH_DOTS ? pr->ker->gemv_dots_rows
            : g->path == PATH_TILES ? pr->ker->gemv_nb : 16;
    const int64_t unit = lmul_max64(g->unit, 16);
    g->nt = thread_count(pr, (pr->n + unit - 1) / unit);
    const int along_k = thread_count(pr, chunk_count(pr));
    if (split_k(g, along_k)) {
        g->split_k = 1;
        g->nt = along_k;
    }
}

/* The stream path split along k: every chunk's sums, then C met with them. */
static int run_split_k(gemv_job *g)
{
    const lmul_gemm_problem *pr = g->pr;
    const int64_t chunks = chunk_count(pr);
    g->chunk_sums = lmul_workspace_alloc((size_t)(chunks * pr->m * pr->n) * sizeof(float));
    if (g->chunk_sums == NULL)
        return LMUL_ERR_NOMEM;
    lmul_claims work;
    g->work = &work;
    lmul_claims_init(&work, chunks, 1);
    lmul_parallel_run(g->nt, split_k_sums_task, g);
    lmul_claims_init(&work, pr->n, MERGE_GRAIN);
    lmul_parallel_run(g->nt, split_k_merge_task, g);
    lmul_workspace_free(g->chunk_sums);
    return LMUL_OK;
}

int lmul_gemv_run(const lmul_gemm_problem *problem)
{
    lmul_gemm_problem pr;
    if (!oriented(problem, &pr))
        return LMUL_GEMV_NOT_MINE;
    gemv_ws ws[MAX_THREADS];
    gemv_job g = {&pr, PATH_TILES, NULL, NULL, 0, 1, ws, 0, NULL, NULL};
    choose_path(&g);
    const int64_t chunks = chunk_count(&pr);
    uint32_t *xa = lmul_workspace_alloc((size_t)(pr.m * pr.k) * sizeof *xa);
    lmul_range *xr = lmul_workspace_alloc((size_t)chunks * sizeof *xr);
    int t = 0, status = xa != NULL && xr != NULL ? LMUL_OK : LMUL_ERR_NOMEM;
    for (; t < g.nt && status == LMUL_OK; t++)
        status = ws_alloc(&g, &ws[t]);
    if (status == LMUL_OK) {
        prepare_a(&pr, xa, xr);
        g.xa = xa;
        g.xr = xr;
        if (g.split_k) {
            status = run_split_k(&g);
        } else {
            lmul_claims work;
            lmul_claims_init(&work, pr.n, claim_grain(&g));
            g.work = &work;
            lmul_parallel_run(g.nt, gemv_task, &g);
        }
    } else {
        t--;                    /* the one that failed holds nothing */
    }
    while (t-- > 0)
        lmul_workspace_free(ws[t].mem);
    lmul_workspace_free(xa);
    lmul_workspace_free(xr);
    return status;
}
