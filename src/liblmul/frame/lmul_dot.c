/*
 * Dot products (vecdot, lmul_?dot) in the blocked GEMM's summation order,
 * so that a dot of x and y has the bits of the 1 x 1 product x @ y: the
 * inner dimension cut into chunks of LMUL_GEMM_KC, each chunk summed from +0
 * in order, the chunk sums met in order (r = 1*s for the first, r = 1*s +
 * 1*r after; a float16 or bfloat16 result rounded once at the end). The kernel puts one dot in each lane (in-register transposes);
 * threads split the batch. A single long dot puts its chunks in the lanes
 * (each chunk's sum is independent) and meets them in order.
 */
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

#define MIN_WORK_PER_THREAD (INT64_C(1) << 15)   /* batch*n below this: one thread */
#define MAX_THREADS 256


typedef struct dot_job {
    const lmul_dot_problem *d;
    int nt;
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

/* Items b .. b + items of one operand at step pc as rows the kernel reads:
 * in place when they are float32 and contiguous, else gathered into buf. */
static const char *rows_of(const lmul_operand *op, const char *base, int64_t bs,
                           int64_t s, int64_t b, int64_t items, int64_t pc,
                           int64_t kc, uint32_t *buf, int64_t *rs)
{
    const char *first = base + b * bs + pc * s;
    if (op->in == LMUL_ELEM_CONTAINER && s == (int64_t)sizeof(float)) {
        *rs = bs;
        return first;
    }
    for (int64_t j = 0; j < items; j++)
        gather(op, kc, first + j * bs, s, buf + j * kc);
    *rs = kc * (int64_t)sizeof(float);
    return (const char *)buf;
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

/* Dots b .. b + items, lanes at a time. */
static void dots_block(const lmul_dot_problem *d, float *buf, int64_t b, int64_t items)
{
    const lmul_gemm_kernels *ker = d->ker;
    const int64_t lanes = ker->gemv_lanes;
    uint32_t *xb = (uint32_t *)buf, *yb = xb + lanes * LMUL_GEMM_KC;
    float *sums = buf + 2 * lanes * LMUL_GEMM_KC, r[64];
    for (int64_t j = 0; j < items; j++)
        r[j] = 0.0f;
    for (int64_t pc = 0; pc < d->n; pc += LMUL_GEMM_KC) {
        const int64_t kc = lmul_min64(LMUL_GEMM_KC, d->n - pc);
        int64_t rsx, rsy;
        const char *x = rows_of(&d->op_x, d->x, d->bs_x, d->s_x, b, items, pc, kc, xb, &rsx);
        const char *y = rows_of(&d->op_y, d->y, d->bs_y, d->s_y, b, items, pc, kc, yb, &rsy);
        ker->sdots(kc, items, x, rsx, y, rsy, sums, &d->params);
        for (int64_t j = 0; j < items; j++)
            r[j] = meet(r[j], sums[j], pc == 0);
    }
    for (int64_t j = 0; j < items; j++)
        store(d, b + j, r[j]);
}

/* One long dot of contiguous float32 operands: its whole chunks in lanes. */
static void long_dot(const lmul_dot_problem *d, float *buf)
{
    const lmul_gemm_kernels *ker = d->ker;
    const int64_t lanes = ker->gemv_lanes, kc = LMUL_GEMM_KC, whole = d->n / kc;
    const int64_t step = kc * (int64_t)sizeof(float);
    float *sums = buf + 2 * lanes * kc, r = 0.0f;
    for (int64_t c = 0; c < whole; c += lanes) {
        const int64_t items = lmul_min64(lanes, whole - c);
        ker->sdots(kc, items, d->x + c * step, step, d->y + c * step, step, sums,
                   &d->params);
        for (int64_t j = 0; j < items; j++)
            r = meet(r, sums[j], c + j == 0);
    }
    if (whole * kc < d->n) {
        ker->sdots(d->n - whole * kc, 1, d->x + whole * step, 0, d->y + whole * step, 0,
                   sums, &d->params);
        r = meet(r, sums[0], whole == 0);
    }
    store(d, 0, r);
}

static int contiguous_f32(const lmul_dot_problem *d)
{
    return d->op_x.in == LMUL_ELEM_CONTAINER && d->op_y.in == LMUL_ELEM_CONTAINER
        && d->s_x == (int64_t)sizeof(float) && d->s_y == (int64_t)sizeof(float);
}

static void dot_task(void *arg, int t)
{
    const dot_job *job = arg;
    const lmul_dot_problem *d = job->d;
    const int64_t lanes = d->ker->gemv_lanes;
    if (d->batch == 1 && contiguous_f32(d) && d->n > LMUL_GEMM_KC) {
        long_dot(d, job->bufs[t]);
        return;
    }
    const int64_t units = (d->batch + lanes - 1) / lanes;
    const int64_t per = units / job->nt, extra = units % job->nt;
    const int64_t u0 = t * per + lmul_min64(t, extra), u1 = u0 + per + (t < extra);
    const int64_t b1 = lmul_min64(u1 * lanes, d->batch);
    for (int64_t b = u0 * lanes; b < b1; b += lanes)
        dots_block(d, job->bufs[t], b, lmul_min64(lanes, b1 - b));
}

int lmul_dot_run(const lmul_dot_problem *d)
{
    dot_job job = {d, 1, {NULL}};
    const int64_t lanes = d->ker->gemv_lanes;
    int64_t nt = lmul_get_num_threads();
    nt = lmul_min64(nt, lmul_mul_sat(d->batch, d->n) / MIN_WORK_PER_THREAD);
    nt = lmul_min64(nt, (d->batch + lanes - 1) / lanes);
    job.nt = nt < 1 ? 1 : (int)lmul_min64(nt, MAX_THREADS);
    const size_t bytes = (size_t)((2 * LMUL_GEMM_KC + 1) * lanes) * sizeof(float);
    int status = LMUL_OK;
    for (int t = 0; t < job.nt && status == LMUL_OK; t++) {
        job.bufs[t] = lmul_workspace_alloc(bytes);
        status = job.bufs[t] != NULL ? LMUL_OK : LMUL_ERR_NOMEM;
    }
    if (status == LMUL_OK)
        lmul_parallel_run(job.nt, dot_task, &job);
    for (int t = 0; t < job.nt; t++)
        free(job.bufs[t]);
    return status;
}
