/*
 * Threads for the GEMM: a count set at load from LMUL_SIMD_NUM_THREADS (or
 * every online CPU) and changed by lmul_set_num_threads(); a fork-join run
 * of one task per thread. pthreads where available, else serial.
 */
#define _DEFAULT_SOURCE 1   /* sysconf(_SC_NPROCESSORS_ONLN) under -std=c11 */
#include <stdlib.h>

#include "lmul_internal.h"

#if defined(__unix__) || defined(__APPLE__)
#  define LMUL_PTHREADS 1
#  include <pthread.h>
#  include <unistd.h>
#else
#  define LMUL_PTHREADS 0
#endif

#define MAX_THREADS 256

static int num_threads = 1;

int lmul_set_num_threads(int n)
{
    if (n < 1)
        return LMUL_ERR_ARG;
    num_threads = n < MAX_THREADS ? n : MAX_THREADS;
    return LMUL_OK;
}

int lmul_get_num_threads(void) { return num_threads; }

static int online_cpus(void)
{
#if LMUL_PTHREADS && defined(_SC_NPROCESSORS_ONLN)
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
#else
    return 1;
#endif
}

__attribute__((constructor)) static void lmul_threads_init(void)
{
    const char *env = getenv("LMUL_SIMD_NUM_THREADS");
    char *end = NULL;
    const long n = env ? strtol(env, &end, 10) : 0;
    if (env != NULL && end != env && *end == '\0' && n > 0)
        lmul_set_num_threads(n < MAX_THREADS ? (int)n : MAX_THREADS);
    else
        lmul_set_num_threads(online_cpus());
}

#if LMUL_PTHREADS
typedef struct task {
    lmul_task_ft fn;
    void *arg;
    int t;
} task;

static void *run_task(void *p)
{
    const task *job = p;
    job->fn(job->arg, job->t);
    return NULL;
}

void lmul_parallel_run(int nt, lmul_task_ft fn, void *arg)
{
    pthread_t ids[MAX_THREADS];
    task jobs[MAX_THREADS];
    int started[MAX_THREADS];
    for (int t = 1; t < nt; t++) {
        jobs[t] = (task){fn, arg, t};
        started[t] = pthread_create(&ids[t], NULL, run_task, &jobs[t]) == 0;
    }
    fn(arg, 0);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(ids[t], NULL);
        else
            fn(arg, t);
    }
}
#else
void lmul_parallel_run(int nt, lmul_task_ft fn, void *arg)
{
    for (int t = 0; t < nt; t++)
        fn(arg, t);
}
#endif
