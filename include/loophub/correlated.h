/*
 * alert.h - the correlated alert the hub republishes (loophub.v1.CorrelatedAlert in C).
 *
 * Built by the correlator, stored in the outbox as protobuf, and encoded for subscribers as
 * protobuf, loophub JSON or a CloudEvent. An lh_correlated_t owns everything it points to and is
 * freed with lh_correlated_destroy().
 */
#ifndef LOOPHUB_CORRELATED_H
#define LOOPHUB_CORRELATED_H

#include <stddef.h>
#include <stdint.h>

#include "loophub/event.h"

typedef enum {
    LH_CA_UNSPECIFIED = 0,
    LH_CA_DEPLOY_PRECEDED_INCIDENT = 1,
    LH_CA_DEPLOY_PRECEDED_ALERT = 2,
    LH_CA_UNAPPROVED_CHANGE = 3,
} lh_ca_kind_t;

typedef struct lh_suspect {
    char *deploy_id;
    char *event_id;
    char *service;
    char *environment;
    char *version;
    char *previous_version; /* the rollback target */
    char *actor;
    char *commit;
    char *artifact;
    char **hosts;
    size_t n_hosts;
    int64_t deploy_time_ns;
    int64_t lead_seconds;
    double score;
    char **reasons;
    size_t n_reasons;
} lh_suspect_t;

typedef struct lh_correlated {
    char *id;
    uint64_t seq;
    lh_ca_kind_t kind;
    char *service;
    char *environment;
    int late;
    lh_event_t *outcome; /* owned */
    lh_suspect_t *suspects;
    size_t n_suspects;
    int64_t created_ns;
    char *rollback_version;
} lh_correlated_t;

/* Returns a zeroed alert or NULL. */
lh_correlated_t *lh_correlated_new(void);

/* Frees the alert, its outcome and suspects; sets *ca to NULL. NULL-safe. */
void lh_correlated_destroy(lh_correlated_t **ca);

/* Adds a zeroed suspect at the end and returns it (NULL on out of memory). Strings set on it
 * afterwards must be malloc'd (they are freed with the alert); lh_suspect_add_reason() and
 * lh_suspect_add_host() copy. */
lh_suspect_t *lh_correlated_add_suspect(lh_correlated_t *ca);
int lh_suspect_add_reason(lh_suspect_t *s, const char *reason);
int lh_suspect_add_host(lh_suspect_t *s, const char *host);

/* "deploy_preceded_incident", ...; NULL when unspecified. Parser returns 0 or LH_EINVAL. */
const char *lh_ca_kind_name(lh_ca_kind_t k);
int lh_ca_kind_parse(const char *s, lh_ca_kind_t *out);

#endif
