# cython: language_level=3
"""The C API of liblmul_simd (include/lmul_simd.h) for Cython callers:

    from lmul_simd.lmul_simd cimport lmul_sgemm_strided

Compile with include_dirs=[lmul_simd.get_include()] and link against
liblmul_simd in lmul_simd.get_library_dir() (see python -m lmul_simd.config).
"""
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint64_t

cdef extern from "lmul_simd.h" nogil:
    ctypedef enum lmul_status:
        LMUL_OK, LMUL_ERR_K, LMUL_ERR_ARG, LMUL_ERR_ISA, LMUL_ERR_DIM, LMUL_ERR_NOMEM
    ctypedef enum lmul_isa:
        LMUL_ISA_SCALAR, LMUL_ISA_AVX2, LMUL_ISA_AVX512
    ctypedef enum lmul_layout:
        LMUL_ROW_MAJOR, LMUL_COL_MAJOR
    ctypedef enum lmul_transpose:
        LMUL_NO_TRANS, LMUL_TRANS
    ctypedef enum lmul_format:
        LMUL_FORMAT_F32, LMUL_FORMAT_F64, LMUL_FORMAT_F16, LMUL_FORMAT_BF16,
        LMUL_FORMAT_E4M3FN, LMUL_FORMAT_E5M2
    ctypedef struct lmul_packed:
        pass
    ctypedef struct lmul_gemm_stats:
        uint64_t fast_tiles
        uint64_t safe_tiles
        uint64_t zero_tiles

    const char *lmul_version()
    const char *lmul_strerror(int status)
    lmul_isa lmul_get_isa()
    lmul_isa lmul_best_isa()
    int lmul_set_isa(lmul_isa isa)
    const char *lmul_isa_name(lmul_isa isa)
    int lmul_isa_from_name(const char *name, lmul_isa *isa)
    int lmul_isa_env_status()

    int lmul_dmul(int64_t n, const double *x, int64_t x_stride, const double *y,
                  int64_t y_stride, double *z, int64_t z_stride, int k)
    int lmul_smul(int64_t n, const float *x, int64_t x_stride, const float *y,
                  int64_t y_stride, float *z, int64_t z_stride, int k)
    int lmul_hmul(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
                  int64_t y_stride, uint16_t *z, int64_t z_stride, int k)
    int lmul_bmul(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
                  int64_t y_stride, uint16_t *z, int64_t z_stride, int k)
    int lmul_e4m3mul(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                     int64_t y_stride, float *z, int64_t z_stride, int k)
    int lmul_e5m2mul(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                     int64_t y_stride, float *z, int64_t z_stride, int k)

    int lmul_sgemm(lmul_layout layout, lmul_transpose trans_a, lmul_transpose trans_b,
                   int64_t m, int64_t n, int64_t kdim, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc, int k)
    int lmul_dgemm(lmul_layout layout, lmul_transpose trans_a, lmul_transpose trans_b,
                   int64_t m, int64_t n, int64_t kdim, double alpha, const double *a,
                   int64_t lda, const double *b, int64_t ldb, double beta, double *c,
                   int64_t ldc, int k)
    int lmul_sgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                           const float *a, int64_t rs_a, int64_t cs_a,
                           const float *b, int64_t rs_b, int64_t cs_b, float beta,
                           float *c, int64_t rs_c, int64_t cs_c, int k)
    int lmul_dgemm_strided(int64_t m, int64_t n, int64_t kdim, double alpha,
                           const double *a, int64_t rs_a, int64_t cs_a,
                           const double *b, int64_t rs_b, int64_t cs_b, double beta,
                           double *c, int64_t rs_c, int64_t cs_c, int k)
    int lmul_hgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                           const uint16_t *a, int64_t rs_a, int64_t cs_a,
                           const uint16_t *b, int64_t rs_b, int64_t cs_b, float beta,
                           uint16_t *c, int64_t rs_c, int64_t cs_c, int k)
    int lmul_bgemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                           const uint16_t *a, int64_t rs_a, int64_t cs_a,
                           const uint16_t *b, int64_t rs_b, int64_t cs_b, float beta,
                           uint16_t *c, int64_t rs_c, int64_t cs_c, int k)
    int lmul_e4m3gemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                              const uint8_t *a, int64_t rs_a, int64_t cs_a,
                              const uint8_t *b, int64_t rs_b, int64_t cs_b,
                              float beta, float *c, int64_t rs_c, int64_t cs_c, int k)
    int lmul_e5m2gemm_strided(int64_t m, int64_t n, int64_t kdim, float alpha,
                              const uint8_t *a, int64_t rs_a, int64_t cs_a,
                              const uint8_t *b, int64_t rs_b, int64_t cs_b,
                              float beta, float *c, int64_t rs_c, int64_t cs_c, int k)
    int lmul_gemm_batch_strided(lmul_format fmt, int64_t count, int64_t m, int64_t n,
                                int64_t kdim, const void *alpha, const void *a,
                                int64_t bs_a, int64_t rs_a, int64_t cs_a, const void *b,
                                int64_t bs_b, int64_t rs_b, int64_t cs_b,
                                const void *beta, void *c, int64_t bs_c, int64_t rs_c,
                                int64_t cs_c, int k)
    int lmul_gemm_pack(lmul_format fmt, int64_t kdim, int64_t n, const void *b,
                       int64_t rs_b, int64_t cs_b, int k, lmul_packed **packed)
    int lmul_gemm_compute(int64_t m, const void *alpha, lmul_format a_fmt,
                          const void *a, int64_t rs_a, int64_t cs_a,
                          const lmul_packed *packed, const void *beta,
                          lmul_format c_fmt, void *c, int64_t rs_c, int64_t cs_c)
    void lmul_packed_free(lmul_packed *packed)
    int lmul_sgemm_pack(int64_t kdim, int64_t n, const float *b, int64_t ldb, int k,
                        lmul_packed **packed)
    int lmul_sgemm_compute(int64_t m, float alpha, const float *a, int64_t lda,
                           const lmul_packed *packed, float beta, float *c,
                           int64_t ldc)
    void lmul_packed_info(const lmul_packed *packed, int64_t *kdim, int64_t *n,
                          lmul_format *fmt, int *k, lmul_isa *isa)
    int lmul_mgemm_strided(lmul_format format_a, lmul_format format_b, int64_t m,
                           int64_t n, int64_t kdim, float alpha, const void *a,
                           int64_t rs_a, int64_t cs_a, const void *b, int64_t rs_b,
                           int64_t cs_b, float beta, float *c, int64_t rs_c,
                           int64_t cs_c, int k)
    int lmul_dot_batched(lmul_format format_x, lmul_format format_y, int64_t batch,
                         int64_t n, const void *x, int64_t x_bstride, int64_t x_stride,
                         const void *y, int64_t y_bstride, int64_t y_stride,
                         void *result, int64_t r_stride, int k)
    int lmul_sdot(int64_t n, const float *x, int64_t x_stride, const float *y,
                  int64_t y_stride, float *result, int k)
    int lmul_ddot(int64_t n, const double *x, int64_t x_stride, const double *y,
                  int64_t y_stride, double *result, int k)
    int lmul_hdot(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
                  int64_t y_stride, uint16_t *result, int k)
    int lmul_bdot(int64_t n, const uint16_t *x, int64_t x_stride, const uint16_t *y,
                  int64_t y_stride, uint16_t *result, int k)
    int lmul_e4m3dot(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                     int64_t y_stride, float *result, int k)
    int lmul_e5m2dot(int64_t n, const uint8_t *x, int64_t x_stride, const uint8_t *y,
                     int64_t y_stride, float *result, int k)

    int lmul_set_num_threads(int n)
    int lmul_get_num_threads()
    void lmul_gemm_get_stats(lmul_gemm_stats *stats)
    void lmul_gemm_reset_stats()
