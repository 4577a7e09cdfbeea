"""python -m lmul_simd: runs end to end with --quick (and --plot when
matplotlib is installed); its JSON holds every figure, all finite."""
import importlib.util
import io
import json
import math
import os
import contextlib
import subprocess
import sys
import time

import pytest

import lmul_simd
from lmul_simd import accuracy
from lmul_simd._report import cli, speed
from lmul_simd._report.progress import Progress

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PACKAGE_PARENT = os.path.dirname(os.path.dirname(lmul_simd.__file__))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run in a subprocess: (completed process, figures, png path)."""
    folder = tmp_path_factory.mktemp("report")
    json_path, png_path = folder / "figures.json", folder / "errors.png"
    command = [sys.executable, "-m", "lmul_simd", "--quick", "--json", str(json_path)]
    if HAVE_MATPLOTLIB:
        command += ["--plot", str(png_path)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done, json.loads(json_path.read_text()), png_path


def test_prints_isa_backend_and_every_table(quick_run):
    out = quick_run[0].stdout
    assert f"instruction set {lmul_simd.get_isa()}" in out
    assert f"backend {lmul_simd.backend}" in out
    for heading in ("Accuracy of x*y", "Dot products", "GEMM", "Speed", "L-Mul k=4",
                    "float8 e4m3fn", "float8 e5m2", "bfloat16", "numpy.matmul"):
        assert heading in out


def test_progress_bar_stays_out_of_redirected_output(quick_run):
    assert quick_run[0].stderr == ""


def all_numbers(value):
    if isinstance(value, dict):
        return [n for item in value.values() for n in all_numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in all_numbers(item)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_json_has_every_figure_and_all_are_finite(quick_run):
    figures = quick_run[1]
    assert set(figures) == {"machine", "settings", "accuracy", "claims", "speed"}
    assert set(figures["accuracy"]) == {"multiply", "dot", "gemm", "mantissa"}
    methods = {m.name for m in accuracy.all_methods()}
    for operation in ("multiply", "dot", "gemm"):
        rows = figures["accuracy"][operation]
        assert {(r["method"], r["distribution"]) for r in rows} == {
            (m, d) for m in methods for d in accuracy.DISTRIBUTIONS}
        assert all({"mean", "max", "nonfinite", "bits"} <= r.keys() for r in rows)
    assert [m["k"] for m in figures["accuracy"]["mantissa"]] == list(accuracy.LMUL_KS)
    assert set(figures["claims"]) == set(accuracy.CLAIMS)
    for kind in ("elementwise", "gemm"):
        names = [r["name"] for r in figures["speed"][kind]]
        assert names and all(r["seconds"] > 0 for r in figures["speed"][kind])
    assert "numpy-emulated L-Mul GEMM" in names
    assert figures["machine"]["isa"] == lmul_simd.get_isa()
    numbers = all_numbers(figures)
    assert len(numbers) > 500 and all(math.isfinite(n) for n in numbers)


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib (the 'plot' extra) "
                    "is not installed, so --plot cannot draw")
def test_plot_writes_a_png(quick_run):
    assert quick_run[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_so_and_fails(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import fails
    assert cli.main(["--quick", "--plot", str(tmp_path / "x.png")]) == 2
    assert "pip install" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_progress_draws_only_when_enabled():
    shown, hidden = io.StringIO(), io.StringIO()
    for stream, enabled in ((shown, True), (hidden, False)):
        bar = Progress(2, stream=stream, width=4, enabled=enabled)
        bar.step("a")
        bar.step("b")
        bar.close()
    assert "[####] 2/2 b" in shown.getvalue() and hidden.getvalue() == ""
    with pytest.raises(ValueError):
        Progress(-1)


def test_bad_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--seed", "many"])
    assert exit_info.value.code == 2


def test_measure_leaves_out_warm_up_calls():
    """A JIT compile, then calls that still get faster, are not timed."""
    delays = iter([0.2, 0.05, 0.01])

    def run():
        time.sleep(next(delays, 0.0))

    case = speed.SpeedCase("slow start", "group", run, contextlib.nullcontext, 1, "element")
    result = speed.measure(case, budget_s=0.0, min_calls=1)
    assert next(delays, None) is None          # every slow call was made...
    assert result.seconds < 0.005              # ...and none was timed
