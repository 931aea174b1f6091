/*
 * zmq_curve.c - CURVE key files, server and client socket settings, the ZAP handler and key
 * generation (see zmq_curve.h).
 */
#include "zmq_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"

#define KEY_BIN 32          /* bytes of a decoded key */
#define ALLOW_MAX (1 << 20) /* an allow-list file larger than this is a mistake */
#define ZAP_FRAMES 8

int
lh_zmq_curve_available(void)
{
    return zmq_has("curve") ? 1 : 0;
}

/* 1 when s (NUL-terminated) is a 40-character Z85 key. */
static int
key_ok(const char *s)
{
    uint8_t bin[KEY_BIN];
    return strlen(s) == LH_ZMQ_KEY_LEN && zmq_z85_decode(bin, s) != NULL;
}

int
lh_zmq_curve_key_read(const char *path, const char *what, char key[LH_ZMQ_KEY_LEN + 1], char *err,
                      size_t errlen)
{
    key[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the %s file %s: %s", what, path, strerror(errno));
        return LH_ECONFIG;
    }
    /* one byte more than a key with "\r\n" tells an oversized file without reading it all */
    char buf[LH_ZMQ_KEY_LEN + 3];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read the %s file %s: %s", what, path, strerror(errno));
            close(fd);
            return LH_ECONFIG;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n == 0) {
        snprintf(err, errlen, "the %s file %s is empty (expected a %d-character Z85 key)", what,
                 path, LH_ZMQ_KEY_LEN);
        return LH_ECONFIG;
    }
    if (n == sizeof(buf)) {
        snprintf(err, errlen,
                 "the %s file %s is larger than one key: expected %d Z85 characters and a "
                 "newline",
                 what, path, LH_ZMQ_KEY_LEN);
        return LH_ECONFIG;
    }
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = 0;
    if (strlen(buf) != n || !key_ok(buf)) {
        snprintf(err, errlen,
                 "the %s file %s holds no CURVE key: expected %d Z85 characters, "
                 "got %zu bytes that are not one",
                 what, path, LH_ZMQ_KEY_LEN, n);
        return LH_ECONFIG;
    }
    memcpy(key, buf, LH_ZMQ_KEY_LEN + 1);
    return 0;
}

void
lh_zmq_curve_keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

int
lh_zmq_curve_allow_read(const char *path, char ***keys, size_t *n, char *err, size_t errlen)
{
    *keys = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read the allow list %s: %s", path, strerror(errno));
        return LH_ECONFIG;
    }
    char line[256];
    int lineno = 0, rc = 0;
    long total = 0;
    char **v = NULL;
    size_t cnt = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        total += (long)len;
        if (total > ALLOW_MAX || (len == sizeof(line) - 1 && line[len - 1] != '\n')) {
            snprintf(err, errlen, "%s:%d: line too long (one Z85 key a line)", path, lineno);
            rc = LH_ECONFIG;
            break;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        /* the key ends at the first blank; after it only a comment may follow ("KEY  # ci") */
        char *end = s + strcspn(s, " \t");
        char *rest = end + strspn(end, " \t");
        *end = 0;
        /* '#' is a Z85 digit but never a key's first (its value would overflow): a line
         * starting with it is a comment, a key commented out ("#KEY") too */
        if (!*s || *s == '#')
            continue;
        if (!key_ok(s) || (*rest && *rest != '#')) {
            snprintf(err, errlen, "%s:%d: not a CURVE public key (expected %d Z85 characters)",
                     path, lineno, LH_ZMQ_KEY_LEN);
            rc = LH_ECONFIG;
            break;
        }
        char **nv = realloc(v, (cnt + 1) * sizeof(*nv));
        if (!nv || !(nv[cnt] = strdup(s))) {
            if (nv)
                v = nv;
            rc = LH_ENOMEM;
            break;
        }
        v = nv;
        cnt++;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read the allow list %s: %s", path, strerror(errno));
        rc = LH_ECONFIG;
    }
    fclose(f);
    if (rc == 0 && cnt == 0) {
        /* an empty list would lock every client out: surely not what was meant */
        snprintf(err, errlen, "the allow list %s lists no client key", path);
        rc = LH_ECONFIG;
    }
    if (rc < 0) {
        lh_zmq_curve_keys_free(v, cnt);
        return rc;
    }
    *keys = v;
    *n = cnt;
    return 0;
}

int
lh_zmq_curve_server(void *sock, const char *secret, char *err, size_t errlen)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, LH_ZMQ_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, LH_ZMQ_ZAP_DOMAIN, strlen(LH_ZMQ_ZAP_DOMAIN)) != 0) {
        snprintf(err, errlen, "cannot make a CURVE server socket: %s", zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    return 0;
}

int
lh_zmq_curve_client(void *sock, const char *server_key, const char *secret, char *err,
                    size_t errlen)
{
    char pub[LH_ZMQ_KEY_LEN + 1];
    if (zmq_curve_public(pub, secret) != 0) {
        snprintf(err, errlen, "cannot derive the public key from the secret key: %s",
                 zmq_strerror(zmq_errno()));
        return LH_EINVAL;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, LH_ZMQ_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, LH_ZMQ_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, LH_ZMQ_KEY_LEN) != 0) {
        snprintf(err, errlen, "cannot make a CURVE client socket: %s", zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    return 0;
}

/* --- the ZAP handler ------------------------------------------------------------------------ */

typedef struct {
    void *sock;
    uint8_t (*keys)[KEY_BIN];
    size_t n;
    lh_hub_t *hub;
} zap_t;

static int
zap_start(void *vctx, lh_hub_t *hub)
{
    zap_t *z = vctx;
    z->hub = hub;
    return 0;
}

static int
zap_pollitems(void *vctx, lh_pollitem_t *items, int max)
{
    zap_t *z = vctx;
    if (max < 1)
        return 0;
    items[0].socket = z->sock;
    items[0].fd = 0;
    items[0].events = LH_POLLIN;
    items[0].revents = 0;
    return 1;
}

static int
allowed(const zap_t *z, const zmq_msg_t *key)
{
    if (zmq_msg_size((zmq_msg_t *)key) != KEY_BIN)
        return 0;
    for (size_t i = 0; i < z->n; i++)
        if (memcmp(z->keys[i], zmq_msg_data((zmq_msg_t *)key), KEY_BIN) == 0)
            return 1;
    return 0;
}

/* Answers one request (RFC 27): [version][request id][domain][address][routing id][mechanism]
 * [credentials...] -> [version][request id][status code][status text][user id][metadata]. */
static void
zap_answer(zap_t *z, zmq_msg_t *f, int n)
{
    int ok = 0;
    char who[64] = "?", key[LH_ZMQ_KEY_LEN + 1] = "";
    if (n >= 4)
        snprintf(who, sizeof(who), "%.*s", (int)zmq_msg_size(&f[3]), (char *)zmq_msg_data(&f[3]));
    int curve = n >= 7 && zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0;
    if (curve && zmq_msg_size(&f[6]) == KEY_BIN) {
        zmq_z85_encode(key, zmq_msg_data(&f[6]), KEY_BIN);
        ok = allowed(z, &f[6]);
    }
    if (!ok) {
        lh_hub_count(z->hub, LH_COUNT_ZMQ_CURVE_REFUSED, 1);
        lh_log_ratelimited("zap-refused", LH_LOG_WARN, "zmq-zap", "refused a client from %s: %s",
                           who,
                           curve ? key[0] ? "its key is not in the allow list" : "no key"
                                 : "not a CURVE handshake");
        if (key[0])
            lh_log(LH_LOG_DEBUG, "zmq-zap", "refused key %s", key);
    }
    const char *code = ok ? "200" : "400";
    const char *text = ok ? "OK" : "client key not allowed";
    /* a malformed request (fewer frames) still gets an answer, so libzmq does not wait on it */
    const void *rid = n >= 2 ? zmq_msg_data(&f[1]) : "";
    size_t rid_len = n >= 2 ? zmq_msg_size(&f[1]) : 0;
    int rc =
        zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, code, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, ok ? key : "", ok ? LH_ZMQ_KEY_LEN : 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(z->sock, "", 0, ZMQ_DONTWAIT) < 0;
    if (rc)
        lh_log_ratelimited("zap-send", LH_LOG_ERROR, "zmq-zap", "cannot answer libzmq: %s",
                           zmq_strerror(zmq_errno()));
}

static int
zap_read(void *vctx, int budget)
{
    zap_t *z = vctx;
    int got = 0;
    while (got < budget) {
        zmq_msg_t f[ZAP_FRAMES];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, z->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < ZAP_FRAMES)
                f[n++] = m;
            else
                zmq_msg_close(&m);
        }
        if (n == 0)
            break;
        zap_answer(z, f, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        got++;
    }
    return 0; /* handshakes are not messages */
}

static void
zap_destroy(void *vctx)
{
    zap_t *z = vctx;
    if (z->sock)
        zmq_close(z->sock);
    free(z->keys);
    free(z);
}

static const lh_adapter_ops_t zap_ops = {
    .name = "zmq-zap",
    .start = zap_start,
    .pollitems = zap_pollitems,
    .read = zap_read,
    .destroy = zap_destroy,
};

int
lh_zmq_zap_new(void *zctx, char *const *keys, size_t n, const lh_adapter_ops_t **ops, void **ctx)
{
    zap_t *z = calloc(1, sizeof(*z));
    if (!z || !(z->keys = calloc(n ? n : 1, KEY_BIN))) {
        free(z);
        return LH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (zmq_z85_decode(z->keys[i], keys[i]))
            z->n++;
    int linger = 0;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0) {
        lh_log(LH_LOG_ERROR, "zmq-zap", "cannot set up the ZAP handler: %s",
               zmq_strerror(zmq_errno()));
        zap_destroy(z);
        return LH_ETRANSPORT;
    }
    *ops = &zap_ops;
    *ctx = z;
    return 0;
}

/* --- socket events: failed handshakes the ZAP handler never sees, and what else is asked -- */

int
lh_zmq_watch(void *zctx, void *sock, int events, void **watch)
{
    *watch = NULL;
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://loophub-watch-%p", sock);
    void *pair = zmq_socket(zctx, ZMQ_PAIR);
    int zero = 0;
    if (!pair || zmq_socket_monitor(sock, ep, events) != 0 ||
        zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof(zero)) != 0 || zmq_connect(pair, ep) != 0) {
        lh_log(LH_LOG_ERROR, "zmq", "cannot watch a socket's events: %s",
               zmq_strerror(zmq_errno()));
        if (pair)
            zmq_close(pair);
        return LH_ETRANSPORT;
    }
    *watch = pair;
    return 0;
}

static void
refused(lh_hub_t *hub, const char *origin, int id, uint32_t value, const char *ep)
{
    lh_hub_count(hub, LH_COUNT_ZMQ_CURVE_REFUSED, 1);
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        lh_log_ratelimited("zap-refused-plain", LH_LOG_WARN, origin,
                           "refused a client on %s: it does not speak CURVE", ep);
    else /* often the client saw the mismatch first and hung up: no detail then */
        lh_log_ratelimited("zap-refused-proto", LH_LOG_WARN, origin,
                           "refused a client on %s: the CURVE handshake failed (a plaintext "
                           "client, or one using another hub public key; %s %u)",
                           ep,
                           id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "errno",
                           (unsigned)value);
}

void
lh_zmq_watch_read(void *watch, lh_hub_t *hub, const char *origin, lh_zmq_event_cb cb, void *arg)
{
    for (int i = 0; watch && i < 1000; i++) {
        /* [event id (2 bytes), value (4 bytes)][endpoint] */
        uint8_t ev[6];
        char ep[128];
        int n = zmq_recv(watch, ev, sizeof(ev), ZMQ_DONTWAIT);
        if (n < 0)
            return;
        int more;
        size_t ml = sizeof(more);
        int el = 0;
        if (zmq_getsockopt(watch, ZMQ_RCVMORE, &more, &ml) == 0 && more)
            el = zmq_recv(watch, ep, sizeof(ep) - 1, 0);
        ep[el > 0 ? (el < (int)sizeof(ep) - 1 ? el : (int)sizeof(ep) - 1) : 0] = 0;
        if (n != (int)sizeof(ev))
            continue;
        uint16_t id;
        uint32_t value;
        memcpy(&id, ev, sizeof(id));
        memcpy(&value, ev + 2, sizeof(value));
        if (id & LH_ZMQ_WATCH_REFUSALS)
            refused(hub, origin, id, value, ep);
        else if (cb)
            cb(arg, id, value);
    }
}

void
lh_zmq_watch_close(void *sock, void *watch)
{
    if (!watch)
        return;
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(watch);
}

/* --- keygen --------------------------------------------------------------------------------- */

static int
write_key(const char *path, const char *key, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path,
                 errno == EEXIST ? "it exists (keygen never overwrites a key)" : strerror(errno));
        return LH_EIO;
    }
    char line[LH_ZMQ_KEY_LEN + 1];
    memcpy(line, key, LH_ZMQ_KEY_LEN);
    line[LH_ZMQ_KEY_LEN] = '\n';
    /* fchmod: the umask must not make the secret wider or the public key narrower */
    int ok = fchmod(fd, mode) == 0 && write(fd, line, sizeof(line)) == (ssize_t)sizeof(line) &&
             fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        unlink(path);
        return LH_EIO;
    }
    return 0;
}

int
lh_zmq_keygen(const char *prefix, char *err, size_t errlen)
{
    char pub[LH_ZMQ_KEY_LEN + 1], sec[LH_ZMQ_KEY_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s (this libzmq has no CURVE?)",
                 zmq_strerror(zmq_errno()));
        return LH_ETRANSPORT;
    }
    size_t len = strlen(prefix) + 5;
    char *kpath = malloc(len), *ppath = malloc(len);
    int rc = 0;
    if (!kpath || !ppath) {
        snprintf(err, errlen, "out of memory");
        rc = LH_ENOMEM;
    } else {
        snprintf(kpath, len, "%s.key", prefix);
        snprintf(ppath, len, "%s.pub", prefix);
        struct stat st;
        /* neither may exist: never half a new pair beside half an old one */
        if (lstat(ppath, &st) == 0) {
            snprintf(err, errlen, "cannot create %s: it exists (keygen never overwrites a key)",
                     ppath);
            rc = LH_EIO;
        } else if ((rc = write_key(kpath, sec, 0600, err, errlen)) == 0 &&
                   (rc = write_key(ppath, pub, 0644, err, errlen)) != 0) {
            unlink(kpath);
        }
    }
    memset(sec, 0, sizeof(sec));
    free(kpath);
    free(ppath);
    return rc;
}
