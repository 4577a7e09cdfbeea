"""What a C compiler needs to use liblmul_simd from this installation:

    cc prog.c $(python -m lmul_simd.config --cflags --libs)
"""
import argparse
import shlex

from . import get_include, get_library_dir


def cflags():
    return ["-I" + get_include()]


def libs():
    lib_dir = get_library_dir()
    return ["-L" + lib_dir, "-Wl,-rpath," + lib_dir, "-llmul_simd"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lmul_simd.config",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--cflags", action="store_true", help="include flags")
    parser.add_argument("--libs", action="store_true", help="linker flags")
    args = parser.parse_args(argv)
    if not (args.cflags or args.libs):
        parser.error("ask for --cflags, --libs or both")
    flags = (cflags() if args.cflags else []) + (libs() if args.libs else [])
    print(" ".join(shlex.quote(f) for f in flags))


if __name__ == "__main__":
    main()
