/*
 * query_sql.h - every SQL statement the timeline queries run, against the schema in
 * store_sql.h. Read-only; each statement names the index it is meant to use.
 *
 * Events are read as their canonical protobuf (events.event) and decoded by the codec, with the
 * columns the stored protobuf leaves out right after it in every statement (LH_STORE_EVENT_COLS,
 * lh_store_event_complete_row()); the decoded columns are otherwise used to select and order
 * rows, and for the few aggregates (classes, resolution) where decoding every row would be waste.
 */
#ifndef LOOPHUB_QUERY_SQL_H
#define LOOPHUB_QUERY_SQL_H

#include "store.h" /* LH_STORE_BUCKET_OF, LH_STORE_BUCKETS, LH_STORE_SEQ_BUCKETS */

/* clang-format off */

/* What retention deleted (store_retention.c): per kind, the event time before which it did */
#define LH_Q_EXPIRED "SELECT key, value FROM meta WHERE key LIKE 'expired_before.%'"

/* An incident's events, all states (ev_incident_id). ?1 incident id */
#define LH_Q_INCIDENT_EVENTS                                                                   \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events WHERE incident_id = ?1 AND kind = 3 ORDER BY time, seq"

/* The events of the tickets linking to an id (tl_link, events by seq), or named (ev_ticket_id):
 * every event of such a ticket, also those that do not repeat the link (an approval that only
 * says "approved"). ?1 the deploy or incident id, ?2 a ticket id (the change ticket / incident
 * ticket) or NULL */
#define LH_Q_TICKETS                                                                           \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events"                                  \
    " WHERE kind = 4 AND (ticket_id IN (SELECT t.ticket_id FROM ticket_links l"               \
    "                                    JOIN events t ON t.seq = l.seq WHERE l.link = ?1"     \
    "                                    UNION ALL SELECT ?2)"                                 \
    "                     OR seq IN (SELECT l.seq FROM ticket_links l WHERE l.link = ?1))"      \
    " ORDER BY time, seq"

/* The change's events (ev_deploy_id). ?1 deploy id */
#define LH_Q_DEPLOY_EVENTS                                                                     \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events WHERE deploy_id = ?1 AND kind = 1 ORDER BY time, seq"

/* A suspect's change: its events in the environment the correlator blamed it in (a change is a
 * deploy id and an environment; the same id may have run elsewhere too). ?1 deploy id ?2 env */
#define LH_Q_CHANGE_EVENTS_IN_ENV                                                              \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events WHERE deploy_id = ?1 AND kind = 1" \
    " AND environment IS ?2 ORDER BY time, seq"

/* The outcomes correlated with a change (co_deploy), with how many suspects each had, when an
 * incident outcome was resolved (ev_incident_id) and the alert sent. ?1 deploy id, ?2 ?3 as
 * LH_Q_CHANGE_FACTS (an outcome is correlated in its own environment) */
#define LH_Q_DEPLOY_OUTCOMES                                                                   \
    "SELECT c.score, c.rank, c.lead_seconds, c.reasons, c.late, c.alert_seq,"                  \
    "       (SELECT COUNT(*) FROM correlations c2 WHERE c2.outcome_seq = c.outcome_seq),"      \
    "       (SELECT MIN(r.time) FROM events r"                                                 \
    "         WHERE r.incident_id = o.incident_id AND r.kind = 3 AND r.state = 3),"            \
    "       (SELECT a.id FROM alerts a WHERE a.seq = c.alert_seq),"                            \
    "       o.seq, " LH_STORE_EVENT_COLS("o.")                                                                     \
    " FROM correlations c JOIN events o ON o.seq = c.outcome_seq"                              \
    " WHERE c.deploy_id = ?1 AND (?3 = 0 OR o.environment IS ?2)"                              \
    " ORDER BY o.time, o.seq"

/* What decides a change's class (ev_deploy_id, co_deploy). ?1 deploy id; ?2 environment, used
 * when ?3 is 1 (the change of that deploy id in that environment; else in any) */
#define LH_Q_CHANGE_FACTS                                                                      \
    "SELECT COUNT(*), MIN(time), COALESCE(MAX(state = 4), 0), COALESCE(MAX(state = 3), 0)"     \
    " FROM events WHERE deploy_id = ?1 AND kind = 1 AND (?3 = 0 OR environment IS ?2)"
#define LH_Q_CHANGE_CORRELATIONS                                                               \
    "SELECT COUNT(*), COALESCE(MAX(c.rank = 1), 0) FROM correlations c"                        \
    " LEFT JOIN events d ON d.seq = c.deploy_seq"                                              \
    " WHERE c.deploy_id = ?1 AND (?3 = 0 OR d.environment IS ?2)"

/* Every event of a service and environment in a period. The time index covers every row; the
 * service indexes are partial (deploys, outcomes) by design, so they cannot serve this.
 * ?1 from (ns), ?2 service, ?3 environment, ?4 to (ns), both inclusive */
#define LH_Q_SERVICE_EVENTS                                                                    \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events INDEXED BY ev_time"                                         \
    " WHERE time >= ?1 AND time <= ?4 AND service = ?2 AND environment = ?3"                   \
    " ORDER BY time, seq"
/* The same newest first, for a limit that keeps the newest (the caller puts them back in time
 * order). Only with a limit: SQLite walks the index backwards at about half the speed
 * (measured: 1M-event store, 1h of one service, 5 ms forwards, 10 ms backwards). */
#define LH_Q_SERVICE_EVENTS_NEWEST                                                             \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events INDEXED BY ev_time"                                         \
    " WHERE time >= ?1 AND time <= ?4 AND service = ?2 AND environment = ?3"                   \
    " ORDER BY time DESC, seq DESC"

/* Outbox alerts for the outcomes of a service and environment in a period (ev_outcome_svc,
 * then the correlations naming each alert, then alerts by seq). Alerts without a correlation
 * row (unapproved_change, not written yet) would need an index on alerts(outcome_seq).
 * ?1 from (ns), ?2 service, ?3 environment, ?4 to (ns) */
#define LH_Q_SERVICE_ALERTS                                                                    \
    "SELECT DISTINCT a.seq, a.id, a.kind, a.late, a.created, a.outcome_seq, o.id, o.time"      \
    " FROM events o JOIN correlations c ON c.outcome_seq = o.seq"                              \
    " JOIN alerts a ON a.seq = c.alert_seq"                                                    \
    " WHERE o.outcome = 1 AND o.service = ?2 AND o.environment = ?3 AND o.time >= ?1"          \
    "   AND o.time <= ?4 AND " LH_STORE_BUCKET_OF("o.time") " IN " LH_STORE_BUCKETS("?1", "?4")       \
    " ORDER BY a.seq"

/* The suspects named for one outcome (correlations primary key). ?1 outcome seq */
#define LH_Q_OUTCOME_SUSPECTS                                                                  \
    "SELECT c.deploy_id, c.rank, c.score, d.version, d.previous_version"                       \
    " FROM correlations c LEFT JOIN events d ON d.seq = c.deploy_seq"                          \
    " WHERE c.outcome_seq = ?1 ORDER BY c.rank, c.score DESC"

/* --- an outcome's timeline (`--incident ID`): opening it by any of its ids --------------------
 * ID is tried as: a correlated alert id (cases primary key), an incident id (ev_incident_id),
 * the id of an incident's event (ev_incident_event) or of an event that made a revision of an
 * alert (al_outcome_id: a monitoring alert's `am-...`), an alert id without a case row (alerts
 * of a store migrated from schema 3: the UNIQUE (id, revision) index, then the outcome event by
 * seq). Outcomes are found by their ref (oc_ref: incident id, or fingerprint and time); the
 * query module names an outcome by its key, its first event's seq as text (outcomes' rowid). */

/* A correlated alert (cases primary key). ?1 alert id */
#define LH_Q_CASE                                                                              \
    "SELECT revision, resolved, late, top FROM cases WHERE id = ?1"

/* The outcomes of a correlated alert (oc_case). ?1 alert id */
#define LH_Q_CASE_OUTCOMES                                                                     \
    "SELECT CAST(first_seq AS TEXT) FROM outcomes WHERE case_id = ?1 ORDER BY time, first_seq"

/* Whether an incident id is stored, and its first event (ev_incident_id). ?1 incident id */
#define LH_Q_INCIDENT_FIRST                                                                    \
    "SELECT id FROM events WHERE incident_id = ?1 AND kind = 3 ORDER BY time, seq LIMIT 1"

/* The outcome an event belongs to: an incident event's incident (ev_incident_event, oc_ref), or
 * the outcome of the alert period an event that made a revision belongs to (al_outcome_id,
 * events by seq, oc_ref: the period of its fingerprint at its time). Both id indexes lead with
 * the event's arrival bucket: the id is sought in each bucket (LH_STORE_SEQ_BUCKETS, store.h).
 * ?1 event id */
#define LH_Q_OUTCOME_OF_EVENT                                                                  \
    "SELECT okey FROM ("                                                                       \
    " SELECT CAST(o.first_seq AS TEXT) AS okey, 1 AS pri FROM events e JOIN outcomes o"       \
    "  ON o.ref = e.incident_id AND o.environment IS e.environment AND o.kind = 3"             \
    "  WHERE e.kind = 3 AND " LH_STORE_SEQ_BUCKET_OF("e.seq") " IN "                           \
    LH_STORE_SEQ_BUCKETS("events", "seq", "kind = 3") " AND e.id = ?1"                          \
    " UNION ALL"                                                                                \
    " SELECT (SELECT CAST(o.first_seq AS TEXT) FROM outcomes o"                                \
    "          WHERE o.ref = coalesce(e.fingerprint, e.name)"                                   \
    "          AND o.environment IS e.environment AND o.kind = 2 AND o.time <= e.time"          \
    "          ORDER BY o.time DESC LIMIT 1), 2"                                                \
    "  FROM alerts a JOIN events e ON e.seq = a.event_seq"                                     \
    "  WHERE a.outcome_id IS NOT NULL AND " LH_STORE_SEQ_BUCKET_OF("a.event_seq") " IN "       \
    LH_STORE_SEQ_BUCKETS("alerts", "event_seq", "outcome_id IS NOT NULL")                       \
    "  AND a.outcome_id = ?1 AND e.kind = 2"                                                   \
    ") WHERE okey IS NOT NULL ORDER BY pri LIMIT 1"

/* The outcome event an alert id was raised for (alerts UNIQUE (id, revision), events by seq).
 * ?1 alert id */
#define LH_Q_ALERT_OUTCOME                                                                     \
    "SELECT e.seq, e.id, e.kind, e.incident_id FROM alerts a JOIN events e ON e.seq = a.outcome_seq" \
    " WHERE a.id = ?1 ORDER BY a.revision LIMIT 1"

/* One outcome (outcomes primary key). ?1 its key */
#define LH_Q_OUTCOME                                                                           \
    "SELECT kind, ref, service, environment, time, first_seq, event_id, title, hosts, artifact," \
    "       open, resolved, case_id"                                                            \
    " FROM outcomes WHERE first_seq = CAST(?1 AS INTEGER)"

/* The events of one outcome: every event of an incident (ev_incident_id); of an alert period,
 * its first event and every event that made a revision (repeated notifications that changed
 * nothing are not kept apart: they are ordinary rows of the time index). ?1 its key */
#define LH_Q_OUTCOME_EVENTS                                                                    \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM ("                                                                 \
    " SELECT e.seq AS seq, " LH_STORE_EVENT_COLS_AS("e.") " FROM outcomes o JOIN events e"     \
    "  ON e.incident_id = o.ref AND e.kind = 3 AND e.environment IS o.environment"             \
    "  WHERE o.first_seq = CAST(?1 AS INTEGER) AND o.kind = 3"                                                       \
    " UNION SELECT e.seq, " LH_STORE_EVENT_COLS_AS("e.") " FROM outcomes o JOIN events e ON e.seq = o.first_seq" \
    "  WHERE o.first_seq = CAST(?1 AS INTEGER)"                                                                      \
    " UNION SELECT e.seq, " LH_STORE_EVENT_COLS_AS("e.") " FROM outcomes o JOIN alerts a"                       \
    "  ON a.id = o.case_id AND a.outcome_seq = o.first_seq JOIN events e ON e.seq = a.event_seq" \
    "  WHERE o.first_seq = CAST(?1 AS INTEGER)"                                                                      \
    ") ORDER BY time, seq"

/* The events of every outcome of a correlated alert, as LH_Q_OUTCOME_EVENTS (oc_case,
 * ev_incident_id, events by seq, the alert's revisions by id). ?1 alert id */
#define LH_Q_CASE_EVENTS                                                                       \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM ("                                                                 \
    " SELECT e.seq AS seq, " LH_STORE_EVENT_COLS_AS("e.") " FROM outcomes o JOIN events e"     \
    "  ON e.incident_id = o.ref AND e.kind = 3 AND e.environment IS o.environment"             \
    "  WHERE o.case_id = ?1 AND o.kind = 3"                                                    \
    " UNION SELECT e.seq, " LH_STORE_EVENT_COLS_AS("e.") " FROM outcomes o JOIN events e ON e.seq = o.first_seq" \
    "  WHERE o.case_id = ?1"                                                                   \
    " UNION SELECT e.seq, " LH_STORE_EVENT_COLS_AS("e.") " FROM alerts a JOIN events e ON e.seq = a.event_seq"  \
    "  WHERE a.id = ?1"                                                                        \
    ") ORDER BY time, seq"

/* One event by seq (events primary key): the outcome of an alert without outcome rows. ?1 seq */
#define LH_Q_EVENT_BY_SEQ "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events WHERE seq = ?1"

/* The suspects concluded for one outcome event (correlations primary key, events by seq).
 * ?1 outcome event seq */
#define LH_Q_SUSPECTS_OF                                                                       \
    "SELECT c.deploy_id, c.score, c.rank, c.lead_seconds, c.reasons, c.late, c.alert_seq,"     \
    "       d.id, d.time, o.id, d.seq IS NOT NULL, d.environment"                               \
    " FROM correlations c JOIN events o ON o.seq = c.outcome_seq"                              \
    " LEFT JOIN events d ON d.seq = c.deploy_seq"                                              \
    " WHERE c.outcome_seq = ?1 ORDER BY c.rank, c.score DESC"

/* The alert ids the correlations of one outcome event name (correlations primary key, alerts
 * by seq). ?1 outcome event seq */
#define LH_Q_ALERT_IDS_OF                                                                      \
    "SELECT DISTINCT a.id FROM correlations c JOIN alerts a ON a.seq = c.alert_seq"            \
    " WHERE c.outcome_seq = ?1"

/* Every published revision of one correlated alert (alerts UNIQUE (id, revision)). ?1 id */
#define LH_Q_REVISIONS                                                                         \
    "SELECT seq, revision, kind, late, created FROM alerts WHERE id = ?1"                      \
    " ORDER BY revision"

/* The monitoring alerts of a service in a period (ev_outcome_svc: alerts that are outcomes,
 * i.e. firing at or above the correlator's severity; the others are not indexed by service).
 * ?1 service ?2 environment ?3 from ?4 to (ns, inclusive) */
#define LH_Q_WINDOW_SERVICE_ALERTS                                                             \
    "SELECT seq, " LH_STORE_EVENT_COLS("") " FROM events INDEXED BY ev_outcome_svc"                                  \
    " WHERE service = ?1 AND environment = ?2 AND time >= ?3 AND time <= ?4 AND outcome = 1"   \
    "   AND " LH_STORE_BUCKET_OF("time") " IN " LH_STORE_BUCKETS("?3", "?4")                          \
    "   AND kind = 2 ORDER BY time, seq"

/* The monitoring alerts naming a host in a period (event_hosts by its key, events by seq).
 * ?1 host ?2 environment ?3 from ?4 to (ns, inclusive) */
#define LH_Q_WINDOW_HOST_ALERTS                                                                \
    "SELECT e.seq, " LH_STORE_EVENT_COLS("e.") " FROM event_hosts h JOIN events e ON e.seq = h.seq"                  \
    " WHERE h.bucket IN " LH_STORE_BUCKETS("?3", "?4") " AND h.host = ?1"                       \
    "   AND h.environment = ?2 AND h.time >= ?3 AND h.time <= ?4"                              \
    "   AND h.kind = 2 ORDER BY h.time, h.seq"

/* --- the reports (`loophub deployed`, `loophub audit`) --------------------------------------
 * Both walk partial indexes that hold deploys only: ev_good (succeeded deploys with a version,
 * service first) for what runs, ev_deploy_svc (every deploy event, 4-hour bucket first) for the
 * changes of a period; then each change by its id (ev_deploy_id). */

/* The services and environments with a succeeded deploy, one seek each (ev_good). */
#define LH_Q_GOOD_SERVICES                                                                     \
    "SELECT service FROM events INDEXED BY ev_good"                                            \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service > ?1"                   \
    " ORDER BY service LIMIT 1"
/* ?1 service: its first environment (NULL sorts first) */
#define LH_Q_GOOD_ENV_FIRST                                                                    \
    "SELECT environment FROM events INDEXED BY ev_good"                                        \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service = ?1"                   \
    " ORDER BY service, environment LIMIT 1"
/* ?1 service ?2 environment: the next one (after NULL: LH_Q_GOOD_ENV_TEXT_FIRST) */
#define LH_Q_GOOD_ENV_NEXT                                                                     \
    "SELECT environment FROM events INDEXED BY ev_good"                                        \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service = ?1"                   \
    " AND environment > ?2 ORDER BY service, environment LIMIT 1"
#define LH_Q_GOOD_ENV_TEXT_FIRST                                                               \
    "SELECT environment FROM events INDEXED BY ev_good"                                        \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service = ?1"                   \
    " AND environment IS NOT NULL ORDER BY service, environment LIMIT 1"

/* The succeeded deploy events of a service and environment at or before a moment, newest
 * first (ev_good). ?1 service ?2 environment ?3 moment */
#define LH_Q_GOOD_WALK                                                                         \
    "SELECT seq, deploy_id, version, time, hosts FROM events INDEXED BY ev_good"               \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service = ?1"                   \
    " AND environment IS ?2 AND time <= ?3 ORDER BY time DESC, seq DESC"

/* A change's events up to a moment, as columns (ev_deploy_id): its status then is its latest
 * event's; actor, commit, artifact and previous version each the latest that carries one.
 * ?1 deploy id ?2 environment ?3 moment */
#define LH_Q_CHANGE_COLS_AT                                                                    \
    "SELECT state, time, actor, commit_sha, artifact, previous_version FROM events"            \
    " WHERE deploy_id = ?1 AND kind = 1 AND environment IS ?2 AND time <= ?3"                  \
    " ORDER BY time, seq"

/* The deploy events of one 4-hour bucket in a period, newest first (ev_deploy_svc): the audit's
 * changes, one bucket at a time. ?1 bucket ?2 from ?3 to (ns, inclusive) ?4 environment, used
 * when ?5 is 1 */
#define LH_Q_AUDIT_BUCKET                                                                      \
    "SELECT deploy_id, environment, time FROM events INDEXED BY ev_deploy_svc"                 \
    " WHERE " LH_STORE_BUCKET_OF("time") " = ?1 AND kind = 1 AND time >= ?2 AND time <= ?3"    \
    " AND (?5 = 0 OR environment IS ?4) AND deploy_id IS NOT NULL"                             \
    " ORDER BY time DESC, seq DESC"
/* The same for one service (?6). */
#define LH_Q_AUDIT_BUCKET_SERVICE                                                              \
    "SELECT deploy_id, environment, time FROM events INDEXED BY ev_deploy_svc"                 \
    " WHERE " LH_STORE_BUCKET_OF("time") " = ?1 AND kind = 1 AND service = ?6"                 \
    " AND time >= ?2 AND time <= ?3 AND (?5 = 0 OR environment IS ?4)"                         \
    " AND deploy_id IS NOT NULL ORDER BY time DESC, seq DESC"

/* --- `loophub dora` ------------------------------------------------------------------------ */

/* The changes that started in a period (table `changes`, schema version 8: one row per change,
 * keyed by its start): ?1 from ?2 to (ns, inclusive), ?3 a service or NULL, ?4 an environment
 * key ('e' || environment) or NULL, ?5 1 for their labels (else not read); facts: the times
 * lh_store_facts_t (store.h) packs */
#define LH_Q_DORA_CHANGES                                                                      \
    "SELECT started, deploy_id, env_key, service, facts, CASE WHEN ?5 THEN labels END"        \
    " FROM changes WHERE started >= ?1 AND started <= ?2"                                      \
    " AND (?3 IS NULL OR service = ?3) AND (?4 IS NULL OR env_key = ?4)"                       \
    " ORDER BY started, deploy_id, env_key"

/* The first and the last start of a change in [?1, ?2] (ns), each one step of the primary key:
 * how `dora` cuts a period into chunks of time */
#define LH_Q_DORA_CHANGES_ENDS                                                                 \
    "SELECT (SELECT started FROM changes WHERE started >= ?1 AND started <= ?2"                \
    " ORDER BY started LIMIT 1), (SELECT started FROM changes WHERE started >= ?1"            \
    " AND started <= ?2 ORDER BY started DESC LIMIT 1)"

/* The incidents (outcomes of kind 3) detected in a period with their highest severity and top
 * suspect: one range of oc_dora, which covers them (schema version 8). ?1 from ?2 to (ns,
 * inclusive), ?3 1 for their ids (else not read) */
#define LH_Q_DORA_INCIDENTS                                                                    \
    "SELECT service, environment, time, open, resolved, severity, top,"                       \
    " CASE WHEN ?3 THEN ref END, top_started FROM outcomes INDEXED BY oc_dora"                \
    " WHERE kind = 3 AND time >= ?1 AND time <= ?2 ORDER BY time, first_seq"

/* The service of a suspect change that did not start in the period: its first event's
 * (ev_deploy_id). ?1 deploy id ?2 environment */
#define LH_Q_DORA_SUSPECT_SERVICE                                                              \
    "SELECT service FROM events WHERE deploy_id = ?1 AND kind = 1 AND environment IS ?2"       \
    " ORDER BY time LIMIT 1"

/* The succeeded deploys with a version of a service in a period, in time order (ev_good): when
 * each broken change of the service was followed by a good one. ?1 service ?2 environment
 * ?3 after ?4 to (ns) */
#define LH_Q_DORA_GOODS                                                                        \
    "SELECT time, deploy_id FROM events INDEXED BY ev_good"                                    \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service = ?1"                   \
    " AND environment IS ?2 AND time > ?3 AND time <= ?4 ORDER BY time, seq"

/* The longest a change of the store lasted (ns, kept by the store as changes arrive): the
 * changes that started that long before a period may have good deploys inside it. */
/* The environments of the changes that started in [?1, ?2] and of the incidents detected then
 * (ns, inclusive), as keys: 'e' || environment, 'n' for none (lh__query_report_groups_by_env()
 * reads the period one environment at a time) */
#define LH_Q_DORA_ENVS                                                                         \
    "SELECT env_key FROM changes WHERE started >= ?1 AND started <= ?2"                       \
    " UNION SELECT CASE WHEN environment IS NULL THEN 'n' ELSE 'e' || environment END"        \
    " FROM outcomes INDEXED BY oc_dora WHERE kind = 3 AND time >= ?1 AND time <= ?2"

#define LH_Q_DORA_SPAN "SELECT value FROM meta WHERE key = 'changes.max_span'"

/* The first succeeded deploy of a service after a moment, of another change (ev_good): for a
 * broken change LH_Q_DORA_GOODS found none for in the period.
 * ?1 service ?2 environment ?3 after (ns) ?4 deploy id */
#define LH_Q_DORA_NEXT_GOOD                                                                    \
    "SELECT time FROM events INDEXED BY ev_good"                                               \
    " WHERE kind = 1 AND state = 2 AND version IS NOT NULL AND service = ?1"                   \
    " AND environment IS ?2 AND time > ?3 AND deploy_id IS NOT ?4 ORDER BY time, seq LIMIT 1"

/* The time of the store's latest event (ev_time), NULL when it holds none */
#define LH_Q_LATEST_TIME "SELECT max(time) FROM events"

/* clang-format on */

#endif
