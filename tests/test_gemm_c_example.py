"""examples/gemm_example.c compiled against the package (its header and
shared library, as `python -m lmul_simd.config` gives them), run, checked."""
import os
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

import lmul_simd

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "gemm_example.c")
CC = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def config_flags():
    out = subprocess.run([sys.executable, "-m", "lmul_simd.config", "--cflags", "--libs"],
                         check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    return shlex.split(out.stdout)


@pytest.mark.skipif(CC is None, reason="no C compiler")
def test_c_example(tmp_path):
    assert os.path.exists(os.path.join(lmul_simd.get_include(), "lmul_simd.h"))
    program = tmp_path / "gemm_example"
    subprocess.run([*shlex.split(CC), "-std=c99", "-Wall", "-Werror", EXAMPLE, "-o",
                    str(program), *config_flags()], check=True)
    out = subprocess.run([str(program)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    c = np.array([[float(v) for v in line.split()] for line in lines[:2]], np.float32)
    a = np.float32([[1, 2, 3, 4], [-1.5, 0.5, 0.25, 8]])
    b = np.float32([[1, 0, 2], [0.5, 1, 1.5], [3, -2, 1], [1.25, 4, 0.75]])
    np.testing.assert_array_equal(c, lmul_simd.matmul(a, b))
    packed = np.array([[float(v) for v in line.split()] for line in lines[2:4]], np.float32)
    np.testing.assert_array_equal(packed.view(np.uint32), c.view(np.uint32))
    assert lines[4] == f"isa {lmul_simd.get_isa()}"


def test_pxd_declares_the_c_api(tmp_path):
    cython = pytest.importorskip("Cython.Build")
    del cython
    source = tmp_path / "use_pxd.pyx"
    source.write_text("from lmul_simd.lmul_simd cimport lmul_sgemm_strided, LMUL_OK\n"
                      "def ok():\n    return LMUL_OK\n")
    package_parent = os.path.dirname(os.path.dirname(lmul_simd.__file__))
    subprocess.run([sys.executable, "-m", "cython", "-3", "-I", package_parent,
                    str(source)], check=True)
    assert (tmp_path / "use_pxd.c").exists()
