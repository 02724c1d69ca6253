/*
 * sha256.h -- SHA-256 (FIPS 180-4) for static-file ETags. The plugin may
 * not link host code, and one small function is not worth a libcrypto
 * dependency in a hot-reloaded object.
 */
#ifndef MQ_QUIZ_SHA256_H
#define MQ_QUIZ_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* digest of data[0..len) as 64 lowercase hex digits and a NUL. */
void mq_quiz_sha256_hex(const void *data, size_t len, char out[65]);
/* The raw 32-byte digest. */
void mq_quiz_sha256(const void *data, size_t len, uint8_t out[32]);

#endif /* MQ_QUIZ_SHA256_H */
