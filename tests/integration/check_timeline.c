/*
 * check_timeline.c - `loophub timeline --incident` as a responder runs it: the real `loophub
 * run` on loopback, events sent with `loophub send --reliable` (acknowledged once committed and
 * correlated), the correlated alerts taken from the hub's PUB socket as a subscriber (or
 * `loophub tail`) gets them, then `loophub timeline` on the live store, opened by the ids a
 * responder has in hand.
 *
 * The story (offsets from the test's start, seconds):
 *   api/prod  D-1 started -1200, succeeded -1140 on web-1, web-2 (commit, artifact, CI label,
 *             change ticket CHG-1, approved at -1500)
 *   db/prod   monitoring alert am-db firing on web-1 at -900 (another service, a shared host)
 *   api/prod  monitoring alert am-1 firing at -700 on web-1, resolved -200
 *             INC-1 detected -600 on web-1, reported -500, resolved -100
 * am-1 and INC-1 have the same suspect (D-1) within minutes: one correlated alert for both.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ithub.h"
#include "loophub/correlated.h"
#include "loophub/timeutil.h"
#include "testutil.h"

static void
iso(int64_t offset_s, char *buf, size_t len)
{
    static int64_t base_s;
    if (!base_s)
        base_s = lh_now_ns() / LH_NS_PER_SEC;
    lh_time_format((base_s + offset_s) * LH_NS_PER_SEC, buf, len);
}

/* The story as JSON lines, sent in one reliable `loophub send --json`. */
static void
send_story(lh_it_hub_t *h)
{
    char t[9][40];
    const int64_t at[9] = {-1500, -1200, -1140, -900, -700, -600, -500, -100, -200};
    for (int i = 0; i < 9; i++)
        iso(at[i], t[i], sizeof(t[i]));
    char ct[40];
    iso(-3000, ct, sizeof(ct));
    char lines[6000];
    snprintf(
        lines, sizeof(lines),
        "{\"id\":\"t-1\",\"kind\":\"ticket\",\"time\":\"%s\",\"ticket\":{\"ticket_id\":\"CHG-1\","
        "\"type\":\"change\",\"state\":\"approved\",\"links\":[\"D-1\"]}}\n"
        "{\"id\":\"d-1a\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"actor\":\"alice\",\"hosts\":[\"web-1\"],"
        "\"labels\":{\"ci_run\":\"https://ci.example/run/5\"},\"deploy\":{\"deploy_id\":\"D-1\","
        "\"status\":\"started\",\"version\":\"2.0\",\"previous_version\":\"1.9\",\"commit\":"
        "\"abc1234\",\"commit_time\":\"%s\",\"artifact\":\"registry/api:2.0\","
        "\"change_ticket\":\"CHG-1\"}}\n"
        "{\"id\":\"d-1b\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"actor\":\"alice\",\"hosts\":[\"web-1\",\"web-2\"],"
        "\"deploy\":{\"deploy_id\":\"D-1\",\"status\":\"succeeded\",\"version\":\"2.0\","
        "\"previous_version\":\"1.9\"}}\n"
        "{\"id\":\"am-db\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":\"db\","
        "\"environment\":\"prod\",\"hosts\":[\"web-1\"],\"alert\":{\"name\":\"DiskFull\","
        "\"state\":\"firing\",\"severity\":\"error\"}}\n"
        "{\"id\":\"am-1\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"hosts\":[\"web-1\"],\"alert\":{\"name\":\"HighLatency\","
        "\"state\":\"firing\",\"severity\":\"critical\"}}\n"
        "{\"id\":\"i-1\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"hosts\":[\"web-1\"],\"incident\":{\"incident_id\":\"INC-1\","
        "\"state\":\"detected\",\"severity\":\"critical\",\"title\":\"5xx spike\"}}\n"
        "{\"id\":\"i-1u\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-1\",\"state\":"
        "\"reported\",\"severity\":\"critical\"}}\n"
        "{\"id\":\"i-1r\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-1\",\"state\":"
        "\"resolved\",\"severity\":\"critical\"}}\n"
        "{\"id\":\"am-1r\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":\"api\","
        "\"environment\":\"prod\",\"hosts\":[\"web-1\"],\"alert\":{\"name\":\"HighLatency\","
        "\"state\":\"resolved\",\"severity\":\"critical\"}}\n",
        t[0], t[1], ct, t[2], t[3], t[4], t[5], t[6], t[7], t[8]);
    char path[700];
    snprintf(path, sizeof(path), "%s/story.jsonl", h->dir);
    ck_assert_int_eq(lh_test_write_file(path, lines, strlen(lines)), 0);
    const char *argv[] = {lh_test_loophub_bin(), "send", "--json", path, "--to", h->router,
                          "--reliable",          NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, 20000);
    ck_assert_msg(rc == 0, "send: exit %d: %s %s", rc, out, err);
    free(out);
    free(err);
}

/* The correlated alert ids, as a subscriber gets them: the first alert raised for incident
 * INC-1 (into inc) and for the monitoring alert am-1 (into mon). Waits for each alert, up to
 * 10 s apiece. */
static void
alert_ids(lh_it_hub_t *h, char *inc, char *mon, size_t len)
{
    lh_it_sub_t s;
    lh_it_sub_open(&s, h->pub, "alert.");
    inc[0] = mon[0] = 0;
    while (!inc[0] || !mon[0]) {
        char topic[256];
        lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
        ck_assert_msg(ca != NULL, "no alert for %s on PUB", inc[0] ? "am-1" : "INC-1");
        for (size_t i = 0; i < ca->n_outcomes; i++) {
            if (!inc[0] && ca->outcomes[i].kind == LH_KIND_INCIDENT)
                snprintf(inc, len, "%s", ca->id);
            if (!mon[0] && ca->outcomes[i].event_id && !strcmp(ca->outcomes[i].event_id, "am-1"))
                snprintf(mon, len, "%s", ca->id);
        }
        if (ca->outcome && ca->outcome->id) {
            if (!inc[0] && ca->outcome->kind == LH_KIND_INCIDENT)
                snprintf(inc, len, "%s", ca->id);
            if (!mon[0] && !strcmp(ca->outcome->id, "am-1"))
                snprintf(mon, len, "%s", ca->id);
        }
        lh_correlated_destroy(&ca);
    }
    lh_it_sub_close(&s);
}

/* `loophub timeline --incident id --db <store> [--format json]`: exit status, stdout, stderr. */
static int
timeline(lh_it_hub_t *h, const char *id, int json, char **out, char **err)
{
    const char *argv[] = {lh_test_loophub_bin(),    "timeline", "--incident", id, "--db", h->db,
                          json ? "--format" : NULL, "json",     NULL};
    return lh_test_run(argv, NULL, out, err, 20000);
}

static json_t *
timeline_json(lh_it_hub_t *h, const char *id)
{
    char *out = NULL, *err = NULL;
    int rc = timeline(h, id, 1, &out, &err);
    ck_assert_msg(rc == 0, "timeline --incident %s: exit %d: %s", id, rc, err);
    json_error_t e;
    json_t *d = json_loads(out, 0, &e);
    ck_assert_msg(d != NULL, "not JSON (%s): %s", e.text, out);
    free(out);
    free(err);
    return d;
}

static int
has_event(const json_t *arr, const char *id)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(arr, i), "id")), id))
            return 1;
    return 0;
}

static const char *
js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

START_TEST(test_incident_by_alert_id_tells_the_story)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 0, NULL);
    send_story(&h);
    char inc[64], mon[64];
    alert_ids(&h, inc, mon, sizeof(inc));

    /* by the alert id `loophub tail` shows, by the incident id, by any of its events */
    const char *ids[] = {inc, "INC-1", "i-1u"};
    ck_assert_str_eq(inc, mon); /* one correlated alert for both */
    for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
        json_t *d = timeline_json(&h, ids[k]);
        ck_assert_str_eq(js(d, "incident_id"), "INC-1");
        ck_assert_str_eq(js(d, "alert_id"), inc);
        ck_assert_int_eq(json_array_size(json_object_get(d, "outcomes")), 2);
        json_t *ev = json_object_get(d, "events");
        ck_assert_msg(has_event(ev, "i-1") && has_event(ev, "i-1u") && has_event(ev, "i-1r"), "%s",
                      json_dumps(ev, 0));
        /* the alert id: both outcomes, restored when the later is (am-1 at -700 to -100); the
         * incident: its own */
        ck_assert_int_eq(has_event(ev, "am-1"), k == 0);
        ck_assert_int_eq(json_integer_value(json_object_get(d, "time_to_restore_seconds")),
                         k == 0 ? 600 : 500);

        json_t *s0 = json_array_get(json_object_get(d, "suspects"), 0);
        ck_assert_ptr_nonnull(s0);
        ck_assert_str_eq(js(s0, "deploy_id"), "D-1");
        ck_assert_int_eq(json_array_size(json_object_get(s0, "events")), 2);
        ck_assert_str_eq(js(s0, "commit"), "abc1234");
        ck_assert_ptr_nonnull(js(s0, "commit_time"));
        ck_assert_str_eq(js(s0, "artifact"), "registry/api:2.0");
        ck_assert_str_eq(js(s0, "actor"), "alice");
        ck_assert_int_eq(json_array_size(json_object_get(s0, "hosts")), 2);
        ck_assert_str_eq(js(json_object_get(s0, "labels"), "ci_run"), "https://ci.example/run/5");
        json_t *tk = json_array_get(json_object_get(s0, "tickets"), 0);
        ck_assert_ptr_nonnull(tk);
        ck_assert_str_eq(js(tk, "ticket_id"), "CHG-1");
        ck_assert_str_eq(js(tk, "approval"), "approved");

        /* the db alert on the shared host is another alert in the window, and so is am-1 when
         * it is not one of the timeline's own events */
        json_t *oth = json_object_get(d, "other_alerts");
        ck_assert_msg(has_event(oth, "am-db"), "%s", json_dumps(oth, 0));
        ck_assert_msg(has_event(oth, "am-1") != has_event(ev, "am-1"), "%s", json_dumps(d, 0));

        /* every revision as published: 1, 2, ..., the last one resolved */
        json_t *al = json_object_get(d, "alerts");
        ck_assert_int_ge(json_array_size(al), 2);
        for (size_t i = 0; i < json_array_size(al); i++) {
            json_t *a = json_array_get(al, i);
            ck_assert_str_eq(js(a, "id"), inc);
            ck_assert_int_eq(json_integer_value(json_object_get(a, "revision")), (json_int_t)i + 1);
            ck_assert_int_eq(json_is_true(json_object_get(a, "resolved")),
                             i + 1 == json_array_size(al));
        }
        json_decref(d);
    }

    /* the text a responder reads */
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(timeline(&h, inc, 0, &out, &err), 0);
    ck_assert_msg(strstr(out, "incident INC-1") && strstr(out, "change events (2)") &&
                      strstr(out, "CHG-1 (change)  approved") &&
                      strstr(out, "labels         ci_run=https://ci.example/run/5") &&
                      strstr(out, "DiskFull"),
                  "%s", out);
    free(out);
    free(err);

    /* the monitoring alert's event ids open its firing period, beside the incident */
    const char *am[] = {"am-1", "am-1r"};
    for (size_t k = 0; k < 2; k++) {
        json_t *d = timeline_json(&h, am[k]);
        ck_assert_str_eq(js(d, "subject"), "alert");
        ck_assert_str_eq(js(d, "title"), "HighLatency");
        ck_assert_str_eq(js(d, "alert_id"), mon);
        json_t *ev = json_object_get(d, "events");
        ck_assert_msg(json_array_size(ev) == 2 && has_event(ev, "am-1") && has_event(ev, "am-1r"),
                      "%s", json_dumps(ev, 0));
        ck_assert_int_eq(json_integer_value(json_object_get(d, "time_to_restore_seconds")), 500);
        ck_assert_str_eq(js(json_array_get(json_object_get(d, "suspects"), 0), "deploy_id"), "D-1");
        json_decref(d);
    }

    /* an id that is nothing: exit 1, one line naming what it was tried as */
    ck_assert_int_eq(timeline(&h, "ca-0000000000000000", 0, &out, &err), 1);
    char want[900];
    snprintf(want, sizeof(want),
             "loophub timeline: no incident, outcome event or correlated alert "
             "ca-0000000000000000 in %s\n",
             h.db);
    ck_assert_str_eq(err, want);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
timeline_suite(void)
{
    Suite *s = suite_create("timeline");
    const lh_test_case_t cases[] = {
        {"incident_by_alert_id", test_incident_by_alert_id_tells_the_story, 90, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 90, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(timeline_suite());
}
