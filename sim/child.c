/* Running one seed in a child process: shrink, bisect and swarm use it so a
 * crash or abort in the code under test becomes a failed run (invariant
 * "crash") instead of the end of the harness.  The child sends its struct
 * sim_result back through a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/child.h"
#include "sim/cli.h"

static void quiet_stdio(void)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0)
        return;
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

pid_t child_start(const struct scenario *s, const struct sim_opts *o, int *result_fd)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        if (!o->verbose)
            quiet_stdio();
        struct sim_result r;
        sim_run(s, o, &r);
        write_all(fds[1], &r, sizeof(r));
        close(fds[1]);
        _exit(r.exit_code);
    }
    close(fds[1]);
    *result_fd = fds[0];
    return pid;
}

/* Read the child's result (after it exited with status). */
int child_finish(int result_fd, int status, struct sim_result *r)
{
    size_t got = 0;
    char *p = (char *)r;
    while (got < sizeof(*r)) {
        ssize_t n = read(result_fd, p + got, sizeof(*r) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(result_fd);
    if (got == sizeof(*r))
        return r->exit_code;
    memset(r, 0, sizeof(*r));
    r->exit_code = SIM_EXIT_FAIL;
    snprintf(r->invariant, sizeof(r->invariant), "crash");
    if (WIFSIGNALED(status))
        snprintf(r->detail, sizeof(r->detail), "the run died of signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(r->detail, sizeof(r->detail), "the run exited with %d and no result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return r->exit_code;
}

int sim_run_in_child(const struct scenario *s, const struct sim_opts *o, struct sim_result *r)
{
    int fd;
    pid_t pid = child_start(s, o, &fd);
    if (pid < 0) {
        memset(r, 0, sizeof(*r));
        r->exit_code = SIM_EXIT_USAGE;
        snprintf(r->detail, sizeof(r->detail), "cannot fork: %s", strerror(errno));
        return r->exit_code;
    }
    /* the pipe holds the whole result, so the child never blocks on it */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return child_finish(fd, status, r);
}
