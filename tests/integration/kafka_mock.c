/*
 * kafka_mock.c - a standalone Kafka cluster for the integration tests: librdkafka's mock cluster
 * (real Kafka protocol on loopback TCP) in its own process, so the loophub binary and kcat can
 * both talk to it.
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints the bootstrap address on one stdout line, then serves until stdin reaches EOF or
 * SIGTERM/SIGINT arrives. Control lines on stdin, each answered with one line "ok" or
 * "error <reason>":
 *   down <broker_id>                  disconnect a broker, refuse connections (-1: all)
 *   up <broker_id>                    accept connections again (-1: all)
 *   errors <apikey> <count> <errcode> the next count requests of that API (to any broker) fail
 *                                     with errcode
 *   broker_errors <broker_id> <apikey> <count> <errcode>
 *                                     the same, on one broker only (so a test can aim at one
 *                                     client: the leader of the alerts topic sees only the
 *                                     hub's producer)
 *   pending <broker_id> <apikey>      answers "ok N": broker errors not yet consumed
 *   leader <topic> <partition> <broker_id>   move a partition's leadership
 *   coordinator <group> <broker_id>   make a broker the coordinator of a consumer group
 *   rtt <broker_id> <ms>              delay the broker's responses
 *   topic <name> <partitions>         create a topic
 * Broker ids are 1..N.
 * Exit status: 0 after a clean shutdown, 1 when the cluster cannot be created, 2 on bad usage.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int
usage(void)
{
    fprintf(stderr, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...\n");
    return 2;
}

/* Parses a whole decimal int. Returns 0 or -1. */
static int
parse_int(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int
create_topic(rd_kafka_mock_cluster_t *mc, const char *name, long parts, int replicas, char *why,
             size_t whylen)
{
    if (!*name || parts < 1 || parts > 10000) {
        snprintf(why, whylen, "bad topic %s:%ld", name, parts);
        return -1;
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)parts, replicas);
    if (err) {
        snprintf(why, whylen, "%s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Executes one control line. Returns 0 with answer set to what follows "ok" (often nothing),
 * or -1 with why. */
static int
command(rd_kafka_mock_cluster_t *mc, int replicas, char *line, char *answer, size_t anslen,
        char *why, size_t whylen)
{
    char *argv[6];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && argc < 6; tok = strtok(NULL, " \t\r\n"))
        argv[argc++] = tok;
    long a = 0, b = 0, c = 0, d = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    answer[0] = '\0';
    if (argc == 2 && strcmp(argv[0], "down") == 0 && parse_int(argv[1], &a) == 0) {
        err = rd_kafka_mock_broker_set_down(mc, (int32_t)a);
    } else if (argc == 2 && strcmp(argv[0], "up") == 0 && parse_int(argv[1], &a) == 0) {
        err = rd_kafka_mock_broker_set_up(mc, (int32_t)a);
    } else if (argc == 4 && strcmp(argv[0], "errors") == 0 && parse_int(argv[1], &a) == 0 &&
               parse_int(argv[2], &b) == 0 && parse_int(argv[3], &c) == 0 && b >= 0 &&
               b <= 100000) {
        rd_kafka_resp_err_t *errs = malloc(sizeof(*errs) * (size_t)(b ? b : 1));
        if (!errs) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        for (long i = 0; i < b; i++)
            errs[i] = (rd_kafka_resp_err_t)c;
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)b, errs);
        free(errs);
    } else if (argc == 5 && strcmp(argv[0], "broker_errors") == 0 && parse_int(argv[1], &a) == 0 &&
               parse_int(argv[2], &b) == 0 && parse_int(argv[3], &c) == 0 &&
               parse_int(argv[4], &d) == 0 && c >= 0 && c <= 10000) {
        /* the call is variadic: push the (error, rtt) tuples one at a time */
        for (long i = 0; i < c && !err; i++)
            err = rd_kafka_mock_broker_push_request_error_rtts(mc, (int32_t)a, (int16_t)b, 1,
                                                               (rd_kafka_resp_err_t)d, 0);
    } else if (argc == 3 && strcmp(argv[0], "pending") == 0 && parse_int(argv[1], &a) == 0 &&
               parse_int(argv[2], &b) == 0) {
        size_t cnt = 0;
        err = rd_kafka_mock_broker_error_stack_cnt(mc, (int32_t)a, (int16_t)b, &cnt);
        if (!err)
            snprintf(answer, anslen, " %zu", cnt);
    } else if (argc == 4 && strcmp(argv[0], "leader") == 0 && parse_int(argv[2], &a) == 0 &&
               parse_int(argv[3], &b) == 0) {
        err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a, (int32_t)b);
    } else if (argc == 3 && strcmp(argv[0], "coordinator") == 0 && parse_int(argv[2], &a) == 0) {
        err = rd_kafka_mock_coordinator_set(mc, "group", argv[1], (int32_t)a);
    } else if (argc == 3 && strcmp(argv[0], "rtt") == 0 && parse_int(argv[1], &a) == 0 &&
               parse_int(argv[2], &b) == 0 && b >= 0) {
        err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
    } else if (argc == 3 && strcmp(argv[0], "topic") == 0 && parse_int(argv[2], &b) == 0) {
        return create_topic(mc, argv[1], b, replicas, why, whylen);
    } else {
        snprintf(why, whylen,
                 "unknown command (down ID | up ID | errors APIKEY COUNT ERRCODE | "
                 "broker_errors ID APIKEY COUNT ERRCODE | pending ID APIKEY | "
                 "leader TOPIC PARTITION ID | coordinator GROUP ID | rtt ID MS | "
                 "topic NAME PARTITIONS)");
        return -1;
    }
    if (err) {
        snprintf(why, whylen, "%s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    long brokers = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            if (parse_int(argv[++i], &brokers) != 0 || brokers < 1 || brokers > 64)
                return usage();
        } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            i++; /* checked below, once the cluster exists */
            if (!strchr(argv[i], ':'))
                return usage();
        } else {
            return usage();
        }
    }

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the handle only anchors the cluster; keep it quiet */
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int replicas = brokers < 3 ? (int)brokers : 3;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--topic") != 0)
            continue;
        char *spec = argv[++i];
        char *colon = strrchr(spec, ':');
        long parts;
        *colon = '\0';
        char why[256];
        if (parse_int(colon + 1, &parts) != 0 ||
            create_topic(mc, spec, parts, replicas, why, sizeof(why)) != 0) {
            fprintf(stderr, "kafka_mock: --topic %s: bad topic\n", spec);
            rc = 2;
        }
    }
    if (rc) {
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return rc;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[1024];
    size_t used = 0;
    while (!stop_requested) {
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int n = poll(&pfd, 1, 200);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        ssize_t got = read(STDIN_FILENO, line + used, sizeof(line) - 1 - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* EOF: the test is gone */
        used += (size_t)got;
        line[used] = '\0';
        char *nl;
        while ((nl = memchr(line, '\n', used)) != NULL) {
            *nl = '\0';
            size_t consumed = (size_t)(nl - line) + 1;
            char why[300], answer[64];
            if (command(mc, replicas, line, answer, sizeof(answer), why, sizeof(why)) == 0)
                printf("ok%s\n", answer);
            else
                printf("error %s\n", why);
            fflush(stdout);
            memmove(line, line + consumed, used - consumed);
            used -= consumed;
            line[used] = '\0';
        }
        if (used == sizeof(line) - 1) {
            printf("error line too long\n");
            fflush(stdout);
            used = 0;
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
