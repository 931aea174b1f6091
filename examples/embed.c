/*
 * embed.c - loophub inside your own program, through the public headers and libloophub only.
 *
 * Builds a deploy and an incident with the event API and encodes them as protobuf (what
 * `loophub send` puts on the wire). The hub runs in this process with a ZeroMQ PULL endpoint
 * (built from its adapter definition, as `loophub run --zmq-pull` would) and a sink of our own.
 * The deploy is handed to the hub directly (lh_hub_submit), the incident is sent over ZeroMQ
 * (lh_send_zmq), and the sink prints the correlated alert the hub publishes.
 *
 *   cc embed.c $(pkg-config ...) -lloophub    (the build makes it: build/examples/embed)
 *   ./embed [STORE.db]                        default: a new file in a temporary directory
 *
 * Exit 0 when the alert came and named the deploy as the suspect, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loophub/loophub.h"

/* --- a sink: the hub calls publish() for every committed correlated alert ------------------- */

typedef struct {
    int alerts;
    int named_deploy; /* the top suspect is our deploy */
} sink_state_t;

static int
sink_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *payload, size_t len)
{
    sink_state_t *st = ctx;
    (void)payload; /* the alert encoded in the hub's alerts format, for sinks that forward it */
    (void)len;
    st->alerts++;
    printf("alert #%lld %s: %s in %s\n", (long long)seq, ca->id, ca->service, ca->environment);
    for (size_t i = 0; i < ca->n_suspects; i++) {
        const lh_suspect_t *s = &ca->suspects[i];
        printf("  suspect: %s %s (deploy %s by %s, score %.2f)\n", s->service, s->version,
               s->deploy_id, s->actor ? s->actor : "?", s->score);
        for (size_t r = 0; r < s->n_reasons; r++)
            printf("    - %s\n", s->reasons[r]);
    }
    if (ca->rollback_version)
        printf("  roll back to: %s\n", ca->rollback_version);
    if (ca->n_suspects > 0 && strcmp(ca->suspects[0].deploy_id, "deploy-42") == 0)
        st->named_deploy = 1;
    return 0; /* delivered: the hub marks it done for this sink */
}

static void
sink_destroy(void *ctx)
{
    (void)ctx; /* the state lives in main() */
}

static const lh_adapter_ops_t sink_ops = {
    .name = "embed-sink",
    .publish = sink_publish,
    .destroy = sink_destroy,
};

/* --- events, built with the event API and encoded as protobuf -------------------------------- */

static lh_event_t *
new_event(const char *id, lh_kind_t kind, int64_t time_ns)
{
    lh_event_t *ev = lh_event_new();
    if (!ev)
        return NULL;
    ev->id = lh_event_str(ev, id, (size_t)-1);
    ev->kind = kind;
    ev->time_ns = time_ns;
    ev->service = lh_event_str(ev, "checkout", (size_t)-1);
    ev->environment = lh_event_str(ev, "prod", (size_t)-1);
    if (!ev->id || !ev->service || !ev->environment || lh_event_add_host(ev, "web-1", 5) < 0)
        lh_event_destroy(&ev);
    return ev;
}

/* Encodes ev and submits it as one message, as an adapter would. Returns 0 or LH_E*. */
static int
submit(lh_hub_t *hub, lh_event_t *ev)
{
    lh_buf_t pb = LH_BUF_INIT;
    int rc = lh_codec_pb_encode(ev, &pb);
    if (rc == 0) {
        lh_submit_t m = {.origin = "embed", .data = pb.data, .len = pb.len};
        rc = lh_hub_submit(hub, &m);
    }
    lh_buf_free(&pb);
    return rc;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/loophub-embed-XXXXXX", db[300], pull[320];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int own_db = argc < 2;
    snprintf(db, sizeof(db), "%s", own_db ? "" : argv[1]);
    if (own_db)
        snprintf(db, sizeof(db), "%s/embed.db", dir);
    snprintf(pull, sizeof(pull), "zmq-pull=ipc://%s/events", dir);

    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = db;
    lh_hub_t *hub = NULL;
    int rc = lh_hub_new(&o, &hub);
    if (rc < 0) {
        fprintf(stderr, "embed: cannot open the store %s: %s\n", db, lh_strerror(rc));
        return 1;
    }
    /* the ZeroMQ adapters from their definition: PULL on an ipc endpoint, the rest off */
    const char *zmq_settings[] = {pull, "zmq-router=off", "zmq-pub=off"};
    char why[256] = "";
    sink_state_t st = {0};
    if ((rc = lh_adapter_build(hub, lh_registry_find("zmq"), zmq_settings, 3, why, sizeof(why))) <
            0 ||
        (rc = lh_hub_add_adapter(hub, &sink_ops, &st, "embed-sink")) < 0 ||
        (rc = lh_hub_start_adapters(hub)) < 0) {
        fprintf(stderr, "embed: cannot set up the hub: %s %s\n", lh_strerror(rc), why);
        lh_hub_destroy(&hub);
        return 1;
    }

    /* a deploy of checkout 2.4.1 on web-1, then an incident on checkout ten minutes later */
    int64_t now = lh_now_ns();
    lh_event_t *dep = new_event("deploy-42-succeeded", LH_KIND_DEPLOY, now - 600 * LH_NS_PER_SEC);
    lh_event_t *inc = new_event("inc-7-detected", LH_KIND_INCIDENT, now);
    if (!dep || !inc) {
        fprintf(stderr, "embed: out of memory\n");
        rc = LH_ENOMEM;
    } else {
        dep->actor = lh_event_str(dep, "alice", (size_t)-1);
        dep->deploy.deploy_id = lh_event_str(dep, "deploy-42", (size_t)-1);
        dep->deploy.status = LH_DEPLOY_SUCCEEDED;
        dep->deploy.version = lh_event_str(dep, "2.4.1", (size_t)-1);
        dep->deploy.previous_version = lh_event_str(dep, "2.4.0", (size_t)-1);
        inc->incident.incident_id = lh_event_str(inc, "INC-7", (size_t)-1);
        inc->incident.state = LH_INCIDENT_DETECTED;
        inc->incident.severity = LH_SEV_CRITICAL;
        inc->incident.title = lh_event_str(inc, "checkout returns 500", (size_t)-1);
        rc = submit(hub, dep); /* in-process */
        lh_buf_t pb = LH_BUF_INIT;
        if (rc == 0 && (rc = lh_codec_pb_encode(inc, &pb)) == 0) {
            const void *msgs[] = {pb.data};
            size_t lens[] = {pb.len};
            rc = lh_send_zmq(pull + strlen("zmq-pull="), msgs, lens, 1, 5000); /* over ZeroMQ */
        }
        lh_buf_free(&pb);
    }
    lh_event_destroy(&dep);
    lh_event_destroy(&inc);

    /* drive the loop: the batch commits, the correlator writes the alert, the outbox hands it
     * to our sink; a few turns at most */
    for (int turn = 0; rc >= 0 && st.alerts == 0 && turn < 100; turn++)
        rc = lh_hub_turn(hub, 10);
    if (rc < 0)
        fprintf(stderr, "embed: %s\n", lh_strerror(rc));
    lh_hub_destroy(&hub);
    char side[340];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; own_db && i < 3; i++) {
        snprintf(side, sizeof(side), "%s%s", db, suffix[i]);
        unlink(side);
    }
    snprintf(side, sizeof(side), "%s/events", dir);
    unlink(side);
    rmdir(dir);
    if (st.alerts == 0 || !st.named_deploy) {
        fprintf(stderr, "embed: no alert naming deploy-42 (alerts seen: %d)\n", st.alerts);
        return 1;
    }
    return 0;
}
