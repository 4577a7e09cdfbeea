/*
 * lmul_simd: L-Mul, the multiplication-free floating-point product of
 * Luo & Sun, "Addition is All You Need for Energy-efficient Language Models"
 * (2024), with hand-written AVX2 / AVX-512 kernels chosen at run time.
 *
 * The numerical contract is docs/contract.md: every function gives the same bits on
 * every instruction set. C99, usable from C++.
 */
#ifndef LMUL_SIMD_H
#define LMUL_SIMD_H

#include <stdint.h>

#define LMUL_SIMD_VERSION_MAJOR 0
#define LMUL_SIMD_VERSION_MINOR 1
#define LMUL_SIMD_VERSION_PATCH 0

#if defined(_WIN32) && defined(LMUL_BUILDING)
#  define LMUL_API __declspec(dllexport)
#elif defined(_WIN32)
#  define LMUL_API __declspec(dllimport)
#elif defined(__GNUC__)
#  define LMUL_API __attribute__((visibility("default")))
#else
#  define LMUL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: every function that can fail returns one. */
typedef enum lmul_status {
    LMUL_OK = 0,
    LMUL_ERR_K = -1,           /* mantissa bits k outside 1..P of the container */
    LMUL_ERR_ARG = -2,         /* a negative length, a NULL pointer, a bad enum */
    LMUL_ERR_ISA = -3,         /* an instruction set this CPU or build lacks */
    LMUL_ERR_DIM = -4,         /* a leading dimension too small for the matrix */
    LMUL_ERR_NOMEM = -5        /* workspace could not be allocated */
} lmul_status;

/* Instruction-set levels, lowest first. */
typedef enum lmul_isa {
    LMUL_ISA_SCALAR = 0,       /* portable C */
    LMUL_ISA_AVX2 = 1,         /* AVX2 + FMA + F16C */
    LMUL_ISA_AVX512 = 2        /* AVX-512 F/BW/VL/DQ */
} lmul_isa;

/* Library version as a string "MAJOR.MINOR.PATCH". */
LMUL_API const char *lmul_version(void);

/* A status code as a message. */
LMUL_API const char *lmul_strerror(int status);

/*
 * Instruction set. At load the best level the CPU and OS support is chosen
 * (CPUID and XGETBV), lowered by the environment variable LMUL_SIMD_ISA
 * (scalar, avx2, avx512) if set. lmul_set_isa() changes it at run time;
 * asking for a level the machine lacks returns LMUL_ERR_ISA and changes
 * nothing. The setting is process-wide and may be changed while other
 * threads compute: each call reads it once, when it starts, and uses that
 * level throughout.
 */
LMUL_API lmul_isa lmul_get_isa(void);
LMUL_API lmul_isa lmul_best_isa(void);          /* what the CPU and OS support */
LMUL_API int lmul_set_isa(lmul_isa isa);
LMUL_API const char *lmul_isa_name(lmul_isa isa);
LMUL_API int lmul_isa_from_name(const char *name, lmul_isa *isa);
/* What applying LMUL_SIMD_ISA at load returned (LMUL_OK if it was unset). */
LMUL_API int lmul_isa_env_status(void);

/* Default k (the format's own mantissa width) and the largest valid k. */
#define LMUL_F64_MANTISSA 52
#define LMUL_F32_MANTISSA 23
#define LMUL_F16_MANTISSA 10
#define LMUL_BF16_MANTISSA 7
#define LMUL_E4M3_MANTISSA 3
#define LMUL_E5M2_MANTISSA 2

/*
 * Elementwise L-Mul: z[i] = lmul(x[i], y[i]; k) for i in 0..n-1.
 *
 * Strides are in BYTES (as NumPy's), may be zero (broadcast), negative, or
 * not a multiple of the element size; pointers need no alignment. z may be
 * x or y (same pointer and stride); other overlaps are undefined.
 * k: 1..52 for double, 1..23 for float and for float16 (float16 is computed
 * in the float32 container, docs/contract.md section 2).
 * Returns LMUL_OK, LMUL_ERR_K or LMUL_ERR_ARG (n < 0, or NULL with n > 0).
 */
LMUL_API int lmul_dmul(int64_t n, const double *x, int64_t x_stride,
                       const double *y, int64_t y_stride,
                       double *z, int64_t z_stride, int k);
LMUL_API int lmul_smul(int64_t n, const float *x, int64_t x_stride,
                       const float *y, int64_t y_stride,
                       float *z, int64_t z_stride, int k);
/* float16 as raw IEEE binary16 bit patterns. */
LMUL_API int lmul_hmul(int64_t n, const uint16_t *x, int64_t x_stride,
                       const uint16_t *y, int64_t y_stride,
                       uint16_t *z, int64_t z_stride, int k);

/* bfloat16 as raw bit patterns, bfloat16 result (float32 container, k 1..23;
 * the result is the container's, rounded to nearest even). */
LMUL_API int lmul_bmul(int64_t n, const uint16_t *x, int64_t x_stride,
                       const uint16_t *y, int64_t y_stride,
                       uint16_t *z, int64_t z_stride, int k);
/* float8 e4m3fn / e5m2 as raw bytes, float32 results (docs/contract.md section 3, the result's format):
 * the product of two float8 numbers is rarely a float8 number. k 1..23. */
LMUL_API int lmul_e4m3mul(int64_t n, const uint8_t *x, int64_t x_stride,
                          const uint8_t *y, int64_t y_stride,
                          float *z, int64_t z_stride, int k);
LMUL_API int lmul_e5m2mul(int64_t n, const uint8_t *x, int64_t x_stride,
                          const uint8_t *y, int64_t y_stride,
                          float *z, int64_t z_stride, int k);

/*
 * GEMM with L-Mul products (docs/contract.md section 4):
 *     C = alpha * sum_p lmul(A[i,p], B[p,j]; k) + beta * C
 * products exact, accumulated in the container (float32 for float, float16,
 * bfloat16 and float8, float64 for double). beta = 0 ignores C's old contents (NaNs
 * included); m, n or kdim = 0 is valid (kdim = 0 gives beta * C). A and B
 * are never written. The result is the same bit for bit for every thread
 * count. C must not overlap A or B. FP flags: overflow and invalid of the
 * sums are raised in the caller's thread (from whichever thread computed
 * them), nothing else; the caller's flags are kept (docs/contract.md 6).
 */
typedef enum lmul_layout {
    LMUL_ROW_MAJOR = 101,
    LMUL_COL_MAJOR = 102
} lmul_layout;

typedef enum lmul_transpose {
    LMUL_NO_TRANS = 111,
    LMUL_TRANS = 112
} lmul_transpose;

/*
 * BLAS-like form, leading dimensions in elements as in CBLAS:
 * op(A) is m x kdim, op(B) is kdim x n, C is m x n.
 * Returns LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG (negative size, bad enum, NULL
 * pointer to a non-empty matrix) or LMUL_ERR_DIM (leading dimension too small),
 * LMUL_ERR_NOMEM; on an error nothing is written.
 */
LMUL_API int lmul_sgemm(lmul_layout layout, lmul_transpose trans_a,
                        lmul_transpose trans_b, int64_t m, int64_t n, int64_t kdim,
                        float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc, int k);
LMUL_API int lmul_dgemm(lmul_layout layout, lmul_transpose trans_a,
                        lmul_transpose trans_b, int64_t m, int64_t n, int64_t kdim,
                        double alpha, const double *a, int64_t lda,
                        const double *b, int64_t ldb, double beta,
                        double *c, int64_t ldc, int k);

/*
 * General strided form: element (i, j) of A is at (char *)a + i*rs_a + j*cs_a.
 * Strides are in BYTES (as NumPy's), any sign, zero (broadcast) allowed for A
 * and B; C's strides must not map two elements to one address. Any NumPy
 * view can be passed without a copy. Elements need no alignment.
 * Returns LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG or LMUL_ERR_NOMEM.
 */
LMUL_API int lmul_sgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                                const float *a, int64_t rs_a, int64_t cs_a,
                                const float *b, int64_t rs_b, int64_t cs_b,
                                float beta, float *c, int64_t rs_c, int64_t cs_c,
                                int k);
LMUL_API int lmul_dgemm_strided(int64_t m, int64_t n, int64_t kdim, double alpha,
                                const double *a, int64_t rs_a, int64_t cs_a,
                                const double *b, int64_t rs_b, int64_t cs_b,
                                double beta, double *c, int64_t rs_c, int64_t cs_c,
                                int k);
/* float16 (raw binary16 patterns) in and out, alpha and beta float: A and B
 * widen to float32 as they are packed, C is summed in float32 blocks and
 * rounded to float16 once. */
LMUL_API int lmul_hgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                                const uint16_t *a, int64_t rs_a, int64_t cs_a,
                                const uint16_t *b, int64_t rs_b, int64_t cs_b,
                                float beta, uint16_t *c, int64_t rs_c,
                                int64_t cs_c, int k);
/* bfloat16 (raw bit patterns) in and out, as lmul_hgemm_strided: A and B
 * widen exactly to float32 as they are packed (no converted copy of A or B),
 * C is summed in float32 blocks and rounded to bfloat16 once (nearest even).
 * k 1..23 (7 is bfloat16's own). */
LMUL_API int lmul_bgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                                const uint16_t *a, int64_t rs_a, int64_t cs_a,
                                const uint16_t *b, int64_t rs_b, int64_t cs_b,
                                float beta, uint16_t *c, int64_t rs_c,
                                int64_t cs_c, int k);
/* float8 e4m3fn / e5m2 (raw bytes) in, float32 C (docs/contract.md section 3, the result's format): A and
 * B widen exactly to float32 as they are packed, C is computed as by
 * lmul_sgemm_strided. k 1..23 (3 and 2 are the formats' own). */
LMUL_API int lmul_e4m3gemm_strided(int64_t m, int64_t n, int64_t kdim,
                                   float alpha, const uint8_t *a, int64_t rs_a,
                                   int64_t cs_a, const uint8_t *b, int64_t rs_b,
                                   int64_t cs_b, float beta, float *c,
                                   int64_t rs_c, int64_t cs_c, int k);
LMUL_API int lmul_e5m2gemm_strided(int64_t m, int64_t n, int64_t kdim,
                                   float alpha, const uint8_t *a, int64_t rs_a,
                                   int64_t cs_a, const uint8_t *b, int64_t rs_b,
                                   int64_t cs_b, float beta, float *c,
                                   int64_t rs_c, int64_t cs_c, int k);

/* An element format, for the entry points that take any of them (the
 * mixed-format ones take those of the float32 container: not F64). */
typedef enum lmul_format {
    LMUL_FORMAT_F32 = 0,       /* float */
    LMUL_FORMAT_F64 = 1,       /* double */
    LMUL_FORMAT_F16 = 2,       /* IEEE binary16 bit patterns, C float16 */
    LMUL_FORMAT_BF16 = 3,      /* bfloat16 bit patterns, C bfloat16 */
    LMUL_FORMAT_E4M3FN = 4,    /* float8 bytes, C float */
    LMUL_FORMAT_E5M2 = 5       /* float8 bytes, C float */
} lmul_format;

/*
 * A batch of `count` products of one shape and format, as the strided form
 * of that format (A, B and C of format fmt, or float C for float8): the
 * i-th has A at (char *)a + i*bs_a, B at b + i*bs_b, C at c + i*bs_c (byte
 * strides, any sign; bs_a or bs_b 0 broadcasts). alpha and beta point to a
 * double for LMUL_FORMAT_F64, else to a float. Every C is bit for bit what
 * the strided call on its own gives; threads split the batch.
 * Returns LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG or LMUL_ERR_NOMEM.
 */
LMUL_API int lmul_gemm_batch_strided(lmul_format fmt, int64_t count, int64_t m,
                                     int64_t n, int64_t kdim, const void *alpha,
                                     const void *a, int64_t bs_a, int64_t rs_a,
                                     int64_t cs_a, const void *b, int64_t bs_b,
                                     int64_t rs_b, int64_t cs_b, const void *beta,
                                     void *c, int64_t bs_c, int64_t rs_c,
                                     int64_t cs_c, int k);

/*
 * Pre-packed B: pack once, compute many times (as cblas_sgemm_pack and
 * cblas_sgemm_compute). lmul_gemm_pack copies B (kdim x n, format fmt,
 * byte strides) into a buffer it allocates, prepared for L-Mul with k (DAZ,
 * rounding to k bits, narrow formats widened to float32), laid out for the
 * instruction set active now; *packed is freed by lmul_packed_free.
 * lmul_gemm_compute then gives C = alpha * A B + beta * C for an m x kdim A
 * of a_fmt, bit for bit what the strided call with B itself gives. a_fmt
 * must share B's container (float64 for F64, float32 for the others); C is
 * F64 in the float64 container, else F32, or F16 or BF16 (summed in float32,
 * rounded once). alpha and beta point to the container's type. A pack is
 * read-only: any number of threads may compute with it at once. kdim and n
 * are at least 1. It is tied to the
 * instruction set it was made under: after lmul_set_isa to another,
 * lmul_gemm_compute returns LMUL_ERR_ISA (pack again).
 * Returns LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG (sizes, NULL, formats that do
 * not match), LMUL_ERR_ISA or LMUL_ERR_NOMEM.
 */
typedef struct lmul_packed lmul_packed;

LMUL_API int lmul_gemm_pack(lmul_format fmt, int64_t kdim, int64_t n,
                            const void *b, int64_t rs_b, int64_t cs_b, int k,
                            lmul_packed **packed);
LMUL_API int lmul_gemm_compute(int64_t m, const void *alpha, lmul_format a_fmt,
                               const void *a, int64_t rs_a, int64_t cs_a,
                               const lmul_packed *packed, const void *beta,
                               lmul_format c_fmt, void *c, int64_t rs_c,
                               int64_t cs_c);
LMUL_API void lmul_packed_free(lmul_packed *packed);
/* float32 forms, leading dimensions in elements, row-major. */
LMUL_API int lmul_sgemm_pack(int64_t kdim, int64_t n, const float *b, int64_t ldb,
                             int k, lmul_packed **packed);
LMUL_API int lmul_sgemm_compute(int64_t m, float alpha, const float *a,
                                int64_t lda, const lmul_packed *packed,
                                float beta, float *c, int64_t ldc);
/* What a pack holds: its inner dimension, columns, format, k, and the
 * instruction set it was made under; NULL pointers are skipped. */
LMUL_API void lmul_packed_info(const lmul_packed *packed, int64_t *kdim, int64_t *n,
                               lmul_format *fmt, int *k, lmul_isa *isa);

/* Mixed operand formats, float32 C: A stored in format_a, B in format_b
 * (any lmul_format but LMUL_FORMAT_F64),
 * each widened exactly to float32 as it is packed or streamed (no widened
 * copy of either), computed as lmul_sgemm_strided on the widened values,
 * bit for bit. k 1..23 (23, float32's, is the usual one). An unknown format
 * is LMUL_ERR_ARG. */
LMUL_API int lmul_mgemm_strided(lmul_format format_a, lmul_format format_b,
                                int64_t m, int64_t n, int64_t kdim, float alpha,
                                const void *a, int64_t rs_a, int64_t cs_a,
                                const void *b, int64_t rs_b, int64_t cs_b,
                                float beta, float *c, int64_t rs_c, int64_t cs_c,
                                int k);

/* Dot products: *result = sum_i lmul(x[i], y[i]; k), strides in BYTES,
 * summed in the GEMM's order (the bits of the 1 x 1 product x @ y).
 * The narrow formats widen exactly and accumulate in float32 (k 1..23); the
 * float16 and bfloat16 ones round once to their format, the float8 ones
 * give the float32 sum. */
LMUL_API int lmul_sdot(int64_t n, const float *x, int64_t x_stride,
                       const float *y, int64_t y_stride, float *result, int k);
LMUL_API int lmul_ddot(int64_t n, const double *x, int64_t x_stride,
                       const double *y, int64_t y_stride, double *result, int k);
LMUL_API int lmul_hdot(int64_t n, const uint16_t *x, int64_t x_stride,
                       const uint16_t *y, int64_t y_stride, uint16_t *result,
                       int k);
LMUL_API int lmul_bdot(int64_t n, const uint16_t *x, int64_t x_stride,
                       const uint16_t *y, int64_t y_stride, uint16_t *result,
                       int k);
LMUL_API int lmul_e4m3dot(int64_t n, const uint8_t *x, int64_t x_stride,
                          const uint8_t *y, int64_t y_stride, float *result,
                          int k);
LMUL_API int lmul_e5m2dot(int64_t n, const uint8_t *x, int64_t x_stride,
                          const uint8_t *y, int64_t y_stride, float *result,
                          int k);

/*
 * A batch of dot products, threaded over the batch:
 *     result[b] = sum_i lmul(x_b[i], y_b[i]; k),   b < batch, i < n
 * with x_b[i] at (char *)x + b*x_bstride + i*x_stride (bytes, any sign; a
 * zero batch stride broadcasts), y alike, result[b] at (char *)result +
 * b*r_stride. Formats as lmul_mgemm_strided; the result is float16 or
 * bfloat16 (rounded once) when both operands are that format, else float32.
 * Summed in float32 in the order of the GEMM: each dot has the bits of the
 * 1 x 1 product x_b @ y_b (lmul_mgemm_strided), on every instruction set
 * and thread count. k 1..23. n = 0 gives zeros. Returns LMUL_OK, LMUL_ERR_K,
 * LMUL_ERR_ARG (negative size, NULL, unknown format, results at one
 * address) or LMUL_ERR_NOMEM (nothing written).
 */
LMUL_API int lmul_dot_batched(lmul_format format_x, lmul_format format_y,
                              int64_t batch, int64_t n, const void *x,
                              int64_t x_bstride, int64_t x_stride, const void *y,
                              int64_t y_bstride, int64_t y_stride, void *result,
                              int64_t r_stride, int k);

/*
 * Threads of the GEMM. At load: LMUL_SIMD_NUM_THREADS if set to a positive
 * integer, else the CPUs this process may run on (its affinity mask, lowered
 * by the smallest cgroup v2 or v1 CPU quota of its cgroup and the cgroup's
 * parents). n < 1 returns LMUL_ERR_ARG. Small products
 * use fewer threads. Process-wide; a call reads it once, when it starts.
 * The threads are a pool started on the first threaded call and reused; a
 * call made while another thread's call uses the pool runs in its caller
 * (same bits); after fork() the child starts its own pool.
 */
LMUL_API int lmul_set_num_threads(int n);
LMUL_API int lmul_get_num_threads(void);

/*
 * Which microkernel each register tile took, counted since the last reset:
 * the one-add kernel (no zero, subnormal, infinity or NaN in the two packed
 * micro-panels, and no product can leave the normal range), the
 * zero-tolerant one (the same, but zeros or subnormals present) or the safe
 * one (a product may under- or overflow, or infinity or NaN is present).
 */
typedef struct lmul_gemm_stats {
    uint64_t fast_tiles;
    uint64_t safe_tiles;
    uint64_t zero_tiles;
} lmul_gemm_stats;

LMUL_API void lmul_gemm_get_stats(lmul_gemm_stats *stats);
LMUL_API void lmul_gemm_reset_stats(void);

#ifdef __cplusplus
}
#endif

#endif /* LMUL_SIMD_H */
