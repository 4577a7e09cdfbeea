"""Records the versions behind the figures in pytest-benchmark's JSON
(machine_info["lmul_simd"]), so bench/summarize.py can keep them."""
import importlib.metadata

import numpy as np


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _blas():
    config = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return f"{config.get('name')} {config.get('version')}".strip()


def pytest_benchmark_update_machine_info(config, machine_info):
    import lmul_simd
    machine_info["lmul_simd"] = {
        "lmul_simd": lmul_simd.__version__, "backend": lmul_simd.backend,
        "isa": lmul_simd.get_isa(), "numpy": np.__version__, "blas": _blas(),
        **{name: _version(name) for name in ("numba", "ml_dtypes")}}
