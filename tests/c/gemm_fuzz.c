/*
 * A randomized driver of the C API's GEMM and dot products, for the
 * sanitizer run (.ci/sanitize): random shapes (0..70 and a few large),
 * every format, both GEMM forms, strides of either sign (and zero for A and
 * B), k, alpha and beta, data with NaN, infinity, zeros and subnormals.
 * Every call is made on each instruction-set level this CPU has and with 1
 * and 3 threads, and must give the scalar level's bits (NaN results are
 * canonical, so their sign and payload too), the same FP flags,
 * keep the caller's flags, and write nothing but C's elements; finite
 * float32/float64 products are checked against sums of the elementwise
 * L-Mul products within (K+2) u sum|p| (docs/contract.md section 4). Bad calls must
 * return their status and write nothing.
 *
 *     gemm_fuzz [iterations [seed]]     (or LMUL_FUZZ_ITERS, LMUL_FUZZ_SEED)
 *
 * New paths behind lmul_*gemm* and lmul_*dot (GEMV, batched, packed)
 * are exercised as they are chosen by shape.
 */
#include <fenv.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_simd.h"

enum fmt { F32, F64, F16, BF16, E4M3, E5M2, NFMT };
static const char *const fmt_names[NFMT] = {"f32", "f64", "f16", "bf16", "e4m3", "e5m2"};
static const size_t in_size[NFMT] = {4, 8, 2, 2, 1, 1};
static const size_t out_size[NFMT] = {4, 8, 2, 2, 4, 4};
static const int k_max[NFMT] = {23, 52, 23, 23, 23, 23};
static const int k_own[NFMT] = {23, 52, 10, 7, 3, 2};

static uint64_t rng_state;
static uint64_t next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t below(int64_t n) { return n > 0 ? (int64_t)(next() % (uint64_t)n) : 0; }
static double uniform(void) { return (double)(next() >> 11) / 9007199254740992.0; }

static long failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
    if (failures < 20) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } } while (0)

/* ---------------------------------------------------------------- data */

static double special_value(void)
{
    static const double v[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-40, -1e-310,
                               3e38, -3e38, 1e300, 65504.0, 1e-8};
    return v[below(sizeof v / sizeof v[0])];
}

/* One random element of format f at p; specials with probability `rate`. */
static void random_element(enum fmt f, void *p, double rate)
{
    if (f >= F16) {               /* random bit patterns: every class occurs */
        uint64_t bits = next();
        if (uniform() >= rate && f <= BF16)     /* mostly moderate values */
            bits = (f == F16 ? 0x3000u : 0x3E00u) + (bits & 0x7FF) + ((bits >> 20 & 1) << 15);
        memcpy(p, &bits, in_size[f]);
        return;
    }
    double x = uniform() < rate ? special_value() : (uniform() * 4 - 2);
    if (f == F32) {
        const float y = (float)x;
        memcpy(p, &y, 4);
    } else {
        memcpy(p, &x, 8);
    }
}

/* ---------------------------------------------------------------- operands */

/* A rows x cols operand with byte strides of either sign (zero allowed where
 * `zero_ok`), in a buffer of its own; base points at element (0, 0). */
typedef struct operand {
    char *buf, *base;
    size_t bytes;
    int64_t rs, cs;
} operand;

static void make_operand(operand *o, int64_t rows, int64_t cols, size_t es,
                         int zero_ok)
{
    const int64_t pad = below(3), row_major = below(2);
    int64_t inner = row_major ? cols : rows, outer = row_major ? rows : cols;
    int64_t s_in = 1 + (below(4) == 0 ? below(3) : 0), s_out = inner * s_in + pad;
    if (zero_ok && below(10) == 0)
        s_in = 0;
    if (zero_ok && below(10) == 0)
        s_out = 0;
    int64_t rs = (row_major ? s_out : s_in) * (int64_t)es;
    int64_t cs = (row_major ? s_in : s_out) * (int64_t)es;
    if (below(3) == 0)
        rs = -rs;
    if (below(3) == 0)
        cs = -cs;
    const int64_t span_r = (rows > 0 ? rows - 1 : 0) * (rs < 0 ? -rs : rs);
    const int64_t span_c = (cols > 0 ? cols - 1 : 0) * (cs < 0 ? -cs : cs);
    o->bytes = (size_t)(span_r + span_c) + es;
    o->buf = malloc(o->bytes);
    o->base = o->buf + (rs < 0 ? span_r : 0) + (cs < 0 ? span_c : 0);
    o->rs = rs;
    o->cs = cs;
    (void)outer;
}

static void fill(enum fmt f, const operand *o, int64_t rows, int64_t cols, double rate)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            random_element(f, o->base + i * o->rs + j * o->cs, rate);
}

/* ---------------------------------------------------------------- calls */

typedef struct problem {
    enum fmt f;
    int blas, k;
    int64_t m, n, kd;
    double alpha, beta;
    operand a, b, c;
    int layout, ta, tb;
    int64_t lda, ldb, ldc;
} problem;

static int call_gemm(const problem *p, char *c_base)
{
    const float fa = (float)p->alpha, fb = (float)p->beta;
    const void *a = p->a.base, *b = p->b.base;
    if (p->blas && p->f == F32)
        return lmul_sgemm(p->layout, p->ta, p->tb, p->m, p->n, p->kd, fa, a, p->lda,
                          b, p->ldb, fb, (float *)c_base, p->ldc, p->k);
    if (p->blas)
        return lmul_dgemm(p->layout, p->ta, p->tb, p->m, p->n, p->kd, p->alpha, a,
                          p->lda, b, p->ldb, p->beta, (double *)c_base, p->ldc, p->k);
    const int64_t ra = p->a.rs, ca = p->a.cs, rb = p->b.rs, cb = p->b.cs;
    const int64_t rc = p->c.rs, cc = p->c.cs;
    switch (p->f) {
    case F32: return lmul_sgemm_strided(p->m, p->n, p->kd, fa, a, ra, ca, b, rb, cb,
                                        fb, (float *)c_base, rc, cc, p->k);
    case F64: return lmul_dgemm_strided(p->m, p->n, p->kd, p->alpha, a, ra, ca, b, rb,
                                        cb, p->beta, (double *)c_base, rc, cc, p->k);
    case F16: return lmul_hgemm_strided(p->m, p->n, p->kd, fa, a, ra, ca, b, rb, cb,
                                        fb, (uint16_t *)c_base, rc, cc, p->k);
    case BF16: return lmul_bgemm_strided(p->m, p->n, p->kd, fa, a, ra, ca, b, rb, cb,
                                         fb, (uint16_t *)c_base, rc, cc, p->k);
    case E4M3: return lmul_e4m3gemm_strided(p->m, p->n, p->kd, fa, a, ra, ca, b, rb,
                                            cb, fb, (float *)c_base, rc, cc, p->k);
    default: return lmul_e5m2gemm_strided(p->m, p->n, p->kd, fa, a, ra, ca, b, rb,
                                          cb, fb, (float *)c_base, rc, cc, p->k);
    }
}

/* The BLAS form's operands as strided ones: op(X) is rows x cols, stored
 * with leading dimension ld (elements, may exceed the minimum). */
static void make_blas_operand(operand *o, int layout, int trans, int64_t rows,
                              int64_t cols, size_t es, int64_t *ld)
{
    const int t = trans == LMUL_TRANS, row_major = layout == LMUL_ROW_MAJOR;
    const int64_t stored_rows = t ? cols : rows, stored_cols = t ? rows : cols;
    const int64_t min_ld = row_major ? stored_cols : stored_rows;
    *ld = (min_ld > 1 ? min_ld : 1) + below(3);
    const int64_t s_row = row_major ? *ld : 1, s_col = row_major ? 1 : *ld;
    o->rs = (int64_t)es * (t ? s_col : s_row);
    o->cs = (int64_t)es * (t ? s_row : s_col);
    o->bytes = (size_t)(*ld * (row_major ? stored_rows : stored_cols) + 1) * es;
    o->buf = o->base = malloc(o->bytes);
}

/* ---------------------------------------------------------------- reference */

/* |c - sum_p lmul(a, b)| within the bound, for finite float32/64 data. */
static void check_bound(const problem *p, const char *c, const char *c0)
{
    const size_t es = in_size[p->f];
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            long double sum = 0, mag = 0;
            int finite = 1;
            for (int64_t q = 0; q < p->kd; q++) {
                const char *x = p->a.base + i * p->a.rs + q * p->a.cs;
                const char *y = p->b.base + q * p->b.rs + j * p->b.cs;
                double prod;
                if (es == 4) {
                    float z;
                    lmul_smul(1, (const float *)x, 4, (const float *)y, 4, &z, 4, p->k);
                    prod = z;
                } else {
                    lmul_dmul(1, (const double *)x, 8, (const double *)y, 8, &prod, 8,
                              p->k);
                }
                finite &= isfinite(prod);
                sum += prod;
                mag += fabsl((long double)prod);
            }
            double got, old = 0;
            if (es == 4) {
                float g, o;
                memcpy(&g, c + i * p->c.rs + j * p->c.cs, 4);
                memcpy(&o, c0 + i * p->c.rs + j * p->c.cs, 4);
                got = g;
                old = o;
            } else {
                memcpy(&got, c + i * p->c.rs + j * p->c.cs, 8);
                memcpy(&old, c0 + i * p->c.rs + j * p->c.cs, 8);
            }
            const double u = es == 4 ? 0x1p-24 : 0x1p-53;
            const long double lim = es == 4 ? 1e37 : 1e307;
            const long double want = (long double)p->alpha * sum
                + (p->beta != 0 ? (long double)p->beta * old : 0);
            const long double tol = (p->kd + 4) * u
                * (fabs(p->alpha) * mag + fabsl(p->beta != 0 ? (long double)p->beta * old : 0))
                + (es == 4 ? 0x1p-149 : 0x1p-1074) * 4;
            if (!finite || !isfinite(old) || !isfinite((double)want)
                || mag > lim || fabsl(want) > lim   /* a sum or scaling may overflow */
                || fabsl((long double)p->beta * old) > lim)
                continue;
            CHECK(fabsl((long double)got - want) <= tol,
                  "%s m=%lld n=%lld kdim=%lld k=%d alpha %g beta %g C %g (%lld,%lld): "
                  "got %.9g want %.9Lg tol %.3Lg", fmt_names[p->f], (long long)p->m,
                  (long long)p->n, (long long)p->kd, p->k, p->alpha, p->beta, old,
                  (long long)i, (long long)j, got, want, tol);
        }
}

/* ---------------------------------------------------------------- one case */

static int levels;                 /* ISA levels this CPU has */

/* byte i of C's buffer is one of C's elements */
static void element_mask(const problem *p, unsigned char *mask)
{
    memset(mask, 0, p->c.bytes);
    const size_t es = out_size[p->f];
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++)
            memset(mask + (p->c.base - p->c.buf) + i * p->c.rs + j * p->c.cs, 1, es);
}

/* Two results differ: not the same bits. */
static int differ(enum fmt f, const unsigned char *x, const unsigned char *y)
{
    return memcmp(x, y, out_size[f]) != 0;
}

/* C's elements that differ from ref's. */
static long compare_c(const problem *p, const char *c, const char *ref)
{
    long count = 0;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            const ptrdiff_t at = (p->c.base - p->c.buf) + i * p->c.rs + j * p->c.cs;
            const int d = differ(p->f, (const unsigned char *)c + at,
                                 (const unsigned char *)ref + at);
            if (d && count == 0) {
                uint64_t got = 0, want = 0;
                memcpy(&got, c + at, out_size[p->f]);
                memcpy(&want, ref + at, out_size[p->f]);
                fprintf(stderr, "  C[%lld, %lld] = %#llx, the scalar level's %#llx\n",
                        (long long)i, (long long)j, (unsigned long long)got,
                        (unsigned long long)want);
            }
            count += d;
        }
    return count;
}

static void run_case(problem *p, double rate)
{
    const enum fmt f = p->f;
    fill(f, &p->a, p->m, p->kd, rate);
    fill(f, &p->b, p->kd, p->n, rate);
    char *c0 = malloc(p->c.bytes), *ref = malloc(p->c.bytes), *c = malloc(p->c.bytes);
    unsigned char *mask = malloc(p->c.bytes);
    for (size_t i = 0; i < p->c.bytes; i++)
        c0[i] = (char)next();
    element_mask(p, mask);
    const ptrdiff_t off = p->c.base - p->c.buf;
    int ref_status = 0, ref_flags = 0;
    for (int isa = 0; isa < levels; isa++)
        for (int threads = 1; threads <= 3; threads += 2) {
            lmul_set_isa((lmul_isa)isa);
            lmul_set_num_threads(threads);
            memcpy(c, c0, p->c.bytes);
            feclearexcept(FE_ALL_EXCEPT);
            feraiseexcept(FE_DIVBYZERO);              /* the caller's own flag */
            const int status = call_gemm(p, c + off);
            const int flags = fetestexcept(FE_OVERFLOW | FE_INVALID);
            CHECK(fetestexcept(FE_DIVBYZERO), "%s: the caller's flag was cleared",
                  fmt_names[f]);
            for (size_t i = 0; i < p->c.bytes; i++)
                if (!mask[i] || status != LMUL_OK)
                    CHECK(c[i] == c0[i], "%s: byte %zu outside C written",
                          fmt_names[f], i);
            if (isa == 0 && threads == 1) {
                memcpy(ref, c, p->c.bytes);
                ref_status = status;
                ref_flags = flags;
                continue;
            }
            CHECK(status == ref_status, "%s: status %d vs %d", fmt_names[f], status,
                  ref_status);
            CHECK(flags == ref_flags, "%s isa %d threads %d m=%lld n=%lld k=%lld: "
                  "flags %d vs %d", fmt_names[f], isa, threads, (long long)p->m,
                  (long long)p->n, (long long)p->kd, flags, ref_flags);
            const long differ = compare_c(p, c, ref);
            CHECK(differ == 0, "%s isa %d threads %d m=%lld n=%lld k=%lld blas %d: "
                  "%ld elements differ from the scalar level", fmt_names[f], isa,
                  threads, (long long)p->m, (long long)p->n, (long long)p->kd, p->blas,
                  differ);
        }
    if (ref_status == LMUL_OK && (f == F32 || f == F64) && p->m * p->n * p->kd <= 200000)
        check_bound(p, ref + off, c0 + off);
    free(c0);
    free(ref);
    free(c);
    free(mask);
}

static int64_t dim(void)
{
    if (below(40) == 0)
        return 100 + below(400);      /* a few large */
    return below(5) == 0 ? below(4) : below(71);
}

static void gemm_case(void)
{
    problem p;
    memset(&p, 0, sizeof p);
    p.f = (enum fmt)below(NFMT);
    p.blas = p.f <= F64 && below(3) == 0;
    p.m = dim();
    p.n = dim();
    p.kd = dim();
    if (p.m * p.n * p.kd > 4000000)    /* keep large cases quick under ASan */
        p.kd = 1 + below(64);
    p.k = below(3) == 0 ? 1 + (int)below(k_max[p.f]) : k_own[p.f];
    static const double scalars[] = {1.0, 0.0, -1.0, 0.5, 2.0, -0.75, 3.0};
    p.alpha = below(2) ? 1.0 : scalars[below(7)];
    p.beta = below(2) ? 0.0 : scalars[below(7)];
    const double rate = below(3) == 0 ? 0.0 : (below(2) ? 0.02 : 0.2);
    if (p.blas) {
        p.layout = below(2) ? LMUL_ROW_MAJOR : LMUL_COL_MAJOR;
        p.ta = below(2) ? LMUL_TRANS : LMUL_NO_TRANS;
        p.tb = below(2) ? LMUL_TRANS : LMUL_NO_TRANS;
        make_blas_operand(&p.a, p.layout, p.ta, p.m, p.kd, in_size[p.f], &p.lda);
        make_blas_operand(&p.b, p.layout, p.tb, p.kd, p.n, in_size[p.f], &p.ldb);
        make_blas_operand(&p.c, p.layout, LMUL_NO_TRANS, p.m, p.n, in_size[p.f], &p.ldc);
    } else {
        make_operand(&p.a, p.m, p.kd, in_size[p.f], 1);
        make_operand(&p.b, p.kd, p.n, in_size[p.f], 1);
        make_operand(&p.c, p.m, p.n, out_size[p.f], 0);
    }
    run_case(&p, rate);
    free(p.a.buf);
    free(p.b.buf);
    free(p.c.buf);
}

/* ---------------------------------------------------------------- dots */

static int call_dot(enum fmt f, int64_t n, const char *x, int64_t sx, const char *y,
                    int64_t sy, void *r, int k)
{
    switch (f) {
    case F32: return lmul_sdot(n, (const float *)x, sx, (const float *)y, sy, r, k);
    case F64: return lmul_ddot(n, (const double *)x, sx, (const double *)y, sy, r, k);
    case F16: return lmul_hdot(n, (const uint16_t *)x, sx, (const uint16_t *)y, sy, r, k);
    case BF16: return lmul_bdot(n, (const uint16_t *)x, sx, (const uint16_t *)y, sy, r, k);
    case E4M3: return lmul_e4m3dot(n, (const uint8_t *)x, sx, (const uint8_t *)y, sy, r, k);
    default: return lmul_e5m2dot(n, (const uint8_t *)x, sx, (const uint8_t *)y, sy, r, k);
    }
}

static void dot_case(void)
{
    const enum fmt f = (enum fmt)below(NFMT);
    const int64_t n = below(10) == 0 ? below(3000) : below(71);
    const int k = below(3) == 0 ? 1 + (int)below(k_max[f]) : k_own[f];
    operand x, y;
    make_operand(&x, n, 1, in_size[f], 1);
    make_operand(&y, n, 1, in_size[f], 1);
    fill(f, &x, n, 1, 0.05);
    fill(f, &y, n, 1, 0.05);
    unsigned char ref[8] = {0}, got[8];
    int ref_flags = 0;
    for (int isa = 0; isa < levels; isa++) {
        lmul_set_isa((lmul_isa)isa);
        memset(got, 0xA5, sizeof got);
        feclearexcept(FE_ALL_EXCEPT);
        CHECK(call_dot(f, n, x.base, x.rs, y.base, y.rs, got, k) == LMUL_OK,
              "%s dot failed", fmt_names[f]);
        const int flags = fetestexcept(FE_OVERFLOW | FE_INVALID);
        if (isa == 0) {
            memcpy(ref, got, sizeof ref);
            ref_flags = flags;
        }
        CHECK(!differ(f, got, ref) && flags == ref_flags,
              "%s dot n=%lld: level %d differs", fmt_names[f], (long long)n, isa);
        for (size_t i = out_size[f]; i < sizeof got; i++)
            CHECK(got[i] == 0xA5, "%s dot wrote past its result", fmt_names[f]);
    }
    free(x.buf);
    free(y.buf);
}

/* ---------------------------------------------------------------- misuse */

static void misuse(void)
{
    float a[16] = {1}, c[16];
    for (int i = 0; i < 16; i++)
        c[i] = 7.0f;
    const int64_t big = INT64_MAX / 2;
    CHECK(lmul_sgemm_strided(2, 2, 2, 1, a, 8, 4, a, 8, 4, 0, c, 8, 4, 0) == LMUL_ERR_K, "k 0");
    CHECK(lmul_sgemm_strided(2, 2, 2, 1, a, 8, 4, a, 8, 4, 0, c, 8, 4, 24) == LMUL_ERR_K, "k 24");
    CHECK(lmul_sgemm_strided(-1, 2, 2, 1, a, 8, 4, a, 8, 4, 0, c, 8, 4, 23) == LMUL_ERR_ARG, "m<0");
    CHECK(lmul_sgemm_strided(2, 2, 2, 1, NULL, 8, 4, a, 8, 4, 0, c, 8, 4, 23) == LMUL_ERR_ARG, "A NULL");
    CHECK(lmul_sgemm_strided(2, 2, 2, 1, a, 8, 4, a, 8, 4, 0, NULL, 8, 4, 23) == LMUL_ERR_ARG, "C NULL");
    CHECK(lmul_sgemm_strided(2, 2, 2, 1, a, 8, 4, a, 8, 4, 0, c, 0, 4, 23) == LMUL_ERR_ARG, "rs_c 0");
    CHECK(lmul_sgemm(LMUL_ROW_MAJOR, LMUL_NO_TRANS, LMUL_NO_TRANS, 2, 2, 2, 1, a, 1, a, 2, 0,
                     c, 2, 23) == LMUL_ERR_DIM, "lda small");
    CHECK(lmul_sgemm(LMUL_ROW_MAJOR, LMUL_NO_TRANS, LMUL_NO_TRANS, 1, 1, 1, 1, a, big, a, 1,
                     0, c, 1, 23) == LMUL_ERR_ARG, "lda overflows");
    CHECK(lmul_sgemm((lmul_layout)9, LMUL_NO_TRANS, LMUL_NO_TRANS, 2, 2, 2, 1, a, 2, a, 2, 0,
                     c, 2, 23) == LMUL_ERR_ARG, "layout");
    CHECK(lmul_sgemm(LMUL_ROW_MAJOR, LMUL_NO_TRANS, LMUL_NO_TRANS, -1, 2, 2, 1, a, 2, a, 2,
                     0, c, 2, 99) == LMUL_ERR_K, "k before sizes");
    CHECK(lmul_sdot(-1, a, 4, a, 4, c, 23) == LMUL_ERR_ARG, "dot n<0");
    CHECK(lmul_sdot(2, a, 4, a, 4, NULL, 23) == LMUL_ERR_ARG, "dot NULL");
    for (int i = 0; i < 16; i++)
        CHECK(c[i] == 7.0f, "a bad call wrote C[%d]", i);
}

/* ---------------------------------------------------------------- threads */

/* Several threads compute one product while the main thread switches the
 * ISA level and the thread count: every result has the scalar level's bits
 * (each call reads the settings once), and the pool is shared safely. */
enum { CM = 150, CK = 200, CN = 130, CALLERS = 3, ROUNDS = 12 };
static float ca[CM * CK], cb[CK * CN], cref[CM * CN];
static _Atomic int mismatches;

static void *caller(void *unused)
{
    (void)unused;
    float *c = malloc(sizeof cref);
    for (int r = 0; r < ROUNDS; r++) {
        lmul_sgemm(LMUL_ROW_MAJOR, LMUL_NO_TRANS, LMUL_NO_TRANS, CM, CN, CK, 1.0f, ca,
                   CK, cb, CN, 0.0f, c, CN, 23);
        if (memcmp(c, cref, sizeof cref) != 0)
            mismatches++;
    }
    free(c);
    return NULL;
}

static void concurrent_case(void)
{
    for (int i = 0; i < CM * CK; i++)
        ca[i] = (float)(uniform() * 4 - 2);
    for (int i = 0; i < CK * CN; i++)
        cb[i] = (float)(uniform() * 4 - 2);
    lmul_set_isa(LMUL_ISA_SCALAR);
    lmul_set_num_threads(1);
    lmul_sgemm(LMUL_ROW_MAJOR, LMUL_NO_TRANS, LMUL_NO_TRANS, CM, CN, CK, 1.0f, ca, CK,
               cb, CN, 0.0f, cref, CN, 23);
    pthread_t ids[CALLERS];
    for (int t = 0; t < CALLERS; t++)
        pthread_create(&ids[t], NULL, caller, NULL);
    for (int i = 0; i < 200; i++) {
        lmul_set_isa((lmul_isa)(i % levels));
        lmul_set_num_threads(1 + i % 4);
    }
    for (int t = 0; t < CALLERS; t++)
        pthread_join(ids[t], NULL);
    CHECK(mismatches == 0, "%d concurrent results differ", (int)mismatches);
}

int main(int argc, char **argv)
{
    const char *env_iters = getenv("LMUL_FUZZ_ITERS"), *env_seed = getenv("LMUL_FUZZ_SEED");
    long iters = argc > 1 ? atol(argv[1]) : env_iters ? atol(env_iters) : 1000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10)
                  : env_seed ? strtoull(env_seed, NULL, 10) : 1;
    rng_state = seed * 0x9E3779B97F4A7C15u + 1;
    levels = (int)lmul_best_isa() + 1;
    const lmul_isa isa0 = lmul_get_isa();
    const int threads0 = lmul_get_num_threads();
    misuse();
    for (long i = 0; i < iters; i++) {
        gemm_case();
        if (i % 4 == 0)
            dot_case();
    }
    concurrent_case();
    lmul_set_isa(isa0);
    lmul_set_num_threads(threads0);
    printf("gemm_fuzz: seed %llu, %ld cases, %d ISA levels: %ld failures\n",
           (unsigned long long)seed, iters, levels, failures);
    return failures != 0;
}
