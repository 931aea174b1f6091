/*
 * codec_flux.c - Flux notification-controller events (docs/sources.md, Flux), as the `generic`
 * and `generic-hmac` providers POST them: the reconciliations of a Kustomization or a
 * HelmRelease that apply a revision into deploy events; every other event ignored with a reason.
 *
 * Mapping: a Kustomization's or HelmRelease's event that names the revision it applied
 * (metadata "<group>/revision", or "revision" as newer notification-controllers send it with
 * the group stripped): severity info with reason ReconciliationSucceeded, InstallSucceeded or
 * UpgradeSucceeded succeeded; RollbackSucceeded rolled back (helm-controller's remediation of a
 * failed release); Progressing and ProgressingWithRetry (info) started, the controller applying
 * that revision; severity error with any reason but DependencyNotReady failed. Ignored: other
 * kinds (GitRepository, OCIRepository, HelmChart, ... are sources, not deploys), severity trace,
 * DependencyNotReady, other info reasons (TestSucceeded, UninstallSucceeded, ...), and events
 * that name no revision (nothing was being applied, so no change to attribute them to).
 *
 * Fields: service = involvedObject.name (its namespace, kind and reason labels); environment =
 * metadata "environment", else "env" (the Alert's spec.eventMetadata adds them, e.g. env: prod),
 * else [sources] default_environment; version = the revision as Flux writes it
 * ("main@sha1:<sha>", "main/<sha>" before Flux 2.0, a chart version "6.5.4"); commit = the sha1
 * after "sha1:" or a legacy "<branch>/<40 hex>"; an OCI digest ("@sha256:<hex>") is the artifact.
 *
 * Identity: Flux sends no delivery id, and a retry (or a second Alert to the same provider)
 * posts the same event: the id is "flux-" + 16 hex digits of lh__hash64 over involvedObject uid,
 * kind, namespace, name, the reason, the revision and the timestamp string. The change
 * (deploy_id) is "flux-d-" + the hash of the object (its uid, else kind/namespace/name) and the
 * revision: the failure, a retry and the later success of one revision are one deploy.
 */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"
#include "hash.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

/* Longest message kept as the "message" label (a change set can be many lines). */
#define MESSAGE_MAX 1024

int
lh__is_flux(json_t *obj)
{
    json_t *io = json_object_get(obj, "involvedObject");
    return json_is_object(io) && json_is_string(json_object_get(io, "kind")) &&
           json_is_string(json_object_get(obj, "reason")) &&
           json_is_string(json_object_get(obj, "reportingController"));
}

typedef struct {
    const lh__src_msg_t *m;
    lh_decode_sink_fn sink;
    void *arg;
    char id[32];
} fx_t;

/* A rejection of the payload, with the id once it is known. */
#define fail(f, err, ...)                                                                          \
    lh__source_reject((f)->sink, (f)->arg, (f)->id[0] ? (f)->id : NULL, (err), __VA_ARGS__)

static uint64_t
hash_str(uint64_t h, const char *s)
{
    return s ? lh__hash64_update(h, s, strlen(s) + 1) : lh__hash64_update(h, "", 1);
}

static int
is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return n > 0;
}

/* The revision key of metadata: "<group of apiVersion>/revision", else "revision", else any
 * "<prefix>/revision". NULL when there is none. */
static const char *
revision_key(json_t *meta, const char *api)
{
    char want[160];
    const char *slash = api ? strchr(api, '/') : NULL;
    if (slash &&
        (size_t)snprintf(want, sizeof(want), "%.*s/revision", (int)(slash - api), api) <
            sizeof(want) &&
        json_object_get(meta, want))
        return json_object_iter_key(json_object_iter_at(meta, want));
    if (json_object_get(meta, "revision"))
        return "revision";
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v)
    {
        size_t n = strlen(key);
        if (n > 9 && !strcmp(key + n - 9, "/revision"))
            return key;
    }
    return NULL;
}

/* From a revision: the commit (a git sha1) into commit, an artifact digest into digest (both ""
 * when none). "main@sha1:<hex>", "sha1:<hex>", "main/<40 hex>", "<40 hex>", "v1@sha256:<hex>". */
static void
split_revision(const char *rev, char *commit, size_t clen, char *digest, size_t dlen)
{
    commit[0] = digest[0] = 0;
    const char *at = strrchr(rev, '@');
    const char *d = at ? at + 1 : rev;
    const char *colon = strchr(d, ':');
    if (colon && colon > d) {
        size_t n = strlen(colon + 1);
        if (!is_hex(colon + 1, n))
            return;
        if ((size_t)(colon - d) == 4 && !strncmp(d, "sha1", 4)) {
            if (n >= 7 && n < clen)
                memcpy(commit, colon + 1, n + 1);
        } else if (strlen(d) < dlen) {
            memcpy(digest, d, strlen(d) + 1);
        }
        return;
    }
    const char *slash = strrchr(rev, '/');
    const char *tail = slash ? slash + 1 : rev;
    size_t n = strlen(tail);
    if (n == 40 && n < clen && is_hex(tail, n))
        memcpy(commit, tail, n + 1);
}

/* The first max bytes of s, cut at a UTF-8 character boundary, into buf (NULL: s absent). */
static const char *
clip(const char *s, char *buf, size_t max)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n <= max)
        return s;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

static int
add_label(lh_event_t *ev, const char *k, const char *v)
{
    return v ? lh_event_add_label(ev, k, strlen(k), v, strlen(v)) : 0;
}

/* What an event of a Kustomization or HelmRelease is: 1 and *st for a deploy status, 0 with
 * *why for an event that records nothing. */
static int
classify(const char *severity, const char *reason, lh_deploy_status_t *st, const char **why)
{
    if (!strcmp(reason, "DependencyNotReady")) {
        *why = "it waits for a dependency, nothing was applied";
        return 0;
    }
    if (!strcmp(severity, "error")) {
        *st = LH_DEPLOY_FAILED;
        return 1;
    }
    if (!strcmp(severity, "trace")) {
        *why = "severity trace: a progress note, not a result";
        return 0;
    }
    if (!strcmp(reason, "ReconciliationSucceeded") || !strcmp(reason, "InstallSucceeded") ||
        !strcmp(reason, "UpgradeSucceeded")) {
        *st = LH_DEPLOY_SUCCEEDED;
        return 1;
    }
    if (!strcmp(reason, "RollbackSucceeded")) {
        *st = LH_DEPLOY_ROLLED_BACK;
        return 1;
    }
    if (!strcmp(reason, "Progressing") || !strcmp(reason, "ProgressingWithRetry")) {
        *st = LH_DEPLOY_STARTED;
        return 1;
    }
    *why = "not a reconciliation result loophub reads (ReconciliationSucceeded, InstallSucceeded, "
           "UpgradeSucceeded, RollbackSucceeded, Progressing and errors are)";
    return 0;
}

int
lh__flux_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    fx_t f = {.m = m, .sink = sink, .arg = arg};
    json_t *io = json_object_get(obj, "involvedObject");
    if (!json_is_object(io))
        return fail(&f, LH_EMISSING,
                    "field 'involvedObject' is missing or not an object: not a "
                    "Flux event");
    const char *kind = lh__jstr(io, "kind"), *name = lh__jstr(io, "name");
    const char *ns = lh__jstr(io, "namespace"), *uid = lh__jstr(io, "uid");
    const char *api = lh__jstr(io, "apiVersion");
    const char *reason = lh__jstr(obj, "reason"), *severity = lh__jstr(obj, "severity");
    const char *ts = lh__jstr(obj, "timestamp");
    json_t *meta = json_object_get(obj, "metadata");
    if (meta && !json_is_object(meta) && !json_is_null(meta))
        return fail(&f, LH_EDECODE, "field 'metadata' must be an object, got %s",
                    lh__json_type_name(meta));
    const char *rkey = json_is_object(meta) ? revision_key(meta, api) : NULL;
    json_t *rv = rkey ? json_object_get(meta, rkey) : NULL;
    if (rv && !json_is_string(rv))
        return fail(&f, LH_EDECODE, "field 'metadata.%s' must be a string, got %s", rkey,
                    lh__json_type_name(rv));
    const char *rev = rv && json_string_length(rv) ? json_string_value(rv) : NULL;

    uint64_t h = LH__HASH64_SEED;
    h = hash_str(h, uid);
    h = hash_str(h, kind);
    h = hash_str(h, ns);
    h = hash_str(h, name);
    h = hash_str(h, reason);
    h = hash_str(h, rev);
    h = hash_str(h, ts);
    snprintf(f.id, sizeof(f.id), "flux-%016llx", (unsigned long long)lh__hash64_final(h));

    if (!kind)
        return fail(&f, LH_EMISSING, "field 'involvedObject.kind' is missing");
    if (!name)
        return fail(&f, LH_EMISSING,
                    "field 'involvedObject.name' is missing: it names the "
                    "service");
    if (!reason)
        return fail(&f, LH_EMISSING, "field 'reason' is missing");
    if (!severity)
        return fail(&f, LH_EMISSING, "field 'severity' is missing");
    if (strcmp(severity, "info") && strcmp(severity, "error") && strcmp(severity, "trace"))
        return fail(&f, LH_EDECODE, "severity '%s' is not one Flux sends (info, error, trace)",
                    severity);
    int64_t t = 0;
    if (!ts || lh_time_parse(ts, &t) < 0)
        return fail(&f, LH_EDECODE, "field 'timestamp' is missing or not an RFC 3339 time");
    const char *obj_name = ns ? ns : "";
    if (strcmp(kind, "Kustomization") && strcmp(kind, "HelmRelease"))
        return lh__source_ignore(sink, arg, f.id,
                                 "%s %s/%s %s: only Kustomization and HelmRelease events are "
                                 "deploys",
                                 kind, obj_name, name, reason);
    lh_deploy_status_t st = LH_DEPLOY_UNSPECIFIED;
    const char *why = NULL;
    if (!classify(severity, reason, &st, &why))
        return lh__source_ignore(sink, arg, f.id, "%s %s/%s %s: %s", kind, obj_name, name, reason,
                                 why);
    if (!rev)
        return lh__source_ignore(sink, arg, f.id,
                                 "%s %s/%s %s: no revision in metadata, no change was being "
                                 "applied",
                                 kind, obj_name, name, reason);

    char deploy_id[40];
    uint64_t d = LH__HASH64_SEED;
    if (uid) {
        d = hash_str(d, uid);
    } else {
        d = hash_str(d, kind);
        d = hash_str(d, ns);
        d = hash_str(d, name);
    }
    d = hash_str(d, rev);
    snprintf(deploy_id, sizeof(deploy_id), "flux-d-%016llx",
             (unsigned long long)lh__hash64_final(d));
    char commit[72], digest[160], msgbuf[MESSAGE_MAX + 1];
    split_revision(rev, commit, sizeof(commit), digest, sizeof(digest));
    const char *env = lh__jstr(meta, "environment");
    if (!env)
        env = lh__jstr(meta, "env");
    if (!env)
        env = lh__source_env(m);

    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    ev->kind = LH_KIND_DEPLOY;
    ev->time_ns = t;
    ev->deploy.status = st;
    if (lh__event_set_str(ev, &ev->id, f.id) < 0 ||
        lh__event_set_str(ev, &ev->source, "flux") < 0 ||
        lh__event_set_str(ev, &ev->service, name) < 0 ||
        lh__event_set_str(ev, &ev->environment, env) < 0 ||
        lh__event_set_str(ev, &ev->deploy.deploy_id, deploy_id) < 0 ||
        lh__event_set_str(ev, &ev->deploy.version, rev) < 0 ||
        lh__event_set_str(ev, &ev->deploy.commit, commit) < 0 ||
        lh__event_set_str(ev, &ev->deploy.artifact, digest) < 0 ||
        add_label(ev, "namespace", ns) < 0 || add_label(ev, "flux_kind", kind) < 0 ||
        add_label(ev, "reason", reason) < 0 ||
        add_label(ev, "controller", lh__jstr(obj, "reportingController")) < 0 ||
        add_label(ev, "cluster", lh__jstr(meta, "cluster")) < 0 ||
        add_label(ev, "summary", clip(lh__jstr(meta, "summary"), msgbuf, MESSAGE_MAX)) < 0 ||
        add_label(ev, "message", clip(lh__jstr(obj, "message"), msgbuf, MESSAGE_MAX)) < 0) {
        lh_event_destroy(&ev);
        return LH_ENOMEM;
    }
    sink(ev, 0, ev->id, NULL, arg);
    return 1;
}
