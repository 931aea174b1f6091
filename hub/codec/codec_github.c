/*
 * codec_github.c - GitHub webhooks (docs/sources.md, GitHub): deployment_status and deployment
 * into deploy events, workflow_run of the workflows [source.github] workflows names into
 * deploys, ping and everything else ignored with a reason.
 *
 * Identity: an event's id is "gh-" + the X-GitHub-Delivery GUID, which GitHub keeps when it
 * redelivers, so a redelivery dedupes in the store; a body that came without the header (a proxy
 * dropped it) gets "gh-<what>-<GitHub's own id of the status, deployment or run>". The change
 * (deploy_id) is "gh-<deployment id>" for every status of one deployment, "gh-run-<run id>" for a
 * workflow run.
 *
 * Mapping: service = repository name (or full_name), environment = the status's environment
 * (the deployment's otherwise), commit = the deployment's sha, version = its first 12 hex digits
 * (or payload.version when the deployment carries one), actor = the creator's login.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

int
lh__is_github(json_t *obj)
{
    json_t *repo = json_object_get(obj, "repository");
    if (!json_is_object(repo) || !json_object_get(repo, "full_name"))
        return 0;
    return json_is_object(json_object_get(obj, "deployment_status")) ||
           json_is_object(json_object_get(obj, "deployment")) ||
           json_is_object(json_object_get(obj, "workflow_run")) ||
           (json_object_get(obj, "zen") && json_object_get(obj, "hook_id"));
}

typedef struct {
    const lh__src_msg_t *m;
    lh_decode_sink_fn sink;
    void *arg;
    json_t *root;
    char id[160];
} gh_t;

__attribute__((format(printf, 3, 4))) static int
fail(gh_t *g, int err, const char *fmt, ...)
{
    char why[LH__WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    g->sink(NULL, err, g->id[0] ? g->id : NULL, why, g->arg);
    return 1;
}

/* The event id: from the delivery, else from GitHub's id of the thing (what: "ds", "d", "run"). */
static void
make_id(gh_t *g, const char *what, json_t *thing)
{
    json_t *id = json_object_get(thing, "id");
    if (g->m->delivery)
        snprintf(g->id, sizeof(g->id), "gh-%s", g->m->delivery);
    else if (json_is_integer(id))
        snprintf(g->id, sizeof(g->id), "gh-%s-%lld", what, (long long)json_integer_value(id));
    else
        g->id[0] = 0;
}

/* The fields every GitHub deploy shares: id, source, service, time, the repository label. */
static int
common(gh_t *g, lh_event_t *ev, const char *time_s, const char *time_field)
{
    const char *key =
        g->m->conf && g->m->conf->github_service && !strcmp(g->m->conf->github_service, "full_name")
            ? "repository.full_name"
            : "repository.name";
    const char *svc = lh__jstr(g->root, key);
    int64_t t = 0;
    if (!svc)
        return fail(g, LH_EMISSING, "field '%s' is missing: it names the service", key);
    if (!time_s || lh_time_parse(time_s, &t) < 0)
        return fail(g, LH_EDECODE, "field '%s' is missing or not an RFC 3339 time", time_field);
    ev->kind = LH_KIND_DEPLOY;
    ev->time_ns = t;
    const char *full = lh__jstr(g->root, "repository.full_name");
    if (lh__event_set_str(ev, &ev->id, g->id) < 0 ||
        lh__event_set_str(ev, &ev->source, "github") < 0 ||
        lh__event_set_str(ev, &ev->service, svc) < 0 ||
        (full && lh_event_add_label(ev, "repository", 10, full, strlen(full)) < 0))
        return LH_ENOMEM;
    return 0;
}

/* A deployment's commit, version, ref, actor, environment. */
static int
deployment_fields(gh_t *g, lh_event_t *ev, json_t *d, const char *env, const char *actor)
{
    const char *sha = lh__jstr(d, "sha"), *ref = lh__jstr(d, "ref");
    const char *version = lh__jstr(d, "payload.version");
    char shortsha[13];
    if (!version && sha) {
        snprintf(shortsha, sizeof(shortsha), "%s", sha);
        version = shortsha;
    }
    json_t *did = json_object_get(d, "id");
    char dbuf[48];
    if (json_is_integer(did))
        snprintf(dbuf, sizeof(dbuf), "gh-%lld", (long long)json_integer_value(did));
    else
        return fail(g, LH_EMISSING, "field '%s' is missing or not a number", "deployment.id");
    if (!env)
        env = lh__jstr(d, "environment");
    if (!env)
        return fail(g, LH_EMISSING, "field '%s' is missing", "deployment.environment");
    if (!actor)
        actor = lh__jstr(d, "creator.login");
    if (!actor)
        actor = lh__jstr(g->root, "sender.login");
    if (lh__event_set_str(ev, &ev->deploy.deploy_id, dbuf) < 0 ||
        lh__event_set_str(ev, &ev->environment, env) < 0 ||
        lh__event_set_str(ev, &ev->actor, actor) < 0 ||
        lh__event_set_str(ev, &ev->deploy.commit, sha) < 0 ||
        lh__event_set_str(ev, &ev->deploy.version, version) < 0 ||
        (ref && lh_event_add_label(ev, "ref", 3, ref, strlen(ref)) < 0))
        return LH_ENOMEM;
    return 0;
}

static int
emit(gh_t *g, lh_event_t *ev, int rc)
{
    if (rc != 0) {
        lh_event_destroy(&ev);
        return rc;
    }
    g->sink(ev, 0, ev->id, NULL, g->arg);
    return 1;
}

static int
deployment_status(gh_t *g)
{
    json_t *st = json_object_get(g->root, "deployment_status");
    json_t *d = json_object_get(g->root, "deployment");
    make_id(g, "ds", st);
    const char *state = lh__jstr(st, "state");
    if (!json_is_object(d))
        return fail(g, LH_EMISSING, "field '%s' is missing", "deployment");
    if (!state)
        return fail(g, LH_EMISSING, "field '%s' is missing", "deployment_status.state");
    lh_deploy_status_t s;
    if (!strcmp(state, "success"))
        s = LH_DEPLOY_SUCCEEDED;
    else if (!strcmp(state, "failure") || !strcmp(state, "error"))
        s = LH_DEPLOY_FAILED;
    else if (!strcmp(state, "in_progress") || !strcmp(state, "queued") || !strcmp(state, "pending"))
        s = LH_DEPLOY_STARTED;
    else if (!strcmp(state, "inactive"))
        return lh__source_ignore(g->sink, g->arg, g->id[0] ? g->id : NULL,
                                 "deployment_status inactive: a later deployment replaced this "
                                 "one, which its own statuses record");
    else
        return fail(g, LH_EDECODE, "deployment_status.state '%s' is not one GitHub documents",
                    state);
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    const char *t = lh__jstr(st, "created_at");
    int rc = common(g, ev, t, "deployment_status.created_at");
    if (rc == 0)
        rc =
            deployment_fields(g, ev, d, lh__jstr(st, "environment"), lh__jstr(st, "creator.login"));
    const char *url = lh__jstr(st, "log_url");
    if (!url)
        url = lh__jstr(st, "target_url");
    if (rc == 0 && url && lh_event_add_label(ev, "url", 3, url, strlen(url)) < 0)
        rc = LH_ENOMEM;
    ev->deploy.status = s;
    return emit(g, ev, rc);
}

static int
deployment(gh_t *g)
{
    json_t *d = json_object_get(g->root, "deployment");
    make_id(g, "d", d);
    const char *action = lh__jstr(g->root, "action");
    if (action && strcmp(action, "created"))
        return lh__source_ignore(g->sink, g->arg, g->id[0] ? g->id : NULL,
                                 "deployment %s: only a created deployment starts a change",
                                 action);
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    int rc = common(g, ev, lh__jstr(d, "created_at"), "deployment.created_at");
    if (rc == 0)
        rc = deployment_fields(g, ev, d, NULL, NULL);
    ev->deploy.status = LH_DEPLOY_STARTED;
    return emit(g, ev, rc);
}

static int
workflow_run(gh_t *g)
{
    json_t *run = json_object_get(g->root, "workflow_run");
    make_id(g, "run", run);
    const char *name = lh__jstr(run, "name");
    if (!name) /* a run of a workflow without a name of its own shows the workflow's */
        name = lh__jstr(g->root, "workflow.name");
    const char *pats = g->m->conf ? g->m->conf->github_workflows : NULL;
    const char *id = g->id[0] ? g->id : NULL;
    if (!pats)
        return lh__source_ignore(g->sink, g->arg, id,
                                 "workflow_run: no workflow is a deploy until [source.github] "
                                 "workflows names it");
    if (!name || !lh__glob_list_match(pats, name))
        return lh__source_ignore(g->sink, g->arg, id,
                                 "workflow_run of '%s': not one of [source.github] workflows",
                                 name ? name : "(no name)");
    const char *status = lh__jstr(run, "status"), *concl = lh__jstr(run, "conclusion");
    lh_deploy_status_t s = LH_DEPLOY_STARTED;
    if (status && !strcmp(status, "completed")) {
        if (concl && !strcmp(concl, "success"))
            s = LH_DEPLOY_SUCCEEDED;
        else if (concl && (!strcmp(concl, "failure") || !strcmp(concl, "timed_out") ||
                           !strcmp(concl, "startup_failure")))
            s = LH_DEPLOY_FAILED;
        else
            return lh__source_ignore(g->sink, g->arg, id,
                                     "workflow_run completed as %s: neither a deploy nor a failed "
                                     "one",
                                     concl ? concl : "(no conclusion)");
    }
    json_t *rid = json_object_get(run, "id");
    if (!json_is_integer(rid))
        return fail(g, LH_EMISSING, "field '%s' is missing or not a number", "workflow_run.id");
    char dbuf[48];
    snprintf(dbuf, sizeof(dbuf), "gh-run-%lld", (long long)json_integer_value(rid));
    const char *sha = lh__jstr(run, "head_sha");
    char shortsha[13];
    snprintf(shortsha, sizeof(shortsha), "%s", sha ? sha : "");
    const char *actor = lh__jstr(run, "triggering_actor.login");
    if (!actor)
        actor = lh__jstr(run, "actor.login");
    if (!actor)
        actor = lh__jstr(g->root, "sender.login");
    const char *branch = lh__jstr(run, "head_branch"), *url = lh__jstr(run, "html_url");
    int64_t ct = 0;
    const char *cts = lh__jstr(run, "head_commit.timestamp");
    if (cts && lh_time_parse(cts, &ct) < 0)
        ct = 0;
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    int rc = common(g, ev, lh__jstr(run, "updated_at"), "workflow_run.updated_at");
    if (rc == 0 && (lh__event_set_str(ev, &ev->deploy.deploy_id, dbuf) < 0 ||
                    lh__event_set_str(ev, &ev->environment, lh__source_env(g->m)) < 0 ||
                    lh__event_set_str(ev, &ev->actor, actor) < 0 ||
                    lh__event_set_str(ev, &ev->deploy.commit, sha) < 0 ||
                    lh__event_set_str(ev, &ev->deploy.version, sha ? shortsha : NULL) < 0 ||
                    lh_event_add_label(ev, "workflow", 8, name, strlen(name)) < 0 ||
                    (branch && lh_event_add_label(ev, "ref", 3, branch, strlen(branch)) < 0) ||
                    (url && lh_event_add_label(ev, "url", 3, url, strlen(url)) < 0)))
        rc = LH_ENOMEM;
    ev->deploy.status = s;
    ev->deploy.commit_time_ns = ct;
    return emit(g, ev, rc);
}

int
lh__github_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    gh_t g = {.m = m, .sink = sink, .arg = arg, .root = obj};
    const char *event = m->event;
    if (!event) /* came without its headers: told by its shape */
        event = json_is_object(json_object_get(obj, "deployment_status")) ? "deployment_status"
                : json_is_object(json_object_get(obj, "workflow_run"))    ? "workflow_run"
                : json_is_object(json_object_get(obj, "deployment"))      ? "deployment"
                : json_object_get(obj, "zen")                             ? "ping"
                                                                          : "(unknown)";
    if (m->delivery)
        snprintf(g.id, sizeof(g.id), "gh-%s", m->delivery);
    if (!strcmp(event, "deployment_status") &&
        json_is_object(json_object_get(obj, "deployment_status")))
        return deployment_status(&g);
    if (!strcmp(event, "deployment") && json_is_object(json_object_get(obj, "deployment")))
        return deployment(&g);
    if (!strcmp(event, "workflow_run") && json_is_object(json_object_get(obj, "workflow_run")))
        return workflow_run(&g);
    if (!strcmp(event, "ping"))
        return lh__source_ignore(sink, arg, g.id[0] ? g.id : NULL,
                                 "ping: the webhook reaches loophub (hook %lld)",
                                 (long long)json_integer_value(json_object_get(obj, "hook_id")));
    if (!strcmp(event, "deployment_status") || !strcmp(event, "deployment") ||
        !strcmp(event, "workflow_run"))
        return fail(&g, LH_EMISSING, "a %s event without its object of that name", event);
    return lh__source_ignore(sink, arg, g.id[0] ? g.id : NULL,
                             "%s: not an event loophub reads (deployment_status, deployment, "
                             "workflow_run are)",
                             event);
}
