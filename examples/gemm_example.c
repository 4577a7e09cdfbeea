/*
 * Calling the L-Mul GEMM from C. Build against the installed package:
 *
 *     cc gemm_example.c $(python -m lmul_simd.config --cflags --libs) -o gemm_example
 *
 * Prints C = A B (row-major, 2 x 3 = 2 x 4 times 4 x 3) computed with L-Mul
 * products, one row per line; the same with B packed once (lmul_sgemm_pack)
 * and used twice (lmul_sgemm_compute), as a model's weights are; then the
 * instruction set used.
 */
#include <stdio.h>

#include <lmul_simd.h>

int main(void)
{
    const float a[2 * 4] = {1.0f, 2.0f, 3.0f, 4.0f,
                            -1.5f, 0.5f, 0.25f, 8.0f};
    const float b[4 * 3] = {1.0f, 0.0f, 2.0f,
                            0.5f, 1.0f, 1.5f,
                            3.0f, -2.0f, 1.0f,
                            1.25f, 4.0f, 0.75f};
    float c[2 * 3];
    const int status = lmul_sgemm(LMUL_ROW_MAJOR, LMUL_NO_TRANS, LMUL_NO_TRANS,
                                  2, 3, 4, 1.0f, a, 4, b, 3, 0.0f, c, 3,
                                  LMUL_F32_MANTISSA);
    if (status != LMUL_OK) {
        fprintf(stderr, "lmul_sgemm: %s\n", lmul_strerror(status));
        return 1;
    }
    for (int i = 0; i < 2; i++)
        printf("%.9g %.9g %.9g\n", c[3 * i], c[3 * i + 1], c[3 * i + 2]);

    lmul_packed *packed_b = NULL;
    int packed_status = lmul_sgemm_pack(4, 3, b, 3, LMUL_F32_MANTISSA, &packed_b);
    for (int row = 0; row < 2 && packed_status == LMUL_OK; row++) {
        /* one row of A at a time, as tokens come */
        packed_status = lmul_sgemm_compute(1, 1.0f, a + 4 * row, 4, packed_b, 0.0f,
                                           c + 3 * row, 3);
    }
    lmul_packed_free(packed_b);
    if (packed_status != LMUL_OK) {
        fprintf(stderr, "packed B: %s\n", lmul_strerror(packed_status));
        return 1;
    }
    for (int i = 0; i < 2; i++)
        printf("%.9g %.9g %.9g\n", c[3 * i], c[3 * i + 1], c[3 * i + 2]);
    printf("isa %s\n", lmul_isa_name(lmul_get_isa()));
    return 0;
}
