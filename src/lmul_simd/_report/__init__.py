"""The report of ``python -m lmul_simd``: accuracy and speed on this machine.

cli (argparse, the run, JSON), speed (timed cases, shared with the
benchmarks), tables (text), plot (matplotlib, optional), progress (a bar)."""
