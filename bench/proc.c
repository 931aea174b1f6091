/*
 * proc.c - the harness's process plumbing: child processes (the hub under test, the Kafka mock,
 * SEC), their peak memory, free ports, a minimal HTTP GET for /healthz and /metrics, and the
 * machine description every absolute figure is reported with.
 *
 * Children are started with fork/exec and stopped by pid only (SIGTERM, then SIGKILL after a
 * timeout): the harness never signals a process it did not start.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"
#include "freeport.h" /* tests/: ports the hubs of the bench and the tests pick alike */

int64_t
bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double
bench_secs_since(int64_t start_ns)
{
    return (double)(bench_mono_ns() - start_ns) / 1e9;
}

void
bench_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double
bench_percentile(double *v, size_t n, double pct)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    /* nearest rank */
    size_t rank = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* ---- processes ------------------------------------------------------------------------------ */

static void
child_exec(const char *const argv[], int in_fd, int out_fd, int err_fd)
{
    if (in_fd >= 0)
        dup2(in_fd, STDIN_FILENO);
    if (out_fd >= 0)
        dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0)
        dup2(err_fd, STDERR_FILENO);
    /* a fresh process group: a terminal's ^C reaches the harness, which stops its children */
    setpgid(0, 0);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "lh-bench: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

pid_t
bench_spawn(const char *const argv[], const char *log_path)
{
    int log = -1, null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_path)
        log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, null, log, log);
    if (log >= 0)
        close(log);
    if (null >= 0)
        close(null);
    return pid;
}

pid_t
bench_spawn_piped(const char *const argv[], const char *err_log, int *out_fd, int *in_fd)
{
    int op[2], ip[2] = {-1, -1};
    if (pipe2(op, O_CLOEXEC) != 0)
        return -1;
    if (in_fd && pipe2(ip, O_CLOEXEC) != 0) {
        close(op[0]);
        close(op[1]);
        return -1;
    }
    int log = err_log ? open(err_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, in_fd ? ip[0] : null, op[1], log);
    close(op[1]);
    *out_fd = op[0];
    if (in_fd) {
        close(ip[0]);
        *in_fd = ip[1];
    }
    if (log >= 0)
        close(log);
    if (null >= 0)
        close(null);
    return pid;
}

int
bench_stop(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    int status;
    if (sig)
        kill(pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        bench_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    if (waitpid(pid, &status, 0) == pid)
        return status;
    return -1;
}

/* The fields of /proc/<pid>/stat after the command's name (which may hold spaces and ')'), into
 * buf: NULL when the process is gone. */
static const char *
proc_stat(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p + 2 : NULL;
}

int
bench_pid_alive(pid_t pid)
{
    char buf[1024];
    const char *p = proc_stat(pid, buf, sizeof(buf)); /* the state first */
    return p && *p != 'Z' && *p != 'X';
}

int
bench_zsend(void *sock, const void *p, size_t n, int flags, pid_t peer)
{
    for (;;) {
        int rc = zmq_send(sock, p, n, flags | ZMQ_DONTWAIT);
        if (rc >= 0 || zmq_errno() != EAGAIN)
            return rc;
        if (flags & ZMQ_DONTWAIT)
            return -1;
        if (peer > 0 && !bench_pid_alive(peer)) {
            fprintf(stderr, "lh-bench: the hub (pid %d) is gone; giving up the send\n", (int)peer);
            return -1;
        }
        zmq_pollitem_t pi = {sock, 0, ZMQ_POLLOUT, 0};
        zmq_poll(&pi, 1, 500); /* room, or time to look at the peer again */
    }
}

double
bench_vmhwm_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    double mb = -1;
    while (fgets(line, sizeof(line), f)) {
        long kb;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            mb = (double)kb / 1024.0;
            break;
        }
    }
    fclose(f);
    return mb;
}

double
bench_proc_cpu_s(pid_t pid)
{
    char buf[1024];
    const char *p = proc_stat(pid, buf, sizeof(buf));
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int
bench_proc_io(pid_t pid, double *rchar, double *wchar)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int got = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "rchar: %llu", &v) == 1) {
            *rchar = (double)v;
            got |= 1;
        } else if (sscanf(line, "wchar: %llu", &v) == 1) {
            *wchar = (double)v;
            got |= 2;
        }
    }
    fclose(f);
    return got == 3 ? 0 : -1;
}

double
bench_children_maxrss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0;
}

int
bench_free_port(void)
{
    return lh_freeport();
}

void
bench_machine(char *out, size_t len)
{
    char model[256] = "unknown CPU", line[512];
    long mem_kb = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon) {
                snprintf(model, sizeof(model), "%s", colon + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        }
        fclose(f);
    }
    f = fopen("/proc/meminfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "MemTotal: %ld kB", &mem_kb) == 1)
                break;
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    snprintf(out, len, "%ld cores, %s, %.0f GiB RAM, Linux %s", sysconf(_SC_NPROCESSORS_ONLN),
             model, (double)mem_kb / 1048576.0, u.release);
}

double
bench_loadavg(void)
{
    double l[3];
    return getloadavg(l, 3) >= 1 ? l[0] : -1;
}

int
bench_mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

void
bench_rmrf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[1024];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            bench_rmrf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* ---- HTTP --------------------------------------------------------------------------------- */

int
bench_http_get(int port, const char *path, char **body)
{
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    lh_buf_t b = LH_BUF_INIT;
    char chunk[16384];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof(chunk))) > 0)
        lh_buf_append(&b, chunk, (size_t)got);
    close(fd);
    if (lh_buf_append(&b, "", 1) != 0 || b.len < 12 || strncmp((char *)b.data, "HTTP/1.", 7) != 0 ||
        strncmp((char *)b.data + 9, "200", 3) != 0) {
        lh_buf_free(&b);
        return -1;
    }
    char *start = strstr((char *)b.data, "\r\n\r\n");
    *body = strdup(start ? start + 4 : "");
    lh_buf_free(&b);
    return *body ? 0 : -1;
}

/* ---- the hub ------------------------------------------------------------------------------ */

static void
print_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > 2000 ? size - 2000 : 0, SEEK_SET);
    char buf[2100];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "--- %s (tail)\n%s\n---\n", path, buf);
}

static void
attach_perf(bench_hub_t *h, const char *name)
{
    const char *dir = getenv("BENCH_PERF");
    if (!dir || !*dir)
        return;
    char pid[32], out[700];
    snprintf(pid, sizeof(pid), "%d", (int)h->pid);
    snprintf(out, sizeof(out), "%s/%s.perf.data", dir, name);
    const char *argv[] = {"/usr/bin/perf", "record", "-q", "-F", "499", "--call-graph",
                          "dwarf,16384",   "-p",     pid,  "-o", out,   NULL};
    h->perf = bench_spawn(argv, NULL);
    bench_sleep_ms(300);
}

int
bench_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    static char buf[1 << 20];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            rc = errno == EINTR ? 0 : -1;
            continue;
        }
        for (ssize_t done = 0; rc == 0 && done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno != EINTR)
                rc = -1;
            else if (w > 0)
                done += w;
        }
    }
    if (close(out) != 0)
        rc = -1;
    close(in);
    return rc;
}

/* Copies a store and, when there is one, its WAL (never its -shm: SQLite rebuilds it). */
static int
copy_store(const char *src, const char *dst)
{
    char s2[1100], d2[1100];
    struct stat sb;
    if (bench_copy_file(src, dst) != 0)
        return -1;
    snprintf(s2, sizeof(s2), "%s-wal", src);
    snprintf(d2, sizeof(d2), "%s-wal", dst);
    if (stat(s2, &sb) == 0 && bench_copy_file(s2, d2) != 0)
        return -1;
    return 0;
}

int64_t
bench_store_bytes(const char *db)
{
    char wal[1100];
    struct stat sb;
    int64_t total = 0;
    if (stat(db, &sb) != 0)
        return -1;
    total += (int64_t)sb.st_size;
    snprintf(wal, sizeof(wal), "%s-wal", db);
    if (stat(wal, &sb) == 0)
        total += (int64_t)sb.st_size;
    return total;
}

int
bench_hub_start(const bench_cfg_t *cfg, const char *name, const char *const *extra, bench_hub_t *h)
{
    return bench_hub_start_on(cfg, name, NULL, extra, h);
}

int
bench_hub_start_on(const bench_cfg_t *cfg, const char *name, const char *seed_db,
                   const char *const *extra, bench_hub_t *h)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->dir, sizeof(h->dir), "%s/%s", cfg->workdir, name);
    bench_rmrf(h->dir);
    if (bench_mkdir_p(h->dir) != 0)
        return -1;
    snprintf(h->db, sizeof(h->db), "%s/hub.db", h->dir);
    if (seed_db && copy_store(seed_db, h->db) != 0) {
        fprintf(stderr, "lh-bench: cannot copy %s to %s: %s\n", seed_db, h->db, strerror(errno));
        return -1;
    }
    snprintf(h->log, sizeof(h->log), "%s/hub.log", h->dir);
    snprintf(h->pull, sizeof(h->pull), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(h->router, sizeof(h->router), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(h->pub, sizeof(h->pub), "tcp://127.0.0.1:%d", bench_free_port());
    h->http_port = bench_free_port();
    char http[64];
    snprintf(http, sizeof(http), "127.0.0.1:%d", h->http_port);
    const char *argv[64] = {cfg->loophub, "run",          "--db",        h->db,       "--zmq-pull",
                            h->pull,      "--zmq-router", h->router,     "--zmq-pub", h->pub,
                            "--http",     http,           "--log-level", "warn"};
    int argc = 14;
    for (int i = 0; extra && extra[i] && argc < 62; i++)
        argv[argc++] = extra[i];
    /* BENCH_HUB_ARGS: extra `loophub run` options for experiments, split on spaces */
    char args[512] = "";
    const char *env = getenv("BENCH_HUB_ARGS");
    if (env)
        snprintf(args, sizeof(args), "%s", env);
    for (char *save = NULL, *t = strtok_r(args, " ", &save); t && argc < 62;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    int64_t start = bench_mono_ns();
    h->pid = bench_spawn(argv, h->log);
    if (h->pid < 0)
        return -1;
    /* a hub on a large store takes longer to open it than the 5 s goal: 60 s before giving up */
    while (bench_secs_since(start) < (seed_db ? 60 : 15)) {
        char *body = NULL;
        if (bench_http_get(h->http_port, "/healthz", &body) == 0) {
            h->ready_s = bench_secs_since(start);
            h->ready_cpu_s = bench_proc_cpu_s(h->pid);
            if (bench_proc_io(h->pid, &h->ready_rchar, &h->ready_wchar) != 0)
                h->ready_rchar = h->ready_wchar = -1;
            free(body);
            attach_perf(h, name);
            return 0;
        }
        int status;
        if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
            fprintf(stderr, "lh-bench: the hub exited at start\n");
            print_log_tail(h->log);
            h->pid = 0;
            return -1;
        }
        bench_sleep_ms(20);
    }
    fprintf(stderr, "lh-bench: the hub did not answer /healthz\n");
    print_log_tail(h->log);
    bench_stop(h->pid, SIGKILL, 1000);
    h->pid = 0;
    return -1;
}

int
bench_metric_in(const char *body, const char *name, double *v)
{
    size_t nl = strlen(name);
    int rc = -1;
    *v = 0;
    for (const char *p = body; p && *p;) {
        const char *q = p + nl;
        if (strncmp(p, name, nl) == 0 && *q == '{' && strchr(q, '}'))
            q = strchr(q, '}') + 1; /* one series of the family: summed */
        if (strncmp(p, name, nl) == 0 && *q == ' ') {
            *v += strtod(q + 1, NULL);
            rc = 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return rc;
}

int
bench_hub_metric(const bench_hub_t *h, const char *name, double *v)
{
    char *body = NULL;
    if (bench_http_get(h->http_port, "/metrics", &body) != 0)
        return -1;
    int rc = bench_metric_in(body, name, v);
    free(body);
    return rc;
}

int
bench_hub_wait_stored(const bench_hub_t *h, double target, int poll_ms, int timeout_ms,
                      int64_t *done_ns, int64_t *first_ns, double *first_count)
{
    int64_t start = bench_mono_ns();
    double last = -1;
    int64_t last_change = start;
    while ((bench_mono_ns() - start) / 1000000 < timeout_ms) {
        double v = 0;
        int64_t now = bench_mono_ns();
        if (bench_hub_metric(h, "loophub_events_total", &v) == 0) {
            if (first_ns && !*first_ns && v > 0) {
                *first_ns = now;
                if (first_count)
                    *first_count = v;
            }
            if (v >= target) {
                *done_ns = now;
                return 0;
            }
            if (v != last) {
                last = v;
                last_change = now;
            } else if ((now - last_change) / 1000000 > 30000) {
                fprintf(stderr, "lh-bench: the hub stopped progressing at %.0f of %.0f events\n", v,
                        target);
                return -1;
            }
        }
        bench_sleep_ms(poll_ms);
    }
    fprintf(stderr, "lh-bench: timeout waiting for %.0f stored events (last %.0f)\n", target, last);
    return -1;
}

int
bench_hub_stop(bench_hub_t *h)
{
    if (h->pid <= 0)
        return -1;
    if (h->perf > 0)
        bench_stop(h->perf, SIGINT, 30000);
    h->perf = 0;
    int status = bench_stop(h->pid, SIGTERM, 60000);
    h->pid = 0;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "lh-bench: the hub did not exit cleanly (status %d)\n", status);
        print_log_tail(h->log);
        return -1;
    }
    return 0;
}
