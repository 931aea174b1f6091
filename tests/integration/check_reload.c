/*
 * check_reload.c - SIGHUP to a running `loophub run --config FILE`: the settings read again and
 * what can change live applied (the log level, a webhook source's secret rotated in its file),
 * what cannot (the store) named in the log and left as it was, a config that no longer parses
 * changing nothing, and systemd told RELOADING=1 then READY=1.
 */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define PING LH_TEST_DATA "/sources/github/ping.json"

static void
sign_file(const char *key, const char *path, char *out, size_t len)
{
    size_t n;
    char *b = lh_test_read_file(path, &n);
    ck_assert_ptr_nonnull(b);
    unsigned char mac[32];
    unsigned ml = 0;
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)b, n, mac, &ml));
    size_t k = (size_t)snprintf(out, len, "sha256=");
    for (unsigned i = 0; i < ml; i++)
        k += (size_t)snprintf(out + k, len - k, "%02x", mac[i]);
    free(b);
}

/* GitHub's published ping, signed with key: the HTTP status the hub answers. */
static int
ping_signed(const lh_it_hub_t *h, const char *key, const char *delivery)
{
    char sig[120], sg[160], dl[120];
    sign_file(key, PING, sig, sizeof(sig));
    snprintf(sg, sizeof(sg), "X-Hub-Signature-256: %s", sig);
    snprintf(dl, sizeof(dl), "X-GitHub-Delivery: %s", delivery);
    const char *hdrs[] = {"Content-Type: application/json", "X-GitHub-Event: ping", dl, sg, NULL};
    lh_it_resp_t r = lh_it_curl_file(h, "POST", "/v1/sources/github", hdrs, PING);
    free(r.body);
    return r.code;
}

static void
write_config(const char *path, const char *secret_file, const char *level, const char *batch,
             const char *extra)
{
    char text[1500];
    int n =
        snprintf(text, sizeof(text),
                 "[hub]\nlog_level = %s\nbatch_max = %s\n\n[source.github]\nsecret_file = %s\n%s",
                 level, batch, secret_file, extra ? extra : "");
    ck_assert_int_eq(lh_test_write_file(path, text, (size_t)n), 0);
}

/* A deploy of api whose label note is text, deploy id tag. */
static void
post_note(const lh_it_hub_t *h, const char *tag, const char *text)
{
    char t[40], body[600];
    ck_assert_int_gt(lh_time_format(lh_now_ns() - 60 * LH_NS_PER_SEC, t, sizeof(t)), 0);
    snprintf(body, sizeof(body),
             "{\"id\":\"rl-%s\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"api\","
             "\"environment\":\"production\",\"labels\":{\"note\":\"%s\"},"
             "\"deploy\":{\"deploy_id\":\"%s\",\"status\":\"succeeded\",\"version\":\"1\"}}",
             tag, t, text, tag);
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    lh_it_resp_t r = lh_it_curl(h, "POST", "/v1/events", hdrs, body, 0, 0);
    ck_assert_msg(r.code == 202, "%d %s", r.code, r.body ? r.body : "");
    free(r.body);
}

/* Whether GET /v1/timeline?deploy=tag holds needle. */
static int
timeline_has(const lh_it_hub_t *h, const char *tag, const char *needle)
{
    char path[200];
    snprintf(path, sizeof(path), "/v1/timeline?deploy=%s", tag);
    lh_it_resp_t r = lh_it_curl(h, "GET", path, NULL, NULL, 0, 0);
    int has = r.code == 200 && r.body && strstr(r.body, needle);
    free(r.body);
    return has;
}

/* SIGHUP, then the log's n-th "reload:" line (the hub's answer to it). */
static void
hup_and_wait(const lh_it_hub_t *h, int n)
{
    ck_assert_int_eq(kill(h->pid, SIGHUP), 0);
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(10000) * LH_NS_PER_MS;
    while (lh_test_file_count(h->log, "hub: reload: ") < n && lh_mono_ns() < end)
        usleep(20000);
    ck_assert_msg(lh_test_file_count(h->log, "hub: reload: ") >= n, "no reload line %d", n);
}

static void
recv_dgram(int fd, char *buf, size_t len)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    buf[0] = '\0';
    if (poll(&p, 1, lh_test_ms(10000)) == 1) {
        ssize_t k = recv(fd, buf, len - 1, 0);
        buf[k > 0 ? k : 0] = '\0';
    }
}

START_TEST(sighup_reloads_what_can_change)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char secret[700], conf[700];
    snprintf(secret, sizeof(secret), "%s/github.secret", h.dir);
    snprintf(conf, sizeof(conf), "%s/hub.ini", h.dir);
    ck_assert_int_eq(lh_test_write_file(secret, "first-s3cret\n", 13), 0);
    write_config(conf, secret, "info", "4000", NULL);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/notify.sock", h.dir);
    int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(nfd, (struct sockaddr *)&a, sizeof(a)), 0);
    setenv("NOTIFY_SOCKET", a.sun_path, 1);
    const char *extra[] = {"--config", conf, NULL};
    lh_it_hub_run(&h, extra);
    char msg[512];
    recv_dgram(nfd, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "READY=1"), "%s", msg);
    ck_assert_int_eq(ping_signed(&h, "first-s3cret", "d-1"), 202);
    ck_assert_int_eq(lh_test_file_count(h.log, " debug "), 0);

    /* the secret rotated in its file, the log level up, the batch size (that one waits) */
    ck_assert_int_eq(lh_test_write_file(secret, "second-s3cret\n", 14), 0);
    post_note(&h, "before", "sekrit-123");
    write_config(conf, secret, "debug", "100", "\n[redaction]\nvalue = sekrit-[0-9]+\n");
    hup_and_wait(&h, 1);
    char *log = lh_test_must_read(h.log);
    ck_assert_msg(strstr(log, "hub: reload: applied --log-level, --redact-value; webhook secrets "
                              "read again; not changed until a restart: --batch-max (left as "
                              "they were)"),
                  "%s", log);
    /* the new redaction rule scrubs what comes from now on, and not what was stored before */
    post_note(&h, "after", "sekrit-456");
    ck_assert_msg(timeline_has(&h, "after", "[redacted]") &&
                      !timeline_has(&h, "after", "sekrit-456"),
                  "the rule read again did not apply");
    ck_assert(timeline_has(&h, "before", "sekrit-123"));
    free(log);
    recv_dgram(nfd, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "RELOADING=1"), "%s", msg);
    recv_dgram(nfd, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "READY=1"), "%s", msg);
    ck_assert_int_eq(ping_signed(&h, "first-s3cret", "d-2"), 401);
    ck_assert_int_eq(ping_signed(&h, "second-s3cret", "d-3"), 202);

    /* a config that no longer parses: nothing changes */
    write_config(conf, secret, "info", "100", "no_such_setting = 1\n");
    ck_assert_int_eq(lh_test_write_file(secret, "third-s3cret\n", 13), 0);
    hup_and_wait(&h, 2);
    log = lh_test_must_read(h.log);
    ck_assert_msg(strstr(log, "unknown setting 'no_such_setting' in [source.github]; nothing "
                              "changed"),
                  "%s", log);
    free(log);
    ck_assert_int_eq(ping_signed(&h, "second-s3cret", "d-4"), 202);
    ck_assert_int_eq(ping_signed(&h, "third-s3cret", "d-5"), 401);
    /* the file mended, the same as before: no live change, and the batch size is still named,
     * since the hub runs with the one it started with */
    write_config(conf, secret, "debug", "100", "\n[redaction]\nvalue = sekrit-[0-9]+\n");
    hup_and_wait(&h, 3);
    log = lh_test_must_read(h.log);
    ck_assert_msg(strstr(log, "hub: reload: no live setting changed; webhook secrets read again; "
                              "not changed until a restart: --batch-max (left as they were)"),
                  "%s", log);
    free(log);
    ck_assert_int_eq(ping_signed(&h, "third-s3cret", "d-6"), 202); /* the file read again */
    /* and the hub goes on: a clean stop */
    unsetenv("NOTIFY_SOCKET");
    close(nfd);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
reload_suite(void)
{
    Suite *s = suite_create("reload");
    const lh_test_case_t cases[] = {
        {"sighup_reloads_what_can_change", sighup_reloads_what_can_change, 60, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(reload_suite());
}
