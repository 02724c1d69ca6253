/*
 * test_quiz_pagecache.c -- rendered pages with holes: replacement in a slot,
 * filling, refusals; and holes recorded by the template engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pagecache.h"
#include "tmpl.h"

static void put_get_fill__round_trip(void **state)
{
    mq_quiz_pagecache pc;
    assert_int_equal(mq_quiz_pagecache_init(&pc, 3), 0);
    assert_int_equal(pc.nslots, 4);
    assert_null(mq_quiz_pagecache_get(&pc, "a"));
    size_t holes[] = {2, 9};
    const mq_quiz_cached_page *p =
        mq_quiz_pagecache_put(&pc, "a", "<a0000b>-0000", 13, holes, 2, 4);
    assert_non_null(p);
    assert_ptr_equal(mq_quiz_pagecache_get(&pc, "a"), p);
    mq_quiz_buf out;
    mq_quiz_buf_init(&out);
    assert_int_equal(mq_quiz_pagecache_fill(p, "Zz90", &out), 0);
    assert_string_equal(out.data, "<aZz90b>-Zz90");
    /* a fill an escaper would change, or of the wrong length, is refused */
    assert_int_equal(mq_quiz_pagecache_fill(p, "ab\"c", &out), -1);
    assert_int_equal(mq_quiz_pagecache_fill(p, "abc", &out), -1);
    assert_int_equal(mq_quiz_pagecache_fill(p, "a<cd", &out), -1);
    assert_int_equal(pc.hits, 1);
    assert_int_equal(pc.misses, 1);
    mq_quiz_buf_cleanup(&out);
    mq_quiz_pagecache_cleanup(&pc);
}

static void put__bad_holes_and_long_keys__refused(void **state)
{
    mq_quiz_pagecache pc;
    assert_int_equal(mq_quiz_pagecache_init(&pc, 8), 0);
    size_t out_of_range[] = {10};
    assert_null(mq_quiz_pagecache_put(&pc, "k", "0123456789", 10, out_of_range, 1, 1));
    size_t straddle[] = {8};
    assert_null(mq_quiz_pagecache_put(&pc, "k", "0123456789", 10, straddle, 1, 4));
    char longkey[MQ_QUIZ_PAGE_KEY_MAX + 1];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_null(mq_quiz_pagecache_put(&pc, longkey, "x", 1, NULL, 0, 0));
    mq_quiz_pagecache_cleanup(&pc);
}

static void slots__are_bounded_and_replaced(void **state)
{
    mq_quiz_pagecache pc;
    assert_int_equal(mq_quiz_pagecache_init(&pc, 2), 0);
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "key%d", i);
        assert_non_null(mq_quiz_pagecache_put(&pc, key, key, strlen(key), NULL, 0, 0));
        const mq_quiz_cached_page *p = mq_quiz_pagecache_get(&pc, key);
        assert_non_null(p);
        assert_memory_equal(p->data, key, strlen(key));
    }
    size_t used = 0;
    for (size_t i = 0; i < pc.nslots; i++)
        used += pc.slots[i].key[0] != '\0';
    assert_true(used <= 2);
    mq_quiz_pagecache_cleanup(&pc); /* frees every slot (checked under ASan) */
}

static void tmpl__holes_recorded_in_every_context(void **state)
{
    static const char *const syms[] = {"n"};
    mq_quiz_tmpl_set *s = mq_quiz_tmpl_set_new(syms, 1);
    char err[256];
    const char *t = "<p>{{n}}</p><a href=\"/x?{{n}}\" title=\"{{n}}\"><script>f('{{n}}')</script>";
    assert_int_equal(mq_quiz_tmpl_add(s, "t", t, strlen(t), err, sizeof err), 0);
    assert_int_equal(mq_quiz_tmpl_link(s, err, sizeof err), 0);
    mq_quiz_tval v[1] = {mq_quiz_tv_hole(3)};
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_buf_adds(&b, "prefix");
    size_t holes[4], n = 0;
    assert_int_equal(mq_quiz_tmpl_render_holes(s, mq_quiz_tmpl_get(s, "t"), v, &b, holes, 4, &n),
                     0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(b.data + 6 + holes[i], "000", 3);
    assert_string_equal(b.data + 6,
                        "<p>000</p><a href=\"/x?000\" title=\"000\"><script>f('000')</script>");
    /* more holes than room: an error, never a page with an unfilled hole */
    mq_quiz_buf_reset(&b);
    assert_int_equal(mq_quiz_tmpl_render_holes(s, mq_quiz_tmpl_get(s, "t"), v, &b, holes, 3, &n),
                     -1);
    mq_quiz_buf_reset(&b);
    assert_int_equal(mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b), -1);
    mq_quiz_buf_cleanup(&b);
    mq_quiz_tmpl_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_fill__round_trip),
        cmocka_unit_test(put__bad_holes_and_long_keys__refused),
        cmocka_unit_test(slots__are_bounded_and_replaced),
        cmocka_unit_test(tmpl__holes_recorded_in_every_context),
    };
    return cmocka_run_group_tests_name("quiz_pagecache", tests, NULL, NULL);
}
