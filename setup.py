"""Build: the C library liblmul_simd (no Python dependency; C callers link
against it) and the Cython ufunc module that uses it.

The kernels of each instruction set are compiled with per-function target
attributes, never with -m flags, so the scalar and AVX2 code cannot contain
AVX-512 instructions and the library runs on any x86-64 (or other) CPU.

Both are optional: if they cannot be compiled, or LMUL_SIMD_NO_EXTENSION=1
is set, the package installs as pure Python and runs on its Numba backend
(`pip install lmul_simd[numba]`).
"""
import os
import shutil
import sys
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LIB_NAME = "lmul_simd.liblmul_simd"
LIB_SOURCES = sorted(glob("src/liblmul/**/*.c", recursive=True))
# headers, so that editing one rebuilds the library (setuptools tracks only sources)
LIB_HEADERS = sorted(glob("src/liblmul/**/*.h", recursive=True) + glob("include/*.h"))
SHARED_SUFFIX = ".dylib" if sys.platform == "darwin" else ".so"
# -ffp-contract=off: the GEMM's edge tiles and full tiles must round alike
C_FLAGS = ["-O3", "-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-ffp-contract=off",
           "-Wno-unused-function", "-pthread"]


NO_EXTENSION = os.environ.get("LMUL_SIMD_NO_EXTENSION", "").strip() not in ("", "0")
PURE_PYTHON_NOTE = ("lmul_simd will be installed without its compiled extension and "
                    "will run on the Numba backend: install Numba with `pip install numba` "
                    "(or install lmul_simd with its numba extra: `pip install \".[numba]\"` "
                    "from a checkout, `pip install \"lmul_simd[numba]\"` from an index)")


def announce_pure_python(reason):
    line = "*" * 78
    print(f"{line}\nlmul_simd: {reason}\n{PURE_PYTHON_NOTE}\n{line}", file=sys.stderr)


class BuildExt(build_ext):
    """Builds the plain C shared library first, then links the extensions
    against it with an rpath of their own directory. A failure is not fatal:
    the package then installs as pure Python (see the module docstring)."""

    def run(self):
        try:
            super().run()
        except Exception as error:   # no compiler, a compile or link error, ...
            announce_pure_python(f"building the C extension failed ({error})")
            return
        if self.inplace:   # get_include() of a source checkout
            copy_headers(os.path.join(HERE, "src", "lmul_simd"))

    def get_ext_filename(self, fullname):
        # called with the dotted name or only its last part, by setuptools version
        if fullname.split(".")[-1] == LIB_NAME.split(".")[-1]:
            return os.path.join(*fullname.split(".")[:-1], "liblmul_simd" + SHARED_SUFFIX)
        return super().get_ext_filename(fullname)

    def get_export_symbols(self, ext):
        return [] if ext.name == LIB_NAME else super().get_export_symbols(ext)

    def build_extension(self, ext):
        if ext.name != LIB_NAME:
            lib_dir = os.path.dirname(self.get_ext_fullpath(LIB_NAME))
            ext.library_dirs.append(lib_dir)
        super().build_extension(ext)


def copy_headers(package_dir):
    target = os.path.join(package_dir, "include")
    os.makedirs(target, exist_ok=True)
    for header in glob(os.path.join(HERE, "include", "*.h")):
        shutil.copy(header, target)


class BuildPy(build_py):
    """Ships the public header inside the package (lmul_simd.get_include())."""

    def run(self):
        super().run()
        copy_headers(os.path.join(self.build_lib, "lmul_simd"))


def extensions():
    if NO_EXTENSION:
        announce_pure_python("LMUL_SIMD_NO_EXTENSION is set: the C extension is not built")
        return []
    try:
        return compiled_extensions()
    except Exception as error:       # e.g. Cython cannot translate _core.pyx
        announce_pure_python(f"preparing the C extension failed ({error})")
        return []


def compiled_extensions():
    import numpy
    from Cython.Build import cythonize

    library = Extension(
        LIB_NAME, sources=LIB_SOURCES, depends=LIB_HEADERS, include_dirs=["include"],
        define_macros=[("LMUL_BUILDING", "1")], extra_compile_args=C_FLAGS,
        libraries=["m"] if sys.platform != "win32" else [],   # fe*exceptflag
        extra_link_args=["-pthread"] + (["-Wl,-soname,liblmul_simd" + SHARED_SUFFIX]
                                         if sys.platform != "darwin" else []),
    )
    rpath = "@loader_path" if sys.platform == "darwin" else "$ORIGIN"
    core = Extension(
        "lmul_simd._core", sources=["src/lmul_simd/_core.pyx"],
        include_dirs=["include", "src/lmul_simd", numpy.get_include()],
        libraries=["lmul_simd"], extra_link_args=["-Wl,-rpath," + rpath],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"),
                       ("NPY_TARGET_VERSION", "NPY_2_0_API_VERSION")],
        extra_compile_args=["-O2"],
    )
    return [library] + cythonize([core], language_level=3, include_path=["src"])


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt, "build_py": BuildPy})
