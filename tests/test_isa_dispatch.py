"""The instruction-set dispatch: levels, forcing one, refusing what the CPU
lacks, and the compiled code of each level staying within its ISA."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lmul_simd

LEVELS = ["scalar", "avx2", "avx512"]


def run_python(code, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, env=full_env, timeout=120)


def test_available_levels_are_a_prefix():
    levels = lmul_simd.available_isas()
    assert levels == LEVELS[: len(levels)] and levels[-1] == lmul_simd.best_isa()


def test_set_isa_and_restore():
    before = lmul_simd.get_isa()
    for level in lmul_simd.available_isas():
        with lmul_simd.use_isa(level):
            assert lmul_simd.get_isa() == level
    assert lmul_simd.get_isa() == before


def test_unknown_level_is_a_value_error():
    with pytest.raises(ValueError, match="unknown instruction set"):
        lmul_simd.set_isa("sse9")


def test_level_beyond_the_cpu_is_refused():
    missing = [lv for lv in LEVELS if lv not in lmul_simd.available_isas()]
    if missing:
        with pytest.raises(RuntimeError, match="not supported"):
            lmul_simd.set_isa(missing[0])
        return
    # this CPU has every level: hide AVX-512 (a test-only variable) in a child
    result = run_python("import lmul_simd; lmul_simd.set_isa('avx512')",
                        LMUL_SIMD_TEST_BEST_ISA="avx2")
    assert result.returncode != 0 and "not supported" in result.stderr


@pytest.mark.parametrize("level", LEVELS)
def test_environment_variable_forces_a_level(level):
    result = run_python("import lmul_simd; print(lmul_simd.get_isa())",
                        LMUL_SIMD_ISA=level)
    if level in lmul_simd.available_isas():
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == level
    else:   # warned, the best level in use (tests/test_reliability.py)
        assert result.returncode == 0, result.stderr
        assert "does not support it" in result.stderr
        assert result.stdout.strip() == lmul_simd.best_isa()


def test_environment_variable_with_a_bad_name_is_a_clear_error():
    result = run_python("import lmul_simd", LMUL_SIMD_ISA="fastest")
    assert result.returncode != 0
    assert "LMUL_SIMD_ISA='fastest'" in result.stderr
    assert "unknown instruction set" in result.stderr


def _functions_using(disassembly, pattern):
    found, current = set(), None
    for line in disassembly.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            current = header.group(1)
        elif current and re.search(pattern, line):
            found.add(current)
    return found


def test_only_avx512_kernels_contain_avx512_code():
    """The build uses per-function target attributes, never -m flags: no
    scalar, AVX2 or frame code may contain AVX-512 (zmm or mask registers),
    and only AVX2/AVX-512 kernels contain 256-bit code."""
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump (binutils) is not installed")
    library = next(Path(lmul_simd.__file__).parent.glob("liblmul_simd.*"))
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)],
                          capture_output=True, text=True, check=True).stdout
    avx512_users = _functions_using(text, r"%zmm|%k[1-7]\b")
    ymm_users = _functions_using(text, r"%ymm")
    assert avx512_users, "no AVX-512 code at all: the AVX-512 kernels are missing"
    assert all("avx512" in f for f in avx512_users), sorted(avx512_users)
    assert all("avx2" in f or "avx512" in f for f in ymm_users), sorted(ymm_users)
