/*
 * codec_source.c - the webhook sources (format.h, docs/sources.md): the table of them, how a
 * request is told to be a source's (its headers, its shape, its route), the check of its
 * signature or token, and the hand-over to the source's own decoder (codec_<name>.c).
 *
 * One source is one decoder file and one row of `sources` below. A row says how its requests
 * are recognised (an event header; a shape test of the parsed body), how a secret is checked
 * (the scheme and its header), and which header holds the delivery id the sender keeps across
 * redeliveries.
 *
 * Invariants: with a secret set, nothing of a payload reaches its decoder before the signature
 * over the exact bytes received matched (compared in constant time); a mismatch is one
 * rejection with LH_EAUTH, which the hub neither stores nor quarantines. The decoders report
 * accepted events, rejections naming the field, and LH_IGNORED with a reason for payloads the
 * source sends that record nothing.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"
#include "loophub/error.h"

typedef enum {
    SIG_NONE,       /* no scheme of its own: the hub's bearer token guards it */
    SIG_HMAC_HEX,   /* header = [prefix]hex(HMAC(secret, body)); prefix names the digest */
    SIG_HMAC_LIST,  /* header = "v1=hex,v1=hex": any of them (PagerDuty, during key rotation) */
    SIG_TOKEN,      /* header = the secret itself (GitLab's X-Gitlab-Token) */
    SIG_HMAC_TIMED, /* Grafana: hex(HMAC(secret, [timestamp ":"] body)), timestamp header opt. */
} sig_scheme_t;

typedef struct {
    lh_source_info_t info;
    const char *event_header; /* its presence tells the source (NULL: none of its own) */
    sig_scheme_t sig;
    const char *sig_header;
    const char *sig_header2; /* SIG_HMAC_TIMED: the timestamp header */
    int (*is)(json_t *obj);  /* shape test of a body that came without its headers */
    lh__source_decode_fn decode;
} source_t;

/* clang-format off */
static const source_t sources[LH_SRC_COUNT] = {
    [LH_SRC_GITHUB] = {{"github", "GitHub", "X-GitHub-Event header",
                        "X-Hub-Signature-256: HMAC-SHA256 of the body", "X-GitHub-Delivery"},
                       "X-GitHub-Event", SIG_HMAC_HEX, "X-Hub-Signature-256", NULL,
                       lh__is_github, lh__github_decode},
    [LH_SRC_GITLAB] = {{"gitlab", "GitLab", "X-Gitlab-Event header",
                        "X-Gitlab-Token: the secret token", "Idempotency-Key"},
                       "X-Gitlab-Event", SIG_TOKEN, "X-Gitlab-Token", NULL,
                       lh__is_gitlab, lh__gitlab_decode},
    [LH_SRC_GRAFANA] = {{"grafana", "Grafana", "body: version \"1\" with orgId and alerts",
                         "X-Grafana-Alerting-Signature: HMAC-SHA256 of the body (with "
                         "X-Grafana-Alerting-Signature-Timestamp when sent)", NULL},
                        NULL, SIG_HMAC_TIMED, "X-Grafana-Alerting-Signature",
                        "X-Grafana-Alerting-Signature-Timestamp", lh__is_grafana,
                        lh__grafana_decode},
    [LH_SRC_PAGERDUTY] = {{"pagerduty", "PagerDuty", "X-PagerDuty-Signature header or body: "
                           "event with event_type and resource_type",
                           "X-PagerDuty-Signature: v1= HMAC-SHA256 of the body", "X-Webhook-Id"},
                          "X-PagerDuty-Signature", SIG_HMAC_LIST, "X-PagerDuty-Signature", NULL,
                          lh__is_pagerduty, lh__pagerduty_decode},
    [LH_SRC_JIRA] = {{"jira", "Jira", "X-Atlassian-Webhook-Identifier header or body: "
                      "webhookEvent with an issue or a comment",
                      "X-Hub-Signature: sha256= HMAC-SHA256 of the body",
                      "X-Atlassian-Webhook-Identifier"},
                     "X-Atlassian-Webhook-Identifier", SIG_HMAC_HEX, "X-Hub-Signature", NULL,
                     lh__is_jira, lh__jira_decode},
    [LH_SRC_FLUX] = {{"flux", "Flux", "body: involvedObject with reason and reportingController",
                      "X-Signature: sha256= HMAC of the body (provider generic-hmac)", NULL},
                     NULL, SIG_HMAC_HEX, "X-Signature", NULL, lh__is_flux, lh__flux_decode},
    [LH_SRC_TEKTON] = {{"tekton", "Tekton", "ce-type dev.tekton.event.* (binary or structured)",
                        "none of its own: the hub's bearer token", "ce-id"},
                       NULL, SIG_NONE, NULL, NULL, lh__is_tekton, lh__tekton_decode},
};
/* clang-format on */

const lh_source_info_t *
lh_source_info(int id)
{
    return id >= 0 && id < LH_SRC_COUNT ? &sources[id].info : NULL;
}

int
lh_source_by_name(const char *name)
{
    for (int i = 0; name && i < LH_SRC_COUNT; i++)
        if (!strcasecmp(sources[i].info.name, name))
            return i;
    return LH_SRC_NONE;
}

const lh_kv_t *
lh__header(const lh_kv_t *h, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (h[i].key && !strcasecmp(h[i].key, name))
            return &h[i];
    return NULL;
}

const char *
lh__header_str(const lh_kv_t *h, size_t n, const char *name, char *buf, size_t len)
{
    const lh_kv_t *kv = lh__header(h, n, name);
    if (!kv || !kv->value || kv->value_len == 0 || kv->value_len >= len)
        return NULL;
    memcpy(buf, kv->value, kv->value_len);
    buf[kv->value_len] = 0;
    return buf;
}

static int
tekton_type(const lh_kv_t *h, size_t n)
{
    const lh_kv_t *t = lh__header(h, n, "ce-type");
    static const char prefix[] = "dev.tekton.event.";
    return t && t->value && t->value_len >= sizeof(prefix) - 1 &&
           !memcmp(t->value, prefix, sizeof(prefix) - 1);
}

int
lh_source_of_headers(const lh_kv_t *headers, size_t n)
{
    for (int i = 0; i < LH_SRC_COUNT; i++)
        if (sources[i].event_header && lh__header(headers, n, sources[i].event_header))
            return i;
    return tekton_type(headers, n) ? LH_SRC_TEKTON : LH_SRC_NONE;
}

int
lh__source_of_shape(json_t *obj)
{
    for (int i = 0; i < LH_SRC_COUNT; i++)
        if (sources[i].is(obj))
            return i;
    return LH_SRC_NONE;
}

/* --- signatures ------------------------------------------------------------------------------ */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 1 when the n hex digits at hex are the mac (any case), compared in constant time. */
static int
hex_matches(const char *hex, size_t n, const unsigned char *mac, unsigned maclen)
{
    unsigned char got[EVP_MAX_MD_SIZE];
    if (n != (size_t)maclen * 2)
        return 0;
    for (unsigned i = 0; i < maclen; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        got[i] = (unsigned char)(hi << 4 | lo);
    }
    return CRYPTO_memcmp(got, mac, maclen) == 0;
}

/* HMAC of the secret over [pre] body with the digest md. 0, or LH_ENOMEM. */
static int
hmac(const EVP_MD *md, const char *secret, const char *pre, size_t prelen, const void *body,
     size_t len, unsigned char *mac, unsigned *maclen)
{
    if (!prelen)
        return HMAC(md, secret, (int)strlen(secret), body, len, mac, maclen) ? 0 : LH_ENOMEM;
    unsigned char *buf = malloc(prelen + len + 1);
    if (!buf)
        return LH_ENOMEM;
    memcpy(buf, pre, prelen);
    if (len)
        memcpy(buf + prelen, body, len);
    int ok = HMAC(md, secret, (int)strlen(secret), buf, prelen + len, mac, maclen) != NULL;
    free(buf);
    return ok ? 0 : LH_ENOMEM;
}

/* "sha256=<hex>" (any of sha1, sha256, sha384, sha512 named; a bare hex is sha256) against the
 * HMAC of the body. */
static int
check_hmac_hex(const char *v, size_t n, const char *secret, const void *body, size_t len)
{
    const char *eq = memchr(v, '=', n);
    const EVP_MD *md = EVP_sha256();
    if (eq) {
        char name[16];
        size_t k = (size_t)(eq - v);
        if (k == 0 || k >= sizeof(name))
            return 0;
        memcpy(name, v, k);
        name[k] = 0;
        md = !strcasecmp(name, "sha256")   ? EVP_sha256()
             : !strcasecmp(name, "sha1")   ? EVP_sha1()
             : !strcasecmp(name, "sha384") ? EVP_sha384()
             : !strcasecmp(name, "sha512") ? EVP_sha512()
                                           : NULL;
        if (!md)
            return 0;
        n -= k + 1;
        v = eq + 1;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (hmac(md, secret, NULL, 0, body, len, mac, &maclen) < 0)
        return LH_ENOMEM;
    return hex_matches(v, n, mac, maclen);
}

/* 1 when the request carries the source's proof of the secret, 0 when not, LH_ENOMEM; why says
 * what was wrong. */
static int
verify(const source_t *s, const char *secret, const lh_kv_t *h, size_t nh, const void *body,
       size_t len, char *why, size_t whylen)
{
    const lh_kv_t *sig = lh__header(h, nh, s->sig_header);
    if (s->sig == SIG_NONE)
        return 1;
    if (!sig || !sig->value || !sig->value_len) {
        snprintf(why, whylen,
                 "no %s header, and [source.%s] has a secret: set the same secret at the sender",
                 s->sig_header, s->info.name);
        return 0;
    }
    const char *v = sig->value;
    size_t n = sig->value_len;
    int ok = 0;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    switch (s->sig) {
    case SIG_TOKEN: {
        size_t m = strlen(secret);
        unsigned char diff = (unsigned char)(n != m);
        for (size_t i = 0; i < m; i++)
            diff |= (unsigned char)(secret[i] ^ (i < n ? v[i] : 0));
        ok = diff == 0;
        break;
    }
    case SIG_HMAC_HEX:
        ok = check_hmac_hex(v, n, secret, body, len);
        break;
    case SIG_HMAC_LIST:
        if (hmac(EVP_sha256(), secret, NULL, 0, body, len, mac, &maclen) < 0)
            return LH_ENOMEM;
        /* "v1=hex,v1=hex": each signature of a current key */
        for (size_t i = 0; i < n && !ok;) {
            size_t end = i;
            while (end < n && v[end] != ',')
                end++;
            size_t a = i;
            while (a < end && v[a] == ' ')
                a++;
            if (end - a > 3 && !memcmp(v + a, "v1=", 3))
                ok = hex_matches(v + a + 3, end - a - 3, mac, maclen);
            i = end + 1;
        }
        break;
    case SIG_HMAC_TIMED: {
        const lh_kv_t *ts = lh__header(h, nh, s->sig_header2);
        char pre[64];
        size_t prelen = 0;
        if (ts && ts->value && ts->value_len && ts->value_len < sizeof(pre) - 1) {
            memcpy(pre, ts->value, ts->value_len);
            pre[ts->value_len] = ':';
            prelen = ts->value_len + 1;
        }
        if (hmac(EVP_sha256(), secret, pre, prelen, body, len, mac, &maclen) < 0)
            return LH_ENOMEM;
        ok = hex_matches(v, n, mac, maclen);
        break;
    }
    case SIG_NONE:
        break;
    }
    if (ok < 0)
        return ok;
    if (!ok)
        snprintf(why, whylen, "the %s header does not match the secret of [source.%s]",
                 s->sig_header, s->info.name);
    return ok;
}

/* --- decoding -------------------------------------------------------------------------------- */

int
lh__source_decode(int id, json_t *obj, const void *body, size_t len, const lh_kv_t *h, size_t nh,
                  const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    const source_t *s = &sources[id];
    char why[LH__WHY_LEN];
    if (o && o->src.off[id]) {
        snprintf(why, sizeof(why), "the %s source is off ([source.%s] enabled = off)",
                 s->info.title, s->info.name);
        sink(NULL, LH_EAUTH, NULL, why, arg);
        return 1;
    }
    const char *secret = o ? o->src.secret[id] : NULL;
    if (secret && *secret) {
        int ok = verify(s, secret, h, nh, body, len, why, sizeof(why));
        if (ok < 0)
            return ok;
        if (!ok) {
            sink(NULL, LH_EAUTH, NULL, why, arg);
            return 1;
        }
    }
    lh__src_msg_t m = {.headers = h, .n_headers = nh, .conf = o ? &o->src : NULL};
    char dbuf[128];
    m.delivery =
        s->info.delivery ? lh__header_str(h, nh, s->info.delivery, dbuf, sizeof(dbuf)) : NULL;
    char ebuf[64];
    m.event = s->event_header ? lh__header_str(h, nh, s->event_header, ebuf, sizeof(ebuf)) : NULL;
    return s->decode(obj, &m, sink, arg);
}

/* --- helpers the source decoders share ---------------------------------------------------------
 */

const char *
lh__jstr(json_t *obj, const char *path)
{
    /* "a.b.c": nested objects */
    char key[64];
    json_t *v = obj;
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
        path += n + (path[n] == '.');
    }
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

int
lh__glob_list_match(const char *list, const char *name)
{
    if (!list || !name)
        return 0;
    char pat[256];
    while (*list) {
        size_t n = strcspn(list, ",");
        size_t a = 0;
        while (a < n && list[a] == ' ')
            a++;
        size_t b = n;
        while (b > a && list[b - 1] == ' ')
            b--;
        if (b > a && b - a < sizeof(pat)) {
            memcpy(pat, list + a, b - a);
            pat[b - a] = 0;
            if (lh__glob_match(pat, name))
                return 1;
        }
        list += n + (list[n] == ',');
    }
    return 0;
}

int
lh__glob_match(const char *p, const char *s)
{
    /* '*' any run, '?' one character, case-insensitive; iterative with one backtrack point */
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == '?' || (*p && tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

int
lh__map_lookup(const char *map, const char *key, char *out, size_t len)
{
    /* "k=v,k2=v2" */
    if (!map || !key)
        return 0;
    size_t kl = strlen(key);
    while (*map) {
        size_t n = strcspn(map, ",");
        const char *eq = memchr(map, '=', n);
        const char *k = map;
        while (k < map + n && *k == ' ')
            k++;
        if (eq) {
            const char *ke = eq;
            while (ke > k && ke[-1] == ' ')
                ke--;
            if ((size_t)(ke - k) == kl && !strncasecmp(k, key, kl)) {
                const char *v = eq + 1, *ve = map + n;
                while (v < ve && *v == ' ')
                    v++;
                while (ve > v && ve[-1] == ' ')
                    ve--;
                if (ve > v && (size_t)(ve - v) < len) {
                    memcpy(out, v, (size_t)(ve - v));
                    out[ve - v] = 0;
                    return 1;
                }
                return 0;
            }
        }
        map += n + (map[n] == ',');
    }
    return 0;
}

static int
verdict(lh_decode_sink_fn sink, void *arg, const char *id, int err, const char *fmt, va_list ap)
{
    char why[LH__WHY_LEN];
    vsnprintf(why, sizeof(why), fmt, ap);
    sink(NULL, err, id, why, arg);
    return 1;
}

int
lh__source_ignore(lh_decode_sink_fn sink, void *arg, const char *id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = verdict(sink, arg, id, LH_IGNORED, fmt, ap);
    va_end(ap);
    return n;
}

int
lh__source_reject(lh_decode_sink_fn sink, void *arg, const char *id, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = verdict(sink, arg, id, err, fmt, ap);
    va_end(ap);
    return n;
}

const char *
lh__source_env(const lh__src_msg_t *m)
{
    return m->conf && m->conf->default_env && *m->conf->default_env ? m->conf->default_env
                                                                    : "production";
}
