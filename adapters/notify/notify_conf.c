/*
 * notify_conf.c - a notification sink's line ("NAME=TYPE URL [KEY=VALUE ...]", from --sink or
 * [sinks] NAME = TYPE URL ...), its routing, and the webhook signature.
 *
 * Keys: env=GLOBS and service=GLOBS (comma-separated, fnmatch, any case), min_severity=SEV,
 * kinds=incident,alert,unapproved (the correlated alert's kind), timeout=DUR; webhook:
 * format=json|cloudevents, secret_file=PATH; alertmanager: label=NAME=VALUE (repeatable);
 * pagerduty: routing_key_file=PATH, changes=URL|off (the change events' endpoint; default the
 * URL with /v2/enqueue made /v2/change/enqueue). Every error names the sink and the key.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/secret.h"
#include "loophub/timeutil.h"
#include "notify.h"

void
lh_notify_sink_conf_free(lh_notify_sink_conf_t *c)
{
    free(c->name);
    free(c->url);
    free(c->secret);
    free(c->routing_key);
    free(c->change_url);
    free(c->envs);
    free(c->services);
    lh_strlist_free(&c->labels);
    memset(c, 0, sizeof(*c));
}

static int
valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 48)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return 0;
    return 1;
}

/* "incident,alert,unapproved" (or the kinds' own names, deploy_preceded_incident, ...) into
 * bits 1 << lh_ca_kind_t. 0, or -1 at a word that is none of them. */
static int
parse_kinds(const char *v, unsigned *out)
{
    static const struct {
        const char *word;
        lh_ca_kind_t kind;
    } words[] = {
        {"incident", LH_CA_DEPLOY_PRECEDED_INCIDENT},
        {"alert", LH_CA_DEPLOY_PRECEDED_ALERT},
        {"unapproved", LH_CA_UNAPPROVED_CHANGE},
    };
    *out = 0;
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ",");
        char w[40];
        if (n == 0 || n >= sizeof(w))
            return -1;
        memcpy(w, p, n);
        w[n] = '\0';
        lh_ca_kind_t k = LH_CA_UNSPECIFIED;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            if (!strcmp(w, words[i].word))
                k = words[i].kind;
        if (k == LH_CA_UNSPECIFIED && (lh_ca_kind_parse(w, &k) < 0 || k == LH_CA_UNSPECIFIED))
            return -1;
        *out |= 1u << k;
        p += n + (p[n] == ',');
    }
    return *out ? 0 : -1;
}

int
lh_notify_sink_parse(const char *line, lh_notify_sink_conf_t *c, char *why, size_t whylen)
{
    memset(c, 0, sizeof(*c));
    const char *eq = strchr(line, '=');
    if (!eq || !valid_name(line, (size_t)(eq - line))) {
        /* only the first word is echoed: the rest may hold a URL whose path is a secret */
        snprintf(why, whylen,
                 "sink '%.*s': expected NAME=TYPE URL [KEY=VALUE ...], NAME 1 to 48 of "
                 "A-Z a-z 0-9 . _ -",
                 (int)(strcspn(line, " \t=") < 48 ? strcspn(line, " \t=") : 48), line);
        return LH_EINVAL;
    }
    char *copy = strdup(eq + 1);
    c->name = strndup(line, (size_t)(eq - line));
    if (!copy || !c->name) {
        free(copy);
        lh_notify_sink_conf_free(c);
        return LH_ENOMEM;
    }
    int rc = 0;
    char *save = NULL, *tok = strtok_r(copy, " \t", &save);
    if (!tok || lh_notify_kind_parse(tok, &c->kind) < 0) {
        snprintf(why, whylen,
                 "sink %s: type '%.32s' is not one of webhook, alertmanager, slack, pagerduty",
                 c->name, tok ? tok : "");
        rc = LH_EINVAL;
        goto out;
    }
    tok = strtok_r(NULL, " \t", &save);
    if (!tok || (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8))) {
        snprintf(why, whylen,
                 "sink %s: the URL after the type must be http:// or https://, got '%.64s'",
                 c->name, tok ? tok : "");
        rc = LH_EINVAL;
        goto out;
    }
    if (c->kind == LH_NOTIFY_ALERTMANAGER && !strstr(tok, "/api/v2/alerts")) {
        size_t n = strlen(tok);
        while (n > 0 && tok[n - 1] == '/')
            n--;
        if (asprintf(&c->url, "%.*s/api/v2/alerts", (int)n, tok) < 0)
            c->url = NULL;
    } else {
        c->url = strdup(tok);
    }
    if (!c->url) {
        rc = LH_ENOMEM;
        goto out;
    }
    char *secret_file = NULL, *key_file = NULL, *changes = NULL;
    while (rc == 0 && (tok = strtok_r(NULL, " \t", &save))) {
        char *v = strchr(tok, '=');
        if (!v || v == tok || !v[1]) {
            snprintf(why, whylen, "sink %s: '%.64s' is not KEY=VALUE", c->name, tok);
            rc = LH_EINVAL;
            break;
        }
        *v++ = '\0';
        int64_t ns = 0;
        lh_severity_t sev;
        if (!strcmp(tok, "env")) {
            free(c->envs);
            if (!(c->envs = strdup(v)))
                rc = LH_ENOMEM;
        } else if (!strcmp(tok, "service")) {
            free(c->services);
            if (!(c->services = strdup(v)))
                rc = LH_ENOMEM;
        } else if (!strcmp(tok, "min_severity")) {
            if (lh_severity_parse(v, &sev) < 0) {
                snprintf(why, whylen,
                         "sink %s: min_severity '%.32s' is not info, warning, error or critical",
                         c->name, v);
                rc = LH_EINVAL;
            }
            c->min_severity = (int)sev;
        } else if (!strcmp(tok, "kinds")) {
            if (parse_kinds(v, &c->kinds) < 0) {
                snprintf(why, whylen,
                         "sink %s: kinds '%.64s': a comma list of incident, alert, unapproved",
                         c->name, v);
                rc = LH_EINVAL;
            }
        } else if (!strcmp(tok, "timeout")) {
            if (lh_duration_parse(v, &ns) < 0 || ns <= 0) {
                snprintf(why, whylen, "sink %s: timeout '%.32s' is not a duration (10s)", c->name,
                         v);
                rc = LH_EINVAL;
            }
            c->timeout = ns;
        } else if (!strcmp(tok, "format") && c->kind == LH_NOTIFY_WEBHOOK) {
            if (strcmp(v, "json") && strcmp(v, "cloudevents")) {
                snprintf(why, whylen, "sink %s: format '%.32s' is not json or cloudevents", c->name,
                         v);
                rc = LH_EINVAL;
            }
            c->cloudevents = !strcmp(v, "cloudevents");
        } else if (!strcmp(tok, "secret_file") && c->kind == LH_NOTIFY_WEBHOOK) {
            free(secret_file);
            if (!(secret_file = strdup(v)))
                rc = LH_ENOMEM;
        } else if (!strcmp(tok, "routing_key_file") && c->kind == LH_NOTIFY_PAGERDUTY) {
            free(key_file);
            if (!(key_file = strdup(v)))
                rc = LH_ENOMEM;
        } else if (!strcmp(tok, "changes") && c->kind == LH_NOTIFY_PAGERDUTY) {
            if (strcmp(v, "off") && strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
                snprintf(why, whylen, "sink %s: changes '%.64s' is not off or an http(s) URL",
                         c->name, v);
                rc = LH_EINVAL;
            }
            free(changes);
            if (!(changes = strdup(v)))
                rc = LH_ENOMEM;
        } else if (!strcmp(tok, "label") && c->kind == LH_NOTIFY_ALERTMANAGER) {
            if (!strchr(v, '=') || *v == '=') {
                snprintf(why, whylen, "sink %s: label '%.64s' is not NAME=VALUE", c->name, v);
                rc = LH_EINVAL;
            } else if (lh_strlist_add(&c->labels, v) < 0) {
                rc = LH_ENOMEM;
            }
        } else {
            snprintf(why, whylen, "sink %s: unknown key '%.32s' for a %s sink", c->name, tok,
                     lh_notify_kind_name(c->kind));
            rc = LH_EINVAL;
        }
    }
    if (rc == 0 && secret_file)
        rc = lh_secret_file_read(secret_file, "sink secret", &c->secret, why, whylen);
    if (rc == 0 && key_file)
        rc = lh_secret_file_read(key_file, "PagerDuty routing key", &c->routing_key, why, whylen);
    if (rc == 0 && c->kind == LH_NOTIFY_PAGERDUTY && !c->routing_key) {
        snprintf(why, whylen,
                 "sink %s: a pagerduty sink needs routing_key_file=PATH (the integration key)",
                 c->name);
        rc = LH_EINVAL;
    }
    if (rc == 0 && c->kind == LH_NOTIFY_PAGERDUTY && !(changes && !strcmp(changes, "off"))) {
        static const char tail[] = "/v2/enqueue";
        size_t n = strlen(c->url), t = sizeof(tail) - 1;
        if (changes)
            c->change_url = strdup(changes);
        else if (n >= t && !strcmp(c->url + n - t, tail) &&
                 asprintf(&c->change_url, "%.*s/v2/change/enqueue", (int)(n - t), c->url) < 0)
            c->change_url = NULL;
        else if (n < t || strcmp(c->url + n - t, tail)) {
            snprintf(why, whylen,
                     "sink %s: the URL does not end in /v2/enqueue: name the change events' "
                     "endpoint with changes=URL, or changes=off",
                     c->name);
            rc = LH_EINVAL;
        }
        if (rc == 0 && !c->change_url)
            rc = LH_ENOMEM;
    }
    free(secret_file);
    free(key_file);
    free(changes);
out:
    free(copy);
    if (rc < 0)
        lh_notify_sink_conf_free(c);
    return rc;
}

static int
glob_match(const char *globs, const char *s)
{
    if (!globs)
        return 1;
    if (!s)
        return 0;
    char pat[256];
    const char *p = globs;
    while (*p) {
        size_t n = strcspn(p, ",");
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m > 0 && m < sizeof(pat)) {
            memcpy(pat, p, m);
            pat[m] = '\0';
            if (fnmatch(pat, s, FNM_CASEFOLD) == 0)
                return 1;
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

int
lh_notify_routes(const lh_notify_sink_conf_t *c, const lh_correlated_t *ca)
{
    if (c->kinds && !(c->kinds & (1u << ca->kind)))
        return 0;
    if (!glob_match(c->envs, ca->environment) || !glob_match(c->services, ca->service))
        return 0;
    if (c->min_severity) {
        lh_severity_t s = ca->outcome ? lh_event_severity(ca->outcome) : LH_SEV_UNSPECIFIED;
        /* an outcome without a severity is not filtered out: the sender named none */
        if (s != LH_SEV_UNSPECIFIED && (int)s < c->min_severity)
            return 0;
    }
    return 1;
}

int
lh_notify_routes_change(const lh_notify_sink_conf_t *c, const lh_event_t *ev)
{
    return glob_match(c->envs, ev->environment) && glob_match(c->services, ev->service);
}

void
lh_notify_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &n) ||
        outlen < 8 + 2 * n) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    memcpy(out, "sha256=", 7);
    for (unsigned int i = 0; i < n; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[7 + 2 * n] = '\0';
}
