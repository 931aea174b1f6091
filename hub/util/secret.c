/*
 * secret.c - reading a token or a shared secret from a file (the HTTP bearer tokens, the webhook
 * sources' secrets): one line of visible ASCII, a final newline dropped, with an error that
 * names the file and what is wrong with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loophub/error.h"
#include "loophub/secret.h"

int
lh_secret_file_read(const char *path, const char *what, char **out, char *why, size_t whylen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot read the %s file %s: %s", what, path, strerror(errno));
        return LH_EIO;
    }
    char buf[LH_SECRET_MAX + 1];
    size_t n = 0;
    while (n < sizeof(buf)) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(why, whylen, "cannot read the %s file %s: %s", what, path, strerror(errno));
            close(fd);
            return LH_EIO;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (n > LH_SECRET_MAX) {
        snprintf(why, whylen, "the %s file %s is over %d bytes: is it the right file?", what, path,
                 LH_SECRET_MAX);
        return LH_EINVAL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0) {
        snprintf(why, whylen, "the %s file %s is empty: put the %s in it", what, path, what);
        return LH_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        /* a bearer token has no blank; a shared secret may (GitHub's own example has) */
        int blank_ok = strcmp(what, "token") != 0 && ch == ' ' && i > 0 && i + 1 < n;
        if ((ch <= ' ' && !blank_ok) || ch >= 0x7f) {
            snprintf(why, whylen,
                     "the %s file %s holds a %s at byte %zu: a %s is one line of visible ASCII "
                     "characters%s",
                     what, path,
                     ch == '\n' ? "second line"
                                : (ch == ' ' ? "blank"
                                             : "control or "
                                               "non-ASCII byte"),
                     i + 1, what, strcmp(what, "token") ? " (blanks inside it allowed)" : "");
            return LH_EINVAL;
        }
    }
    *out = strndup(buf, n);
    if (!*out) {
        snprintf(why, whylen, "out of memory reading the %s file %s", what, path);
        return LH_ENOMEM;
    }
    return 0;
}
