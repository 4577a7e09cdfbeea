#ifndef LMUL_KERNELS_AVX512_H
#define LMUL_KERNELS_AVX512_H
#include "../../frame/lmul_internal.h"

void lmul_smul_avx512_16(int64_t n, const float *x, const float *y, float *z,
                         const lmul_params *p);
void lmul_dmul_avx512_8(int64_t n, const double *x, const double *y, double *z,
                        const lmul_params *p);
void lmul_hmul_avx512_16(int64_t n, const uint16_t *x, const uint16_t *y,
                         uint16_t *z, const lmul_params *p);
void lmul_bmul_avx512_16(int64_t n, const uint16_t *x, const uint16_t *y,
                      uint16_t *z, const lmul_params *p);
void lmul_f8mul_avx512_16(int64_t n, const uint8_t *x, const uint8_t *y, float *z,
                       const lmul_params *p, const lmul_fp8_format *f);
void lmul_sgemm_fast_avx512_32x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_sgemm_fast_avx512_32xn(int64_t kc, int cols, const void *pa, const void *pb,
                                 void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_sgemm_zeros_avx512_32x12(int64_t kc, const void *pa, const void *pb,
                                   void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_sgemm_safe_avx512_32x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_dgemm_fast_avx512_16x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_dgemm_zeros_avx512_16x12(int64_t kc, const void *pa, const void *pb,
                                   void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_dgemm_safe_avx512_16x12(int64_t kc, const void *pa, const void *pb,
                                  void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_prep32_avx512(int64_t rows, int64_t width, const void *src,
                        int64_t src_stride, void *dst, uint64_t addend,
                        const lmul_params *p, lmul_range *range);
void lmul_prep64_avx512(int64_t rows, int64_t width, const void *src,
                        int64_t src_stride, void *dst, uint64_t addend,
                        const lmul_params *p, lmul_range *range);
void lmul_widen_avx512_16(int64_t n, const void *src, lmul_widen_kind kind,
                         const lmul_fp8_format *f, uint32_t *dst);
void lmul_sgemv_fast_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                              const uint32_t *w, int64_t ldw, float *acc,
                              const lmul_gemm_aux *aux);
void lmul_sgemv_safe_avx512_32(int64_t m, int64_t kc, const uint32_t *xa,
                              const uint32_t *w, int64_t ldw, float *acc,
                              const lmul_gemm_aux *aux);
void lmul_sgemv_stream_avx512(int64_t m, int64_t kc, int64_t n, const uint32_t *xa, int64_t ldx,
                            const char *w, int64_t rs_w, lmul_widen_kind kind,
                            const lmul_fp8_format *f, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast);
void lmul_sdots_avx512_16(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                      const char *y, int64_t rs_y, float *sums, const lmul_params *p);
int lmul_sdots_fast_avx512_32(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                               const char *y, int64_t rs_y, float *sums,
                               const lmul_params *p, int window, lmul_range *rx, lmul_range *ry);
int64_t lmul_sgemm_small_avx512(const lmul_small_batch *sb, int64_t lo, int64_t hi);
#endif
