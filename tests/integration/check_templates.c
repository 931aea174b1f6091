/*
 * check_templates.c - the templated senders of examples/integrations end to end: what each
 * template would send, produced here from the file itself, posted to the real `loophub run` with
 * the headers the sender sets, and the stored events read back.
 *
 * Argo CD: the webhook bodies of argocd-notifications.yaml are Go templates; every {{...}}
 * expression is put in from a fixed table of Application values (an expression the table does
 * not know fails the test, naming it), and the headers from the loophub service's entries.
 * ServiceNow: servicenow-change.js is run under node with a GlideRecord-like stub, its
 * loophubTicketEvent() output posted as the business rule would post it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define TOKEN "tpl-t0ken"
#define REV "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
#define TEMPLATES LH_SOURCE_DIR "/examples/integrations/"

/* A hub whose HTTP writes need TOKEN, as a hub reached from outside would. */
static void
hub_start_with_token(lh_it_hub_t *h)
{
    char tok[700];
    lh_it_hub_init(h, 1);
    snprintf(tok, sizeof(tok), "%s/token", h->dir);
    ck_assert_int_eq(lh_test_write_file(tok, TOKEN "\n", strlen(TOKEN) + 1), 0);
    const char *extra[] = {"--http-token-file", tok, NULL};
    lh_it_hub_run(h, extra);
}

/* An RFC 3339 time ago_s seconds before now into out. */
static void
time_ago(int ago_s, char *out, size_t len)
{
    ck_assert_int_gt(lh_time_format(lh_now_ns() - (int64_t)ago_s * LH_NS_PER_SEC, out, len), 0);
}

/* --- Argo CD --------------------------------------------------------------------------------- */

/* The lines of the ConfigMap entry "  <key>: |" (malloc'd, their common indent removed), NULL
 * when the file has no such entry. With sub set, only the block of the "<sub>: |" line inside
 * the entry. */
static char *
yaml_block(const char *text, const char *key, const char *sub)
{
    char head[200];
    snprintf(head, sizeof(head), "%s: |", key);
    size_t cap = strlen(text) + 1, len = 0;
    char *out = calloc(1, cap);
    ck_assert_ptr_nonnull(out);
    int in_entry = -1, in_sub = -1, strip = -1, found = 0;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        int ind = (int)strspn(p, " ");
        const char *t = p + ind;
        int blank = (size_t)ind == n;
        if (!blank && in_entry >= 0 && ind <= in_entry)
            in_entry = in_sub = -1;
        if (!blank && in_sub >= 0 && ind <= in_sub)
            in_sub = -1;
        int inside = in_entry >= 0 && (!sub || in_sub >= 0);
        if (inside && !blank) {
            if (strip < 0)
                strip = ind;
            len += (size_t)snprintf(out + len, cap - len, "%.*s\n", (int)(n - (size_t)strip),
                                    p + strip);
        } else if (in_entry < 0 && (size_t)ind + strlen(head) == n && !strncmp(t, head, n - ind)) {
            in_entry = ind;
            found = !sub;
        } else if (in_entry >= 0 && sub && !strncmp(t, sub, strlen(sub)) &&
                   !strncmp(t + strlen(sub), ": |", 3) && (size_t)ind + strlen(sub) + 3 == n) {
            in_sub = ind;
            found = 1;
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    if (!found) {
        free(out);
        return NULL;
    }
    return out;
}

/* What a sample Application gives each template expression. */
typedef struct {
    const char *expr, *value;
} sample_t;

/* text with every {{ expr }} replaced from samples (malloc'd); an unknown expression fails the
 * test naming it and the template. */
static char *
render(const char *tmpl, const char *text, const sample_t *samples, size_t n_samples)
{
    size_t cap = strlen(text) * 4 + 1024, len = 0;
    char *out = calloc(1, cap);
    ck_assert_ptr_nonnull(out);
    const char *p = text;
    const char *open;
    while ((open = strstr(p, "{{")) != NULL) {
        const char *close = strstr(open, "}}");
        ck_assert_msg(close != NULL, "%s: '{{' without '}}'", tmpl);
        len += (size_t)snprintf(out + len, cap - len, "%.*s", (int)(open - p), p);
        const char *e = open + 2, *ee = close;
        while (e < ee && *e == ' ')
            e++;
        while (ee > e && ee[-1] == ' ')
            ee--;
        const char *value = NULL;
        for (size_t i = 0; i < n_samples && !value; i++)
            if (strlen(samples[i].expr) == (size_t)(ee - e) &&
                !strncmp(samples[i].expr, e, (size_t)(ee - e)))
                value = samples[i].value;
        ck_assert_msg(value != NULL, "%s: the test has no sample value for {{%.*s}}", tmpl,
                      (int)(ee - e), e);
        len += (size_t)snprintf(out + len, cap - len, "%s", value);
        ck_assert_uint_lt(len, cap);
        p = close + 2;
    }
    snprintf(out + len, cap - len, "%s", p);
    return out;
}

/* The headers of the service's "- name: N" / "value: V" entries as "N: V" lines into hdrs
 * (NULL-terminated; the strings malloc'd), Argo CD's $loophub-token put in from the secret. */
static void
service_headers(const char *service, char **hdrs, size_t max)
{
    size_t n = 0;
    const char *name = NULL;
    size_t name_len = 0;
    for (const char *p = service; *p;) {
        size_t l = strcspn(p, "\n");
        const char *t = p + strspn(p, " ");
        if (!strncmp(t, "- name: ", 8)) {
            name = t + 8;
            name_len = (size_t)(p + l - name);
        } else if (name && !strncmp(t, "value: ", 7)) {
            const char *v = t + 7;
            size_t vl = (size_t)(p + l - v);
            ck_assert_uint_lt(n, max - 1);
            char value[300];
            snprintf(value, sizeof(value), "%.*s", (int)vl, v);
            char *secret = strstr(value, "$loophub-token");
            char line[400];
            if (secret)
                snprintf(line, sizeof(line), "%.*s: %.*s%s%s", (int)name_len, name,
                         (int)(secret - value), value, TOKEN, secret + strlen("$loophub-token"));
            else
                snprintf(line, sizeof(line), "%.*s: %s", (int)name_len, name, value);
            hdrs[n] = strdup(line);
            ck_assert_ptr_nonnull(hdrs[n]);
            n++;
            name = NULL;
        }
        p += l;
        if (*p == '\n')
            p++;
    }
    hdrs[n] = NULL;
}

/* A sync of revision REV of the Application "checkout" (destination namespace production) that
 * failed, then a retry that succeeded: each template's body, rendered from the sample values,
 * is taken by the hub and the two are stored as one deploy of checkout to production, failed
 * then succeeded, version and commit the revision, by alice. */
START_TEST(argocd_notifications)
{
    lh_it_hub_t h;
    hub_start_with_token(&h);
    char *yaml = lh_test_must_read(TEMPLATES "argocd-notifications.yaml");
    ck_assert_msg(strstr(yaml, "name: argocd-notifications-cm") &&
                      strstr(yaml, "oncePer: app.status.sync.revision") &&
                      strstr(yaml, "when: app.status.operationState.phase in ['Error', 'Failed']"),
                  "argocd-notifications.yaml: no ConfigMap or triggers");
    char *service = yaml_block(yaml, "service.webhook.loophub", NULL);
    ck_assert_msg(service != NULL, "argocd-notifications.yaml: no service.webhook.loophub");
    ck_assert_msg(strstr(service, "url: $loophub-url"), "the url is not the secret's: %s", service);
    char *hdrs[8];
    service_headers(service, hdrs, 8);
    int bearer = 0;
    for (size_t i = 0; hdrs[i]; i++)
        bearer |= !strcmp(hdrs[i], "Authorization: Bearer " TOKEN);
    ck_assert_msg(bearer, "no 'Authorization: Bearer $loophub-token' header in: %s", service);

    static const struct {
        const char *tmpl, *phase, *id_suffix;
        int ago_s, status;
    } cases[] = {
        {"template.app-sync-failed", "Failed", "failed", 900, 3},
        {"template.app-deployed", "Succeeded", "deployed", 300, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char finished[40];
        time_ago(cases[i].ago_s, finished, sizeof(finished));
        const sample_t samples[] = {
            {".app.metadata.name", "checkout"},
            {".app.spec.project", "default"},
            {".app.spec.destination.namespace", "production"},
            {".app.spec.destination.server", "https://kubernetes.default.svc"},
            {".app.status.sync.revision", REV},
            {".app.status.operationState.phase", cases[i].phase},
            {".app.status.operationState.finishedAt", finished},
            {".app.status.operationState.operation.initiatedBy.username", "alice"},
            {".context.argocdUrl", "https://argocd.example.com"},
        };
        char *tmpl = yaml_block(yaml, cases[i].tmpl, "body");
        ck_assert_msg(tmpl != NULL, "argocd-notifications.yaml: no %s with a webhook body",
                      cases[i].tmpl);
        char *body = render(cases[i].tmpl, tmpl, samples, LH_TEST_COUNT(samples));
        json_error_t e;
        json_t *doc = json_loads(body, 0, &e);
        ck_assert_msg(doc != NULL, "%s renders no JSON (line %d: %s):\n%s", cases[i].tmpl, e.line,
                      e.text, body);
        json_decref(doc);

        char id[200];
        snprintf(id, sizeof(id), "argocd/checkout/" REV "/%s/%s", finished, cases[i].id_suffix);
        lh_it_resp_t r =
            lh_it_curl(&h, "POST", "/v1/events", (const char *const *)hdrs, body, 0, 0);
        char want[300];
        snprintf(want, sizeof(want), "\"accepted\":[\"%s\"]", id);
        ck_assert_msg(r.code == 202 && strstr(r.body, want), "%s: want 202 with %s, got %d: %s",
                      cases[i].tmpl, want, r.code, r.body);
        free(r.body);
        /* Argo CD sends a notification again after a controller restart: the same event */
        r = lh_it_curl(&h, "POST", "/v1/events", (const char *const *)hdrs, body, 0, 0);
        ck_assert_msg(r.code == 202 && strstr(r.body, "\"duplicates\""), "%s: %d %s", cases[i].tmpl,
                      r.code, r.body);
        free(r.body);

        char q[600];
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM events WHERE id = '%s' AND kind = 1 AND deploy_id = "
                 "'argocd-checkout-" REV "' AND service = 'checkout' AND environment = "
                 "'production' AND state = %d AND version = '" REV "' AND commit_sha = '" REV
                 "' AND actor = 'alice'",
                 id, cases[i].status);
        lh_it_wait_sql(&h, q, 1, 10000);
        free(body);
        free(tmpl);
    }
    /* the failure and the success of the revision: one deploy */
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(DISTINCT deploy_id) FROM events"), 1);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM events"), 2);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM quarantine"), 0);
    for (size_t i = 0; hdrs[i]; i++)
        free(hdrs[i]);
    free(service);
    free(yaml);
    lh_it_hub_stop(&h);
}
END_TEST

/* --- ServiceNow ------------------------------------------------------------------------------ */

/* The Node driver: requires the script (argv[2]) and prints, as one JSON array, the events of
 * one change request (a GlideRecord stub) at four moments of its life; the time of the record's
 * last update is argv[3] (GlideDateTime's UTC form), "now" argv[4]. */
static const char driver_js[] =
    "'use strict';\n"
    "const m = require(process.argv[2]);\n"
    "function record(fields, display) {\n"
    "  return {\n"
    "    getValue: (f) => (f in fields ? fields[f] : null),\n"
    "    getDisplayValue: (f) => (f in display ? display[f] : (f in fields ? fields[f] : '')),\n"
    "  };\n"
    "}\n"
    "const base = {number: 'CHG0030001', sys_id: '1c741bd70b2322007518478d83673af3',\n"
    "  short_description: 'Roll out checkout " REV "', cmdb_ci: 'b0c25d1bc0a8',\n"
    "  u_deploy_id: 'argocd-checkout-" REV ", D-9', u_service: '', u_environment: 'production',\n"
    "  sys_updated_by: 'bob', sys_updated_on: process.argv[3]};\n"
    "const shown = {cmdb_ci: 'checkout'};\n"
    "const moments = [\n"
    "  {sys_mod_count: '0', approval: 'not requested', state: '-5'},\n"
    "  {sys_mod_count: '3', approval: 'approved', state: '-2'},\n"
    "  {sys_mod_count: '4', approval: 'rejected', state: '-3'},\n"
    "  {sys_mod_count: '5', approval: 'approved', state: '3', sys_updated_on: ''},\n"
    "];\n"
    "const out = moments.map((f) => m.loophubTicketEvent(record(Object.assign({}, base, f), "
    "shown), process.argv[4], 'https://acme.service-now.com/'));\n"
    "process.stdout.write(JSON.stringify(out));\n";

/* The business rule's body for a change request, made by the script's own loophubTicketEvent()
 * under node (nodejs is required: without it the test fails saying so): the approved change is
 * a change ticket by bob with its summary, url and time from the record, and is stored as ticket
 * CHG0030001, state approved, service the CI's name, linked (ticket_links) to the two deploy ids
 * of u_deploy_id; the first save is stored as created, a rejection as rejected, a closed change
 * as closed (its time "now", the record having none). */
START_TEST(servicenow_business_rule)
{
    char *out = NULL, *err = NULL;
    const char *vargv[] = {"node", "--version", NULL};
    int st = lh_test_run(vargv, NULL, &out, &err, 20000);
    ck_assert_msg(st == 0, "nodejs is needed to run the ServiceNow template's test (`node "
                           "--version` failed: install the nodejs package)");
    free(out);
    free(err);
    lh_it_hub_t h;
    hub_start_with_token(&h);

    char driver[700], tmp[40], updated[40], now[40], glide[40];
    snprintf(driver, sizeof(driver), "%s/driver.js", h.dir);
    ck_assert_int_eq(lh_test_write_file(driver, driver_js, strlen(driver_js)), 0);
    time_ago(600, tmp, sizeof(tmp));
    time_ago(60, now, sizeof(now));
    /* GlideDateTime's value: "YYYY-MM-DD HH:MM:SS", UTC, whole seconds */
    snprintf(glide, sizeof(glide), "%.10s %.8s", tmp, tmp + 11);
    snprintf(updated, sizeof(updated), "%.10sT%.8sZ", tmp, tmp + 11);
    const char *argv[] = {"node", driver, TEMPLATES "servicenow-change.js", glide, now, NULL};
    st = lh_test_run(argv, NULL, &out, &err, 20000);
    ck_assert_msg(st == 0 && out, "node exit %d: %s", st, err ? err : "");
    json_error_t e;
    json_t *evs = json_loads(out, 0, &e);
    ck_assert_msg(json_is_array(evs) && json_array_size(evs) == 4, "node printed: %s", out);
    json_t *ap = json_array_get(evs, 1);
    ck_assert_str_eq(json_string_value(json_object_get(ap, "id")), "snow-CHG0030001-3");
    ck_assert_str_eq(json_string_value(json_object_get(ap, "time")), updated);
    ck_assert_str_eq(json_string_value(json_object_get(ap, "actor")), "bob");
    json_t *tk = json_object_get(ap, "ticket");
    ck_assert_str_eq(json_string_value(json_object_get(tk, "type")), "change");
    ck_assert_str_eq(json_string_value(json_object_get(tk, "summary")), "Roll out checkout " REV);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(tk, "links"), 1)), "D-9");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(evs, 3), "time")), now);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(ap, "ticket"), "url")),
        "https://acme.service-now.com/change_request.do?sys_id=1c741bd70b2322007518478d83673af3");
    json_decref(evs);
    free(err);

    const char *hdrs[] = {"Content-Type: application/json", "Authorization: Bearer " TOKEN, NULL};
    lh_it_resp_t r = lh_it_curl(&h, "POST", "/v1/events", hdrs, out, 0, 0);
    ck_assert_msg(r.code == 202 && strstr(r.body, "\"accepted\":[\"snow-CHG0030001-0\","
                                                  "\"snow-CHG0030001-3\",\"snow-CHG0030001-4\","
                                                  "\"snow-CHG0030001-5\"]"),
                  "got %d: %s", r.code, r.body);
    free(r.body);
    free(out);

    lh_it_wait_sql(&h,
                   "SELECT count(*) FROM events WHERE id = 'snow-CHG0030001-3' AND kind = 4 AND "
                   "ticket_id = 'CHG0030001' AND state = 2 AND service = 'checkout' AND "
                   "environment = 'production'",
                   1, 10000);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM ticket_links l JOIN events e ON "
                                        "e.seq = l.seq WHERE e.id = 'snow-CHG0030001-3' AND "
                                        "l.link IN ('argocd-checkout-" REV "', 'D-9')"),
                     2);
    static const struct {
        const char *id;
        int state;
    } states[] = {
        {"snow-CHG0030001-0", 1},
        {"snow-CHG0030001-4", 3},
        {"snow-CHG0030001-5", 5},
    };
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        char q[200];
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM events WHERE id = '%s' AND ticket_id = 'CHG0030001' AND "
                 "state = %d",
                 states[i].id, states[i].state);
        ck_assert_msg(lh_it_sql_long(&h, q) == 1, "%s: not stored with state %d", states[i].id,
                      states[i].state);
    }
    lh_it_hub_stop(&h);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("templates");
    const lh_test_case_t cases[] = {
        {"argocd_notifications", argocd_notifications, 0, 0},
        {"servicenow_business_rule", servicenow_business_rule, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return lh_test_run_suite(s);
}
