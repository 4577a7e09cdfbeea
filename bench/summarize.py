"""Turn a pytest-benchmark JSON file (raw per-round samples, megabytes) into the
small summary kept in bench/results: <suite>.json (figures, CPU, versions)
and <suite>.md (the same as a table).

    python -m pytest bench/bench_compare.py --benchmark-only \\
        --benchmark-json .benchmarks/compare.json
    python bench/summarize.py .benchmarks/compare.json       # -> bench/results/compare.{json,md}

Raw files belong outside tracked files (.benchmarks/ is ignored by git).
In each group the first benchmark whose name mentions NumPy or OpenBLAS is
the baseline; `speed` is baseline median time / median time (above 1:
faster than the baseline), medians because the machines are shared and noisy.
"""
import argparse
import json
import os
import re
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
STATS = ("min", "median", "mean", "stddev", "rounds")
SIMD_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq",
              "avx512_bf16")
BASELINE = re.compile(r"numpy|openblas", re.IGNORECASE)


def machine(info):
    cpu = info.get("cpu", {})
    return {"cpu": cpu.get("brand_raw"), "vendor": cpu.get("vendor_id_raw"),
            "cores": cpu.get("count"), "arch": cpu.get("arch_string_raw"),
            "simd": [f for f in SIMD_FLAGS if f in cpu.get("flags", ())],
            "system": f"{info.get('system', '')} {info.get('release', '')}".strip(),
            "python": info.get("python_version")}


def short_names(names):
    """The parameter parts (test_compare[gemm: numpy.matmul] -> gemm: numpy.matmul)
    when the names share one test function, else the names without 'test_'."""
    parts = [re.fullmatch(r"(\w+)\[(.*)\]", name) for name in names]
    if all(parts) and len({part.group(1) for part in parts}) == 1:
        return [part.group(2) for part in parts]
    return [name.removeprefix("test_") for name in names]


def summarize(raw, suite, versions=None):
    """The summary dict of one pytest-benchmark result (a parsed JSON);
    `versions` stands in for those the run did not record."""
    rows = []
    for bench in raw["benchmarks"]:
        stats = bench["stats"]
        # ungrouped benchmarks: one group per test function (sizes may differ)
        group = bench.get("group") or bench["name"].split("[")[0]
        row = {"name": bench["name"], "group": group}
        row.update({key if key == "rounds" else f"{key}_s": stats[key] for key in STATS})
        if bench.get("extra_info"):
            row["extra"] = bench["extra_info"]
        rows.append(row)
    for group in dict.fromkeys(row["group"] for row in rows):
        members = [row for row in rows if row["group"] == group]
        baseline = next((row for row in members if BASELINE.search(row["name"])), None)
        for row in members if baseline else ():
            row["baseline"] = baseline["name"]
            row["speed"] = round(baseline["median_s"] / row["median_s"], 3)
    info = raw.get("machine_info", {})
    return {"suite": suite, "datetime": raw.get("datetime"),
            "commit": raw.get("commit_info", {}).get("id"),
            "pytest_benchmark": raw.get("version"), "machine": machine(info),
            "versions": info.get("lmul_simd", versions or "not recorded"), "benchmarks": rows}


def seconds(value):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def markdown(summary):
    m = summary["machine"]
    lines = [f"# {summary['suite']}: pytest-benchmark summary", "",
             f"- CPU: {m['cpu']} ({m['cores']} cores, {m['arch']}; "
             f"{' '.join(m['simd']) or 'no AVX2'}), {m['system']}, Python {m['python']}",
             f"- versions: {json.dumps(summary['versions'])}",
             f"- run: {summary['datetime']}, commit {summary['commit']}, "
             f"pytest-benchmark {summary['pytest_benchmark']}",
             "- speed: the group's NumPy/OpenBLAS baseline median / this median", ""]
    for group in dict.fromkeys(row["group"] for row in summary["benchmarks"]):
        lines += [f"## {group}", "", "| benchmark | median | min | rounds | speed | extra |",
                  "|---|---|---|---|---|---|"]
        rows = [row for row in summary["benchmarks"] if row["group"] == group]
        for row, name in zip(rows, short_names([row["name"] for row in rows])):
            speed = f"{row['speed']:.3g}x" if "speed" in row else ""
            extra = ", ".join(f"{k}={v}" for k, v in row.get("extra", {}).items())
            lines.append(f"| {name} | {seconds(row['median_s'])} | "
                         f"{seconds(row['min_s'])} | {row['rounds']} | {speed} | {extra} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="+", help="pytest-benchmark JSON files")
    parser.add_argument("--out", default=RESULTS, help="folder for the summaries")
    parser.add_argument("--versions", type=json.loads, default=None,
                        help="JSON object of versions, for raw files that lack them")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for path in args.raw:
        suite = os.path.splitext(os.path.basename(path))[0]
        base = os.path.join(args.out, suite)
        if os.path.abspath(base + ".json") == os.path.abspath(path):
            sys.exit(f"{path}: write the raw file elsewhere (e.g. .benchmarks/), "
                     f"its summary would overwrite it")
        with open(path) as f:
            summary = summarize(json.load(f), suite, args.versions)
        with open(base + ".json", "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
        with open(base + ".md", "w") as f:
            f.write(markdown(summary))
        print(f"{path} -> {base}.json, {base}.md")


if __name__ == "__main__":
    main()
