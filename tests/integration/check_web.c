/*
 * check_web.c - the hub's web page in a real browser: a day of history
 * (tests/data/web/history.jsonl, see the README there) loaded with `loophub import`, served by
 * the real `loophub run`, and each page opened by Debian's headless Chromium. The test reads the
 * DOM Chromium rendered (--dump-dom) for what the page must show, follows each page's link to the
 * JSON it was drawn from, and saves a screenshot of each page in the build's test-artifacts
 * folder.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ithub.h"
#include "testutil.h"

#ifndef LH_TEST_ARTIFACTS
#define LH_TEST_ARTIFACTS "."
#endif

static lh_it_hub_t hub;
static char url_base[64];

static void
setup(void)
{
    lh_it_hub_init(&hub, 1);
    char file[700];
    snprintf(file, sizeof(file), "%s/web/history.jsonl", LH_TEST_DATA);
    const char *imp[] = {lh_test_loophub_bin(), "import", file, "--db", hub.db, "-q", NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(imp, NULL, &out, &err, lh_test_ms(60000));
    ck_assert_msg(rc == 0, "import: exit %d: %s", rc, err);
    free(out);
    free(err);
    const char *extra[] = {"--retention", "forever", NULL};
    lh_it_hub_run(&hub, extra);
    snprintf(url_base, sizeof(url_base), "http://127.0.0.1:%d", hub.http_port);
}

static void
teardown(void)
{
    lh_it_hub_stop(&hub);
}

/* Chromium's rendered DOM of path (malloc'd). */
static char *
dom(const char *path)
{
    char url[1200], profile[700];
    snprintf(url, sizeof(url), "%s%s", url_base, path);
    snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium", hub.dir);
    const char *argv[] = {"chromium",
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--no-first-run",
                          profile,
                          "--dump-dom",
                          url,
                          NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, lh_test_ms(60000));
    ck_assert_msg(rc == 0, "chromium --dump-dom %s: exit %d: %s", url, rc, err);
    ck_assert_msg(strstr(out, "</html>"), "no page for %s: %s", url, out);
    free(err);
    return out;
}

/* A screenshot of path in the test artifacts, name.png; it must be a PNG of some size. */
static void
screenshot(const char *path, const char *name, int height)
{
    char url[1200], profile[700], shot[900], size[40];
    snprintf(url, sizeof(url), "%s%s", url_base, path);
    snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium", hub.dir);
    mkdir(LH_TEST_ARTIFACTS, 0755);
    snprintf(shot, sizeof(shot), "--screenshot=%s/web-%s.png", LH_TEST_ARTIFACTS, name);
    snprintf(size, sizeof(size), "--window-size=1280,%d", height);
    const char *argv[] = {"chromium",
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--no-first-run",
                          "--hide-scrollbars",
                          profile,
                          size,
                          shot,
                          url,
                          NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, lh_test_ms(60000));
    ck_assert_msg(rc == 0, "chromium --screenshot %s: exit %d: %s", url, rc, err);
    free(out);
    free(err);
    struct stat sb;
    ck_assert_msg(stat(shot + strlen("--screenshot="), &sb) == 0 && sb.st_size > 10000,
                  "no screenshot at %s", shot);
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The page links the JSON it was drawn from: that link answers a JSON document. */
static void
json_link_answers(const char *page)
{
    const char *k = strstr(page, "class=\"json-link\" href=\"");
    ck_assert_msg(k, "no JSON link: %s", page);
    k += strlen("class=\"json-link\" href=\"");
    const char *e = strchr(k, '"');
    char path[900] = "";
    size_t o = 0;
    for (const char *p = k; p < e && o + 1 < sizeof(path); p++) {
        if (!strncmp(p, "&amp;", 5)) { /* the DOM escapes it */
            path[o++] = '&';
            p += 4;
        } else {
            path[o++] = *p;
        }
    }
    path[o] = 0;
    char url[1200];
    snprintf(url, sizeof(url), "%s%s", url_base, path);
    const char *argv[] = {"curl", "-s", "-f", url, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(lh_test_run(argv, NULL, &out, &err, lh_test_ms(20000)) == 0, "GET %s: %s", url,
                  err);
    ck_assert_msg(out[0] == '{', "GET %s: not JSON: %s", url, out);
    free(out);
    free(err);
}

START_TEST(test_timeline_page)
{
    const char *path = "/?service=api&env=prod&since=2026-11-30T07:00:00Z&until=2026-11-30T17:"
                       "00:00Z";
    char *d = dom(path);
    /* api's four changes, each by its outcome class */
    ck_assert_int_eq(count(d, "class=\"change-marker\""), 4);
    ck_assert_msg(strstr(d, "data-deploy=\"D-101\" data-class=\"healthy\""), "%s", d);
    ck_assert_msg(strstr(d, "data-deploy=\"D-102\" data-class=\"suspect\""), "%s", d);
    ck_assert_msg(strstr(d, "data-deploy=\"D-104\" data-class=\"rolled_back\""), "%s", d);
    /* INC-7 and the two alert periods as spans, the suspects joined to their outcomes */
    ck_assert_int_eq(count(d, "class=\"outcome-span incident\""), 1);
    ck_assert_int_eq(count(d, "class=\"outcome-span alert\""), 2);
    ck_assert_msg(count(d, "class=\"suspect-link\" data-deploy=\"D-102\"") >= 1, "%s", d);
    ck_assert_msg(count(d, "class=\"suspect-link\" data-deploy=\"D-104\"") >= 1, "%s", d);
    ck_assert_msg(strstr(d, "href=\"/incident?id=INC-7\""), "%s", d);
    ck_assert_msg(strstr(d, "name=\"service\" value=\"api\""), "the picker: %s", d);
    ck_assert_msg(strstr(d, "name=\"until\" value=\"2026-11-30T17:00:00Z\""), "the range: %s", d);
    json_link_answers(d);
    free(d);
    screenshot(path, "timeline", 900);
    /* without a service: the services, each a link to its timeline */
    d = dom("/");
    ck_assert_msg(strstr(d, "href=\"/?service=api&amp;env=prod\""), "%s", d);
    ck_assert_msg(strstr(d, "href=\"/?service=web&amp;env=prod\""), "%s", d);
    free(d);
}
END_TEST

START_TEST(test_incident_page)
{
    char *d = dom("/incident?id=INC-7");
    ck_assert_msg(strstr(d, "incident INC-7 on api/prod"), "%s", d);
    ck_assert_msg(strstr(d, "time to restore 43m"), "%s", d);
    ck_assert_msg(strstr(d, "Roll back to <b class=\"rollback\">1.4.0</b>"), "%s", d);
    ck_assert_int_eq(count(d, "class=\"suspect-row\""), 1);
    ck_assert_msg(strstr(d, "class=\"suspect-change\" href=\"/change?id=D-102&amp;env=prod\""), "%s", d);
    ck_assert_msg(strstr(d, "class=\"suspect-link\" data-deploy=\"D-102\""), "%s", d);
    ck_assert_msg(strstr(d, "shares host api-2"), "%s", d);
    /* CHG-102 was approved at 11:20, after D-102 started at 11:00 */
    ck_assert_msg(strstr(d, "CHG-102</a> <span class=\"rejected\">approved after the deploy"), "%s",
                  d);
    json_link_answers(d);
    free(d);
    screenshot("/incident?id=INC-7", "incident", 1000);
    /* the change page it links */
    d = dom("/change?id=D-104");
    ck_assert_msg(strstr(d, "Change D-104"), "%s", d);
    ck_assert_msg(strstr(d, "class=\"rolled_back\">rolled_back"), "%s", d);
    free(d);
}
END_TEST

START_TEST(test_audit_and_deployed_pages)
{
    char *d = dom("/audit?since=2026-11-29T00:00:00Z&until=2026-12-01T00:00:00Z");
    ck_assert_int_eq(count(d, "class=\"change-row\""), 6);
    ck_assert_msg(strstr(d, "<td class=\"approved\">approved</td>"), "%s", d);
    ck_assert_msg(strstr(d, "<td class=\"rejected\">approved after the deploy</td>"), "%s", d);
    json_link_answers(d);
    free(d);
    d = dom("/audit?since=2026-11-29T00:00:00Z&until=2026-12-01T00:00:00Z&unapproved=1&env=");
    ck_assert_int_eq(count(d, "class=\"change-row\""), 5);
    free(d);
    screenshot("/audit?since=2026-11-29T00:00:00Z&until=2026-12-01T00:00:00Z", "audit", 800);
    d = dom("/deployed");
    /* api-1 went back to 1.5.1 when D-104 was rolled back; web stays on 5.2 (W-202 failed) */
    ck_assert_msg(strstr(d, "api-1</span><br><b class=\"version\">1.5.1</b>"), "%s", d);
    ck_assert_msg(strstr(d, "api-2</span><br><b class=\"version\">1.5.1</b>"), "%s", d);
    ck_assert_msg(strstr(d, "web-1</span><br><b class=\"version\">5.2</b>"), "%s", d);
    ck_assert_msg(strstr(d, "not running: D-104 1.6.0"), "%s", d);
    json_link_answers(d);
    free(d);
    screenshot("/deployed", "deployed", 700);
}
END_TEST

START_TEST(test_dora_page)
{
    const char *path = "/dora?env=prod&since=2026-11-16T00:00:00Z&until=2026-12-01T00:00:00Z";
    char *d = dom(path);
    /* the four figures and rework rate, with time to restore, each with a weekly trend */
    static const char *const figs[] = {"deployment_frequency", "lead_time",
                                       "change_failure_rate",  "recovery_time",
                                       "time_to_restore",      "rework_rate"};
    for (size_t i = 0; i < 6; i++) {
        char want[100];
        snprintf(want, sizeof(want), "class=\"trend-plot\" data-figure=\"%s\"", figs[i]);
        ck_assert_msg(strstr(d, want), "no trend plot of %s: %s", figs[i], d);
    }
    /* three weeks overlap the period (from Monday 2026-11-16): three bars a plot */
    ck_assert_int_eq(count(d, "class=\"trend-bar\""), 18);
    ck_assert_msg(strstr(d, "3 of 6 deployments"), "%s", d);
    ck_assert_msg(strstr(d, "class=\"band elite\""), "%s", d);
    json_link_answers(d);
    free(d);
    screenshot(path, "dora", 700);
}
END_TEST

static Suite *
web_suite(void)
{
    Suite *s = suite_create("web");
    const lh_test_case_t tests[] = {
        {"timeline", test_timeline_page, 0, 0},
        {"incident", test_incident_page, 0, 0},
        {"audit_deployed", test_audit_and_deployed_pages, 0, 0},
        {"dora", test_dora_page, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 240, setup, teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(web_suite());
}
