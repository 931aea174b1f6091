/*
 * codec_gitlab.c - GitLab webhooks (docs/sources.md, GitLab): Deployment Hook into deploy events,
 * Issue Hook of incidents into incident events, Pipeline Hook jobs that deploy to an environment
 * into deploys (the fallback for projects that send no deployment events), everything else
 * ignored with a reason.
 *
 * Identity: an event's id is "gl-" + the Idempotency-Key header, which GitLab keeps across its
 * retries and a "Resend Request"; a body that came without it gets "gl-dep-<deployment id>-
 * <status>" or "gl-inc-<project id>-<iid>-<state>-<updated_at seconds>". X-Gitlab-Event-UUID is
 * not used: webhooks triggered by earlier webhooks share its value. The jobs of a pipeline hook
 * always get "gl-job-<build id>-<status>": GitLab sends a pipeline hook on every change of the
 * pipeline, each listing every job, so the same job state is in many payloads and must dedupe.
 * The change (deploy_id) is "gl-<deployment id>" for every status of one deployment,
 * "gl-job-<build id>" for a deploy job; an incident is "gl-<project id>-<iid>".
 *
 * Mapping: service = the project's name (or path_with_namespace, [source.gitlab] service = path);
 * environment = the deployment's or the job's environment, its tier a label; commit = the sha at
 * the end of commit_url (a job: the pipeline's sha), version = short_sha (else the sha's first 8
 * hex digits); actor = the user's username. GitLab writes times as "2021-04-28 21:50:00 +0200"
 * or "2016-08-12 15:23:28 UTC" as well as RFC 3339: all are read.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

int
lh__is_gitlab(json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "object_kind"));
    return kind && *kind && json_is_object(json_object_get(obj, "project"));
}

typedef struct {
    const lh__src_msg_t *m;
    lh_decode_sink_fn sink;
    void *arg;
    json_t *root;
    char id[192];
} gl_t;

/* A rejection of the payload, with the id once it is known. */
#define fail(g, err, ...)                                                                          \
    lh__source_reject((g)->sink, (g)->arg, (g)->id[0] ? (g)->id : NULL, (err), __VA_ARGS__)

/* A GitLab time: RFC 3339, or "YYYY-MM-DD HH:MM:SS +HHMM" / "... UTC" (GitLab's Ruby format).
 * 0 and *ns, or LH_EINVAL. */
static int
gl_time(const char *s, int64_t *ns)
{
    if (!s)
        return LH_EINVAL;
    if (lh_time_parse(s, ns) == 0)
        return 0;
    char buf[64];
    size_t n = strlen(s);
    if (n < 20 || n >= sizeof(buf) - 2)
        return LH_EINVAL;
    /* the date and time part: up to the space before the zone */
    const char *sp = strrchr(s, ' ');
    if (!sp || sp - s < 19)
        return LH_EINVAL;
    size_t k = (size_t)(sp - s);
    memcpy(buf, s, k);
    const char *z = sp + 1;
    if (!strcmp(z, "UTC") || !strcmp(z, "Z")) {
        buf[k++] = 'Z';
    } else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 5 && isdigit((unsigned char)z[1]) &&
               isdigit((unsigned char)z[2]) && isdigit((unsigned char)z[3]) &&
               isdigit((unsigned char)z[4])) {
        buf[k++] = z[0];
        buf[k++] = z[1];
        buf[k++] = z[2];
        buf[k++] = ':';
        buf[k++] = z[3];
        buf[k++] = z[4];
    } else {
        return LH_EINVAL;
    }
    buf[k] = 0;
    return lh_time_parse(buf, ns);
}

/* The integer at key of obj, as text in buf ("" when absent or not an integer). */
static const char *
int_text(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);
    buf[0] = 0;
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) && json_string_length(v) < len)
        snprintf(buf, len, "%s", json_string_value(v));
    return buf[0] ? buf : NULL;
}

static int
is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

/* The sha at the end of a commit URL (".../-/commit/<sha>"), copied into buf; NULL when the
 * last segment is not 7 to 64 hex digits. */
static const char *
sha_of_url(const char *url, char *buf, size_t len)
{
    if (!url)
        return NULL;
    const char *slash = strrchr(url, '/');
    const char *seg = slash ? slash + 1 : url;
    size_t n = strcspn(seg, "?#");
    if (n < 7 || n > 64 || n >= len || !is_hex(seg, n))
        return NULL;
    memcpy(buf, seg, n);
    buf[n] = 0;
    return buf;
}

static int
add_label(lh_event_t *ev, const char *k, const char *v)
{
    return v ? lh_event_add_label(ev, k, strlen(k), v, strlen(v)) : 0;
}

/* The fields every GitLab event shares: id, source, kind, time, service, actor, the project
 * label. rc 0, 1 (reported a rejection) or LH_ENOMEM. */
static int
common(gl_t *g, lh_event_t *ev, lh_kind_t kind, const char *time_s, const char *time_field,
       const char *actor)
{
    int path =
        g->m->conf && g->m->conf->gitlab_service && !strcmp(g->m->conf->gitlab_service, "path");
    const char *key = path ? "project.path_with_namespace" : "project.name";
    const char *svc = lh__jstr(g->root, key);
    int64_t t = 0;
    if (!svc)
        return fail(g, LH_EMISSING, "field '%s' is missing: it names the service", key);
    if (!time_s || gl_time(time_s, &t) < 0)
        return fail(g, LH_EDECODE, "field '%s' is missing or not a time", time_field);
    if (!actor)
        actor = lh__jstr(g->root, "user.username");
    if (!actor)
        actor = lh__jstr(g->root, "user.name");
    ev->kind = kind;
    ev->time_ns = t;
    if (lh__event_set_str(ev, &ev->id, g->id) < 0 ||
        lh__event_set_str(ev, &ev->source, "gitlab") < 0 ||
        lh__event_set_str(ev, &ev->service, svc) < 0 ||
        lh__event_set_str(ev, &ev->actor, actor) < 0 ||
        add_label(ev, "project", lh__jstr(g->root, "project.path_with_namespace")) < 0)
        return LH_ENOMEM;
    return 0;
}

/* Hands ev over (rc 0), or frees it: rc 1 (a rejection was reported) or LH_ENOMEM. Returns the
 * sink calls made (1) or LH_ENOMEM; *stop is set when the sink asked to stop. */
static int
emit(gl_t *g, lh_event_t *ev, int rc, int *stop)
{
    if (rc != 0) {
        lh_event_destroy(&ev);
        return rc;
    }
    int s = g->sink(ev, 0, ev->id, NULL, g->arg);
    if (stop)
        *stop = s != 0;
    return 1;
}

/* --- Deployment Hook ------------------------------------------------------------------------ */

static int
deployment(gl_t *g)
{
    json_t *r = g->root;
    const char *status = lh__jstr(r, "status");
    char did[32];
    const char *dep = int_text(r, "deployment_id", did, sizeof(did));
    if (!g->id[0] && dep && status)
        snprintf(g->id, sizeof(g->id), "gl-dep-%s-%s", dep, status);
    if (!status)
        return fail(g, LH_EMISSING, "field '%s' is missing", "status");
    lh_deploy_status_t s;
    if (!strcmp(status, "created") || !strcmp(status, "running"))
        s = LH_DEPLOY_STARTED;
    else if (!strcmp(status, "success"))
        s = LH_DEPLOY_SUCCEEDED;
    else if (!strcmp(status, "failed"))
        s = LH_DEPLOY_FAILED;
    else if (!strcmp(status, "canceled") || !strcmp(status, "skipped") ||
             !strcmp(status, "blocked"))
        return lh__source_ignore(g->sink, g->arg, g->id[0] ? g->id : NULL,
                                 "deployment %s: %s, it neither deployed nor failed", status,
                                 !strcmp(status, "blocked") ? "waiting for an approval in GitLab"
                                                            : "it never ran to its end");
    else
        return fail(g, LH_EDECODE, "deployment status '%s' is not one GitLab documents", status);
    if (!dep)
        return fail(g, LH_EMISSING, "field '%s' is missing or not a number", "deployment_id");
    const char *env = lh__jstr(r, "environment");
    if (!env)
        return fail(g, LH_EMISSING, "field '%s' is missing", "environment");
    char shabuf[72], shortbuf[16];
    const char *sha = sha_of_url(lh__jstr(r, "commit_url"), shabuf, sizeof(shabuf));
    if (!sha)
        sha = lh__jstr(r, "sha");
    const char *version = lh__jstr(r, "short_sha");
    if (!version && sha) {
        snprintf(shortbuf, sizeof(shortbuf), "%.8s", sha);
        version = shortbuf;
    }
    char deploy_id[48], job[32];
    snprintf(deploy_id, sizeof(deploy_id), "gl-%s", dep);
    const char *url = lh__jstr(r, "deployable_url");
    if (!url)
        url = lh__jstr(r, "environment_external_url");
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    int rc =
        common(g, ev, LH_KIND_DEPLOY, lh__jstr(r, "status_changed_at"), "status_changed_at", NULL);
    if (rc == 0 && (lh__event_set_str(ev, &ev->deploy.deploy_id, deploy_id) < 0 ||
                    lh__event_set_str(ev, &ev->environment, env) < 0 ||
                    lh__event_set_str(ev, &ev->deploy.commit, sha) < 0 ||
                    lh__event_set_str(ev, &ev->deploy.version, version) < 0 ||
                    add_label(ev, "environment_tier", lh__jstr(r, "environment_tier")) < 0 ||
                    add_label(ev, "environment_url", lh__jstr(r, "environment_external_url")) < 0 ||
                    add_label(ev, "job", int_text(r, "deployable_id", job, sizeof(job))) < 0 ||
                    add_label(ev, "ref", lh__jstr(r, "ref")) < 0 || add_label(ev, "url", url) < 0))
        rc = LH_ENOMEM;
    ev->deploy.status = s;
    return emit(g, ev, rc, NULL);
}

/* --- Issue Hook: incidents ------------------------------------------------------------------- */

static int
issue(gl_t *g, const char *kind)
{
    json_t *a = json_object_get(g->root, "object_attributes");
    if (!json_is_object(a))
        return fail(g, LH_EMISSING, "field '%s' is missing", "object_attributes");
    const char *type = lh__jstr(a, "issue_type");
    if (!type)
        type = lh__jstr(a, "type");
    char pidbuf[32], iidbuf[32];
    const char *iid = int_text(a, "iid", iidbuf, sizeof(iidbuf));
    if (!type || strcasecmp(type, "incident"))
        return lh__source_ignore(g->sink, g->arg, g->id[0] ? g->id : NULL,
                                 "%s %s of type %s: only incidents are read", kind,
                                 iid ? iid : "(no iid)", type ? type : "(none)");
    const char *pid = int_text(json_object_get(g->root, "project"), "id", pidbuf, sizeof(pidbuf));
    if (!pid)
        pid = int_text(a, "project_id", pidbuf, sizeof(pidbuf));
    const char *state = lh__jstr(a, "state"), *action = lh__jstr(a, "action");
    const char *upd = lh__jstr(a, "updated_at");
    int64_t t = 0;
    if (!g->id[0] && pid && iid && upd && gl_time(upd, &t) == 0)
        snprintf(g->id, sizeof(g->id), "gl-inc-%s-%s-%s-%lld", pid, iid,
                 state    ? state
                 : action ? action
                          : "",
                 (long long)(t / LH_NS_PER_SEC));
    if (!iid)
        return fail(g, LH_EMISSING, "field '%s' is missing or not a number",
                    "object_attributes.iid");
    if (!pid)
        return fail(g, LH_EMISSING, "field '%s' is missing or not a number", "project.id");
    lh_incident_state_t st;
    if ((state && !strcmp(state, "closed")) || (!state && action && !strcmp(action, "close")))
        st = LH_INCIDENT_RESOLVED;
    else if ((state && (!strcmp(state, "opened") || !strcmp(state, "reopened"))) ||
             (!state && action && (!strcmp(action, "open") || !strcmp(action, "reopen"))))
        st = LH_INCIDENT_DETECTED;
    else if (!state && !action)
        return fail(g, LH_EMISSING, "field '%s' is missing", "object_attributes.state");
    else
        return lh__source_ignore(g->sink, g->arg, g->id[0] ? g->id : NULL,
                                 "incident %s in state %s: neither open nor closed", iid,
                                 state ? state : action);
    lh_severity_t sev = LH_SEV_UNSPECIFIED;
    const char *sv = lh__jstr(a, "severity");
    if (sv && !strcasecmp(sv, "critical"))
        sev = LH_SEV_CRITICAL;
    else if (sv && !strcasecmp(sv, "high"))
        sev = LH_SEV_ERROR;
    else if (sv && !strcasecmp(sv, "medium"))
        sev = LH_SEV_WARNING;
    else if (sv && !strcasecmp(sv, "low"))
        sev = LH_SEV_INFO;
    char incident[80];
    snprintf(incident, sizeof(incident), "gl-%s-%s", pid, iid);
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    int rc = common(g, ev, LH_KIND_INCIDENT, upd, "object_attributes.updated_at", NULL);
    if (rc == 0 &&
        (lh__event_set_str(ev, &ev->incident.incident_id, incident) < 0 ||
         lh__event_set_str(ev, &ev->incident.title, lh__jstr(a, "title")) < 0 ||
         lh__event_set_str(ev, &ev->environment, lh__source_env(g->m)) < 0 ||
         add_label(ev, "escalation_status", lh__jstr(a, "escalation_status")) < 0 ||
         add_label(ev, "escalation_policy", lh__jstr(a, "escalation_policy.name")) < 0 ||
         add_label(ev, "severity", sv) < 0 || add_label(ev, "gitlab_action", action) < 0 ||
         add_label(ev, "url", lh__jstr(a, "url")) < 0))
        rc = LH_ENOMEM;
    ev->incident.state = st;
    ev->incident.severity = sev;
    return emit(g, ev, rc, NULL);
}

/* --- Pipeline Hook: jobs that deploy --------------------------------------------------------- */

/* One job with an environment: a deploy, an ignored state, or a rejection. */
static int
pipeline_job(gl_t *g, json_t *b, json_t *env, int *stop)
{
    json_t *pa = json_object_get(g->root, "object_attributes");
    char bidbuf[32];
    const char *bid = int_text(b, "id", bidbuf, sizeof(bidbuf));
    const char *status = lh__jstr(b, "status"), *name = lh__jstr(env, "name");
    const char *jname = lh__jstr(b, "name");
    g->id[0] = 0;
    if (bid && status)
        snprintf(g->id, sizeof(g->id), "gl-job-%s-%s", bid, status);
    const char *idp = g->id[0] ? g->id : NULL;
    if (!bid)
        return fail(g, LH_EMISSING, "field '%s' is missing or not a number", "builds[].id");
    if (!name)
        return fail(g, LH_EMISSING, "field '%s' is missing (job %s)", "builds[].environment.name",
                    bid);
    const char *action = lh__jstr(env, "action");
    if (action && strcmp(action, "start"))
        return lh__source_ignore(g->sink, g->arg, idp,
                                 "job %s (%s): environment action %s, not a deploy", bid,
                                 jname ? jname : "", action);
    if (!status)
        return fail(g, LH_EMISSING, "field '%s' is missing (job %s)", "builds[].status", bid);
    lh_deploy_status_t s;
    const char *when, *when_field;
    if (!strcmp(status, "running")) {
        s = LH_DEPLOY_STARTED;
        when = lh__jstr(b, "started_at");
        when_field = "builds[].started_at";
    } else if (!strcmp(status, "success") || !strcmp(status, "failed")) {
        s = !strcmp(status, "success") ? LH_DEPLOY_SUCCEEDED : LH_DEPLOY_FAILED;
        when = lh__jstr(b, "finished_at");
        when_field = "builds[].finished_at";
    } else {
        return lh__source_ignore(g->sink, g->arg, idp, "job %s (%s) to %s is %s: %s", bid,
                                 jname ? jname : "", name, status,
                                 !strcmp(status, "canceled") || !strcmp(status, "skipped")
                                     ? "it never deployed"
                                     : "not running yet, the deploy starts when it runs");
    }
    char deploy_id[48], shortbuf[16], urlbuf[600], pid[32];
    snprintf(deploy_id, sizeof(deploy_id), "gl-job-%s", bid);
    const char *sha = lh__jstr(pa, "sha");
    if (sha)
        snprintf(shortbuf, sizeof(shortbuf), "%.8s", sha);
    const char *web = lh__jstr(g->root, "project.web_url"), *url = NULL;
    if (web && (size_t)snprintf(urlbuf, sizeof(urlbuf), "%s/-/jobs/%s", web, bid) < sizeof(urlbuf))
        url = urlbuf;
    int64_t ct = 0;
    const char *cts = lh__jstr(g->root, "commit.timestamp");
    if (cts && gl_time(cts, &ct) < 0)
        ct = 0;
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    int rc = common(g, ev, LH_KIND_DEPLOY, when, when_field, lh__jstr(b, "user.username"));
    if (rc == 0 && (lh__event_set_str(ev, &ev->deploy.deploy_id, deploy_id) < 0 ||
                    lh__event_set_str(ev, &ev->environment, name) < 0 ||
                    lh__event_set_str(ev, &ev->deploy.commit, sha) < 0 ||
                    lh__event_set_str(ev, &ev->deploy.version, sha ? shortbuf : NULL) < 0 ||
                    add_label(ev, "environment_tier", lh__jstr(env, "deployment_tier")) < 0 ||
                    add_label(ev, "job", jname) < 0 ||
                    add_label(ev, "pipeline", int_text(pa, "id", pid, sizeof(pid))) < 0 ||
                    add_label(ev, "ref", lh__jstr(pa, "ref")) < 0 || add_label(ev, "url", url) < 0))
        rc = LH_ENOMEM;
    ev->deploy.status = s;
    ev->deploy.commit_time_ns = ct;
    return emit(g, ev, rc, stop);
}

static int
pipeline(gl_t *g)
{
    json_t *pa = json_object_get(g->root, "object_attributes");
    json_t *builds = json_object_get(g->root, "builds");
    char pidbuf[32];
    const char *pid = int_text(pa, "id", pidbuf, sizeof(pidbuf));
    char whole[sizeof(g->id)];
    snprintf(whole, sizeof(whole), "%s", g->id);
    int calls = 0, stop = 0;
    size_t i;
    json_t *b;
    json_array_foreach(builds, i, b)
    {
        json_t *env = json_object_get(b, "environment");
        if (!json_is_object(env)) /* a job that deploys nowhere: not a change */
            continue;
        int rc = pipeline_job(g, b, env, &stop);
        if (rc < 0)
            return rc;
        calls += rc;
        if (stop)
            break;
    }
    if (calls)
        return calls;
    return lh__source_ignore(g->sink, g->arg, whole[0] ? whole : NULL,
                             "pipeline %s: no job deploys to an environment", pid ? pid : "");
}

int
lh__gitlab_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    gl_t g = {.m = m, .sink = sink, .arg = arg, .root = obj};
    if (m->delivery)
        snprintf(g.id, sizeof(g.id), "gl-%s", m->delivery);
    const char *kind = lh__jstr(obj, "object_kind");
    if (!kind)
        return fail(&g, LH_EMISSING, "field 'object_kind' is missing%s%s%s",
                    m->event ? " (X-Gitlab-Event: " : "", m->event ? m->event : "",
                    m->event ? ")" : "");
    if (!strcmp(kind, "deployment"))
        return deployment(&g);
    if (!strcmp(kind, "issue") || !strcmp(kind, "work_item"))
        return issue(&g, kind);
    if (!strcmp(kind, "pipeline"))
        return pipeline(&g);
    return lh__source_ignore(sink, arg, g.id[0] ? g.id : NULL,
                             "%s: not an event loophub reads (deployment, pipeline, and issues "
                             "of type incident are)",
                             kind);
}
