"""What a broken or partial installation says: each message names what is
missing and a pip command that works for how the package was installed, with
no chained traceback (no "circular import" noise). Each case runs in a fresh
interpreter: on a copy of the package without its compiled files (an
installation where the extension was not built), or with a module made
unimportable by `sys.modules[name] = None`."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lmul_simd
from lmul_simd import _install
from lmul_simd._report import plot

PACKAGE_DIR = Path(lmul_simd.__file__).resolve().parent
NOISE = ("circular import", "partially initialized", "During handling",
         "direct cause of the following exception")


def run_python(code, path, cwd, hide=(), backend=None):
    env = {key: value for key, value in os.environ.items()
           if key not in ("LMUL_SIMD_BACKEND", "LMUL_SIMD_ISA", "PYTHONPATH")}
    env["PYTHONPATH"] = str(path)
    if backend is not None:
        env["LMUL_SIMD_BACKEND"] = backend
    prelude = "".join(f"import sys; sys.modules[{name!r}] = None\n" for name in hide)
    return subprocess.run([sys.executable, "-c", prelude + code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def copy_without_extension(target):
    """The package's Python files alone, as an install whose build failed."""
    shutil.copytree(PACKAGE_DIR, target / "lmul_simd", ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "*.dylib", "*.c", "__pycache__", "*.nbi", "*.nbc"))
    return target


def assert_clean_import_error(done):
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("ImportError: ")
    for noise in NOISE:
        assert noise not in done.stderr, done.stderr


def test_no_extension_and_no_numba_says_what_to_install(tmp_path):
    path = copy_without_extension(tmp_path)
    done = run_python("import lmul_simd", path, cwd=tmp_path, hide=["numba"])
    assert_clean_import_error(done)
    assert "the compiled extension lmul_simd._core was not built" in done.stderr
    assert "Numba is not installed" in done.stderr
    # not a checkout: the release form, or the folder pip installed this
    # environment's lmul_simd from (as CI's `pip install .` does)
    source = _install._local_source_of_distribution()
    target = "lmul_simd" if source is None else str(source)
    assert f'pip install "{target}[numba]"' in done.stderr


def test_hint_from_a_checkout_names_the_checkout(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'lmul_simd'\n")
    path = copy_without_extension(tmp_path / "src")
    in_root = run_python("import lmul_simd", path, cwd=tmp_path, hide=["numba"])
    assert_clean_import_error(in_root)
    assert 'pip install ".[numba]"' in in_root.stderr
    elsewhere = run_python("import lmul_simd", path, cwd=path, hide=["numba"])
    assert f'pip install "{tmp_path.resolve()}[numba]"' in elsewhere.stderr


def test_forced_numba_without_numba_names_the_extra(tmp_path):
    done = run_python("import lmul_simd", PACKAGE_DIR.parent, cwd=tmp_path,
                      hide=["numba"], backend="numba")
    assert_clean_import_error(done)
    assert "LMUL_SIMD_BACKEND='numba': Numba is not installed" in done.stderr
    assert "[numba]" in done.stderr and "pip install" in done.stderr


def test_unknown_backend_names_the_valid_ones(tmp_path):
    done = run_python("import lmul_simd", PACKAGE_DIR.parent, cwd=tmp_path,
                      backend="fortran")
    assert_clean_import_error(done)
    assert "unknown backend 'fortran': choose one of c, numba" in done.stderr


def test_pip_hint_follows_the_installation(monkeypatch, tmp_path):
    monkeypatch.setattr(_install, "_checkout_of_package", lambda: None)
    monkeypatch.setattr(_install, "_local_source_of_distribution", lambda: None)
    assert _install.pip_install("plot") == 'pip install "lmul_simd[plot]"'
    monkeypatch.setattr(_install, "_local_source_of_distribution", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)
    assert _install.pip_install("plot") == 'pip install ".[plot]"'
    monkeypatch.chdir(tmp_path.parent)
    assert _install.pip_install("cuda") == f'pip install "{tmp_path}[cuda]"'


def test_checkout_is_recognised_by_its_layout(monkeypatch, tmp_path):
    (tmp_path / "src" / "lmul_simd").mkdir(parents=True)
    monkeypatch.setattr(_install, "PACKAGE_DIR", tmp_path / "src" / "lmul_simd")
    assert _install._checkout_of_package() is None          # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text("")
    assert _install._checkout_of_package() == tmp_path


def test_plot_hint_uses_the_installation_hint():
    assert _install.pip_install("plot") in plot.missing_matplotlib()

