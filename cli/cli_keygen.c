/*
 * cli_keygen.c - `loophub keygen`: a new CURVE key pair for the hub or a client, and the CURVE
 * options `send` and `tail` share (see cli.h).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "loophub/error.h"
#include "zmq/zmq_curve.h"

static void
usage(FILE *out)
{
    fprintf(out, "Usage: loophub keygen [--out PREFIX]\n\n"
                 "Write a new ZeroMQ CURVE key pair: PREFIX.key, the secret key (mode 0600), and\n"
                 "PREFIX.pub, the public key (mode 0644), each 40 Z85 characters and a newline.\n"
                 "Existing files are never overwritten.\n\n"
                 "For the hub: `loophub run --curve-secret-key PREFIX.key --curve-allow FILE`,\n"
                 "and give PREFIX.pub to its clients (--curve-server-key). For a client: list\n"
                 "PREFIX.pub in the hub's --curve-allow file and pass --curve-key PREFIX.key to\n"
                 "`loophub send` or `loophub tail`.\n\n"
                 "Options:\n"
                 "  --out PREFIX   where to write the pair (default: loophub)\n"
                 "  -h, --help     show this help\n");
}

int
lh_cli_keygen(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *prefix = "loophub";
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (!*optarg)
                return lh_cli_usage_error("keygen", "--out: an empty prefix");
            prefix = optarg;
            break;
        case 'h':
            usage(stdout);
            return LH_EXIT_OK;
        default:
            return lh_cli_usage_error("keygen", "unknown option or missing value: '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lh_cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    if (!lh_zmq_curve_available()) {
        lh_cli_error("keygen", "this libzmq was built without CURVE (zmq_has(\"curve\") is false)");
        return LH_EXIT_ERROR;
    }
    char err[700];
    if (lh_zmq_keygen(prefix, err, sizeof(err)) < 0) {
        lh_cli_error("keygen", "%s", err);
        return LH_EXIT_ERROR;
    }
    printf("wrote %s.key (secret, keep it) and %s.pub (public)\n", prefix, prefix);
    return LH_EXIT_OK;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int
lh_cli_curve_client(const char *cmd, void *sock, const char *server_key_path, const char *key_path)
{
    if (!server_key_path && !key_path)
        return 0;
    if (!server_key_path || !key_path)
        return lh_cli_usage_error(cmd, "CURVE needs both --curve-server-key FILE (the hub's "
                                       "public key) and --curve-key FILE (your secret key)");
    if (!lh_zmq_curve_available()) {
        lh_cli_error(cmd, "this libzmq was built without CURVE (zmq_has(\"curve\") is false)");
        return LH_EXIT_ERROR;
    }
    /* both files are 40 Z85 characters: only keygen's names tell a mix-up */
    if (ends_with(key_path, ".pub"))
        lh_cli_error(cmd,
                     "warning: --curve-key %s looks like a public key; it takes your "
                     "secret key (the .key file)",
                     key_path);
    if (ends_with(server_key_path, ".key"))
        lh_cli_error(cmd,
                     "warning: --curve-server-key %s looks like a secret key; it takes the "
                     "hub's public key (the .pub file), and the hub's secret key belongs on "
                     "the hub alone",
                     server_key_path);
    char server[LH_ZMQ_KEY_LEN + 1], secret[LH_ZMQ_KEY_LEN + 1], err[700];
    int rc = lh_zmq_curve_key_read(server_key_path, "server public key", server, err, sizeof(err));
    if (rc == 0)
        rc = lh_zmq_curve_key_read(key_path, "secret key", secret, err, sizeof(err));
    if (rc == 0)
        rc = lh_zmq_curve_client(sock, server, secret, err, sizeof(err));
    memset(secret, 0, sizeof(secret));
    if (rc < 0) {
        lh_cli_error(cmd, "%s", err);
        return LH_EXIT_ERROR;
    }
    return 0;
}

void *
lh_cli_handshake_watch(void *zctx, void *sock)
{
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://loophub-cli-watch-%p", sock);
    void *pair = zmq_socket(zctx, ZMQ_PAIR);
    int zero = 0;
    if (!pair ||
        zmq_socket_monitor(sock, ep,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof(zero)) != 0 || zmq_connect(pair, ep) != 0) {
        if (pair)
            zmq_close(pair);
        return NULL; /* no watch: the caller's own timeouts still report a failure */
    }
    return pair;
}

/* The next handshake event on watch within timeout_ms: its id (0 on timeout), *value its value. */
static int
next_event(void *watch, int timeout_ms, uint32_t *value)
{
    zmq_pollitem_t it = {watch, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return 0;
    uint8_t ev[6];
    char ep[256];
    int n = zmq_recv(watch, ev, sizeof(ev), 0);
    int more = 0;
    size_t ml = sizeof(more);
    if (zmq_getsockopt(watch, ZMQ_RCVMORE, &more, &ml) == 0 && more)
        zmq_recv(watch, ep, sizeof(ep), 0);
    if (n != (int)sizeof(ev))
        return 0;
    uint16_t id;
    memcpy(&id, ev, sizeof(id));
    memcpy(value, ev + 2, sizeof(*value));
    return id;
}

int
lh_cli_handshake_check(const char *cmd, void *watch, void *sock, const char *ep, int timeout_ms,
                       int curve)
{
    if (!watch)
        return 0;
    uint32_t value = 0;
    int id = next_event(watch, timeout_ms, &value);
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(watch);
    switch (id) {
    case 0:
        return -1;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        return 0;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        lh_cli_error(cmd,
                     "the hub at %s refused this client's CURVE key: list its public key in "
                     "the hub's --curve-allow file",
                     ep);
        return LH_EXIT_ERROR;
    default:
        /* which side notices a mechanism mismatch first is a race: the other sees a hang-up */
        if (curve)
            lh_cli_error(cmd,
                         "the CURVE handshake with %s failed: does the hub run with "
                         "--curve-secret-key, and is --curve-server-key its public key?",
                         ep);
        else
            lh_cli_error(cmd,
                         "the hub at %s refused a plaintext client: it wants CURVE, pass "
                         "--curve-server-key (its public key) and --curve-key (your secret key)",
                         ep);
        return LH_EXIT_ERROR;
    }
}
