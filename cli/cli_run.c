/*
 * cli_run.c - `loophub run`: builds the hub from the settings (config.h), registers the
 * adapters, installs the signal handlers and runs the loop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "config.h"
#include "http/http_adapter.h"
#include "kafka/kafka.h"
#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "zmq/zmq_adapter.h"

static lh_hub_t *volatile g_hub;
static volatile sig_atomic_t g_stop;

static void
on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_hub)
        lh_hub_request_stop(g_hub);
}

/* Installed first thing, so a SIGTERM during start-up is a clean stop too. */
static void
install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int
build_adapters(lh_hub_t *hub, void *zctx, const lh_run_conf_t *c)
{
    const lh_adapter_ops_t *ops = NULL;
    void *ctx = NULL;
    int rc = 0;
    if (!lh_conf_off(c->zmq_pull)) {
        const char *ep[] = {c->zmq_pull};
        if ((rc = lh_zmq_in_new(zctx, LH_ZMQ_PULL, ep, 1, &ops, &ctx)) < 0 ||
            (rc = lh_hub_add_adapter(hub, ops, ctx, -1)) < 0)
            return rc;
    }
    if (!lh_conf_off(c->zmq_router)) {
        const char *ep[] = {c->zmq_router};
        if ((rc = lh_zmq_in_new(zctx, LH_ZMQ_ROUTER, ep, 1, &ops, &ctx)) < 0 ||
            (rc = lh_hub_add_adapter(hub, ops, ctx, -1)) < 0)
            return rc;
    }
    if (c->zmq_sub.n > 0) {
        if ((rc = lh_zmq_in_new(zctx, LH_ZMQ_SUB, (const char *const *)c->zmq_sub.v, c->zmq_sub.n,
                                &ops, &ctx)) < 0 ||
            (rc = lh_hub_add_adapter(hub, ops, ctx, -1)) < 0)
            return rc;
    }
    if (!lh_conf_off(c->zmq_pub)) {
        if ((rc = lh_zmq_pub_new(zctx, c->zmq_pub, &ops, &ctx)) < 0 ||
            (rc = lh_hub_add_adapter(hub, ops, ctx, LH_SINK_PUB)) < 0)
            return rc;
    }
    if (!lh_conf_off(c->http)) {
        char *token = NULL;
        if (c->http_token_file && (rc = lh_http_read_token_file(c->http_token_file, &token)) < 0) {
            lh_cli_error("run", "cannot read the HTTP token from %s", c->http_token_file);
            return rc;
        }
        rc = lh_http_new(c->http, token, &ops, &ctx);
        free(token);
        if (rc < 0 || (rc = lh_hub_add_adapter(hub, ops, ctx, -1)) < 0)
            return rc;
    }
    if (!lh_conf_off(c->kafka_brokers)) {
        lh_kafka_conf_t k;
        char why[600];
        if ((rc = lh_run_conf_kafka(c, &k, why, sizeof(why))) < 0) {
            lh_cli_error("run", "%s", why);
            return rc;
        }
        if ((rc = lh_kafka_in_new(&k, &ops, &ctx)) == 0)
            rc = lh_hub_add_adapter(hub, ops, ctx, -1);
        if (rc == 0 && (rc = lh_kafka_out_new(&k, &ops, &ctx)) == 0)
            rc = lh_hub_add_adapter(hub, ops, ctx, LH_SINK_KAFKA);
        lh_kafka_conf_free(&k);
    }
    return rc;
}

int
lh_cli_run(int argc, char **argv)
{
    lh_run_conf_t c;
    char err[512] = "";
    install_signals();
    if (lh_run_conf_init(&c) < 0) {
        lh_cli_error("run", "out of memory");
        return LH_EXIT_ERROR;
    }
    int rc = lh_run_conf_parse(&c, argc, argv, err, sizeof(err));
    if (rc == 1) {
        lh_run_conf_free(&c);
        return LH_EXIT_OK;
    }
    if (rc == LH_EINVAL) {
        lh_run_conf_free(&c);
        return lh_cli_usage_error("run", "%s", err);
    }
    if (rc < 0) {
        lh_cli_error("run", "%s", err);
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    lh_log_set_level((lh_log_level_t)c.log_level);

    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = c.db;
    o.synchronous_full = strcmp(c.synchronous, "full") == 0;
    o.page_size = (int)c.page_size;
    o.window_ns = c.window_ns;
    o.alert_min_severity = (lh_severity_t)c.alert_min_severity;
    o.alerts_format = (lh_alerts_format_t)c.alerts_format;
    o.batch_max = (int)c.batch_max;
    o.batch_ms = (int)c.batch_ms;
    o.limits.max_payload = (size_t)c.max_payload;
    o.limits.max_field = (size_t)c.max_field;
    o.limits.max_future_ns = c.max_future_ns;
    o.codec.am_service_label = c.am_service_label;
    if (c.am_env_label) {
        o.codec.am_env_labels[0] = c.am_env_label;
        o.codec.am_env_labels[1] = NULL;
    }
    o.codec.am_severity_label = c.am_severity_label;

    lh_hub_t *hub = NULL;
    rc = lh_hub_new(&o, &hub);
    if (rc < 0) {
        lh_cli_error("run", "cannot open the store %s: %s", c.db, lh_strerror(rc));
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    void *zctx = zmq_ctx_new();
    rc = build_adapters(hub, zctx, &c);
    if (rc == 0)
        rc = lh_hub_start_adapters(hub);
    if (rc < 0) {
        lh_cli_error("run", "cannot start: %s (see the log line above)", lh_strerror(rc));
        lh_hub_destroy(&hub);
        zmq_ctx_term(zctx);
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    g_hub = hub;
    if (g_stop)
        lh_hub_request_stop(hub);

    rc = lh_hub_run(hub);
    g_hub = NULL;
    lh_hub_destroy(&hub);
    zmq_ctx_term(zctx);
    lh_run_conf_free(&c);
    lh_log(LH_LOG_INFO, "hub", "stopped");
    return rc < 0 ? LH_EXIT_ERROR : LH_EXIT_OK;
}
