/*
 * check_tekton.c - the Tekton CloudEvents decoder (codec_tekton.c) on the event Tekton publishes
 * (tests/data/sources/tekton, README.md there says where it came from): a TaskRun event in
 * binary mode (its body and the ce-* headers the page lists), ignored; PipelineRun events of a
 * pipeline that deploys into deploys, in binary and structured mode; the pipelines setting; the
 * service, version, commit and environment fallbacks; identity with and without a CloudEvent id;
 * a body without its headers; detection by header, shape and route; every rejection.
 *
 * Tekton publishes no PipelineRun event: every PipelineRun here is the TaskRun fixture with its
 * root key and the fields a PipelineRun has changed (marked "variation").
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define SRCFIX_MAX_CALLS 8
#include "srcfix.h"
#define MAX_HEADERS 16

#define CE_ID "77f78ae7-ff6d-4e39-9d05-b9a0b7850527"
#define UID "4ccb4f01-3ecc-4eb4-87e1-76f04efeee5c"
#define RUN "deploy-api-run-x7k2p"
#define SHA "0123456789abcdef0123456789abcdef01234567"

/* The headers of taskrun-unknown.headers.txt ("Name": "value", one a line), with ce-type and
 * ce-id replaced when type / id are not NULL (id "" drops ce-id). */
typedef struct {
    char text[4096];
    lh_kv_t h[MAX_HEADERS];
    size_t n;
} headers_t;

static void
fixture_headers(headers_t *hs, const char *type, const char *id)
{
    size_t len;
    char *b = fixture("tekton/taskrun-unknown.headers.txt", &len);
    ck_assert_int_lt((int)len, (int)sizeof(hs->text));
    memcpy(hs->text, b, len);
    hs->text[len] = 0;
    free(b);
    hs->n = 0;
    for (char *line = strtok(hs->text, "\n"); line; line = strtok(NULL, "\n")) {
        /* "Key": "Value", */
        char *k = strchr(line, '"');
        char *ke = k ? strchr(k + 1, '"') : NULL;
        char *v = ke ? strchr(ke + 1, '"') : NULL;
        char *ve = v ? strrchr(v + 1, '"') : NULL;
        ck_assert_msg(ve && ve > v, "bad header line %s", line);
        *ke = 0;
        *ve = 0;
        ck_assert_int_lt((int)hs->n, MAX_HEADERS);
        const char *val = v + 1;
        if (type && !strcmp(k + 1, "Ce-Type"))
            val = type;
        if (id && !strcmp(k + 1, "Ce-Id")) {
            if (!*id)
                continue;
            val = id;
        }
        hs->h[hs->n++] = (lh_kv_t){k + 1, val, strlen(val)};
    }
    ck_assert_int_eq((int)hs->n, id && !*id ? 10 : 11);
}

/* Variation: the TaskRun fixture made a PipelineRun of pipeline deploy-api (root key
 * pipelineRun, its name, the pipeline label instead of the task's, a pipelineRef instead of a
 * taskRef, a completionTime). Returns the body; *run its pipelineRun. */
static json_t *
pipelinerun_variation(json_t **run)
{
    json_t *root = fixture_json("tekton/taskrun-unknown.json");
    json_t *r = json_object_get(root, "taskRun");
    ck_assert_ptr_nonnull(r);
    json_incref(r);
    json_object_del(root, "taskRun");
    json_object_set_new(root, "pipelineRun", r);
    json_t *meta = json_object_get(r, "metadata");
    json_object_set_new(meta, "name", json_string(RUN));
    json_object_set_new(meta, "generateName", json_string("deploy-api-run-"));
    json_t *labels = json_object_get(meta, "labels");
    json_object_del(labels, "tekton.dev/task");
    json_object_set_new(labels, "tekton.dev/pipeline", json_string("deploy-api"));
    json_t *spec = json_object_get(r, "spec");
    json_object_del(spec, "taskRef");
    json_object_set_new(spec, "pipelineRef", json_pack("{s:s}", "name", "deploy-api"));
    json_object_set_new(json_object_get(r, "status"), "completionTime",
                        json_string("2021-01-29T14:49:30Z"));
    *run = r;
    return root;
}

/* The run's Succeeded condition (a variation sets its status and reason). */
static void
set_condition(json_t *run, const char *status, const char *reason)
{
    json_t *c = json_array_get(json_object_get(json_object_get(run, "status"), "conditions"), 0);
    ck_assert_ptr_nonnull(c);
    json_object_set_new(c, "status", json_string(status));
    json_object_set_new(c, "reason", json_string(reason));
}

/* Variation: a body in a structured CloudEvent of type type, id id (NULL: none). */
static json_t *
envelope(json_t *data, const char *type, const char *id)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "specversion", "1.0", "source",
                          "/apis/tekton.dev/v1beta1/namespaces/default/pipelineruns/" RUN, "type",
                          type, "time", "2021-01-29T14:47:58.157819Z", "datacontenttype",
                          "application/json", "data", data);
    ck_assert_ptr_nonnull(e);
    if (id)
        json_object_set_new(e, "id", json_string(id));
    return e;
}

/* --- TaskRun: the published event ------------------------------------------------------------ */

START_TEST(tekton_taskrun_binary)
{
    size_t len;
    char *b = fixture("tekton/taskrun-unknown.json", &len);
    headers_t hs;
    fixture_headers(&hs, NULL, NULL);
    sink_t s = {0};
    /* told by its ce-type header on /v1/events */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, hs.h, hs.n, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "tk-" CE_ID);
    ck_assert_msg(strstr(s.why[0], "tekton taskrun events are not read: the pipelinerun's events "
                                   "are (taskrun curl-run-6gplk, unknown)"),
                  "%s", s.why[0]);
    sink_free(&s);
    /* by its route */
    ck_assert_int_eq(decode(b, len, LH_FMT_TEKTON, hs.h, hs.n, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "tk-" CE_ID);
    sink_free(&s);
    /* without its headers: told by its shape, the id from the run's uid and its condition */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "tk-" UID "-unknown");
    ck_assert_msg(strstr(s.why[0], "taskrun curl-run-6gplk"), "%s", s.why[0]);
    sink_free(&s);
    /* every state of a taskrun is ignored (variations of the ce-type) */
    static const char *const states[] = {"started", "running", "successful", "failed"};
    for (size_t i = 0; i < 4; i++) {
        char type[96];
        snprintf(type, sizeof(type), "dev.tekton.event.taskrun.%s.v1", states[i]);
        fixture_headers(&hs, type, "");
        decode(b, len, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        char want[96];
        snprintf(want, sizeof(want), "tk-" UID "-%s", states[i]);
        ck_assert_str_eq(s.id[0], want);
        ck_assert_msg(strstr(s.why[0], states[i]), "%s", s.why[0]);
        sink_free(&s);
    }
    free(b);
}
END_TEST

/* --- PipelineRun: deploys -------------------------------------------------------------------- */

START_TEST(tekton_pipelinerun_binary)
{
    json_t *run;
    json_t *root = pipelinerun_variation(&run);
    headers_t hs;
    fixture_headers(&hs, "dev.tekton.event.pipelinerun.unknown.v1", NULL);
    sink_t s = {0};
    ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "%s", s.why[0]);
    ck_assert_str_eq(ev->id, "tk-" CE_ID);
    ck_assert_str_eq(ev->source, "tekton");
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_STARTED);
    ck_assert_str_eq(ev->deploy.deploy_id, "tk-" UID);
    ck_assert_str_eq(ev->service, "deploy-api");
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_str_eq(ev->deploy.version, RUN);
    ck_assert_ptr_null(ev->deploy.commit);
    ck_assert_int_eq(ev->time_ns, at("2021-01-29T14:47:57Z"));
    ck_assert_str_eq(label(ev, "pipeline"), "deploy-api");
    ck_assert_str_eq(label(ev, "pipelinerun"), RUN);
    ck_assert_str_eq(label(ev, "namespace"), "default");
    ck_assert_str_eq(label(ev, "reason"), "Pending");
    ck_assert_str_eq(label(ev, "tekton_event"), "unknown");
    ck_assert_int_eq(ev->raw_format, LH_FMT_TEKTON);
    ck_assert_uint_gt(ev->raw_len, 0);
    char why[200];
    ck_assert_msg(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)) == 0, "%s", why);
    sink_free(&s);

    /* every state (variations of ce-type and the condition) */
    static const struct {
        const char *state, *cond, *reason, *when;
        lh_deploy_status_t want;
    } cases[] = {
        {"started", "Unknown", "Started", "2021-01-29T14:47:57Z", LH_DEPLOY_STARTED},
        {"running", "Unknown", "Running", "2021-01-29T14:47:57Z", LH_DEPLOY_STARTED},
        {"unknown", "Unknown", "Running", "2021-01-29T14:47:57Z", LH_DEPLOY_STARTED},
        {"successful", "True", "Succeeded", "2021-01-29T14:49:30Z", LH_DEPLOY_SUCCEEDED},
        {"failed", "False", "Failed", "2021-01-29T14:49:30Z", LH_DEPLOY_FAILED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char type[96], id[64];
        snprintf(type, sizeof(type), "dev.tekton.event.pipelinerun.%s.v1", cases[i].state);
        snprintf(id, sizeof(id), "ce-%zu", i);
        set_condition(run, cases[i].cond, cases[i].reason);
        fixture_headers(&hs, type, id);
        decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_msg(s.ev[0] != NULL, "%s: %s", cases[i].state, s.why[0]);
        ck_assert_int_eq(s.ev[0]->deploy.status, cases[i].want);
        ck_assert_int_eq(s.ev[0]->time_ns, at(cases[i].when));
        ck_assert_str_eq(label(s.ev[0], "reason"), cases[i].reason);
        ck_assert_str_eq(label(s.ev[0], "tekton_event"), cases[i].state);
        char want[80];
        snprintf(want, sizeof(want), "tk-%s", id);
        ck_assert_str_eq(s.ev[0]->id, want);
        ck_assert_str_eq(s.ev[0]->deploy.deploy_id, "tk-" UID); /* one change, every state */
        sink_free(&s);
        /* without ce-id: the run's uid and the state, the same on a redelivery */
        fixture_headers(&hs, type, "");
        for (int k = 0; k < 2; k++) {
            decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
            snprintf(want, sizeof(want), "tk-" UID "-%s", cases[i].state);
            ck_assert_str_eq(s.ev[0]->id, want);
            sink_free(&s);
        }
    }
    json_decref(root);
}
END_TEST

/* Structured mode: the CloudEvent's id, type and time from the envelope. */
START_TEST(tekton_structured)
{
    json_t *run;
    json_t *body = pipelinerun_variation(&run);
    set_condition(run, "True", "Succeeded");
    json_t *e = envelope(body, "dev.tekton.event.pipelinerun.successful.v1", "ev-42");
    sink_t s = {0};
    /* told by its shape, with no header, and with a structured content type */
    ck_assert_int_eq(decode_json(e, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "%s", s.why[0]);
    ck_assert_str_eq(ev->id, "tk-ev-42");
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq(ev->deploy.deploy_id, "tk-" UID);
    ck_assert_str_eq(ev->service, "deploy-api");
    ck_assert_int_eq(ev->time_ns, at("2021-01-29T14:49:30Z"));
    ck_assert_int_eq(ev->raw_format, LH_FMT_TEKTON);
    sink_free(&s);
    lh_kv_t h[] = {kv("Content-Type", "application/cloudevents+json; charset=utf-8")};
    ck_assert_int_eq(decode_json(e, LH_FMT_AUTO, h, 1, NULL, &s), LH_SRC_TEKTON);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, "tk-ev-42");
    sink_free(&s);
    /* a redelivery: the same id */
    ck_assert_int_eq(decode_json(e, LH_FMT_TEKTON, NULL, 0, NULL, &s), LH_SRC_TEKTON);
    ck_assert_str_eq(s.ev[0]->id, "tk-ev-42");
    sink_free(&s);
    /* the envelope's type wins over the run's condition: failed */
    json_object_set_new(e, "type", json_string("dev.tekton.event.pipelinerun.failed.v1"));
    decode_json(e, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.ev[0]->deploy.status, LH_DEPLOY_FAILED);
    sink_free(&s);
    /* no id: derived; no time anywhere but the envelope's */
    json_object_del(e, "id");
    json_t *status = json_object_get(run, "status");
    json_object_del(status, "completionTime");
    json_object_del(json_array_get(json_object_get(status, "conditions"), 0), "lastTransitionTime");
    json_object_set_new(e, "data", json_incref(body));
    decode_json(e, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, "tk-" UID "-failed");
    ck_assert_int_eq(s.ev[0]->time_ns, at("2021-01-29T14:47:58.157819Z"));
    sink_free(&s);
    /* and then the run's creation */
    json_object_del(e, "time");
    decode_json(e, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.ev[0]->time_ns, at("2021-01-29T14:47:57Z"));
    sink_free(&s);
    /* a taskrun in structured mode: ignored with the envelope's id */
    json_t *task = fixture_json("tekton/taskrun-unknown.json");
    json_t *te = envelope(task, "dev.tekton.event.taskrun.successful.v1", "ev-43");
    ck_assert_int_eq(decode_json(te, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "tk-ev-43");
    sink_free(&s);
    json_decref(te);
    json_decref(task);
    json_decref(e);
    json_decref(body);
}
END_TEST

/* A body that lost its headers: its state from the run's Succeeded condition. */
START_TEST(tekton_body_without_type)
{
    json_t *run;
    json_t *root = pipelinerun_variation(&run);
    static const struct {
        const char *cond, *state;
        lh_deploy_status_t want;
    } cases[] = {
        {"Unknown", "unknown", LH_DEPLOY_STARTED},
        {"True", "successful", LH_DEPLOY_SUCCEEDED},
        {"False", "failed", LH_DEPLOY_FAILED},
    };
    for (size_t i = 0; i < 3; i++) {
        set_condition(run, cases[i].cond, "X");
        sink_t s = {0};
        ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_TEKTON);
        ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
        ck_assert_int_eq(s.ev[0]->deploy.status, cases[i].want);
        char want[80];
        snprintf(want, sizeof(want), "tk-" UID "-%s", cases[i].state);
        ck_assert_str_eq(s.ev[0]->id, want);
        sink_free(&s);
    }
    /* no conditions at all: unknown; no uid: namespace/name */
    json_object_del(json_object_get(run, "status"), "conditions");
    json_object_del(json_object_get(run, "metadata"), "uid");
    sink_t s = {0};
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq(s.ev[0]->deploy.status, LH_DEPLOY_STARTED);
    ck_assert_str_eq(s.ev[0]->id, "tk-default/" RUN "-unknown");
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, "tk-default/" RUN);
    ck_assert_str_eq(label(s.ev[0], "reason"), "");
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* The pipeline's name and the pipelines setting. */
START_TEST(tekton_pipelines_setting)
{
    json_t *run;
    json_t *root = pipelinerun_variation(&run);
    json_t *meta = json_object_get(run, "metadata");
    json_t *labels = json_object_get(meta, "labels");
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    sink_t s = {0};
    /* the default "*deploy*", with settings whose pipelines are unset */
    decode_json(root, LH_FMT_TEKTON, NULL, 0, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    /* variation: a pipeline that does not deploy */
    json_object_set_new(labels, "tekton.dev/pipeline", json_string("build-and-test"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "tk-" UID "-unknown");
    ck_assert_msg(strstr(s.why[0], "tekton pipelinerun " RUN " of pipeline 'build-and-test': not "
                                   "one of [source.tekton] pipelines (*deploy*)"),
                  "%s", s.why[0]);
    sink_free(&s);
    /* ... that the setting names (globs, a list, any case) */
    o.src.tekton_pipelines = "release-*, BUILD-AND-*";
    decode_json(root, LH_FMT_TEKTON, NULL, 0, &o, &s);
    ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
    ck_assert_str_eq(label(s.ev[0], "pipeline"), "build-and-test");
    sink_free(&s);
    o.src.tekton_pipelines = "release-*";
    decode_json(root, LH_FMT_TEKTON, NULL, 0, &o, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "(release-*)"), "%s", s.why[0]);
    sink_free(&s);
    /* without the label: spec.pipelineRef.name, then the run's name */
    json_object_del(labels, "tekton.dev/pipeline");
    json_object_set_new(json_object_get(json_object_get(run, "spec"), "pipelineRef"), "name",
                        json_string("release-web"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, &o, &s);
    ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
    ck_assert_str_eq(label(s.ev[0], "pipeline"), "release-web");
    ck_assert_str_eq(s.ev[0]->service, "release-web");
    sink_free(&s);
    json_object_del(json_object_get(run, "spec"), "pipelineRef");
    decode_json(root, LH_FMT_TEKTON, NULL, 0, &o, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "of pipeline '" RUN "'"), "%s", s.why[0]);
    sink_free(&s);
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s); /* the run's name has "deploy" */
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(label(s.ev[0], "pipeline"), RUN);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* Service, version, commit and environment from labels and params (variations). */
START_TEST(tekton_mapping)
{
    json_t *run;
    json_t *root = pipelinerun_variation(&run);
    json_t *labels = json_object_get(json_object_get(run, "metadata"), "labels");
    json_t *params = json_object_get(json_object_get(run, "spec"), "params");
    sink_t s = {0};
    /* params: service, then version over revision over image-tag; an array value is none */
    json_array_append_new(params, json_pack("{s:s,s:[s]}", "name", "version", "value", "x"));
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "image-tag", "value", "1.4.2"));
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "service", "value", "billing"));
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "env", "value", "staging"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
    ck_assert_str_eq(s.ev[0]->service, "billing");
    ck_assert_str_eq(s.ev[0]->deploy.version, "1.4.2");
    ck_assert_str_eq(s.ev[0]->environment, "staging");
    ck_assert_ptr_null(s.ev[0]->deploy.commit);
    sink_free(&s);
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "revision", "value", SHA));
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "environment", "value", "canary"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, SHA);
    ck_assert_str_eq(s.ev[0]->deploy.commit, SHA);
    ck_assert_str_eq(s.ev[0]->environment, "canary");
    sink_free(&s);
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "version", "value", "v2.0.0"));
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "commit", "value", "abc1234"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, "v2.0.0");
    ck_assert_str_eq(s.ev[0]->deploy.commit, "abc1234");
    sink_free(&s);
    /* labels win over params: app, then app.kubernetes.io/name; env, then environment */
    json_object_set_new(labels, "app", json_string("web"));
    json_object_set_new(labels, "env", json_string("qa"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->service, "web");
    ck_assert_str_eq(s.ev[0]->environment, "qa");
    sink_free(&s);
    json_object_set_new(labels, "app.kubernetes.io/name", json_string("api"));
    json_object_set_new(labels, "environment", json_string("prod-eu"));
    decode_json(root, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->service, "api");
    ck_assert_str_eq(s.ev[0]->environment, "prod-eu");
    sink_free(&s);
    /* a revision that is a branch is a version, not a commit; no environment: the default */
    json_array_clear(params);
    json_object_del(labels, "env");
    json_object_del(labels, "environment");
    json_array_append_new(params, json_pack("{s:s,s:s}", "name", "revision", "value", "main"));
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.default_env = "prd";
    decode_json(root, LH_FMT_TEKTON, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, "main");
    ck_assert_ptr_null(s.ev[0]->deploy.commit);
    ck_assert_str_eq(s.ev[0]->environment, "prd");
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* Custom runs are ignored; the source can be turned off. */
START_TEST(tekton_ignored_and_off)
{
    size_t len;
    char *b = fixture("tekton/taskrun-unknown.json", &len);
    static const char *const types[] = {"dev.tekton.event.run.started.v1",
                                        "dev.tekton.event.customrun.successful.v1"};
    for (size_t i = 0; i < 2; i++) {
        headers_t hs;
        fixture_headers(&hs, types[i], NULL);
        sink_t s = {0};
        ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, hs.h, hs.n, NULL, &s), LH_SRC_TEKTON);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_str_eq(s.id[0], "tk-" CE_ID);
        ck_assert_msg(strstr(s.why[0], i ? "tekton customrun events are not read"
                                         : "tekton run events are not read"),
                      "%s", s.why[0]);
        sink_free(&s);
    }
    /* off: refused before the decoder; a secret is no check (Tekton signs nothing) */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.off[LH_SRC_TEKTON] = 1;
    headers_t hs;
    fixture_headers(&hs, NULL, NULL);
    sink_t s = {0};
    decode(b, len, LH_FMT_AUTO, hs.h, hs.n, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "the Tekton source is off"), "%s", s.why[0]);
    sink_free(&s);
    o.src.off[LH_SRC_TEKTON] = 0;
    o.src.secret[LH_SRC_TEKTON] = "s3cret";
    decode(b, len, LH_FMT_AUTO, hs.h, hs.n, &o, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    sink_free(&s);
    free(b);
}
END_TEST

/* Every rejection: a reason naming the field, nothing accepted. */
START_TEST(tekton_bad_input)
{
    json_t *run;
    json_t *root = pipelinerun_variation(&run);
    sink_t s = {0};
    headers_t hs;
    /* ce-types Tekton does not send: an unknown state, kind or version; another prefix (only
     * by route: on /v1/events such a header is no Tekton's) */
    static const struct {
        const char *type;
        lh_format_t hint;
    } types[] = {
        {"dev.tekton.event.pipelinerun.exploded.v1", LH_FMT_AUTO},
        {"dev.tekton.event.stagerun.started.v1", LH_FMT_AUTO},
        {"dev.tekton.event.pipelinerun.started", LH_FMT_AUTO},
        {"dev.tekton.event.pipelinerun.started.v", LH_FMT_AUTO},
        {"dev.tekton.event.pipelinerun.started.v1x", LH_FMT_AUTO},
        {"dev.tekton.event.pipelinerun", LH_FMT_AUTO},
        {"dev.cdevents.pipelinerun.started.0.1.0", LH_FMT_TEKTON},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        fixture_headers(&hs, types[i].type, NULL);
        ck_assert_int_eq(decode_json(root, types[i].hint, hs.h, hs.n, NULL, &s), LH_SRC_TEKTON);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_EDECODE);
        ck_assert_str_eq(s.id[0], "tk-" CE_ID);
        char want[160];
        snprintf(want, sizeof(want), "ce-type '%s' is not a Tekton event type", types[i].type);
        ck_assert_msg(strstr(s.why[0], want), "'%s' lacks '%s'", s.why[0], want);
        sink_free(&s);
    }
    /* a pipelinerun type over a taskRun body */
    {
        json_t *task = fixture_json("tekton/taskrun-unknown.json");
        fixture_headers(&hs, "dev.tekton.event.pipelinerun.started.v1", NULL);
        decode_json(task, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
        ck_assert_int_eq(s.err[0], LH_EMISSING);
        ck_assert_msg(strstr(s.why[0], "field 'pipelineRun' is missing or not an object "
                                       "(dev.tekton.event.pipelinerun.started.v1)"),
                      "%s", s.why[0]);
        sink_free(&s);
        json_decref(task);
    }
    /* no type and no run: on the route */
    const char *none = "{\"pipelineRun\":\"x\"}";
    ck_assert_int_eq(decode(none, strlen(none), LH_FMT_TEKTON, NULL, 0, NULL, &s), LH_SRC_TEKTON);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "no ce-type header and no 'pipelineRun' or 'taskRun' object"),
                  "%s", s.why[0]);
    sink_free(&s);
    /* the run's name */
    fixture_headers(&hs, "dev.tekton.event.pipelinerun.started.v1", NULL);
    json_t *meta = json_object_get(run, "metadata");
    json_object_set_new(meta, "name", json_integer(3));
    decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "field 'pipelineRun.metadata.name' is missing"), "%s", s.why[0]);
    sink_free(&s);
    json_object_set_new(meta, "name", json_string(RUN));
    /* times: one that is not a time; none at all (the ce-time header dropped) */
    json_t *status = json_object_get(run, "status");
    json_object_set_new(status, "startTime", json_string("yesterday"));
    decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_msg(strstr(s.why[0], "field 'pipelineRun.status.startTime' of pipelinerun " RUN
                                   ": 'yesterday' is not an RFC 3339 time"),
                  "%s", s.why[0]);
    sink_free(&s);
    json_object_set_new(status, "completionTime", json_string("2021-02-30T10:00:00Z"));
    fixture_headers(&hs, "dev.tekton.event.pipelinerun.failed.v1", NULL);
    decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_msg(strstr(s.why[0], "field 'pipelineRun.status.completionTime'"), "%s", s.why[0]);
    sink_free(&s);
    json_object_del(status, "completionTime");
    json_object_del(status, "conditions");
    json_object_del(meta, "creationTimestamp");
    lh_kv_t nt[MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < hs.n; i++)
        if (strcmp(hs.h[i].key, "Ce-Time"))
            nt[n++] = hs.h[i];
    ck_assert_int_eq((int)n, (int)hs.n - 1);
    decode_json(root, LH_FMT_AUTO, nt, n, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "pipelinerun " RUN " has no time: field "
                                   "'pipelineRun.status.completionTime' is missing"),
                  "%s", s.why[0]);
    sink_free(&s);
    /* with the ce-time header: that time */
    decode_json(root, LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq(s.ev[0]->time_ns, at("2021-01-29T14:47:58.157819Z"));
    sink_free(&s);

    /* structured mode: data that is no object, data_base64, none; a type of another prefix */
    json_t *e = envelope(root, "dev.tekton.event.pipelinerun.started.v1", "ev-1");
    static const struct {
        const char *data, *want;
    } datas[] = {
        {"\"{}\"", "got a string"},
        {NULL, "got data_base64"},
        {"", "got none"},
    };
    for (size_t i = 0; i < 3; i++) {
        json_object_del(e, "data");
        json_object_del(e, "data_base64");
        if (!datas[i].data)
            json_object_set_new(e, "data_base64", json_string("e30="));
        else if (*datas[i].data)
            json_object_set_new(e, "data", json_loads(datas[i].data, JSON_DECODE_ANY, NULL));
        ck_assert_int_eq(decode_json(e, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_TEKTON);
        ck_assert_int_eq(s.err[0], LH_EDECODE);
        ck_assert_str_eq(s.id[0], "tk-ev-1");
        ck_assert_msg(strstr(s.why[0], "field 'data' of the structured CloudEvent must be an "
                                       "object"),
                      "%s", s.why[0]);
        ck_assert_msg(strstr(s.why[0], datas[i].want), "%s lacks %s", s.why[0], datas[i].want);
        sink_free(&s);
    }
    json_object_del(e, "data_base64");
    json_object_set_new(e, "data", json_incref(root));
    json_object_set_new(e, "type", json_string("dev.cdevents.pipelinerun.started.0.1.0"));
    decode_json(e, LH_FMT_TEKTON, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_msg(strstr(s.why[0], "type 'dev.cdevents.pipelinerun.started.0.1.0' is not a "
                                   "Tekton event type"),
                  "%s", s.why[0]);
    sink_free(&s);
    json_decref(e);

    /* an array, not JSON */
    static const char *const raw[] = {"[{\"pipelineRun\":{}}]", "{\"pipelineRun\":"};
    static const char *const wants[] = {"a Tekton payload must be a JSON object", "invalid JSON"};
    for (size_t i = 0; i < 2; i++) {
        fixture_headers(&hs, NULL, NULL);
        decode(raw[i], strlen(raw[i]), LH_FMT_AUTO, hs.h, hs.n, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_EDECODE);
        ck_assert_msg(strstr(s.why[0], wants[i]), "'%s' lacks '%s'", s.why[0], wants[i]);
        sink_free(&s);
    }
    json_decref(root);
}
END_TEST

/* Tekton's bodies and envelopes are told by shape as Tekton's; no other source's fixture, nor
 * loophub's JSON, a CDEvent or Alertmanager, is taken for Tekton's. */
START_TEST(tekton_detection)
{
    json_t *run;
    json_t *pr = pipelinerun_variation(&run);
    json_t *task = fixture_json("tekton/taskrun-unknown.json");
    json_t *e = envelope(pr, "dev.tekton.event.pipelinerun.started.v1", "x");
    json_t *mine[] = {task, pr, e};
    for (size_t i = 0; i < 3; i++) {
        ck_assert(lh__is_tekton(mine[i]));
        ck_assert_int_eq(lh__source_of_shape(mine[i]), LH_SRC_TEKTON);
    }
    json_decref(e);
    srcfix_no_other_source(lh__is_tekton, "tekton", "Tekton");
    static const char *const formats[] = {
        "{\"id\":\"e1\",\"kind\":\"deploy\",\"service\":\"api\"}",
        "{\"specversion\":\"1.0\",\"type\":\"dev.cdevents.pipelinerun.started.0.1.0\",\"id\":"
        "\"x\"}",
        "{\"specversion\":\"1.0\",\"id\":\"x\",\"data\":{\"pipelineRun\":{\"metadata\":{}}}}",
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}",
        "{\"pipelineRun\":{\"metadata\":{}},\"other\":1}",
        "{\"taskRun\":{\"spec\":{}}}",
        "{\"type\":\"dev.tekton.event.pipelinerun.started.v1\"}",
    };
    srcfix_refuses(lh__is_tekton, formats, sizeof(formats) / sizeof(formats[0]), "Tekton");
    /* the other sources do not take Tekton's */
    ck_assert(!lh__is_github(pr) && !lh__is_gitlab(pr) && !lh__is_grafana(pr) &&
              !lh__is_pagerduty(pr) && !lh__is_jira(pr) && !lh__is_flux(pr));
    /* by the ce-type header alone, any case, whatever the body */
    lh_kv_t h[] = {kv("ce-specversion", "1.0"),
                   kv("CE-TYPE", "dev.tekton.event.pipelinerun.started.v1")};
    ck_assert_int_eq(lh_source_of_headers(h, 2), LH_SRC_TEKTON);
    h[1] = kv("ce-type", "dev.cdevents.pipelinerun.started.0.1.0");
    ck_assert_int_eq(lh_source_of_headers(h, 2), LH_SRC_NONE);
    json_decref(task);
    json_decref(pr);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("tekton");
    const lh_test_case_t cases[] = {
        {"tekton_taskrun_binary", tekton_taskrun_binary, 0, 0},
        {"tekton_pipelinerun_binary", tekton_pipelinerun_binary, 0, 0},
        {"tekton_structured", tekton_structured, 0, 0},
        {"tekton_body_without_type", tekton_body_without_type, 0, 0},
        {"tekton_pipelines_setting", tekton_pipelines_setting, 0, 0},
        {"tekton_mapping", tekton_mapping, 0, 0},
        {"tekton_ignored_and_off", tekton_ignored_and_off, 0, 0},
        {"tekton_bad_input", tekton_bad_input, 0, 0},
        {"tekton_detection", tekton_detection, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
