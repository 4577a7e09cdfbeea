"""lmul_simd.matmul (and vecdot, their _k forms) on Dask arrays go to
lmul_simd.dask, whichever of lmul_simd and dask.array was imported first:
the compiled gufuncs have optional core dimensions, which Dask's own gufunc
support cannot parse, and lmul_simd.dask teaches dask.array.Array to hand
them over. Importing dask here on every `import lmul_simd` would cost half
a second, so the routing is installed when dask.array itself is imported."""
import importlib.abc
import importlib.util
import sys


def _route():
    import lmul_simd.dask  # noqa: F401  (its import installs the routing)


class _AfterDaskArray(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps dask.array's loader so that lmul_simd.dask
    is imported right after dask.array is."""

    def find_spec(self, name, path=None, target=None):
        if name != "dask.array":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_then_route(module):
                exec_module(module)
                _route()
            spec.loader.exec_module = exec_then_route
        return spec


def install():
    if "dask.array" in sys.modules:
        _route()
    elif not any(isinstance(f, _AfterDaskArray) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterDaskArray())
