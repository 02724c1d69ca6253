/*
 * sha256.h -- SHA-256 over files and byte streams, as lowercase hex.
 *
 * A thin wrapper over OpenSSL's EVP interface so the rest of the host never
 * includes OpenSSL headers. The streaming context exists for the loader: it
 * copies a plugin into a private file while hashing the very bytes it writes,
 * so what it verifies is exactly what it dlopen()s.
 */
#ifndef MQ_SHA256_H
#define MQ_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MQ_SHA256_HEX_LEN 64 /* hex digits; buffers are MQ_SHA256_HEX_LEN + 1 */

/* A streaming digest on caller storage. Fields are private. */
typedef struct mq_sha256 {
    struct evp_md_ctx_st *ctx; /* private: OpenSSL's EVP_MD_CTX */
} mq_sha256;

/* Start a digest in *s. Returns 0, or -1 (out of memory / OpenSSL failure).
 * After a failed init, *s needs no cleanup. */
int mq_sha256_init(mq_sha256 *s);

/* Feed n bytes. Returns 0 or -1. */
int mq_sha256_update(mq_sha256 *s, const void *data, size_t n);

/* Finish: write 64 lowercase hex digits and a NUL into hex, and release the
 * context (no cleanup needed afterwards). Returns 0 or -1; the context is
 * released either way. */
int mq_sha256_final(mq_sha256 *s, char hex[MQ_SHA256_HEX_LEN + 1]);

/* Release a context that will not be finished (an error path). Safe on a
 * finished, failed or zeroed context, and twice. */
void mq_sha256_cleanup(mq_sha256 *s);

/* Digest of a buffer. Returns 0 or -1. */
int mq_sha256_buf(const void *data, size_t n, char hex[MQ_SHA256_HEX_LEN + 1]);

/* Digest of everything readable from fd, from its current offset to EOF;
 * the byte count goes to *size when size is not NULL. Returns 0, or -1 with
 * errno set (EIO when OpenSSL itself failed). Does not close fd. */
int mq_sha256_fd(int fd, char hex[MQ_SHA256_HEX_LEN + 1], uint64_t *size);

/* Digest of the regular file at path (symlinks are followed). Returns 0, or
 * -1 with errno set (EINVAL when path is not a regular file). */
int mq_sha256_file(const char *path, char hex[MQ_SHA256_HEX_LEN + 1], uint64_t *size);

#endif
