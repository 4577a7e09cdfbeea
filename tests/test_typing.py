"""The type stub of the compiled module matches the module, and the package
is marked typed (py.typed): names, and each function's parameters."""
import ast
import importlib
import inspect
import types
from pathlib import Path

import pytest

import lmul_simd

PACKAGE_DIR = Path(lmul_simd.__file__).resolve().parent


def stub_definitions(path):
    """{name: ast node} of the top-level definitions of a .pyi file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def public_names(module):
    return {name for name, value in vars(module).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)}


@pytest.fixture(scope="module")
def core():
    try:
        return importlib.import_module("lmul_simd._core")
    except ImportError as error:
        pytest.skip(f"the compiled extension is not built here ({error})")


def test_core_stub_names_are_the_module_names(core):
    assert set(stub_definitions(PACKAGE_DIR / "_core.pyi")) == public_names(core)


def test_core_stub_functions_have_the_module_parameters(core):
    for name, node in stub_definitions(PACKAGE_DIR / "_core.pyi").items():
        value = getattr(core, name)
        assert isinstance(node, (ast.FunctionDef, ast.ClassDef)) == callable(value), name
        if isinstance(node, ast.FunctionDef):
            stub = [a.arg for a in node.args.posonlyargs + node.args.args]
            assert stub == list(inspect.signature(value).parameters), name


def test_package_is_marked_typed():
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_public_functions_are_annotated():
    for name in lmul_simd.__all__:
        value = getattr(lmul_simd, name)
        if isinstance(value, types.FunctionType):
            assert "return" in value.__annotations__, name
