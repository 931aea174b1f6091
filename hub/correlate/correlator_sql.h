/*
 * correlator_sql.h - every statement the correlator runs against the store's schema
 * (store_sql.h). All are prepared once in lh_correlator_new().
 *
 * Each lookup is written to use one of the store's partial indexes, so a correlation costs a few
 * index range scans whatever the size of the timeline. The candidate lookups are covered by
 * their index (schema version 2), so they read no table row. They lead with the event time's
 * 4-hour bucket (schema version 6, LH_STORE_BUCKET_OF in store.h): a lookup takes one bucket
 * (?6) and collect() runs it for each bucket of the window, newest first, until the limit; a
 * batch of inserts touches the pages of the current bucket only.
 *  - deploys by service:   ev_deploy_svc  (bucket, service, environment, time, deploy_id, kind)
 *  - outcomes by service:  ev_outcome_svc (bucket, service, environment, time, outcome)
 *  - by artifact:          ev_artifact    (bucket, artifact, environment, time, kind, outcome,
 *                                          deploy_id)
 *  - by host:              event_hosts    (bucket, host, environment, time, kind, seq; deploy_id),
 *                                          its key (schema 14: without rowid; environment ''
 *                                          for none)
 *  - a change's events:    ev_deploy_id   (deploy_id, time), already in time order
 *  - last good version:    ev_good        (service, environment, time, seq, ...) of succeeded
 *                                          deploys with a version: no window, so service-first
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

#include "store.h" /* LH_STORE_BUCKET_OF, LH_STORE_BUCKETS */

/* Statement numbers: index into LH_CORR_SQL. */
enum {
    /* the lookups take ?5, a limit: the most recent rows first (bounded work per event), and ?6,
     * the time bucket to look in (collect() walks the window's) */
    LH_CSQL_CAND_SERVICE,    /* ?1 service ?2 env ?3 from ?4 to -> deploy_id */
    LH_CSQL_CAND_HOST,       /* ?1 host ?2 env ?3 from ?4 to -> deploy_id */
    LH_CSQL_CAND_ARTIFACT,   /* ?1 artifact ?2 env ?3 from ?4 to -> deploy_id */
    LH_CSQL_CHANGE,          /* ?1 deploy_id ?2 env -> the change's events, oldest first */
    LH_CSQL_OUT_SERVICE,     /* ?1 service ?2 env ?3 from ?4 to -> outcome seq */
    LH_CSQL_OUT_HOST,        /* ?1 host ?2 env ?3 from ?4 to -> outcome seq */
    LH_CSQL_OUT_ARTIFACT,    /* ?1 artifact ?2 env ?3 from ?4 to -> outcome seq */
    LH_CSQL_PAIR_GET,        /* ?1 outcome_seq ?2 deploy_id -> late */
    LH_CSQL_PAIR_INSERT,     /* ?1 outcome_seq ?2 deploy_id ?3 deploy_seq ?4 score ?5 rank
                              ?6 lead_seconds ?7 reasons ?8 late ?9 created ?10 alert_seq */
    LH_CSQL_PAIR_MAX,        /* -> highest outcome_seq with a pair (0 when none) */
    LH_CSQL_PAIR_UPDATE,     /* ?1 outcome_seq ?2 deploy_id ?3 score ?4 rank ?5 lead ?6 reasons
                              ?7 alert_seq: a known pair's latest conclusion */
    LH_CSQL_LAST_GOOD,       /* ?1 service ?2 env ?3 before ?4 deploy_id to skip -> deploy_id,
                              version of succeeded deploy events, newest first */
    LH_CSQL_OC_GET,          /* ?1 incident id ?2 env -> the incident's outcome row (LH_OCOL_*) */
    LH_CSQL_OC_OPEN,         /* ?1 ref ?2 env -> the newest firing period of an alert (LH_OCOL_*) */
    LH_CSQL_OC_AT,           /* ?1 ref ?2 env ?3 time -> the alert's period at that time */
    LH_CSQL_OC_PUT,          /* ?1 okey ... ?14 case_id: a new outcome row */
    LH_CSQL_OC_UPDATE,       /* the same parameters: what an event can change of a known one */
    LH_CSQL_OC_UPDATE_STATE, /* the same, its time and case unchanged (oc_ref, oc_case kept) */
    LH_CSQL_OC_UPDATE_FACTS, /* the same, only what no index holds (title, hosts, artifact) */
    LH_CSQL_CASE_GET,        /* ?1 case id -> the case row (LH_KCOL_*) */
    LH_CSQL_CASE_FIND,       /* ?1 service ?2 env ?3 from ?4 suspect_key ?5 to -> an open case */
    LH_CSQL_CASE_PUT,        /* ?1 id ... ?11 resolved: a new case row */
    LH_CSQL_CASE_UPDATE,     /* the same parameters: a known case's new state */
    LH_CSQL_CASE_OUTCOMES,   /* ?1 case id -> its outcomes (LH_OCOL_*), oldest first */
    LH_CSQL_CASE_OPEN,       /* ?1 case id -> how many of its outcomes are open */
    LH_CSQL_ALERT_LAST,      /* ?1 alert id ?2 revision -> seq, same_as */
    LH_CSQL_COUNT_SERVICE,   /* ?1 service ?2 env ?3 from ?4 to -> changes of the service */
    LH_CSQL_CHANGE_TICKETS,  /* ?1 deploy_id ?2 change ticket -> seq of its tickets' events */
    LH_CSQL_ALERT_EXISTS,    /* ?1 alert id -> a row when any revision of it exists */
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
    LH_CCOL_PREV_DERIVED,
};

/* Columns of LH_CSQL_OC_GET and LH_CSQL_CASE_OUTCOMES (the okey is column 0 of both). */
enum {
    LH_OCOL_OKEY,
    LH_OCOL_KIND,
    LH_OCOL_REF,
    LH_OCOL_SERVICE,
    LH_OCOL_ENV,
    LH_OCOL_TIME,
    LH_OCOL_FIRST_SEQ,
    LH_OCOL_EVENT_ID,
    LH_OCOL_TITLE,
    LH_OCOL_HOSTS,
    LH_OCOL_ARTIFACT,
    LH_OCOL_OPEN,
    LH_OCOL_RESOLVED,
    LH_OCOL_CASE,
    LH_OCOL_SEVERITY,
    LH_OCOL_TOP,
    LH_OCOL_TOP_STARTED,
};

/* Columns of LH_CSQL_CASE_GET. */
enum {
    LH_KCOL_KIND,
    LH_KCOL_SERVICE,
    LH_KCOL_ENV,
    LH_KCOL_TIME,
    LH_KCOL_LAST_TIME,
    LH_KCOL_REVISION,
    LH_KCOL_TOP,
    LH_KCOL_KEY,
    LH_KCOL_LATE,
    LH_KCOL_RESOLVED,
};

#define LH_CSQL_OC_COLS                                                                            \
    "okey, kind, ref, service, environment, time, first_seq, event_id, title, hosts, artifact,"    \
    " open, resolved, case_id, severity, top, top_started"

/* clang-format off */
static const char *const LH_CORR_SQL[LH_CSQL_COUNT] = {
    [LH_CSQL_CAND_SERVICE] =
        "SELECT deploy_id FROM events"
        " WHERE kind = 1 AND service = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4"
        " AND " LH_STORE_BUCKET_OF("time") " = ?6"
        " AND deploy_id IS NOT NULL ORDER BY time DESC LIMIT ?5",
    [LH_CSQL_CAND_HOST] =
        "SELECT deploy_id FROM event_hosts"
        " WHERE bucket = ?6 AND host = ?1 AND environment = coalesce(?2, '')"
        " AND time BETWEEN ?3 AND ?4 AND kind = 1"
        " AND deploy_id IS NOT NULL ORDER BY time DESC LIMIT ?5",
    [LH_CSQL_CAND_ARTIFACT] =
        "SELECT deploy_id FROM events"
        " WHERE artifact = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4 AND kind = 1"
        " AND " LH_STORE_BUCKET_OF("time") " = ?6"
        " AND deploy_id IS NOT NULL ORDER BY time DESC LIMIT ?5",
    [LH_CSQL_CHANGE] =
        "SELECT seq, id, time, state, service, actor, hosts, version, previous_version,"
        " commit_sha, artifact, previous_derived FROM events"
        " WHERE deploy_id = ?1 AND kind = 1 AND environment IS ?2 ORDER BY time, seq",
    [LH_CSQL_OUT_SERVICE] =
        "SELECT seq FROM events"
        " WHERE outcome = 1 AND service = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4"
        " AND " LH_STORE_BUCKET_OF("time") " = ?6"
        " ORDER BY time DESC LIMIT ?5",
    [LH_CSQL_OUT_HOST] =
        "SELECT seq FROM event_hosts"
        " WHERE bucket = ?6 AND host = ?1 AND environment = coalesce(?2, '')"
        " AND time BETWEEN ?3 AND ?4 AND kind <> 1"
        " ORDER BY time DESC LIMIT ?5",
    [LH_CSQL_OUT_ARTIFACT] =
        "SELECT seq FROM events"
        " WHERE artifact = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4 AND outcome = 1"
        " AND " LH_STORE_BUCKET_OF("time") " = ?6"
        " ORDER BY time DESC LIMIT ?5",
    [LH_CSQL_PAIR_GET] =
        "SELECT late FROM correlations WHERE outcome_seq = ?1 AND deploy_id = ?2",
    [LH_CSQL_PAIR_INSERT] =
        "INSERT INTO correlations (outcome_seq, deploy_id, deploy_seq, score, rank, lead_seconds,"
        " reasons, late, alert_seq, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10, ?9)",
    [LH_CSQL_PAIR_MAX] =
        "SELECT coalesce(max(outcome_seq), 0) FROM correlations",
    [LH_CSQL_PAIR_UPDATE] =
        "UPDATE correlations SET score = ?3, rank = ?4, lead_seconds = ?5, reasons = ?6,"
        " alert_seq = ?7 WHERE outcome_seq = ?1 AND deploy_id = ?2",
    /* ev_good (succeeded deploys with a version) backwards from the change, covered */
    [LH_CSQL_LAST_GOOD] =
        "SELECT deploy_id, version FROM events"
        " WHERE kind = 1 AND service = ?1 AND environment IS ?2 AND time <= ?3"
        " AND deploy_id IS NOT ?4 AND state = 2 AND version IS NOT NULL"
        " ORDER BY time DESC, seq DESC LIMIT 16",
    /* oc_ref, then the row by its integer key */
    [LH_CSQL_OC_GET] =
        "SELECT " LH_CSQL_OC_COLS " FROM outcomes WHERE ref = ?1 AND environment IS ?2"
        " AND kind = 3",
    /* oc_ref: the alert's newest period (a firing opens one only when none is open, so an open
     * period is the newest; the caller checks that it is open) */
    [LH_CSQL_OC_OPEN] =
        "SELECT " LH_CSQL_OC_COLS " FROM outcomes WHERE ref = ?1 AND environment IS ?2"
        " AND kind = 2 ORDER BY time DESC LIMIT 1",
    [LH_CSQL_OC_AT] =
        "SELECT " LH_CSQL_OC_COLS " FROM outcomes WHERE ref = ?1 AND environment IS ?2"
        " AND kind = 2 AND time <= ?3 ORDER BY time DESC LIMIT 1",
    [LH_CSQL_OC_PUT] =
        "INSERT INTO outcomes (" LH_CSQL_OC_COLS ")"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    /* the UPDATEs number their parameters as their INSERT does, so one bind sequence serves
     * both: SQLite keeps a slot for every number up to the highest, used or not */
    [LH_CSQL_OC_UPDATE] =
        "UPDATE outcomes SET time = ?6, title = ?9, hosts = ?10, artifact = ?11, open = ?12,"
        " resolved = ?13, case_id = ?14, severity = ?15, top = ?16, top_started = ?17"
        " WHERE first_seq = ?7",
    [LH_CSQL_OC_UPDATE_STATE] =
        "UPDATE outcomes SET title = ?9, hosts = ?10, artifact = ?11, open = ?12, resolved = ?13,"
        " severity = ?15, top = ?16, top_started = ?17 WHERE first_seq = ?7",
    [LH_CSQL_OC_UPDATE_FACTS] =
        "UPDATE outcomes SET title = ?9, hosts = ?10, artifact = ?11 WHERE first_seq = ?7",
    [LH_CSQL_CASE_GET] =
        "SELECT kind, service, environment, time, last_time, revision, top, suspect_key, late,"
        " resolved FROM cases WHERE id = ?1",
    /* cs_open: the open cases of the service whose latest outcome is recent enough */
    [LH_CSQL_CASE_FIND] =
        "SELECT id FROM cases WHERE service = ?1 AND environment IS ?2 AND suspect_key = ?4"
        " AND last_time >= ?3 AND resolved = 0 AND time <= ?5 ORDER BY last_time DESC LIMIT 1",
    [LH_CSQL_CASE_PUT] =
        "INSERT INTO cases (id, kind, service, environment, time, last_time, revision,"
        " top, suspect_key, late, resolved) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [LH_CSQL_CASE_UPDATE] =
        "UPDATE cases SET kind = ?2, time = ?5, last_time = ?6, revision = ?7, top = ?8,"
        " suspect_key = ?9, late = ?10, resolved = ?11 WHERE id = ?1",
    [LH_CSQL_CASE_OUTCOMES] =
        "SELECT " LH_CSQL_OC_COLS " FROM outcomes WHERE case_id = ?1 ORDER BY time, okey",
    [LH_CSQL_COUNT_SERVICE] =
        "SELECT count(DISTINCT deploy_id) FROM events"
        " WHERE kind = 1 AND service = ?1 AND environment IS ?2 AND time BETWEEN ?3 AND ?4"
        " AND " LH_STORE_BUCKET_OF("time") " IN " LH_STORE_BUCKETS("?3", "?4")
        " AND deploy_id IS NOT NULL",
    [LH_CSQL_CASE_OPEN] =
        "SELECT count(*) FROM outcomes WHERE case_id = ?1 AND open = 1",
    [LH_CSQL_ALERT_LAST] =
        "SELECT seq, same_as FROM alerts WHERE id = ?1 AND revision = ?2",
    /* the events of the tickets linking the change (tl_link, events by seq) or named by it
     * (ev_ticket_id), as `loophub audit` reads them (LH_Q_TICKETS, query_sql.h) */
    [LH_CSQL_CHANGE_TICKETS] =
        "SELECT seq FROM events"
        " WHERE kind = 4 AND (ticket_id IN (SELECT t.ticket_id FROM ticket_links l"
        "                                    JOIN events t ON t.seq = l.seq WHERE l.link = ?1"
        "                                    UNION ALL SELECT ?2)"
        "                     OR seq IN (SELECT l.seq FROM ticket_links l WHERE l.link = ?1))"
        " ORDER BY time, seq LIMIT 256",
    /* alerts UNIQUE (id, revision) */
    [LH_CSQL_ALERT_EXISTS] =
        "SELECT 1 FROM alerts WHERE id = ?1 LIMIT 1",
};
/* clang-format on */

#endif
