/*
 * check_jira.c - the Jira webhook decoder (codec_jira.c) on the issue update Atlassian publishes
 * (tests/data/sources/jira, README.md there says where it came from): ticket events with their
 * type, state, links, service and identity; approvals as lh_change_approval() reads them; the
 * ignored webhookEvents; the settings of [source.jira]; the X-Hub-Signature HMAC; detection by
 * header, shape and route.
 *
 * Atlassian publishes no issue_created or status transition example: those are the published
 * update with the fields a transition carries set here (marked "variation"): issuetype, status
 * with its category, project, the deploy field, and a changelog item of field "status" in the
 * documented item shape.
 */
#include <jansson.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define SRCFIX_MAX_CALLS 8
#include "srcfix.h"

#define WHID "6a5b6c8e-2f0e-4c53-9c4f-0f3e7b1d2a11"

/* Variation: the published update as a change ticket of project OPS moving to status `to`
 * (category cat), its deploy field customfield_10050 holding deploy. */
static json_t *
transition(const char *type, const char *to, const char *cat, const char *deploy)
{
    json_t *root = fixture_json("jira/issue_updated.assembled.json");
    json_t *fields = json_object_get(json_object_get(root, "issue"), "fields");
    json_object_set_new(fields, "issuetype", json_pack("{s:s, s:s}", "id", "10005", "name", type));
    json_object_set_new(fields, "project", json_pack("{s:s, s:s}", "key", "OPS", "name", "Ops"));
    json_object_set_new(fields, "status",
                        json_pack("{s:s, s:{s:s}}", "name", to, "statusCategory", "key", cat));
    if (deploy)
        json_object_set_new(fields, "customfield_10050", json_string(deploy));
    json_t *items = json_object_get(json_object_get(root, "changelog"), "items");
    json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "field", "status",
                                           "fieldtype", "jira", "from", "10001", "fromString",
                                           "Awaiting approval", "to", "10002", "toString", to));
    return root;
}

/* --- the published update --------------------------------------------------------------------- */

START_TEST(jira_issue_updated)
{
    size_t len;
    char *b = fixture("jira/issue_updated.assembled.json", &len);
    lh_kv_t h[] = {kv("X-Atlassian-Webhook-Identifier", WHID),
                   kv("X-Atlassian-Webhook-Flow", "Primary"),
                   kv("User-Agent", "Atlassian Webhook HTTP Client")};
    sink_t s = {0};
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 3, NULL, &s), LH_SRC_JIRA);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "jira-" WHID);
    ck_assert_str_eq(ev->source, "jira");
    ck_assert_int_eq(ev->kind, LH_KIND_TICKET);
    ck_assert_str_eq(ev->ticket.ticket_id, "JRA-20002");
    ck_assert_int_eq(ev->ticket.type, LH_TICKET_TASK); /* changed to "New Feature" */
    ck_assert_int_eq(ev->ticket.state, LH_TICKET_UPDATED);
    ck_assert_int_eq((int)ev->ticket.n_links, 0);
    ck_assert_str_eq(ev->ticket.summary, "I feel the need for speed");
    ck_assert_str_eq(ev->ticket.url, "https://your-domain.atlassian.net/browse/JRA-20002");
    ck_assert_str_eq(ev->service, "JRA"); /* no project in the example: the key's prefix */
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_str_eq(ev->actor, "Bryan Rollins [Atlassian]");
    ck_assert_int_eq(ev->time_ns, 1606480436302LL * LH_NS_PER_MS);
    ck_assert_str_eq(label(ev, "jira_event"), "jira:issue_updated");
    ck_assert_str_eq(label(ev, "issue_type"), "New Feature");
    ck_assert_str_eq(label(ev, "priority"), "Minor");
    ck_assert_str_eq(label(ev, "url"), "https://your-domain.atlassian.net/browse/JRA-20002");
    ck_assert_int_eq(ev->raw_format, LH_FMT_JIRA);
    ck_assert_int_eq((int)ev->raw_len, (int)len);
    char why[200];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), 0);
    sink_free(&s);

    /* without the header: the shape tells it, the id comes from the issue id and timestamp */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_JIRA);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, "jira-99291-1606480436302");
    sink_free(&s);
    /* by its route; another default environment */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.default_env = "prod";
    ck_assert_int_eq(decode(b, len, LH_FMT_JIRA, NULL, 0, &o, &s), LH_SRC_JIRA);
    ck_assert_str_eq(s.ev[0]->environment, "prod");
    sink_free(&s);
    free(b);
}
END_TEST

/* --- approvals -------------------------------------------------------------------------------- */

/* The end-to-end goal in one unit: a change approved in Jira, whose deploy field names the
 * deploy, decodes to an APPROVED change ticket linking that deploy id, and
 * lh_change_approval() (what `loophub audit` asks) calls the deploy approved by it. */
START_TEST(jira_approval_links_deploy)
{
    json_t *root = transition("Change", "Approved", "indeterminate", "gl-15");
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.jira_deploy_field = "customfield_10050";
    lh_kv_t h[] = {kv("X-Atlassian-Webhook-Identifier", WHID)};
    sink_t s = {0};
    ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, h, 1, &o, &s), LH_SRC_JIRA);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->kind, LH_KIND_TICKET);
    ck_assert_str_eq(ev->ticket.ticket_id, "JRA-20002");
    ck_assert_int_eq(ev->ticket.type, LH_TICKET_CHANGE);
    ck_assert_int_eq(ev->ticket.state, LH_TICKET_APPROVED);
    ck_assert_int_eq((int)ev->ticket.n_links, 1);
    ck_assert_str_eq(ev->ticket.links[0], "gl-15");
    ck_assert_str_eq(ev->service, "OPS");
    ck_assert_str_eq(label(ev, "status"), "Approved");
    char why[200];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), 0);

    /* approved before the deploy started: approved, by this ticket */
    const char *by = NULL;
    lh_event_t *const tk[] = {ev};
    ck_assert_int_eq(lh_change_approval(tk, 1, ev->time_ns + LH_NS_PER_SEC, &by), LH_APPROVED);
    ck_assert_str_eq(by, "JRA-20002");
    ck_assert_int_eq(lh_change_approval(tk, 1, ev->time_ns - LH_NS_PER_SEC, &by),
                     LH_APPROVED_AFTER);
    sink_free(&s);

    /* the same payload with no deploy field configured: the ticket links nothing */
    decode_json(root, LH_FMT_AUTO, h, 1, NULL, &s);
    ck_assert_int_eq(s.ev[0]->ticket.state, LH_TICKET_APPROVED);
    ck_assert_int_eq((int)s.ev[0]->ticket.n_links, 0);
    sink_free(&s);
    /* a field that the issue does not have: no link either, and no error */
    o.src.jira_deploy_field = "customfield_99999";
    decode_json(root, LH_FMT_AUTO, h, 1, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq((int)s.ev[0]->ticket.n_links, 0);
    sink_free(&s);
    json_decref(root);

    /* rejected: lh_change_approval() says so */
    root = transition("Change Request", "Declined", "done", "gl-15");
    o.src.jira_deploy_field = "customfield_10050";
    decode_json(root, LH_FMT_AUTO, h, 1, &o, &s);
    ev = s.ev[0];
    ck_assert_int_eq(ev->ticket.type, LH_TICKET_CHANGE);
    ck_assert_int_eq(ev->ticket.state, LH_TICKET_REJECTED);
    lh_event_t *const tr[] = {ev};
    ck_assert_int_eq(lh_change_approval(tr, 1, ev->time_ns + 1, &by), LH_APPROVAL_REJECTED);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* Types and states from the settings and the transition (variations). */
START_TEST(jira_types_and_states)
{
    static const struct {
        const char *type, *to, *cat;
        const char *change_types, *approved, *rejected;
        lh_ticket_type_t want_type;
        lh_ticket_state_t want_state;
    } cases[] = {
        {"Change", "Approved", "indeterminate", NULL, NULL, NULL, LH_TICKET_CHANGE,
         LH_TICKET_APPROVED},
        {"change request", "approved", "indeterminate", NULL, NULL, NULL, LH_TICKET_CHANGE,
         LH_TICKET_APPROVED},
        {"Change", "Rejected", "done", NULL, NULL, NULL, LH_TICKET_CHANGE, LH_TICKET_REJECTED},
        {"Change", "Done", "done", NULL, NULL, NULL, LH_TICKET_CHANGE, LH_TICKET_CLOSED},
        {"Change", "In Progress", "indeterminate", NULL, NULL, NULL, LH_TICKET_CHANGE,
         LH_TICKET_UPDATED},
        {"Incident", "Resolved", "done", NULL, NULL, NULL, LH_TICKET_INCIDENT, LH_TICKET_CLOSED},
        /* only a change ticket approves: a task in status Approved decides no change */
        {"Task", "Approved", "indeterminate", NULL, NULL, NULL, LH_TICKET_TASK, LH_TICKET_UPDATED},
        {"Normal change", "CAB approved", "indeterminate", "Normal change, Standard*",
         "CAB approved, Authorized", NULL, LH_TICKET_CHANGE, LH_TICKET_APPROVED},
        {"Standard change", "Authorized", "indeterminate", "Normal change, Standard*",
         "CAB approved, Authorized", NULL, LH_TICKET_CHANGE, LH_TICKET_APPROVED},
        {"Change", "Approved", "indeterminate", "Normal change", "CAB approved", NULL,
         LH_TICKET_TASK, LH_TICKET_UPDATED},
        {"Change", "Not this time", "done", NULL, NULL, "Not this time", LH_TICKET_CHANGE,
         LH_TICKET_REJECTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = transition(cases[i].type, cases[i].to, cases[i].cat, NULL);
        lh_codec_opts_t o;
        lh_codec_opts_default(&o);
        o.src.jira_change_types = cases[i].change_types;
        o.src.jira_approved = cases[i].approved;
        o.src.jira_rejected = cases[i].rejected;
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
        ck_assert_msg(s.ev[0] != NULL, "case %zu: %s", i, s.why[0]);
        ck_assert_msg(s.ev[0]->ticket.type == cases[i].want_type, "case %zu: type %d", i,
                      (int)s.ev[0]->ticket.type);
        ck_assert_msg(s.ev[0]->ticket.state == cases[i].want_state, "case %zu: state %d", i,
                      (int)s.ev[0]->ticket.state);
        sink_free(&s);
        json_decref(root);
    }
    /* an update in the done category that changes no status (an edit of a closed ticket) */
    json_t *root = transition("Change", "Done", "done", NULL);
    json_t *items = json_object_get(json_object_get(root, "changelog"), "items");
    json_array_remove(items, json_array_size(items) - 1);
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.ev[0]->ticket.state, LH_TICKET_UPDATED);
    sink_free(&s);
    /* created: CREATED, or APPROVED when created in an approved status (a pre-approved change) */
    json_object_set_new(root, "webhookEvent", json_string("jira:issue_created"));
    json_object_set_new(root, "issue_event_type_name", json_string("issue_created"));
    json_object_del(root, "changelog");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.ev[0]->ticket.state, LH_TICKET_CREATED);
    ck_assert_str_eq(label(s.ev[0], "jira_event"), "jira:issue_created");
    ck_assert_str_eq(label(s.ev[0], "status"), "Done");
    sink_free(&s);
    json_t *fields = json_object_get(json_object_get(root, "issue"), "fields");
    json_object_set_new(fields, "status", json_pack("{s:s}", "name", "Approved"));
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.ev[0]->ticket.state, LH_TICKET_APPROVED);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* The deploy field's shapes; the service field; the actor's fallbacks; the url without self. */
START_TEST(jira_fields)
{
    static const struct {
        const char *json;
        int n;
        const char *l0, *l1;
    } cases[] = {
        {"\"gl-15\"", 1, "gl-15", NULL},
        {"\"gl-15, gh-145988746\"", 2, "gl-15", "gh-145988746"},
        {"\" gl-1\\ngl-2 \"", 2, "gl-1", "gl-2"},
        {"[\"gl-1\", {\"value\": \"gl-2\"}, 3.5, null]", 2, "gl-1", "gl-2"},
        {"{\"self\": \"x\", \"value\": \"gl-3\", \"id\": \"10020\"}", 1, "gl-3", NULL},
        {"42", 1, "42", NULL},
        {"null", 0, NULL, NULL},
        {"\"\"", 0, NULL, NULL},
        {"true", 0, NULL, NULL},
    };
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.jira_deploy_field = "customfield_10050";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = transition("Change", "Approved", "indeterminate", NULL);
        json_t *fields = json_object_get(json_object_get(root, "issue"), "fields");
        json_object_set_new(fields, "customfield_10050",
                            json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
        lh_event_t *ev = s.ev[0];
        ck_assert_ptr_nonnull(ev);
        ck_assert_msg((int)ev->ticket.n_links == cases[i].n, "case %zu: %zu links", i,
                      ev->ticket.n_links);
        if (cases[i].l0)
            ck_assert_str_eq(ev->ticket.links[0], cases[i].l0);
        if (cases[i].l1)
            ck_assert_str_eq(ev->ticket.links[1], cases[i].l1);
        sink_free(&s);
        json_decref(root);
    }
    /* the issue's labels are never links */
    json_t *root = fixture_json("jira/issue_updated.assembled.json");
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_int_eq((int)s.ev[0]->ticket.n_links, 0);
    sink_free(&s);
    json_decref(root);

    /* the service from a field (a select list's option, or a string), else the project key */
    root = transition("Change", "Approved", "indeterminate", NULL);
    json_t *fields = json_object_get(json_object_get(root, "issue"), "fields");
    json_object_set_new(fields, "customfield_10060", json_pack("{s:s}", "value", "payments"));
    o.src.jira_service_field = "customfield_10060";
    decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->service, "payments");
    sink_free(&s);
    json_object_set_new(fields, "customfield_10060", json_string("checkout"));
    decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->service, "checkout");
    sink_free(&s);
    json_object_set_new(fields, "customfield_10060", json_null());
    decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->service, "OPS");
    sink_free(&s);

    /* the actor: displayName, else accountId, else name (Jira Server) */
    json_t *user = json_object_get(root, "user");
    json_object_del(user, "displayName");
    json_object_set_new(user, "accountId", json_string("5b10a2844c20165700ede21g"));
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->actor, "5b10a2844c20165700ede21g");
    sink_free(&s);
    json_object_del(user, "accountId");
    json_object_set_new(user, "name", json_string("paul"));
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->actor, "paul");
    sink_free(&s);
    /* a self that is no REST URL is the url as it is; none, no url */
    json_t *issue = json_object_get(root, "issue");
    json_object_set_new(issue, "self", json_string("https://jira.example.com/JRA-20002"));
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->ticket.url, "https://jira.example.com/JRA-20002");
    sink_free(&s);
    json_object_del(issue, "self");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_ptr_null(s.ev[0]->ticket.url);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- ignored and broken ----------------------------------------------------------------------- */

START_TEST(jira_ignored)
{
    static const char *const events[] = {"jira:issue_deleted", "comment_created", "comment_updated",
                                         "worklog_updated", "issuelink_created"};
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        json_t *root = fixture_json("jira/issue_updated.assembled.json");
        json_object_set_new(root, "webhookEvent", json_string(events[i]));
        lh_kv_t h[] = {kv("X-Atlassian-Webhook-Identifier", WHID)};
        sink_t s = {0};
        ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, h, 1, NULL, &s), LH_SRC_JIRA);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_str_eq(s.id[0], "jira-" WHID);
        ck_assert_msg(strstr(s.why[0], events[i]), "%s", s.why[0]);
        sink_free(&s);
        /* without the header, the body's id */
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_str_eq(s.id[0], "jira-99291-1606480436302");
        sink_free(&s);
        json_decref(root);
    }
    /* variation: the issue update Jira sends for a comment, with and without a changed field */
    static const char *const talk[] = {"issue_commented", "issue_comment_edited",
                                       "issue_comment_deleted"};
    for (size_t i = 0; i < sizeof(talk) / sizeof(talk[0]); i++) {
        json_t *root = fixture_json("jira/issue_updated.assembled.json");
        json_object_set_new(root, "issue_event_type_name", json_string(talk[i]));
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_nonnull(s.ev[0]); /* the fixture's changelog changed the status */
        sink_free(&s);
        json_object_del(root, "changelog");
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_msg(strstr(s.why[0], talk[i]) && strstr(s.why[0], "a comment"), "%s", s.why[0]);
        sink_free(&s);
        json_decref(root);
    }
    /* a comment body (no issue update in it): still Jira's by shape, ignored */
    const char *body = "{\"timestamp\":1,\"webhookEvent\":\"comment_created\",\"comment\":{}}";
    sink_t s = {0};
    ck_assert_int_eq(decode(body, strlen(body), LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_JIRA);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    sink_free(&s);
}
END_TEST

START_TEST(jira_bad_input)
{
    static const struct {
        const char *path, *set, *want;
        int err;
    } cases[] = {
        {"issue.key", NULL, "field 'issue.key' is missing: it names the ticket", LH_EMISSING},
        {"issue.key", "7", "field 'issue.key' is missing", LH_EMISSING},
        {"timestamp", NULL, "field 'timestamp' is missing or not a number", LH_EDECODE},
        {"timestamp", "\"1606480436302\"", "field 'timestamp' is missing or not a number",
         LH_EDECODE},
        {"timestamp", "-5", "field 'timestamp' is missing or not a number", LH_EDECODE},
        {"timestamp", "1e300", "field 'timestamp' 1e+300 is out of range", LH_EDECODE},
        {"issue", "[]", "field 'issue' is missing", LH_EMISSING},
        {"webhookEvent", "5", "field 'webhookEvent' is missing", LH_EMISSING},
        {"issue.id", NULL, "field 'issue.id' is missing (and no X-Atlassian-Webhook-Identifier",
         LH_EMISSING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = fixture_json("jira/issue_updated.assembled.json");
        json_t *parent = root;
        const char *key = cases[i].path;
        if (!strncmp(key, "issue.", 6)) {
            parent = json_object_get(root, "issue");
            key += 6;
        }
        if (cases[i].set)
            json_object_set_new(parent, key, json_loads(cases[i].set, JSON_DECODE_ANY, NULL));
        else
            json_object_del(parent, key);
        sink_t s = {0};
        decode_json(root, LH_FMT_JIRA, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], cases[i].err);
        ck_assert_msg(strstr(s.why[0], cases[i].want), "case %zu: '%s' lacks '%s'", i, s.why[0],
                      cases[i].want);
        sink_free(&s);
        json_decref(root);
    }
    const char *arr = "[{\"webhookEvent\":\"jira:issue_updated\"}]";
    sink_t s = {0};
    decode(arr, strlen(arr), LH_FMT_JIRA, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_msg(strstr(s.why[0], "a Jira payload must be a JSON object"), "%s", s.why[0]);
    sink_free(&s);
}
END_TEST

/* --- signature and detection ------------------------------------------------------------------ */

static void
sign(const char *key, const void *body, size_t len, char *out, size_t outlen)
{
    unsigned char mac[32];
    unsigned ml = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key), body, len, mac, &ml));
    size_t k = (size_t)snprintf(out, outlen, "sha256=");
    for (unsigned i = 0; i < ml && k + 2 < outlen; i++)
        k += (size_t)snprintf(out + k, outlen - k, "%02x", mac[i]);
}

START_TEST(jira_signature)
{
    /* Atlassian's own test vector */
    char sig[100];
    sign("It's a Secret to Everybody", "Hello World!", 12, sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9");

    size_t len;
    char *b = fixture("jira/issue_updated.assembled.json", &len);
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_JIRA] = "It's a Secret to Everybody";
    sign(o.src.secret[LH_SRC_JIRA], b, len, sig, sizeof(sig));
    lh_kv_t h[] = {kv("X-Atlassian-Webhook-Identifier", WHID), kv("X-Hub-Signature", sig)};
    sink_t s = {0};
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    sign("another secret", b, len, sig, sizeof(sig));
    h[1] = kv("X-Hub-Signature", sig);
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "X-Hub-Signature header does not match the secret of "
                                   "[source.jira]"),
                  "%s", s.why[0]);
    sink_free(&s);
    decode(b, len, LH_FMT_AUTO, h, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "no X-Hub-Signature header"), "%s", s.why[0]);
    sink_free(&s);
    free(b);
}
END_TEST

START_TEST(jira_detection)
{
    json_t *root = fixture_json("jira/issue_updated.assembled.json");
    ck_assert(lh__is_jira(root));
    ck_assert_int_eq(lh__source_of_shape(root), LH_SRC_JIRA);
    json_decref(root);
    srcfix_no_other_source(lh__is_jira, "jira", "Jira");
    static const char *const formats[] = {
        "{\"id\":\"e1\",\"kind\":\"ticket\",\"ticket\":{\"ticket_id\":\"JRA-1\"}}",
        "{\"specversion\":\"1.0\",\"type\":\"dev.cdevents.ticket.created.0.1.0\",\"id\":\"x\"}",
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}",
        "{\"webhookEvent\":\"sprint_started\"}",
        "{\"webhookEvent\":\"\",\"issue\":{}}",
        "{\"webhookEvent\":1,\"issue\":{}}",
    };
    srcfix_refuses(lh__is_jira, formats, sizeof(formats) / sizeof(formats[0]), "Jira");
    /* the delivery header names the source, whatever the body */
    lh_kv_t h[] = {kv("x-atlassian-webhook-identifier", "1")};
    ck_assert_int_eq(lh_source_of_headers(h, 1), LH_SRC_JIRA);
    const char *body = "{\"webhookEvent\":\"sprint_started\"}";
    sink_t s = {0};
    ck_assert_int_eq(decode(body, strlen(body), LH_FMT_AUTO, h, 1, NULL, &s), LH_SRC_JIRA);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "jira-1");
    sink_free(&s);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("jira");
    const lh_test_case_t cases[] = {
        {"jira_issue_updated", jira_issue_updated, 0, 0},
        {"jira_approval_links_deploy", jira_approval_links_deploy, 0, 0},
        {"jira_types_and_states", jira_types_and_states, 0, 0},
        {"jira_fields", jira_fields, 0, 0},
        {"jira_ignored", jira_ignored, 0, 0},
        {"jira_bad_input", jira_bad_input, 0, 0},
        {"jira_signature", jira_signature, 0, 0},
        {"jira_detection", jira_detection, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
