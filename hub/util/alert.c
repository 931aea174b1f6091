/*
 * alert.c - lh_correlated_t ownership: everything an alert points to is malloc'd and freed with it.
 */
#include "loophub/correlated.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loophub/error.h"

lh_correlated_t *
lh_correlated_new(void)
{
    return calloc(1, sizeof(lh_correlated_t));
}

static void
free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
lh_correlated_destroy(lh_correlated_t **cap)
{
    if (!cap || !*cap)
        return;
    lh_correlated_t *ca = *cap;
    for (size_t i = 0; i < ca->n_suspects; i++) {
        lh_suspect_t *s = &ca->suspects[i];
        free(s->deploy_id);
        free(s->event_id);
        free(s->service);
        free(s->environment);
        free(s->version);
        free(s->previous_version);
        free(s->actor);
        free(s->commit);
        free(s->artifact);
        free_strv(s->hosts, s->n_hosts);
        free_strv(s->reasons, s->n_reasons);
    }
    free(ca->suspects);
    free(ca->id);
    free(ca->service);
    free(ca->environment);
    free(ca->rollback_version);
    lh_event_destroy(&ca->outcome);
    free(ca);
    *cap = NULL;
}

lh_suspect_t *
lh_correlated_add_suspect(lh_correlated_t *ca)
{
    lh_suspect_t *v = realloc(ca->suspects, (ca->n_suspects + 1) * sizeof(*v));
    if (!v)
        return NULL;
    ca->suspects = v;
    lh_suspect_t *s = &v[ca->n_suspects++];
    memset(s, 0, sizeof(*s));
    return s;
}

static int
push(char ***v, size_t *n, const char *s)
{
    if (!s)
        return 0;
    char *c = strdup(s);
    if (!c)
        return LH_ENOMEM;
    char **nv = realloc(*v, (*n + 1) * sizeof(char *));
    if (!nv) {
        free(c);
        return LH_ENOMEM;
    }
    nv[(*n)++] = c;
    *v = nv;
    return 0;
}

int
lh_suspect_add_reason(lh_suspect_t *s, const char *reason)
{
    return push(&s->reasons, &s->n_reasons, reason);
}

int
lh_suspect_add_host(lh_suspect_t *s, const char *host)
{
    return push(&s->hosts, &s->n_hosts, host);
}

static const char *const ca_names[] = {NULL, "deploy_preceded_incident", "deploy_preceded_alert",
                                       "unapproved_change"};

const char *
lh_ca_kind_name(lh_ca_kind_t k)
{
    return (k > 0 && (size_t)k < sizeof(ca_names) / sizeof(ca_names[0])) ? ca_names[k] : NULL;
}

int
lh_ca_kind_parse(const char *s, lh_ca_kind_t *out)
{
    for (size_t i = 1; s && i < sizeof(ca_names) / sizeof(ca_names[0]); i++) {
        if (strcasecmp(s, ca_names[i]) == 0) {
            *out = (lh_ca_kind_t)i;
            return 0;
        }
    }
    return LH_EINVAL;
}
