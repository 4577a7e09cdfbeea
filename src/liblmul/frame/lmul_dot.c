/*
 * Dot products (vecdot, lmul_?dot) in the blocked GEMM's summation order,
 * so that a dot of x and y has the bits of the 1 x 1 product x @ y: the
 * inner dimension cut into chunks of LMUL_GEMM_KC, each chunk summed from +0
 * in order, the chunk sums met in order (r = 1*s for the first, r = 1*s +
 * 1*r after; a float16 or bfloat16 result rounded once at the end). The kernel puts one dot in each lane (in-register transposes);
 * threads split the batch. A single long dot puts its chunks in the lanes
 * (each chunk's sum is independent) and meets them in order.
 */
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

#define MIN_WORK_PER_THREAD (INT64_C(1) << 15)   /* batch*n below this: one thread */
#define MAX_THREADS 256
#define LMUL_MAX_DOTS_PER_CALL 64
/* Rows of x and y a kernel call may read at once for its lanes to take
 * items apart (dot_task): 32 dots a call (the AVX-512 level), 64 rows,
 * read slower as long streams than as neighbours (0.76x). */
#define MAX_STREAMED_ROWS 16


typedef struct dot_job {
    const lmul_dot_problem *d;
    int nt;
    lmul_claims *work;          /* the items, claimed as the threads go */
    float *bufs[MAX_THREADS];   /* per thread: lanes*kc for x and for y, lanes sums */
} dot_job;

/* Element count kc of operand op from src (stride s) as contiguous float32
 * bits in dst. */
static void gather(const lmul_operand *op, int64_t kc, const char *src, int64_t s,
                   uint32_t *dst)
{
    if (op->in == LMUL_ELEM_CONTAINER)
        for (int64_t i = 0; i < kc; i++)
            memcpy(dst + i, src + i * s, sizeof *dst);
    else
        for (int64_t i = 0; i < kc; i++)
            dst[i] = op->fp8_table != NULL ? op->fp8_table[*(const uint8_t *)(src + i * s)]
                                           : lmul_elem_widen(op->in, src + i * s);
}

/* `items` items of one operand, the first at `first`, `stride` bytes apart,
 * at step pc as rows the kernel reads: in place when they are float32 and
 * contiguous, else gathered into buf. */
static const char *rows_of(const lmul_operand *op, const char *first, int64_t stride,
                           int64_t s, int64_t items, int64_t pc, int64_t kc,
                           uint32_t *buf, int64_t *rs)
{
    first += pc * s;
    if (op->in == LMUL_ELEM_CONTAINER && s == (int64_t)sizeof(float)) {
        *rs = stride;
        return first;
    }
    for (int64_t j = 0; j < items; j++)
        gather(op, kc, first + j * stride, s, buf + j * kc);
    *rs = kc * (int64_t)sizeof(float);
    return (const char *)buf;
}

/* Dots per call of chunk_sums. */
static int64_t dots_per_call(const lmul_gemm_kernels *ker)
{
    return ker->sdots_fast != NULL ? ker->sdots_items : ker->gemv_lanes;
}

/* How a thread's next chunk tries the one-add kernel: as its last chunk
 * would have needed. */
typedef enum one_add_try {
    TRY_WINDOW,                 /* the window (the last chunk's operands lay in it) */
    TRY_RANGE                   /* the exact ranges at once */
} one_add_try;

/* The one-add kernel's sums of a chunk, and whether they are the dots': the
 * operands checked against the one-add window (two operations a vector
 * where the exact range takes three: 1000 dots of 256 from L2 1.1x faster
 * on AVX2, 1.2x on AVX-512), and where an element lies outside it, summed
 * again with their ranges, the products of zeros (ReLU's) and subnormals
 * taken as +0: after the window refused, with the flags as they were
 * before it (`flags`). After a chunk the window refused, the next goes to
 * the ranges at once. */
static int one_add_sums(const lmul_dot_problem *d, int64_t kc, int64_t items, const char *x,
                        int64_t rs_x, const char *y, int64_t rs_y, float *sums,
                        const fexcept_t *flags, one_add_try *next)
{
    lmul_range rx, ry;
    if (*next == TRY_WINDOW) {
        if (d->ker->sdots_fast(kc, items, x, rs_x, y, rs_y, sums, &d->params, 1, &rx, &ry))
            return 1;
        fesetexceptflag(flags, FE_ALL_EXCEPT);
    }
    d->ker->sdots_fast(kc, items, x, rs_x, y, rs_y, sums, &d->params, 0, &rx, &ry);
    *next = lmul_range_in_window(rx) && lmul_range_in_window(ry) ? TRY_WINDOW : TRY_RANGE;
    return lmul_ranges_masked_one_add(&lmul_container_f32, &d->params, rx, ry);
}

/* A chunk's sums of `items` dots (at most dots_per_call): by the one-add
 * kernel when the level has one and the operands allow it (its flags
 * discarded when not), else by the every-case kernel, lanes at a time. */
static void chunk_sums(const lmul_dot_problem *d, int64_t kc, int64_t items, const char *x,
                       int64_t rs_x, const char *y, int64_t rs_y, float *sums,
                       one_add_try *next)
{
    const lmul_gemm_kernels *ker = d->ker;
    if (ker->sdots_fast != NULL && d->params.round_shift == 0) {
        fexcept_t flags;
        fegetexceptflag(&flags, FE_ALL_EXCEPT);
        if (one_add_sums(d, kc, items, x, rs_x, y, rs_y, sums, &flags, next))
            return;
        fesetexceptflag(&flags, FE_ALL_EXCEPT);
    }
    for (int64_t j = 0; j < items; j += ker->gemv_lanes)
        ker->sdots(kc, lmul_min64(ker->gemv_lanes, items - j), x + j * rs_x, rs_x,
                   y + j * rs_y, rs_y, sums + j, &d->params);
}

/* r = 1*s (the first chunk) or 1*s + 1*r, as the GEMM's merge. */
static float meet(float r, float s, int first)
{
    const float one = 1.0f;
    const float t = one * s;
    return first ? t : t + one * r;
}

static void store(const lmul_dot_problem *d, int64_t b, float r)
{
    char *e = d->r + b * d->bs_r;
    if (d->out != LMUL_ELEM_CONTAINER)
        lmul_elem_narrow(d->out, r, e);
    else
        memcpy(e, &r, sizeof r);
}

/* Dots b, b + step, b + 2 step, ... (`items` of them, at most
 * dots_per_call), one in each lane. */
static void dots_block(const lmul_dot_problem *d, float *buf, int64_t b, int64_t step,
                       int64_t items, one_add_try *next)
{
    const int64_t per = dots_per_call(d->ker);
    uint32_t *xb = (uint32_t *)buf, *yb = xb + per * LMUL_GEMM_KC;
    float *sums = buf + 2 * per * LMUL_GEMM_KC, r[LMUL_MAX_DOTS_PER_CALL];
    for (int64_t j = 0; j < items; j++)
        r[j] = 0.0f;
    for (int64_t pc = 0; pc < d->n; pc += LMUL_GEMM_KC) {
        const int64_t kc = lmul_min64(LMUL_GEMM_KC, d->n - pc);
        int64_t rsx, rsy;
        const char *x = rows_of(&d->op_x, d->x + b * d->bs_x, step * d->bs_x, d->s_x, items,
                                pc, kc, xb, &rsx);
        const char *y = rows_of(&d->op_y, d->y + b * d->bs_y, step * d->bs_y, d->s_y, items,
                                pc, kc, yb, &rsy);
        chunk_sums(d, kc, items, x, rsx, y, rsy, sums, next);
        for (int64_t j = 0; j < items; j++)
            r[j] = meet(r[j], sums[j], pc == 0);
    }
    for (int64_t j = 0; j < items; j++)
        store(d, b + j * step, r[j]);
}

/* One long dot of contiguous float32 operands: its whole chunks in lanes. */
static void long_dot(const lmul_dot_problem *d, float *buf)
{
    const int64_t per = dots_per_call(d->ker), kc = LMUL_GEMM_KC, whole = d->n / kc;
    const int64_t step = kc * (int64_t)sizeof(float);
    float *sums = buf + 2 * per * kc, r = 0.0f;
    one_add_try next = TRY_WINDOW;
    for (int64_t c = 0; c < whole; c += per) {
        const int64_t items = lmul_min64(per, whole - c);
        chunk_sums(d, kc, items, d->x + c * step, step, d->y + c * step, step, sums, &next);
        for (int64_t j = 0; j < items; j++)
            r = meet(r, sums[j], c + j == 0);
    }
    if (whole * kc < d->n) {
        chunk_sums(d, d->n - whole * kc, 1, d->x + whole * step, 0, d->y + whole * step,
                   0, sums, &next);
        r = meet(r, sums[0], whole == 0);
    }
    store(d, 0, r);
}

static int contiguous_f32(const lmul_dot_problem *d)
{
    return d->op_x.in == LMUL_ELEM_CONTAINER && d->op_y.in == LMUL_ELEM_CONTAINER
        && d->s_x == (int64_t)sizeof(float) && d->s_y == (int64_t)sizeof(float);
}

/* Whether a call's lanes take items spread over a claim (few lanes) or
 * neighbours (calls that read more rows at once than MAX_STREAMED_ROWS). */
static int spread_lanes(int64_t unit)
{
    return 2 * unit <= MAX_STREAMED_ROWS;
}

static void dot_task(void *arg, int t)
{
    const dot_job *job = arg;
    const lmul_dot_problem *d = job->d;
    const int64_t unit = dots_per_call(d->ker);
    if (d->batch == 1 && contiguous_f32(d) && d->n > LMUL_GEMM_KC) {
        long_dot(d, job->bufs[t]);
        return;
    }
    one_add_try next = TRY_WINDOW;
    int64_t b0, b1;
    while (lmul_claim(job->work, &b0, &b1)) {
        const int64_t count = b1 - b0;
        if (!spread_lanes(unit)) {
            dots_block(d, job->bufs[t], b0, 1, count, &next);
            continue;
        }
        /* The lanes of a call take the claim's items `step` apart, not
         * neighbours: each lane's rows then follow on from call to call,
         * one long stream per lane that the hardware prefetchers follow,
         * where 8 neighbouring rows of 1 KB are 16 streams that end after
         * 1 KB (1000 dots of 256 from L3, one thread, AVX2: 5.4 -> 3.9
         * cycles per 8 products, as fast as from L2). */
        const int64_t step = (count + unit - 1) / unit;
        for (int64_t g = 0; g < step; g++)
            dots_block(d, job->bufs[t], b0 + g, step, (count - g + step - 1) / step, &next);
    }
}

/* Items a thread claims at a time: one call's, or with spread lanes the
 * thread's even share, so that each lane streams as many rows as it can
 * (16 rows a lane on AVX2, 1000 dots of 256 on 2 threads: about 0.8x as
 * fast as 63). */
static int64_t claim_grain(const lmul_dot_problem *d, int nt)
{
    const int64_t unit = dots_per_call(d->ker);
    return spread_lanes(unit) ? lmul_even_share(d->batch, unit, nt) : unit;
}

int lmul_dot_run(const lmul_dot_problem *d)
{
    lmul_claims work;
    dot_job job = {d, 1, &work, {NULL}};
    const int64_t unit = dots_per_call(d->ker);
    int64_t nt = lmul_get_num_threads();
    nt = lmul_min64(nt, lmul_mul_sat(d->batch, d->n) / MIN_WORK_PER_THREAD);
    nt = lmul_min64(nt, (d->batch + unit - 1) / unit);
    job.nt = nt < 1 ? 1 : (int)lmul_min64(nt, MAX_THREADS);
    const size_t bytes = (size_t)((2 * LMUL_GEMM_KC + 1) * unit) * sizeof(float);
    int status = LMUL_OK;
    for (int t = 0; t < job.nt && status == LMUL_OK; t++) {
        job.bufs[t] = lmul_workspace_alloc(bytes);
        status = job.bufs[t] != NULL ? LMUL_OK : LMUL_ERR_NOMEM;
    }
    lmul_claims_init(&work, d->batch, claim_grain(d, job.nt));
    if (status == LMUL_OK)
        lmul_parallel_run(job.nt, dot_task, &job);
    for (int t = 0; t < job.nt; t++)
        lmul_workspace_free(job.bufs[t]);
    return status;
}
