/*
 * check_flux.c - the Flux notification-controller decoder (codec_flux.c) on the events Flux
 * publishes (tests/data/sources/flux, README.md there says where each came from): Kustomization
 * and HelmRelease results into deploys, the rest ignored; the revision into version, commit and
 * artifact; the environment from the Alert's event metadata; identity (no delivery id: a hash
 * of the event) and the change per object and revision; the generic-hmac X-Signature; detection
 * by shape and by route.
 *
 * Flux publishes one example, a Kustomization's ValidationFailed error (as the generic provider
 * posts it, and as the Event API documents it); the successes, other reasons, kinds and
 * revisions are that example with one field changed here (marked "variation").
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define SRCFIX_MAX_CALLS 8
#include "srcfix.h"

#define GENERIC "flux/kustomization-validationfailed-generic.json"
#define EVSPEC "flux/kustomization-validationfailed-event-spec.json"
#define SHA "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"
#define KREV "kustomize.toolkit.fluxcd.io/revision"

static void
set_str(json_t *obj, const char *key, const char *v)
{
    ck_assert_int_eq(json_object_set_new(obj, key, json_string(v)), 0);
}

/* "flux-" and 16 lowercase hex digits */
static int
is_flux_id(const char *id, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(id, prefix, p) || strlen(id) != p + 16)
        return 0;
    for (size_t i = p; id[i]; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

/* --- the published event ---------------------------------------------------------------------- */

START_TEST(flux_validation_failed)
{
    size_t len;
    char *b = fixture(GENERIC, &len);
    sink_t s = {0};
    /* no headers at all (Flux sends no event header of its own): told by its shape */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_FLUX);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "%s", s.why[0]);
    ck_assert_msg(is_flux_id(ev->id, "flux-"), "id %s", ev->id);
    ck_assert_str_eq(s.id[0], ev->id);
    ck_assert_str_eq(ev->source, "flux");
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_FAILED);
    ck_assert_msg(is_flux_id(ev->deploy.deploy_id, "flux-d-"), "deploy id %s",
                  ev->deploy.deploy_id);
    ck_assert_str_eq(ev->service, "webapp");
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_ptr_null(ev->actor);
    ck_assert_str_eq(ev->deploy.version, "main/" SHA);
    ck_assert_str_eq(ev->deploy.commit, SHA);
    ck_assert_ptr_null(ev->deploy.artifact);
    ck_assert_str_eq(label(ev, "namespace"), "apps");
    ck_assert_str_eq(label(ev, "flux_kind"), "Kustomization");
    ck_assert_str_eq(label(ev, "reason"), "ValidationFailed");
    ck_assert_str_eq(label(ev, "controller"), "kustomize-controller");
    ck_assert_str_eq(label(ev, "message"),
                     "service/apps/webapp validation error: spec.type: Unsupported value: Ingress");
    ck_assert_ptr_null(lh_event_label(ev, "cluster"));
    ck_assert_int_eq(ev->time_ns, at("2022-10-28T07:26:19Z"));
    ck_assert_int_eq(ev->raw_format, LH_FMT_FLUX);
    ck_assert_int_eq((int)ev->raw_len, (int)len);
    char why[200];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), 0);
    char id[64], deploy[64];
    snprintf(id, sizeof(id), "%s", ev->id);
    snprintf(deploy, sizeof(deploy), "%s", ev->deploy.deploy_id);
    sink_free(&s);

    /* a redelivery (notification-controller's retry, or a second Alert): the same id */
    decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->id, id);
    sink_free(&s);
    /* by its route, the same */
    ck_assert_int_eq(decode(b, len, LH_FMT_FLUX, NULL, 0, NULL, &s), LH_SRC_FLUX);
    ck_assert_str_eq(s.ev[0]->id, id);
    ck_assert_int_eq(s.ev[0]->raw_format, LH_FMT_FLUX);
    sink_free(&s);
    free(b);

    /* the same event as the Event API documents it (relatedObject, action, no
     * reportingInstance, other spacing): the same id and change */
    b = fixture(EVSPEC, &len);
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_FLUX);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, id);
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, deploy);
    ck_assert_int_eq(s.ev[0]->deploy.status, LH_DEPLOY_FAILED);
    sink_free(&s);
    free(b);
}
END_TEST

/* --- reasons -------------------------------------------------------------------------------- */

/* Every reason the decoder reads (variations: Flux publishes only ValidationFailed). */
START_TEST(flux_reasons)
{
    static const struct {
        const char *kind, *severity, *reason;
        lh_deploy_status_t want;
    } cases[] = {
        {"Kustomization", "info", "ReconciliationSucceeded", LH_DEPLOY_SUCCEEDED},
        {"Kustomization", "info", "Progressing", LH_DEPLOY_STARTED},
        {"Kustomization", "info", "ProgressingWithRetry", LH_DEPLOY_STARTED},
        {"Kustomization", "error", "ReconciliationFailed", LH_DEPLOY_FAILED},
        {"Kustomization", "error", "HealthCheckFailed", LH_DEPLOY_FAILED},
        {"Kustomization", "error", "BuildFailed", LH_DEPLOY_FAILED},
        {"Kustomization", "error", "ArtifactFailed", LH_DEPLOY_FAILED},
        {"Kustomization", "error", "PruneFailed", LH_DEPLOY_FAILED},
        {"HelmRelease", "info", "InstallSucceeded", LH_DEPLOY_SUCCEEDED},
        {"HelmRelease", "info", "UpgradeSucceeded", LH_DEPLOY_SUCCEEDED},
        {"HelmRelease", "info", "RollbackSucceeded", LH_DEPLOY_ROLLED_BACK},
        {"HelmRelease", "error", "InstallFailed", LH_DEPLOY_FAILED},
        {"HelmRelease", "error", "UpgradeFailed", LH_DEPLOY_FAILED},
        {"HelmRelease", "error", "TestFailed", LH_DEPLOY_FAILED},
    };
    json_t *root = fixture_json(GENERIC);
    json_t *io = json_object_get(root, "involvedObject");
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    char failed_id[64], failed_deploy[64];
    snprintf(failed_id, sizeof(failed_id), "%s", s.ev[0]->id);
    snprintf(failed_deploy, sizeof(failed_deploy), "%s", s.ev[0]->deploy.deploy_id);
    sink_free(&s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_str(io, "kind", cases[i].kind);
        set_str(root, "severity", cases[i].severity);
        set_str(root, "reason", cases[i].reason);
        ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_FLUX);
        ck_assert_int_eq(s.n, 1);
        ck_assert_msg(s.ev[0] != NULL, "%s: %s", cases[i].reason, s.why[0]);
        ck_assert_int_eq(s.ev[0]->deploy.status, cases[i].want);
        ck_assert_str_eq(label(s.ev[0], "reason"), cases[i].reason);
        ck_assert_str_eq(label(s.ev[0], "flux_kind"), cases[i].kind);
        /* another reason is another event, of the same change (uid and revision unchanged) */
        ck_assert_str_ne(s.ev[0]->id, failed_id);
        ck_assert_str_eq(s.ev[0]->deploy.deploy_id, failed_deploy);
        sink_free(&s);
    }
    json_decref(root);
}
END_TEST

/* A HelmRelease's upgrade as helm-controller sends it (variation): the chart version. */
START_TEST(flux_helmrelease)
{
    json_t *root = fixture_json(GENERIC);
    json_t *io = json_object_get(root, "involvedObject");
    set_str(io, "apiVersion", "helm.toolkit.fluxcd.io/v2");
    set_str(io, "kind", "HelmRelease");
    set_str(io, "name", "podinfo");
    set_str(root, "reportingController", "helm-controller");
    set_str(root, "severity", "info");
    set_str(root, "reason", "UpgradeSucceeded");
    set_str(root, "message",
            "Helm upgrade succeeded for release apps/podinfo.v2 with chart "
            "podinfo@6.5.4");
    json_t *meta = json_object();
    set_str(meta, "helm.toolkit.fluxcd.io/revision", "6.5.4");
    set_str(meta, "helm.toolkit.fluxcd.io/token", "a1b2c3");
    json_object_set_new(root, "metadata", meta);
    sink_t s = {0};
    ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_FLUX);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "%s", s.why[0]);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq(ev->service, "podinfo");
    ck_assert_str_eq(ev->deploy.version, "6.5.4");
    ck_assert_ptr_null(ev->deploy.commit);
    ck_assert_ptr_null(ev->deploy.artifact);
    ck_assert_str_eq(label(ev, "controller"), "helm-controller");
    ck_assert_str_eq(label(ev, "flux_kind"), "HelmRelease");
    char deploy[64];
    snprintf(deploy, sizeof(deploy), "%s", ev->deploy.deploy_id);
    sink_free(&s);
    /* the next chart version is another change */
    set_str(meta, "helm.toolkit.fluxcd.io/revision", "6.5.5");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, "6.5.5");
    ck_assert_str_ne(s.ev[0]->deploy.deploy_id, deploy);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- ignored -------------------------------------------------------------------------------- */

START_TEST(flux_ignored)
{
    static const struct {
        const char *kind, *severity, *reason, *why;
    } cases[] = {
        {"GitRepository", "info", "NewArtifact",
         "GitRepository apps/webapp NewArtifact: only Kustomization and HelmRelease"},
        {"OCIRepository", "error", "AuthenticationFailed", "only Kustomization and HelmRelease"},
        {"HelmChart", "info", "ChartPullSucceeded", "only Kustomization and HelmRelease"},
        {"Kustomization", "info", "DependencyNotReady",
         "Kustomization apps/webapp DependencyNotReady: it waits for a dependency"},
        {"HelmRelease", "error", "DependencyNotReady", "it waits for a dependency"},
        {"Kustomization", "trace", "Progressing", "severity trace"},
        {"HelmRelease", "info", "TestSucceeded", "not a reconciliation result loophub reads"},
        {"HelmRelease", "info", "UninstallSucceeded", "not a reconciliation result loophub reads"},
    };
    json_t *root = fixture_json(GENERIC);
    json_t *io = json_object_get(root, "involvedObject");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_str(io, "kind", cases[i].kind);
        set_str(root, "severity", cases[i].severity);
        set_str(root, "reason", cases[i].reason);
        sink_t s = {0};
        ck_assert_int_eq(decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_FLUX);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_msg(is_flux_id(s.id[0], "flux-"), "id %s", s.id[0]);
        ck_assert_msg(strstr(s.why[0], cases[i].why), "case %zu: '%s' lacks '%s'", i, s.why[0],
                      cases[i].why);
        sink_free(&s);
    }
    /* a result that names no revision: nothing was being applied (variation) */
    set_str(io, "kind", "Kustomization");
    set_str(root, "severity", "error");
    set_str(root, "reason", "ArtifactFailed");
    static const char *const metas[] = {"{}", "null", "{\"" KREV "\":\"\"}", NULL};
    for (size_t i = 0; i < 4; i++) {
        if (metas[i])
            json_object_set_new(root, "metadata", json_loads(metas[i], JSON_DECODE_ANY, NULL));
        else
            json_object_del(root, "metadata");
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_msg(strstr(s.why[0], "Kustomization apps/webapp ArtifactFailed: no revision in "
                                       "metadata"),
                      "%s", s.why[0]);
        sink_free(&s);
    }
    json_decref(root);
}
END_TEST

/* --- revisions, environment, labels --------------------------------------------------------- */

START_TEST(flux_revisions)
{
    static const struct {
        const char *rev, *commit, *artifact;
    } cases[] = {
        {"main@sha1:" SHA, SHA, NULL},
        {"sha1:" SHA, SHA, NULL},
        {"v1.2.3@sha1:abc1234", "abc1234", NULL},
        {"refs/pull/7/head@sha1:" SHA, SHA, NULL},
        {"main/" SHA, SHA, NULL},
        {SHA, SHA, NULL},
        {"latest@sha256:2f1d7e0c7d1b6c9a3a5e4f8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d", NULL,
         "sha256:2f1d7e0c7d1b6c9a3a5e4f8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d"},
        {"main@sha1:abc", NULL, NULL},        /* too short for a sha */
        {"main@sha1:xyz1234567", NULL, NULL}, /* not hex */
        {"main/notasha", NULL, NULL},
        {"6.5.4", NULL, NULL},
    };
    json_t *root = fixture_json(GENERIC);
    json_t *meta = json_object_get(root, "metadata");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_str(meta, KREV, cases[i].rev);
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        lh_event_t *ev = s.ev[0];
        ck_assert_msg(ev != NULL, "%s: %s", cases[i].rev, s.why[0]);
        ck_assert_str_eq(ev->deploy.version, cases[i].rev);
        if (cases[i].commit)
            ck_assert_str_eq(ev->deploy.commit, cases[i].commit);
        else
            ck_assert_msg(!ev->deploy.commit, "%s: commit %s", cases[i].rev, ev->deploy.commit);
        if (cases[i].artifact)
            ck_assert_str_eq(ev->deploy.artifact, cases[i].artifact);
        else
            ck_assert_ptr_null(ev->deploy.artifact);
        sink_free(&s);
    }
    /* "revision" without the group, as newer notification-controllers send it (variation) */
    json_object_clear(meta);
    set_str(meta, "revision", "main@sha1:" SHA);
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, "main@sha1:" SHA);
    sink_free(&s);
    /* the object's own group wins over another "<group>/revision" and over "revision" */
    set_str(meta, "source.toolkit.fluxcd.io/revision", "other@sha1:" SHA);
    set_str(meta, KREV, "mine@sha1:" SHA);
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, "mine@sha1:" SHA);
    sink_free(&s);
    /* any "<group>/revision" when there is neither */
    json_object_del(meta, KREV);
    json_object_del(meta, "revision");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.version, "other@sha1:" SHA);
    sink_free(&s);
    json_decref(root);
}
END_TEST

START_TEST(flux_environment_and_labels)
{
    json_t *root = fixture_json(GENERIC);
    json_t *meta = json_object_get(root, "metadata");
    /* the Alert's eventMetadata (variation) */
    set_str(meta, "env", "prod");
    set_str(meta, "cluster", "my-cluster");
    set_str(meta, "summary", "Cluster addons impacted");
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->environment, "prod");
    ck_assert_str_eq(label(ev, "cluster"), "my-cluster");
    ck_assert_str_eq(label(ev, "summary"), "Cluster addons impacted");
    char id[64];
    snprintf(id, sizeof(id), "%s", ev->id);
    sink_free(&s);
    /* "environment" wins over "env"; the Alert's metadata is no part of the id */
    set_str(meta, "environment", "staging-eu");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->environment, "staging-eu");
    ck_assert_str_eq(s.ev[0]->id, id);
    sink_free(&s);
    /* neither: [sources] default_environment */
    json_object_del(meta, "environment");
    json_object_del(meta, "env");
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.default_env = "prd";
    decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->environment, "prd");
    sink_free(&s);

    /* a long change set: the message label is cut at 1024 bytes, on a character boundary */
    char *msg = malloc(3001);
    ck_assert_ptr_nonnull(msg);
    memset(msg, 'a', 1023);
    for (size_t i = 1023; i + 2 <= 3000; i += 2) {
        msg[i] = (char)0xc3; /* U+00E9, two bytes, the first at byte 1023 */
        msg[i + 1] = (char)0xa9;
    }
    msg[2999] = 0;
    set_str(root, "message", msg);
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq((int)strlen(label(s.ev[0], "message")), 1023);
    char why[200];
    ck_assert_int_eq(lh_event_validate(s.ev[0], NULL, lh_now_ns(), why, sizeof(why)), 0);
    sink_free(&s);
    msg[1023] = 'b'; /* exactly 1024 bytes: kept whole */
    msg[1024] = 0;
    set_str(root, "message", msg);
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq((int)strlen(label(s.ev[0], "message")), 1024);
    sink_free(&s);
    free(msg);
    json_decref(root);
}
END_TEST

/* --- identity -------------------------------------------------------------------------------- */

START_TEST(flux_identity)
{
    json_t *root = fixture_json(GENERIC);
    json_t *io = json_object_get(root, "involvedObject");
    json_t *meta = json_object_get(root, "metadata");
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    char id[64], deploy[64];
    snprintf(id, sizeof(id), "%s", s.ev[0]->id);
    snprintf(deploy, sizeof(deploy), "%s", s.ev[0]->deploy.deploy_id);
    sink_free(&s);
    /* the message, reportingInstance and key order are no part of the id (variation) */
    set_str(root, "message", "another wording");
    json_object_del(root, "reportingInstance");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->id, id);
    sink_free(&s);
    /* the same reason later: another event, the same change */
    set_str(root, "timestamp", "2022-10-28T07:36:19Z");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_ne(s.ev[0]->id, id);
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, deploy);
    ck_assert_int_eq(s.ev[0]->time_ns, at("2022-10-28T07:36:19Z"));
    sink_free(&s);
    /* another revision: another change */
    set_str(meta, KREV, "main@sha1:0123456789abcdef0123456789abcdef01234567");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_ne(s.ev[0]->deploy.deploy_id, deploy);
    sink_free(&s);
    set_str(meta, KREV, "main/" SHA);
    /* the same object recreated (another uid): another change */
    set_str(io, "uid", "00000000-ddcf-4743-b223-83ca5c699632");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_ne(s.ev[0]->deploy.deploy_id, deploy);
    sink_free(&s);
    /* without a uid: the change is kind/namespace/name and the revision */
    json_object_del(io, "uid");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    char byname[64];
    snprintf(byname, sizeof(byname), "%s", s.ev[0]->deploy.deploy_id);
    ck_assert_msg(is_flux_id(byname, "flux-d-"), "%s", byname);
    sink_free(&s);
    set_str(root, "severity", "info");
    set_str(root, "reason", "ReconciliationSucceeded");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, byname);
    sink_free(&s);
    set_str(io, "namespace", "apps-eu");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_ne(s.ev[0]->deploy.deploy_id, byname);
    ck_assert_str_eq(label(s.ev[0], "namespace"), "apps-eu");
    sink_free(&s);
    set_str(io, "namespace", "apps");
    set_str(io, "kind", "HelmRelease");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_str_ne(s.ev[0]->deploy.deploy_id, byname);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- bad input -------------------------------------------------------------------------------- */

START_TEST(flux_bad_input)
{
    static const struct {
        const char *obj, *key, *set; /* set NULL: delete; obj "io": involvedObject */
        int err;
        const char *want;
    } cases[] = {
        {"io", "kind", NULL, LH_EMISSING, "field 'involvedObject.kind' is missing"},
        {"io", "name", NULL, LH_EMISSING, "field 'involvedObject.name' is missing"},
        {"root", "reason", NULL, LH_EMISSING, "field 'reason' is missing"},
        {"root", "severity", NULL, LH_EMISSING, "field 'severity' is missing"},
        {"root", "severity", "warning", LH_EDECODE,
         "severity 'warning' is not one Flux sends (info, error, trace)"},
        {"root", "timestamp", NULL, LH_EDECODE,
         "field 'timestamp' is missing or not an RFC 3339 time"},
        {"root", "timestamp", "yesterday", LH_EDECODE,
         "field 'timestamp' is missing or not an RFC 3339 time"},
        {"root", "timestamp", "2022-10-28 07:26:19", LH_EDECODE,
         "field 'timestamp' is missing or not an RFC 3339 time"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = fixture_json(GENERIC);
        json_t *o = !strcmp(cases[i].obj, "io") ? json_object_get(root, "involvedObject") : root;
        if (cases[i].set)
            set_str(o, cases[i].key, cases[i].set);
        else
            json_object_del(o, cases[i].key);
        sink_t s = {0};
        /* by the route: a body missing the shape's fields is still Flux's there */
        ck_assert_int_eq(decode_json(root, LH_FMT_FLUX, NULL, 0, NULL, &s), LH_SRC_FLUX);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], cases[i].err);
        ck_assert_msg(strstr(s.why[0], cases[i].want), "case %zu: '%s' lacks '%s'", i, s.why[0],
                      cases[i].want);
        ck_assert_msg(is_flux_id(s.id[0], "flux-"), "case %zu: id %s", i, s.id[0]);
        sink_free(&s);
        json_decref(root);
    }
    /* metadata of the wrong type, a revision that is not a string */
    json_t *root = fixture_json(GENERIC);
    json_object_set_new(root, "metadata", json_string("main/" SHA));
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_msg(strstr(s.why[0], "field 'metadata' must be an object, got a string"), "%s",
                  s.why[0]);
    sink_free(&s);
    json_t *meta = json_object();
    json_object_set_new(meta, KREV, json_integer(7));
    json_object_set_new(root, "metadata", meta);
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_msg(strstr(s.why[0], "field 'metadata." KREV "' must be a string, got a number"),
                  "%s", s.why[0]);
    sink_free(&s);
    /* an involvedObject that is not an object (by the route: the shape needs one) */
    json_object_set_new(root, "involvedObject", json_string("Kustomization/apps/webapp"));
    decode_json(root, LH_FMT_FLUX, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "field 'involvedObject' is missing or not an object"), "%s",
                  s.why[0]);
    ck_assert_str_eq(s.id[0], "");
    sink_free(&s);
    json_decref(root);

    /* the route with a body that is no Flux event; an array; not JSON */
    static const struct {
        const char *body, *want;
    } raw[] = {
        {"{\"reason\":\"x\"}", "field 'involvedObject' is missing or not an object"},
        {"[{\"involvedObject\":{}}]", "a Flux payload must be a JSON object"},
        {"{\"involvedObject\":", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        decode(raw[i].body, strlen(raw[i].body), LH_FMT_FLUX, NULL, 0, NULL, &s);
        srcfix_one_rejection(&s, raw[i].want);
        sink_free(&s);
    }
}
END_TEST

/* --- signature and detection ------------------------------------------------------------------ */

/* "<name>=<hex HMAC of body>", as generic-hmac writes X-Signature. */
static void
sign(const EVP_MD *md, const char *name, const char *key, const void *body, size_t len, char *out,
     size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    ck_assert_ptr_nonnull(HMAC(md, key, (int)strlen(key), body, len, mac, &ml));
    size_t k = (size_t)snprintf(out, outlen, "%s=", name);
    for (unsigned i = 0; i < ml && k + 2 < outlen; i++)
        k += (size_t)snprintf(out + k, outlen - k, "%02x", mac[i]);
}

START_TEST(flux_signature)
{
    /* RFC 4231 test case 2, as X-Signature spells it */
    char sig[160];
    sign(EVP_sha256(), "sha256", "Jefe", "what do ya want for nothing?", 28, sig, sizeof(sig));
    ck_assert_str_eq(sig,
                     "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    size_t len;
    char *b = fixture(GENERIC, &len);
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_FLUX] = "flux provider token";
    sign(EVP_sha256(), "sha256", o.src.secret[LH_SRC_FLUX], b, len, sig, sizeof(sig));
    lh_kv_t h[] = {kv("X-Signature", sig)};
    sink_t s = {0};
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 1, &o, &s), LH_SRC_FLUX);
    ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
    ck_assert_int_eq(s.ev[0]->deploy.status, LH_DEPLOY_FAILED);
    sink_free(&s);
    decode(b, len, LH_FMT_FLUX, h, 1, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    /* the other digests Flux documents for verification */
    sign(EVP_sha512(), "sha512", o.src.secret[LH_SRC_FLUX], b, len, sig, sizeof(sig));
    h[0] = kv("x-signature", sig);
    decode(b, len, LH_FMT_FLUX, h, 1, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    /* another secret, one byte of the body changed, no header: refused before the decoder */
    sign(EVP_sha256(), "sha256", "another token", b, len, sig, sizeof(sig));
    h[0] = kv("X-Signature", sig);
    decode(b, len, LH_FMT_FLUX, h, 1, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "X-Signature header does not match"), "%s", s.why[0]);
    sink_free(&s);
    sign(EVP_sha256(), "sha256", o.src.secret[LH_SRC_FLUX], b, len, sig, sizeof(sig));
    char *e = strstr(b, "webapp");
    ck_assert_ptr_nonnull(e);
    e[0] = 'W';
    decode(b, len, LH_FMT_AUTO, h, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    e[0] = 'w';
    decode(b, len, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "no X-Signature header"), "%s", s.why[0]);
    sink_free(&s);
    /* the source off */
    o.src.off[LH_SRC_FLUX] = 1;
    decode(b, len, LH_FMT_FLUX, h, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "the Flux source is off"), "%s", s.why[0]);
    sink_free(&s);
    free(b);
}
END_TEST

/* Flux's fixtures are told by shape as Flux's; no other source's, nor loophub's own JSON,
 * CloudEvents or Alertmanager, is taken for Flux's. */
START_TEST(flux_detection)
{
    static const char *const mine[] = {GENERIC, EVSPEC};
    for (size_t i = 0; i < 2; i++) {
        json_t *root = fixture_json(mine[i]);
        ck_assert(lh__is_flux(root));
        ck_assert_int_eq(lh__source_of_shape(root), LH_SRC_FLUX);
        json_decref(root);
    }
    srcfix_no_other_source(lh__is_flux, "flux", "Flux");
    static const char *const formats[] = {
        "{\"id\":\"e1\",\"kind\":\"deploy\",\"service\":\"api\",\"reason\":\"x\"}",
        "{\"specversion\":\"1.0\",\"type\":\"dev.cdevents.service.deployed.0.1.1\",\"id\":\"x\"}",
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}",
        "{\"involvedObject\":{\"kind\":\"Pod\"},\"reason\":\"Killing\"}",
        "{\"involvedObject\":{\"kind\":1},\"reason\":\"x\",\"reportingController\":\"c\"}",
        "{\"involvedObject\":\"Kustomization\",\"reason\":\"x\",\"reportingController\":\"c\"}",
        "{\"involvedObject\":{\"kind\":\"Kustomization\"},\"reportingController\":\"c\"}",
    };
    srcfix_refuses(lh__is_flux, formats, sizeof(formats) / sizeof(formats[0]), "Flux");
    /* a Kubernetes core event (kind Pod, no reportingController) is not read as Flux's: it
     * goes to loophub's own JSON and is rejected there, not ignored as a Flux event */
    const char *pod = formats[3];
    sink_t s = {0};
    ck_assert_int_eq(decode(pod, strlen(pod), LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_NONE);
    ck_assert_int_ne(s.err[0], LH_IGNORED);
    sink_free(&s);
    /* Flux has no event header of its own */
    lh_kv_t h[] = {kv("X-Signature", "sha256=00"), kv("User-Agent", "Go-http-client/1.1")};
    ck_assert_int_eq(lh_source_of_headers(h, 2), LH_SRC_NONE);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("flux");
    const lh_test_case_t cases[] = {
        {"flux_validation_failed", flux_validation_failed, 0, 0},
        {"flux_reasons", flux_reasons, 0, 0},
        {"flux_helmrelease", flux_helmrelease, 0, 0},
        {"flux_ignored", flux_ignored, 0, 0},
        {"flux_revisions", flux_revisions, 0, 0},
        {"flux_environment_and_labels", flux_environment_and_labels, 0, 0},
        {"flux_identity", flux_identity, 0, 0},
        {"flux_bad_input", flux_bad_input, 0, 0},
        {"flux_signature", flux_signature, 0, 0},
        {"flux_detection", flux_detection, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
