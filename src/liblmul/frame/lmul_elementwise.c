/*
 * Elementwise L-Mul over strided arrays. The microkernels only see
 * contiguous, element-aligned runs; this frame feeds them, copying strided,
 * broadcast or misaligned operands through small stack buffers.
 */
#include <fenv.h>
#include <string.h>

#include "lmul_internal.h"

#define CHUNK 1024   /* elements per buffered run: 8 KiB for double */

typedef void (*contig_call_ft)(const lmul_kernels *ks, int64_t n, const void *x,
                               const void *y, void *z, const lmul_params *p);

static void call_smul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const lmul_params *p)
{
    ks->smul(n, x, y, z, p);
}

static void call_dmul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const lmul_params *p)
{
    ks->dmul(n, x, y, z, p);
}

static void call_hmul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const lmul_params *p)
{
    ks->hmul(n, x, y, z, p);
}

static int is_direct(const void *ptr, int64_t stride, size_t elsize)
{
    return stride == (int64_t)elsize && (uintptr_t)ptr % elsize == 0;
}

static void gather(void *buf, const char *src, int64_t stride, int64_t m,
                   size_t elsize)
{
    if (stride == (int64_t)elsize) {
        memcpy(buf, src, (size_t)m * elsize);
        return;
    }
    for (int64_t i = 0; i < m; i++)
        memcpy((char *)buf + i * elsize, src + i * stride, elsize);
}

static void scatter(char *dst, int64_t stride, const void *buf, int64_t m,
                    size_t elsize)
{
    if (stride == (int64_t)elsize) {
        memcpy(dst, buf, (size_t)m * elsize);
        return;
    }
    for (int64_t i = 0; i < m; i++)
        memcpy(dst + i * stride, (const char *)buf + i * elsize, elsize);
}

/* A broadcast operand (stride 0) is copied into its buffer once. */
static const void *operand_run(void *buf, const char *src, int64_t stride,
                               int64_t start, int64_t m, size_t elsize)
{
    if (stride == 0)
        return buf;
    if (is_direct(src, stride, elsize))
        return src + start * stride;
    gather(buf, src + start * stride, stride, m, elsize);
    return buf;
}

static void fill_broadcast(void *buf, const char *src, int64_t n, size_t elsize)
{
    const int64_t m = n < CHUNK ? n : CHUNK;
    for (int64_t i = 0; i < m; i++)
        memcpy((char *)buf + i * elsize, src, elsize);
}

/* An output of stride 0 is a reduction (NumPy's multiply.reduce passes
 * z == x, both of stride 0): each step must read what the last one wrote. */
static void run_serial(contig_call_ft call, const lmul_kernels *ks, size_t elsize,
                       int64_t n, const char *x, int64_t sx, const char *y,
                       int64_t sy, char *z, const lmul_params *p)
{
    _Alignas(8) char bx[sizeof(double)], by[sizeof(double)], bz[sizeof(double)];
    for (int64_t i = 0; i < n; i++) {
        memcpy(bx, x + i * sx, elsize);
        memcpy(by, y + i * sy, elsize);
        call(ks, 1, bx, by, bz, p);
        memcpy(z, bz, elsize);
    }
}

static void run_strided(contig_call_ft call, size_t elsize, int64_t n,
                        const char *x, int64_t sx, const char *y, int64_t sy,
                        char *z, int64_t sz, const lmul_params *p)
{
    const lmul_kernels *ks = lmul_active_kernels();
    if (sz == 0) {
        run_serial(call, ks, elsize, n, x, sx, y, sy, z, p);
        return;
    }
    if (is_direct(x, sx, elsize) && is_direct(y, sy, elsize)
        && is_direct(z, sz, elsize)) {
        call(ks, n, x, y, z, p);
        return;
    }
    _Alignas(64) char bx[CHUNK * sizeof(double)];
    _Alignas(64) char by[CHUNK * sizeof(double)];
    _Alignas(64) char bz[CHUNK * sizeof(double)];
    if (sx == 0)
        fill_broadcast(bx, x, n, elsize);
    if (sy == 0)
        fill_broadcast(by, y, n, elsize);
    const int z_direct = is_direct(z, sz, elsize);
    for (int64_t start = 0; start < n; start += CHUNK) {
        const int64_t m = n - start < CHUNK ? n - start : CHUNK;
        const void *xr = operand_run(bx, x, sx, start, m, elsize);
        const void *yr = operand_run(by, y, sy, start, m, elsize);
        void *zr = z_direct ? (void *)(z + start * sz) : (void *)bz;
        call(ks, m, xr, yr, zr, p);
        if (!z_direct)
            scatter(z + start * sz, sz, bz, m, elsize);
    }
}

static int elementwise(const lmul_container *c, contig_call_ft call,
                       size_t elsize, int64_t n, const void *x, int64_t sx,
                       const void *y, int64_t sy, void *z, int64_t sz, int k)
{
    lmul_params p;
    const int status = lmul_params_init(&p, c, k);
    if (status != LMUL_OK)
        return status;
    if (n < 0 || (n > 0 && (x == NULL || y == NULL || z == NULL)))
        return LMUL_ERR_ARG;
    if (n > 0)
        run_strided(call, elsize, n, x, sx, y, sy, z, sz, &p);
    return LMUL_OK;
}

int lmul_smul(int64_t n, const float *x, int64_t x_stride, const float *y,
              int64_t y_stride, float *z, int64_t z_stride, int k)
{
    return elementwise(&lmul_container_f32, call_smul, sizeof(float), n,
                       x, x_stride, y, y_stride, z, z_stride, k);
}

int lmul_dmul(int64_t n, const double *x, int64_t x_stride, const double *y,
              int64_t y_stride, double *z, int64_t z_stride, int k)
{
    return elementwise(&lmul_container_f64, call_dmul, sizeof(double), n,
                       x, x_stride, y, y_stride, z, z_stride, k);
}

/* float16 conversions in hardware may raise floating-point flags (overflow,
 * underflow, inexact); the flags the caller sees are left as they were. */
int lmul_hmul(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
              int64_t y_stride, uint16_t *z, int64_t z_stride, int k)
{
    fexcept_t flags;
    fegetexceptflag(&flags, FE_ALL_EXCEPT);
    const int status = elementwise(&lmul_container_f32, call_hmul,
                                   sizeof(uint16_t), n, x, x_stride, y,
                                   y_stride, z, z_stride, k);
    fesetexceptflag(&flags, FE_ALL_EXCEPT);
    return status;
}
