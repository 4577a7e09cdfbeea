"""One shape for the process-wide settings' context managers (ISA, threads)."""
import contextlib


@contextlib.contextmanager
def temporarily(get, set_, value):
    """Run the block with set_(value), then restore what get() returned."""
    previous = get()
    set_(value)
    try:
        yield
    finally:
        set_(previous)
