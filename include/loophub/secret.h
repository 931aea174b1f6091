/*
 * secret.h - tokens and shared secrets kept in files (a file a service manager or a secret store
 * provides, never a command-line argument that `ps` shows).
 */
#ifndef LOOPHUB_SECRET_H
#define LOOPHUB_SECRET_H

#include <stddef.h>

/* Bytes a token or secret may have at most. */
#define LH_SECRET_MAX 4096

/* Reads the secret in path: one line of visible ASCII (a final "\n" or "\r\n" dropped; a
 * "token" has no blank, any other may have blanks inside it). what names it in the errors
 * ("token", "secret"). Returns 0 and *out (malloc'd), or LH_EIO (cannot
 * read), LH_EINVAL (empty, too long, blanks or control bytes) or LH_ENOMEM, with why saying which
 * file and what is wrong. */
int lh_secret_file_read(const char *path, const char *what, char **out, char *why, size_t whylen);

#endif
