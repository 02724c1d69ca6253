/* Unit tests for host/sha256.c: known digests (FIPS 180-2 vectors), the
 * streaming context, and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"
#include "unit_util.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void sha256__abc__known_digest(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(mq_sha256_buf("abc", 3, hex), 0);
    assert_string_equal(hex, SHA_ABC);
}

static void sha256__empty_input__known_digest(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(mq_sha256_buf("", 0, hex), 0);
    assert_string_equal(hex, SHA_EMPTY);
}

static void sha256__streamed_in_odd_pieces__same_as_one_shot(void **state)
{
    (void)state;
    /* One million 'a', fed in uneven chunks across block boundaries. */
    static char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    mq_sha256 s;
    assert_int_equal(mq_sha256_init(&s), 0);
    size_t left = 1000000;
    while (left > 0) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        assert_int_equal(mq_sha256_update(&s, chunk, n), 0);
        left -= n;
    }
    char hex[65];
    assert_int_equal(mq_sha256_final(&s, hex), 0);
    assert_string_equal(hex, SHA_MILLION_A);
    mq_sha256_cleanup(&s); /* after final: a no-op, not a double free */
}

static void sha256__abandoned_context__cleanup_frees(void **state)
{
    (void)state;
    mq_sha256 s;
    assert_int_equal(mq_sha256_init(&s), 0);
    assert_int_equal(mq_sha256_update(&s, "ab", 2), 0);
    mq_sha256_cleanup(&s); /* ASan reports a leak if it does not */
    mq_sha256_cleanup(&s);
    mq_sha256 zero = {0};
    mq_sha256_cleanup(&zero);
    char hex[65];
    assert_int_equal(mq_sha256_update(&zero, "x", 1), -1);
    assert_int_equal(mq_sha256_final(&zero, hex), -1);
}

static void sha256__file__digest_and_size(void **state)
{
    (void)state;
    char *dir = ut_mkdtemp("sha");
    assert_non_null(dir);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/abc.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("abc", f);
    fclose(f);

    char hex[65];
    uint64_t size = 0;
    assert_int_equal(mq_sha256_file(path, hex, &size), 0);
    assert_string_equal(hex, SHA_ABC);
    assert_int_equal(size, 3);

    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(mq_sha256_fd(fd, hex, NULL), 0);
    assert_string_equal(hex, SHA_ABC);
    close(fd);

    ut_rm_rf(dir);
    free(dir);
}

static void sha256__not_a_regular_file__einval_or_enoent(void **state)
{
    (void)state;
    char *dir = ut_mkdtemp("sha");
    assert_non_null(dir);
    char hex[65], path[PATH_MAX];
    errno = 0;
    assert_int_equal(mq_sha256_file(dir, hex, NULL), -1);
    assert_int_equal(errno, EINVAL);
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(mq_sha256_file(path, hex, NULL), -1);
    assert_int_equal(errno, ENOENT);
    ut_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256__abc__known_digest),
        cmocka_unit_test(sha256__empty_input__known_digest),
        cmocka_unit_test(sha256__streamed_in_odd_pieces__same_as_one_shot),
        cmocka_unit_test(sha256__abandoned_context__cleanup_frees),
        cmocka_unit_test(sha256__file__digest_and_size),
        cmocka_unit_test(sha256__not_a_regular_file__einval_or_enoent),
    };
    return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
