"""Payments: exactly once. A repeated or concurrent return, many buyers at
once, browsers that leave, a return carrying another order's token, an
approve whose answer never comes, a host stopped or killed while the
gateway approves: each ends with one approve call at the gateway
(mq-pgsim's /sim/stats), one approved order, and revenue counted once."""
import http.client
import socket

from mqtest import Background
from paytest import PRICE, PayTestCase, concurrently, metric_moves, pay_metrics, query_of

LOOKUP = {"kakao": "kakao.order", "naver": "naver.history"}


class RepeatedReturnTest(PayTestCase):
    def double_return(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        first = self.click(h, sim, pay, "approve")
        # The buyer's browser goes back and the gateway replays its redirect.
        self.assertEqual(self.click(h, sim, pay, "approve"), first)
        for _ in range(2):
            self.assert_result_redirect(h, self.follow(h, first), pay, "paid=1")
        self.assert_order(h, pay, "approved")
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=3))

    def test_pay__double_return__one_approval_one_revenue_kakao(self):
        self.double_return("kakao")

    def test_pay__double_return__one_approval_one_revenue_naver(self):
        self.double_return("naver")

    def concurrent_returns(self, provider, n=10):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        # The gateway takes its time, so the returns meet the approval in flight.
        sim.faults(latency_ms=400, latency_ops=["approve"])
        results = concurrently(n, lambda i: self.follow(h, pay.return_url))
        for r in results:
            self.assert_result_redirect(h, r, pay, "paid=1")
        self.assert_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=1 + n))
        self.assertEqual(h.stderr().count(f'order "{pay.order_id}" approved'), 1)

    def test_pay__ten_concurrent_returns__one_approve_call_one_revenue_kakao(self):
        self.concurrent_returns("kakao")

    def test_pay__ten_concurrent_returns__one_apply_call_one_revenue_naver(self):
        self.concurrent_returns("naver")


class ManyBuyersTest(PayTestCase):
    def test_pay__thirty_buyers_three_returns_each__each_approved_once(self):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pays = [self.start_payment(h, sim, ("kakao", "naver")[i % 2]) for i in range(30)]
        for pay in pays:
            self.click(h, sim, pay, "approve")
        sim.faults(latency_ms=300, latency_ops=["approve"])
        results = concurrently(90, lambda i: self.follow(h, pays[i % 30].return_url))
        for i, r in enumerate(results):
            self.assert_result_redirect(h, r, pays[i % 30], "paid=1")
        for pay in pays:
            self.assert_order(h, pay, "approved")
            self.assertEqual(self.approve_calls(sim, pay), 1, pay.order_id)
        want = {}
        for p in ("kakao", "naver"):
            want.update(self.expected_moves(p, ready=15, approvals=15))
        want["order_sign_calls_total"] = 30.0 + 90.0
        self.assertEqual(metric_moves(before, pay_metrics(h)), want)


class BrowserLeavesTest(PayTestCase):
    def open_returns(self, h, url, n):
        """n raw connections, each sending the GET of `url` and not reading."""
        path = url[len(f"http://127.0.0.1:{h.port}"):]
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            socks.append(s)
        return socks

    def leave_during_approval(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        sim.faults(latency_ms=1000, latency_ops=["approve"])
        # One browser starts the approval, four more wait on it; all leave.
        first = self.open_returns(h, pay.return_url, 1)
        h.wait(lambda: self.approve_calls(sim, pay) == 1, 10, "the approve call at the gateway")
        waiting = self.open_returns(h, pay.return_url, 4)
        h.wait(lambda: h.inflight() >= 6, 10, "the five returns in flight (and /metrics)")
        for s in first + waiting:
            s.close()
        # The approval the gateway accepted is still recorded, once.
        self.wait_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        h.wait(lambda: metric_moves(before, pay_metrics(h)) ==
               self.expected_moves(provider, ready=1, approvals=1, signs=6), 10,
               "the approval counted once")
        h.wait(lambda: sum(1 for x in h.read_access_log()
                           if x.get("status") == 499 and "/api/pay/" in x["path"]) == 5, 10,
               "five 499 lines for the returns whose browser left")
        # The buyer comes back: the result.
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
        self.assertEqual(h.get("/api/health").status, 200)

    def test_pay__browsers_leave_during_approval__recorded_once_kakao(self):
        self.leave_during_approval("kakao")

    def test_pay__browsers_leave_during_apply__recorded_once_naver(self):
        self.leave_during_approval("naver")


class ForgedReturnTest(PayTestCase):
    def another_orders_token(self, provider):
        """Order B's own, validly signed return, carrying order A's pg_token
        (KakaoPay) or paymentId (NaverPay): B is not paid by A's payment, A
        is neither charged again nor canceled, and nothing is counted twice."""
        h, sim = self.start_pay()
        before = pay_metrics(h)
        a = self.pay_through(h, sim, provider)
        b = self.start_payment(h, sim, provider)
        self.click(h, sim, b, "approve")
        key = "pg_token" if provider == "kakao" else "paymentId"
        theirs, mine = query_of(a.return_url)[key], query_of(b.return_url)[key]
        forged = b.return_url.replace(f"{key}={mine}", f"{key}={theirs}")
        self.assertNotEqual(forged, b.return_url)
        self.assert_result_redirect(h, self.follow(h, forged), b, "payment=failed")
        self.assert_order(h, b, "failed", "declined")
        self.assertFalse(self.unlocked(h, b.result_id))
        self.assert_order(h, a, "approved")
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=2, approvals=1, signs=4,
                                             failures={"declined": 1}))
        rec = self.gateway_record(sim, a)
        if provider == "kakao":
            self.assertEqual((rec["status"], rec["approvals"]), ("SUCCESS_PAYMENT", 1), rec)
        else:
            self.assertEqual((rec["state"], rec["approvals"]), ("APPROVED", 1), rec)
        self.assertEqual(rec["canceled"]["total"], 0, "A's payment is never canceled from B's return")

    def test_pay__kakao_return_with_another_orders_pg_token__declined_not_counted(self):
        self.another_orders_token("kakao")

    def test_pay__naver_return_with_another_orders_payment_id__declined_not_counted(self):
        self.another_orders_token("naver")


class UnknownOutcomeTest(PayTestCase):
    def approve_timeout(self, provider):
        h, sim = self.start_pay({"PAY_TIMEOUT_MS": "800"})
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        # The gateway approves, then never answers: the plugin must ask its
        # status API before it calls the payment failed.
        sim.faults(approve_then_timeout=True)
        r = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, r, pay, "paid=1")
        self.assert_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertGreaterEqual(self.calls(sim, LOOKUP[provider]), 1)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=2))
        what = "kakao approve" if provider == "kakao" else "naver apply"
        self.assertRegex(h.stderr(), rf'{what} "{pay.order_id}" failed: .*outcome unknown, '
                                     r"reconciling")
        # Another return now: answered from the order, no gateway call.
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
        self.assertEqual(self.approve_calls(sim, pay), 1)

    def test_pay__approve_times_out__reconciled_by_status_api_counted_once_kakao(self):
        self.approve_timeout("kakao")

    def test_pay__apply_times_out__reconciled_by_history_api_counted_once_naver(self):
        self.approve_timeout("naver")

    def status_api_down_too(self, provider):
        h, sim = self.start_pay({"PAY_TIMEOUT_MS": "800", "PAY_RECONCILE_INTERVAL_MS": "1500"})
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        sim.faults(approve_then_timeout=True,
                   fail_next={"op": "order", "count": 1, "mode": "5xx", "status": 503})
        r = self.follow(h, pay.return_url)
        # Nothing is known yet: the buyer is told it is pending, not failed.
        self.assert_result_redirect(h, r, pay, "payment=pending")
        o = self.order(h, pay.order_id)
        self.assertEqual((o["status"], o["reason"], o["paid"]), ("approving", "unknown", False), o)
        # The reconciliation timer asks again and finds it paid.
        self.wait_order(h, pay, "approved", timeout=20)
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertGreaterEqual(self.calls(sim, LOOKUP[provider]), 2)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=2))
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")

    def dropped_after_approving(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        # The gateway approves, then the connection closes without an answer:
        # the outcome is unknown, and only the status API may be asked.
        sim.faults(drop_after_ops=["approve"])
        r = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, r, pay, "paid=1")
        self.assert_order(h, pay, "approved")
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=2))
        self.assertEqual(self.approve_calls(sim, pay), 1,
                         f"approve calls at the gateway: {sim.stats()}")

    def test_pay__connection_dropped_after_approve__one_approve_call_kakao(self):
        self.dropped_after_approving("kakao")

    def test_pay__connection_dropped_after_apply__one_apply_call_naver(self):
        self.dropped_after_approving("naver")

    def test_pay__approve_times_out_status_api_down__pending_then_approved_kakao(self):
        self.status_api_down_too("kakao")

    def test_pay__apply_times_out_history_api_down__pending_then_approved_naver(self):
        self.status_api_down_too("naver")


class RestartTest(PayTestCase):
    def killed_mid_approval(self, provider):
        h, sim = self.start_pay()
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        # The gateway approves on arrival and answers 5 s later; the host
        # is SIGKILLed in between.
        sim.faults(latency_ms=5000, latency_ops=["approve"])
        browser = Background(lambda: self.follow(h, pay.return_url, timeout=30))
        h.wait(lambda: self.approve_calls(sim, pay) == 1, 10, "the approve call at the gateway")
        o = self.order(h, pay.order_id)
        self.assertEqual(o["status"], "approving", o)
        h.crash()
        with self.assertRaises((OSError, http.client.HTTPException)):
            browser.result(30)  # the buyer's connection dies with the host
        sim.clear_faults()

        h.start()
        h.wait(lambda: f'order "{pay.order_id}" was left approving' in h.stderr(), 10,
               "the resume log line")
        self.wait_order(h, pay, "approved")
        self.assert_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertGreaterEqual(self.calls(sim, LOOKUP[provider]), 1)
        # The new process counted the approval it recorded, once.
        after = pay_metrics(h)
        self.assertEqual(after[f'payment_approval_total{{provider="{provider}"}}'], 1)
        self.assertEqual(after[f'revenue_krw_total{{provider="{provider}"}}'], PRICE)
        # The buyer retries the return: the result, no second approve.
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(metric_moves(after, pay_metrics(h)), {"order_sign_calls_total": 1.0})

    def stopped_mid_approval(self, provider):
        h, sim = self.start_pay()
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        sim.faults(latency_ms=1500, latency_ops=["approve"])
        browser = Background(lambda: self.follow(h, pay.return_url, timeout=30))
        h.wait(lambda: self.approve_calls(sim, pay) == 1, 10, "the approve call at the gateway")
        # SIGTERM waits for the request in flight: the approval is recorded
        # and the buyer redirected before the process exits (with 0).
        h.stop()
        self.assert_result_redirect(h, browser.result(30), pay, "paid=1")
        self.assertIn(f'order "{pay.order_id}" approved', h.stderr())
        h.start()
        self.assert_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertNotIn("was left approving", h.stderr())
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(self.calls(sim, LOOKUP[provider]), 0, "nothing left to reconcile")

    def test_pay__sigterm_while_approve_pending__recorded_before_exit_kakao(self):
        self.stopped_mid_approval("kakao")

    def test_pay__sigterm_while_apply_pending__recorded_before_exit_naver(self):
        self.stopped_mid_approval("naver")

    def test_pay__host_killed_while_approve_pending__restart_reconciles_once_kakao(self):
        self.killed_mid_approval("kakao")

    def test_pay__host_killed_while_apply_pending__restart_reconciles_once_naver(self):
        self.killed_mid_approval("naver")


if __name__ == "__main__":
    import unittest
    unittest.main()
