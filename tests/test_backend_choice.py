"""Backend choice (the C extension, else Numba with one warning, or forced by
LMUL_SIMD_BACKEND) and the optional build, each in a fresh interpreter."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lmul_simd

pytest.importorskip("numba")

PACKAGE_ROOT = Path(lmul_simd.__file__).resolve().parent.parent
REPO_ROOT = Path(__file__).resolve().parent.parent

# a meta path finder that makes the named modules fail to import
BLOCK_MODULES = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in {blocked!r}:
            raise ImportError(f"{{name}} is blocked for this test")
sys.meta_path.insert(0, Blocker())
"""

REPORT = """
import json, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import lmul_simd
try:
    lmul_simd.set_isa("scalar")
    set_isa_error = None
except RuntimeError as error:
    set_isa_error = str(error)
print(json.dumps({
    "backend": lmul_simd.backend,
    "warnings": [(w.category.__name__, str(w.message)) for w in caught],
    "isa": lmul_simd.get_isa(), "isas": lmul_simd.available_isas(),
    "set_isa_error": set_isa_error,
    "product": float(lmul_simd.multiply(np.float32(1.5), np.float32(2.0))),
}))
"""


def run_python(code, backend=None, blocked=()):
    env = {key: value for key, value in os.environ.items()
           if key not in ("LMUL_SIMD_BACKEND", "LMUL_SIMD_ISA")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                      env.get("PYTHONPATH")]))
    if backend is not None:
        env["LMUL_SIMD_BACKEND"] = backend
    prelude = BLOCK_MODULES.format(blocked=set(blocked)) if blocked else ""
    return subprocess.run([sys.executable, "-c", prelude + code], env=env,
                          capture_output=True, text=True, timeout=300)


def report(**kwargs):
    done = run_python(REPORT, **kwargs)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_missing_extension_falls_back_to_numba_with_one_warning():
    seen = report(blocked=["lmul_simd._core"])
    assert seen["backend"] == "numba"
    assert len(seen["warnings"]) == 1
    category, message = seen["warnings"][0]
    assert category == "FallbackWarning"
    assert "compiled extension did not load" in message
    assert "lmul_simd._core is blocked for this test" in message   # says why
    assert seen["product"] == 3.125
    assert seen["isa"] is None and seen["isas"] == []
    assert "needs the compiled C extension" in seen["set_isa_error"]


def test_forced_numba_backend_is_silent():
    seen = report(backend="numba")
    assert seen["backend"] == "numba"
    assert seen["warnings"] == []
    assert seen["product"] == 3.125


def test_forced_c_backend_does_not_fall_back():
    done = run_python("import lmul_simd", backend="c", blocked=["lmul_simd._core"])
    assert done.returncode != 0
    assert "LMUL_SIMD_BACKEND='c'" in done.stderr


def test_unknown_backend_is_an_import_error():
    done = run_python("import lmul_simd", backend="fortran")
    assert done.returncode != 0
    assert "unknown backend 'fortran'" in done.stderr


def test_neither_backend_says_how_to_get_one():
    done = run_python("import lmul_simd", blocked=["lmul_simd._core", "numba"])
    assert done.returncode != 0
    assert "pip install" in done.stderr and '[numba]"' in done.stderr


# Without Cython in this environment (it is a build requirement, installed
# only in pip's isolated build environment) setup.py already fails at
# cythonize, before the compiler runs: a different, equally clear message.
COMPILER_FAILURE = ("building the C extension failed"
                    if importlib.util.find_spec("Cython") is not None
                    else "preparing the C extension failed")


@pytest.mark.skipif(not (REPO_ROOT / "setup.py").exists(), reason="needs the source tree")
@pytest.mark.parametrize("env, expected", [
    ({"LMUL_SIMD_NO_EXTENSION": "1"}, "LMUL_SIMD_NO_EXTENSION is set"),
    ({"CC": "false", "LDSHARED": "false"}, COMPILER_FAILURE),
])
def test_build_without_the_extension_succeeds(tmp_path, env, expected):
    done = subprocess.run(
        [sys.executable, "setup.py", "build", "--build-base", str(tmp_path)],
        cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    assert expected in done.stderr
    assert 'pip install ".[numba]"' in done.stderr
    assert list(tmp_path.glob("lib*/lmul_simd/_numba/_gemm.py"))
    assert not list(tmp_path.rglob("*.so"))
