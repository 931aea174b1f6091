/*
 * check_systemd.c - the hub as systemd runs it: Type=notify (the real `loophub run` with
 * NOTIFY_SOCKET pointing at a datagram socket of the test's own, as systemd's is: READY=1 with
 * its MAINPID once its HTTP endpoint answers, STOPPING=1 when it stops), journald's log lines
 * when JOURNAL_STREAM names its stderr, and the unit file (dist/loophub.service.in as the
 * build configured it) as
 * `systemd-analyze verify` and `security --offline` read it.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

/* One datagram within timeout_ms into buf (NUL-terminated), or "" on timeout. */
static void
recv_dgram(int fd, char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    buf[0] = '\0';
    if (poll(&p, 1, lh_test_ms(timeout_ms)) == 1) {
        ssize_t n = recv(fd, buf, len - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
    }
}

START_TEST(notify_ready_and_stopping)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/notify.sock", h.dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setenv("NOTIFY_SOCKET", a.sun_path, 1);
    lh_it_hub_run(&h, NULL);
    char msg[512];
    recv_dgram(fd, msg, sizeof(msg), 10000);
    ck_assert_msg(strstr(msg, "READY=1"), "no READY=1: '%s'", msg);
    char pid[40];
    snprintf(pid, sizeof(pid), "MAINPID=%ld", (long)h.pid);
    ck_assert_msg(strstr(msg, pid), "'%s' lacks %s", msg, pid);
    ck_assert_msg(strstr(msg, "STATUS=running"), "%s", msg);
    /* ready means listening */
    lh_it_resp_t r = lh_it_curl(&h, "GET", "/healthz", NULL, NULL, 0, 0);
    ck_assert_int_eq(r.code, 200);
    free(r.body);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    recv_dgram(fd, msg, sizeof(msg), 10000);
    ck_assert_msg(strstr(msg, "STOPPING=1"), "no STOPPING=1: '%s'", msg);
    unsetenv("NOTIFY_SOCKET");
    close(fd);
    lh_it_hub_fini(&h);
}
END_TEST

/* With JOURNAL_STREAM naming its stderr (the hub's log file here, as journald's stream would
 * be), the default --log-format auto writes priority prefixes and no times. */
START_TEST(journal_lines_under_systemd)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    /* the log file the hub's stderr goes to: create it first to know its device and inode */
    ck_assert_int_eq(lh_test_write_file(h.log, "", 0), 0);
    struct stat sb;
    ck_assert_int_eq(stat(h.log, &sb), 0);
    char js[64];
    snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    /* journal lines have no "hub: running" of the text form: wait for the prefixed one */
    const char *argv[] = {lh_test_loophub_bin(),
                          "run",
                          "--db",
                          h.db,
                          "--zmq-pull",
                          h.pull,
                          "--zmq-router",
                          h.router,
                          "--zmq-pub",
                          h.pub,
                          "--http",
                          "off",
                          NULL};
    pid_t pid = lh_test_spawn(argv, h.log);
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(15000) * LH_NS_PER_MS;
    while (lh_test_file_count(h.log, "<6>hub: running") == 0 && lh_mono_ns() < end)
        usleep(20000);
    unsetenv("JOURNAL_STREAM");
    h.pid = pid;
    char *log = lh_test_must_read(h.log);
    ck_assert_msg(strstr(log, "<6>hub: running"), "%s", log);
    ck_assert_msg(strstr(log, "Z info ") == NULL, "a timestamped line under journald:\n%s", log);
    free(log);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(unit_file_verifies)
{
    const char *probe[] = {"systemd-analyze", "--version", NULL};
    char *out = NULL, *err = NULL;
    if (lh_test_run(probe, NULL, &out, &err, 10000) != 0) {
        free(out);
        free(err);
        fprintf(stderr, "unit_file_verifies: skipped, no systemd-analyze on this machine\n");
        return;
    }
    free(out);
    free(err);
    /* the unit as installed, with ExecStart at the binary under test */
    char *unit = lh_test_must_read(LH_BUILD_DIR "/loophub.service"); /* the build's, configured */
    char dir[] = "/tmp/lh-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[300], text[8192];
    snprintf(path, sizeof(path), "%s/loophub.service", dir);
    const char *at = strstr(unit, "ExecStart=");
    ck_assert_ptr_nonnull(at);
    const char *args = strstr(at, " run --config ");
    ck_assert_ptr_nonnull(args);
    int n = snprintf(text, sizeof(text), "%.*sExecStart=%s%s", (int)(at - unit), unit,
                     lh_test_loophub_bin(), args);
    ck_assert_int_lt(n, (int)sizeof(text));
    ck_assert_int_eq(lh_test_write_file(path, text, (size_t)n), 0);
    ck_assert_msg(strstr(unit, "Type=notify"), "the unit is not Type=notify");
    free(unit);
    const char *verify[] = {"systemd-analyze", "verify", path, NULL};
    int rc = lh_test_run(verify, NULL, &out, &err, 30000);
    ck_assert_msg(rc == 0, "systemd-analyze verify: %d %s %s", rc, out ? out : "", err ? err : "");
    free(out);
    free(err);
    const char *sec[] = {"systemd-analyze", "security", "--offline=true", path, NULL};
    rc = lh_test_run(sec, NULL, &out, &err, 30000);
    const char *lvl = out ? strstr(out, "Overall exposure level for loophub.service: ") : NULL;
    ck_assert_msg(lvl, "systemd-analyze security: %d %s", rc, err ? err : "");
    double exposure = atof(lvl + strlen("Overall exposure level for loophub.service: "));
    ck_assert_msg(exposure > 0 && exposure <= 2.0, "exposure %.1f (want at most 2.0)", exposure);
    free(out);
    free(err);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *
systemd_suite(void)
{
    Suite *s = suite_create("systemd");
    const lh_test_case_t cases[] = {
        {"notify_ready_and_stopping", notify_ready_and_stopping, 60, 0},
        {"journal_lines_under_systemd", journal_lines_under_systemd, 60, 0},
        {"unit_file_verifies", unit_file_verifies, 60, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(systemd_suite());
}
