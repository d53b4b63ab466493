/* SIGINT and SIGTERM stop the engine: they are blocked and read from a
 * signalfd the engine watches, so the shutdown runs as an ordinary event.
 * SIGPIPE is ignored (a client that goes away is a connection error). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "scstd/scstd.h"

struct scstd_signals {
    struct scstd *d;
    int fd;
    struct mte_fd *watch;
    sigset_t mask, old;
};

static void on_signal(void *arg, uint32_t events)
{
    struct scstd_signals *s = arg;
    struct signalfd_siginfo si;
    while (read(s->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
            if (s->d->opt.verbosity)
                fprintf(stderr, "scstd: %s, shutting down\n", strsignal((int)si.ssi_signo));
            s->d->stopping = true;
            mte_stop(s->d->engine);
        }
    }
}

struct scstd_signals *scstd_signals_start(struct scstd *d)
{
    struct scstd_signals *s = calloc(1, sizeof(*s));
    s->d = d;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&s->mask);
    sigaddset(&s->mask, SIGINT);
    sigaddset(&s->mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &s->mask, &s->old);
    s->fd = signalfd(-1, &s->mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->fd < 0) {
        fprintf(stderr, "scstd: signalfd: %s\n", strerror(errno));
        sigprocmask(SIG_SETMASK, &s->old, NULL);
        free(s);
        return NULL;
    }
    s->watch = mte_fd_watch(d->engine, s, s->fd, MTE_FD_READ, on_signal, s);
    return s;
}

void scstd_signals_stop(struct scstd_signals *s)
{
    if (!s)
        return;
    /* The signals stay blocked: a second SIGTERM during the shutdown must
     * not kill the process half way through freeing. */
    mte_fd_unwatch(s->d->engine, s->watch);
    close(s->fd);
    free(s);
}
