"""Coupons in the real host: the coupons plugin (coupons.so) with the real
payments plugin against mq-pgsim, published as a release from the build
(payments, coupons, referral + the build's assets).

What a user or an operator sees: POST /api/pay/ready answers (200, or 400
coupon_invalid), the orders' amounts, /metrics (coupon_holds_live,
coupon_hold_total, coupon_redeem_total, coupon_release_total) and the
store's records (coupons, coupon_holds, events: the runbook's "hold ->
redeem / release" trail).

Coupons are created from a seed file (COUPONS_SEED_FILE): the admin plugin
that will create them over HTTP does not exist yet. Short hold lifetimes
come from COUPON_HOLD_TTL_MS (payments asks for 30 minutes).

test_referral.py reuses CouponStackTestCase.
"""
import json
import os
import shutil

from mqtest import BUILD_DIR, FIXTURES
from paytest import PRICE, PayTestCase, concurrently

STACK = ("payments.so", "coupons.so", "referral.so")


def ndjson(h, coll):
    """Every parsed record of data/<coll>.ndjson (a torn last line skipped)."""
    path = os.path.join(h.data, f"{coll}.ndjson")
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def latest(h, coll):
    """{key: latest record} of a keyed collection, as the store sees it."""
    return {r["k"]: r for r in ndjson(h, coll) if r.get("k")}


def events(h, prefix):
    return [e for e in ndjson(h, "events") if e.get("type", "").startswith(prefix)]


class CouponStackTestCase(PayTestCase):
    """A host serving payments + coupons + referral (+ the quizstub test
    plugin standing in for quiz) from the build, against its own mq-pgsim."""

    def start_stack(self, env=None, coupons=None, stub=False, start=True):
        """coupons: seed entries (list of dicts) written to a seed file the
        coupons plugin applies at init; None keeps the release's own seed
        (assets/coupons.seed.json: WELCOME10). Returns (host, sim)."""
        built = [os.path.join(BUILD_DIR, "plugins", n) for n in STACK]
        if stub:
            built.append(os.path.join(FIXTURES, "quizstub.so"))
        missing = [p for p in built if not os.path.isfile(p)]
        if missing:  # a build made with -DMQ_PLUGINS=... leaving some out
            self.skipTest(f"not built: {', '.join(missing)}")
        cfg = {"PAY_READY_PER_MINUTE": "100000", "PAY_READY_BURST": "1000"}
        cfg.update(env or {})
        h, sim = self.start_pay(env=cfg, releases=("000-build",), start=False)
        if coupons is not None:
            path = os.path.join(h.dir, "test-coupons.seed.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"coupons": coupons}, f)
            h.set_env(COUPONS_SEED_FILE=path)
        self.stub = stub
        self.publish_stack(h, "001-stack")
        h.set_current("001-stack")
        if start:
            h.start()
        return h, sim

    def reload_stack(self, h, rid):
        """Publish the stack again as `rid` and serve it (a reload)."""
        self.publish_stack(h, rid)
        h.switch(rid)

    def publish_stack(self, h, rid):
        src = os.path.join(h.dir, f"stack-{rid}")
        os.makedirs(os.path.join(src, "plugins"))
        for name in STACK:
            shutil.copyfile(os.path.join(BUILD_DIR, "plugins", name),
                            os.path.join(src, "plugins", name))
        if self.stub:
            shutil.copyfile(os.path.join(FIXTURES, "quizstub.so"),
                            os.path.join(src, "plugins", "quizstub.so"))
        cmake = ("CMakeFiles", "Makefile", "cmake_install.cmake", "CTestTestfile.cmake")
        shutil.copytree(os.path.join(BUILD_DIR, "assets"), os.path.join(src, "assets"),
                        ignore=lambda d, files: [f for f in files if f in cmake])
        r = h.cli("release", "--from", src, "--id", rid)
        self.assertEqual(r.returncode, 0, r.output)

    # -- what the coupons plugin says -------------------------------------------

    def coupon(self, h, code):
        return latest(h, "coupons")[code]

    def holds(self, h, state=None):
        return {k: r for k, r in latest(h, "coupon_holds").items()
                if state is None or r["state"] == state}

    def assert_invariant(self, h, code):
        """redeemed + live holds <= total uses, by the hold records and by
        the coupon's counters, which agree."""
        c = self.coupon(h, code)
        held = [r for r in latest(h, "coupon_holds").values()
                if r["code"] == code and r["state"] == "held"]
        used = [r for r in latest(h, "coupon_holds").values()
                if r["code"] == code and r["state"] == "redeemed"]
        self.assertEqual((c["used"], c["held"]), (len(used), len(held)), c)
        self.assertLessEqual(len(used) + len(held), c["total_uses"])
        return c

    def pay_with(self, h, sim, code, amount, provider="kakao", result_id=None):
        """A payment start with a coupon that must succeed, and its order."""
        pay = self.start_payment(h, sim, provider, result_id, coupon=code)
        o = self.order(h, pay.order_id)
        self.assertEqual((o["amount"], o["discount"]), (amount, PRICE - amount), o)
        return pay

    def refused(self, r):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["code"], "coupon_invalid", r)


def one(code, uses=1, value=500, **more):
    return dict({"code": code, "kind": "fixed", "value": value, "total_uses": uses}, **more)


class ConcurrencyTest(CouponStackTestCase):
    def test_coupon__hundred_concurrent_starts_ten_uses__exactly_ten_hold(self):
        h, sim = self.start_stack(coupons=[one("TEN", uses=10)])
        results = concurrently(100, lambda i: self.ready(h, "kakao", coupon="TEN"))
        ok = [r for r in results if r.status == 200]
        self.assertEqual(len(ok), 10, [r.status for r in results])
        for r in results:
            if r.status != 200:
                self.refused(r)
        orders = {r.json()["orderId"] for r in ok}
        self.assertEqual(set(self.holds(h, "held")), orders)
        for oid in orders:
            o = self.order(h, oid)
            self.assertEqual((o["amount"], o["discount"]), (PRICE - 500, 500))
        c = self.assert_invariant(h, "TEN")
        self.assertEqual((c["used"], c["held"]), (0, 10))
        self.assertEqual(h.metric("coupon_holds_live"), 10)
        self.assertEqual(h.metric("coupon_hold_total", result="ok"), 10)
        self.assertEqual(len(events(h, "coupon.hold")), 10)
        # The refusals name the reason.
        self.assertIn("모두 소진된 쿠폰입니다.", {r.json()["message"] for r in results
                                             if r.status == 400})


class LifecycleTest(CouponStackTestCase):
    def test_coupon__an_expired_hold_frees_its_use_and_a_late_payment_never_oversells(self):
        h, sim = self.start_stack(env={"COUPON_HOLD_TTL_MS": "1500", "COUPON_SWEEP_MS": "100"},
                                  coupons=[one("ONE")])
        first = self.pay_with(h, sim, "ONE", PRICE - 500)
        self.refused(self.ready(h, "kakao", coupon="ONE"))
        # The timer expires the hold: the use is free again.
        h.wait(lambda: h.metric("coupon_holds_live") == 0, 10, "the hold to expire")
        self.assertEqual(h.metric("coupon_release_total", reason="expired"), 1)
        self.assertEqual(self.holds(h)[first.order_id]["state"], "expired")
        self.assertEqual(len(events(h, "coupon.expire")), 1)
        second = self.pay_with(h, sim, "ONE", PRICE - 500)
        # The first buyer pays after all: the gateway charged the discounted
        # price, but the one use is taken, so it is refused, not oversold.
        self.click(h, sim, first, "approve", amount=PRICE - 500)
        self.assert_result_redirect(h, self.follow(h, first.return_url), first, "paid=1")
        self.assertEqual(len(events(h, "coupon.redeem_refused")), 1)
        self.assertIn(f'redeem coupon "ONE" for order "{first.order_id}" failed', h.stderr())
        c = self.assert_invariant(h, "ONE")
        self.assertEqual((c["used"], c["held"]), (0, 1))
        self.click(h, sim, second, "approve", amount=PRICE - 500)
        self.assert_result_redirect(h, self.follow(h, second.return_url), second, "paid=1")
        c = self.assert_invariant(h, "ONE")
        self.assertEqual((c["used"], c["held"]), (1, 0))
        self.assertEqual(h.metric("coupon_redeem_total"), 1)

    def test_coupon__cancel_failure_and_gateway_error_release_the_hold(self):
        h, sim = self.start_stack(coupons=[one("ONE")])
        amount = PRICE - 500
        canceled = self.pay_with(h, sim, "ONE", amount)
        self.click(h, sim, canceled, "cancel", amount=amount)
        self.assert_result_redirect(h, self.follow(h, canceled.return_url), canceled,
                                    "payment=canceled")
        failed = self.pay_with(h, sim, "ONE", amount)
        self.click(h, sim, failed, "fail", amount=amount)
        self.assert_result_redirect(h, self.follow(h, failed.return_url), failed,
                                    "payment=failed")
        sim.faults(fail_next={"op": "ready", "count": 1, "mode": "5xx"})
        r = self.ready(h, "kakao", coupon="ONE")
        self.assertEqual(r.status, 502, r)
        last = self.pay_with(h, sim, "ONE", amount)
        self.assertEqual(h.metric("coupon_release_total", reason="released"), 3)
        self.assertEqual(h.metric("coupon_holds_live"), 1)
        states = sorted(r["state"] for r in self.holds(h).values())
        self.assertEqual(states, ["held", "released", "released", "released"])
        self.assertEqual(self.holds(h, "held").keys(), {last.order_id})
        # The trail an operator reads after an incident: hold -> release.
        trail = [(e["type"], e["order"]) for e in events(h, "coupon.") if "order" in e]
        self.assertEqual(trail[:4], [("coupon.hold", canceled.order_id),
                                     ("coupon.release", canceled.order_id),
                                     ("coupon.hold", failed.order_id),
                                     ("coupon.release", failed.order_id)])
        self.assert_invariant(h, "ONE")

    def test_coupon__the_release_seed_brings_welcome10(self):
        h, sim = self.start_stack()
        pay = self.pay_with(h, sim, "welcome10", PRICE - PRICE // 10)
        c = self.coupon(h, "WELCOME10")
        self.assertEqual((c["kind"], c["value"], c["total_uses"], c["per_user"]),
                         ("percent", 10, 1000, 1))
        self.click(h, sim, pay, "approve", amount=PRICE - PRICE // 10)
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
        self.assertEqual(self.holds(h)[pay.order_id]["state"], "redeemed")
        self.assertEqual(h.metric("coupon_redeem_total"), 1)
        self.assertEqual(self.refused_code(h, "NOSUCHCODE"), "존재하지 않는 쿠폰입니다.")

    def refused_code(self, h, code):
        r = self.ready(h, "kakao", coupon=code)
        self.refused(r)
        return r.json()["message"]


class RestartTest(CouponStackTestCase):
    def test_coupon__live_holds_survive_a_restart_a_crash_and_a_reload(self):
        h, sim = self.start_stack(coupons=[one("FOUR", uses=4)])
        amount = PRICE - 500
        pays = [self.pay_with(h, sim, "FOUR", amount) for _ in range(3)]
        h.stop()
        h.start()
        self.assertEqual(h.metric("coupon_holds_live"), 3)
        pays.append(self.pay_with(h, sim, "FOUR", amount))
        self.refused(self.ready(h, "kakao", coupon="FOUR"))
        # A hold taken before the restart is redeemed after it.
        self.click(h, sim, pays[0], "approve", amount=amount)
        self.assert_result_redirect(h, self.follow(h, pays[0].return_url), pays[0], "paid=1")
        self.assertEqual(self.holds(h)[pays[0].order_id]["state"], "redeemed")
        # Killed: the holds were on disk before their payment starts answered.
        h.crash()
        h.start()
        self.assertEqual(h.metric("coupon_holds_live"), 3)
        self.refused(self.ready(h, "kakao", coupon="FOUR"))
        # A reload: the new generation counts what the store says.
        self.reload_stack(h, "002-stack")
        self.refused(self.ready(h, "kakao", coupon="FOUR"))
        self.click(h, sim, pays[1], "cancel", amount=amount)
        self.follow(h, pays[1].return_url)
        pays.append(self.pay_with(h, sim, "FOUR", amount))
        self.refused(self.ready(h, "kakao", coupon="FOUR"))
        c = self.assert_invariant(h, "FOUR")
        self.assertEqual((c["used"], c["held"]), (1, 3))
        self.assertEqual(h.metric("coupon_holds_live"), 3)


if __name__ == "__main__":
    import sys

    import mqtest
    sys.exit(mqtest.main("test_coupons"))
