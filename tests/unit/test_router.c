/* Router: pattern parsing, matching precedence, conflicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "router.h"

static void h1(mq_req *r, void *ud) { (void)r, (void)ud; }
static void h2(mq_req *r, void *ud) { (void)r, (void)ud; }

typedef struct {
    mq_router r;
} fx;

static int setup(void **state)
{
    static fx f;
    mq_router_init(&f.r);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    mq_router_cleanup(&f->r);
    return 0;
}

static const mq_route *match(mq_router *r, const char *method, const char *path,
                             mq_route_param *p, size_t *np, int *pm)
{
    return mq_router_match(r, method, path, p, np, pm);
}

static void router__param_route__captures_raw_segment(void **state)
{
    fx *f = *state;
    assert_int_equal(mq_router_add(&f->r, "GET", "/app/result/:id", h1, NULL, NULL, NULL), MQ_OK);
    mq_route_param p[MQ_ROUTE_MAX_PARAMS];
    size_t np;
    int pm;
    const mq_route *rt = match(&f->r, "GET", "/app/result/demo%201", p, &np, &pm);
    assert_non_null(rt);
    assert_int_equal(np, 1);
    assert_string_equal(p[0].name, "id");
    assert_int_equal(p[0].len, strlen("demo%201"));
    assert_memory_equal(p[0].raw, "demo%201", p[0].len);
    assert_null(match(&f->r, "GET", "/app/result", p, &np, &pm));
    assert_null(match(&f->r, "GET", "/app/result/", p, &np, &pm));
    assert_null(match(&f->r, "GET", "/app/result/a/b", p, &np, &pm));
}

static void router__literal_and_param__literal_wins(void **state)
{
    fx *f = *state;
    int a = 1, b = 2;
    assert_int_equal(mq_router_add(&f->r, "GET", "/a/:x", h1, &a, NULL, NULL), MQ_OK);
    assert_int_equal(mq_router_add(&f->r, "GET", "/a/new", h2, &b, NULL, NULL), MQ_OK);
    mq_route_param p[MQ_ROUTE_MAX_PARAMS];
    size_t np;
    int pm;
    assert_ptr_equal(match(&f->r, "GET", "/a/new", p, &np, &pm)->ud, &b);
    assert_ptr_equal(match(&f->r, "GET", "/a/old", p, &np, &pm)->ud, &a);
}

static void router__same_shape__conflicts(void **state)
{
    fx *f = *state;
    const mq_route *clash = NULL;
    assert_int_equal(mq_router_add(&f->r, "GET", "/a/:x", h1, NULL, NULL, NULL), MQ_OK);
    assert_int_equal(mq_router_add(&f->r, "GET", "/a/:y", h2, NULL, NULL, &clash), MQ_EEXIST);
    assert_non_null(clash);
    assert_string_equal(clash->pattern, "/a/:x");
    /* Another method is not a conflict. */
    assert_int_equal(mq_router_add(&f->r, "POST", "/a/:y", h2, NULL, NULL, NULL), MQ_OK);
}

static void router__bad_patterns__rejected(void **state)
{
    fx *f = *state;
    assert_int_equal(mq_router_add(&f->r, "GET", "no-slash", h1, NULL, NULL, NULL), MQ_EINVAL);
    assert_int_equal(mq_router_add(&f->r, "GET", "/a//b", h1, NULL, NULL, NULL), MQ_EINVAL);
    assert_int_equal(mq_router_add(&f->r, "GET", "/a/", h1, NULL, NULL, NULL), MQ_EINVAL);
    assert_int_equal(mq_router_add(&f->r, "GET", "/*rest/x", h1, NULL, NULL, NULL), MQ_EINVAL);
    assert_int_equal(mq_router_add(&f->r, "get", "/a", h1, NULL, NULL, NULL), MQ_EINVAL);
    assert_int_equal(mq_router_add(&f->r, "GET", "/:", h1, NULL, NULL, NULL), MQ_EINVAL);
    assert_int_equal(f->r.n, 0);
}

static void router__rest_route__matches_tail_and_empty(void **state)
{
    fx *f = *state;
    assert_int_equal(mq_router_add(&f->r, "GET", "/static/*file", h1, NULL, NULL, NULL), MQ_OK);
    mq_route_param p[MQ_ROUTE_MAX_PARAMS];
    size_t np;
    int pm;
    assert_non_null(match(&f->r, "GET", "/static/css/app.css", p, &np, &pm));
    assert_int_equal(np, 1);
    assert_memory_equal(p[0].raw, "css/app.css", p[0].len);
    assert_non_null(match(&f->r, "GET", "/static/", p, &np, &pm));
    assert_int_equal(p[0].len, 0);
    assert_null(match(&f->r, "GET", "/other/x", p, &np, &pm));
}

static void router__wrong_method__reports_path_matched(void **state)
{
    fx *f = *state;
    assert_int_equal(mq_router_add(&f->r, "POST", "/api/pay/ready", h1, NULL, NULL, NULL), MQ_OK);
    mq_route_param p[MQ_ROUTE_MAX_PARAMS];
    size_t np;
    int pm = 0;
    assert_null(match(&f->r, "GET", "/api/pay/ready", p, &np, &pm));
    assert_int_equal(pm, 1);
    pm = 0;
    assert_null(match(&f->r, "GET", "/nothing", p, &np, &pm));
    assert_int_equal(pm, 0);
}

static void router__head__falls_back_to_get(void **state)
{
    fx *f = *state;
    assert_int_equal(mq_router_add(&f->r, "GET", "/", h1, NULL, NULL, NULL), MQ_OK);
    mq_route_param p[MQ_ROUTE_MAX_PARAMS];
    size_t np;
    int pm;
    assert_non_null(match(&f->r, "HEAD", "/", p, &np, &pm));
    assert_non_null(match(&f->r, "GET", "/", p, &np, &pm));
    assert_null(match(&f->r, "GET", "/x", p, &np, &pm));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(router__param_route__captures_raw_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(router__literal_and_param__literal_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(router__same_shape__conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(router__bad_patterns__rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(router__rest_route__matches_tail_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(router__wrong_method__reports_path_matched, setup, teardown),
        cmocka_unit_test_setup_teardown(router__head__falls_back_to_get, setup, teardown),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
