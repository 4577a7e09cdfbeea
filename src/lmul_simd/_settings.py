"""One shape for the process-wide settings (ISA, threads): their setters and
context managers hold one lock, so that threads changing them do not
interleave. A context manager holds it for its whole block: another
thread's change waits until the block ends, and the value restored is the
one the block found. (Computing takes no lock: the C library reads each
setting once per call, so a call never mixes levels or thread counts.)"""
import contextlib
import threading

lock = threading.RLock()


@contextlib.contextmanager
def temporarily(get, set_, value):
    """Run the block with set_(value), then restore what get() returned."""
    with lock:
        previous = get()
        set_(value)
        try:
            yield
        finally:
            set_(previous)
