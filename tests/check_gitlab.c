/*
 * check_gitlab.c - the GitLab webhook decoder (codec_gitlab.c) on the payloads GitLab publishes
 * (tests/data/sources/gitlab, README.md there says where each came from): Deployment Hook into
 * deploys, Issue Hook incidents into incidents, Pipeline Hook deploy jobs into deploys, the
 * rest ignored; identity with and without the Idempotency-Key header, the service setting,
 * GitLab's time formats, the secret token, and detection by header, shape and route.
 *
 * GitLab publishes one example per hook; the other statuses and types are that example with
 * the one field changed here (marked "variation").
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define SRCFIX_MAX_CALLS 16
#include "srcfix.h"

#define IDEM "a2c2a2fb-0a4b-4ed9-9b7e-5b4a8d6a7d31"

/* --- Deployment Hook -------------------------------------------------------------------------- */

START_TEST(gitlab_deployment_hook)
{
    size_t len;
    char *b = fixture("gitlab/deployment_hook-success.json", &len);
    lh_kv_t h[] = {kv("X-Gitlab-Event", "Deployment Hook"), kv("Idempotency-Key", IDEM),
                   kv("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"),
                   kv("X-Gitlab-Instance", "https://gitlab.example.com")};
    sink_t s = {0};
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 4, NULL, &s), LH_SRC_GITLAB);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gl-" IDEM);
    ck_assert_str_eq(ev->source, "gitlab");
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq(ev->deploy.deploy_id, "gl-15");
    ck_assert_str_eq(ev->service, "test-deployment-webhooks");
    ck_assert_str_eq(ev->environment, "staging");
    ck_assert_str_eq(ev->actor, "root");
    ck_assert_str_eq(ev->deploy.commit, "279484c09fbe69ededfced8c1bb6e6d24616b468");
    ck_assert_str_eq(ev->deploy.version, "279484c0");
    ck_assert_str_eq(label(ev, "environment_tier"), "staging");
    ck_assert_str_eq(label(ev, "environment_url"), "https://staging.example.com");
    ck_assert_str_eq(label(ev, "job"), "796");
    ck_assert_str_eq(label(ev, "project"), "root/test-deployment-webhooks");
    ck_assert_str_eq(label(ev, "url"),
                     "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796");
    ck_assert_int_eq(ev->time_ns, at("2021-04-28T21:50:00+02:00"));
    ck_assert_int_eq(ev->raw_format, LH_FMT_GITLAB);
    ck_assert_int_eq((int)ev->raw_len, (int)len);
    char why[200];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), 0);
    sink_free(&s);

    /* without its headers (a proxy dropped them): told by its shape, its id from the body */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_GITLAB);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, "gl-dep-15-success");
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, "gl-15");
    sink_free(&s);

    /* by its route, and the service as the project's path */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.gitlab_service = "path";
    ck_assert_int_eq(decode(b, len, LH_FMT_GITLAB, NULL, 0, &o, &s), LH_SRC_GITLAB);
    ck_assert_str_eq(s.ev[0]->service, "root/test-deployment-webhooks");
    sink_free(&s);
    o.src.gitlab_service = "name";
    decode(b, len, LH_FMT_GITLAB, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->service, "test-deployment-webhooks");
    sink_free(&s);
    free(b);
}
END_TEST

/* The other statuses of a deployment (variations: GitLab publishes only "success"). */
START_TEST(gitlab_deployment_statuses)
{
    json_t *root = fixture_json("gitlab/deployment_hook-success.json");
    static const struct {
        const char *status;
        int err;
        lh_deploy_status_t want;
        const char *why;
    } cases[] = {
        {"created", 0, LH_DEPLOY_STARTED, NULL},
        {"running", 0, LH_DEPLOY_STARTED, NULL},
        {"success", 0, LH_DEPLOY_SUCCEEDED, NULL},
        {"failed", 0, LH_DEPLOY_FAILED, NULL},
        {"canceled", LH_IGNORED, 0, "deployment canceled"},
        {"skipped", LH_IGNORED, 0, "deployment skipped"},
        {"blocked", LH_IGNORED, 0, "waiting for an approval"},
        {"exploded", LH_EDECODE, 0, "deployment status 'exploded' is not one GitLab documents"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object_set_new(root, "status", json_string(cases[i].status));
        lh_kv_t h[] = {kv("X-Gitlab-Event", "Deployment Hook")};
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, h, 1, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        char want_id[64];
        snprintf(want_id, sizeof(want_id), "gl-dep-15-%s", cases[i].status);
        ck_assert_str_eq(s.id[0], want_id);
        if (cases[i].err) {
            ck_assert_ptr_null(s.ev[0]);
            ck_assert_int_eq(s.err[0], cases[i].err);
            ck_assert_msg(strstr(s.why[0], cases[i].why), "%s lacks %s", s.why[0], cases[i].why);
        } else {
            ck_assert_ptr_nonnull(s.ev[0]);
            ck_assert_int_eq(s.ev[0]->deploy.status, cases[i].want);
            ck_assert_str_eq(s.ev[0]->deploy.deploy_id, "gl-15"); /* one change, every status */
        }
        sink_free(&s);
    }
    json_decref(root);
}
END_TEST

/* GitLab's time formats, the sha without a commit URL. */
START_TEST(gitlab_times_and_sha)
{
    json_t *root = fixture_json("gitlab/deployment_hook-success.json");
    static const struct {
        const char *in, *want;
    } ok[] = {
        {"2021-04-28 21:50:00 +0200", "2021-04-28T19:50:00Z"},
        {"2021-04-28 21:50:00 -0130", "2021-04-28T23:20:00Z"},
        {"2016-08-12 15:23:28 UTC", "2016-08-12T15:23:28Z"},
        {"2013-12-03T17:15:43Z", "2013-12-03T17:15:43Z"},
        {"2021-04-28T21:50:00.250+02:00", "2021-04-28T19:50:00.25Z"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_object_set_new(root, "status_changed_at", json_string(ok[i].in));
        sink_t s = {0};
        decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
        ck_assert_msg(s.ev[0] != NULL, "%s: %s", ok[i].in, s.why[0]);
        ck_assert_int_eq(s.ev[0]->time_ns, at(ok[i].want));
        sink_free(&s);
    }
    static const char *const bad[] = {"yesterday", "2021-04-28 21:50:00 CEST",
                                      "2021-04-28 21:50:00 +02", "2021-13-28 21:50:00 UTC", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object_set_new(root, "status_changed_at", json_string(bad[i]));
        sink_t s = {0};
        decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_EDECODE);
        ck_assert_msg(strstr(s.why[0], "'status_changed_at' is missing or not a time"), "%s",
                      s.why[0]);
        sink_free(&s);
    }
    json_object_set_new(root, "status_changed_at", json_string("2021-04-28 21:50:00 +0200"));
    /* a commit URL that does not end in a sha: the sha field, else no commit */
    json_object_set_new(root, "commit_url", json_string("http://x/-/commit/"));
    json_object_del(root, "short_sha");
    sink_t s = {0};
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_ptr_null(s.ev[0]->deploy.commit);
    ck_assert_ptr_null(s.ev[0]->deploy.version);
    sink_free(&s);
    json_object_set_new(root, "sha", json_string("0123456789abcdef0123456789abcdef01234567"));
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_str_eq(s.ev[0]->deploy.commit, "0123456789abcdef0123456789abcdef01234567");
    ck_assert_str_eq(s.ev[0]->deploy.version, "01234567");
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* Broken deployment payloads: a reason naming the field, nothing accepted. */
START_TEST(gitlab_bad_input)
{
    static const struct {
        const char *del, *want;
        int err;
    } cases[] = {
        {"status", "field 'status' is missing", LH_EMISSING},
        {"deployment_id", "field 'deployment_id' is missing or not a number", LH_EMISSING},
        {"environment", "field 'environment' is missing", LH_EMISSING},
        {"status_changed_at", "field 'status_changed_at' is missing or not a time", LH_EDECODE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = fixture_json("gitlab/deployment_hook-success.json");
        json_object_del(root, cases[i].del);
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], cases[i].err);
        ck_assert_msg(strstr(s.why[0], cases[i].want), "case %zu: '%s' lacks '%s'", i, s.why[0],
                      cases[i].want);
        sink_free(&s);
        json_decref(root);
    }
    /* wrong types: a deployment id that is a float, a project name that is a number */
    json_t *root = fixture_json("gitlab/deployment_hook-success.json");
    json_object_set_new(root, "deployment_id", json_real(1.5));
    sink_t s = {0};
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "'deployment_id'"), "%s", s.why[0]);
    sink_free(&s);
    json_object_set_new(root, "deployment_id", json_integer(15));
    json_object_set_new(json_object_get(root, "project"), "name", json_integer(7));
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "'project.name' is missing: it names the service"), "%s",
                  s.why[0]);
    sink_free(&s);
    json_decref(root);

    /* the route with a body that is no GitLab event; an array; not JSON */
    static const struct {
        const char *body, *want;
    } raw[] = {
        {"{\"project\":{\"name\":\"a\"}}", "field 'object_kind' is missing (X-Gitlab-Event: Push"},
        {"[{\"object_kind\":\"deployment\"}]", "a GitLab payload must be a JSON object"},
        {"{\"object_kind\":", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        lh_kv_t h[] = {kv("X-Gitlab-Event", "Push Hook")};
        decode(raw[i].body, strlen(raw[i].body), LH_FMT_GITLAB, h, 1, NULL, &s);
        srcfix_one_rejection(&s, raw[i].want);
        sink_free(&s);
    }
}
END_TEST

/* --- Pipeline Hook ---------------------------------------------------------------------------- */

START_TEST(gitlab_pipeline_hook)
{
    size_t len;
    char *b = fixture("gitlab/pipeline_hook-success.json", &len);
    lh_kv_t h[] = {kv("X-Gitlab-Event", "Pipeline Hook"), kv("Idempotency-Key", IDEM)};
    sink_t s = {0};
    /* as published: the two deploy jobs have not run (skipped manual production, created
     * staging); the three jobs without an environment are no change */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 2, NULL, &s), LH_SRC_GITLAB);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "gl-job-380-skipped");
    ck_assert_msg(strstr(s.why[0], "job 380 (production) to production is skipped"), "%s",
                  s.why[0]);
    ck_assert_int_eq(s.err[1], LH_IGNORED);
    ck_assert_str_eq(s.id[1], "gl-job-379-created");
    ck_assert_msg(strstr(s.why[1], "not running yet"), "%s", s.why[1]);
    sink_free(&s);

    /* variation: production ran to success, staging is running */
    json_t *root = json_loadb(b, len, 0, NULL);
    json_t *builds = json_object_get(root, "builds");
    json_t *prod = json_array_get(builds, 0), *stg = json_array_get(builds, 4);
    ck_assert_int_eq(json_integer_value(json_object_get(prod, "id")), 380);
    ck_assert_int_eq(json_integer_value(json_object_get(stg, "id")), 379);
    json_object_set_new(prod, "status", json_string("success"));
    json_object_set_new(prod, "finished_at", json_string("2016-08-12 15:27:00 UTC"));
    json_object_set_new(stg, "status", json_string("running"));
    json_object_set_new(stg, "started_at", json_string("2016-08-12 15:26:30 UTC"));
    decode_json(root, LH_FMT_AUTO, h, 2, NULL, &s);
    ck_assert_int_eq(s.n, 2);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gl-job-380-success");
    ck_assert_str_eq(ev->source, "gitlab");
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq(ev->deploy.deploy_id, "gl-job-380");
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_str_eq(ev->service, "Gitlab Test");
    ck_assert_str_eq(ev->actor, "root");
    ck_assert_str_eq(ev->deploy.commit, "bcbb5ec396a2c0f828686f14fac9b80b780504f2");
    ck_assert_str_eq(ev->deploy.version, "bcbb5ec3");
    ck_assert_int_eq(ev->deploy.commit_time_ns, at("2016-08-12T17:23:21+02:00"));
    ck_assert_int_eq(ev->time_ns, at("2016-08-12T15:27:00Z"));
    ck_assert_str_eq(label(ev, "environment_tier"), "production");
    ck_assert_str_eq(label(ev, "job"), "production");
    ck_assert_str_eq(label(ev, "pipeline"), "31");
    ck_assert_str_eq(label(ev, "ref"), "master");
    ck_assert_str_eq(label(ev, "project"), "gitlab-org/gitlab-test");
    ck_assert_str_eq(label(ev, "url"),
                     "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/jobs/380");
    ev = s.ev[1];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gl-job-379-running");
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_STARTED);
    ck_assert_str_eq(ev->deploy.deploy_id, "gl-job-379");
    ck_assert_str_eq(ev->environment, "staging");
    ck_assert_int_eq(ev->time_ns, at("2016-08-12T15:26:30Z"));
    sink_free(&s);

    /* a failed one; a stop action is no deploy; a job without its time */
    json_object_set_new(prod, "status", json_string("failed"));
    json_object_set_new(json_object_get(stg, "environment"), "action", json_string("stop"));
    decode_json(root, LH_FMT_AUTO, h, 2, NULL, &s);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.ev[0]->deploy.status, LH_DEPLOY_FAILED);
    ck_assert_int_eq(s.err[1], LH_IGNORED);
    ck_assert_msg(strstr(s.why[1], "environment action stop"), "%s", s.why[1]);
    sink_free(&s);
    json_object_set_new(prod, "finished_at", json_null());
    decode_json(root, LH_FMT_AUTO, h, 2, NULL, &s);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_EDECODE);
    ck_assert_str_eq(s.id[0], "gl-job-380-failed");
    ck_assert_msg(strstr(s.why[0], "'builds[].finished_at' is missing"), "%s", s.why[0]);
    sink_free(&s);

    /* no job with an environment: the whole payload ignored, under the delivery's id */
    json_object_set_new(prod, "environment", json_null());
    json_object_del(stg, "environment");
    decode_json(root, LH_FMT_AUTO, h, 2, NULL, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "gl-" IDEM);
    ck_assert_msg(strstr(s.why[0], "pipeline 31: no job deploys to an environment"), "%s",
                  s.why[0]);
    sink_free(&s);
    json_object_del(root, "builds");
    decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    sink_free(&s);
    json_decref(root);
    free(b);
}
END_TEST

/* A sink that asks to stop: the decoder stops at the first deploy of the pipeline. */
static int
stop_sink(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    (void)err;
    (void)id;
    (void)why;
    ++*(int *)arg;
    lh_event_destroy(&ev);
    return 1;
}

START_TEST(gitlab_pipeline_stops)
{
    json_t *root = fixture_json("gitlab/pipeline_hook-success.json");
    json_t *builds = json_object_get(root, "builds");
    for (size_t i = 0; i < json_array_size(builds); i++) {
        json_t *b = json_array_get(builds, i);
        json_object_set_new(b, "status", json_string("success"));
        json_object_set_new(b, "environment",
                            json_pack("{s:s, s:s}", "name", "production", "action", "start"));
    }
    char *text = json_dumps(root, 0);
    int calls = 0;
    int rc = lh_codec_decode_src(text, strlen(text), LH_FMT_GITLAB, NULL, 0, NULL, stop_sink,
                                 &calls, NULL);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(rc, 1);
    free(text);
    json_decref(root);
}
END_TEST

/* --- Issue Hook ------------------------------------------------------------------------------- */

START_TEST(gitlab_issue_hook)
{
    size_t len;
    char *b = fixture("gitlab/issue_hook-open.json", &len);
    lh_kv_t h[] = {kv("X-Gitlab-Event", "Issue Hook"), kv("Idempotency-Key", IDEM)};
    sink_t s = {0};
    /* as published: type Issue, not an incident */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 2, NULL, &s), LH_SRC_GITLAB);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "gl-" IDEM);
    ck_assert_msg(strstr(s.why[0], "issue 23 of type Issue: only incidents are read"), "%s",
                  s.why[0]);
    sink_free(&s);

    /* variation: the same payload for an incident (type Incident) */
    json_t *root = json_loadb(b, len, 0, NULL);
    json_t *a = json_object_get(root, "object_attributes");
    json_object_set_new(a, "type", json_string("Incident"));
    decode_json(root, LH_FMT_AUTO, h, 2, NULL, &s);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gl-" IDEM);
    ck_assert_str_eq(ev->source, "gitlab");
    ck_assert_int_eq(ev->kind, LH_KIND_INCIDENT);
    ck_assert_str_eq(ev->incident.incident_id, "gl-1-23");
    ck_assert_int_eq(ev->incident.state, LH_INCIDENT_DETECTED);
    ck_assert_int_eq(ev->incident.severity, LH_SEV_ERROR); /* high */
    ck_assert_str_eq(ev->incident.title, "New API: create/update/delete file");
    ck_assert_str_eq(ev->service, "Gitlab Test");
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_str_eq(ev->actor, "root");
    ck_assert_str_eq(label(ev, "escalation_status"), "triggered");
    ck_assert_str_eq(label(ev, "escalation_policy"), "Engineering On-call");
    ck_assert_str_eq(label(ev, "severity"), "high");
    ck_assert_str_eq(label(ev, "gitlab_action"), "open");
    ck_assert_str_eq(label(ev, "url"), "http://example.com/diaspora/issues/23");
    ck_assert_int_eq(ev->time_ns, at("2013-12-03T17:15:43Z"));
    char why[200];
    ck_assert_int_eq(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)), 0);
    sink_free(&s);

    /* without the header: the id from the body; as a work item; closed; another environment */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.default_env = "prod";
    o.src.gitlab_service = "path";
    json_object_set_new(root, "object_kind", json_string("work_item"));
    json_object_set_new(a, "state", json_string("closed"));
    json_object_set_new(a, "action", json_string("close"));
    json_object_set_new(a, "updated_at", json_string("2013-12-04 10:00:00 UTC"));
    decode_json(root, LH_FMT_AUTO, NULL, 0, &o, &s);
    ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gl-inc-1-23-closed-1386151200");
    ck_assert_str_eq(ev->incident.incident_id, "gl-1-23"); /* the same incident */
    ck_assert_int_eq(ev->incident.state, LH_INCIDENT_RESOLVED);
    ck_assert_str_eq(ev->environment, "prod");
    ck_assert_str_eq(ev->service, "gitlabhq/gitlab-test");
    sink_free(&s);
    json_decref(root);
    free(b);
}
END_TEST

/* Severities, states, the issue_type spelling, other types (variations of the published one). */
START_TEST(gitlab_issue_variations)
{
    json_t *root = fixture_json("gitlab/issue_hook-open.json");
    json_t *a = json_object_get(root, "object_attributes");
    json_object_set_new(a, "type", json_string("Incident"));
    static const struct {
        const char *sev;
        lh_severity_t want;
    } sevs[] = {{"critical", LH_SEV_CRITICAL},
                {"high", LH_SEV_ERROR},
                {"medium", LH_SEV_WARNING},
                {"low", LH_SEV_INFO},
                {"unknown", LH_SEV_UNSPECIFIED}};
    for (size_t i = 0; i < sizeof(sevs) / sizeof(sevs[0]); i++) {
        json_object_set_new(a, "severity", json_string(sevs[i].sev));
        sink_t s = {0};
        decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
        ck_assert_ptr_nonnull(s.ev[0]);
        ck_assert_int_eq(s.ev[0]->incident.severity, sevs[i].want);
        sink_free(&s);
    }
    json_object_del(a, "severity");
    static const struct {
        const char *state, *action;
        int err;
        lh_incident_state_t want;
    } states[] = {
        {"opened", "reopen", 0, LH_INCIDENT_DETECTED},
        {"reopened", NULL, 0, LH_INCIDENT_DETECTED},
        {"closed", "close", 0, LH_INCIDENT_RESOLVED},
        {NULL, "close", 0, LH_INCIDENT_RESOLVED},
        {NULL, "reopen", 0, LH_INCIDENT_DETECTED},
        {"locked", "update", LH_IGNORED, 0},
        {NULL, NULL, LH_EMISSING, 0},
    };
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        json_object_del(a, "state");
        json_object_del(a, "action");
        if (states[i].state)
            json_object_set_new(a, "state", json_string(states[i].state));
        if (states[i].action)
            json_object_set_new(a, "action", json_string(states[i].action));
        sink_t s = {0};
        decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        if (states[i].err) {
            ck_assert_ptr_null(s.ev[0]);
            ck_assert_int_eq(s.err[0], states[i].err);
        } else {
            ck_assert_msg(s.ev[0] != NULL, "case %zu: %s", i, s.why[0]);
            ck_assert_int_eq(s.ev[0]->incident.state, states[i].want);
            ck_assert_int_eq(s.ev[0]->incident.severity, LH_SEV_UNSPECIFIED);
        }
        sink_free(&s);
    }
    json_object_set_new(a, "state", json_string("opened"));
    /* issue_type, as older payloads spell it, wins over type */
    json_object_set_new(a, "type", json_string("Issue"));
    json_object_set_new(a, "issue_type", json_string("incident"));
    sink_t s = {0};
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    /* a task work item: ignored */
    json_object_del(a, "issue_type");
    json_object_set_new(root, "object_kind", json_string("work_item"));
    json_object_set_new(a, "type", json_string("Task"));
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "work_item 23 of type Task"), "%s", s.why[0]);
    sink_free(&s);
    /* an incident without its iid or project id */
    json_object_set_new(a, "type", json_string("Incident"));
    json_object_del(a, "iid");
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "'object_attributes.iid'"), "%s", s.why[0]);
    sink_free(&s);
    json_object_set_new(a, "iid", json_integer(23));
    json_object_del(json_object_get(root, "project"), "id");
    json_object_del(a, "project_id");
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    ck_assert_msg(strstr(s.why[0], "'project.id'"), "%s", s.why[0]);
    sink_free(&s);
    /* the project id of the attributes, when the project has none */
    json_object_set_new(a, "project_id", json_integer(14));
    decode_json(root, LH_FMT_GITLAB, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->incident.incident_id, "gl-14-23");
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- the rest --------------------------------------------------------------------------------- */

START_TEST(gitlab_ignored_kinds)
{
    static const char *const kinds[] = {"push", "tag_push", "merge_request",
                                        "note", "build",    "wiki_page"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char body[200];
        snprintf(body, sizeof(body), "{\"object_kind\":\"%s\",\"project\":{\"name\":\"a\"}}",
                 kinds[i]);
        lh_kv_t h[] = {kv("X-Gitlab-Event", "Some Hook"), kv("Idempotency-Key", "k1")};
        sink_t s = {0};
        ck_assert_int_eq(decode(body, strlen(body), LH_FMT_AUTO, h, 2, NULL, &s), LH_SRC_GITLAB);
        ck_assert_int_eq(s.n, 1);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_str_eq(s.id[0], "gl-k1");
        char want[80];
        snprintf(want, sizeof(want), "%s: not an event loophub reads", kinds[i]);
        ck_assert_msg(strstr(s.why[0], want), "%s", s.why[0]);
        sink_free(&s);
    }
}
END_TEST

/* The secret token: the same bytes pass, anything else is refused before the decoder. */
START_TEST(gitlab_token)
{
    size_t len;
    char *b = fixture("gitlab/deployment_hook-success.json", &len);
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_GITLAB] = "glpat secret token";
    lh_kv_t h[] = {kv("X-Gitlab-Event", "Deployment Hook"),
                   kv("X-Gitlab-Token", "glpat secret token")};
    sink_t s = {0};
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    h[1] = kv("X-Gitlab-Token", "glpat secret toke");
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "X-Gitlab-Token"), "%s", s.why[0]);
    sink_free(&s);
    decode(b, len, LH_FMT_AUTO, h, 1, &o, &s); /* none at all; the shape still finds it */
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    decode(b, len, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    free(b);
}
END_TEST

/* GitLab's fixtures are told by shape as GitLab's; no other source's, nor loophub's own JSON,
 * CloudEvents or Alertmanager, is taken for GitLab's. */
START_TEST(gitlab_detection)
{
    static const char *const mine[] = {"gitlab/deployment_hook-success.json",
                                       "gitlab/issue_hook-open.json",
                                       "gitlab/pipeline_hook-success.json"};
    for (size_t i = 0; i < 3; i++) {
        json_t *root = fixture_json(mine[i]);
        ck_assert(lh__is_gitlab(root));
        ck_assert_int_eq(lh__source_of_shape(root), LH_SRC_GITLAB);
        json_decref(root);
    }
    srcfix_no_other_source(lh__is_gitlab, "gitlab", "GitLab");
    static const char *const formats[] = {
        "{\"id\":\"e1\",\"kind\":\"deploy\",\"service\":\"api\",\"project\":{}}",
        "{\"specversion\":\"1.0\",\"type\":\"dev.cdevents.service.deployed.0.1.1\",\"id\":\"x\"}",
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}",
        "{\"object_kind\":\"push\"}",
        "{\"object_kind\":\"\",\"project\":{}}",
        "{\"object_kind\":3,\"project\":{}}",
    };
    srcfix_refuses(lh__is_gitlab, formats, sizeof(formats) / sizeof(formats[0]), "GitLab");
    /* by the event header alone, whatever the body */
    lh_kv_t h[] = {kv("x-gitlab-event", "Push Hook")};
    ck_assert_int_eq(lh_source_of_headers(h, 1), LH_SRC_GITLAB);
    const char *body = "{\"object_kind\":\"push\"}";
    sink_t s = {0};
    ck_assert_int_eq(decode(body, strlen(body), LH_FMT_AUTO, h, 1, NULL, &s), LH_SRC_GITLAB);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    sink_free(&s);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("gitlab");
    const lh_test_case_t cases[] = {
        {"gitlab_deployment_hook", gitlab_deployment_hook, 0, 0},
        {"gitlab_deployment_statuses", gitlab_deployment_statuses, 0, 0},
        {"gitlab_times_and_sha", gitlab_times_and_sha, 0, 0},
        {"gitlab_bad_input", gitlab_bad_input, 0, 0},
        {"gitlab_pipeline_hook", gitlab_pipeline_hook, 0, 0},
        {"gitlab_pipeline_stops", gitlab_pipeline_stops, 0, 0},
        {"gitlab_issue_hook", gitlab_issue_hook, 0, 0},
        {"gitlab_issue_variations", gitlab_issue_variations, 0, 0},
        {"gitlab_ignored_kinds", gitlab_ignored_kinds, 0, 0},
        {"gitlab_token", gitlab_token, 0, 0},
        {"gitlab_detection", gitlab_detection, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
