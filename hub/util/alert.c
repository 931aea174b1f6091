/*
 * alert.c - lh_correlated_t ownership: everything an alert points to is malloc'd and freed with it.
 */
#include "loophub/correlated.h"

#include <stdint.h>
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
    for (size_t i = 0; i < ca->n_outcomes; i++) {
        free(ca->outcomes[i].ref);
        free(ca->outcomes[i].event_id);
        free(ca->outcomes[i].title);
    }
    free(ca->outcomes);
    for (size_t i = 0; i < ca->n_rollbacks; i++) {
        free(ca->rollbacks[i].service);
        free(ca->rollbacks[i].version);
        free(ca->rollbacks[i].deploy_id);
        free(ca->rollbacks[i].from_version);
    }
    free(ca->rollbacks);
    free_strv(ca->changes, ca->n_changes);
    free(ca->id);
    free(ca->service);
    free(ca->environment);
    free(ca->rollback_version);
    lh_event_destroy(&ca->outcome);
    free(ca);
    *cap = NULL;
}

/* Makes room for element n of *v (elements of size sz): the capacity is the next power of two
 * of n, so a list of n grows in log n steps without storing its capacity. */
static int
grow(void **v, size_t n, size_t sz)
{
    if (n & (n - 1))
        return 0; /* not a power of two (nor 0): there is room */
    size_t cap = n ? n * 2 : 1;
    if (cap > SIZE_MAX / sz)
        return LH_ENOMEM;
    void *nv = realloc(*v, cap * sz);
    if (!nv)
        return LH_ENOMEM;
    *v = nv;
    return 0;
}

/* Appends a zeroed element to the list *v of *n and returns it, or NULL. */
static void *
append(void **v, size_t *n, size_t sz)
{
    if (grow(v, *n, sz) < 0)
        return NULL;
    char *e = (char *)*v + (*n)++ * sz;
    memset(e, 0, sz);
    return e;
}

lh_suspect_t *
lh_correlated_add_suspect(lh_correlated_t *ca)
{
    return append((void **)&ca->suspects, &ca->n_suspects, sizeof(lh_suspect_t));
}

lh_ca_outcome_t *
lh_correlated_add_outcome(lh_correlated_t *ca)
{
    return append((void **)&ca->outcomes, &ca->n_outcomes, sizeof(lh_ca_outcome_t));
}

lh_rollback_t *
lh_correlated_add_rollback(lh_correlated_t *ca)
{
    return append((void **)&ca->rollbacks, &ca->n_rollbacks, sizeof(lh_rollback_t));
}

static int
push(char ***v, size_t *n, const char *s)
{
    if (!s)
        return 0;
    char *c = strdup(s);
    if (!c)
        return LH_ENOMEM;
    if (grow((void **)v, *n, sizeof(char *)) < 0) {
        free(c);
        return LH_ENOMEM;
    }
    (*v)[(*n)++] = c;
    return 0;
}

int
lh_correlated_add_change(lh_correlated_t *ca, const char *change)
{
    return push(&ca->changes, &ca->n_changes, change);
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
