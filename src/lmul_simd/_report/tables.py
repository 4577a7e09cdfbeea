"""Plain-text tables of the report's figures (the dicts that --json writes)."""
import math

from lmul_simd.accuracy import CLAIMS, STUDENT_T_DF, claim_holds

DISTRIBUTION_TITLES = {"normal": "normal", "uniform": "uniform [-1,1)",
                       "student_t": f"Student t({STUDENT_T_DF})"}
FORMAT_TITLES = {"e4m3fn": "float8 e4m3fn", "e5m2": "float8 e5m2"}


def method_title(name):
    if name.startswith("lmul-k"):
        k = name[len("lmul-k"):]
        return f"L-Mul k={k}" + (" (own)" if k == "23" else "")
    return FORMAT_TITLES.get(name, name)


def percent(value, digits=2):
    return "n/a" if math.isnan(value) else f"{100 * value:.{digits}f}%"


def fraction(value):
    return "0" if value == 0 else f"{value:.1e}"


def render(headers, rows, title=""):
    """Columns with two header lines (headers: (top, bottom) pairs), the
    first column left-aligned, the others right-aligned."""
    cells = [list(h) for h in headers]
    widths = [max(len(s) for s in [*cells[i], *(row[i] for row in rows)])
              for i in range(len(headers))]

    def line(values):
        first, *rest = values
        return "  ".join([first.ljust(widths[0]),
                          *(v.rjust(w) for v, w in zip(rest, widths[1:]))]).rstrip()

    lines = [title] if title else []
    lines += [line([h[0] for h in headers]), line([h[1] for h in headers])]
    lines.append("-" * len(lines[-1]))
    lines += [line(row) for row in rows]
    return "\n".join(lines)


def _by_method(stats):
    """{method: {distribution: stat}} in the order the study measured them."""
    table = {}
    for s in stats:
        table.setdefault(s["method"], {})[s["distribution"]] = s
    return table


def _distribution_columns(distributions, columns):
    headers = []
    for d in distributions:
        headers += [(DISTRIBUTION_TITLES[d] if i == 0 else "", c)
                    for i, c in enumerate(columns)]
    return headers


def multiply_table(stats, mantissa):
    """L-Mul per k, float8, bfloat16, float16: mean, max and non-finite
    fraction per distribution, and L-Mul's exact expected error."""
    expected = {f"lmul-k{m['k']}": m["mean"] for m in mantissa}
    table = _by_method(stats)
    distributions = list(next(iter(table.values())))
    headers = [("", "method"), ("", "bits"), ("exact*", "expected")]
    headers += _distribution_columns(distributions, ["mean", "max", "non-finite"])
    rows = []
    for method, per_dist in table.items():
        first = next(iter(per_dist.values()))
        row = [method_title(method), str(first["bits"]),
               percent(expected[method]) if method in expected else "-"]
        for d in distributions:
            s = per_dist[d]
            row += [percent(s["mean"]), percent(s["max"], 1), fraction(s["nonfinite"])]
        rows.append(row)
    return render(headers, rows)


def sum_table(stats):
    """Dot-product or GEMM error: mean and max per distribution."""
    table = _by_method(stats)
    distributions = list(next(iter(table.values())))
    headers = [("", "method"), ("", "bits")]
    headers += _distribution_columns(distributions, ["mean", "max"])
    rows = []
    for method, per_dist in table.items():
        row = [method_title(method), str(next(iter(per_dist.values()))["bits"])]
        for d in distributions:
            row += [percent(per_dist[d]["mean"], 3), percent(per_dist[d]["max"], 2)]
        rows.append(row)
    return render(headers, rows)


def claims_lines(claims):
    lines = []
    for claim, ratios in claims.items():
        method, baseline = CLAIMS[claim]
        shown = ", ".join(f"{r:.3f} ({DISTRIBUTION_TITLES[d]}, "
                          f"{'holds' if claim_holds(claim, r) else 'FAILS'})"
                          for d, r in ratios.items())
        lines.append(f"  mean error {method_title(method)} / {method_title(baseline)}: "
                     f"{shown}")
    return "\n".join(lines)


def _duration(seconds):
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def speed_table(results):
    """Per group: time per call, time per unit of work, and the ratio to the
    group's first (NumPy) case."""
    headers = [("", "case"), ("", "time/call"), ("", "ns/unit"), ("", "GFLOP/s"),
               ("time", "vs NumPy")]
    rows, baseline, group = [], None, None
    for r in results:
        if r["group"] != group:
            group, baseline = r["group"], r["seconds"]
            rows.append([f"[{group}]", "", "", "", ""])
        flops = 2 * r["work"] / r["seconds"] / 1e9 if r["unit"] == "multiply-add" else None
        rows.append([f"  {r['name']}", _duration(r["seconds"]), f"{r['ns_per_unit']:.3f}",
                     "-" if flops is None else f"{flops:.2f}",
                     f"{r['seconds'] / baseline:.2f}x"])
    return render(headers, rows)
