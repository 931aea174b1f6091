/*
 * store_sql.h - the timeline store's schema and migrations.
 *
 * PRAGMA user_version holds the schema version. LH_STORE_MIGRATIONS[i] takes a store from
 * version i to i+1; a new version is a new entry at the end, never an edit of an old one.
 *
 * Indexing is deliberately sparse (measured: one secondary index over all events costs a page
 * per service per commit, 822 k rows/s without it, 74 k with a (service, ts) index). Only append-mostly `time` covers every row; service lookups are
 * partial indexes over the rows correlation needs (deploys and outcomes, ~10% of traffic);
 * ids of changes, incidents and tickets are partial indexes over the rows that carry them.
 * Event-id dedupe uses no on-disk index at all (see store.h).
 */
#ifndef LOOPHUB_STORE_SQL_H
#define LOOPHUB_STORE_SQL_H

/* clang-format off */
static const char *const LH_STORE_MIGRATIONS[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"          /* arrival order */
    "  id TEXT NOT NULL,"
    "  id_hash INTEGER NOT NULL,"         /* lh__hash64(id), for the in-memory dedupe index */
    "  kind INTEGER NOT NULL,"            /* lh_kind_t */
    "  time INTEGER NOT NULL,"            /* event time, ns */
    "  received INTEGER NOT NULL,"        /* hub time at insert, ns */
    "  service TEXT, environment TEXT, actor TEXT, source TEXT,"
    "  hosts TEXT,"                       /* space-separated, for display; lookups use event_hosts */
    "  outcome INTEGER NOT NULL DEFAULT 0,"
    "  state INTEGER,"                    /* deploy status / alert, incident, ticket state */
    "  severity INTEGER,"
    "  deploy_id TEXT, version TEXT, previous_version TEXT, commit_sha TEXT, commit_time INTEGER,"
    "  artifact TEXT, change_ticket TEXT,"
    "  name TEXT,"                        /* alert name, incident title, ticket summary */
    "  fingerprint TEXT, incident_id TEXT, ticket_id TEXT, ticket_type INTEGER,"
    "  event BLOB NOT NULL,"              /* canonical protobuf loophub.v1.Event */
    "  raw BLOB, raw_format INTEGER"      /* original bytes when not protobuf */
    ");"
    "CREATE INDEX ev_time ON events(time);"
    "CREATE INDEX ev_deploy_svc ON events(service, environment, time) WHERE kind = 1;"
    "CREATE INDEX ev_outcome_svc ON events(service, environment, time) WHERE outcome = 1;"
    "CREATE INDEX ev_deploy_id ON events(deploy_id) WHERE deploy_id IS NOT NULL;"
    "CREATE INDEX ev_incident_id ON events(incident_id) WHERE incident_id IS NOT NULL;"
    "CREATE INDEX ev_ticket_id ON events(ticket_id) WHERE ticket_id IS NOT NULL;"
    "CREATE INDEX ev_artifact ON events(artifact, environment, time) WHERE artifact IS NOT NULL;"
    /* hosts of deploys and outcomes, for shared-host correlation and `deployed` */
    "CREATE TABLE event_hosts ("
    "  host TEXT NOT NULL, environment TEXT, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL"
    ");"
    "CREATE INDEX eh_host ON event_hosts(host, environment, time);"
    /* what each ticket links to (deploy ids, incident ids) */
    "CREATE TABLE ticket_links ("
    "  link TEXT NOT NULL, seq INTEGER NOT NULL"
    ");"
    "CREATE INDEX tl_link ON ticket_links(link);"
    /* one row per (outcome, change): the correlator's conclusions */
    "CREATE TABLE correlations ("
    "  outcome_seq INTEGER NOT NULL,"
    "  deploy_id TEXT NOT NULL,"
    "  deploy_seq INTEGER NOT NULL,"      /* the change's first event */
    "  score REAL NOT NULL,"
    "  rank INTEGER NOT NULL,"            /* 1 = top suspect when concluded */
    "  lead_seconds INTEGER NOT NULL,"
    "  reasons TEXT NOT NULL,"            /* JSON array of strings */
    "  late INTEGER NOT NULL,"
    "  alert_seq INTEGER,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (outcome_seq, deploy_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX co_deploy ON correlations(deploy_id);"
    /* the outbox: seq is the per-hub alert sequence number, never reused */
    "CREATE TABLE alerts ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  kind INTEGER NOT NULL,"
    "  service TEXT, environment TEXT,"
    "  outcome_seq INTEGER NOT NULL,"
    "  late INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  payload BLOB NOT NULL,"            /* protobuf loophub.v1.CorrelatedAlert, seq unset */
    "  pub_done INTEGER NOT NULL DEFAULT 0,"
    "  kafka_done INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX al_pub_pending ON alerts(seq) WHERE pub_done = 0;"
    "CREATE INDEX al_kafka_pending ON alerts(seq) WHERE kafka_done = 0;"
    "CREATE TABLE quarantine ("
    "  seq INTEGER PRIMARY KEY,"
    "  received INTEGER NOT NULL,"
    "  origin TEXT NOT NULL,"             /* zmq-pull, zmq-router, kafka:topic/partition, http ... */
    "  reason TEXT NOT NULL,"
    "  event_id TEXT,"
    "  payload BLOB"
    ");"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;",
    /* 1 -> 2: covering indexes for the correlator's candidate lookups. Each outcome used to
     * read one table row per deploy event in its window (for deploy_id), and each host match
     * two (event_hosts for kind, events for deploy_id); these rows are rarely cached, and the
     * reads were the largest part of correlating (bench: ~16% of the hub's CPU). */
    /* SQLite 3.40 reads a partial index's WHERE column from the table unless the index holds
     * it too: hence kind and outcome as trailing columns */
    "DROP INDEX ev_deploy_svc;"
    "CREATE INDEX ev_deploy_svc ON events(service, environment, time, deploy_id, kind)"
    "  WHERE kind = 1;"
    "DROP INDEX ev_outcome_svc;"
    "CREATE INDEX ev_outcome_svc ON events(service, environment, time, outcome) WHERE outcome = 1;"
    /* a deploy's host rows carry its deploy_id, so deploys by host need no events row */
    "ALTER TABLE event_hosts ADD COLUMN deploy_id TEXT;"
    "UPDATE event_hosts SET deploy_id ="
    "  (SELECT e.deploy_id FROM events e WHERE e.seq = event_hosts.seq) WHERE kind = 1;"
    "DROP INDEX eh_host;"
    "CREATE INDEX eh_host ON event_hosts(host, environment, time, kind, seq, deploy_id);"
    "DROP INDEX ev_artifact;"
    "CREATE INDEX ev_artifact ON events(artifact, environment, time, kind, outcome, deploy_id)"
    "  WHERE artifact IS NOT NULL;"
    /* a change's events come out in time order without a sort */
    "DROP INDEX ev_deploy_id;"
    "CREATE INDEX ev_deploy_id ON events(deploy_id, time) WHERE deploy_id IS NOT NULL;",
};
/* clang-format on */

#define LH_STORE_SCHEMA_VERSION                                                                \
    ((int)(sizeof(LH_STORE_MIGRATIONS) / sizeof(LH_STORE_MIGRATIONS[0])))

#endif
