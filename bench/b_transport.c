/*
 * b_transport.c - measurement 1, the transport limit: raw libzmq PUSH -> PULL over tcp loopback,
 * carrying the very payloads the hub gets, with the hub's receive settings (RCVHWM 100,000). The
 * receiver is a second thread that only counts frames: no decoding, no storage. It is the
 * ceiling no ZMQ ingest path can pass on this machine.
 */
#include <pthread.h>
#include <stdio.h>
#include <zmq.h>

#include "bench.h"

typedef struct {
    void *sock;
    size_t expect;
    size_t got;
    int64_t last_ns;
} rx_t;

static void *
rx_main(void *arg)
{
    rx_t *rx = arg;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (rx->got < rx->expect) {
        if (zmq_msg_recv(&m, rx->sock, 0) < 0)
            break;
        rx->got++;
    }
    zmq_msg_close(&m);
    rx->last_ns = bench_mono_ns();
    return NULL;
}

int
bench_transport(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    (void)cfg;
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int hwm = 100000, linger = 0;
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof(linger));
    char ep[64];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", bench_free_port());
    if (zmq_bind(pull, ep) != 0) {
        bench_note("transport: cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
        zmq_close(pull);
        zmq_ctx_term(ctx);
        return -1;
    }
    rx_t rx = {pull, s->n, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, rx_main, &rx);
    int64_t start = bench_mono_ns();
    int rc = bench_push_all(ep, s, 0, s->n, 0);
    pthread_join(t, NULL);
    double secs = (double)(rx.last_ns - start) / 1e9;
    zmq_close(pull);
    zmq_ctx_term(ctx);
    if (rc != 0 || rx.got != s->n) {
        bench_note("transport: received %zu of %zu", rx.got, s->n);
        return -1;
    }
    bench_set("transport_limit_msgs_per_s", (double)s->n / secs);
    bench_set("transport_limit_mb_per_s", (double)s->bytes / secs / 1048576.0);
    printf("  transport: %zu msgs in %.2f s\n", s->n, secs);
    return 0;
}
