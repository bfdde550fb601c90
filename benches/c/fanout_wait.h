/*
 * What the fan-out-at-scale programs (rawpq fanout_n, pgdblink_fanout) share
 * with benches/suite/fanout_n.rs:
 *
 * - fanout_setup(nconn): raises RLIMIT_NOFILE (the soft limit to the hard
 *   one, and the hard one too when it is below what nconn connections need
 *   and we may), and blocks SIGUSR1 so that fanout_ready_wait can take it.
 * - fanout_ready_wait(): once connected, prints "READY pid=P" and waits for
 *   SIGUSR1. The suite sends it at once, or after attaching `strace -c` to
 *   P, so that the syscall counts hold the gather and not the connecting.
 * - fanout_cpu_ns(): the process's CPU time, user + system (getrusage
 *   RUSAGE_SELF), in nanoseconds.
 */
#ifndef PGDBLINK_BENCH_FANOUT_WAIT_H
#define PGDBLINK_BENCH_FANOUT_WAIT_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static void fanout_setup(int nconn) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t need = (rlim_t)nconn + 64;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
            struct rlimit up = {need, need};
            if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                rl = up; /* privileged: the hard limit went up too */
        }
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            perror("setrlimit(RLIMIT_NOFILE)");
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static void fanout_ready_wait(void) {
    printf("READY pid=%ld\n", (long)getpid());
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
        fprintf(stderr, "sigwait failed\n");
        exit(1);
    }
}

static int64_t fanout_cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

#endif
