/*
 * srcfix.h - what the webhook source suites (check_sources, check_gitlab, check_jira,
 * check_grafana, check_flux, check_tekton) share: a sink that records every verdict of
 * lh_codec_decode_src(), the senders' fixtures in tests/data/sources/, and decoding a body (or a
 * variation of a fixture made as JSON) through the hub's own entry point.
 *
 * Header-only (each suite is a program of its own): include it after check.h and the headers
 * it needs (jansson, loophub/format.h, loophub/event.h, loophub/timeutil.h, testutil.h). A suite
 * may define SRCFIX_MAX_CALLS first (default 16).
 */
#ifndef LOOPHUB_SRCFIX_H
#define LOOPHUB_SRCFIX_H

#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#ifndef SRCFIX_MAX_CALLS
#define SRCFIX_MAX_CALLS 16
#endif
#define MAX_CALLS SRCFIX_MAX_CALLS

/* The verdicts of one decode, in order: an event (err 0) or a rejection / LH_IGNORED with its
 * reason, and the id the decoder gave. */
typedef struct {
    int n;
    int stop_after; /* the sink answers "stop" after this many calls; 0: never */
    lh_event_t *ev[MAX_CALLS];
    int err[MAX_CALLS];
    char id[MAX_CALLS][200];
    char why[MAX_CALLS][400];
} sink_t;

static inline int
collect(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    sink_t *s = arg;
    ck_assert_int_lt(s->n, MAX_CALLS);
    int i = s->n++;
    s->ev[i] = ev;
    s->err[i] = err;
    snprintf(s->id[i], sizeof(s->id[i]), "%s", id ? id : "");
    snprintf(s->why[i], sizeof(s->why[i]), "%s", why ? why : "");
    if (ev)
        ck_assert_int_eq(err, 0);
    else
        ck_assert_msg(why && *why, "a verdict without a reason");
    return s->stop_after && s->n >= s->stop_after;
}

static inline void
sink_free(sink_t *s)
{
    for (int i = 0; i < s->n; i++)
        lh_event_destroy(&s->ev[i]);
    s->n = 0;
}

/* tests/data/sources/<name>, whole (malloc'd, NUL-terminated). */
static inline char *
fixture(const char *name, size_t *len)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/sources/%s", LH_TEST_DATA, name);
    char *b = lh_test_read_file(path, len);
    ck_assert_msg(b != NULL, "cannot read %s", path);
    return b;
}

static inline json_t *
fixture_json(const char *name)
{
    size_t len;
    char *b = fixture(name, &len);
    json_t *root = json_loadb(b, len, 0, NULL);
    free(b);
    ck_assert_ptr_nonnull(root);
    return root;
}

static inline lh_kv_t
kv(const char *k, const char *v)
{
    return (lh_kv_t){k, v, v ? strlen(v) : 0};
}

/* Decodes body with headers through the hub's entry point; returns the source that read it. */
static inline int
decode(const char *body, size_t len, lh_format_t hint, const lh_kv_t *h, size_t n,
       const lh_codec_opts_t *o, sink_t *s)
{
    int src = -2;
    int rc = lh_codec_decode_src(body, len, hint, h, n, o, collect, s, &src);
    ck_assert_int_eq(rc, s->n);
    return src;
}

/* As decode(), of a JSON value (a variation of a fixture). */
static inline int
decode_json(json_t *root, lh_format_t hint, const lh_kv_t *h, size_t n, const lh_codec_opts_t *o,
            sink_t *s)
{
    char *text = json_dumps(root, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    int src = decode(text, strlen(text), hint, h, n, o, s);
    free(text);
    return src;
}

/* Every sender's fixture (tests/data/sources/<source>/<name>.json) but own_dir's is refused by is,
 * the shape test of the source whose name is title: a body that came without its headers is never
 * taken for another source's. A fixture added for any source is checked here with no change. */
static inline void
srcfix_no_other_source(int (*is)(json_t *), const char *own_dir, const char *title)
{
    char root[600];
    snprintf(root, sizeof(root), "%s/sources", LH_TEST_DATA);
    DIR *d = opendir(root);
    ck_assert_msg(d != NULL, "cannot list %s", root);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, own_dir))
            continue;
        char sub[900];
        snprintf(sub, sizeof(sub), "%s/%s", root, e->d_name);
        DIR *f = opendir(sub);
        if (!f)
            continue; /* README.md */
        struct dirent *g;
        while ((g = readdir(f))) {
            size_t n = strlen(g->d_name);
            if (n < 6 || strcmp(g->d_name + n - 5, ".json"))
                continue;
            char name[600];
            snprintf(name, sizeof(name), "%s/%s", e->d_name, g->d_name);
            json_t *o = fixture_json(name);
            ck_assert_msg(!is(o), "%s taken for %s's", name, title);
            json_decref(o);
            seen++;
        }
        closedir(f);
    }
    closedir(d);
    ck_assert_msg(seen >= 10, "only %d other fixtures read", seen);
}

/* None of the n JSON bodies (near misses, other formats) is taken by is, title's shape test. */
static inline void
srcfix_refuses(int (*is)(json_t *), const char *const *bodies, size_t n, const char *title)
{
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_loads(bodies[i], 0, NULL);
        ck_assert_msg(o != NULL, "not JSON: %s", bodies[i]);
        ck_assert_msg(!is(o), "%s taken for %s's", bodies[i], title);
        json_decref(o);
    }
}

/* The decode s holds gave one rejection (neither an event nor LH_IGNORED) whose reason says
 * want. */
static inline void
srcfix_one_rejection(const sink_t *s, const char *want)
{
    ck_assert_int_eq(s->n, 1);
    ck_assert_ptr_null(s->ev[0]);
    ck_assert_int_lt(s->err[0], 0);
    ck_assert_int_ne(s->err[0], LH_IGNORED);
    ck_assert_msg(strstr(s->why[0], want), "'%s' lacks '%s'", s->why[0], want);
}

/* A label's value, "" when the event has none. */
static inline const char *
label(const lh_event_t *ev, const char *k)
{
    const char *v = lh_event_label(ev, k);
    return v ? v : "";
}

/* An RFC 3339 time as ns; fails the test when it does not parse. */
static inline int64_t
at(const char *rfc3339)
{
    int64_t t = 0;
    ck_assert_int_eq(lh_time_parse(rfc3339, &t), 0);
    return t;
}

#endif
