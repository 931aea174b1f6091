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
    int previous_version_derived; /* previous_version came from the store's history */
} lh_suspect_t;

/* One outcome the alert stands for: an incident's lifecycle or one firing period of a
 * monitoring alert. */
typedef struct lh_ca_outcome {
    lh_kind_t kind;      /* LH_KIND_INCIDENT or LH_KIND_ALERT */
    char *ref;           /* the incident id, or the alert's fingerprint (its name when none) */
    char *event_id;      /* its first event */
    char *title;         /* incident title or alert name */
    int64_t time_ns;     /* its first event's time */
    int64_t resolved_ns; /* 0 while open */
} lh_ca_outcome_t;

/* The rollback target of one suspect service: the version that ran before its earliest suspect
 * change in the window. */
typedef struct lh_rollback {
    char *service;
    char *version;      /* NULL when unknown */
    char *deploy_id;    /* the earliest suspect change of the service */
    char *from_version; /* what that change shipped */
    int derived;        /* version from the store's history */
} lh_rollback_t;

typedef struct lh_correlated {
    char *id;
    uint64_t seq;
    lh_ca_kind_t kind;
    char *service;
    char *environment;
    int late;
    lh_event_t *outcome; /* owned */
    lh_suspect_t *suspects; /* ranked, at most the hub's max_suspects */
    size_t n_suspects;
    uint32_t more_suspects; /* related changes in the window the alert leaves out */
    int64_t created_ns;
    char *rollback_version; /* the rollback target of the top suspect's service */
    uint32_t revision;      /* 1, 2, ...: the id stays, the conclusion changed */
    char **changes;         /* what this revision changed, in words */
    size_t n_changes;
    int resolved; /* every outcome resolved: the final revision */
    int64_t resolved_ns;
    lh_ca_outcome_t *outcomes; /* oldest first */
    size_t n_outcomes;
    lh_rollback_t *rollbacks; /* one per suspect service, in the order of their best suspect */
    size_t n_rollbacks;
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

/* Add a copy of the sentence / a zeroed outcome / a zeroed rollback (strings set on the last two
 * must be malloc'd). NULL or LH_ENOMEM on out of memory. */
int lh_correlated_add_change(lh_correlated_t *ca, const char *change);
lh_ca_outcome_t *lh_correlated_add_outcome(lh_correlated_t *ca);
lh_rollback_t *lh_correlated_add_rollback(lh_correlated_t *ca);

/* "deploy_preceded_incident", ...; NULL when unspecified. Parser returns 0 or LH_EINVAL. */
const char *lh_ca_kind_name(lh_ca_kind_t k);
int lh_ca_kind_parse(const char *s, lh_ca_kind_t *out);

#endif
