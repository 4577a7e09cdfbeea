"""Defects of a held-out audit (issue 13): C error codes reaching the ufunc
loops, allocation failure, FP flags, settings under threads, overflow in
the argument checks, the default thread count, LMUL_SIMD_ISA on a CPU that
lacks the level, the thread pool across fork."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import lmul_simd

pytestmark = pytest.mark.skipif(lmul_simd.backend != "c",
                                reason="the C backend's error paths and settings")

# the directory this lmul_simd is imported from (src/ of a checkout with an
# in-place build, or site-packages), so that fresh interpreters import the same
SRC = os.path.dirname(os.path.dirname(os.path.abspath(lmul_simd.__file__)))


def run_python(code, timeout=120, **env):
    """code in a fresh interpreter with env added; the completed process."""
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.path.abspath(SRC), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=full_env,
                          timeout=timeout)


def operands(m, kd, n, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, kd)).astype(dtype),
            rng.standard_normal((kd, n)).astype(dtype))


# ---------------------------------------------------------------- 1. errors

def test_matmul_raises_the_c_error_for_an_out_with_a_zero_stride():
    a, b = operands(4, 3, 5)
    base = np.full(5, 7, np.float32)
    out = as_strided(base, (4, 5), (0, 4))
    with pytest.raises(ValueError, match="invalid argument"):
        lmul_simd.matmul(a, b, out=out)
    assert (base == 7).all()          # nothing written


# ---------------------------------------------------------------- 2. no memory

def test_allocation_failure_is_a_memory_error_and_writes_nothing():
    result = run_python("""
        import numpy as np, lmul_simd
        a = np.ones((40, 30), np.float32); b = np.ones((30, 50), np.float32)
        out = np.full((40, 50), 7, np.float32)
        try:
            lmul_simd.matmul(a, b, out=out)
        except MemoryError as error:
            print("MemoryError", error)
        print("untouched", bool((out == 7).all()))
        for name, call in [("few rows", lambda: lmul_simd.matmul(a[:1], b)),
                           ("batch", lambda: lmul_simd.matmul(a.reshape(10, 4, 30), b)),
                           ("vecdot", lambda: lmul_simd.vecdot(a, a))]:
            try:                                     # every path's workspace
                call()
                print(name, "computed")
            except MemoryError:
                print(name, "MemoryError")
        """, LMUL_SIMD_TEST_FAIL_ALLOC="1")
    assert result.returncode == 0, result.stderr
    assert "MemoryError" in result.stdout and "out of memory" in result.stdout
    assert "untouched True" in result.stdout
    for name in ("few rows", "batch", "vecdot"):
        assert f"{name} MemoryError" in result.stdout, result.stdout


# ---------------------------------------------------------------- 3. FP flags

def fp_outcome(f, *args):
    """What np.errstate(all='raise') makes of f(*args): 'ok' or the flag."""
    try:
        with np.errstate(all="raise"):
            f(*args)
    except FloatingPointError as error:
        return str(error).split()[0]
    return "ok"


def flag_cases():
    """(name, a, b, flag): the last row's sums overflow or meet inf - inf,
    on a product big enough for several threads."""
    a, b = operands(200, 160, 120)
    over, invalid = a.copy(), a.copy()
    over[-1, :2], b_over = 2.0 ** 127, b.copy()
    b_over[:2, :] = 1.5                  # two products near the top: the sum overflows
    invalid[-1, 0], invalid[-1, 1] = np.inf, -np.inf
    b_pos = np.abs(b) + 1
    return [("overflow", over, b_over, "overflow"),
            ("invalid", invalid, b_pos, "invalid"),
            ("finite", a, b, "ok")]


@pytest.mark.parametrize("case", flag_cases(), ids=lambda c: c[0])
def test_fp_flags_are_the_same_on_every_path_level_and_thread_count(case):
    _, a, b, flag = case
    seen = set()
    for isa in lmul_simd.available_isas():
        for threads in (1, 2, 3):
            with lmul_simd.use_isa(isa), lmul_simd.num_threads(threads):
                seen.add(fp_outcome(lmul_simd.matmul, a, b))
                seen.add(fp_outcome(lmul_simd.vecdot, a[:, None, :], b.T[None]))
                seen.add(fp_outcome(lmul_simd.matmul, a[-1], b))   # 1-D @ 2-D
                seen.add(fp_outcome(lmul_simd.matmul, a, lmul_simd.pack(b)))
                seen.add(fp_outcome(lmul_simd.matmul, a.reshape(4, -1, a.shape[1]), b))
    assert seen == {flag}
    # as numpy.matmul reports them (on a product OpenBLAS computes in the
    # caller's thread: it loses the flags of its own workers)
    assert fp_outcome(np.matmul, a[-2:, :32], b[:32, :4]) == flag


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_fp_flags_of_other_formats(dtype):
    a, b = operands(8, 4, 8, dtype)
    a[0, 0], a[0, 1] = np.inf, -np.inf
    b[:2] = 1
    assert fp_outcome(lmul_simd.matmul, a, b) == "invalid"
    assert fp_outcome(lmul_simd.vecdot, a, b.T) == "invalid"
    a[0, :2] = 0      # the products' own internal flags are never reported
    assert fp_outcome(lmul_simd.matmul, a, b) == "ok"


# ---------------------------------------------------------------- 4. k in messages

@pytest.mark.parametrize("make", [lmul_simd.matmul_k, lmul_simd.vecdot_k,
                                  lmul_simd.multiply_k])
def test_message_names_the_k_asked_for(make):
    a = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match=r"k = 30 mantissa bits") as info:
        make(30)(a, a)
    assert "286" not in str(info.value)


# ---------------------------------------------------------------- 5. settings under threads

def test_threads_compute_while_another_switches_isa_and_thread_count():
    import threading
    cases = [operands(150, 200, 130, seed=s) for s in range(3)]
    cases.append(operands(40, 30, 20, np.float16, seed=4))
    with lmul_simd.use_isa("scalar"), lmul_simd.num_threads(1):
        expected = [lmul_simd.matmul(a, b) for a, b in cases]
    levels, stop, failures = lmul_simd.available_isas(), threading.Event(), []

    def switch():
        i = 0
        while not stop.is_set():
            i += 1
            if i % 2:
                lmul_simd.set_isa(levels[i % len(levels)])
                lmul_simd.set_num_threads(1 + i % 4)
            else:
                with lmul_simd.use_isa(levels[(i // 2) % len(levels)]), \
                        lmul_simd.num_threads(1 + i % 3):
                    pass

    def compute(seed):
        for i in range(25):
            j = (seed + i) % len(cases)
            got = lmul_simd.matmul(*cases[j])
            if not np.array_equal(got.view(np.uint8), expected[j].view(np.uint8)):
                failures.append((seed, i, j))

    isa, threads = lmul_simd.get_isa(), lmul_simd.get_num_threads()
    switcher = threading.Thread(target=switch)
    workers = [threading.Thread(target=compute, args=(s,)) for s in range(4)]
    switcher.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    switcher.join()
    lmul_simd.set_isa(isa)
    lmul_simd.set_num_threads(threads)
    assert failures == []


def test_context_managers_restore_under_threads():
    import threading
    before = (lmul_simd.get_isa(), lmul_simd.get_num_threads())
    levels = lmul_simd.available_isas()
    errors = []

    def nest(i):
        try:
            for j in range(200):
                with lmul_simd.use_isa(levels[(i + j) % len(levels)]), \
                        lmul_simd.num_threads(1 + (i + j) % 5):
                    with lmul_simd.use_isa(levels[0]):
                        pass
        except Exception as error:      # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=nest, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (lmul_simd.get_isa(), lmul_simd.get_num_threads()) == before


# ---------------------------------------------------------------- 6, 9. argument checks

@pytest.fixture(scope="module")
def clib():
    import ctypes
    from pathlib import Path
    path = next(Path(lmul_simd.__file__).parent.glob("liblmul_simd.*"))
    library = ctypes.CDLL(str(path))
    i64, vp, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    library.lmul_sgemm.argtypes = [c_int, c_int, c_int, i64, i64, i64, ctypes.c_float,
                                   vp, i64, vp, i64, ctypes.c_float, vp, i64, c_int]
    library.lmul_sgemm_strided.argtypes = [i64, i64, i64, ctypes.c_float, vp, i64, i64,
                                           vp, i64, i64, ctypes.c_float, vp, i64, i64,
                                           c_int]
    library.lmul_dgemm.argtypes = [c_int, c_int, c_int, i64, i64, i64, ctypes.c_double,
                                   vp, i64, vp, i64, ctypes.c_double, vp, i64, c_int]
    return library


LMUL_ERR_K, LMUL_ERR_ARG = -1, -2


def test_huge_leading_dimension_is_an_error_not_an_overflow(clib):
    a = np.ones(4, np.float64)
    c = np.full(4, 7.0)
    for ld in (2 ** 61, 2 ** 62, 2 ** 63 - 1):      # elsize * ld overflows int64
        status = clib.lmul_dgemm(0, 0, 0, 1, 1, 1, 1.0, a.ctypes.data, ld,
                                 a.ctypes.data, 1, 0.0, c.ctypes.data, ld, 52)
        assert status == LMUL_ERR_ARG
    assert (c == 7).all()


def test_both_gemm_forms_check_arguments_in_one_order(clib):
    x = np.ones(16, np.float32)
    p = x.ctypes.data
    # a bad k and a negative size: ERR_K from both forms
    assert clib.lmul_sgemm(0, 0, 0, -1, 2, 2, 1.0, p, 2, p, 2, 0.0, p, 2, 99) == LMUL_ERR_K
    assert clib.lmul_sgemm_strided(-1, 2, 2, 1.0, p, 8, 4, p, 8, 4, 0.0, p, 8, 4,
                                   99) == LMUL_ERR_K
    # a negative size and a bad enum or leading dimension: ERR_ARG from both
    assert clib.lmul_sgemm(7, 0, 0, -1, 2, 2, 1.0, p, 0, p, 2, 0.0, p, 2, 23) == LMUL_ERR_ARG
    assert clib.lmul_sgemm_strided(-1, 2, 2, 1.0, p, 8, 4, p, 8, 4, 0.0, p, 8, 4,
                                   23) == LMUL_ERR_ARG


# ---------------------------------------------------------------- 7. default thread count

@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux affinity")
def test_default_thread_count_follows_the_affinity_mask():
    code = "import lmul_simd; print(lmul_simd.get_num_threads())"
    env = {k: v for k, v in os.environ.items() if k != "LMUL_SIMD_NUM_THREADS"}
    full_env = {**env, "PYTHONPATH": os.path.abspath(SRC)}
    # the child is pinned to one CPU before it starts (as taskset -c 0 does)
    cpu = min(os.sched_getaffinity(0))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env=full_env, timeout=60,
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


@pytest.mark.parametrize("files,expected", [
    ({"cpu.max": "50000 100000\n"}, 1),                     # v2: half a CPU
    ({"cpu.max": "max 100000\n"}, None),                    # v2: no quota
    ({"cpu/cpu.cfs_quota_us": "100000\n",
      "cpu/cpu.cfs_period_us": "100000\n"}, 1),             # v1: one CPU
    ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
      "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None),  # v1: no quota
    ({}, None),                                             # no cgroup files
])
def test_default_thread_count_follows_the_cgroup_quota(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    code = "import os, lmul_simd; print(lmul_simd.get_num_threads(), len(os.sched_getaffinity(0)))"
    env = {k: v for k, v in os.environ.items() if k != "LMUL_SIMD_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**env, "PYTHONPATH": os.path.abspath(SRC),
                                             "LMUL_SIMD_CGROUP_ROOT": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    threads, cpus = map(int, result.stdout.split())
    assert threads == (cpus if expected is None else min(expected, cpus))


@pytest.mark.parametrize("proc,files,expected", [
    # v2: the quota on the process's own cgroup, below the hierarchy's root
    ("0::/kubepods/pod1/ctr\n", {"cpu.max": "max 100000\n",
                                  "kubepods/pod1/ctr/cpu.max": "100000 100000\n"}, 1),
    # v2: on a parent only (the pod's limit), none on the container's cgroup
    ("0::/kubepods/pod1/ctr\n", {"kubepods/pod1/cpu.max": "50000 100000\n",
                                  "kubepods/pod1/ctr/cpu.max": "max 100000\n"}, 1),
    # v2: the smallest of the chain counts
    ("0::/a/b\n", {"a/cpu.max": "100000 100000\n", "a/b/cpu.max": "400000 100000\n"}, 1),
    # v1: the cpu controller's line (not memory's) gives the path
    ("4:memory:/elsewhere\n3:cpu,cpuacct:/docker/abc\n",
     {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000\n",
      "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"}, 1),
    # a cgroup of another controller only, or a line that is not one: no quota
    ("4:memory:/m\nnot a cgroup line\n", {"cpu/m/cpu.cfs_quota_us": "100000\n",
                                          "cpu/m/cpu.cfs_period_us": "100000\n"}, None),
])
def test_default_thread_count_follows_a_nested_cgroup_quota(tmp_path, proc, files, expected):
    """The quota is looked for in the process's own cgroup (from
    /proc/self/cgroup) and every parent of it, not at the mount root only."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "proc_cgroup").write_text(proc)
    code = "import os, lmul_simd; print(lmul_simd.get_num_threads(), len(os.sched_getaffinity(0)))"
    env = {k: v for k, v in os.environ.items() if k != "LMUL_SIMD_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**env, "PYTHONPATH": os.path.abspath(SRC),
                                             "LMUL_SIMD_CGROUP_ROOT": str(root),
                                             "LMUL_SIMD_CGROUP_PROC": str(tmp_path / "proc_cgroup")})
    assert result.returncode == 0, result.stderr
    threads, cpus = map(int, result.stdout.split())
    assert threads == (cpus if expected is None else min(expected, cpus))


# ---------------------------------------------------------------- 8. LMUL_SIMD_ISA

def test_environment_level_the_cpu_lacks_warns_and_uses_the_best():
    result = run_python("""
        import lmul_simd
        print(lmul_simd.best_isa(), lmul_simd.get_isa())
        try:
            lmul_simd.set_isa("avx512")
        except RuntimeError as error:
            print("set_isa raises:", error)
        """, LMUL_SIMD_ISA="avx512", LMUL_SIMD_TEST_BEST_ISA="avx2")
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" in result.stderr and "does not support it" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "avx2 avx2"
    assert lines[1].startswith("set_isa raises:") and "not supported" in lines[1]


def test_environment_unknown_level_is_still_an_import_error():
    result = run_python("import lmul_simd", LMUL_SIMD_ISA="avx1024")
    assert result.returncode != 0 and "unknown instruction set" in result.stderr


# ---------------------------------------------------------------- 10. the thread pool

def os_threads():
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux /proc")
def test_pool_workers_are_started_once_and_reused():
    a, b = operands(300, 200, 300)
    with lmul_simd.num_threads(1):
        expected = lmul_simd.matmul(a, b)
    with lmul_simd.num_threads(4):
        lmul_simd.matmul(a, b)
        started = os_threads()
        for _ in range(5):
            assert np.array_equal(lmul_simd.matmul(a, b).view(np.uint32),
                                  expected.view(np.uint32))
        assert os_threads() == started          # no thread per call
    # growing the count grows the pool (no other test asks for 64 threads,
    # so the pool that earlier tests left behind is smaller), then reuses it
    with lmul_simd.num_threads(64):
        assert np.array_equal(lmul_simd.matmul(a, b).view(np.uint32),
                              expected.view(np.uint32))
        grown = os_threads()
        assert grown > started
        lmul_simd.matmul(a, b)
        assert os_threads() == grown


@pytest.mark.parametrize("spin_us", ["0", "200", "5000", "bad"])
def test_pool_polling_time_leaves_the_bits(spin_us):
    """LMUL_SIMD_SPIN_US: how long workers poll before they sleep (0: they
    sleep at once; a value that is not a number keeps the default). Calls
    back to back, and after pauses longer than the polling, on every count."""
    result = run_python("""
        import time, numpy as np, lmul_simd
        rng = np.random.default_rng(0)
        a = rng.standard_normal((70, 300)).astype(np.float32)
        b = rng.standard_normal((300, 90)).astype(np.float32)
        x = rng.standard_normal((400, 256)).astype(np.float32)
        with lmul_simd.num_threads(1):
            want, want_dots = lmul_simd.matmul(a, b), lmul_simd.vecdot(x, x)
        same = True
        for threads in (2, 3, 7):
            lmul_simd.set_num_threads(threads)
            for pause in (0, 0, 0.01, 0):
                time.sleep(pause)
                same &= np.array_equal(lmul_simd.matmul(a, b).view(np.uint32),
                                       want.view(np.uint32))
                same &= np.array_equal(lmul_simd.vecdot(x, x).view(np.uint32),
                                       want_dots.view(np.uint32))
        print(same)
        """, timeout=60, LMUL_SIMD_SPIN_US=spin_us)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_fork_after_a_threaded_call_computes_in_the_child():
    result = run_python("""
        import os, signal, numpy as np, lmul_simd
        rng = np.random.default_rng(0)
        a = rng.standard_normal((300, 200)).astype(np.float32)
        b = rng.standard_normal((200, 300)).astype(np.float32)
        lmul_simd.set_num_threads(3)
        expected = lmul_simd.matmul(a, b)            # the pool is running
        pid = os.fork()
        if pid == 0:
            signal.alarm(30)                         # a hang fails, not blocks
            got = lmul_simd.matmul(a, b)             # threaded in the child
            with lmul_simd.num_threads(5):
                got5 = lmul_simd.matmul(a, b)
            same = np.array_equal(got.view(np.uint32), expected.view(np.uint32))
            same5 = np.array_equal(got5.view(np.uint32), expected.view(np.uint32))
            os._exit(0 if same and same5 else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", np.array_equal(lmul_simd.matmul(a, b).view(np.uint32),
                                       expected.view(np.uint32)))
        """, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["child", "0", "parent", "True"]


def test_exit_with_the_pool_running_and_a_thread_computing_does_not_hang():
    result = run_python("""
        import threading, numpy as np, lmul_simd
        a = np.ones((300, 300), np.float32)
        lmul_simd.set_num_threads(3)
        lmul_simd.matmul(a, a)

        def forever():
            while True:
                lmul_simd.matmul(a, a)

        threading.Thread(target=forever, daemon=True).start()
        print("exiting")
        """, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exiting"


# ---------------------------------------------------------------- 11. the C driver

def test_c_randomized_driver_passes(tmp_path):
    """tests/c/gemm_fuzz.c (run under ASan and UBSan by .ci/sanitize), here a
    short run against the library as built."""
    import shutil
    from pathlib import Path
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    lib_dir = Path(lmul_simd.get_library_dir())
    source = Path(__file__).parent / "c" / "gemm_fuzz.c"
    program = tmp_path / "gemm_fuzz"
    subprocess.run([cc, "-std=c11", "-O1", "-pthread", "-Wall", "-Werror", f"-I{lmul_simd.get_include()}",
                    str(source), "-o", str(program), f"-L{lib_dir}", "-llmul_simd",
                    f"-Wl,-rpath,{lib_dir}", "-lm"], check=True, timeout=120)
    result = subprocess.run([str(program), "80", "1"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "0 failures" in result.stdout


@pytest.mark.skipif(not (sys.platform.startswith("linux")
                         and __import__("platform").machine() == "x86_64"),
                    reason="sets the rounding mode through glibc's libm.so.6 with "
                           "x86's FE_DOWNWARD value")
def test_pool_workers_compute_in_the_callers_rounding_mode():
    result = run_python("""
        import ctypes, numpy as np, lmul_simd
        libm = ctypes.CDLL("libm.so.6")
        rng = np.random.default_rng(0)
        a = rng.standard_normal((300, 200)).astype(np.float32)
        b = rng.standard_normal((200, 300)).astype(np.float32)
        with lmul_simd.num_threads(3):
            nearest = lmul_simd.matmul(a, b)      # the workers start here
        FE_DOWNWARD = 0x400                       # x86
        assert libm.fesetround(FE_DOWNWARD) == 0
        with lmul_simd.num_threads(1):
            one = lmul_simd.matmul(a, b)
        with lmul_simd.num_threads(3):
            three = lmul_simd.matmul(a, b)
        libm.fesetround(0)
        print(np.array_equal(one.view(np.uint32), three.view(np.uint32)),
              np.array_equal(one.view(np.uint32), nearest.view(np.uint32)))
        """)
    assert result.returncode == 0, result.stderr
    # the same bits on 1 and 3 threads, and the mode did change the sums
    assert result.stdout.split() == ["True", "False"]


def test_overlapping_blocks_in_two_threads_neither_undo_nor_leak():
    import threading
    levels = lmul_simd.available_isas()
    before = lmul_simd.get_isa()
    a_entered, b_entered, a_left = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with lmul_simd.use_isa(levels[0]):
            a_entered.set()
            b_entered.wait(10)
        a_left.set()

    def second():
        a_entered.wait(10)
        with lmul_simd.use_isa(levels[-1]):
            b_entered.set()
            a_left.wait(10)
            seen["inside"] = lmul_simd.get_isa()   # not undone by the first's end

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["inside"] == levels[-1]
    assert lmul_simd.get_isa() == before          # nothing leaked
