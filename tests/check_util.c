/*
 * check_util.c - the util layer: RFC 3339 times, durations, the event arena, validation rules
 * (every rejection names its field), enum names, and rate-limited logging.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loophub/buf.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "testutil.h"

START_TEST(test_time_parse_and_format)
{
    int64_t ns;
    char buf[64];
    ck_assert_int_eq(lh_time_parse("2026-11-26T10:00:00Z", &ns), 0);
    ck_assert_int_eq(ns, 1795687200LL * LH_NS_PER_SEC);
    ck_assert_int_gt(lh_time_format(ns, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "2026-11-26T10:00:00Z");
    ck_assert_int_eq(lh_time_parse("2026-11-26T12:00:00.5+02:00", &ns), 0);
    lh_time_format(ns, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2026-11-26T10:00:00.5Z");
    ck_assert_int_eq(lh_time_parse("2024-02-29 23:59:59.123456789z", &ns), 0);
    lh_time_format(ns, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2024-02-29T23:59:59.123456789Z");
    ck_assert_int_eq(lh_time_parse("1970-01-01T00:00:00Z", &ns), 0);
    ck_assert_int_eq(ns, 0);
}
END_TEST

START_TEST(test_time_parse_rejects_nonsense)
{
    int64_t ns;
    const char *bad[] = {"",
                         "2026-11-26",
                         "2026-11-26T10:00:00",       /* no zone */
                         "2026-13-01T00:00:00Z",      /* month */
                         "2025-02-29T00:00:00Z",      /* not a leap year */
                         "2026-11-26T24:00:00Z",      /* hour */
                         "2026-11-26T10:00:00Zjunk",  /* trailing */
                         "2026-11-26T10:00:00.Z",     /* empty fraction */
                         "9999-12-31T23:59:59Z",      /* beyond int64 ns */
                         "2026-11-26T10:00:00+25:00", /* offset */
                         "20x6-11-26T10:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(lh_time_parse(bad[i], &ns) == LH_EINVAL, "accepted '%s'", bad[i]);
    ck_assert_int_eq(lh_time_parse(NULL, &ns), LH_EINVAL);
}
END_TEST

START_TEST(test_durations)
{
    int64_t ns;
    char buf[32];
    ck_assert_int_eq(lh_duration_parse("90s", &ns), 0);
    ck_assert_int_eq(ns, 90 * LH_NS_PER_SEC);
    ck_assert_int_eq(lh_duration_parse("1h30m", &ns), 0);
    ck_assert_int_eq(ns, 5400 * LH_NS_PER_SEC);
    ck_assert_int_eq(lh_duration_parse("7d", &ns), 0);
    ck_assert_int_eq(ns, 7 * 86400 * LH_NS_PER_SEC);
    ck_assert_int_eq(lh_duration_parse("250ms", &ns), 0);
    ck_assert_int_eq(ns, 250 * LH_NS_PER_MS);
    ck_assert_int_eq(lh_duration_parse("120", &ns), 0);
    ck_assert_int_eq(ns, 120 * LH_NS_PER_SEC);
    const char *bad[] = {"", "h", "2x", "-5m", "1.5h", "99999999999999d", "5m3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(lh_duration_parse(bad[i], &ns) == LH_EINVAL, "accepted '%s'", bad[i]);
    lh_duration_format(5400 * LH_NS_PER_SEC, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1h30m");
    lh_duration_format(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0s");
    lh_duration_human(300 * LH_NS_PER_SEC, buf, sizeof(buf));
    ck_assert_str_eq(buf, "5m");
    lh_duration_human((2 * 3600 + 5 * 60 + 7) * LH_NS_PER_SEC, buf, sizeof(buf));
    ck_assert_str_eq(buf, "2h5m");
}
END_TEST

static lh_event_t *
good_deploy(void)
{
    lh_event_t *ev = lh_event_new();
    ev->kind = LH_KIND_DEPLOY;
    ev->id = lh_event_str(ev, "d-1", (size_t)-1);
    ev->service = lh_event_str(ev, "api", (size_t)-1);
    ev->time_ns = 1795687200LL * LH_NS_PER_SEC;
    return ev;
}

START_TEST(test_arena_holds_many_fields)
{
    lh_event_t *ev = good_deploy();
    char host[32], key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(host, sizeof(host), "host-%d", i);
        ck_assert_int_eq(lh_event_add_host(ev, host, (size_t)-1), 0);
        snprintf(key, sizeof(key), "k%d", i % 50);
        ck_assert_int_eq(lh_event_add_label(ev, key, (size_t)-1, host, (size_t)-1), 0);
    }
    char *big = malloc(100000);
    memset(big, 'v', 99999);
    big[99999] = 0;
    ev->deploy.version = lh_event_str(ev, big, (size_t)-1);
    free(big);
    ck_assert_uint_eq(ev->n_hosts, 200);
    ck_assert_str_eq(ev->hosts[199], "host-199");
    ck_assert_str_eq(ev->hosts[0], "host-0");
    ck_assert_str_eq(lh_event_label(ev, "k3"), "host-3");
    ck_assert_uint_eq(strlen(ev->deploy.version), 99999);
    ck_assert_ptr_null(lh_event_str(ev, "", 0));
    lh_event_t *copy = lh_event_clone(ev);
    ck_assert_str_eq(copy->hosts[150], "host-150");
    ck_assert_uint_eq(strlen(copy->deploy.version), 99999);
    lh_event_destroy(&copy);
    lh_event_destroy(&ev);
    ck_assert_ptr_null(ev);
    lh_event_destroy(&ev); /* NULL-safe */
}
END_TEST

static void
expect_reject(lh_event_t *ev, int err, const char *needle)
{
    char why[256] = "";
    lh_limits_t lim;
    lh_limits_default(&lim);
    int rc = lh_event_validate(ev, &lim, 1795687200LL * LH_NS_PER_SEC, why, sizeof(why));
    ck_assert_msg(rc == err, "rc %s, want %s (%s)", lh_err_name(rc), lh_err_name(err), why);
    ck_assert_msg(strstr(why, needle) != NULL, "reason '%s' lacks '%s'", why, needle);
    lh_event_destroy(&ev);
}

START_TEST(test_validation_names_the_field)
{
    char why[256];
    lh_event_t *ev = good_deploy();
    ck_assert_int_eq(lh_event_validate(ev, NULL, 1795687200LL * LH_NS_PER_SEC, why, sizeof(why)),
                     0);
    lh_event_destroy(&ev);

    ev = good_deploy();
    ev->id = NULL;
    expect_reject(ev, LH_EMISSING, "'id'");
    ev = good_deploy();
    ev->time_ns = 0;
    expect_reject(ev, LH_EMISSING, "'time'");
    ev = good_deploy();
    ev->time_ns = -5;
    expect_reject(ev, LH_ERANGE, "before 1970");
    ev = good_deploy();
    ev->time_ns += 2 * 3600 * LH_NS_PER_SEC; /* clock nonsense: 2h in the future */
    expect_reject(ev, LH_ERANGE, "ahead of the hub's clock");
    ev = good_deploy();
    ev->service = NULL;
    expect_reject(ev, LH_EMISSING, "'service'");
    ev = good_deploy();
    ev->kind = LH_KIND_NONE;
    expect_reject(ev, LH_EUNKNOWN_KIND, "unknown event kind");
    ev = good_deploy();
    ev->kind = (lh_kind_t)17;
    expect_reject(ev, LH_EUNKNOWN_KIND, "unknown event kind");
    ev = good_deploy();
    ev->id = lh_event_str(ev, "bad\nid", (size_t)-1);
    expect_reject(ev, LH_EDECODE, "control character");
    ev = good_deploy();
    ev->actor = lh_event_str(ev, "\xc3\x28", 2);
    expect_reject(ev, LH_EDECODE, "'actor' is not valid UTF-8");
    ev = good_deploy();
    ev->environment = lh_event_str(ev, "\xed\xa0\x80", 3); /* a UTF-16 surrogate */
    expect_reject(ev, LH_EDECODE, "'environment'");
    ev = good_deploy();
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = 0;
    ev->deploy.version = lh_event_str(ev, big, (size_t)-1);
    free(big);
    expect_reject(ev, LH_ETOOBIG, "'deploy.version' is 4999 bytes");
    ev = good_deploy();
    for (int i = 0; i < 300; i++)
        lh_event_add_host(ev, "h", 1);
    expect_reject(ev, LH_ETOOBIG, "hosts");
    ev = good_deploy();
    ev->deploy.commit_time_ns = ev->time_ns + 3 * 3600 * LH_NS_PER_SEC;
    expect_reject(ev, LH_ERANGE, "'deploy.commit_time' is after");

    ev = good_deploy();
    ev->kind = LH_KIND_INCIDENT;
    expect_reject(ev, LH_EMISSING, "incident.incident_id");
    ev = good_deploy();
    ev->kind = LH_KIND_TICKET;
    ev->service = NULL;
    expect_reject(ev, LH_EMISSING, "ticket.ticket_id");
    /* a ticket needs no service */
    ev = good_deploy();
    ev->kind = LH_KIND_TICKET;
    ev->service = NULL;
    ev->ticket.ticket_id = lh_event_str(ev, "CHG-1", (size_t)-1);
    ck_assert_int_eq(lh_event_validate(ev, NULL, 0, why, sizeof(why)), 0);
    lh_event_destroy(&ev);
}
END_TEST

START_TEST(test_normalize_defaults)
{
    lh_event_t *ev = good_deploy();
    ck_assert_int_eq(lh_event_normalize(ev), 0);
    ck_assert_str_eq(ev->deploy.deploy_id, "d-1");
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    lh_event_destroy(&ev);
    ev = good_deploy();
    ev->kind = LH_KIND_ALERT;
    lh_event_normalize(ev);
    ck_assert_int_eq(ev->alert.state, LH_ALERT_FIRING);
    lh_event_destroy(&ev);
}
END_TEST

START_TEST(test_enum_names_round_trip)
{
    lh_deploy_status_t st;
    ck_assert_int_eq(lh_deploy_status_parse("ROLLED_BACK", &st), 0);
    ck_assert_str_eq(lh_deploy_status_name(st), "rolled_back");
    lh_severity_t sev;
    ck_assert_int_eq(lh_severity_parse("critical", &sev), 0);
    ck_assert_int_eq(sev, LH_SEV_CRITICAL);
    ck_assert_int_eq(lh_severity_parse("catastrophic", &sev), LH_EINVAL);
    ck_assert_ptr_null(lh_kind_name(LH_KIND_NONE));
    ck_assert_ptr_null(lh_kind_name((lh_kind_t)99));
    lh_ticket_state_t ts;
    ck_assert_int_eq(lh_ticket_state_parse("approved", &ts), 0);
    ck_assert_str_eq(lh_ticket_state_name(ts), "approved");
    ck_assert_str_eq(lh_strerror(LH_EDUPLICATE), "duplicate");
    ck_assert_str_eq(lh_err_name(LH_ENOMEM), "LH_ENOMEM");
    ck_assert_str_eq(lh_strerror(0), "ok");
    /* LH_PENDING is a success value, outside the negative error list */
    ck_assert_int_gt(LH_PENDING, 0);
    ck_assert_str_eq(lh_err_name(LH_PENDING), "LH_PENDING");
    ck_assert_str_eq(lh_err_name(LH_ETRANSPORT), "LH_ETRANSPORT");
    ck_assert_str_eq(lh_strerror(LH_ETRANSPORT), "transport error (see the log)");
}
END_TEST

static int lines;
static void
count_sink(lh_log_level_t level, const char *component, const char *msg, void *arg)
{
    (void)level;
    (void)component;
    (void)msg;
    (void)arg;
    lines++;
}

START_TEST(test_log_is_rate_limited)
{
    lh_log_set_sink(count_sink, NULL);
    lines = 0;
    for (int i = 0; i < 1000; i++)
        lh_log_ratelimited("flood", LH_LOG_WARN, "test", "bad input %d", i);
    ck_assert_int_eq(lines, 1);
    lh_log_ratelimited("other", LH_LOG_WARN, "test", "another reason");
    ck_assert_int_eq(lines, 2);
    lh_log_set_level(LH_LOG_ERROR);
    lh_log(LH_LOG_INFO, "test", "below the level");
    ck_assert_int_eq(lines, 2);
    lh_log_set_sink(NULL, NULL);
}
END_TEST

/* Runs lh_log() once with stderr pointed at a file; returns what was written (malloc'd). */
static char *
log_line(lh_log_format_t f, lh_log_level_t level, const char *msg)
{
    char path[] = "/tmp/lh-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    lh_log_set_level(LH_LOG_DEBUG);
    lh_log_set_format(f);
    lh_log(level, "store", "%s", msg);
    lh_log_set_format(LH_LOG_TEXT);
    lh_log_set_level(LH_LOG_INFO);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = lh_test_read_file(path, NULL);
    unlink(path);
    ck_assert_ptr_nonnull(text);
    return text;
}

START_TEST(test_log_formats)
{
    char *t = log_line(LH_LOG_TEXT, LH_LOG_WARN, "disk full");
    ck_assert_msg(strlen(t) > 25 && t[4] == '-' && t[23] == 'Z' &&
                      strstr(t, " warn  store: disk full\n"),
                  "%s", t);
    free(t);
    /* a message is one line whatever it quotes: a newline cannot start a line of its own */
    t = log_line(LH_LOG_TEXT, LH_LOG_WARN, "bad input: x\n<3>forged: line\x01");
    ck_assert_msg(strstr(t, "bad input: x\\n<3>forged: line\\x01\n") && !strchr(t, '\x01') &&
                      strchr(t, '\n') == t + strlen(t) - 1,
                  "%s", t);
    free(t);
    /* journald: a priority prefix, no time of its own */
    static const struct {
        lh_log_level_t level;
        const char *want;
    } j[] = {{LH_LOG_DEBUG, "<7>store: m\n"},
             {LH_LOG_INFO, "<6>store: m\n"},
             {LH_LOG_WARN, "<4>store: m\n"},
             {LH_LOG_ERROR, "<3>store: m\n"}};
    for (size_t i = 0; i < sizeof(j) / sizeof(j[0]); i++) {
        t = log_line(LH_LOG_JOURNAL, j[i].level, "m");
        ck_assert_str_eq(t, j[i].want);
        free(t);
    }
    /* JSON: one object a line, the message escaped */
    t = log_line(LH_LOG_JSON, LH_LOG_ERROR, "a \"quoted\" \\ path\nand\ta tab");
    ck_assert_msg(strncmp(t, "{\"time\":\"", 9) == 0, "%s", t);
    ck_assert_msg(strstr(t, "\"level\":\"error\",\"component\":\"store\","
                            "\"msg\":\"a \\\"quoted\\\" \\\\ path\\nand\\u0009a tab\"}\n"),
                  "%s", t);
    free(t);
    /* parsing; auto is journal only when stderr is the stream JOURNAL_STREAM names */
    lh_log_format_t f;
    ck_assert_int_eq(lh_log_format_parse("json", &f), 0);
    ck_assert_int_eq(f, LH_LOG_JSON);
    ck_assert_int_eq(lh_log_format_parse("JOURNAL", &f), 0);
    ck_assert_int_eq(f, LH_LOG_JOURNAL);
    ck_assert_int_eq(lh_log_format_parse("syslog", &f), LH_EINVAL);
    ck_assert_int_eq(lh_log_format_parse(NULL, &f), LH_EINVAL);
    struct stat sb;
    ck_assert_int_eq(fstat(STDERR_FILENO, &sb), 0);
    char js[64];
    snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    ck_assert_int_eq(lh_log_format_parse("auto", &f), 0);
    ck_assert_int_eq(f, LH_LOG_JOURNAL);
    setenv("JOURNAL_STREAM", "1:2", 1); /* another stream: stderr was redirected elsewhere */
    ck_assert_int_eq(lh_log_format_parse("auto", &f), 0);
    ck_assert_int_eq(f, LH_LOG_TEXT);
    unsetenv("JOURNAL_STREAM");
    ck_assert_int_eq(lh_log_format_parse("auto", &f), 0);
    ck_assert_int_eq(f, LH_LOG_TEXT);
}
END_TEST

START_TEST(test_buf)
{
    lh_buf_t b = LH_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(lh_buf_printf(&b, "%d,", i), 0);
    ck_assert_int_eq(strncmp((char *)b.data, "0,1,2,", 6), 0);
    ck_assert_uint_eq(b.data[b.len], 0);
    lh_buf_reset(&b);
    ck_assert_int_eq(lh_buf_append(&b, "xy", 2), 0);
    ck_assert_str_eq((char *)b.data, "xy");
    lh_buf_free(&b);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("util");
    const lh_test_case_t cases[] = {
        {"time", test_time_parse_and_format, 0, 0},
        {"time_bad", test_time_parse_rejects_nonsense, 0, 0},
        {"durations", test_durations, 0, 0},
        {"arena", test_arena_holds_many_fields, 0, 0},
        {"validate", test_validation_names_the_field, 0, 0},
        {"normalize", test_normalize_defaults, 0, 0},
        {"enums", test_enum_names_round_trip, 0, 0},
        {"log", test_log_is_rate_limited, 0, 0},
        {"log_formats", test_log_formats, 0, 0},
        {"buf", test_buf, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
