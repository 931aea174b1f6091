/*
 * testutil.c - helpers for the Check suites (see testutil.h). Everything here aborts the current
 * test with ck_abort_msg on a setup failure, so a broken environment fails loudly.
 */
#include "testutil.h"

#include "freeport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *
lh_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/loophub-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(d);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
lh_test_rmrf(const char *path)
{
    if (path)
        nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int
lh_test_free_port(void)
{
    int port = lh_freeport();
    ck_assert_msg(port > 0, "no free TCP port on 127.0.0.1");
    return port;
}

char *
lh_test_endpoint(void)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "tcp://127.0.0.1:%d", lh_test_free_port());
    return strdup(buf);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
lh_test_ms(int ms)
{
    static int factor;
    if (!factor) {
        const char *s = getenv("LH_TEST_SLOW");
        factor = s && atoi(s) > 1 ? atoi(s) : 1;
    }
    return ms > INT32_MAX / factor ? INT32_MAX : ms * factor;
}

int
lh_test_wait_for(int (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t end = mono_ms() + lh_test_ms(timeout_ms);
    for (;;) {
        if (cond(arg))
            return 1;
        if (mono_ms() >= end)
            return 0;
        poll(NULL, 0, 5);
    }
}

static pid_t
spawn(const char *const argv[], int in_fd, int out_fd, int err_fd)
{
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* a failed assertion ends the test process at once: take the child with it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, 0);
        dup2(in_fd, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

pid_t
lh_test_spawn(const char *const argv[], const char *log_path)
{
    int in = open("/dev/null", O_RDONLY);
    int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    ck_assert_msg(in >= 0 && out >= 0, "open: %s", strerror(errno));
    pid_t pid = spawn(argv, in, out, out);
    close(in);
    close(out);
    return pid;
}

static int
status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

int
lh_test_stop(pid_t pid, int sig, int timeout_ms)
{
    int st;
    if (sig)
        kill(pid, sig);
    int64_t end = mono_ms() + lh_test_ms(timeout_ms);
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return status_of(st);
        if (r < 0)
            return -1;
        if (mono_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        poll(NULL, 0, 5);
    }
}

static char *
slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert(buf != NULL);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert(buf != NULL);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    return buf;
}

int
lh_test_run(const char *const argv[], const char *in, char **out, char **err, int timeout_ms)
{
    timeout_ms = lh_test_ms(timeout_ms);
    char *dir = lh_test_tmpdir();
    char pin[600], pout[600], perr[600];
    snprintf(pin, sizeof(pin), "%s/in", dir);
    snprintf(pout, sizeof(pout), "%s/out", dir);
    snprintf(perr, sizeof(perr), "%s/err", dir);
    ck_assert_int_eq(lh_test_write_file(pin, in ? in : "", in ? strlen(in) : 0), 0);
    int fi = open(pin, O_RDONLY);
    int fo = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(perr, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert(fi >= 0 && fo >= 0 && fe >= 0);
    pid_t pid = spawn(argv, fi, fo, fe);
    close(fi);
    close(fo);
    close(fe);
    int rc = lh_test_stop(pid, 0, timeout_ms);
    if (out)
        *out = lh_test_read_file(pout, NULL);
    if (err)
        *err = lh_test_read_file(perr, NULL);
    lh_test_rmrf(dir);
    free(dir);
    return rc;
}

char *
lh_test_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    char *s = slurp_fd(fd);
    close(fd);
    if (len)
        *len = strlen(s);
    return s;
}

int
lh_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

int
lh_test_file_count(const char *path, const char *needle)
{
    char *s = lh_test_read_file(path, NULL);
    if (!s)
        return 0;
    int n = 0;
    size_t nl = strlen(needle);
    for (char *p = s; nl && (p = strstr(p, needle)); p += nl)
        n++;
    free(s);
    return n;
}

char *
lh_test_must_read(const char *path)
{
    char *t = lh_test_read_file(path, NULL);
    ck_assert_msg(t != NULL, "cannot read %s", path);
    return t;
}

const char *
lh_test_conformance_dir(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/conformance", LH_TEST_DATA);
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0 && S_ISDIR(st.st_mode),
                  "conformance inputs not found at %s (tests/data/conformance in the repository)",
                  path);
    return path;
}

void
lh_test_load_store_dump(const char *db, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/store/%s", LH_TEST_DATA, name);
    char *sql = lh_test_must_read(path);
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "loading %s into %s: %s", path, db, err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(h);
    free(sql);
}

/* --- the store fixture ---------------------------------------------------------------------- */

lh_test_store_fx_t lh_test_fx;

void
lh_test_capture_log(lh_log_level_t level, const char *component, const char *msg, void *arg)
{
    (void)level;
    (void)arg;
    size_t n = strlen(lh_test_fx.log);
    snprintf(lh_test_fx.log + n, sizeof(lh_test_fx.log) - n, "%s: %s\n", component, msg);
}

void
lh_test_store_setup(void)
{
    lh_test_fx.dir = lh_test_tmpdir();
    snprintf(lh_test_fx.db, sizeof(lh_test_fx.db), "%s/hub.db", lh_test_fx.dir);
    lh_test_fx.log[0] = '\0';
    lh_log_set_sink(lh_test_capture_log, NULL);
}

void
lh_test_store_teardown(void)
{
    lh_log_set_sink(NULL, NULL);
    lh_test_rmrf(lh_test_fx.dir);
    free(lh_test_fx.dir);
    lh_test_fx.dir = NULL;
}

void
lh_test_add_cases(Suite *s, const lh_test_case_t *cases, size_t n, int default_timeout, SFun setup,
                  SFun teardown)
{
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);
        if (setup || teardown)
            tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, cases[i].timeout > 0 ? cases[i].timeout : default_timeout);
        if (cases[i].loops > 0)
            tcase_add_loop_test(tc, cases[i].fn, 0, cases[i].loops);
        else
            tcase_add_test(tc, cases[i].fn);
        suite_add_tcase(s, tc);
    }
}

int
lh_test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK); /* a crash fails one test, not the suite */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
