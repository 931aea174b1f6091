/*
 * cli_keygen.c - `loophub keygen`: a new CURVE key pair for the hub or a client, and the CURVE
 * options `send` and `tail` share (see cli.h).
 */
#include <getopt.h>
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
