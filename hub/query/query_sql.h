/*
 * query_sql.h - every SQL statement the timeline queries run, against the schema in
 * store_sql.h. Read-only; each statement names the index it is meant to use.
 *
 * Events are read as their canonical protobuf (events.event) and decoded by the codec; the
 * decoded columns are used only to select and order rows, and for the few aggregates
 * (classes, resolution) where decoding every row would be waste.
 */
#ifndef LOOPHUB_QUERY_SQL_H
#define LOOPHUB_QUERY_SQL_H

/* clang-format off */

/* The incident's events, all states (ev_incident_id). ?1 incident id */
#define LH_Q_INCIDENT_EVENTS                                                                   \
    "SELECT seq, event FROM events WHERE incident_id = ?1 AND kind = 3 ORDER BY time, seq"

/* Suspects the correlator recorded for any event of the incident, with the deploy row they
 * name (correlations primary key by outcome_seq, events by seq). The change's latest status
 * comes from ev_deploy_id. ?1 incident id */
#define LH_Q_INCIDENT_SUSPECTS                                                                 \
    "SELECT c.deploy_id, c.score, c.rank, c.lead_seconds, c.reasons, c.late, c.alert_seq,"     \
    "       d.id, d.time, d.service, d.environment, d.version, d.previous_version, d.actor,"   \
    "       d.commit_sha,"                                                                      \
    "       (SELECT x.state FROM events x WHERE x.deploy_id = c.deploy_id AND x.kind = 1"      \
    "        ORDER BY x.time DESC, x.seq DESC LIMIT 1),"                                        \
    "       o.id"                                                                               \
    " FROM events o JOIN correlations c ON c.outcome_seq = o.seq"                              \
    " LEFT JOIN events d ON d.seq = c.deploy_seq"                                              \
    " WHERE o.incident_id = ?1 AND o.kind = 3"                                                 \
    " ORDER BY o.time, o.seq, c.rank, c.score DESC"

/* Outbox alerts whose outcome is an event of the incident. Reached through the correlations
 * that name them (primary keys all the way): alerts(outcome_seq) has no index. ?1 incident id */
#define LH_Q_INCIDENT_ALERTS                                                                   \
    "SELECT DISTINCT a.seq, a.id, a.kind, a.late, a.created, o.id"                             \
    " FROM events o JOIN correlations c ON c.outcome_seq = o.seq"                              \
    " JOIN alerts a ON a.seq = c.alert_seq"                                                    \
    " WHERE o.incident_id = ?1 AND o.kind = 3"                                                 \
    " ORDER BY a.seq"

/* Ticket events linking to an id (tl_link), or being the named ticket (ev_ticket_id).
 * ?1 the deploy or incident id, ?2 a ticket id (the change ticket / incident ticket) or NULL */
#define LH_Q_TICKETS                                                                           \
    "SELECT seq, event FROM events"                                                            \
    " WHERE kind = 4 AND (seq IN (SELECT l.seq FROM ticket_links l WHERE l.link = ?1)"        \
    "                     OR ticket_id = ?2)"                                                   \
    " ORDER BY time, seq"

/* The change's events (ev_deploy_id). ?1 deploy id */
#define LH_Q_DEPLOY_EVENTS                                                                     \
    "SELECT seq, event FROM events WHERE deploy_id = ?1 AND kind = 1 ORDER BY time, seq"

/* The outcomes correlated with a change (co_deploy), with how many suspects each had, when an
 * incident outcome was resolved (ev_incident_id) and the alert sent. ?1 deploy id */
#define LH_Q_DEPLOY_OUTCOMES                                                                   \
    "SELECT c.score, c.rank, c.lead_seconds, c.reasons, c.late, c.alert_seq,"                  \
    "       (SELECT COUNT(*) FROM correlations c2 WHERE c2.outcome_seq = c.outcome_seq),"      \
    "       (SELECT MIN(r.time) FROM events r"                                                 \
    "         WHERE r.incident_id = o.incident_id AND r.kind = 3 AND r.state = 3),"            \
    "       (SELECT a.id FROM alerts a WHERE a.seq = c.alert_seq),"                            \
    "       o.seq, o.event"                                                                     \
    " FROM correlations c JOIN events o ON o.seq = c.outcome_seq"                              \
    " WHERE c.deploy_id = ?1"                                                                  \
    " ORDER BY o.time, o.seq"

/* What decides a change's class (ev_deploy_id, co_deploy). ?1 deploy id */
#define LH_Q_CHANGE_FACTS                                                                      \
    "SELECT COUNT(*), MIN(time), COALESCE(MAX(state = 4), 0), COALESCE(MAX(state = 3), 0)"     \
    " FROM events WHERE deploy_id = ?1 AND kind = 1"
#define LH_Q_CHANGE_CORRELATIONS                                                               \
    "SELECT COUNT(*), COALESCE(MAX(rank = 1), 0) FROM correlations WHERE deploy_id = ?1"

/* Every event of a service and environment in a period, newest first (a limit keeps the
 * newest; the caller puts them back in time order). The time index covers every row; the
 * service indexes are partial (deploys, outcomes) by design, so they cannot serve this.
 * ?1 from (ns), ?2 service, ?3 environment, ?4 to (ns), both inclusive */
#define LH_Q_SERVICE_EVENTS                                                                    \
    "SELECT seq, event FROM events INDEXED BY ev_time"                                         \
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
    "   AND o.time <= ?4"                                                                      \
    " ORDER BY a.seq"

/* The suspects named for one outcome (correlations primary key). ?1 outcome seq */
#define LH_Q_OUTCOME_SUSPECTS                                                                  \
    "SELECT c.deploy_id, c.rank, c.score, d.version, d.previous_version"                       \
    " FROM correlations c LEFT JOIN events d ON d.seq = c.deploy_seq"                          \
    " WHERE c.outcome_seq = ?1 ORDER BY c.rank, c.score DESC"

/* clang-format on */

#endif
