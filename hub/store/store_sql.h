/*
 * store_sql.h - the timeline store's schema, migrations and every statement the store module runs.
 *
 * PRAGMA user_version holds the schema version. LH_STORE_MIGRATIONS[i] takes a store from
 * version i to i+1; a new version is a new entry at the end, never an edit of an old one.
 * STORE_SQL lists the statements of store.c, each prepared once at open.
 *
 * Indexing is deliberately sparse (measured: one secondary index over all events costs a page
 * per service per commit, 822 k rows/s without it, 74 k with a (service, ts) index). Only
 * append-mostly `time` covers every row (with each row's service and environment after it, for
 * a service's timeline, since version 9); service lookups are partial indexes over the rows
 * correlation needs (deploys and outcomes, ~10% of traffic); ids of changes, incidents and tickets
 * are partial indexes over the rows that carry them. Event-id dedupe uses no on-disk index at all
 * (see store.h).
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
    /* 2 -> 3: delivery state keyed by sink name, so a new sink is a row, not a column. Per sink
     * a high-water mark (every alert at or below done_through is done) plus the done alerts
     * above it that were delivered out of order (a failed Kafka delivery leaves a hole until it
     * is retried): the rows of outbox_done stay few and the pending scan of a sink starts at its
     * mark. The two columns become the sinks "zmq-pub" and "kafka" (the names the PUB and Kafka
     * adapters register with), created only on a store that has alerts: a sink registered later
     * starts with done_through = 0, as a new column defaulting to 0 would have. */
    /* the indexes go first: the new tables take their pages (a new store has no free page) */
    "DROP INDEX al_pub_pending;"
    "DROP INDEX al_kafka_pending;"
    "CREATE TABLE sinks ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  done_through INTEGER NOT NULL DEFAULT 0" /* every alert with seq <= this is done */
    ");"
    "CREATE TABLE outbox_done ("             /* done alerts above their sink's done_through */
    "  sink_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (sink_id, seq)"
    ") WITHOUT ROWID;"
    "INSERT INTO sinks (name, done_through) SELECT 'zmq-pub',"
    "  coalesce((SELECT min(seq) FROM alerts WHERE pub_done = 0) - 1,"
    "           (SELECT max(seq) FROM alerts))"
    "  WHERE EXISTS (SELECT 1 FROM alerts);"
    "INSERT INTO sinks (name, done_through) SELECT 'kafka',"
    "  coalesce((SELECT min(seq) FROM alerts WHERE kafka_done = 0) - 1,"
    "           (SELECT max(seq) FROM alerts))"
    "  WHERE EXISTS (SELECT 1 FROM alerts);"
    "INSERT INTO outbox_done (sink_id, seq) SELECT s.id, a.seq FROM sinks s, alerts a"
    "  WHERE s.name = 'zmq-pub' AND a.pub_done != 0 AND a.seq > s.done_through;"
    "INSERT INTO outbox_done (sink_id, seq) SELECT s.id, a.seq FROM sinks s, alerts a"
    "  WHERE s.name = 'kafka' AND a.kafka_done != 0 AND a.seq > s.done_through;"
    "ALTER TABLE alerts DROP COLUMN pub_done;"
    "ALTER TABLE alerts DROP COLUMN kafka_done;"
    /* for people and tests reading a store with sqlite3: one row per (sink, alert) */
    "CREATE VIEW alert_delivery AS SELECT s.name AS sink, a.seq AS seq,"
    "  (a.seq <= s.done_through OR EXISTS (SELECT 1 FROM outbox_done d"
    "   WHERE d.sink_id = s.id AND d.seq = a.seq)) AS done"
    "  FROM sinks s CROSS JOIN alerts a;",
    /* 3 -> 4: one correlated alert per outcome, published in revisions (docs/correlation.md).
     * An outcome is the lifecycle of one incident (every event of its incident_id) or one firing
     * period of a monitoring alert (its fingerprint, from firing to resolved); a case is one
     * correlated alert: one outcome, or several with the same suspects joined within the group
     * window. The outbox keeps every revision as its own row (its own seq, delivered as any
     * alert): the alert id is no longer unique, (id, revision) is; each row names the event that
     * made it (the timeline opens an alert by it). Tables of outcomes and cases take a row per
     * incident or alert period, not per event: what every event pays is one indexed lookup. */
    /* the alerts table first: the pages its old copy frees go to the new tables (a new store
     * has no free page, and a full disk must stay full) */
    "DROP VIEW alert_delivery;"
    "CREATE TABLE alerts4 ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL,"
    "  revision INTEGER NOT NULL DEFAULT 1,"
    "  outcome_id TEXT,"                 /* the event that made this revision (its outcome) */
    "  event_seq INTEGER,"               /* and its seq */
    "  kind INTEGER NOT NULL,"
    "  service TEXT, environment TEXT,"
    "  outcome_seq INTEGER NOT NULL,"
    "  late INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  payload BLOB NOT NULL,"
    "  UNIQUE (id, revision)"
    ");"
    "INSERT INTO alerts4 (seq, id, revision, kind, service, environment, outcome_seq, late,"
    "  created, payload) SELECT seq, id, 1, kind, service, environment, outcome_seq, late,"
    "  created, payload FROM alerts ORDER BY seq;"
    "DROP TABLE alerts;"
    "ALTER TABLE alerts4 RENAME TO alerts;"
    "CREATE INDEX al_outcome_id ON alerts(outcome_id) WHERE outcome_id IS NOT NULL;"
    "CREATE VIEW alert_delivery AS SELECT s.name AS sink, a.seq AS seq,"
    "  (a.seq <= s.done_through OR EXISTS (SELECT 1 FROM outbox_done d"
    "   WHERE d.sink_id = s.id AND d.seq = a.seq)) AS done"
    "  FROM sinks s CROSS JOIN alerts a;"
    /* keyed by the outcome's first stored event: rows are appended, and a row is read and
     * updated by that integer (every event of an outcome does) */
    "CREATE TABLE outcomes ("
    "  first_seq INTEGER PRIMARY KEY,"   /* its first stored event: correlations.outcome_seq */
    "  okey TEXT NOT NULL,"              /* kind, environment, ref (alerts: and period start),
                                          * separated by 0x1f: the alert id derives from it (no
                                          * index: nothing looks an outcome up by it) */
    "  kind INTEGER NOT NULL,"           /* lh_kind_t of its events: 2 alert, 3 incident */
    "  ref TEXT NOT NULL,"               /* the incident id, or the alert's fingerprint (name) */
    "  service TEXT, environment TEXT,"
    "  time INTEGER NOT NULL,"           /* its earliest event: the outcome's time */
    "  event_id TEXT NOT NULL,"          /* its first stored event's id */
    "  title TEXT,"                      /* incident title or alert name, the latest given */
    "  hosts TEXT,"                      /* every host its events named, space-separated */
    "  artifact TEXT,"                   /* the artifact any of its events named */
    "  open INTEGER NOT NULL,"           /* 1 until a resolved event */
    "  resolved INTEGER,"                /* time of that event (ns) */
    "  case_id TEXT"                     /* the correlated alert it is part of (cases.id) */
    ");"
    /* an incident's outcome by its id, an alert's firing period by fingerprint and time */
    "CREATE INDEX oc_ref ON outcomes(ref, environment, kind, time);"
    "CREATE INDEX oc_case ON outcomes(case_id) WHERE case_id IS NOT NULL;"
    "CREATE TABLE cases ("
    "  id TEXT PRIMARY KEY,"             /* the correlated alert's id, ca-... */
    "  kind INTEGER NOT NULL,"           /* lh_ca_kind_t */
    "  service TEXT, environment TEXT,"
    "  time INTEGER NOT NULL,"           /* its earliest outcome's time */
    "  last_time INTEGER NOT NULL,"      /* its latest outcome's time: the group window's start */
    "  revision INTEGER NOT NULL,"       /* the latest published revision */
    "  top TEXT,"                        /* deploy_id of its top suspect then */
    "  suspect_key TEXT NOT NULL,"       /* hash of its suspects' sorted deploy ids */
    "  late INTEGER NOT NULL,"
    "  resolved INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX cs_open ON cases(service, environment, suspect_key, last_time)"
    "  WHERE resolved = 0;"
    /* a deploy's previous_version the hub filled from history (1) rather than received */
    "ALTER TABLE events ADD COLUMN previous_derived INTEGER;"
    /* the incidents already stored become outcomes (open unless an event resolved them) with
     * their events; their alerts stay as they were (no case): an update of such an incident
     * starts a case of its own */
    /* SQLite takes the bare columns (seq, id, ...) from the row of min(time) */
    "INSERT INTO outcomes (okey, kind, ref, service, environment, time, first_seq, event_id,"
    "  title, hosts, artifact, open, resolved)"
    "  SELECT 'incident' || char(31) || coalesce(environment, '') || char(31) || incident_id, 3,"
    "    incident_id, service, environment, min(time), seq, id, name, group_concat(hosts, ' '),"
    "    max(artifact), 1, NULL"
    "  FROM events WHERE kind = 3 AND incident_id IS NOT NULL GROUP BY environment, incident_id;"
    "UPDATE outcomes SET open = 0, resolved = (SELECT min(e.time) FROM events e"
    "  WHERE e.kind = 3 AND e.incident_id = outcomes.ref AND e.environment IS outcomes.environment"
    "  AND e.state = 3) WHERE EXISTS (SELECT 1 FROM events e WHERE e.kind = 3"
    "  AND e.incident_id = outcomes.ref AND e.environment IS outcomes.environment AND e.state = 3);"
    /* incidents are few: each of their events can be found by its id (timeline --incident) */
    "CREATE INDEX ev_incident_event ON events(id) WHERE kind = 3;",
    /* 4 -> 5: retention and a bounded dedupe index (docs/architecture.md, The store). The events
     * per kind and the oldest of each are kept in `tally` (exact in every transaction: nothing
     * counts the events table any more); host rows and ticket links are found by their event for
     * deletion (both indexes follow the rowid: appended at the end, cheap to keep). */
    "CREATE TABLE tally ("
    "  kind INTEGER PRIMARY KEY,"        /* lh_kind_t */
    "  n INTEGER NOT NULL,"              /* its events in the store */
    "  oldest INTEGER"                   /* the earliest event time among them (ns) */
    ");"
    "INSERT INTO tally (kind, n, oldest) SELECT kind, count(*), min(time) FROM events"
    "  GROUP BY kind;"
    "CREATE INDEX eh_seq ON event_hosts(seq);"
    "CREATE INDEX tl_seq ON ticket_links(seq);",
    /* 5 -> 6: the correlator's window lookups on time-first indexes (docs/architecture.md, The
     * store over months). Keyed by service, host or artifact first, each batch wrote about one
     * page per key it named, anywhere in indexes as large as the history (bench: 22 kB written
     * per event into a 2M-event store against 3 kB into an empty one); keyed by the event time's
     * 4-hour bucket first (LH_STORE_BUCKET_OF, store.h), a batch writes the few pages of the
     * current bucket. The newest succeeded deploy before a time has no window: it keeps a
     * service-first index of succeeded deploys only (2% of the bench's events). */
    "DROP INDEX ev_deploy_svc;"
    "DROP INDEX ev_outcome_svc;"
    "DROP INDEX ev_artifact;"
    "DROP INDEX eh_host;"
    /* the bucket is spelled out, not LH_STORE_BUCKET_OF(): a migration never changes once
     * released, and the statements' expression must stay this one (check_store
     * migrate_v5_store and the plan tests of check_correlator and check_query say so) */
    "CREATE INDEX ev_deploy_svc ON events(time / 14400000000000, service, environment, time,"
    "  deploy_id, kind) WHERE kind = 1;"
    "CREATE INDEX ev_outcome_svc ON events(time / 14400000000000, service, environment, time,"
    "  outcome) WHERE outcome = 1;"
    "CREATE INDEX ev_artifact ON events(time / 14400000000000, artifact, environment, time, kind,"
    "  outcome, deploy_id) WHERE artifact IS NOT NULL;"
    "CREATE INDEX eh_host ON event_hosts(time / 14400000000000, host, environment, time, kind,"
    "  seq, deploy_id);"
    "CREATE INDEX ev_good ON events(service, environment, time, seq, deploy_id, version, kind,"
    "  state) WHERE kind = 1 AND state = 2 AND version IS NOT NULL;",
    /* 6 -> 7: `loophub dora` reads the incidents of a period: a time index on the incident
     * outcomes (one row per incident, written in time order, so it grows at its end) */
    "CREATE INDEX oc_incident_time ON outcomes(time) WHERE kind = 3;",
    /* 7 -> 8: what `loophub dora` needs of each change and incident, kept at ingest so a report
     * reads one row per change and per incident instead of decoding every event of each
     * (store_changes.c; for an incident, an index entry that covers it). A change is a deploy id in one environment; its row is keyed by its
     * first event's time first, so rows are appended at the end and a period is one range. The
     * rows of the changes and incidents stored before are filled by lh__store_fill_v8() in the
     * same transaction (their commit times, labels and severities live in the protobuf). */
    "CREATE TABLE changes ("
    "  started INTEGER NOT NULL,"         /* its first event's time */
    "  deploy_id TEXT NOT NULL,"
    "  env_key TEXT NOT NULL,"            /* 'e' || environment, or 'n' (none) */
    "  service TEXT,"                     /* its first event's */
    "  last INTEGER NOT NULL,"            /* its latest event's time */
    "  facts BLOB NOT NULL,"              /* lh_store_facts_t (store.h): the first succeeded,
                                           * failed and rolled_back times, the commit time, the
                                           * first good deploy and how many */
    "  commit_at INTEGER,"                /* the time of the event the commit time came from */
    "  labels TEXT,"                      /* its events' labels merged, a JSON object; NULL: none */
    "  PRIMARY KEY (started, deploy_id, env_key)"
    ") WITHOUT ROWID;"
    /* an incident outcome's highest severity among its events (lh_severity_t; NULL: none given)
     * and the top suspect of its latest conclusion with that change's start (the correlator
     * writes them with the row: the report finds the change's row by its start);
     * the incidents' time index becomes one that covers what the report reads of them, in its
     * order (first_seq and kind listed so that SQLite needs neither the table nor a sort) */
    "ALTER TABLE outcomes ADD COLUMN severity INTEGER;"
    "ALTER TABLE outcomes ADD COLUMN top TEXT;"
    "ALTER TABLE outcomes ADD COLUMN top_started INTEGER;" /* that change's first event's time */
    "UPDATE outcomes SET top = (SELECT c.deploy_id FROM correlations c"
    "  WHERE c.outcome_seq = outcomes.first_seq AND c.rank = 1 LIMIT 1) WHERE kind = 3;"
    "UPDATE outcomes SET top_started = (SELECT min(e.time) FROM events e"
    "  WHERE e.deploy_id = outcomes.top AND e.kind = 1 AND e.environment IS outcomes.environment)"
    "  WHERE kind = 3 AND top IS NOT NULL;"
    "DROP INDEX oc_incident_time;"
    "CREATE INDEX oc_dora ON outcomes(time, first_seq, kind, service, environment, ref, open,"
    "  resolved, severity, top, top_started) WHERE kind = 3;",
    /* 8 -> 9: the time index also holds each event's service and environment, so a service's
     * timeline (`timeline --service S --env E`) tells its events in a period from the index
     * alone and reads only their rows, not every row of the period (still appended at the end:
     * it leads with the time). About 17 bytes an event; rebuilt here, in the migration's
     * transaction (10M events: 11 s to /healthz, once) */
    "DROP INDEX ev_time;"
    "CREATE INDEX ev_time ON events(time, service, environment);",
    /* 9 -> 10: the two indexes of ids that only `timeline --incident ID` reads (an incident's
     * event ids; the event that made an alert revision) lead with the event's arrival bucket,
     * its seq / 262144 (LH_STORE_SEQ_BUCKETS, store.h). Keyed by the id alone, each insert took
     * a random page once the index was much larger than a commit (bench: 290 and 160 of the
     * 1,580 pages a 4,000-event commit wrote into a 10M-event store, against 84 and 49 into an
     * empty one); keyed by bucket first, a commit writes the few pages of the newest bucket, and
     * a lookup seeks each bucket the index holds (about 40 on 10M events) */
    "DROP INDEX ev_incident_event;"
    "CREATE INDEX ev_incident_event ON events(seq / 262144, id) WHERE kind = 3;"
    "DROP INDEX al_outcome_id;"
    "CREATE INDEX al_outcome_id ON alerts(event_seq / 262144, outcome_id)"
    "  WHERE outcome_id IS NOT NULL;",
    /* 10 -> 11: each event's source once (store_dict.c). A publisher's name was repeated in
     * the protobuf of every event it sent (24 of the 437 bytes an event of the bench's 10M-event
     * store); a row now names it by its key in `sources`, which the writer keeps in memory. Rows
     * written before keep the name in their protobuf: nothing is rewritten. */
    "CREATE TABLE sources ("
    "  ref INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL UNIQUE"
    ");"
    "ALTER TABLE events ADD COLUMN source_ref INTEGER;",
    /* 11 -> 12: the time of receipt once a transaction (8 of the 413 bytes an event of the
     * bench's store): a row of `arrivals` names the first event a transaction stored and when
     * the hub stored it; the events after it, to the next row, were stored in the same
     * transaction (events.received is 0 in their rows). Rows written before keep their own. */
    "CREATE TABLE arrivals ("
    "  first_seq INTEGER PRIMARY KEY,"
    "  received INTEGER NOT NULL"         /* hub time at the transaction's first insert, ns */
    ");"
    "CREATE VIEW event_received AS SELECT e.seq AS seq, CASE WHEN e.received <> 0"
    "  THEN e.received ELSE (SELECT a.received FROM arrivals a WHERE a.first_seq <= e.seq"
    "  ORDER BY a.first_seq DESC LIMIT 1) END AS received FROM events e;",
    /* 12 -> 13: a revision that repeats the suspects of the one before (the resolution: about
     * 150 of the 706 bytes an alert revision of the bench's 10M-event store takes, in 325,000 of
     * its 708,000 revisions) names it in `same_as` and leaves its suspects, rollbacks and
     * rollback target out; the outbox's scan puts them back (store_outbox.c) */
    "ALTER TABLE alerts ADD COLUMN same_as INTEGER;",
    /* 13 -> 14: the hosts of deploys and outcomes are one b-tree, not three. A rowid table with a
     * covering index (eh_host) held every host row twice, and a third index (eh_seq) found them
     * for deletion: 29.5 bytes an event of the bench's 10M-event store, and three b-tree inserts
     * per host row. The table is now keyed as eh_host was (time bucket first, so a batch writes
     * the current bucket's pages), without rowid; retention finds a row by its key from the
     * event's own row (store_retention.c). A WITHOUT ROWID key is NOT NULL: an event without an
     * environment is '' here (an event has no empty strings, store.c), and the lookups compare
     * with coalesce(?, ''). An event naming a host twice has one row (the lookups returned it
     * twice, and the correlator kept one): a conflict on the key does nothing. The new table is filled in key order from eh_host (NULL
     * sorts before every string, as '' does) before the old one goes */
    "CREATE TABLE event_hosts14 ("
    "  bucket INTEGER NOT NULL,"          /* time / 14400000000000 (LH_STORE_BUCKET_OF) */
    "  host TEXT NOT NULL,"
    "  environment TEXT NOT NULL,"        /* '' when the event has none */
    "  time INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  deploy_id TEXT,"                   /* a deploy's change */
    "  PRIMARY KEY (bucket, host, environment, time, kind, seq)"
    ") WITHOUT ROWID;"
    "INSERT INTO event_hosts14 (bucket, host, environment, time, kind, seq, deploy_id)"
    "  SELECT time / 14400000000000, host, coalesce(environment, ''), time, kind, seq, deploy_id"
    "  FROM event_hosts INDEXED BY eh_host WHERE true"
    "  ORDER BY time / 14400000000000, host, environment, time, kind, seq"
    "  ON CONFLICT (bucket, host, environment, time, kind, seq) DO NOTHING;"
    "DROP TABLE event_hosts;"
    "ALTER TABLE event_hosts14 RENAME TO event_hosts;",
    /* 14 -> 15: each event's labels once (store_dict.c). Most events of a service or a pipeline
     * carry the same labels (17 of the 194 bytes of an events row of the bench's 10M-event
     * store); a row now names its set by its key in `labelsets`, which the writer keeps in
     * memory. A set is the protobuf entries of the labels (field 8 of loophub.v1.Event), moved
     * from the event's protobuf as they are. Rows written before keep their labels in their
     * protobuf: nothing is rewritten. */
    "CREATE TABLE labelsets ("
    "  ref INTEGER PRIMARY KEY,"
    "  labels BLOB NOT NULL UNIQUE"
    ");"
    "ALTER TABLE events ADD COLUMN labels_ref INTEGER;",
};
/* clang-format on */

/* An outbox row as its readers select it: seq and payload, then what the payload may leave out
 * (alert_row() in store_outbox.c reads them in this order). */
#define LH_STORE_ALERT_ROW_COLS(p)                                                                 \
    p "seq, " p "payload, " p "event_seq, " p "outcome_id, " p "same_as, " p "id, " p "kind, " p   \
      "service, " p "environment, " p "created, " p "revision, " p "late"

/* The statements of store.c, prepared once at open (S_<name> in store.c). */
/* clang-format off */
#define STORE_SQL(X)                                                                               \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(INS_EVENT, "INSERT INTO events (id, id_hash, kind, time, received, service, environment,"   \
                 " actor, source, hosts, outcome, state, severity, deploy_id, version,"           \
                 " previous_version, commit_sha, commit_time, artifact, change_ticket, name,"     \
                 " fingerprint, incident_id, ticket_id, ticket_type, event, raw, raw_format,"     \
                 " previous_derived, source_ref, seq, labels_ref)"                                \
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"      \
                 " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30,"     \
                 " ?31, ?32)")                                                                     \
    X(SRC_LOAD, "SELECT ref, source FROM sources ORDER BY ref")                                    \
    X(SRC_ADD, "INSERT INTO sources (ref, source) VALUES (?1, ?2)")                                \
    X(LBL_LOAD, "SELECT ref, labels FROM labelsets ORDER BY ref")                                  \
    X(LBL_ADD, "INSERT INTO labelsets (ref, labels) VALUES (?1, ?2)")                              \
    X(INS_ARRIVAL, "INSERT INTO arrivals (first_seq, received) VALUES (?1, ?2)")                   \
    /* a host named twice by one event is one row; any other constraint still fails */          \
    X(INS_HOST, "INSERT INTO event_hosts (host, environment, time, seq, kind, deploy_id, bucket)"  \
                " VALUES (?1, coalesce(?2, ''), ?3, ?4, ?5, ?6, ?7)"                               \
                " ON CONFLICT (bucket, host, environment, time, kind, seq) DO NOTHING")            \
    X(INS_LINK, "INSERT INTO ticket_links (link, seq) VALUES (?1, ?2)")                            \
    X(GET_ID, "SELECT id FROM events WHERE seq = ?1")                                              \
    X(GET_BLOB, "SELECT event FROM events WHERE seq = ?1")                                         \
    X(GET_EVENT, "SELECT " LH_STORE_EVENT_COLS("") " FROM events WHERE seq = ?1")                  \
    X(LOAD_IDS, "SELECT id, seq, time FROM events WHERE seq >= ?1")                                \
    X(MAX_SEQ, "SELECT max(seq) FROM events")                                                      \
    X(MAX_TIME, "SELECT max(time) FROM events")                                                    \
    X(SEQ_FLOOR_GET, "SELECT value FROM meta WHERE key = 'events.next_seq'")                       \
    /* an id beyond the dedupe horizon: a duplicate has its original's event time */              \
    X(DD_PROBE, "SELECT seq FROM events WHERE time = ?1 AND id = ?2")                              \
    X(TALLY_LOAD, "SELECT kind, n, oldest FROM tally")                                             \
    X(TALLY_SET, "INSERT OR REPLACE INTO tally (kind, n, oldest) VALUES (?1, ?2, ?3)")             \
    /* retention (store_retention.c): one kind's rows in time order from its cursor */             \
    X(EXP_SCAN, "SELECT seq, time, kind, outcome FROM events WHERE time >= ?1"                     \
                " AND (time > ?1 OR seq > ?2) ORDER BY time, seq LIMIT ?3")                        \
    X(EXP_EVENT, "DELETE FROM events WHERE seq = ?1")                                              \
    /* an expiring deploy's or outcome's hosts: its row says which (delete_hosts()) */           \
    X(EXP_HOSTS_OF, "SELECT environment, hosts, event FROM events WHERE seq = ?1")                 \
    X(EXP_HOSTS, "DELETE FROM event_hosts WHERE bucket = ?1 AND host = ?2"                         \
                 " AND environment = coalesce(?3, '') AND time = ?4 AND kind = ?5 AND seq = ?6")   \
    X(EXP_LINKS, "DELETE FROM ticket_links WHERE seq = ?1")                                        \
    X(EXP_OUTCOME, "DELETE FROM outcomes WHERE first_seq = ?1 RETURNING case_id")                 \
    X(EXP_CORR, "DELETE FROM correlations WHERE outcome_seq = ?1")                                 \
    X(EXP_CASE, "DELETE FROM cases WHERE id = ?1 AND NOT EXISTS"                                   \
                " (SELECT 1 FROM outcomes WHERE case_id = ?1)")                                    \
    /* outbox rows delivered to every sink (at or below each done mark), oldest first */          \
    X(EXP_ALERTS_SCAN, "SELECT seq, created, kind FROM alerts WHERE seq > ?1 AND seq <= ?3"       \
                       " ORDER BY seq LIMIT ?2")                                                   \
    X(EXP_ALERT, "DELETE FROM alerts WHERE seq = ?1")                                              \
    /* the cutoff a kind's events were deleted before: `expired_before.<lh_kind_t>` */           \
    X(META_SET, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")                        \
    /* a change's row (store_changes.c): its first stored event (ev_deploy_id), the row by it */ \
    X(CH_FIRST, "SELECT time FROM events WHERE deploy_id = ?1 AND kind = 1 AND environment IS ?2"  \
                " AND seq <> ?3 ORDER BY time LIMIT 1")                                           \
    X(CH_GET, "SELECT service, last, facts, commit_at, labels FROM changes"                        \
              " WHERE started = ?1 AND deploy_id = ?2 AND env_key = ?3")                           \
    X(CH_DEL, "DELETE FROM changes WHERE started = ?1 AND deploy_id = ?2 AND env_key = ?3")        \
    X(CH_PUT, "INSERT OR REPLACE INTO changes (started, deploy_id, env_key, service, last, facts," \
              " commit_at, labels) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                       \
    /* the longest a change has lasted (first to latest event, ns): `loophub dora` reads the    \
     * changes that started that long before a period for the good deploys inside it */          \
    X(CH_SPAN_GET, "SELECT value FROM meta WHERE key = 'changes.max_span'")                        \
    /* retention: the changes that started before the cutoff of deploys, a step at a time */     \
    X(EXP_CHANGES, "DELETE FROM changes WHERE (started, deploy_id, env_key) IN"                    \
                   " (SELECT started, deploy_id, env_key FROM changes WHERE started < ?1"          \
                   "  ORDER BY started LIMIT ?2)")                                                 \
    /* the arrivals before the oldest event's own (it names the transaction of every event) */  \
    X(EXP_ARRIVALS, "DELETE FROM arrivals WHERE first_seq < (SELECT max(a.first_seq)"             \
                    " FROM arrivals a WHERE a.first_seq <= (SELECT min(seq) FROM events))")       \
    X(EXP_QUAR_SCAN, "SELECT seq, received FROM quarantine ORDER BY seq LIMIT ?1")                 \
    X(PAGE_COUNT, "PRAGMA page_count")                                                             \
    X(FREE_COUNT, "PRAGMA freelist_count")                                                         \
    X(PAGE_SIZE, "PRAGMA page_size")                                                               \
    X(INS_QUAR, "INSERT INTO quarantine (received, origin, reason, event_id, payload)"             \
                " VALUES (?1, ?2, ?3, ?4, ?5)")                                                    \
    X(INS_ALERT, "INSERT INTO alerts (id, kind, service, environment, outcome_seq, late,"         \
                 " created, payload, revision, outcome_id, event_seq, same_as)"                    \
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")                    \
    /* a revision as stored, and what its scan puts back (store_outbox.c) */                     \
    X(ALERT_ROW, "SELECT " LH_STORE_ALERT_ROW_COLS("") " FROM alerts WHERE seq = ?1")              \
    X(ALERT_PAYLOAD, "SELECT payload FROM alerts WHERE seq = ?1")                                  \
    /* retention: the revisions that repeat the one to delete take its suspects in first */      \
    X(EXP_REPEATS, "SELECT b.seq, b.payload FROM alerts b WHERE b.id = (SELECT a.id FROM alerts a"  \
                   " WHERE a.seq = ?1) AND b.same_as = ?1")                                       \
    X(EXP_WHOLE, "UPDATE alerts SET payload = ?2, same_as = NULL WHERE seq = ?1")                  \
    X(QUAR_SIZE, "SELECT count(*), coalesce(sum(length(payload)), 0) FROM quarantine")            \
    X(QUAR_OLDEST, "SELECT seq, coalesce(length(payload), 0) FROM quarantine ORDER BY seq LIMIT 1") \
    X(QUAR_DELETE, "DELETE FROM quarantine WHERE seq = ?1")                                        \
    X(GET_ALERT_SEQ, "SELECT seq FROM alerts WHERE id = ?1 AND revision = ?2")                     \
    /* sinks and their done marks (schema version 3) */                                          \
    X(SINK_ID, "SELECT id FROM sinks WHERE name = ?1")                                             \
    /* a new sink starts below the oldest alert kept (retention may have deleted older ones: the \
     * pending count is the seqs above the mark) */                                              \
    X(SINK_ADD, "INSERT INTO sinks (name, done_through)"                                          \
                " VALUES (?1, coalesce((SELECT min(seq) FROM alerts) - 1, 0))")                   \
    X(SINK_THROUGH, "SELECT done_through FROM sinks WHERE id = ?1")                                \
    /* done_through is always an alert's seq (or 0): never one a later alert will take */         \
    X(SINK_SET_THROUGH, "UPDATE sinks SET done_through = ?2 WHERE id = ?1"                         \
                        " AND EXISTS (SELECT 1 FROM alerts WHERE seq = ?2)")                       \
    X(ALERT_NEXT, "SELECT seq FROM alerts WHERE seq > ?1 ORDER BY seq LIMIT 1")                    \
    X(DONE_ADD, "INSERT OR IGNORE INTO outbox_done (sink_id, seq)"                                 \
                " SELECT ?1, seq FROM alerts WHERE seq = ?2")                                      \
    X(DONE_FIRST, "SELECT seq FROM outbox_done WHERE sink_id = ?1 AND seq > ?2 ORDER BY seq"       \
                  " LIMIT 1")                                                                      \
    X(DONE_TAKE, "DELETE FROM outbox_done WHERE sink_id = ?1 AND seq = ?2")                        \
    /* ?1 sink ?2 after (at least its done_through) ?3 limit: a range of the alerts' rowid,      \
     * one probe of outbox_done's key per row; PENDING_ALL when the sink has no row there */       \
    X(PENDING_ALL, "SELECT " LH_STORE_ALERT_ROW_COLS("") " FROM alerts WHERE seq > ?2"             \
                   " ORDER BY seq LIMIT ?3")                                                       \
    X(PENDING, "SELECT " LH_STORE_ALERT_ROW_COLS("a.") " FROM alerts a WHERE a.seq > ?2"           \
               " AND NOT EXISTS"                                                                   \
               " (SELECT 1 FROM outbox_done d WHERE d.sink_id = ?1 AND d.seq = a.seq)"             \
               " ORDER BY a.seq LIMIT ?3")                                                         \
    /* alert seqs are contiguous above every mark (AUTOINCREMENT, a rolled-back insert takes its \
     * number back, retention deletes only alerts at or below every sink's mark): the pending count is the seqs above the mark less the done rows   \
     * there, read from the rowid's end and outbox_done's few rows, whatever the backlog */        \
    X(COUNT_PENDING, "SELECT max(0, coalesce((SELECT max(seq) FROM alerts), 0) - ?2"               \
                     " - (SELECT count(*) FROM outbox_done d WHERE d.sink_id = ?1 AND d.seq > ?2))") \
    X(COUNT_QUAR, "SELECT count(*) FROM quarantine")                                               \
    X(COUNT_ALERTS, "SELECT count(*) FROM alerts")                                                 \
    X(COUNT_CORR, "SELECT count(*) FROM correlations")

/* Migration 7 -> 8 (store_changes.c, before the statements above are prepared): every deploy
 * event by deploy id then time, and every incident outcome's events in its environment. */
#define SQL_FILL_CHANGES                                                                           \
    "SELECT " LH_STORE_EVENT_FACT_COLS("") " FROM events INDEXED BY ev_deploy_id"              \
    " WHERE deploy_id IS NOT NULL AND kind = 1 ORDER BY deploy_id, time, seq"
#define SQL_FILL_SEVERITY_WALK                                                                     \
    "SELECT o.first_seq, e.event FROM outcomes o JOIN events e INDEXED BY ev_incident_id"         \
    " ON e.incident_id = o.ref AND e.kind = 3 AND e.environment IS o.environment"                 \
    " WHERE o.kind = 3 ORDER BY o.first_seq"
#define SQL_FILL_SEVERITY_SET "UPDATE outcomes SET severity = ?2 WHERE first_seq = ?1"
#define SQL_FILL_SPAN                                                                              \
    "INSERT OR REPLACE INTO meta (key, value)"                                                     \
    " SELECT 'changes.max_span', coalesce(max(last - started), 0) FROM changes"

/* Pragmas and the version stamp take integers and are formatted at open. */
#define SQL_USER_VERSION "PRAGMA user_version"
#define SQL_SET_USER_VERSION "PRAGMA user_version = %d"
#define SQL_PRAGMAS "PRAGMA page_size = %d; PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;"                         \
                    " PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %lld;"
#define SQL_PAGE_SIZE "PRAGMA page_size"
#define SQL_SYNCHRONOUS "PRAGMA synchronous = %s"
#define SQL_CACHE_SIZE "PRAGMA cache_size = -%lld"
/* clang-format on */

#define LH_STORE_SCHEMA_VERSION                                                                    \
    ((int)(sizeof(LH_STORE_MIGRATIONS) / sizeof(LH_STORE_MIGRATIONS[0])))

#endif
