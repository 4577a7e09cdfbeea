"""The numba.cuda path (lmul_simd.cuda). Its cases live in cuda_cases.py and
run in a pytest process of their own, since NUMBA_ENABLE_CUDASIM must be set
before numba is imported: once under numba's CUDA simulator (wherever numba is
installed) and once on the real GPU (skipped, with the reason, where none)."""
import os
import pathlib
import subprocess
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
CASES = TESTS / "cuda_cases.py"
TIMEOUT_S = 600


def run_cases(simulator):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", str(CASES)]
    proc = subprocess.run(command, cwd=TESTS.parent, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    report = proc.stdout[-20000:] + proc.stderr[-5000:]
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{report}"
    assert " passed" in proc.stdout, report


def test_cases_under_cuda_simulator():
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed "
                        "(pip install lmul_simd[cuda])")
    run_cases(simulator=True)


def test_cases_on_gpu():
    from lmul_simd import cuda as lcuda
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("NUMBA_ENABLE_CUDASIM=1 in this process: no real GPU run")
    reason = lcuda.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    run_cases(simulator=False)


def test_import_and_clear_error_without_numba(monkeypatch):
    """Importing lmul_simd.cuda needs no numba; calling it then says why not."""
    for name in [m for m in sys.modules if m == "numba" or m.startswith("numba.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "lmul_simd.cuda", raising=False)
    import lmul_simd.cuda as lcuda
    assert not lcuda.is_available()
    assert "numba.cuda is not installed" in lcuda.unavailable_reason()
    with pytest.raises(lcuda.CudaUnavailableError, match="not installed"):
        lcuda.multiply([1.0], [2.0])
    with pytest.raises(lcuda.CudaUnavailableError, match="not installed"):
        lcuda.matmul([[1.0]], [[2.0]])
