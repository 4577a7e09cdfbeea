"""README.md runs as written: every ```python block in order in one
namespace (a GPU-only block may stop at the library's "no GPU" error), the C
program with the shown compile line, and the Cython example with its
setup.py. Blocks named with a file (```c prog.c) are files of the examples."""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lmul_simd

README = Path(__file__).resolve().parent.parent / "README.md"
PACKAGE_PARENT = str(Path(lmul_simd.__file__).resolve().parent.parent)
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
CC = shutil.which("cc")


def blocks():
    """(info string, code) of every fenced block of the README, in order."""
    return [(info.strip(), code) for info, code in FENCE.findall(README.read_text())]


def named_file(name):
    found = [code for info, code in blocks() if info.split()[1:] == [name]]
    assert len(found) == 1, f"README has {len(found)} blocks named {name}"
    return found[0]


def command_line(start):
    found = [line.strip() for info, code in blocks() if info == "bash"
             for line in code.splitlines() if line.strip().startswith(start)]
    assert len(found) == 1, f"README has {len(found)} command lines starting {start!r}"
    return found[0]


def gpu_unavailable(error):
    """Exactly the library's "no GPU" error, on a machine without one."""
    from lmul_simd import cuda
    return isinstance(error, cuda.CudaUnavailableError) and not cuda.is_available()


def test_python_blocks_run_in_order():
    namespace = {"__name__": "readme"}
    python_blocks = [code for info, code in blocks() if info == "python"]
    assert len(python_blocks) >= 8
    for number, code in enumerate(python_blocks, 1):
        try:
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:
            if "lmul_simd.cuda" not in code or not gpu_unavailable(error):
                raise


def shell_env(tmp_path):
    """`python` is this interpreter, the package importable from it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"      # a script, not a link: a venv's python needs its path
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_PARENT,
                                                         os.environ.get("PYTHONPATH")])))


@pytest.mark.skipif(CC is None, reason="no C compiler (cc)")
@pytest.mark.skipif(lmul_simd.get_isa() is None, reason="the C extension is not built")
def test_c_program_compiles_and_runs_with_the_shown_line(tmp_path):
    (tmp_path / "prog.c").write_text(named_file("prog.c"))
    line = command_line("cc prog.c")
    done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=shell_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    x, y = np.float32([1.5, 3.0, -2.0, 0.1]), np.float32([2.0, 2.0, 0.5, 10.0])
    printed = np.float32([float(v) for v in done.stdout.split()])
    np.testing.assert_array_equal(printed, lmul_simd.multiply(x, y))


@pytest.mark.skipif(CC is None, reason="no C compiler (cc)")
@pytest.mark.skipif(lmul_simd.get_isa() is None, reason="the C extension is not built")
def test_cython_example_builds_and_runs(tmp_path):
    pytest.importorskip("Cython", reason="Cython (a build requirement) is not installed")
    (tmp_path / "lmul_products.pyx").write_text(named_file("lmul_products.pyx"))
    (tmp_path / "setup.py").write_text(named_file("setup.py"))
    env = shell_env(tmp_path)
    build = subprocess.run(shlex.split("python setup.py build_ext --inplace"), cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    check = ("import numpy as np, lmul_simd, lmul_products\n"
             "x = np.float32([1.5, 3.0, -2.0, 0.1, 7e-39]); y = np.float32([2, 2, 0.5, 10, 1])\n"
             "for k in (23, 4):\n"
             "    assert (lmul_products.lmul_products(x, y, k).view(np.uint32)\n"
             "            == lmul_simd.multiply_k(k)(x, y).view(np.uint32)).all()\n"
             "try:\n    lmul_products.lmul_products(x, y, 0)\n"
             "except ValueError as e:\n    print('refused:', e)\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refused: lmul_smul refused k=0" in done.stdout


def test_ci_runs_the_two_set_up_commands_of_the_readme():
    first_bash = next(code for info, code in blocks() if info == "bash")
    commands = [line.strip() for line in first_bash.splitlines() if line.strip()]
    assert len(commands) == 2
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command in ci, f".ci/run does not run {command!r}"
