/*
 * redact.c - the redaction rules (redact.h): compiled once with <regex.h>, applied to every
 * string field of an event, to raw bytes and to reasons before anything is written or logged.
 *
 * Matching goes over NUL-terminated stretches of the bytes (plain POSIX regexec), so raw payloads
 * with NULs in them are scrubbed too, stretch by stretch. The default value rules name literals one
 * of which must occur for the rule to match ("need"): a field without any of them skips the regex,
 * which keeps the common case (no secret anywhere) a few memchr-speed scans per string.
 */
#include "redact.h"

#include <ctype.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loophub/buf.h"
#include "loophub/error.h"

#define MAX_GROUPS 16
#define RED_LEN (sizeof(LH_REDACTED) - 1)

typedef struct {
    regex_t re;
    int group;               /* the subexpression replaced (its last one), 0: the whole match */
    const char *const *need; /* one of these must occur (case-insensitive); NULL: always try */
    const char *need_chars;  /* and one of these bytes; NULL: no such condition */
    uint64_t mask_chars;     /* present() bits of need_chars, of the literals' first letters: */
    uint64_t mask_first;     /* a string without any of them is skipped in one test */
} vrule_t;

struct lh_redact {
    regex_t *keys; /* [0] is LH_REDACT_DEFAULT_KEYS when default_keys */
    size_t n_keys;
    int default_keys;
    vrule_t *values;
    size_t n_values;
};

/* The key names again, as the start of key=value / key: value text; the value is the last group,
 * after an optional auth scheme that stays readable ("Authorization: Bearer [redacted]"). */
#define KV_NAMES "(password|passwd|secret|token|api[_-]?key|authorization|cookie|session)"

static const char *const need_bearer[] = {"bearer", NULL};
static const char *const need_aws[] = {"akia", "asia", NULL};
static const char *const need_url[] = {"://", NULL};
static const char *const need_kv[] = {"pass", "secret", "token",   "key",
                                      "auth", "cookie", "session", NULL};

static const struct {
    const char *pattern;
    const char *const *need;
    const char *need_chars;
} default_values[] = {
    /* Authorization: Bearer <token>, anywhere */
    {"bearer[[:space:]]+([A-Za-z0-9._~+/=-]+)", need_bearer, NULL},
    /* AWS access key ids (long-lived AKIA, temporary ASIA) */
    {"A[KS]IA[A-Z0-9]{16}", need_aws, NULL},
    /* scheme://user:password@host: the password (it may hold '@'; the last one ends it; quotes
     * and <> end the URL, as in JSON and markup) */
    {"[a-z][a-z0-9+.-]*://[^/?#@:\"'<>[:space:][:cntrl:]]*:([^/?#\"'<>[:space:][:cntrl:]]+)@",
     need_url, "@"},
    /* password=..., "token": "...", api_key: ..., in text, query strings and JSON */
    {KV_NAMES
     "[a-z0-9_.-]*[\"']?[[:space:]]*[:=][[:space:]]*[\"']?((bearer|basic|token)[[:space:]]+)?"
     "([^[:space:][:cntrl:]\"'&,;]+)",
     need_kv, ":="},
};
#define N_DEFAULT_VALUES (sizeof(default_values) / sizeof(default_values[0]))

const char *
lh_redact_default_value(size_t i)
{
    return i < N_DEFAULT_VALUES ? default_values[i].pattern : NULL;
}

void
lh_redact_opts_default(lh_redact_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->defaults = 1;
}

void
lh_redact_destroy(lh_redact_t **rp)
{
    if (!rp || !*rp)
        return;
    lh_redact_t *r = *rp;
    for (size_t i = 0; i < r->n_keys; i++)
        regfree(&r->keys[i]);
    for (size_t i = 0; i < r->n_values; i++)
        regfree(&r->values[i].re);
    free(r->keys);
    free(r->values);
    free(r);
    *rp = NULL;
}

static int
compile(regex_t *re, const char *pattern, int flags, const char *option, char *why, size_t whylen)
{
    int rc = regcomp(re, pattern ? pattern : "", REG_EXTENDED | REG_ICASE | flags);
    if (rc == 0 && (!pattern || !*pattern)) {
        regfree(re);
        snprintf(why, whylen, "--%s '': an empty pattern would match everything", option);
        return LH_EINVAL;
    }
    if (rc == REG_ESPACE)
        return LH_ENOMEM;
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        snprintf(why, whylen, "--%s '%s': not a valid extended regex: %s", option, pattern, msg);
        return LH_EINVAL;
    }
    return 0;
}

/* A byte's bit in a presence mask: letters of either case share one; other bytes may share
 * one with something else, which only makes the test below pass more often, never fail wrongly. */
static uint64_t
present_bit(unsigned char c)
{
    return (uint64_t)1 << ((c | 0x20) & 63);
}

/* The bits of every byte of s[0..len). */
static uint64_t
present(const char *s, size_t len)
{
    uint64_t m = 0;
    for (size_t i = 0; i < len; i++)
        m |= present_bit((unsigned char)s[i]);
    return m;
}

static int
add_value(lh_redact_t *r, const char *pattern, const char *const *need, const char *need_chars,
          char *why, size_t whylen)
{
    vrule_t *v = &r->values[r->n_values];
    int rc = compile(&v->re, pattern, 0, "redact-value", why, whylen);
    if (rc < 0)
        return rc;
    r->n_values++;
    if (v->re.re_nsub >= MAX_GROUPS) {
        snprintf(why, whylen, "--redact-value '%s': more than %d groups", pattern, MAX_GROUPS - 1);
        return LH_EINVAL;
    }
    v->group = (int)v->re.re_nsub;
    v->need = need;
    v->need_chars = need_chars;
    for (const char *c = need_chars; c && *c; c++)
        v->mask_chars |= present_bit((unsigned char)*c);
    for (const char *const *l = need; l && *l; l++)
        v->mask_first |= present_bit((unsigned char)(*l)[0]);
    return 0;
}

int
lh_redact_new(const lh_redact_opts_t *o, lh_redact_t **out, char *why, size_t whylen)
{
    *out = NULL;
    if (whylen)
        why[0] = 0;
    lh_redact_t *r = calloc(1, sizeof(*r));
    size_t nk = o->n_keys + (o->defaults ? 1 : 0);
    size_t nv = o->n_values + (o->defaults ? N_DEFAULT_VALUES : 0);
    if (!r || !(r->keys = calloc(nk ? nk : 1, sizeof(regex_t))) ||
        !(r->values = calloc(nv ? nv : 1, sizeof(vrule_t)))) {
        lh_redact_destroy(&r);
        return LH_ENOMEM;
    }
    int rc = 0;
    if (o->defaults && (rc = compile(&r->keys[0], LH_REDACT_DEFAULT_KEYS, REG_NOSUB, "redact-key",
                                     why, whylen)) == 0) {
        r->n_keys++;
        r->default_keys = 1;
    }
    for (size_t i = 0; rc == 0 && i < o->n_keys; i++)
        if ((rc = compile(&r->keys[r->n_keys], o->keys[i], REG_NOSUB, "redact-key", why, whylen)) ==
            0)
            r->n_keys++;
    for (size_t i = 0; rc == 0 && o->defaults && i < N_DEFAULT_VALUES; i++)
        rc = add_value(r, default_values[i].pattern, default_values[i].need,
                       default_values[i].need_chars, why, whylen);
    for (size_t i = 0; rc == 0 && i < o->n_values; i++)
        rc = add_value(r, o->values[i], NULL, NULL, why, whylen);
    if (rc < 0) {
        lh_redact_destroy(&r);
        return rc;
    }
    *out = r;
    return 0;
}

/* --- the value rules over bytes -------------------------------------------------------------- */

/* Case-insensitive search for the lower-case lit in s[0..len), embedded NULs included: memchr()
 * for either case of its first letter, then the rest compared (faster than strcasestr() on the
 * short strings of an event, and blind to NULs). */
static int
has_ci(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    char lo = lit[0], up = (char)toupper((unsigned char)lit[0]);
    const char *end = s + len;
    for (const char *p = s; p + n <= end; p++) {
        const char *a = memchr(p, lo, (size_t)(end - p));
        const char *b = lo != up ? memchr(p, up, (size_t)((a ? a : end) - p)) : NULL;
        p = b ? b : a;
        if (!p || p + n > end)
            return 0;
        if (strncasecmp(p + 1, lit + 1, n - 1) == 0)
            return 1;
    }
    return 0;
}

/* One of the literals occurs in s[0..len). */
static int
may_match_need(const char *const *need, const char *s, size_t len)
{
    for (const char *const *l = need; *l; l++)
        if (has_ci(s, len, *l))
            return 1;
    return 0;
}

static int
may_match(const vrule_t *v, uint64_t seen, const char *s, size_t len)
{
    if ((v->mask_chars && !(seen & v->mask_chars)) || (v->mask_first && !(seen & v->mask_first)))
        return 0;
    if (v->need_chars) {
        const char *c = v->need_chars;
        while (*c && !memchr(s, *c, len))
            c++;
        if (!*c)
            return 0;
    }
    return !v->need || may_match_need(v->need, s, len);
}

/* The matches of one rule in s[from..to), where s[to] is a NUL: each replaced part is appended
 * to out after what precedes it since *done. Returns the replacements made, or LH_ENOMEM. */
static int
apply_segment(const vrule_t *v, const char *s, size_t from, size_t to, size_t *done, lh_buf_t *out)
{
    regmatch_t m[MAX_GROUPS];
    size_t pos = from;
    int n = 0;
    while (pos <= to) {
        if (regexec(&v->re, s + pos, (size_t)v->group + 1, m, pos > from ? REG_NOTBOL : 0))
            break;
        size_t so = pos + (size_t)m[0].rm_so, eo = pos + (size_t)m[0].rm_eo;
        size_t rs = so, re = eo;
        if (v->group && m[v->group].rm_so >= 0) {
            rs = pos + (size_t)m[v->group].rm_so;
            re = pos + (size_t)m[v->group].rm_eo;
        }
        /* "[redacted]" again is no change: rules overlap (a bearer token inside key=value) */
        if (re > rs && !(re - rs == RED_LEN && memcmp(s + rs, LH_REDACTED, RED_LEN) == 0)) {
            if (lh_buf_append(out, s + *done, rs - *done) < 0 ||
                lh_buf_append(out, LH_REDACTED, RED_LEN) < 0)
                return LH_ENOMEM;
            *done = re;
            n++;
        }
        pos = eo > so ? eo : so + 1; /* an empty match moves on by one byte */
    }
    return n;
}

/* One rule over s[0..len) into out (reset first); s[len] is a NUL. A NUL ends text: the rule is
 * applied to each NUL-free stretch (a C string for regexec), so a value never runs on into the
 * next field of a binary payload. Returns the replacements made (out holds the result only
 * then), or LH_ENOMEM. */
static int
apply(const vrule_t *v, const char *s, size_t len, lh_buf_t *out)
{
    size_t done = 0;
    int n = 0;
    lh_buf_reset(out);
    for (size_t from = 0; from < len || (len == 0 && from == 0);) {
        const char *nul = memchr(s + from, 0, len - from);
        size_t to = nul ? (size_t)(nul - s) : len;
        int k = apply_segment(v, s, from, to, &done, out);
        if (k < 0)
            return k;
        n += k;
        if (!nul)
            break;
        from = to + 1;
    }
    if (n == 0)
        return 0;
    if (lh_buf_append(out, s + done, len - done) < 0 || lh_buf_append(out, "", 1) < 0)
        return LH_ENOMEM;
    out->len--; /* the NUL stays after the bytes, not counted */
    return n;
}

#define MAX_ROUNDS 4

/* Every value rule in turn over s (s[len] is a NUL), in rounds until one changes nothing: a
 * replacement can end a match another rule stopped short of (a '/' that bounded a URL gone with
 * a key=value), and a scrubbed value must hold nothing the rules would still catch. At most
 * MAX_ROUNDS, for a configured rule that matches its own output. The result in *res (a or b)
 * when the count is > 0. */
static int
scrub(const lh_redact_t *r, const char *s, size_t len, lh_buf_t *a, lh_buf_t *b,
      const lh_buf_t **res)
{
    const char *cur = s;
    size_t cur_len = len;
    lh_buf_t *next = a;
    int total = 0, round_n = 1;
    uint64_t seen = present(s, len);
    for (int round = 0; round < MAX_ROUNDS && round_n > 0; round++) {
        round_n = 0;
        for (size_t i = 0; i < r->n_values; i++) {
            if (!may_match(&r->values[i], seen, cur, cur_len))
                continue;
            int n = apply(&r->values[i], cur, cur_len, next);
            if (n < 0)
                return n;
            if (n == 0)
                continue;
            round_n += n;
            cur = (const char *)next->data;
            cur_len = next->len;
            seen = present(cur, cur_len);
            *res = next;
            next = next == a ? b : a;
        }
        total += round_n;
    }
    return total;
}

/* scrub() over bytes that need not end in a NUL: over a terminated copy in c. */
static int
scrub_bytes(const lh_redact_t *r, const void *s, size_t len, lh_buf_t *a, lh_buf_t *b, lh_buf_t *c,
            const lh_buf_t **res)
{
    /* the prefilters need no NUL: most payloads need no copy */
    uint64_t seen = present(s, len);
    size_t i = 0;
    while (i < r->n_values && !may_match(&r->values[i], seen, s, len))
        i++;
    if (i == r->n_values)
        return 0;
    lh_buf_reset(c);
    if (lh_buf_append(c, s, len) < 0 || lh_buf_append(c, "", 1) < 0)
        return LH_ENOMEM;
    return scrub(r, (const char *)c->data, len, a, b, res);
}

int
lh_redact_bytes(const lh_redact_t *r, const void *s, size_t len, char **out, size_t *outlen)
{
    lh_buf_t a = LH_BUF_INIT, b = LH_BUF_INIT, c = LH_BUF_INIT;
    const lh_buf_t *res = NULL;
    *out = NULL;
    *outlen = 0;
    int n = scrub_bytes(r, s ? s : "", s ? len : 0, &a, &b, &c, &res);
    lh_buf_free(&c);
    if (n > 0) {
        lh_buf_t *keep = res == &a ? &a : &b;
        *out = (char *)keep->data;
        *outlen = keep->len;
        keep->data = NULL;
    }
    lh_buf_free(&a);
    lh_buf_free(&b);
    return n;
}

int
lh_redact_str(const lh_redact_t *r, char **s)
{
    if (!s || !*s)
        return 0;
    char *out;
    size_t len;
    int n = lh_redact_bytes(r, *s, strlen(*s), &out, &len);
    if (n > 0) {
        free(*s);
        *s = out;
    }
    return n;
}

/* --- events ---------------------------------------------------------------------------------- */

typedef struct {
    const lh_redact_t *r;
    lh_event_t *ev;
    lh_redact_report_fn fn;
    void *arg;
    lh_buf_t a, b;
    int n;
    int err;
} walk_t;

/* Tells the caller about a changed field: name, name.sub (a label) or name[idx] (an array).
 * The path is made here only, not for the fields that stay as they are. */
static void
report(walk_t *w, const char *name, const char *sub, long idx, const char *after)
{
    char path[300];
    if (!w->fn)
        return;
    if (sub)
        snprintf(path, sizeof(path), "%s.%s", name, sub);
    else if (idx >= 0)
        snprintf(path, sizeof(path), "%s[%ld]", name, idx);
    else
        snprintf(path, sizeof(path), "%s", name);
    w->fn(path, after, w->arg);
}

static void
field_at(walk_t *w, char **f, const char *name, const char *sub, long idx)
{
    if (w->err || !*f)
        return;
    const lh_buf_t *res = NULL;
    int n = scrub(w->r, *f, strlen(*f), &w->a, &w->b, &res);
    if (n <= 0) {
        w->err = n;
        return;
    }
    char *after = lh_event_str(w->ev, (const char *)res->data, res->len);
    if (!after) {
        w->err = LH_ENOMEM;
        return;
    }
    *f = after;
    w->n += n;
    report(w, name, sub, idx, after);
}

static void
field(walk_t *w, char **f, const char *name)
{
    field_at(w, f, name, NULL, -1);
}

static void
array(walk_t *w, char **v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        field_at(w, &v[i], name, NULL, (long)i);
}

static int
key_secret(const lh_redact_t *r, const char *key)
{
    for (size_t i = 0; key && i < r->n_keys; i++) {
        /* the default rule needs one of its names: most keys skip its regex */
        if (i == 0 && r->default_keys && !may_match_need(need_kv, key, strlen(key)))
            continue;
        if (regexec(&r->keys[i], key, 0, NULL, 0) == 0)
            return 1;
    }
    return 0;
}

static void
labels(walk_t *w)
{
    for (size_t i = 0; i < w->ev->n_labels && !w->err; i++) {
        lh_label_t *l = &w->ev->labels[i];
        const char *key = l->key ? l->key : "";
        if (!key_secret(w->r, l->key)) {
            field_at(w, &l->value, "labels", key, -1);
            continue;
        }
        if (!l->value || strcmp(l->value, LH_REDACTED) == 0)
            continue;
        if (!(l->value = lh_event_str(w->ev, LH_REDACTED, RED_LEN))) {
            w->err = LH_ENOMEM;
            return;
        }
        w->n++;
        report(w, "labels", key, -1, l->value);
    }
}

/* The original bytes are kept only when neither the event nor they hold anything the rules
 * catch: a scrubbed copy of JSON could be re-read, but one rule set applied to two forms of the
 * same data is one more place for a secret to slip through, and the protobuf row is the event. */
static void
raw(walk_t *w)
{
    if (w->err || !w->ev->raw)
        return;
    int n = 0;
    if (w->n == 0) {
        const lh_buf_t *res = NULL;
        lh_buf_t c = LH_BUF_INIT;
        n = scrub_bytes(w->r, w->ev->raw, w->ev->raw_len, &w->a, &w->b, &c, &res);
        lh_buf_free(&c);
        if (n < 0) {
            w->err = n;
            return;
        }
        if (n == 0)
            return;
    }
    lh_event_set_raw(w->ev, NULL, 0, 0);
    w->n += n;
    if (w->fn)
        w->fn("raw", "(not kept)", w->arg);
}

int
lh_redact_event(const lh_redact_t *r, lh_event_t *ev, lh_redact_report_fn fn, void *arg)
{
    walk_t w = {.r = r, .ev = ev, .fn = fn, .arg = arg, .a = LH_BUF_INIT, .b = LH_BUF_INIT};
    /* not the ids and references: they dedupe and link events (redact.h) */
    field(&w, &ev->source, "source");
    field(&w, &ev->service, "service");
    field(&w, &ev->environment, "environment");
    field(&w, &ev->actor, "actor");
    array(&w, ev->hosts, ev->n_hosts, "hosts");
    labels(&w);
    field(&w, &ev->deploy.version, "deploy.version");
    field(&w, &ev->deploy.previous_version, "deploy.previous_version");
    field(&w, &ev->deploy.commit, "deploy.commit");
    field(&w, &ev->deploy.artifact, "deploy.artifact");
    field(&w, &ev->alert.name, "alert.name");
    field(&w, &ev->alert.summary, "alert.summary");
    field(&w, &ev->alert.artifact, "alert.artifact");
    field(&w, &ev->incident.title, "incident.title");
    field(&w, &ev->incident.artifact, "incident.artifact");
    array(&w, ev->ticket.links, ev->ticket.n_links, "ticket.links");
    field(&w, &ev->ticket.url, "ticket.url");
    field(&w, &ev->ticket.summary, "ticket.summary");
    raw(&w);
    lh_buf_free(&w.a);
    lh_buf_free(&w.b);
    return w.err < 0 ? w.err : w.n;
}
