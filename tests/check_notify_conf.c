/*
 * check_notify_conf.c - a notification sink's line (adapters/notify/notify_conf.c): what each
 * key sets, every refusal with the reason a user reads at `loophub run`, the routing of an
 * alert and of a deploy, and the webhook signature against RFC 4231's HMAC-SHA256 test case 2.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/timeutil.h"
#include "notify/notify.h"
#include "testutil.h"

static char *
tmp_file(const char *text)
{
    char *p = strdup("/tmp/lh-notify-conf-XXXXXX");
    int fd = mkstemp(p);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return p;
}

START_TEST(parse_every_key)
{
    char *secret = tmp_file("s3cret\n");
    char line[600];
    snprintf(line, sizeof(line),
             "ci=webhook https://ci.example/hook format=cloudevents secret_file=%s env=prod*,stg "
             "service=api min_severity=error kinds=incident,unapproved timeout=3s",
             secret);
    lh_notify_sink_conf_t c;
    char why[300] = "";
    ck_assert_msg(lh_notify_sink_parse(line, &c, why, sizeof(why)) == 0, "%s", why);
    ck_assert_str_eq(c.name, "ci");
    ck_assert_int_eq(c.kind, LH_NOTIFY_WEBHOOK);
    ck_assert_str_eq(c.url, "https://ci.example/hook");
    ck_assert_int_eq(c.cloudevents, 1);
    ck_assert_str_eq(c.secret, "s3cret");
    ck_assert_str_eq(c.envs, "prod*,stg");
    ck_assert_str_eq(c.services, "api");
    ck_assert_int_eq(c.min_severity, LH_SEV_ERROR);
    ck_assert_uint_eq(c.kinds,
                      (1u << LH_CA_DEPLOY_PRECEDED_INCIDENT) | (1u << LH_CA_UNAPPROVED_CHANGE));
    ck_assert(c.timeout == 3 * LH_NS_PER_SEC);
    lh_notify_sink_conf_free(&c);

    /* alertmanager: the API path appended (once), labels kept */
    ck_assert_int_eq(lh_notify_sink_parse("am=alertmanager http://am:9093/ label=team=pay "
                                          "label=tier=1",
                                          &c, why, sizeof(why)),
                     0);
    ck_assert_str_eq(c.url, "http://am:9093/api/v2/alerts");
    ck_assert_int_eq((int)c.labels.n, 2);
    ck_assert_str_eq(c.labels.v[0], "team=pay");
    lh_notify_sink_conf_free(&c);
    ck_assert_int_eq(
        lh_notify_sink_parse("am=alertmanager http://am:9093/api/v2/alerts", &c, why, sizeof(why)),
        0);
    ck_assert_str_eq(c.url, "http://am:9093/api/v2/alerts");
    lh_notify_sink_conf_free(&c);

    /* pagerduty: the change events' endpoint beside the alerts' one, or named, or off */
    char *key = tmp_file("R0UTING\n");
    snprintf(line, sizeof(line),
             "pd=pagerduty https://events.pagerduty.com/v2/enqueue routing_key_file=%s", key);
    ck_assert_msg(lh_notify_sink_parse(line, &c, why, sizeof(why)) == 0, "%s", why);
    ck_assert_str_eq(c.routing_key, "R0UTING");
    ck_assert_str_eq(c.change_url, "https://events.pagerduty.com/v2/change/enqueue");
    lh_notify_sink_conf_free(&c);
    snprintf(line, sizeof(line), "pd=pagerduty http://pd.test/x routing_key_file=%s changes=off",
             key);
    ck_assert_msg(lh_notify_sink_parse(line, &c, why, sizeof(why)) == 0, "%s", why);
    ck_assert_ptr_null(c.change_url);
    lh_notify_sink_conf_free(&c);
    snprintf(line, sizeof(line),
             "pd=pagerduty http://pd.test/x routing_key_file=%s changes=http://pd.test/c", key);
    ck_assert_msg(lh_notify_sink_parse(line, &c, why, sizeof(why)) == 0, "%s", why);
    ck_assert_str_eq(c.change_url, "http://pd.test/c");
    lh_notify_sink_conf_free(&c);
    unlink(secret);
    unlink(key);
    free(secret);
    free(key);
}
END_TEST

/* Every refusal: the reason names the sink and what is wrong. */
START_TEST(parse_refusals)
{
    char *key = tmp_file("R0UTING\n");
    char pd_no_changes[300];
    snprintf(pd_no_changes, sizeof(pd_no_changes),
             "pd=pagerduty http://pd.test/x routing_key_file=%s", key);
    char pd_bad_changes[300];
    snprintf(pd_bad_changes, sizeof(pd_bad_changes),
             "pd=pagerduty http://pd.test/v2/enqueue routing_key_file=%s changes=ftp://x", key);
    const struct {
        const char *line, *want;
    } bad[] = {
        {"no equals sign", "expected NAME=TYPE URL"},
        {"=webhook http://x", "expected NAME=TYPE URL"},
        {"bad name!=webhook http://x", "expected NAME=TYPE URL"},
        {"a=fax http://x", "sink a: type 'fax' is not one of webhook, alertmanager"},
        {"a=webhook", "sink a: the URL after the type must be http:// or https://"},
        {"a=webhook ftp://x", "sink a: the URL after the type must be http:// or https://, got"},
        {"a=webhook http://x env", "sink a: 'env' is not KEY=VALUE"},
        {"a=webhook http://x env=", "sink a: 'env=' is not KEY=VALUE"},
        {"a=webhook http://x min_severity=loud", "min_severity 'loud' is not info"},
        {"a=webhook http://x kinds=incident,outage", "kinds 'incident,outage': a comma list"},
        {"a=webhook http://x kinds=,", "kinds ',': a comma list"},
        {"a=webhook http://x timeout=soon", "timeout 'soon' is not a duration"},
        {"a=webhook http://x format=xml", "format 'xml' is not json or cloudevents"},
        {"a=slack http://x format=json", "sink a: unknown key 'format' for a slack sink"},
        {"a=webhook http://x label=a=b", "unknown key 'label' for a webhook sink"},
        {"a=alertmanager http://x label=novalue", "label 'novalue' is not NAME=VALUE"},
        {"a=alertmanager http://x label==v", "label '=v' is not NAME=VALUE"},
        {"a=webhook http://x secret_file=/nonexistent/s", "/nonexistent/s"},
        {"a=pagerduty http://x/v2/enqueue", "a pagerduty sink needs routing_key_file=PATH"},
        {"a=pagerduty http://x routing_key_file=/nonexistent/k", "/nonexistent/k"},
        {pd_no_changes, "does not end in /v2/enqueue: name the change events' endpoint"},
        {pd_bad_changes, "changes 'ftp://x' is not off or an http(s) URL"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lh_notify_sink_conf_t c;
        char why[300] = "";
        int rc = lh_notify_sink_parse(bad[i].line, &c, why, sizeof(why));
        ck_assert_msg(rc == LH_EINVAL || rc == LH_EIO, "%s: rc %d", bad[i].line, rc);
        ck_assert_msg(strstr(why, bad[i].want), "%s: '%s' lacks '%s'", bad[i].line, why,
                      bad[i].want);
        ck_assert_ptr_null(c.name); /* freed */
    }
    unlink(key);
    free(key);
}
END_TEST

static lh_correlated_t *
alert(lh_ca_kind_t kind, const char *svc, const char *env, lh_severity_t sev)
{
    lh_correlated_t *ca = lh_correlated_new();
    ca->kind = kind;
    ca->service = strdup(svc);
    ca->environment = strdup(env);
    ca->outcome = lh_event_new();
    ca->outcome->kind = LH_KIND_INCIDENT;
    ca->outcome->incident.severity = sev;
    return ca;
}

START_TEST(routing)
{
    lh_notify_sink_conf_t c;
    char why[300];
    ck_assert_int_eq(lh_notify_sink_parse("r=webhook http://x env=Prod*,stg service=api,web? "
                                          "min_severity=error kinds=incident",
                                          &c, why, sizeof(why)),
                     0);
    static const struct {
        lh_ca_kind_t kind;
        const char *svc, *env;
        lh_severity_t sev;
        int want;
    } cases[] = {
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "api", "production", LH_SEV_CRITICAL, 1},
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "web1", "stg", LH_SEV_ERROR, 1},       /* ? and a list */
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "api", "PRODUCTION", LH_SEV_ERROR, 1}, /* any case */
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "api", "staging", LH_SEV_CRITICAL, 0},
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "db", "production", LH_SEV_CRITICAL, 0},
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "api", "production", LH_SEV_WARNING, 0},
        {LH_CA_DEPLOY_PRECEDED_INCIDENT, "api", "production", LH_SEV_UNSPECIFIED, 1},
        {LH_CA_DEPLOY_PRECEDED_ALERT, "api", "production", LH_SEV_CRITICAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lh_correlated_t *ca = alert(cases[i].kind, cases[i].svc, cases[i].env, cases[i].sev);
        ck_assert_msg(lh_notify_routes(&c, ca) == cases[i].want, "case %zu", i);
        lh_correlated_destroy(&ca);
    }
    /* a deploy's change event: environment and service only */
    lh_event_t *ev = lh_event_new();
    ev->kind = LH_KIND_DEPLOY;
    ev->service = lh_event_str(ev, "api", (size_t)-1);
    ev->environment = lh_event_str(ev, "production", (size_t)-1);
    ck_assert_int_eq(lh_notify_routes_change(&c, ev), 1);
    ev->environment = lh_event_str(ev, "dev", (size_t)-1);
    ck_assert_int_eq(lh_notify_routes_change(&c, ev), 0);
    lh_event_destroy(&ev);
    lh_notify_sink_conf_free(&c);
    /* no routing: everything */
    ck_assert_int_eq(lh_notify_sink_parse("all=webhook http://x", &c, why, sizeof(why)), 0);
    lh_correlated_t *ca = alert(LH_CA_UNAPPROVED_CHANGE, "x", "y", LH_SEV_INFO);
    ck_assert_int_eq(lh_notify_routes(&c, ca), 1);
    lh_correlated_destroy(&ca);
    lh_notify_sink_conf_free(&c);
}
END_TEST

/* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?". */
START_TEST(signature)
{
    char sig[96];
    const char *data = "what do ya want for nothing?";
    lh_notify_signature("Jefe", data, strlen(data), sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    lh_notify_signature("Jefe", data, strlen(data), sig, 20); /* too small: empty, no overflow */
    ck_assert_str_eq(sig, "");
}
END_TEST

/* PagerDuty's change events: only finished deploys. */
START_TEST(change_events_wanted)
{
    lh_event_t *ev = lh_event_new();
    ev->kind = LH_KIND_DEPLOY;
    static const struct {
        lh_deploy_status_t st;
        int want;
    } st[] = {{LH_DEPLOY_STARTED, 0},
              {LH_DEPLOY_SUCCEEDED, 1},
              {LH_DEPLOY_FAILED, 1},
              {LH_DEPLOY_ROLLED_BACK, 1}};
    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        ev->deploy.status = st[i].st;
        ck_assert_int_eq(lh_notify_change_wanted(ev), st[i].want);
    }
    ev->kind = LH_KIND_INCIDENT;
    ck_assert_int_eq(lh_notify_change_wanted(ev), 0);
    lh_event_destroy(&ev);
}
END_TEST

static Suite *
notify_conf_suite(void)
{
    Suite *s = suite_create("notify_conf");
    const lh_test_case_t cases[] = {
        {"parse_every_key", parse_every_key, 0, 0},
        {"parse_refusals", parse_refusals, 0, 0},
        {"routing", routing, 0, 0},
        {"signature", signature, 0, 0},
        {"change_events_wanted", change_events_wanted, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 10, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(notify_conf_suite());
}
