/*
 * Threads for the GEMM: a count set at load from LMUL_SIMD_NUM_THREADS (or
 * the CPUs this process may use: its affinity mask and cgroup CPU quota)
 * and changed by lmul_set_num_threads(); a fork-join run of one task per
 * thread on a persistent pool. pthreads where available, else serial.
 *
 * The pool's workers start on the first threaded run (and more when a run
 * needs more), then wait for work. One run uses it at a time: a run that
 * finds it busy (another thread's, or a task's own nested run) computes its
 * tasks serially in the caller; tasks are deterministic, so the bits are
 * the same. After fork() the child has no workers: it starts its own.
 */
#define _GNU_SOURCE 1   /* sched_getaffinity, CPU_COUNT */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmul_internal.h"

#if defined(__unix__) || defined(__APPLE__)
#  define LMUL_PTHREADS 1
#  include <pthread.h>
#  include <signal.h>
#  include <unistd.h>
#else
#  define LMUL_PTHREADS 0
#endif
#if defined(__linux__)
#  include <sched.h>
#endif

#define MAX_THREADS 256

static _Atomic int num_threads = 1;

int lmul_set_num_threads(int n)
{
    if (n < 1)
        return LMUL_ERR_ARG;
    atomic_store(&num_threads, n < MAX_THREADS ? n : MAX_THREADS);
    return LMUL_OK;
}

int lmul_get_num_threads(void) { return atomic_load(&num_threads); }

/* ---------------------------------------------------------------- default */

static int online_cpus(void)
{
#if LMUL_PTHREADS && defined(_SC_NPROCESSORS_ONLN)
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
#else
    return 1;
#endif
}

/* CPUs in this thread's affinity mask (taskset, cpusets), else online ones. */
static int usable_cpus(void)
{
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    return online_cpus();
}

/* The first two numbers of a file ("max" reads as -1); how many were read. */
static int read_two(const char *dir, const char *name, long long v[2])
{
    char path[4096], word[2][32];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    const int got = fscanf(f, "%31s %31s", word[0], word[1]);
    fclose(f);
    for (int i = 0; i < got && i < 2; i++)
        v[i] = strcmp(word[i], "max") == 0 ? -1 : strtoll(word[i], NULL, 10);
    return got < 0 ? 0 : got;
}

/* CPUs a quota of `quota` microseconds per `period` allows (rounded up);
 * 0 when no quota is set. */
static int quota_cpus(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return 0;
    const long long n = (quota + period - 1) / period;
    return (int)(n < MAX_THREADS ? n : MAX_THREADS);
}

/* CPUs by the v2 quota in directory `at` (cpu.max), 0 when none. */
static int v2_quota_at(const char *at)
{
    long long v[2] = {0, 0};
    return read_two(at, "cpu.max", v) == 2 ? quota_cpus(v[0], v[1]) : 0;
}

/* CPUs by the v1 quota in directory `at` (cpu.cfs_quota_us over
 * cpu.cfs_period_us), 0 when none. */
static int v1_quota_at(const char *at)
{
    long long quota[2] = {0, 0}, period[2] = {0, 0};
    return read_two(at, "cpu.cfs_quota_us", quota) >= 1
        && read_two(at, "cpu.cfs_period_us", period) >= 1 ? quota_cpus(quota[0], period[0]) : 0;
}

/* Whether a v1 controllers field of /proc/self/cgroup (a comma list)
 * names "cpu". */
static int names_cpu(const char *controllers)
{
    for (const char *c = controllers; *c != '\0';) {
        const size_t len = strcspn(c, ",");
        if (len == 3 && strncmp(c, "cpu", 3) == 0)
            return 1;
        c += len + (c[len] == ',');
    }
    return 0;
}

/* This process's cgroups in the v2 hierarchy (the line with no
 * controllers) and in v1's cpu hierarchy, as paths from their roots (""
 * when none), from one reading of /proc/self/cgroup
 * (LMUL_SIMD_CGROUP_PROC, test-only, replaces it). */
static void own_cgroups(char *v2, char *v1, size_t size)
{
    const char *file = getenv("LMUL_SIMD_CGROUP_PROC");
    FILE *f = fopen(file != NULL ? file : "/proc/self/cgroup", "r");
    char line[4096];
    v2[0] = v1[0] = '\0';
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char *first = strchr(line, ':'), *second = first ? strchr(first + 1, ':') : NULL;
        if (second == NULL)
            continue;
        *second = '\0';
        second[1 + strcspn(second + 1, "\n")] = '\0';
        if (first[1] == '\0')
            snprintf(v2, size, "%s", second + 1);
        else if (names_cpu(first + 1))
            snprintf(v1, size, "%s", second + 1);
    }
    if (f != NULL)
        fclose(f);
}

/* The smallest quota that quota_at finds in hierarchy/own and each of its
 * parents up to the hierarchy's root (a container's limit may be set on
 * a parent of its own cgroup); 0 when none. */
static int smallest_quota_up(const char *hierarchy, const char *own,
                             int (*quota_at)(const char *))
{
    char rel[4096];
    int smallest = 0;
    snprintf(rel, sizeof rel, "%s", own);
    for (;;) {
        char at[4096];
        if (snprintf(at, sizeof at, "%s%s", hierarchy, rel) < (int)sizeof at) {
            const int q = quota_at(at);
            smallest = q > 0 && (smallest == 0 || q < smallest) ? q : smallest;
        }
        char *slash = strrchr(rel, '/');
        if (slash == NULL)
            return smallest;
        *slash = '\0';
    }
}

/* The CPU quota of this process's cgroup and its parents in the cgroup
 * file system mounted at root (v2: cpu.max; v1: the cpu controller's
 * cfs quota over period), 0 when there is none. */
static int cgroup_cpu_quota(const char *root)
{
    char v2_own[4096], v1_own[4096];
    own_cgroups(v2_own, v1_own, sizeof v2_own);
    const int v2 = smallest_quota_up(root, v2_own, v2_quota_at);
    if (v2 > 0)
        return v2;
    static const char *const v1_dirs[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
    for (size_t i = 0; i < sizeof v1_dirs / sizeof v1_dirs[0]; i++) {
        char dir[4096];
        if (snprintf(dir, sizeof dir, "%s/%s", root, v1_dirs[i]) >= (int)sizeof dir)
            return 0;
        const int v1 = smallest_quota_up(dir, v1_own, v1_quota_at);
        if (v1 > 0)
            return v1;
    }
    return 0;
}

/* The CPUs this process may use: its affinity mask, lowered by the cgroup
 * quota (LMUL_SIMD_CGROUP_ROOT, test-only, replaces /sys/fs/cgroup). */
static int default_threads(void)
{
    const char *root = getenv("LMUL_SIMD_CGROUP_ROOT");
    const int cpus = usable_cpus();
    const int quota = cgroup_cpu_quota(root != NULL ? root : "/sys/fs/cgroup");
    return quota > 0 && quota < cpus ? quota : cpus;
}

__attribute__((constructor)) static void lmul_threads_init(void)
{
    const char *env = getenv("LMUL_SIMD_NUM_THREADS");
    char *end = NULL;
    const long n = env ? strtol(env, &end, 10) : 0;
    if (env != NULL && end != env && *end == '\0' && n > 0)
        lmul_set_num_threads(n < MAX_THREADS ? (int)n : MAX_THREADS);
    else
        lmul_set_num_threads(default_threads());
}

/* ---------------------------------------------------------------- pool */

#if LMUL_PTHREADS
/*
 * Waiting: a worker first polls for the next run (and the caller for the
 * end of its run) for LMUL_SIMD_SPIN_US microseconds (default SPIN_US),
 * yielding the CPU as it polls, and only then sleeps on a condition
 * variable. Waking a sleeping thread costs tens of microseconds on a
 * virtual machine, more than a whole small product: back-to-back calls
 * find the workers awake.
 */
#define SPIN_US 200
#define SPIN_CHECK 64           /* polls between clock reads */

static struct pool {
    pthread_mutex_t busy;       /* held by the run using the pool */
    pthread_mutex_t lock;       /* guards sleeping, waking and the fields below */
    pthread_cond_t wake, done;
    /* (run number << 16) | tasks of the run, published last: a worker that
     * takes no task never reads fn or arg, which the next run may be setting */
    _Atomic uint64_t ticket;
    _Atomic int quit;
    _Atomic int pending;        /* worker tasks of this run not done */
    _Atomic int fp_raised;      /* LMUL_FP_REPORTED flags the workers raised */
    int sleepers;               /* workers asleep on wake */
    int workers;                /* started; worker w takes task w (w >= 1) */
    lmul_task_ft fn;            /* this run's, set before the ticket moves */
    void *arg;
    fenv_t env;                 /* the caller's rounding mode (and FTZ/DAZ) */
    pthread_t ids[MAX_THREADS];
    uint64_t born[MAX_THREADS];   /* the ticket a worker starts after */
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static int64_t spin_ns = (int64_t)SPIN_US * 1000;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if LMUL_X86 && defined(__GNUC__)
    __builtin_ia32_pause();
#endif
}

/* Polls until done(arg) or the spin time is over; whether it was done. */
static int spin_until(int (*done)(const void *), const void *arg)
{
    if (spin_ns <= 0)
        return done(arg);
    const int64_t end = now_ns() + spin_ns;
    for (;;) {
        for (int i = 0; i < SPIN_CHECK; i++) {
            if (done(arg))
                return 1;
            cpu_relax();
        }
        if (now_ns() >= end)
            return done(arg);
        sched_yield();          /* a runnable thread (another pool's) gets the core */
    }
}

static int run_posted(const void *seen)
{
    return atomic_load_explicit(&pool.ticket, memory_order_acquire)
               != *(const uint64_t *)seen
        || atomic_load_explicit(&pool.quit, memory_order_acquire);
}

static int run_finished(const void *unused)
{
    (void)unused;
    return atomic_load_explicit(&pool.pending, memory_order_acquire) == 0;
}

/* The next run after `seen` (or quit), polled for first. */
static void wait_for_run(uint64_t seen)
{
    if (spin_until(run_posted, &seen))
        return;
    pthread_mutex_lock(&pool.lock);
    pool.sleepers++;
    while (!run_posted(&seen))
        pthread_cond_wait(&pool.wake, &pool.lock);
    pool.sleepers--;
    pthread_mutex_unlock(&pool.lock);
}

static void *worker_main(void *p)
{
    const int w = (int)(intptr_t)p;
    pthread_mutex_lock(&pool.lock);
    uint64_t seen = pool.born[w];
    pthread_mutex_unlock(&pool.lock);
    for (;;) {
        wait_for_run(seen);
        if (atomic_load(&pool.quit))
            break;
        seen = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        if (w >= (int)(seen & 0xFFFF))
            continue;
        fesetenv(&pool.env);                  /* computes as the caller would */
        feclearexcept(FE_ALL_EXCEPT);
        pool.fn(pool.arg, w);
        atomic_fetch_or(&pool.fp_raised, fetestexcept(LMUL_FP_REPORTED));
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.lock);   /* the caller may be asleep */
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

/* Starts workers up to `want` (pool.lock held); signals stay with the
 * application's threads. */
static void grow(int want)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.workers < want) {
        const int w = pool.workers + 1;
        pool.born[w] = atomic_load(&pool.ticket);
        if (pthread_create(&pool.ids[w], NULL, worker_main, (void *)(intptr_t)w) != 0)
            break;
        pool.workers = w;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void run_serial(int from, int nt, lmul_task_ft fn, void *arg)
{
    for (int t = from; t < nt; t++)
        fn(arg, t);
}

void lmul_parallel_run(int nt, lmul_task_ft fn, void *arg)
{
    nt = nt < MAX_THREADS ? nt : MAX_THREADS;
    if (nt <= 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        run_serial(0, nt, fn, arg);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    grow(nt - 1);
    const int helped = pool.workers < nt - 1 ? pool.workers : nt - 1;
    pool.fn = fn;
    pool.arg = arg;
    atomic_store(&pool.pending, helped);
    atomic_store(&pool.fp_raised, 0);
    fegetenv(&pool.env);
    const uint64_t run = (atomic_load(&pool.ticket) >> 16) + 1;
    atomic_store_explicit(&pool.ticket, run << 16 | (uint64_t)(helped + 1),
                          memory_order_release);
    if (pool.sleepers > 0)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    fn(arg, 0);
    run_serial(helped + 1, nt, fn, arg);   /* tasks no worker could take */

    if (!spin_until(run_finished, NULL)) {
        pthread_mutex_lock(&pool.lock);
        while (!run_finished(NULL))
            pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    const int raised = atomic_load(&pool.fp_raised);
    pthread_mutex_unlock(&pool.busy);
    if (raised)
        feraiseexcept(raised);
}

/* The child of fork() has only the forking thread: no workers, and the
 * pool's locks as they were in the parent. It starts afresh. */
static void pool_after_fork_child(void)
{
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.workers = 0;
    pool.sleepers = 0;
    atomic_store(&pool.quit, 0);
    atomic_store(&pool.pending, 0);
}

__attribute__((constructor)) static void lmul_pool_init(void)
{
    const char *env = getenv("LMUL_SIMD_SPIN_US");
    char *end = NULL;
    const long long us = env ? strtoll(env, &end, 10) : -1;
    if (env != NULL && end != env && *end == '\0' && us >= 0 && us <= 1000000)
        spin_ns = us * 1000;
    pthread_atfork(NULL, NULL, pool_after_fork_child);
}

/* At exit (or unload) the workers are told to quit and joined, unless a run
 * is still in progress (exit() called from another thread): then they are
 * left to end with the process. */
__attribute__((destructor)) static void lmul_pool_release(void)
{
    if (pthread_mutex_trylock(&pool.busy) != 0)
        return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.quit, 1);
    const int workers = pool.workers;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int w = 1; w <= workers; w++)
        pthread_join(pool.ids[w], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.workers = 0;
    atomic_store(&pool.quit, 0);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}
#else
void lmul_parallel_run(int nt, lmul_task_ft fn, void *arg)
{
    for (int t = 0; t < nt; t++)
        fn(arg, t);
}
#endif
