/*
 * correlator_sql.h - every statement the correlator runs against the store's schema
 * (store_sql.h). All are prepared once in lh_correlator_new().
 *
 * Each lookup is written to use one of the store's partial indexes, so a correlation costs a few
 * index range scans whatever the size of the timeline. The candidate lookups are covered by
 * their index (schema version 2), so they read no table row:
 *  - deploys by service:   ev_deploy_svc  (service, environment, time, deploy_id, kind)
 *  - outcomes by service:  ev_outcome_svc (service, environment, time, outcome)
 *  - by artifact:          ev_artifact    (artifact, environment, time, kind, outcome, deploy_id)
 *  - by host:              eh_host        (host, environment, time, kind, seq, deploy_id)
 *  - a change's events:    ev_deploy_id   (deploy_id, time), already in time order
 * event_hosts holds the hosts of deploys and outcomes only (the store decides at insert, as it
 * decides events.outcome), so a host row of another kind than deploy is an outcome's.
 * Candidate lookups may return a deploy_id more than once; the correlator keeps one of each
 * (cheaper than SQL's DISTINCT, which builds a temporary b-tree per lookup).
 * The literal `kind = 1` / `outcome = 1` terms are what lets SQLite pick the partial indexes:
 * keep them literals, never parameters. Environments compare with IS so that an event without
 * an environment matches only events without one.
 */
#ifndef LOOPHUB_CORRELATOR_SQL_H
#define LOOPHUB_CORRELATOR_SQL_H

/* Statement numbers: index into LH_CORR_SQL. */
enum {
    LH_CSQL_CAND_SERVICE,  /* ?1 service ?2 env ?3 from ?4 to -> deploy_id */
    LH_CSQL_CAND_HOST,     /* ?1 host ?2 env ?3 from ?4 to -> deploy_id */
    LH_CSQL_CAND_ARTIFACT, /* ?1 artifact ?2 env ?3 from ?4 to -> deploy_id */
    LH_CSQL_CHANGE,        /* ?1 deploy_id ?2 env -> the change's events, oldest first */
    LH_CSQL_OUT_SERVICE,   /* ?1 service ?2 env ?3 from ?4 to -> outcome seq */
    LH_CSQL_OUT_HOST,      /* ?1 host ?2 env ?3 from ?4 to -> outcome seq */
    LH_CSQL_OUT_ARTIFACT,  /* ?1 artifact ?2 env ?3 from ?4 to -> outcome seq */
    LH_CSQL_EVENT_BLOB,    /* ?1 seq -> canonical protobuf */
    LH_CSQL_PAIR_GET,      /* ?1 outcome_seq ?2 deploy_id -> late */
    LH_CSQL_PAIR_INSERT,   /* ?1 outcome_seq ?2 deploy_id ?3 deploy_seq ?4 score ?5 rank
                            ?6 lead_seconds ?7 reasons ?8 late ?9 created ?10 alert_seq */
    LH_CSQL_ALERT_SEQ,     /* ?1 alert id -> seq */
    LH_CSQL_PAIR_MAX,      /* -> highest outcome_seq with a pair (0 when none) */
    LH_CSQL_COUNT
};

/* Columns of LH_CSQL_CHANGE. */
enum {
    LH_CCOL_SEQ,
    LH_CCOL_ID,
    LH_CCOL_TIME,
    LH_CCOL_STATE,
    LH_CCOL_SERVICE,
    LH_CCOL_ACTOR,
    LH_CCOL_HOSTS,
    LH_CCOL_VERSION,
    LH_CCOL_PREVIOUS,
    LH_CCOL_COMMIT,
    LH_CCOL_ARTIFACT,
};

/* clang-format off */
static const char *const LH_CORR_SQL[LH_CSQL_COUNT] = {
    [LH_CSQL_CAND_SERVICE] =
        "SELECT deploy_id FROM events"
        " WHERE kind = 1 AND service = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4"
        " AND deploy_id IS NOT NULL",
    [LH_CSQL_CAND_HOST] =
        "SELECT deploy_id FROM event_hosts"
        " WHERE host = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4 AND kind = 1"
        " AND deploy_id IS NOT NULL",
    [LH_CSQL_CAND_ARTIFACT] =
        "SELECT deploy_id FROM events"
        " WHERE artifact = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4 AND kind = 1"
        " AND deploy_id IS NOT NULL",
    [LH_CSQL_CHANGE] =
        "SELECT seq, id, time, state, service, actor, hosts, version, previous_version,"
        " commit_sha, artifact FROM events"
        " WHERE deploy_id = ?1 AND kind = 1 AND environment IS ?2 ORDER BY time, seq",
    [LH_CSQL_OUT_SERVICE] =
        "SELECT seq FROM events"
        " WHERE outcome = 1 AND service = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4",
    [LH_CSQL_OUT_HOST] =
        "SELECT seq FROM event_hosts"
        " WHERE host = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4 AND kind <> 1",
    [LH_CSQL_OUT_ARTIFACT] =
        "SELECT seq FROM events"
        " WHERE artifact = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4 AND outcome = 1",
    [LH_CSQL_EVENT_BLOB] =
        "SELECT event FROM events WHERE seq = ?1",
    [LH_CSQL_PAIR_GET] =
        "SELECT late FROM correlations WHERE outcome_seq = ?1 AND deploy_id = ?2",
    [LH_CSQL_PAIR_INSERT] =
        "INSERT INTO correlations (outcome_seq, deploy_id, deploy_seq, score, rank, lead_seconds,"
        " reasons, late, alert_seq, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?9)",
    [LH_CSQL_ALERT_SEQ] =
        "SELECT seq FROM alerts WHERE id = ?1",
    [LH_CSQL_PAIR_MAX] =
        "SELECT coalesce(max(outcome_seq), 0) FROM correlations",
};
/* clang-format on */

#endif
