/*
 * Elementwise L-Mul over strided arrays. The microkernels only see
 * contiguous, element-aligned runs; this frame feeds them, copying strided,
 * broadcast or misaligned operands through small stack buffers.
 */
#include <fenv.h>
#include <string.h>

#include "lmul_internal.h"

#define CHUNK 1024   /* elements per buffered run: 8 KiB for double */
#define MAX_ELEMENT 8

/* One elementwise operation: which kernel, element sizes, parameters. */
typedef struct ew_op ew_op;
struct ew_op {
    void (*call)(const lmul_kernels *ks, int64_t n, const void *x, const void *y,
                 void *z, const ew_op *op);
    size_t in_size, out_size;
    lmul_params params;
    const lmul_fp8_format *fp8;
};

static void call_smul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const ew_op *op)
{
    ks->smul(n, x, y, z, &op->params);
}

static void call_dmul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const ew_op *op)
{
    ks->dmul(n, x, y, z, &op->params);
}

static void call_hmul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const ew_op *op)
{
    ks->hmul(n, x, y, z, &op->params);
}

static void call_bmul(const lmul_kernels *ks, int64_t n, const void *x,
                      const void *y, void *z, const ew_op *op)
{
    ks->bmul(n, x, y, z, &op->params);
}

static void call_f8mul(const lmul_kernels *ks, int64_t n, const void *x,
                       const void *y, void *z, const ew_op *op)
{
    ks->f8mul(n, x, y, z, &op->params, op->fp8);
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
static void run_serial(const ew_op *op, const lmul_kernels *ks, int64_t n,
                       const char *x, int64_t sx, const char *y, int64_t sy,
                       char *z)
{
    _Alignas(8) char bx[MAX_ELEMENT], by[MAX_ELEMENT], bz[MAX_ELEMENT];
    for (int64_t i = 0; i < n; i++) {
        memcpy(bx, x + i * sx, op->in_size);
        memcpy(by, y + i * sy, op->in_size);
        op->call(ks, 1, bx, by, bz, op);
        memcpy(z, bz, op->out_size);
    }
}

static void run_strided(const ew_op *op, int64_t n, const char *x, int64_t sx,
                        const char *y, int64_t sy, char *z, int64_t sz)
{
    const lmul_kernels *ks = lmul_active_kernels();
    const size_t in = op->in_size, out = op->out_size;
    if (sz == 0) {
        run_serial(op, ks, n, x, sx, y, sy, z);
        return;
    }
    if (is_direct(x, sx, in) && is_direct(y, sy, in) && is_direct(z, sz, out)) {
        op->call(ks, n, x, y, z, op);
        return;
    }
    _Alignas(64) char bx[CHUNK * MAX_ELEMENT];
    _Alignas(64) char by[CHUNK * MAX_ELEMENT];
    _Alignas(64) char bz[CHUNK * MAX_ELEMENT];
    if (sx == 0)
        fill_broadcast(bx, x, n, in);
    if (sy == 0)
        fill_broadcast(by, y, n, in);
    const int z_direct = is_direct(z, sz, out);
    for (int64_t start = 0; start < n; start += CHUNK) {
        const int64_t m = n - start < CHUNK ? n - start : CHUNK;
        const void *xr = operand_run(bx, x, sx, start, m, in);
        const void *yr = operand_run(by, y, sy, start, m, in);
        void *zr = z_direct ? (void *)(z + start * sz) : (void *)bz;
        op->call(ks, m, xr, yr, zr, op);
        if (!z_direct)
            scatter(z + start * sz, sz, bz, m, out);
    }
}

/* Validates, then runs. Conversions to and from the narrow formats may raise
 * floating-point flags in hardware (inexact, overflow); the flags the caller
 * sees are left as they were: L-Mul itself signals nothing. */
static int elementwise(ew_op *op, const lmul_container *c, int64_t n,
                       const void *x, int64_t sx, const void *y, int64_t sy,
                       void *z, int64_t sz, int k)
{
    const int status = lmul_params_init(&op->params, c, k);
    if (status != LMUL_OK)
        return status;
    if (n < 0 || (n > 0 && (x == NULL || y == NULL || z == NULL)))
        return LMUL_ERR_ARG;
    if (n == 0)
        return LMUL_OK;
    fexcept_t flags;
    fegetexceptflag(&flags, FE_ALL_EXCEPT);
    run_strided(op, n, x, sx, y, sy, z, sz);
    fesetexceptflag(&flags, FE_ALL_EXCEPT);
    return LMUL_OK;
}

int lmul_smul(int64_t n, const float *x, int64_t x_stride, const float *y,
              int64_t y_stride, float *z, int64_t z_stride, int k)
{
    ew_op op = {call_smul, sizeof(float), sizeof(float), {0}, NULL};
    return elementwise(&op, &lmul_container_f32, n, x, x_stride, y, y_stride,
                       z, z_stride, k);
}

int lmul_dmul(int64_t n, const double *x, int64_t x_stride, const double *y,
              int64_t y_stride, double *z, int64_t z_stride, int k)
{
    ew_op op = {call_dmul, sizeof(double), sizeof(double), {0}, NULL};
    return elementwise(&op, &lmul_container_f64, n, x, x_stride, y, y_stride,
                       z, z_stride, k);
}

int lmul_hmul(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
              int64_t y_stride, uint16_t *z, int64_t z_stride, int k)
{
    ew_op op = {call_hmul, sizeof(uint16_t), sizeof(uint16_t), {0}, NULL};
    return elementwise(&op, &lmul_container_f32, n, x, x_stride, y, y_stride,
                       z, z_stride, k);
}

int lmul_bmul(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
              int64_t y_stride, uint16_t *z, int64_t z_stride, int k)
{
    ew_op op = {call_bmul, sizeof(uint16_t), sizeof(uint16_t), {0}, NULL};
    return elementwise(&op, &lmul_container_f32, n, x, x_stride, y, y_stride,
                       z, z_stride, k);
}

int lmul_e4m3mul(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                 int64_t y_stride, float *z, int64_t z_stride, int k)
{
    ew_op op = {call_f8mul, sizeof(uint8_t), sizeof(float), {0}, &lmul_fp8_e4m3fn};
    return elementwise(&op, &lmul_container_f32, n, x, x_stride, y, y_stride,
                       z, z_stride, k);
}

int lmul_e5m2mul(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                 int64_t y_stride, float *z, int64_t z_stride, int k)
{
    ew_op op = {call_f8mul, sizeof(uint8_t), sizeof(float), {0}, &lmul_fp8_e5m2};
    return elementwise(&op, &lmul_container_f32, n, x, x_stride, y, y_stride,
                       z, z_stride, k);
}
