"""Payments and operations: the kill switch (.env + `mindquiz reload`), a
reload to another release while the gateway approves (and one whose drain
deadline cuts the approval short), and the monthly ORDER_SECRET rotation
(runbook sections 1, 2 and 5)."""
import secrets

from mqtest import Background
from paytest import PRICE, PayTestCase, metric_moves, pay_metrics


class KillSwitchTest(PayTestCase):
    def reload_cli(self, h):
        r = h.cli("reload")
        self.assertEqual(r.returncode, 0, r.output)

    def test_pay__kill_switch_off_then_on__starts_503_pages_and_started_payments_work(self):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        started = {p: self.start_payment(h, sim, p) for p in ("kakao", "naver")}
        for p, pay in started.items():
            self.click(h, sim, pay, "approve")
        ready_calls = self.calls(sim, "kakao.ready") + self.calls(sim, "naver.reserve")
        gen = h.version()["generation"]

        h.set_env(PAYMENTS_ENABLED="0")
        self.reload_cli(h)
        self.assertGreater(h.version()["generation"], gen, "the reload built a new generation")
        self.assertIn("payment starts disabled by PAYMENTS_ENABLED", h.stderr())
        self.assertIn("notice: 결제 킬스위치 ON", h.stderr(), "the ops notice")
        for p in ("kakao", "naver"):
            r = self.ready(h, p)
            self.assertEqual(r.status, 503, r)
            body = r.json()
            self.assertEqual(body["code"], "payments_disabled")
            self.assertTrue(body["message"])
        self.assertEqual(self.calls(sim, "kakao.ready") + self.calls(sim, "naver.reserve"),
                         ready_calls, "a disabled start never calls the gateway")
        # Everything else keeps working.
        self.assertEqual(h.get_json("/api/health"), {"ok": True})
        self.assertIn("payments", [x["name"] for x in h.version()["plugins"]])
        for p, pay in started.items():
            self.assertEqual(self.order(h, pay.order_id)["status"], "ready")
            self.assertFalse(self.unlocked(h, pay.result_id))
            # The payment started before the switch completes.
            self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
            self.assert_order(h, pay, "approved")
            self.assertTrue(self.unlocked(h, pay.result_id))
        moves = metric_moves(before, pay_metrics(h))
        for p in ("kakao", "naver"):
            self.assertEqual(moves[f'payment_approval_total{{provider="{p}"}}'], 1)
            self.assertEqual(moves[f'revenue_krw_total{{provider="{p}"}}'], PRICE)
            self.assertEqual(moves[f'payment_ready_calls_total{{provider="{p}"}}'], 1)

        h.set_env(PAYMENTS_ENABLED="1")
        self.reload_cli(h)
        self.assertIn("notice: 결제 킬스위치 OFF", h.stderr(), "the ops notice")
        for p in ("kakao", "naver"):
            self.pay_through(h, sim, p)

    def test_pay__kill_switch_unrecognised_value__fails_closed_and_ops_noticed(self):
        # The plugin fails closed on a value that is neither on nor off; the
        # operator must hear that payments stopped, as for PAYMENTS_ENABLED=0.
        h, sim = self.start_pay()
        h.set_env(PAYMENTS_ENABLED="disabled")
        self.reload_cli(h)
        r = self.ready(h, "kakao")
        self.assertEqual((r.status, r.json()["code"]), (503, "payments_disabled"), r)
        self.assertIn('config "PAYMENTS_ENABLED" is neither 1 nor 0', h.stderr())
        self.assertIn("notice: 결제 킬스위치 ON", h.stderr(),
                      "payment starts are off, but no kill-switch notice was sent")


class ReloadTest(PayTestCase):
    def reload_while_pending(self, provider):
        h, sim = self.start_pay(releases=("001-a", "002-b"))
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        sim.faults(latency_ms=1500, latency_ops=["approve"])
        first = Background(lambda: self.follow(h, pay.return_url, timeout=30))
        h.wait(lambda: self.approve_calls(sim, pay) == 1, 10, "the approve call at the gateway")
        old = h.version()["generation"]

        r = h.cli("activate", "002-b")
        self.assertEqual(r.returncode, 0, r.output)
        v = h.version()
        self.assertEqual((v["release"], v["generation"] > old), ("002-b", True), v)
        # A second return, served by the new generation, while the first waits.
        second = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, second, pay, "paid=1")
        self.assert_result_redirect(h, first.result(30), pay, "paid=1")

        self.assert_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=3))
        self.assertEqual(h.stderr().count(f'order "{pay.order_id}" approved'), 1)
        h.wait(lambda: old not in h.mapped_generations(), 15, "the old generation unmapped")

    def test_pay__reload_while_approve_pending__completes_counted_once_kakao(self):
        self.reload_while_pending("kakao")

    def test_pay__reload_while_apply_pending__completes_counted_once_naver(self):
        self.reload_while_pending("naver")


class DrainDeadlineTest(PayTestCase):
    def drain_deadline(self, provider):
        h, sim = self.start_pay({"DRAIN_TIMEOUT_MS": "300"}, releases=("001-a", "002-b"))
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        sim.faults(latency_ms=2000, latency_ops=["approve"])
        browser = Background(lambda: self.follow(h, pay.return_url, timeout=30))
        h.wait(lambda: self.approve_calls(sim, pay) == 1, 10, "the approve call at the gateway")
        # Three more returns wait on that approval (polling on a timer).
        base = h.inflight()
        waiting = [Background(lambda: self.follow(h, pay.return_url, timeout=30))
                   for _ in range(3)]
        h.wait(lambda: h.inflight() >= base + 3, 10, "three returns waiting")
        old = h.version()["generation"]
        h.switch("002-b")
        # The old generation is forced out before the gateway answers: the
        # host answers the approving request 503, and the new generation
        # finds the order approving and settles it through the status API.
        r = browser.result(30)
        self.assertEqual((r.status, r.json()["code"]), (503, "drain_timeout"), r)
        # A waiting return sees the new generation's approval, or the deadline.
        for bg in waiting:
            r = bg.result(30)
            if r.status == 302:
                self.assert_result_redirect(h, r, pay, "paid=1")
            else:
                self.assertEqual((r.status, r.json()["code"]), (503, "drain_timeout"), r)
        h.wait(lambda: old not in h.mapped_generations(), 15, "the old generation unmapped")
        self.wait_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=5))
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")

    def test_pay__drain_deadline_during_approve__new_generation_reconciles_once_kakao(self):
        self.drain_deadline("kakao")

    def test_pay__drain_deadline_during_apply__new_generation_reconciles_once_naver(self):
        self.drain_deadline("naver")


class SecretRotationTest(PayTestCase):
    def test_pay__order_secret_rotated_mid_payment__return_verifies_with_prev(self):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pays = [self.start_payment(h, sim, p) for p in ("kakao", "naver")]
        for pay in pays:
            self.click(h, sim, pay, "approve")
        old_secret = self.order_secret
        h.set_env(ORDER_SECRET=secrets.token_hex(24), ORDER_SECRET_PREV=old_secret)
        h.reload()
        for pay in pays:
            self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
            self.assert_order(h, pay, "approved")
        # New orders are signed with the new secret and pay as usual.
        new = self.pay_through(h, sim, "kakao")
        self.assert_order(h, new, "approved")
        moves = metric_moves(before, pay_metrics(h))
        self.assertEqual(moves['payment_approval_total{provider="kakao"}'], 2)
        self.assertEqual(moves['payment_approval_total{provider="naver"}'], 1)
        # 3 signed; each old return checked against both secrets, the new once.
        self.assertEqual(moves["order_sign_calls_total"], 3 + 2 * 2 + 1)

    def test_pay__order_secret_replaced_without_prev__return_403_no_approve(self):
        h, sim = self.start_pay()
        pay = self.start_payment(h, sim, "kakao")
        self.click(h, sim, pay, "approve")
        h.set_env(ORDER_SECRET=secrets.token_hex(24))
        h.reload()
        r = self.follow(h, pay.return_url)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["code"], "bad_signature")
        self.assertEqual(self.approve_calls(sim, pay), 0)
        self.assert_order(h, pay, "ready")
        # Putting the old secret back as ORDER_SECRET_PREV rescues it.
        h.set_env(ORDER_SECRET_PREV=self.order_secret)
        h.reload()
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")


if __name__ == "__main__":
    import unittest
    unittest.main()
