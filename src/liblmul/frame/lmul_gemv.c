/*
 * The few-row path: C = alpha * A B + beta * C with A of at most
 * LMUL_GEMV_MAX_ROWS rows (or B of at most that many columns, computed as
 * C^T = B^T A^T) and B contiguous along one of its dimensions: W as x @ W
 * (rows of B contiguous) or as x @ W.T, nn.Linear's layout (columns of B
 * contiguous). A is prepared once (DAZ, rounding to k, its range per chunk);
 * B is never packed whole: it is streamed in tiles of TILE_UNITS kernel
 * widths by the inner-dimension chunk, each widened, transposed if need be
 * and prepared into a small buffer with its range, which chooses the
 * one-add kernel or the safe one for the tile.
 *
 * Summation order: the blocked GEMM's (docs/contract.md 5.1). The inner
 * dimension is cut into the same chunks of kc (the level's sgemm kc), each
 * chunk summed from +0 in order, then C = alpha*sum + beta*C for the first
 * chunk and alpha*sum + 1*C for the others (a narrow C: summed in a float32
 * block from beta*C, rounded once), so both paths give the same bits.
 * Threads split the columns of C, never the inner dimension.
 */
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

#define ALIGN 64
#define TILE_UNITS 4                            /* kernel widths per tile */
#define MIN_WORK_PER_THREAD (INT64_C(1) << 20)  /* m*n*k below this: one thread */
#define MAX_THREADS 256

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static size_t aligned(size_t bytes) { return (bytes + ALIGN - 1) / ALIGN * ALIGN; }

typedef struct gemv_ws {
    void *mem;
    uint32_t *w, *tmp;          /* B's prepared tile; a transposing copy's source */
    float *acc, *cbuf;          /* the kernel's sums; a narrow C's float32 block */
} gemv_ws;

typedef struct gemv_job {
    const lmul_gemm_problem *pr;
    int columns;                /* B's columns contiguous (x @ W.T) */
    const uint32_t *xa;         /* A prepared: chunk at pc holds m rows of its length */
    const lmul_range *xr;       /* A's range per chunk */
    int64_t nb, tile;           /* kernel width; tile width (a multiple of nb) */
    int nt;
    gemv_ws *ws;
} gemv_job;

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

/* n contiguous elements of op as float32 bits, by the level's kernel. */
static void widen_row(const lmul_kernels *ks, const lmul_operand *op, int64_t n,
                      const char *src, uint32_t *dst)
{
    if (op->in == LMUL_ELEM_CONTAINER)
        memcpy(dst, src, (size_t)n * sizeof *dst);
    else
        ks->widen(n, src, widen_kind(op->in), lmul_elem_fp8(op->in), dst);
}

/* A's m rows, chunk by chunk, prepared with the addend of the fast product. */
static void prepare_a(const lmul_gemm_problem *pr, uint32_t *xa, lmul_range *xr)
{
    const int64_t kc_max = pr->ker->kc;
    for (int64_t pc = 0, c = 0; pc < pr->k; pc += kc_max, c++) {
        const int64_t kc = min64(kc_max, pr->k - pc);
        uint32_t *chunk = xa + pc * pr->m;
        for (int64_t i = 0; i < pr->m; i++)
            widen_strided(&pr->op_a, kc, pr->a + i * pr->rs_a + pc * pr->cs_a,
                          pr->cs_a, chunk + i * kc);
        pr->ker->prep(1, pr->m * kc, chunk, 0, chunk, lmul_a_addend(pr), &pr->params,
                      &xr[c]);
    }
}

/* B's tile of kc steps from pc by columns j0 .. j0 + real into ws->w, row p
 * of the tile at w + p * (*ldw), prepared; returns what it saw. Columns past
 * `real` repeat the last real one (or, with ldw = real, are not there). */
static lmul_range prepare_b(const gemv_job *g, const gemv_ws *ws, int64_t pc,
                            int64_t kc, int64_t j0, int64_t real, int64_t *ldw)
{
    const lmul_gemm_problem *pr = g->pr;
    const lmul_kernels *ks = lmul_active_kernels();
    const lmul_operand *op = &pr->op_b;
    const char *src = pr->b + pc * pr->rs_b + j0 * pr->cs_b;
    lmul_range r;
    if (!g->columns) {
        *ldw = real;
        if (op->in == LMUL_ELEM_CONTAINER) {
            pr->ker->prep(kc, real, src, pr->rs_b, ws->w, 0, &pr->params, &r);
            return r;
        }
        for (int64_t p = 0; p < kc; p++)
            widen_row(ks, op, real, src + p * pr->rs_b, ws->w + p * real);
    } else {
        const int64_t width = g->tile;
        *ldw = width;
        if (op->in == LMUL_ELEM_CONTAINER && real == width && pr->ker->tcopy != NULL) {
            pr->ker->tcopy(width, kc, src, pr->cs_b, ws->w);
        } else {
            for (int64_t j = 0; j < width; j++)
                widen_row(ks, op, kc, src + min64(j, real - 1) * pr->cs_b,
                          ws->tmp + j * kc);
            if (pr->ker->tcopy != NULL)
                pr->ker->tcopy(width, kc, ws->tmp, kc * (int64_t)sizeof(float), ws->w);
            else
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t j = 0; j < width; j++)
                        ws->w[p * width + j] = ws->tmp[j * kc + p];
        }
    }
    pr->ker->prep(1, kc * *ldw, ws->w, 0, ws->w, 0, &pr->params, &r);
    return r;
}

/* Columns j0 .. j0 + real of C over the whole inner dimension. */
static void gemv_tile(const gemv_job *g, const gemv_ws *ws, int64_t j0, int64_t real)
{
    const lmul_gemm_problem *pr = g->pr;
    const lmul_gemm_kernels *ker = pr->ker;
    const int narrow = pr->out != LMUL_ELEM_CONTAINER;
    const float alpha = *(const float *)pr->alpha;
    char *c = pr->c + j0 * pr->cs_c;
    const lmul_narrow_block block = {pr->out, c, pr->cs_c, pr->rs_c, real, pr->m,
                                     ws->cbuf, g->tile};
    if (narrow)
        lmul_narrow_block_load(block, *(const float *)pr->beta);
    lmul_params kernel_params = pr->params;   /* the preparation did the rounding */
    kernel_params.round_shift = 0;
    for (int64_t pc = 0, chunk = 0; pc < pr->k; pc += ker->kc, chunk++) {
        const int64_t kc = min64(ker->kc, pr->k - pc);
        int64_t ldw;
        const lmul_range wr = prepare_b(g, ws, pc, kc, j0, real, &ldw);
        const int safe_case = lmul_tile_case(pr, g->xr[chunk], wr);
        const lmul_gemm_aux aux = {pr->alpha, pr->beta, lmul_a_addend(pr),
                                   safe_case < 0 ? LMUL_SAFE_ZEROS
                                                 : (lmul_safe_case)safe_case,
                                   &kernel_params};
        const lmul_gemv_ukr_ft ukr = safe_case < 0 ? ker->gemv_fast : ker->gemv_safe;
        const float beta = pc == 0 && !narrow ? *(const float *)pr->beta : 1.0f;
        for (int64_t s = 0; s < real; s += g->nb) {
            const int64_t cols = min64(g->nb, real - s);
            ukr(pr->m, kc, g->xa + pc * pr->m, ws->w + s, ldw, ws->acc, &aux);
            if (narrow)
                lmul_merge_f32(ws->acc, g->nb, (char *)(ws->cbuf + s), cols, pr->m,
                               sizeof(float), g->tile * (int64_t)sizeof(float),
                               alpha, beta);
            else
                lmul_merge_f32(ws->acc, g->nb, c + s * pr->cs_c, cols, pr->m,
                               pr->cs_c, pr->rs_c, alpha, beta);
        }
    }
    if (narrow)
        lmul_narrow_block_store(block);
}

static void gemv_task(void *arg, int t)
{
    const gemv_job *g = arg;
    const int64_t units = (g->pr->n + g->nb - 1) / g->nb;
    const int64_t per = units / g->nt, extra = units % g->nt;
    const int64_t u0 = t * per + min64(t, extra), u1 = u0 + per + (t < extra);
    const int64_t n1 = min64(u1 * g->nb, g->pr->n);
    for (int64_t j0 = u0 * g->nb; j0 < n1; j0 += g->tile)
        gemv_tile(g, &g->ws[t], j0, min64(g->tile, n1 - j0));
}

static int ws_alloc(const gemv_job *g, gemv_ws *ws)
{
    const int64_t kc = g->pr->ker->kc, tile = g->tile;
    const size_t w = aligned((size_t)((kc + 1) * tile) * sizeof(uint32_t));
    const size_t tmp = g->columns ? w : 0;
    const size_t acc = aligned((size_t)(LMUL_GEMV_MAX_ROWS * g->nb) * sizeof(float));
    const size_t cbuf = aligned((size_t)(LMUL_GEMV_MAX_ROWS * tile) * sizeof(float));
    char *mem = aligned_alloc(ALIGN, w + tmp + acc + cbuf);
    if (mem == NULL)
        return LMUL_ERR_NOMEM;
    *ws = (gemv_ws){mem, (uint32_t *)mem, (uint32_t *)(mem + w),
                    (float *)(mem + w + tmp), (float *)(mem + w + tmp + acc)};
    return LMUL_OK;
}

static int thread_count(const lmul_gemm_problem *pr, int64_t nb)
{
    int64_t nt = lmul_get_num_threads();
    nt = min64(nt, pr->m * pr->n * pr->k / MIN_WORK_PER_THREAD);
    nt = min64(nt, (pr->n + nb - 1) / nb);
    nt = min64(nt, MAX_THREADS);
    return nt < 1 ? 1 : (int)nt;
}

/* The problem in this path's orientation (A the short operand), or 0. */
static int oriented(const lmul_gemm_problem *in, lmul_gemm_problem *pr)
{
    *pr = *in;
    if (pr->elsize != 4 || pr->ker->gemv_nb == 0)
        return 0;
    if (pr->m > LMUL_GEMV_MAX_ROWS && pr->n <= LMUL_GEMV_MAX_ROWS)
        lmul_problem_transpose(pr);
    const int64_t es = (int64_t)lmul_elem_size(pr->op_b.in, 4);
    return pr->m <= LMUL_GEMV_MAX_ROWS && (pr->cs_b == es || pr->rs_b == es);
}

int lmul_gemv_run(const lmul_gemm_problem *problem)
{
    lmul_gemm_problem pr;
    if (!oriented(problem, &pr))
        return LMUL_GEMV_NOT_MINE;
    const int64_t es = (int64_t)lmul_elem_size(pr.op_b.in, 4);
    gemv_ws ws[MAX_THREADS];
    gemv_job g = {&pr, pr.cs_b != es, NULL, NULL, pr.ker->gemv_nb,
                  pr.ker->gemv_nb * TILE_UNITS, thread_count(&pr, pr.ker->gemv_nb), ws};
    const int64_t chunks = (pr.k + pr.ker->kc - 1) / pr.ker->kc;
    uint32_t *xa = malloc((size_t)(pr.m * pr.k) * sizeof *xa);
    lmul_range *xr = malloc((size_t)chunks * sizeof *xr);
    int t = 0, status = xa != NULL && xr != NULL ? LMUL_OK : LMUL_ERR_NOMEM;
    for (; t < g.nt && status == LMUL_OK; t++)
        status = ws_alloc(&g, &ws[t]);
    if (status == LMUL_OK) {
        prepare_a(&pr, xa, xr);
        g.xa = xa;
        g.xr = xr;
        lmul_parallel_run(g.nt, gemv_task, &g);
    } else {
        t--;                    /* the one that failed holds nothing */
    }
    while (t-- > 0)
        free(ws[t].mem);
    free(xa);
    free(xr);
    return status;
}
