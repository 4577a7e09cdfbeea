"""One shape for the process-wide settings (ISA, threads) and their context
managers, safe under threads. A lock serialises every change. Blocks that
overlap in several threads form one stack per setting: the setting is the
value of the newest block still open (or, when none is, what it was before
the first), so a block that ends does not undo another thread's block, and
the last one to end restores the value found. No lock is held while a
block runs (a thread inside one may wait for threads that change settings);
computing takes none either: the C library reads each setting once per
call, so a call never mixes levels or thread counts."""
import contextlib
import threading

lock = threading.RLock()
_open = {}      # setter -> [(token, value)] of the blocks open, oldest first
_before = {}    # setter -> the value before the oldest open block


@contextlib.contextmanager
def temporarily(get, set_, value):
    """Run the block with set_(value), then restore (see above)."""
    token = object()
    with lock:
        blocks = _open.setdefault(set_, [])
        if not blocks:
            _before[set_] = get()
        set_(value)                     # raises before the block counts as open
        blocks.append((token, value))
    try:
        yield
    finally:
        with lock:
            blocks.remove(next(b for b in blocks if b[0] is token))
            set_(blocks[-1][1] if blocks else _before.pop(set_))
