/*
 * codec_tekton.c - Tekton Pipelines' CloudEvents (docs/sources.md, Tekton): the events of a
 * PipelineRun whose pipeline deploys ([source.tekton] pipelines, globs, "*deploy*" by default)
 * into deploy events; the events of other pipelines, of TaskRuns and of custom runs ignored with
 * a reason.
 *
 * Tekton sends each event in binary mode (the attributes in ce-* headers, the body a map with the
 * single root key "pipelineRun" or "taskRun" holding the whole object) or, through a broker, in
 * structured mode (a CloudEvent whose "data" is that map). The type is
 * dev.tekton.event.<pipelinerun|taskrun|run|customrun>.<started|running|successful|failed|
 * unknown>.v1. A body that lost its headers is read too: its kind from its root key, its state
 * from the run's Succeeded condition (True successful, False failed, else unknown).
 *
 * Identity: an event's id is "tk-" + the CloudEvent id (the ce-id header, the envelope's "id"),
 * which the sender keeps when it retries; without one "tk-<run uid>-<state>" (the namespace/name
 * when the run has no uid). The change (deploy_id) is "tk-<run uid>" for every event of one run.
 *
 * Mapping: started, running and unknown are a deploy started, successful succeeded, failed
 * failed. The pipeline is the label tekton.dev/pipeline, else spec.pipelineRef.name, else the
 * run's name. service = label app.kubernetes.io/name, else label app, else the param "service",
 * else the pipeline; version = the param version, revision or image-tag (in that order), else
 * the run's name; commit = the param commit or revision when it is 7 to 64 hex digits;
 * environment = label environment or env, else the param environment or env, else
 * [sources] default_environment (the namespace is where the pipeline runs, not where it
 * deploys: it is a label). Time: completionTime for successful and failed, else startTime; then
 * the condition's lastTransitionTime, the CloudEvent's time, the run's creationTimestamp.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

#define TYPE_PREFIX "dev.tekton.event."

typedef enum { RUN_NONE, RUN_PIPELINE, RUN_TASK, RUN_RUN, RUN_CUSTOM } run_kind_t;

static const char *const run_words[] = {[RUN_PIPELINE] = "pipelinerun",
                                        [RUN_TASK] = "taskrun",
                                        [RUN_RUN] = "run",
                                        [RUN_CUSTOM] = "customrun"};

static const char *const state_words[] = {"started", "running", "successful", "failed", "unknown"};

typedef struct {
    const lh__src_msg_t *m;
    lh_decode_sink_fn sink;
    void *arg;
    char id[192];
} tk_t;

/* The root key of a body: the run's object, NULL. */
static json_t *
run_of(json_t *data, run_kind_t *kind)
{
    json_t *v = json_object_get(data, "pipelineRun");
    if (json_is_object(v)) {
        *kind = RUN_PIPELINE;
        return v;
    }
    v = json_object_get(data, "taskRun");
    if (json_is_object(v)) {
        *kind = RUN_TASK;
        return v;
    }
    *kind = RUN_NONE;
    return NULL;
}

int
lh__is_tekton(json_t *obj)
{
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (json_object_get(obj, "specversion"))
        return type && !strncmp(type, TYPE_PREFIX, sizeof(TYPE_PREFIX) - 1);
    /* binary mode's body without its headers: "a map with a single root key" */
    run_kind_t k;
    json_t *run = run_of(obj, &k);
    return run && json_object_size(obj) == 1 && json_is_object(json_object_get(run, "metadata"));
}

/* A rejection of the payload, with the id once it is known. */
#define fail(t, err, ...)                                                                          \
    lh__source_reject((t)->sink, (t)->arg, (t)->id[0] ? (t)->id : NULL, (err), __VA_ARGS__)

/* "dev.tekton.event.<kind>.<state>.v<digits>" into *kind and *state (an index of state_words).
 * 1 when it is one, else 0. */
static int
parse_type(const char *type, run_kind_t *kind, int *state)
{
    if (strncmp(type, TYPE_PREFIX, sizeof(TYPE_PREFIX) - 1))
        return 0;
    const char *p = type + sizeof(TYPE_PREFIX) - 1;
    size_t n = strcspn(p, ".");
    *kind = RUN_NONE;
    for (int k = RUN_PIPELINE; k <= RUN_CUSTOM; k++)
        if (strlen(run_words[k]) == n && !strncmp(p, run_words[k], n))
            *kind = (run_kind_t)k;
    if (*kind == RUN_NONE || p[n] != '.')
        return 0;
    p += n + 1;
    n = strcspn(p, ".");
    *state = -1;
    for (int s = 0; s < (int)(sizeof(state_words) / sizeof(state_words[0])); s++)
        if (strlen(state_words[s]) == n && !strncmp(p, state_words[s], n))
            *state = s;
    if (*state < 0 || p[n] != '.' || p[n + 1] != 'v' || !p[n + 2])
        return 0;
    for (p += n + 2; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return 1;
}

/* The run's Succeeded condition (else its first), NULL. */
static json_t *
succeeded_condition(json_t *run)
{
    json_t *conds = json_object_get(json_object_get(run, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *type = lh__jstr(c, "type");
        if (type && !strcmp(type, "Succeeded"))
            return c;
    }
    c = json_array_get(conds, 0);
    return json_is_object(c) ? c : NULL;
}

/* A state from the condition, for a body that came without its type. */
static int
state_of_condition(json_t *cond)
{
    const char *st = lh__jstr(cond, "status");
    if (st && !strcmp(st, "True"))
        return 2; /* successful */
    if (st && !strcmp(st, "False"))
        return 3; /* failed */
    return 4;     /* unknown */
}

/* metadata.labels[key] (label keys hold dots: no lh__jstr path), NULL. */
static const char *
label_of(json_t *run, const char *key)
{
    json_t *labels = json_object_get(json_object_get(run, "metadata"), "labels");
    const char *v = json_string_value(json_object_get(labels, key));
    return v && *v ? v : NULL;
}

/* The first string value of spec.params[name == key], NULL (an array or object value is none). */
static const char *
param_of(json_t *run, const char *key)
{
    json_t *params = json_object_get(json_object_get(run, "spec"), "params");
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = lh__jstr(p, "name");
        const char *v = lh__jstr(p, "value");
        if (name && v && !strcmp(name, key))
            return v;
    }
    return NULL;
}

static int
is_sha(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 7 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int
add_label(lh_event_t *ev, const char *k, const char *v)
{
    return v ? lh_event_add_label(ev, k, strlen(k), v, strlen(v)) : 0;
}

/* The deploy of one PipelineRun event; the pipelines that do not deploy are ignored. */
static int
pipelinerun(tk_t *t, json_t *run, int state, const char *type, const char *ce_time)
{
    json_t *meta = json_object_get(run, "metadata");
    const char *name = lh__jstr(meta, "name");
    if (!name)
        return fail(t, LH_EMISSING, "field 'pipelineRun.metadata.name' is missing (%s)", type);
    const char *ns = lh__jstr(meta, "namespace");
    const char *pipeline = label_of(run, "tekton.dev/pipeline");
    if (!pipeline)
        pipeline = lh__jstr(run, "spec.pipelineRef.name");
    if (!pipeline)
        pipeline = name;
    const char *pats = t->m->conf && t->m->conf->tekton_pipelines && *t->m->conf->tekton_pipelines
                           ? t->m->conf->tekton_pipelines
                           : "*deploy*";
    if (!lh__glob_list_match(pats, pipeline))
        return lh__source_ignore(t->sink, t->arg, t->id[0] ? t->id : NULL,
                                 "tekton pipelinerun %s of pipeline '%s': not one of "
                                 "[source.tekton] pipelines (%s)",
                                 name, pipeline, pats);

    json_t *cond = succeeded_condition(run);
    int done = state == 2 || state == 3;
    const struct {
        const char *v, *field;
    } when[] = {
        {done ? lh__jstr(run, "status.completionTime") : lh__jstr(run, "status.startTime"),
         done ? "pipelineRun.status.completionTime" : "pipelineRun.status.startTime"},
        {lh__jstr(cond, "lastTransitionTime"),
         "pipelineRun.status.conditions[Succeeded].lastTransitionTime"},
        {ce_time, "the CloudEvent's time"},
        {lh__jstr(meta, "creationTimestamp"), "pipelineRun.metadata.creationTimestamp"},
    };
    int64_t ns_time = 0;
    size_t w = 0;
    while (w < sizeof(when) / sizeof(when[0]) && !when[w].v)
        w++;
    if (w == sizeof(when) / sizeof(when[0]))
        return fail(t, LH_EMISSING,
                    "pipelinerun %s has no time: field 'pipelineRun.status.%s' is missing", name,
                    done ? "completionTime" : "startTime");
    if (lh_time_parse(when[w].v, &ns_time) < 0)
        return fail(t, LH_EDECODE, "field '%s' of pipelinerun %s: '%s' is not an RFC 3339 time",
                    when[w].field, name, when[w].v);

    const char *svc = label_of(run, "app.kubernetes.io/name");
    if (!svc)
        svc = label_of(run, "app");
    if (!svc)
        svc = param_of(run, "service");
    if (!svc)
        svc = pipeline;
    const char *version = param_of(run, "version");
    if (!version)
        version = param_of(run, "revision");
    if (!version)
        version = param_of(run, "image-tag");
    if (!version)
        version = name;
    const char *commit = param_of(run, "commit");
    if (!is_sha(commit))
        commit = param_of(run, "revision");
    if (!is_sha(commit))
        commit = NULL;
    const char *env = label_of(run, "environment");
    if (!env)
        env = label_of(run, "env");
    if (!env)
        env = param_of(run, "environment");
    if (!env)
        env = param_of(run, "env");
    if (!env)
        env = lh__source_env(t->m);

    char deploy_id[192];
    const char *uid = lh__jstr(meta, "uid");
    if (uid)
        snprintf(deploy_id, sizeof(deploy_id), "tk-%s", uid);
    else
        snprintf(deploy_id, sizeof(deploy_id), "tk-%s/%s", ns ? ns : "", name);

    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    ev->kind = LH_KIND_DEPLOY;
    ev->time_ns = ns_time;
    ev->deploy.status = state == 2   ? LH_DEPLOY_SUCCEEDED
                        : state == 3 ? LH_DEPLOY_FAILED
                                     : LH_DEPLOY_STARTED;
    if (lh__event_set_str(ev, &ev->id, t->id) < 0 ||
        lh__event_set_str(ev, &ev->source, "tekton") < 0 ||
        lh__event_set_str(ev, &ev->service, svc) < 0 ||
        lh__event_set_str(ev, &ev->environment, env) < 0 ||
        lh__event_set_str(ev, &ev->deploy.deploy_id, deploy_id) < 0 ||
        lh__event_set_str(ev, &ev->deploy.version, version) < 0 ||
        lh__event_set_str(ev, &ev->deploy.commit, commit) < 0 ||
        add_label(ev, "pipeline", pipeline) < 0 || add_label(ev, "pipelinerun", name) < 0 ||
        add_label(ev, "namespace", ns) < 0 ||
        add_label(ev, "reason", lh__jstr(cond, "reason")) < 0 ||
        add_label(ev, "tekton_event", state_words[state]) < 0) {
        lh_event_destroy(&ev);
        return LH_ENOMEM;
    }
    t->sink(ev, 0, ev->id, NULL, t->arg);
    return 1;
}

int
lh__tekton_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    tk_t t = {.m = m, .sink = sink, .arg = arg};
    char tbuf[256], timebuf[64];
    json_t *data = obj;
    const char *type, *ce_id, *ce_time;
    int structured = json_object_get(obj, "specversion") != NULL;
    if (structured) {
        type = lh__jstr(obj, "type");
        ce_id = lh__jstr(obj, "id");
        ce_time = lh__jstr(obj, "time");
        data = json_object_get(obj, "data");
        if (ce_id)
            snprintf(t.id, sizeof(t.id), "tk-%s", ce_id);
        if (!json_is_object(data))
            return fail(&t, LH_EDECODE,
                        "field 'data' of the structured CloudEvent must be an object (the "
                        "pipelineRun or taskRun), got %s",
                        json_object_get(obj, "data_base64") ? "data_base64"
                        : data                              ? lh__json_type_name(data)
                                                            : "none");
    } else {
        type = lh__header_str(m->headers, m->n_headers, "ce-type", tbuf, sizeof(tbuf));
        ce_id = m->delivery;
        ce_time = lh__header_str(m->headers, m->n_headers, "ce-time", timebuf, sizeof(timebuf));
        if (ce_id)
            snprintf(t.id, sizeof(t.id), "tk-%s", ce_id);
    }

    run_kind_t kind, body_kind;
    int state = 4;
    json_t *run = run_of(data, &body_kind);
    if (type) {
        if (!parse_type(type, &kind, &state))
            return fail(&t, LH_EDECODE,
                        "%s '%s' is not a Tekton event type "
                        "(dev.tekton.event.<pipelinerun|taskrun|run|customrun>.<started|running|"
                        "successful|failed|unknown>.v1)",
                        structured ? "type" : "ce-type", type);
    } else {
        if (!run)
            return fail(&t, LH_EMISSING,
                        "no ce-type header and no 'pipelineRun' or 'taskRun' object in the body: "
                        "not a Tekton event");
        kind = body_kind;
        state = state_of_condition(succeeded_condition(run));
        type = kind == RUN_PIPELINE ? "a pipelinerun without its ce-type"
                                    : "a taskrun without its ce-type";
    }
    json_t *meta = json_object_get(run, "metadata");
    const char *uid = lh__jstr(meta, "uid"), *name = lh__jstr(meta, "name");
    const char *ns = lh__jstr(meta, "namespace");
    if (!t.id[0] && uid)
        snprintf(t.id, sizeof(t.id), "tk-%s-%s", uid, state_words[state]);
    else if (!t.id[0] && name)
        snprintf(t.id, sizeof(t.id), "tk-%s/%s-%s", ns ? ns : "", name, state_words[state]);
    const char *idp = t.id[0] ? t.id : NULL;
    if (kind == RUN_TASK)
        return lh__source_ignore(sink, arg, idp,
                                 "tekton taskrun events are not read: the pipelinerun's events "
                                 "are (taskrun %s, %s)",
                                 name && body_kind == RUN_TASK ? name : "(no name)",
                                 state_words[state]);
    if (kind != RUN_PIPELINE)
        return lh__source_ignore(sink, arg, idp,
                                 "tekton %s events are not read: custom runs are no deploy, the "
                                 "pipelinerun's events are",
                                 run_words[kind]);
    if (body_kind != RUN_PIPELINE)
        return fail(&t, LH_EMISSING, "field 'pipelineRun' is missing or not an object (%s)", type);
    return pipelinerun(&t, run, state, type, ce_time);
}
