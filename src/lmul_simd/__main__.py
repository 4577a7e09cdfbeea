"""python -m lmul_simd: what this machine runs, and L-Mul next to exact products."""
import numpy as np

import lmul_simd


def demo_rows():
    pairs = [(1.5, 1.5), (3.14159, 2.71828), (-0.1, 7.0), (1e30, 1e10), (0.0, np.inf)]
    for x, y in pairs:
        x32, y32 = np.float32(x), np.float32(y)
        with np.errstate(all="ignore"):
            exact = x32 * y32
        yield x32, y32, exact, lmul_simd.multiply(x32, y32), lmul_simd.multiply_k(3)(x32, y32)


def main():
    print(f"lmul_simd {lmul_simd.__version__}: backend {lmul_simd.backend}, "
          f"instruction set {lmul_simd.get_isa()} "
          f"(available: {', '.join(lmul_simd.available_isas())})")
    print(f"{'x':>12} {'y':>12} {'x*y':>14} {'L-Mul k=23':>14} {'L-Mul k=3':>14}")
    for row in demo_rows():
        print(" ".join(f"{float(v):>{w}.6g}" for v, w in zip(row, (12, 12, 14, 14, 14))))


if __name__ == "__main__":
    main()
