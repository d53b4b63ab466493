/* scstctl: the admin client of scstd.  It sends one request line over the
 * unix socket (see scstd/scstd_admin.c for the protocol), prints the data
 * lines on stdout and the failure message on stderr, and exits with the
 * status code: 0 ok, 1 the command failed, 2 usage. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_ADMIN "/run/scstd.sock"
#define REQUEST_MAX 8192

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *const help_text =
    "usage: scstctl [--admin PATH] [--timeout SECONDS] COMMAND [ARGS...]\n"
    "Talks to scstd over its admin socket (default $SCSTD_ADMIN or " DEFAULT_ADMIN ").\n"
    "\n"
    "SCSI target:\n"
    "  list [all|targets|luns|sessions|bdevs] [TARGET]\n"
    "  targets | luns [TARGET] | sessions [TARGET] | bdevs\n"
    "  stats [TARGET]                       per-LUN command and byte counts\n"
    "  lun add TARGET LUN DEVICE [--group G] [--read-only]\n"
    "  lun remove TARGET LUN [--group G]\n"
    "  device add NAME --size SIZE [--file PATH] [--block-size 512|4096] [--read-only]\n"
    "             [--removable] [--no-thin] [--write-through] [--t10-id ID] [--serial S]\n"
    "  device add NAME --bdev BDEV [...]    an LU over an existing bdev (drbd1)\n"
    "  device remove NAME\n"
    "  target add|remove|enable|disable NAME\n"
    "  target allow NAME INITIATOR\n"
    "  group add TARGET GROUP | group initiator TARGET GROUP INITIATOR\n"
    "  param TARGET|- KEY VALUE             an iscsi-scstd.conf key (IncomingUser \"u s\")\n"
    "\n"
    "Replication (drbdadm/drbdsetup verbs; RES[/VOL] or all):\n"
    "  up | down | attach | detach RES\n"
    "  primary [--force] RES | secondary RES\n"
    "  connect [--discard-my-data] RES [PEER] | disconnect RES [PEER]\n"
    "  invalidate | invalidate-remote | verify | pause-sync | resume-sync RES [PEER]\n"
    "  create-md [--force] RES | new-current-uuid RES | outdate RES\n"
    "  status [RES] [--verbose] [--statistics]\n"
    "  events2 [--now]                      stream state changes until interrupted\n"
    "\n"
    "Daemon: ping | help | shutdown\n"
    "Exit: 0 ok, 1 the command failed (message on stderr), 2 usage.\n";

/* Append one word, quoted when it has blanks, quotes or backslashes. */
static bool append_word(char *req, size_t *len, const char *w)
{
    bool quote = !*w || strpbrk(w, " \t\"\\") != NULL;
    size_t need = strlen(w) * 2 + 4;
    if (*len + need >= REQUEST_MAX)
        return false;
    if (*len)
        req[(*len)++] = ' ';
    if (quote)
        req[(*len)++] = '"';
    for (const char *p = w; *p; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return false;
        if (quote && (*p == '"' || *p == '\\'))
            req[(*len)++] = '\\';
        req[(*len)++] = *p;
    }
    if (quote)
        req[(*len)++] = '"';
    req[*len] = '\0';
    return true;
}

static int connect_admin(const char *path)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(un.sun_path)) {
        fprintf(stderr, "scstctl: admin socket path too long: %s\n", path);
        return -1;
    }
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
        fprintf(stderr, "scstctl: cannot reach scstd at %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* One response line; returns the exit code once the status line came, -1
 * to keep reading. */
static int handle_line(char *line)
{
    if (line[0] == 'D' && (line[1] == ' ' || !line[1])) {
        fputs(line[1] ? line + 2 : "", stdout);
        fputc('\n', stdout);
        return -1;
    }
    if (line[0] == 'S' && line[1] == ' ') {
        char *end = NULL;
        long code = strtol(line + 2, &end, 10);
        const char *msg = end && *end == ' ' ? end + 1 : "";
        if (code != EXIT_OK)
            fprintf(stderr, "scstctl: %s\n", msg);
        return code == EXIT_OK ? EXIT_OK : code == EXIT_USAGE ? EXIT_USAGE : EXIT_FAIL;
    }
    fprintf(stderr, "scstctl: unexpected line from scstd: %.80s\n", line);
    return EXIT_FAIL;
}

static int read_response(int fd, int timeout_ms)
{
    static char buf[1 << 16];
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            fprintf(stderr, "scstctl: no answer from scstd within %d s\n", timeout_ms / 1000);
            return EXIT_FAIL;
        }
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "scstctl: scstd closed the connection before answering\n");
            return EXIT_FAIL;
        }
        len += (size_t)r;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
            *nl = '\0';
            int code = handle_line(start);
            if (code >= 0) {
                fflush(stdout);
                return code;
            }
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof(buf) - 1) { /* a line longer than the buffer: print it in parts */
            buf[len] = '\0';
            fputs(buf[0] == 'D' ? buf + 2 : buf, stdout);
            len = 0;
        }
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    const char *env = getenv("SCSTD_ADMIN");
    const char *admin = env && *env ? env : DEFAULT_ADMIN;
    int timeout_ms = -1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--admin") == 0 && i + 1 < argc) {
            admin = argv[++i];
        } else if (strncmp(argv[i], "--admin=", 8) == 0) {
            admin = argv[i] + 8;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end = NULL;
            long s = strtol(argv[++i], &end, 10);
            if (!end || *end || s <= 0 || s > 86400) {
                fprintf(stderr, "scstctl: --timeout wants seconds\n");
                return EXIT_USAGE;
            }
            timeout_ms = (int)s * 1000;
        } else {
            fprintf(stderr, "scstctl: unknown option %s (see --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i == argc) {
        fputs(help_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0 && i + 1 == argc) {
        fputs(help_text, stdout);
        return EXIT_OK;
    }
    char req[REQUEST_MAX + 2];
    size_t len = 0;
    req[0] = '\0';
    for (; i < argc; i++) {
        if (!append_word(req, &len, argv[i])) {
            fprintf(stderr, "scstctl: arguments too long or with control characters\n");
            return EXIT_USAGE;
        }
    }
    req[len++] = '\n';
    int fd = connect_admin(admin);
    if (fd < 0)
        return EXIT_FAIL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = send_all(fd, req, len) ? read_response(fd, timeout_ms) : EXIT_FAIL;
    close(fd);
    return rc;
}
