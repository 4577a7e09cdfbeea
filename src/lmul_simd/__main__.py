"""python -m lmul_simd: the instruction set and backend in use, and L-Mul's
accuracy and speed on this machine next to float8, bfloat16 and NumPy.
See ``python -m lmul_simd --help``."""
import sys

from lmul_simd._report.cli import main

if __name__ == "__main__":
    sys.exit(main())
