/*
 * zmq_def.c - the ZeroMQ adapters' definition for the registry: the [zmq] settings and the
 * build step that creates PULL, ROUTER, SUB, PUB and the subscription endpoint from them.
 *
 * All of them share one ZMQ context, created here and held by a small adapter registered
 * first: the hub destroys adapters in reverse order of registration, so every socket is closed
 * before the context is terminated. With --curve-secret-key the ZAP handler comes next (its
 * socket must be bound before a server socket takes a handshake), then PULL, ROUTER, PUB and the
 * subscription endpoint as CURVE servers.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/registry.h"
#include "zmq_adapter.h"
#include "zmq_curve.h"

typedef struct {
    char *pull;
    char *router;
    lh_strlist_t sub;
    char *pub;
    int64_t pub_queue;
    char *subs;
    int64_t subs_queue;
    int64_t subs_max;
    int64_t subs_idle;
    char *curve_secret_key;
    char *curve_allow;
} zmq_settings_t;

#define OFF(f) offsetof(zmq_settings_t, f)

/* clang-format off */
static const lh_conf_opt_t zmq_opts[] = {
    {"zmq-pull", "zmq", "pull", LH_CONF_STR, OFF(pull), "tcp://127.0.0.1:7701", "EP", "PULL bind endpoint, fire and forget ('off' to disable)"},
    {"zmq-router", "zmq", "router", LH_CONF_STR, OFF(router), "tcp://127.0.0.1:7702", "EP", "ROUTER bind endpoint, acked after commit ('off')"},
    {"zmq-sub", "zmq", "sub", LH_CONF_LIST, OFF(sub), NULL, "EP", "connect a SUB socket to an existing publisher (repeatable)"},
    {"zmq-pub", "zmq", "pub", LH_CONF_STR, OFF(pub), "tcp://127.0.0.1:7703", "EP", "alerts PUB bind endpoint ('off')"},
    {"zmq-pub-queue", "zmq", "pub_queue", LH_CONF_INT, OFF(pub_queue), "10000", "N", "alerts queued per PUB subscriber; a subscriber that falls further behind loses alerts alone (seq shows the gap)"},
    {"zmq-subs", "zmq", "subs", LH_CONF_STR, OFF(subs), "off", "EP", "alerts subscription endpoint (ROUTER, e.g. tcp://127.0.0.1:7704): exact per-subscriber loss counts ('off')"},
    {"zmq-subs-queue", "zmq", "subs_queue", LH_CONF_INT, OFF(subs_queue), "10000", "N", "alerts queued per subscription endpoint subscriber; beyond it that one loses them, counted"},
    {"zmq-subs-max", "zmq", "subs_max", LH_CONF_INT, OFF(subs_max), "256", "N", "subscribers the subscription endpoint keeps at most; more are refused"},
    {"zmq-subs-idle", "zmq", "subs_idle", LH_CONF_DUR, OFF(subs_idle), "60s", "DUR", "a subscription endpoint subscriber silent (no PING) this long is forgotten"},
    {"curve-secret-key", "zmq", "curve_secret_key", LH_CONF_STR, OFF(curve_secret_key), NULL, "FILE", "CURVE on PULL, ROUTER, PUB and the subscription endpoint with this secret key (loophub keygen); needs --curve-allow"},
    {"curve-allow", "zmq", "curve_allow", LH_CONF_STR, OFF(curve_allow), NULL, "FILE", "client public keys admitted under CURVE, one Z85 key a line (# comments)"},
};
/* clang-format on */

static void
zctx_destroy(void *zctx)
{
    zmq_ctx_term(zctx);
}

static const lh_adapter_ops_t zctx_ops = {
    .name = "zmq-context",
    .destroy = zctx_destroy,
};

#define PUB_QUEUE_MAX 10000000
#define SUBS_MAX 4096 /* the per-subscriber series of /metrics stay bounded */

static int
zmq_check(const void *conf, char *why, size_t whylen)
{
    const zmq_settings_t *s = conf;
    if (s->pub_queue > PUB_QUEUE_MAX) {
        snprintf(why, whylen, "--zmq-pub-queue: %lld is more than %d", (long long)s->pub_queue,
                 PUB_QUEUE_MAX);
        return LH_EINVAL;
    }
    if (s->subs_queue > PUB_QUEUE_MAX) {
        snprintf(why, whylen, "--zmq-subs-queue: %lld is more than %d", (long long)s->subs_queue,
                 PUB_QUEUE_MAX);
        return LH_EINVAL;
    }
    if (s->subs_max > SUBS_MAX) {
        snprintf(why, whylen, "--zmq-subs-max: %lld is more than %d", (long long)s->subs_max,
                 SUBS_MAX);
        return LH_EINVAL;
    }
    if (s->curve_allow && !s->curve_secret_key) {
        snprintf(why, whylen, "--curve-allow needs --curve-secret-key (CURVE is off without it)");
        return LH_EINVAL;
    }
    if (s->curve_secret_key && !s->curve_allow) {
        /* CURVE without a ZAP handler lets in anyone who knows the hub's public key */
        snprintf(why, whylen,
                 "--curve-secret-key needs --curve-allow FILE: the client public "
                 "keys to admit");
        return LH_EINVAL;
    }
    return 0;
}

/* The CURVE settings: the secret key read into secret, the ZAP handler registered. 0 when CURVE
 * is off, 1 when on, or LH_E* with why set. */
static int
curve_setup(lh_hub_t *hub, void *zctx, const zmq_settings_t *s, char *secret, char *why,
            size_t whylen)
{
    if (!s->curve_secret_key)
        return 0;
    if (!lh_zmq_curve_available()) {
        snprintf(why, whylen,
                 "--curve-secret-key: this libzmq was built without CURVE "
                 "(zmq_has(\"curve\") is false); install one built with libsodium");
        return LH_ECONFIG;
    }
    int rc = lh_zmq_curve_key_read(s->curve_secret_key, "secret key", secret, why, whylen);
    if (rc < 0)
        return rc;
    size_t pl = strlen(s->curve_secret_key);
    if (pl >= 4 && strcmp(s->curve_secret_key + pl - 4, ".pub") == 0)
        lh_log(LH_LOG_WARN, "zmq",
               "--curve-secret-key %s looks like a public key: it takes the hub's secret key "
               "(the .key file of loophub keygen)",
               s->curve_secret_key);
    struct stat st;
    if (stat(s->curve_secret_key, &st) == 0 && (st.st_mode & 077))
        lh_log(LH_LOG_WARN, "zmq",
               "the secret key file %s can be read by others (mode %03o): chmod 600 it",
               s->curve_secret_key, (unsigned)(st.st_mode & 0777));
    char **keys;
    size_t n;
    if ((rc = lh_zmq_curve_allow_read(s->curve_allow, &keys, &n, why, whylen)) < 0)
        return rc;
    const lh_adapter_ops_t *ops;
    void *ctx;
    rc = lh_zmq_zap_new(zctx, keys, n, &ops, &ctx);
    lh_zmq_curve_keys_free(keys, n);
    if (rc == 0)
        rc = lh_hub_add_adapter(hub, ops, ctx, NULL);
    if (rc < 0) {
        snprintf(why, whylen, "cannot set up the CURVE ZAP handler (see the log)");
        return rc;
    }
    char pub[LH_ZMQ_KEY_LEN + 1] = "?";
    zmq_curve_public(pub, secret);
    lh_log(LH_LOG_INFO, "zmq", "CURVE on: hub public key %s, %zu client keys admitted", pub, n);
    return 1;
}

/* Registers the adapter a constructor just made (rc its result, *ops and *ctx what it set), a
 * CURVE server first when secret is set. The pointers are read only now: C does not order the
 * evaluation of a call's arguments. */
static int
add(lh_hub_t *hub, int rc, const lh_adapter_ops_t *const *ops, void *const *ctx, const char *sink,
    const char *secret, int (*curve)(void *, const char *))
{
    if (rc < 0)
        return rc;
    if (secret && curve && (rc = curve(*ctx, secret)) < 0) {
        (*ops)->destroy(*ctx);
        return rc;
    }
    return lh_hub_add_adapter(hub, *ops, *ctx, sink);
}

static int
zmq_build(lh_hub_t *hub, const void *conf, char *why, size_t whylen)
{
    const zmq_settings_t *s = conf;
    if (lh_conf_off(s->pull) && lh_conf_off(s->router) && s->sub.n == 0 && lh_conf_off(s->pub) &&
        lh_conf_off(s->subs))
        return 0;
    void *zctx = zmq_ctx_new();
    if (!zctx)
        return LH_ENOMEM;
    int rc = lh_hub_add_adapter(hub, &zctx_ops, zctx, NULL); /* on error it was destroyed */
    char key[LH_ZMQ_KEY_LEN + 1] = "";
    const char *secret = NULL;
    if (rc == 0 && (rc = curve_setup(hub, zctx, s, key, why, whylen)) == 1) {
        secret = key;
        rc = 0;
    }
    const lh_adapter_ops_t *ops = NULL;
    void *ctx = NULL;
    if (rc == 0 && !lh_conf_off(s->pull)) {
        const char *ep[] = {s->pull};
        rc = add(hub, lh_zmq_in_new(zctx, LH_ZMQ_PULL, ep, 1, &ops, &ctx), &ops, &ctx, NULL, secret,
                 lh_zmq_in_curve);
    }
    if (rc == 0 && !lh_conf_off(s->router)) {
        const char *ep[] = {s->router};
        rc = add(hub, lh_zmq_in_new(zctx, LH_ZMQ_ROUTER, ep, 1, &ops, &ctx), &ops, &ctx, NULL,
                 secret, lh_zmq_in_curve);
    }
    /* the hub's SUB is a client of publishers of your own: CURVE does not apply to it */
    if (rc == 0 && s->sub.n > 0)
        rc = add(
            hub,
            lh_zmq_in_new(zctx, LH_ZMQ_SUB, (const char *const *)s->sub.v, s->sub.n, &ops, &ctx),
            &ops, &ctx, NULL, NULL, NULL);
    if (rc == 0 && !lh_conf_off(s->pub))
        rc = add(hub, lh_zmq_pub_new(zctx, s->pub, (int)s->pub_queue, &ops, &ctx), &ops, &ctx,
                 LH_ZMQ_PUB_SINK, secret, lh_zmq_pub_curve);
    if (rc == 0 && !lh_conf_off(s->subs)) {
        lh_zmq_subs_opts_t so = {s->subs, (int)s->subs_queue, (int)s->subs_max, s->subs_idle};
        rc = add(hub, lh_zmq_subs_new(zctx, &so, &ops, &ctx), &ops, &ctx, LH_ZMQ_SUBS_SINK, secret,
                 lh_zmq_subs_curve);
    }
    memset(key, 0, sizeof(key));
    return rc;
}

const lh_adapter_def_t lh_adapter_def_zmq = {
    .name = "zmq",
    .opts = zmq_opts,
    .n_opts = sizeof(zmq_opts) / sizeof(zmq_opts[0]),
    .conf_size = sizeof(zmq_settings_t),
    .check = zmq_check,
    .build = zmq_build,
};
