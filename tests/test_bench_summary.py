"""bench/summarize.py: a pytest-benchmark JSON becomes the small summary kept
in bench/results (figures, CPU, versions; speed against the NumPy baseline)."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "summarize.py"
if not SCRIPT.exists():
    pytest.skip("needs the source tree (bench/)", allow_module_level=True)
spec = importlib.util.spec_from_file_location("summarize", SCRIPT)
summarize = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summarize)


def bench(name, group, median, **extra):
    stats = {"min": median * 0.9, "median": median, "mean": median, "stddev": 0.0,
             "rounds": 7, "data": [median] * 7}
    return {"name": name, "group": group, "stats": stats, "extra_info": extra}


RAW = {"datetime": "2026-11-28T00:00:00", "version": "5.3.1", "commit_info": {"id": "abc"},
       "machine_info": {"python_version": "3.11.7", "system": "Linux", "release": "6",
                        "cpu": {"brand_raw": "Some CPU", "count": 2, "arch_string_raw": "x86_64",
                                "flags": ["sse2", "avx2", "fma", "avx512f"]},
                        "lmul_simd": {"numpy": "2.4.6"}},
       "benchmarks": [bench("test_x[numpy]", "n=8", 2e-6),
                      bench("test_x[lmul]", "n=8", 4e-6, work=8),
                      bench("test_lone", None, 1e-3)]}


def test_summary_keeps_figures_machine_and_versions():
    summary = summarize.summarize(RAW, "suite")
    assert summary["machine"]["cpu"] == "Some CPU"
    assert summary["machine"]["simd"] == ["avx2", "fma", "avx512f"]
    assert summary["versions"] == {"numpy": "2.4.6"}
    numpy_row, lmul_row, lone = summary["benchmarks"]
    assert (numpy_row["speed"], lmul_row["speed"]) == (1.0, 0.5)
    assert lmul_row["median_s"] == 4e-6 and lmul_row["rounds"] == 7
    assert lmul_row["extra"] == {"work": 8}
    assert lone["group"] == "test_lone" and "speed" not in lone   # no baseline
    assert "data" not in json.dumps(summary)                       # no raw samples


def test_markdown_and_files(tmp_path):
    raw = tmp_path / "suite.json"
    raw.write_text(json.dumps(RAW))
    out = tmp_path / "results"
    summarize.main([str(raw), "--out", str(out)])
    table = (out / "suite.md").read_text()
    assert "| lmul | 4 us | 3.6 us | 7 | 0.5x | work=8 |" in table
    assert json.loads((out / "suite.json").read_text())["suite"] == "suite"
    with pytest.raises(SystemExit, match="elsewhere"):
        summarize.main([str(out / "suite.json"), "--out", str(out)])
