/*
 * cli_quarantine.c - `loophub quarantine`: what the hub refused, and why.
 *
 * Every rejected message is kept in the store's quarantine table (origin, reason, the event id
 * when one was readable, a sample of the payload), bounded in rows and bytes with the oldest
 * evicted first. This lists it, newest first, from a store opened read-only (it runs beside a
 * live hub). Exit codes: 0 ok (also when nothing matches), 1 error, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "store.h"

#define CMD "quarantine"
#define DEFAULT_LIMIT 50
#define SAMPLE_SHOWN 200 /* bytes of a payload sample --payload prints in text */

static const char usage_text[] =
    "Usage: loophub quarantine [--since DUR|TIME] [--reason TEXT] [--origin PREFIX]\n"
    "                          [--limit N] [--payload] [--db PATH] [--format text|json]\n"
    "\n"
    "Lists the messages the hub rejected, newest first: when, where from (zmq-pull,\n"
    "zmq-router, http, kafka:topic/partition), why, the event id when one was readable, and\n"
    "the size of the sample kept (the hub keeps at most --quarantine-sample bytes of a\n"
    "message; the reason gives the true size of an oversized one).\n"
    "\n"
    "Options:\n"
    "  --since DUR|TIME  only rejections since then: a duration back from now (90s, 30m, 2h,\n"
    "                    7d) or an RFC 3339 time (2026-11-30T10:00:00Z); default: all\n"
    "  --reason TEXT     only rejections whose reason contains TEXT\n"
    "  --origin PREFIX   only rejections from an origin starting with PREFIX (e.g. http, kafka)\n"
    "  --limit N         show at most N rows (default 50); the output says how many more match\n"
    "  --payload         also show the payload samples (text: the first 200 bytes, escaped)\n"
    "  --db PATH         the store, opened read-only (default $LOOPHUB_DB, else ./loophub.db,\n"
    "                    else the packaged /var/lib/loophub/loophub.db)\n"
    "  --format FMT      text (default) or json (one JSON document)\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 ok (also when nothing matches), 1 error (no store), 2 bad usage.\n";

/* The filter's SQL: ?1 since (ns), ?2 reason substring or NULL, ?3 origin prefix or NULL. */
#define WHERE                                                                                      \
    " WHERE received >= ?1 AND (?2 IS NULL OR instr(reason, ?2) > 0)"                              \
    " AND (?3 IS NULL OR substr(origin, 1, length(?3)) = ?3)"
static const char sql_count[] =
    "SELECT count(*), coalesce(sum(length(payload)), 0) FROM quarantine" WHERE;
static const char sql_rows[] = "SELECT seq, received, origin, reason, event_id, length(payload),"
                               " payload FROM quarantine" WHERE " ORDER BY seq DESC LIMIT ?4";

typedef struct {
    int64_t since_ns;
    const char *reason, *origin;
    int64_t limit;
    int payload, json;
} qopts_t;

/* A duration back from now, or an RFC 3339 time. */
static int
parse_since(const char *s, int64_t *out)
{
    int64_t v;
    if (lh_time_parse(s, &v) == 0) {
        *out = v;
        return 0;
    }
    if (lh_duration_parse(s, &v) == 0) {
        *out = lh_now_ns() - v;
        return 0;
    }
    return LH_EINVAL;
}

static void
bind_filter(sqlite3_stmt *s, const qopts_t *q)
{
    sqlite3_bind_int64(s, 1, q->since_ns);
    if (q->reason)
        sqlite3_bind_text(s, 2, q->reason, -1, SQLITE_STATIC);
    if (q->origin)
        sqlite3_bind_text(s, 3, q->origin, -1, SQLITE_STATIC);
}

/* The sample as printable text: bytes outside printable ASCII as \xNN. */
static char *
escaped(const unsigned char *p, size_t n, size_t max)
{
    size_t shown = n < max ? n : max;
    char *out = malloc(shown * 4 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < shown; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)sprintf(out + o, "\\x%02x", p[i]);
    }
    if (shown < n)
        o += (size_t)sprintf(out + o, "...");
    out[o] = '\0';
    return out;
}

static void
human_bytes(int64_t n, char *buf, size_t len)
{
    if (n < 1024)
        snprintf(buf, len, "%lld B", (long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, len, "%.1f MiB", (double)n / (1024 * 1024));
}

static int
list(sqlite3 *db, const char *name, const qopts_t *q)
{
    sqlite3_stmt *c = NULL, *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql_count, -1, &c, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, sql_rows, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        lh_cli_error(CMD, "cannot read %s: %s", name, sqlite3_errmsg(db));
        sqlite3_finalize(c);
        return LH_EXIT_ERROR;
    }
    bind_filter(c, q);
    int64_t total = 0, bytes = 0;
    if (sqlite3_step(c) == SQLITE_ROW) {
        total = sqlite3_column_int64(c, 0);
        bytes = sqlite3_column_int64(c, 1);
    }
    sqlite3_finalize(c);
    bind_filter(s, q);
    sqlite3_bind_int64(s, 4, q->limit);

    json_t *doc = NULL, *rows = NULL;
    char hb[32];
    if (q->json) {
        doc = json_object();
        rows = json_array();
        json_object_set_new(doc, "store", json_string(name));
        json_object_set_new(doc, "total", json_integer(total));
        json_object_set_new(doc, "bytes", json_integer(bytes));
    } else {
        human_bytes(bytes, hb, sizeof(hb));
        printf("quarantine of %s: %lld rejected message%s (%s of samples)%s\n", name,
               (long long)total, total == 1 ? "" : "s", hb, total ? ", newest first" : "");
    }
    int64_t shown = 0;
    int err = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char t[40] = "";
        int64_t received = sqlite3_column_int64(s, 1);
        /* text reads better to the second; JSON keeps what the store has */
        lh_time_format(q->json ? received : received - received % LH_NS_PER_SEC, t, sizeof(t));
        const char *origin = (const char *)sqlite3_column_text(s, 2);
        const char *reason = (const char *)sqlite3_column_text(s, 3);
        const char *eid = (const char *)sqlite3_column_text(s, 4);
        int64_t len = sqlite3_column_int64(s, 5);
        const unsigned char *p = sqlite3_column_blob(s, 6);
        char *sample = q->payload && p ? escaped(p, (size_t)sqlite3_column_bytes(s, 6),
                                                 q->json ? (size_t)-1 / 8 : SAMPLE_SHOWN)
                                       : NULL;
        if (q->payload && p && !sample)
            err = 1;
        shown++;
        if (q->json) {
            json_t *r = json_object();
            json_object_set_new(r, "seq", json_integer(sqlite3_column_int64(s, 0)));
            json_object_set_new(r, "received", json_string(t));
            json_object_set_new(r, "origin", json_string(origin ? origin : ""));
            json_object_set_new(r, "reason", json_string(reason ? reason : ""));
            if (eid)
                json_object_set_new(r, "event_id", json_string(eid));
            json_object_set_new(r, "bytes", json_integer(len));
            if (sample)
                json_object_set_new(r, "payload", json_string(sample));
            json_array_append_new(rows, r);
        } else {
            human_bytes(len, hb, sizeof(hb));
            printf("%s  #%lld  %-12s %9s  %s%s%s%s\n", t, (long long)sqlite3_column_int64(s, 0),
                   origin ? origin : "", hb, eid ? "event " : "", eid ? eid : "", eid ? ": " : "",
                   reason ? reason : "");
            if (sample)
                printf("    %s\n", sample);
        }
        free(sample);
    }
    if (rc != SQLITE_DONE) {
        lh_cli_error(CMD, "cannot read %s: %s", name, sqlite3_errmsg(db));
        err = 1;
    }
    sqlite3_finalize(s);
    if (q->json) {
        json_object_set_new(doc, "shown", json_integer(shown));
        json_object_set_new(doc, "left_out", json_integer(total > shown ? total - shown : 0));
        json_object_set_new(doc, "rows", rows);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (!text || puts(text) < 0)
            err = 1;
        free(text);
    } else if (total > shown) {
        printf("(%lld older not shown: raise --limit)\n", (long long)(total - shown));
    }
    if (fflush(stdout) != 0) {
        lh_cli_error(CMD, "cannot write the output: %s", strerror(errno));
        err = 1;
    }
    return err ? LH_EXIT_ERROR : LH_EXIT_OK;
}

int
lh_cli_quarantine(int argc, char **argv)
{
    enum { O_SINCE = 256, O_REASON, O_ORIGIN, O_LIMIT, O_PAYLOAD, O_DB, O_FORMAT };
    static const struct option longopts[] = {
        {"since", required_argument, NULL, O_SINCE},
        {"reason", required_argument, NULL, O_REASON},
        {"origin", required_argument, NULL, O_ORIGIN},
        {"limit", required_argument, NULL, O_LIMIT},
        {"payload", no_argument, NULL, O_PAYLOAD},
        {"db", required_argument, NULL, O_DB},
        {"format", required_argument, NULL, O_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    qopts_t q = {.limit = DEFAULT_LIMIT};
    const char *db = lh_cli_default_db();
    optind = 0;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_SINCE:
            if (parse_since(optarg, &q.since_ns) < 0)
                return lh_cli_usage_error(CMD,
                                          "bad --since '%s' (a duration like 2h or 7d, or an "
                                          "RFC 3339 time like 2026-11-30T10:00:00Z)",
                                          optarg);
            break;
        case O_REASON:
            q.reason = optarg;
            break;
        case O_ORIGIN:
            q.origin = optarg;
            break;
        case O_LIMIT:
            errno = 0;
            q.limit = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || q.limit < 1)
                return lh_cli_usage_error(CMD, "bad --limit '%s' (a positive number)", optarg);
            break;
        case O_PAYLOAD:
            q.payload = 1;
            break;
        case O_DB:
            db = optarg;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "json") == 0)
                q.json = 1;
            else if (strcmp(optarg, "text") != 0)
                return lh_cli_usage_error(CMD, "unknown format '%s' (text or json)", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? LH_EXIT_OK : LH_EXIT_ERROR;
        default:
            return lh_cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return lh_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

    lh_store_t *st = NULL;
    int rc = lh_cli_open_store(CMD, db, &st);
    if (rc)
        return rc;
    int exit_code = list(lh__store_db(st), db, &q);
    lh_store_close(&st);
    return exit_code;
}
