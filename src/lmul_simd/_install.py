"""How this copy of lmul_simd was installed, so that a message about a missing
extra can name a pip command that works: `pip install "lmul_simd[numba]"`
for a release, `pip install ".[numba]"` (or the checkout's path) for a
source checkout or a wheel built from one."""
import importlib.metadata
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

PACKAGE_DIR = Path(__file__).resolve().parent


def _checkout_of_package():
    """The source tree this package is imported from (src/lmul_simd of a
    checkout, e.g. an in-place build on PYTHONPATH), or None."""
    root = PACKAGE_DIR.parent.parent
    if PACKAGE_DIR.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def _local_source_of_distribution():
    """The local folder pip installed lmul_simd from (PEP 610 direct_url.json),
    or None for a release from an index."""
    try:
        text = importlib.metadata.distribution("lmul_simd").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    url = urlparse(json.loads(text).get("url", ""))
    if url.scheme != "file":
        return None
    path = Path(unquote(url.path))
    return path if path.is_dir() else None


def pip_install(extra):
    """The pip command that adds the optional dependencies `extra` to this
    installation."""
    source = _checkout_of_package() or _local_source_of_distribution()
    if source is None:
        return f'pip install "lmul_simd[{extra}]"'
    target = "." if Path.cwd().resolve() == source.resolve() else os.fspath(source)
    return f'pip install "{target}[{extra}]"'
