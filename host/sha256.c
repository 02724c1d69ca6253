#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

int mq_sha256_init(mq_sha256 *s)
{
    s->ctx = EVP_MD_CTX_new();
    if (!s->ctx)
        return -1;
    if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        mq_sha256_cleanup(s);
        return -1;
    }
    return 0;
}

int mq_sha256_update(mq_sha256 *s, const void *data, size_t n)
{
    if (!s->ctx)
        return -1;
    if (n == 0)
        return 0;
    return EVP_DigestUpdate(s->ctx, data, n) == 1 ? 0 : -1;
}

int mq_sha256_final(mq_sha256 *s, char hex[MQ_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;
    if (s->ctx && EVP_DigestFinal_ex(s->ctx, md, &mdlen) == 1 && mdlen == 32) {
        for (unsigned int i = 0; i < mdlen; i++) {
            hex[2 * i] = digits[md[i] >> 4];
            hex[2 * i + 1] = digits[md[i] & 0x0f];
        }
        hex[MQ_SHA256_HEX_LEN] = '\0';
        rc = 0;
    }
    mq_sha256_cleanup(s);
    return rc;
}

void mq_sha256_cleanup(mq_sha256 *s)
{
    EVP_MD_CTX_free(s->ctx); /* NULL is fine */
    s->ctx = NULL;
}

int mq_sha256_buf(const void *data, size_t n, char hex[MQ_SHA256_HEX_LEN + 1])
{
    mq_sha256 s;
    if (mq_sha256_init(&s) != 0)
        return -1;
    if (mq_sha256_update(&s, data, n) != 0) {
        mq_sha256_cleanup(&s);
        return -1;
    }
    return mq_sha256_final(&s, hex);
}

int mq_sha256_fd(int fd, char hex[MQ_SHA256_HEX_LEN + 1], uint64_t *size)
{
    unsigned char buf[64 * 1024];
    uint64_t total = 0;
    mq_sha256 s;
    if (mq_sha256_init(&s) != 0) {
        errno = EIO;
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            mq_sha256_cleanup(&s);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        if (mq_sha256_update(&s, buf, (size_t)r) != 0) {
            mq_sha256_cleanup(&s);
            errno = EIO;
            return -1;
        }
        total += (uint64_t)r;
    }
    if (mq_sha256_final(&s, hex) != 0) {
        errno = EIO;
        return -1;
    }
    if (size)
        *size = total;
    return 0;
}

int mq_sha256_file(const char *path, char hex[MQ_SHA256_HEX_LEN + 1], uint64_t *size)
{
    /* O_NONBLOCK so a FIFO in the way cannot hang us before the type check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    int rc = mq_sha256_fd(fd, hex, size);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
