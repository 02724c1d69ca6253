/*
 * test_quiz_sha256.c -- SHA-256 against the FIPS 180-4 examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void sha256__known_vectors__match(void **state)
{
    char hex[65];
    mq_quiz_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    mq_quiz_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    mq_quiz_sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void sha256__million_a__matches(void **state)
{
    char *a = malloc(1000000), hex[65];
    memset(a, 'a', 1000000);
    mq_quiz_sha256_hex(a, 1000000, hex);
    free(a);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void sha256__lengths_around_block_edges__differ(void **state)
{
    /* 55, 56, 63, 64, 65 bytes exercise both padding paths. */
    char buf[65], seen[5][65];
    memset(buf, 'x', sizeof buf);
    size_t lens[] = {55, 56, 63, 64, 65};
    for (int i = 0; i < 5; i++) {
        mq_quiz_sha256_hex(buf, lens[i], seen[i]);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[i], seen[k]);
    }
    assert_string_equal(seen[3],
                        "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256__known_vectors__match),
        cmocka_unit_test(sha256__million_a__matches),
        cmocka_unit_test(sha256__lengths_around_block_edges__differ),
    };
    return cmocka_run_group_tests_name("quiz_sha256", tests, NULL, NULL);
}
