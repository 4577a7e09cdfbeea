/*
 * Batches of products of one shape (a gufunc's outer loop): one call, the
 * threads splitting the batch, each with its buffers allocated once.
 *
 * A single product, or an item whose product alone keeps every thread
 * busy, runs by the few-row path (lmul_gemv.c) when it is of its class,
 * else as one threaded GEMM. The others run whole in one thread: by
 * the blocked loops, or, when tiny (float32 container, C float32, m and n
 * at most DIRECT_MAX, k at most DIRECT_MAX_K and one kc chunk) and every
 * product a one-add product, by a direct loop. The direct loop prepares A
 * and B exactly as the packing does (one panel each; a run of contiguous
 * items at once) and sums, for each element of C, the products in k order
 * from +0, then C = alpha * sum + beta * C: the operations of the
 * microkernels on one chunk, so every element has the blocked GEMM's bits.
 * Where the level has a small kernel (lmul_kernels.sgemm_small) and the
 * layout suits it, that kernel runs a thread's items instead: the same
 * preparation and order, each item prepared on the fly.
 */
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"

#if defined(__GNUC__)
#  define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#  define ALWAYS_INLINE inline
#endif
#define DIRECT_MAX 32              /* m and n of a direct product */
#define DIRECT_MAX_K 64            /* k: B is packed as one panel of k */
#define DIRECT_WORK 4096           /* and m * n * k */
#define DIRECT_RUN_FLOATS 16384    /* a run of items prepared at once */
#define DIRECT_COLS 4              /* columns of C at once, when m <= 8 */
#define CLAIMS_PER_THREAD 8        /* claims of whole runs of items a thread, about */

typedef struct thread_buffers {
    lmul_gemm_workspace *ws;       /* the blocked loops' */
    char *direct;                  /* the prepared A and B of direct products */
} thread_buffers;

typedef struct batch_state {
    const lmul_gemm_problem *pr;   /* the first item, oriented */
    lmul_gemm_batch batch;         /* its strides, oriented */
    int nt, direct;
    thread_buffers *buf;
    int small;                     /* direct items by the level's small kernel */
    lmul_small_batch sb;
    int64_t run;                   /* items a direct run prepares at once */
    lmul_claims *work;             /* the items, claimed as the threads go */
} batch_state;


static int direct_eligible(const lmul_gemm_problem *pr)
{
    return pr->elsize == sizeof(float) && pr->out == LMUL_ELEM_CONTAINER
        && pr->m <= DIRECT_MAX && pr->n <= DIRECT_MAX && pr->k <= DIRECT_MAX_K
        && pr->k <= LMUL_GEMM_KC
        && pr->m * pr->n * pr->k <= DIRECT_WORK;
}

/* Four lanes of the sums: GNU C vectors where there are, else a loop the
 * compiler may vectorise; the arithmetic is the same either way. */
#if defined(__GNUC__)
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef float f32x4 __attribute__((vector_size(16)));
#else
typedef struct { uint32_t v[4]; } u32x4;
typedef struct { float v[4]; } f32x4;
#endif

/* acc += the four products a[0..3] + b, one-add products. */
static ALWAYS_INLINE void add_products(f32x4 *acc, const uint32_t *a, uint32_t b)
{
    u32x4 bits;
    f32x4 prod;
    memcpy(&bits, a, sizeof bits);
#if defined(__GNUC__)
    bits += b;
    memcpy(&prod, &bits, sizeof prod);
    *acc += prod;
#else
    for (int l = 0; l < 4; l++) {
        bits.v[l] += b;
        memcpy(&prod.v[l], &bits.v[l], sizeof(float));
        acc->v[l] += prod.v[l];
    }
#endif
}

static ALWAYS_INLINE void store_column(const lmul_gemm_problem *pr, const f32x4 *acc,
                                       int64_t width, int64_t j)
{
    const float alpha = *(const float *)pr->alpha, beta = *(const float *)pr->beta;
    char *column = pr->c + j * pr->cs_c;
    float sums[DIRECT_MAX];
    memcpy(sums, acc, (size_t)width * sizeof(float));
    for (int64_t i = 0; i < width; i++)
        sums[i] = alpha * sums[i];
    if (beta == 0.0f && pr->m == width && pr->rs_c == (int64_t)sizeof(float)) {
        memcpy(column, sums, (size_t)width * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < pr->m; i++) {
        float r = sums[i], old;
        if (beta != 0.0f) {
            memcpy(&old, column + i * pr->rs_c, sizeof old);
            r = r + beta * old;
        }
        memcpy(column + i * pr->rs_c, &r, sizeof r);
    }
}

/* Columns j0 .. j0 + cols - 1 of C = alpha * A B + beta * C, A as kc steps
 * of `width` (its m rows, then the last one repeated), B as n columns of kc,
 * one-add products; inlined for constant widths and column counts, so the
 * sums stay in registers as independent chains. */
static ALWAYS_INLINE void direct_columns(const lmul_gemm_problem *pr,
                                         const uint32_t *pa, const uint32_t *pb,
                                         int64_t width, int64_t j0, int64_t cols)
{
    const int64_t k = pr->k;
    const uint32_t *b = pb + j0 * k;
    f32x4 acc[DIRECT_COLS][DIRECT_MAX / 4];
    for (int64_t j = 0; j < cols; j++)
        for (int64_t v = 0; v < width / 4; v++)
            memset(&acc[j][v], 0, sizeof acc[j][v]);
    for (int64_t p = 0; p < k; p++, pa += width, b++)
        for (int64_t j = 0; j < cols; j++)
            for (int64_t v = 0; v < width / 4; v++)
                add_products(&acc[j][v], pa + 4 * v, b[j * k]);
    for (int64_t j = 0; j < cols; j++)
        store_column(pr, acc[j], width, j0 + j);
}

static ALWAYS_INLINE void direct_sum(const lmul_gemm_problem *pr, const uint32_t *pa,
                                     const uint32_t *pb, int64_t width)
{
    const int64_t cols = width <= 8 ? DIRECT_COLS : 1;
    int64_t j = 0;
    for (; j + cols <= pr->n; j += cols)
        direct_columns(pr, pa, pb, width, j, cols);
    for (; j < pr->n; j++)
        direct_columns(pr, pa, pb, width, j, 1);
}

/* m rounded up to whole vectors. */
static int64_t direct_width(const lmul_gemm_problem *pr)
{
    return (pr->m + 3) / 4 * 4;
}

/* pack_block of `len` elements by `steps` into one panel of `width`; a
 * source that is the panel already (contiguous, no padding) is prepared in
 * one stretch. */
static void direct_panel(const lmul_gemm_problem *pr, lmul_operand op, char *dst,
                         const char *src, int64_t len, int64_t width, int64_t steps,
                         int64_t s_idx, int64_t s_k, uint64_t addend, lmul_range *range)
{
    const int64_t es = (int64_t)pr->elsize;
    if (op.in == LMUL_ELEM_CONTAINER && len == width && s_idx == es
        && s_k == width * es)
        pr->ker->prep(1, width * steps, src, 0, dst, addend, &pr->params, range);
    else
        lmul_gemm_pack_block(pr, op, dst, src, len, width, steps, s_idx, s_k, addend,
                             range);
}

/* The sums of a direct product from its prepared panels. */
static void direct_sums(const lmul_gemm_problem *pr, const uint32_t *a,
                        const uint32_t *b)
{
    switch (direct_width(pr) / 4) {   /* a constant width for each */
    case 1: direct_sum(pr, a, b, 4); break;
    case 2: direct_sum(pr, a, b, 8); break;
    case 3: direct_sum(pr, a, b, 12); break;
    case 4: direct_sum(pr, a, b, 16); break;
    case 5: direct_sum(pr, a, b, 20); break;
    case 6: direct_sum(pr, a, b, 24); break;
    case 7: direct_sum(pr, a, b, 28); break;
    default: direct_sum(pr, a, b, 32); break;
    }
}

/* 0 when a product is not a one-add one (the caller takes the blocked loops). */
static int direct_product(const lmul_gemm_problem *pr, char *buf)
{
    const int64_t width = direct_width(pr);
    char *pa = buf, *pb = buf + width * pr->k * sizeof(float);
    lmul_range ra, rb;
    direct_panel(pr, pr->op_a, pa, pr->a, pr->m, width, pr->k, pr->rs_a, pr->cs_a,
                 lmul_gemm_a_addend(pr), &ra);
    /* B with its steps contiguous: its elements are the steps, its columns
     * the elements, so a B whose columns are contiguous needs no gather */
    direct_panel(pr, pr->op_b, pb, pr->b, pr->k, pr->k, pr->n, pr->rs_b, pr->cs_b, 0, &rb);
    if (lmul_gemm_tile_case(pr, ra, rb) >= 0)
        return 0;
    direct_sums(pr, (const uint32_t *)pa, (const uint32_t *)pb);
    return 1;
}

static void item_problem(const batch_state *st, int64_t i, lmul_gemm_problem *item)
{
    *item = *st->pr;
    item->a += i * st->batch.bs_a;
    item->b += i * st->batch.bs_b;
    item->c += i * st->batch.bs_c;
}

/* Items one after the other, each as direct_panel finds its panels: a run
 * of them is prepared in two stretches. */
static int batch_contiguous(const lmul_gemm_problem *pr, const lmul_gemm_batch *b)
{
    const int64_t es = (int64_t)pr->elsize, m = pr->m, n = pr->n, k = pr->k;
    return pr->op_a.in == LMUL_ELEM_CONTAINER && pr->op_b.in == LMUL_ELEM_CONTAINER
        && m == direct_width(pr)
        && pr->rs_a == es && pr->cs_a == m * es && b->bs_a == m * k * es
        && pr->rs_b == es && pr->cs_b == k * es && b->bs_b == k * n * es;
}

static int64_t run_items(const lmul_gemm_problem *pr)
{
    const int64_t per_item = pr->m * pr->k + pr->k * pr->n;
    return per_item < DIRECT_RUN_FLOATS ? DIRECT_RUN_FLOATS / per_item : 1;
}

static size_t direct_bytes(const lmul_gemm_problem *pr, const lmul_gemm_batch *b)
{
    const int64_t one = direct_width(pr) * pr->k + pr->k * pr->n;
    const int64_t run = batch_contiguous(pr, b) ? run_items(pr) * one : one;
    return (size_t)run * sizeof(float);
}

/* Items lo .. hi - 1 (contiguous) by the direct loop, prepared in two
 * stretches; 0 if one of their products is not a one-add one. */
static int direct_run(const batch_state *st, int64_t lo, int64_t hi, char *buf)
{
    const lmul_gemm_problem *pr = st->pr;
    const int64_t a_size = pr->m * pr->k, b_size = pr->k * pr->n;
    const uint32_t *pa = (const uint32_t *)buf, *pb = pa + (hi - lo) * a_size;
    lmul_range ra, rb;
    pr->ker->prep(1, (hi - lo) * a_size, pr->a + lo * st->batch.bs_a, 0, (void *)pa,
                  lmul_gemm_a_addend(pr), &pr->params, &ra);
    pr->ker->prep(1, (hi - lo) * b_size, pr->b + lo * st->batch.bs_b, 0, (void *)pb,
                  0, &pr->params, &rb);
    if (lmul_gemm_tile_case(pr, ra, rb) >= 0)
        return 0;
    for (int64_t i = lo; i < hi; i++) {
        lmul_gemm_problem item;
        item_problem(st, i, &item);
        direct_sums(&item, pa + (i - lo) * a_size, pb + (i - lo) * b_size);
    }
    return 1;
}

static void one_item(const batch_state *st, int64_t i, const thread_buffers *buf)
{
    lmul_gemm_problem item;
    item_problem(st, i, &item);
    if (!st->direct || !direct_product(&item, buf->direct))
        lmul_gemm_run_serial(&item, buf->ws);
}

/* The level's small kernel takes a direct product whose A and C have
 * contiguous columns and B contiguous rows or columns (a stride along a
 * dimension of one element is any: taken as contiguous). */
static int small_batch(const lmul_gemm_problem *pr, const lmul_gemm_batch *b,
                       lmul_small_batch *sb)
{
    const int64_t es = (int64_t)sizeof(float);
    const int64_t rs_a = pr->m == 1 ? es : pr->rs_a, rs_c = pr->m == 1 ? es : pr->rs_c;
    const int64_t rs_b = pr->k == 1 ? es : pr->rs_b, cs_b = pr->n == 1 ? es : pr->cs_b;
    if (pr->small == NULL || pr->op_a.in != LMUL_ELEM_CONTAINER
        || pr->op_b.in != LMUL_ELEM_CONTAINER || rs_a != es || rs_c != es
        || (rs_b != es && cs_b != es) || pr->m > LMUL_SMALL_MAX
        || pr->n > LMUL_SMALL_MAX || pr->k > LMUL_SMALL_MAX_K)
        return 0;
    const lmul_container *ct = pr->container;
    const uint64_t off = pr->params.offset;
    *sb = (lmul_small_batch){
        pr->m, pr->n, pr->k, pr->a, pr->b, pr->c, pr->cs_a, rs_b, cs_b, pr->cs_c,
        b->bs_a, b->bs_b, b->bs_c, *(const float *)pr->alpha, *(const float *)pr->beta,
        (uint32_t)lmul_gemm_a_addend(pr),
        ct->bias + (UINT64_C(1) << ct->P) - off, ct->bias + ct->inf - off, pr->params};
    return 1;
}

/* Items lo .. hi - 1 by the small kernel; one that is not wholly one-add
 * by the blocked loops. */
static void small_items(const batch_state *st, int64_t lo, int64_t hi,
                        const thread_buffers *buf)
{
    while ((lo = st->pr->small(&st->sb, lo, hi)) < hi) {
        lmul_gemm_problem item;
        item_problem(st, lo++, &item);
        lmul_gemm_run_serial(&item, buf->ws);
    }
}

/* Items lo .. hi - 1 a run at a time: prepared together where they are
 * direct products of contiguous items, else one by one. */
static void general_items(const batch_state *st, int64_t lo, int64_t hi,
                          const thread_buffers *buf)
{
    for (int64_t i = lo; i < hi;) {
        const int64_t end = lmul_min64(i + st->run, hi);
        if (st->run > 1 && direct_run(st, i, end, buf->direct)) {
            i = end;
            continue;
        }
        for (; i < end; i++)
            one_item(st, i, buf);
    }
}

static void batch_task(void *arg, int t)
{
    const batch_state *st = arg;
    int64_t lo, hi;
    while (lmul_claim(st->work, &lo, &hi)) {
        if (st->small)
            small_items(st, lo, hi, &st->buf[t]);
        else
            general_items(st, lo, hi, &st->buf[t]);
    }
}

static void free_buffers(thread_buffers *buf, int nt)
{
    for (int t = 0; t < nt; t++) {
        lmul_gemm_workspace_free(buf[t].ws);
        lmul_workspace_free(buf[t].direct);
    }
}

static int alloc_buffers(const batch_state *st, thread_buffers *buf)
{
    for (int t = 0; t < st->nt; t++) {
        buf[t].ws = lmul_gemm_workspace_new(st->pr);
        const int direct = st->direct && !st->small;
        buf[t].direct = direct ? lmul_workspace_alloc(direct_bytes(st->pr, &st->batch)) : NULL;
        if (buf[t].ws == NULL || (direct && buf[t].direct == NULL)) {
            free_buffers(buf, t + 1);
            return LMUL_ERR_NOMEM;
        }
    }
    return LMUL_OK;
}

/* Items on the small kernel cost ~40 ns per 8 x 8 x 8 (one Zen 4 core):
 * 2^20 of m*n*k per thread is ~80 us, where two threads of the persistent
 * pool begin to beat one on a loaded 2-core machine (fewer lose to the
 * wake-up of a worker waiting for a core). */
#define SMALL_MIN_WORK_PER_THREAD (INT64_C(1) << 20)

static int batch_threads(const lmul_gemm_problem *pr, int64_t count, int small)
{
    int64_t nt = lmul_min64(lmul_get_num_threads(), count);
    nt = lmul_min64(nt, lmul_mul_sat(lmul_gemm_work(pr), count)
                   / (small ? SMALL_MIN_WORK_PER_THREAD : LMUL_GEMM_MIN_WORK_PER_THREAD));
    return nt < 1 ? 1 : (int)nt;
}

/* The few-row path (lmul_gemv.c) for one product, or item by item for
 * items that each keep the threads busy; LMUL_GEMV_NOT_MINE when the items
 * are not of its class (a matter of shape and strides: alike for all). */
static int few_rows_items(const lmul_gemm_problem *pr, const lmul_gemm_batch *b)
{
    const int64_t work = lmul_gemm_work(pr);
    if (b->count > 1 && work < lmul_mul_sat(LMUL_GEMM_MIN_WORK_PER_THREAD, lmul_get_num_threads()))
        return LMUL_GEMV_NOT_MINE;
    const batch_state st = {.pr = pr, .batch = *b, .nt = 1};
    int status = LMUL_OK;
    for (int64_t i = 0; i < b->count && status == LMUL_OK; i++) {
        lmul_gemm_problem item;
        item_problem(&st, i, &item);
        status = lmul_gemv_run(&item);
    }
    return status;
}

int lmul_gemm_run_batch(lmul_gemm_problem *pr, const lmul_gemm_batch *batch)
{
    enum { MAX_THREADS = 256 };
    const int few = few_rows_items(pr, batch);
    if (few != LMUL_GEMV_NOT_MINE)
        return few;
    lmul_gemm_batch b = *batch;
    if (lmul_gemm_orient(pr)) {   /* transposed: A and B swapped */
        b.bs_a = batch->bs_b;
        b.bs_b = batch->bs_a;
    }
    const int64_t work = lmul_gemm_work(pr);
    const int direct = direct_eligible(pr);
    if (!direct && (b.count == 1
                    || work >= lmul_mul_sat(LMUL_GEMM_MIN_WORK_PER_THREAD, lmul_get_num_threads()))) {
        batch_state st = {pr, b, 1, 0, NULL, 0, {0}, 1, NULL};
        for (int64_t i = 0; i < b.count; i++) {
            lmul_gemm_problem item;
            item_problem(&st, i, &item);
            if (lmul_gemm_run(&item) != LMUL_OK)
                return LMUL_ERR_NOMEM;
        }
        return LMUL_OK;
    }
    thread_buffers buf[MAX_THREADS];
    batch_state st = {pr, b, 1, direct, buf, 0, {0}, 1, NULL};
    st.small = direct && small_batch(pr, &b, &st.sb);
    st.nt = (int)lmul_min64(batch_threads(pr, b.count, st.small), MAX_THREADS);
    if (alloc_buffers(&st, buf) != LMUL_OK)
        return LMUL_ERR_NOMEM;
    st.run = direct && batch_contiguous(pr, &b) ? run_items(pr) : 1;
    lmul_claims items;
    lmul_claims_init(&items, b.count, lmul_even_share(b.count, st.run,
                                                      st.nt * CLAIMS_PER_THREAD));
    st.work = &items;
    lmul_parallel_run(st.nt, batch_task, &st);
    free_buffers(buf, st.nt);
    return LMUL_OK;
}

int lmul_gemm_batch_strided(lmul_format fmt, int64_t count, int64_t m, int64_t n,
                            int64_t kdim, const void *alpha, const void *a,
                            int64_t bs_a, int64_t rs_a, int64_t cs_a, const void *b,
                            int64_t bs_b, int64_t rs_b, int64_t cs_b,
                            const void *beta, void *c, int64_t bs_c, int64_t rs_c,
                            int64_t cs_c, int k)
{
    const lmul_container *ct;
    size_t elsize;
    lmul_elem_format in, out;
    if (alpha == NULL || beta == NULL
        || lmul_format_describe(fmt, &ct, &elsize, &in, &out) != LMUL_OK)
        return LMUL_ERR_ARG;
    const lmul_gemm_batch batch = {count, bs_a, bs_b, bs_c};
    return lmul_gemm_strided(ct, elsize, in, in, out, m, n, kdim, alpha, a, rs_a, cs_a, b,
                             rs_b, cs_b, beta, c, rs_c, cs_c, k, &batch);
}
