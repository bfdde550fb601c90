/*
 * syscount.so: an LD_PRELOAD counter of the system-call wrappers a fan-out
 * gather makes, for benches/suite/fanout_n.rs. It counts, from the moment
 * sigwait() returns (the suite's go signal: see fanout_wait.h) to exit:
 *
 *   recv     recv, recvfrom, recvmsg (and how many failed with EAGAIN)
 *   wait     poll, ppoll, epoll_wait, epoll_pwait
 *   read     read
 *
 * and writes "recv=R eagain=E wait=W read=D" to the file named by
 * PGDBLINK_BENCH_SYSCOUNT at exit. It adds a few nanoseconds to each call,
 * where strace -c stops the process twice per call: a gather whose work per
 * wake-up depends on how many sockets became ready in the meantime counts
 * differently under strace than at full speed. Only calls through the
 * dynamic libc are seen (libpq's recv and poll, pgdblink's poll: all of
 * them here; libpq is linked statically, libc is not).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int counting;
static atomic_long n_recv, n_eagain, n_wait, n_read;

#define REAL(name)                                                                                 \
    static __typeof__(name) *real_##name;                                                          \
    if (!real_##name)                                                                              \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);

static ssize_t counted_recv(ssize_t r) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&n_recv, 1, memory_order_relaxed);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            atomic_fetch_add_explicit(&n_eagain, 1, memory_order_relaxed);
    }
    return r;
}

static void count(atomic_long *n) {
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    REAL(recv);
    return counted_recv(real_recv(fd, buf, len, flags));
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                 socklen_t *addrlen) {
    REAL(recvfrom);
    return counted_recv(real_recvfrom(fd, buf, len, flags, addr, addrlen));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    REAL(recvmsg);
    return counted_recv(real_recvmsg(fd, msg, flags));
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    REAL(poll);
    count(&n_wait);
    return real_poll(fds, nfds, timeout);
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *t, const sigset_t *mask) {
    REAL(ppoll);
    count(&n_wait);
    return real_ppoll(fds, nfds, t, mask);
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout) {
    REAL(epoll_wait);
    count(&n_wait);
    return real_epoll_wait(epfd, events, max, timeout);
}

int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout,
                const sigset_t *mask) {
    REAL(epoll_pwait);
    count(&n_wait);
    return real_epoll_pwait(epfd, events, max, timeout, mask);
}

ssize_t read(int fd, void *buf, size_t len) {
    REAL(read);
    count(&n_read);
    return real_read(fd, buf, len);
}

int sigwait(const sigset_t *set, int *sig) {
    REAL(sigwait);
    int r = real_sigwait(set, sig);
    atomic_store(&counting, 1);
    return r;
}

__attribute__((destructor)) static void syscount_report(void) {
    const char *path = getenv("PGDBLINK_BENCH_SYSCOUNT");
    if (!path || !atomic_load(&counting))
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "recv=%ld eagain=%ld wait=%ld read=%ld\n", atomic_load(&n_recv),
            atomic_load(&n_eagain), atomic_load(&n_wait), atomic_load(&n_read));
    fclose(f);
}
