#ifndef LMUL_KERNELS_AVX2_H
#define LMUL_KERNELS_AVX2_H
#include "../../frame/lmul_internal.h"

void lmul_smul_avx2_8(int64_t n, const float *x, const float *y, float *z,
                      const lmul_params *p);
void lmul_dmul_avx2_4(int64_t n, const double *x, const double *y, double *z,
                      const lmul_params *p);
void lmul_hmul_avx2_8(int64_t n, const uint16_t *x, const uint16_t *y,
                      uint16_t *z, const lmul_params *p);
void lmul_bmul_avx2_8(int64_t n, const uint16_t *x, const uint16_t *y,
                      uint16_t *z, const lmul_params *p);
void lmul_f8mul_avx2_8(int64_t n, const uint8_t *x, const uint8_t *y, float *z,
                       const lmul_params *p, const lmul_fp8_format *f);
void lmul_sgemm_fast_avx2_16x5(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_sgemm_fast_avx2_16xn(int64_t kc, int cols, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_sgemm_zeros_avx2_16x5(int64_t kc, const void *pa, const void *pb,
                                void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_sgemm_safe_avx2_16x5(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_dgemm_fast_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                              void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_dgemm_zeros_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                               void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_dgemm_safe_avx2_8x6(int64_t kc, const void *pa, const void *pb,
                              void *c, int64_t ldc, const lmul_gemm_aux *aux);
void lmul_prep32_avx2(int64_t rows, int64_t width, const void *src,
                      int64_t src_stride, void *dst, uint64_t addend,
                      const lmul_params *p, lmul_range *range);
/* Binades by which lmul_sgemm_zeros_avx2_16x5 scales its products (its
 * zeros_scale). */
#define LMUL_SZEROS_SCALE_AVX2 100
void lmul_zprep32s_avx2(int64_t kc, int nr, const void *pb, void *dst,
                        uint64_t a_addend, uint64_t a_zero_as);
void lmul_zprep32a_avx2(int64_t kc, int width, const void *pa, void *dst,
                        uint64_t a_addend, uint64_t a_zero_as);
void lmul_zprep64a_avx2(int64_t kc, int width, const void *pa, void *dst,
                        uint64_t a_addend, uint64_t a_zero_as);
void lmul_zprep32_avx2(int64_t kc, int nr, const void *pb, void *dst,
                       uint64_t a_addend, uint64_t a_zero_as);
void lmul_zprep64_avx2(int64_t kc, int nr, const void *pb, void *dst,
                       uint64_t a_addend, uint64_t a_zero_as);
void lmul_copy_range32_avx2(int64_t rows, int64_t width, const void *src,
                            int64_t src_stride, void *dst, lmul_range *range);
void lmul_tcopy32_avx2(int64_t width, int64_t kc, const void *src,
                       int64_t src_stride, void *dst);
void lmul_widen_avx2_8(int64_t n, const void *src, lmul_widen_kind kind,
                         const lmul_fp8_format *f, uint32_t *dst);
void lmul_sgemv_fast_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                              const uint32_t *w, int64_t ldw, float *acc,
                              const lmul_gemm_aux *aux);
void lmul_sgemv_safe_avx2_16(int64_t m, int64_t kc, const uint32_t *xa,
                              const uint32_t *w, int64_t ldw, float *acc,
                              const lmul_gemm_aux *aux);
void lmul_sgemv_stream_avx2(int64_t m, int64_t kc, int64_t n, const uint32_t *xa, int64_t ldx,
                            const char *w, int64_t rs_w, lmul_widen_kind kind,
                            const lmul_fp8_format *f, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast);
void lmul_sgemv_dots_avx2_8(int64_t m, int64_t kc, int64_t rows, const uint32_t *xa,
                            const char *w, int64_t rs_w, float *acc,
                            lmul_range *range, const lmul_gemm_aux *aux, int fast);
void lmul_sdots_avx2_8(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                      const char *y, int64_t rs_y, float *sums, const lmul_params *p);
int lmul_sdots_fast_avx2_8(int64_t kc, int64_t items, const char *x, int64_t rs_x,
                           const char *y, int64_t rs_y, float *sums,
                           const lmul_params *p, int window, lmul_range *rx, lmul_range *ry);
int64_t lmul_sgemm_small_avx2(const lmul_small_batch *sb, int64_t lo, int64_t hi);
#endif
