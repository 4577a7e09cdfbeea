/*
 * Pre-packed B: the weights of a model, packed and prepared once, then used
 * for any number of products.
 *
 * B is packed as the blocked loops' A side of C^T = B^T A^T (L-Mul
 * commutes): its columns in micro-panels of the level's mr, each chunk of kc
 * steps of the inner dimension after the other, with the offset - bias
 * addend folded in and the range of every panel recorded, exactly as the
 * driver's pack_a would make them on each call. The driver then points at
 * these panels instead of packing (lmul_gemm_prepacked_block), so every
 * element of C gets the operations, in the order, of the unpacked call.
 */
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

#include "lmul_gemm_frame.h"


struct lmul_gemm_prepacked {
    const lmul_kernels *level;       /* whose mr and kc laid it out */
    lmul_format fmt;
    const lmul_container *container;
    size_t elsize;
    int k;
    int64_t kdim, n, panels;         /* panels of mr per chunk */
    char *data;                      /* chunk pc at pc * panels * mr elements */
    lmul_range *ranges;              /* chunk pc's at (pc / kc) * panels */
};

struct lmul_packed {
    lmul_gemm_prepacked p;
};

static const lmul_gemm_kernels *gemm_kernels(const lmul_kernels *level, size_t elsize)
{
    return elsize == 4 ? &level->sgemm : &level->dgemm;
}

int lmul_format_describe(lmul_format f, const lmul_container **ct, size_t *elsize,
                         lmul_elem_format *in, lmul_elem_format *out)
{
    static const lmul_elem_format ins[] = {
        LMUL_ELEM_CONTAINER, LMUL_ELEM_CONTAINER, LMUL_ELEM_HALF,
        LMUL_ELEM_BFLOAT16, LMUL_ELEM_E4M3FN, LMUL_ELEM_E5M2};
    if ((int)f < LMUL_FORMAT_F32 || (int)f > LMUL_FORMAT_E5M2)
        return LMUL_ERR_ARG;
    *ct = f == LMUL_FORMAT_F64 ? &lmul_container_f64 : &lmul_container_f32;
    *elsize = f == LMUL_FORMAT_F64 ? sizeof(double) : sizeof(float);
    *in = ins[f];
    *out = f == LMUL_FORMAT_F16 || f == LMUL_FORMAT_BF16 ? ins[f] : LMUL_ELEM_CONTAINER;
    return LMUL_OK;
}

void lmul_gemm_prepacked_block(const lmul_gemm_prepacked *p, int64_t ic, int64_t pc,
                               char **panels, lmul_range **ranges)
{
    const lmul_gemm_kernels *ker = gemm_kernels(p->level, p->elsize);
    const int64_t kc = p->kdim - pc < LMUL_GEMM_KC ? p->kdim - pc : LMUL_GEMM_KC;
    *panels = p->data + (pc * p->panels * ker->mr + ic * kc) * (int64_t)p->elsize;
    *ranges = p->ranges + pc / LMUL_GEMM_KC * p->panels + ic / ker->mr;
}

/* The problem whose pack_a the pack reproduces: B^T (stored as op_b) as A. */
static void pack_problem(const lmul_gemm_prepacked *p, lmul_operand op_b,
                         lmul_gemm_problem *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->ker = gemm_kernels(p->level, p->elsize);
    pr->container = p->container;
    pr->elsize = p->elsize;
    pr->op_a = op_b;
    pr->out = LMUL_ELEM_CONTAINER;
    lmul_params_init(&pr->params, p->container, p->k);
}

static void pack_chunks(lmul_gemm_prepacked *p, lmul_elem_format in, const char *b,
                        int64_t rs_b, int64_t cs_b)
{
    lmul_gemm_problem pr;
    uint32_t table[256];
    pack_problem(p, (lmul_operand){in, lmul_gemm_fp8_codes(in, table)}, &pr);
    const int64_t mr = pr.ker->mr, kc_max = LMUL_GEMM_KC;
    const uint64_t addend = lmul_gemm_a_addend(&pr);
    for (int64_t pc = 0; pc < p->kdim; pc += kc_max) {
        const int64_t kc = p->kdim - pc < kc_max ? p->kdim - pc : kc_max;
        char *panels;
        lmul_range *ranges;
        lmul_gemm_prepacked_block(p, 0, pc, &panels, &ranges);
        lmul_gemm_pack_block(&pr, pr.op_a, panels, b + pc * rs_b, p->n, mr, kc, cs_b, rs_b,
                             addend, ranges);
    }
}

int lmul_gemm_pack(lmul_format fmt, int64_t kdim, int64_t n, const void *b,
                   int64_t rs_b, int64_t cs_b, int k, lmul_packed **packed)
{
    const lmul_container *ct;
    size_t elsize;
    lmul_elem_format in, out;
    lmul_params params;
    if (packed == NULL || lmul_format_describe(fmt, &ct, &elsize, &in, &out) != LMUL_OK)
        return LMUL_ERR_ARG;
    if (lmul_params_init(&params, ct, k) != LMUL_OK)
        return LMUL_ERR_K;
    if (kdim < 1 || n < 1 || b == NULL)
        return LMUL_ERR_ARG;
    const lmul_kernels *level = lmul_active_kernels();
    const lmul_gemm_kernels *ker = gemm_kernels(level, elsize);
    const int64_t panels = (n + ker->mr - 1) / ker->mr;
    const int64_t chunks = (kdim + LMUL_GEMM_KC - 1) / LMUL_GEMM_KC;
    const size_t data = lmul_align_up((size_t)(panels * ker->mr * kdim) * elsize);
    lmul_packed *pk = malloc(sizeof *pk);
    const size_t ranges = (size_t)(chunks * panels) * sizeof(lmul_range);
    char *mem = lmul_workspace_alloc(data + ranges);
    if (pk == NULL || mem == NULL) {
        free(pk);
        lmul_workspace_free(mem);
        return LMUL_ERR_NOMEM;
    }
    pk->p = (lmul_gemm_prepacked){level, fmt, ct, elsize, k, kdim, n, panels, mem,
                                  (lmul_range *)(mem + data)};
    fexcept_t flags;
    fegetexceptflag(&flags, FE_ALL_EXCEPT);
    pack_chunks(&pk->p, in, b, rs_b, cs_b);
    fesetexceptflag(&flags, FE_ALL_EXCEPT);
    *packed = pk;
    return LMUL_OK;
}

void lmul_packed_free(lmul_packed *packed)
{
    if (packed != NULL)
        lmul_workspace_free(packed->p.data);
    free(packed);
}

void lmul_packed_info(const lmul_packed *packed, int64_t *kdim, int64_t *n,
                      lmul_format *fmt, int *k, lmul_isa *isa)
{
    if (packed == NULL)
        return;
    if (kdim != NULL)
        *kdim = packed->p.kdim;
    if (n != NULL)
        *n = packed->p.n;
    if (fmt != NULL)
        *fmt = packed->p.fmt;
    if (k != NULL)
        *k = packed->p.k;
    if (isa != NULL)
        *isa = packed->p.level->isa;
}

/* C's formats for A's container: float32, float16, bfloat16 or float64. */
static int c_format(const lmul_container *ct, lmul_format c_fmt, lmul_elem_format *out)
{
    if (ct == &lmul_container_f64) {
        *out = LMUL_ELEM_CONTAINER;
        return c_fmt == LMUL_FORMAT_F64 ? LMUL_OK : LMUL_ERR_ARG;
    }
    if (c_fmt != LMUL_FORMAT_F32 && c_fmt != LMUL_FORMAT_F16 && c_fmt != LMUL_FORMAT_BF16)
        return LMUL_ERR_ARG;
    *out = c_fmt == LMUL_FORMAT_F32 ? LMUL_ELEM_CONTAINER
         : c_fmt == LMUL_FORMAT_F16 ? LMUL_ELEM_HALF : LMUL_ELEM_BFLOAT16;
    return LMUL_OK;
}

int lmul_gemm_compute(int64_t m, const void *alpha, lmul_format a_fmt,
                      const void *a, int64_t rs_a, int64_t cs_a,
                      const lmul_packed *packed, const void *beta,
                      lmul_format c_fmt, void *c, int64_t rs_c, int64_t cs_c)
{
    const lmul_container *ct;
    size_t elsize;
    lmul_elem_format in, out;
    if (packed == NULL || alpha == NULL || beta == NULL
        || lmul_format_describe(a_fmt, &ct, &elsize, &in, &out) != LMUL_OK)
        return LMUL_ERR_ARG;
    const lmul_gemm_prepacked *p = &packed->p;
    if (ct != p->container || c_format(ct, c_fmt, &out) != LMUL_OK)
        return LMUL_ERR_ARG;
    if (p->level != lmul_active_kernels())
        return LMUL_ERR_ISA;
    if (m < 0 || (m > 0 && (a == NULL || c == NULL)))
        return LMUL_ERR_ARG;
    if (m == 0)
        return LMUL_OK;
    if ((m > 1 && rs_c == 0) || (p->n > 1 && cs_c == 0))
        return LMUL_ERR_ARG;
    lmul_gemm_problem pr;
    uint32_t table[256];
    /* B^T is packed (its format no longer read); the activations A^T are
     * the kernel's B side */
    pack_problem(p, (lmul_operand){LMUL_ELEM_CONTAINER, NULL}, &pr);
    pr.op_b = (lmul_operand){in, lmul_gemm_fp8_codes(in, table)};
    pr.out = out;
    pr.packed_a = p;
    pr.m = p->n;               /* C^T = B^T A^T */
    pr.n = m;
    pr.k = p->kdim;
    pr.b = a;
    pr.rs_b = cs_a;
    pr.cs_b = rs_a;
    pr.c = c;
    pr.rs_c = cs_c;
    pr.cs_c = rs_c;
    pr.alpha = alpha;
    pr.beta = beta;
    lmul_fp_scope fp;
    lmul_fp_enter(&fp);
    const int status = lmul_gemm_run(&pr);
    if (status == LMUL_OK && lmul_sums_may_hold_odd_nans(pr.elsize, beta))
        lmul_canonical_nans(pr.elsize, out, c, pr.m, pr.n, pr.rs_c, pr.cs_c);
    lmul_fp_leave(&fp);
    return status;
}

int lmul_sgemm_pack(int64_t kdim, int64_t n, const float *b, int64_t ldb, int k,
                    lmul_packed **packed)
{
    if (ldb < (n > 1 ? n : 1))
        return LMUL_ERR_DIM;
    return lmul_gemm_pack(LMUL_FORMAT_F32, kdim, n, b, ldb * (int64_t)sizeof(float),
                          sizeof(float), k, packed);
}

int lmul_sgemm_compute(int64_t m, float alpha, const float *a, int64_t lda,
                       const lmul_packed *packed, float beta, float *c, int64_t ldc)
{
    if (packed == NULL)
        return LMUL_ERR_ARG;
    if (lda < (packed->p.kdim > 1 ? packed->p.kdim : 1)
        || ldc < (packed->p.n > 1 ? packed->p.n : 1))
        return LMUL_ERR_DIM;
    return lmul_gemm_compute(m, &alpha, LMUL_FORMAT_F32, a,
                             lda * (int64_t)sizeof(float), sizeof(float), packed,
                             &beta, LMUL_FORMAT_F32, c, ldc * (int64_t)sizeof(float),
                             sizeof(float));
}
