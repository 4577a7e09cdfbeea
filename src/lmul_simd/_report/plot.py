"""--plot: mean relative error against mantissa bits (matplotlib, optional)."""
from lmul_simd._install import pip_install
from lmul_simd.accuracy import OWN_K

from .tables import DISTRIBUTION_TITLES, method_title


def missing_matplotlib():
    return (f"--plot needs matplotlib, which is not installed: {pip_install('plot')} "
            f"(or pip install matplotlib)")


def import_pyplot():
    """matplotlib.pyplot with a file-only backend; ImportError says how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(missing_matplotlib()) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def plot_error_vs_bits(figures, path):
    """Write the figure: L-Mul per k (each distribution, and the exact
    expectation over uniform mantissas) with the float formats marked at
    their mantissa widths."""
    pyplot = import_pyplot()
    stats = figures["accuracy"]["multiply"]
    fig, ax = pyplot.subplots(figsize=(7, 4.5))
    for distribution, title in DISTRIBUTION_TITLES.items():
        lmul = sorted((s["bits"], s["mean"]) for s in stats if s["family"] == "lmul"
                      and s["distribution"] == distribution and s["bits"] != OWN_K)
        if lmul:
            ax.plot(*zip(*lmul), marker="o", label=f"L-Mul, {title}")
    expected = sorted((m["k"], m["mean"]) for m in figures["accuracy"]["mantissa"]
                      if m["k"] != OWN_K)
    ax.plot(*zip(*expected), "k--", label="L-Mul, exact over uniform mantissas")
    for s in stats:
        if s["family"] == "float" and s["distribution"] == "normal":
            ax.scatter(s["bits"], s["mean"], marker="*", s=150, color="crimson", zorder=3)
            ax.annotate(method_title(s["method"]), (s["bits"], s["mean"]),
                        textcoords="offset points", xytext=(6, 4))
    ax.set_yscale("log")
    ax.set_xlabel("mantissa bits of the operands")
    ax.set_ylabel("mean relative error of x*y")
    ax.set_title("L-Mul vs float formats (stars: normal operands)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot.close(fig)
