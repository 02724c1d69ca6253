"""Payments (plugins/payments) against the mq-pgsim gateway simulator: the
buyer's flows for both providers, failures, tampering, secrets and the
per-IP limit on payment starts. Exactly-once, reconciliation and restarts
are in test_payments_once.py; reload, kill switch and secret rotation in
test_payments_ops.py."""
import http.client
import http.server
import json
import re
import threading

from paytest import (KAKAO_SECRET, NAVER_CLIENT_SECRET, PRICE, PayTestCase, metric_moves,
                     new_result_id, pay_metrics, query_of)


class FlowTest(PayTestCase):
    """ready -> the gateway's page -> a click -> the return -> the result."""

    def full_flow(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.assert_order(h, pay, "ready")
        self.assertFalse(self.unlocked(h, pay.result_id))

        self.click(h, sim, pay, "approve")
        r = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, r, pay, "paid=1")

        self.assert_order(h, pay, "approved")
        self.assertTrue(self.unlocked(h, pay.result_id))
        self.assertFalse(self.unlocked(h, new_result_id()), "another result stays locked")
        # One ready call, one approval of the catalog price, two signatures
        # (made at ready, checked at the return); nothing else moved.
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, approvals=1, signs=2))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        rec = self.gateway_record(sim, pay)
        if provider == "kakao":
            self.assertEqual((rec["status"], rec["amount"]["total"]), ("SUCCESS_PAYMENT", PRICE))
        else:
            self.assertEqual((rec["state"], rec["totalPayAmount"]), ("APPROVED", PRICE))
        h.wait(lambda: f'order "{pay.order_id}" approved: {provider} {PRICE} KRW' in h.stderr(),
               5, "the approval's log line")

    def test_pay__kakao_full_flow__approved_unlocked_counted(self):
        self.full_flow("kakao")

    def test_pay__naver_full_flow__approved_unlocked_counted(self):
        self.full_flow("naver")

    def test_pay__kakao_from_a_phone__mobile_page_then_approved(self):
        h, sim = self.start_pay()
        phone = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
        r = self.ready(h, "kakao", headers=phone)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["redirectUrl"].endswith("?ui=mobile"), r.json())
        desktop = self.start_payment(h, sim, "kakao")
        self.assertNotIn("?", desktop.redirect_url)

    def user_cancel(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "cancel")
        r = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, r, pay, "payment=canceled")
        self.assert_order(h, pay, "canceled", "user_cancel")
        self.assertFalse(self.unlocked(h, pay.result_id))
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, signs=2,
                                             failures={"user_cancel": 1}, cancels=1))
        self.assertEqual(self.approve_calls(sim, pay), 0)
        self.assertIn(f'order "{pay.order_id}" canceled at {provider}: user_cancel', h.stderr())
        # The same return again (a reload of the page) changes nothing.
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "payment=canceled")
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, signs=3,
                                             failures={"user_cancel": 1}, cancels=1))

    def test_pay__kakao_user_cancel__canceled_user_cancel_counted(self):
        self.user_cancel("kakao")

    def test_pay__naver_user_cancel__canceled_user_cancel_counted(self):
        self.user_cancel("naver")

    def test_pay__buyer_fails_at_gateway_page__failed_declined_or_timeout(self):
        h, sim = self.start_pay()
        for provider, action, reason in (("kakao", "fail", "declined"), ("naver", "fail", "declined"),
                                         ("naver", "expire", "timeout")):
            with self.subTest(provider=provider, action=action):
                before = pay_metrics(h)
                pay = self.start_payment(h, sim, provider)
                self.click(h, sim, pay, action)
                self.assert_result_redirect(h, self.follow(h, pay.return_url), pay,
                                            "payment=failed")
                self.assert_order(h, pay, "failed", reason)
                self.assertEqual(metric_moves(before, pay_metrics(h)),
                                 self.expected_moves(provider, ready=1, signs=2,
                                                     failures={reason: 1}))
                self.assertEqual(self.approve_calls(sim, pay), 0)


class GatewayFailureTest(PayTestCase):
    def setUp(self):
        super().setUp()
        self._seen = set()

    def _last_failed_order(self, h, what):
        """The newest order id of a '<what> "<id>" failed' log line not seen yet."""
        ids = re.findall(rf'{what} "(MQ\d{{14}}[0-9a-f]{{10}})" failed', h.stderr())
        fresh = [i for i in ids if i not in self._seen]
        if fresh:
            self._seen.add(fresh[-1])
            return fresh[-1]
        return None

    def ready_fails(self, h, sim, provider, status, code, reason):
        before = pay_metrics(h)
        r = self.ready(h, provider)
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["code"], code)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, signs=1, failures={reason: 1}))
        # The operator finds the order in the log and sees why it failed.
        what = "kakao ready" if provider == "kakao" else "naver reserve"
        oid = h.wait(lambda: self._last_failed_order(h, what), 5, f"a '{what} failed' log line")
        o = self.order(h, oid)
        self.assertEqual((o["status"], o["reason"], o["provider"]), ("failed", reason, provider), o)


    def test_pay__gateway_5xx_on_ready__502_gateway_error_counted(self):
        h, sim = self.start_pay()
        for provider in ("kakao", "naver"):
            with self.subTest(provider=provider):
                sim.faults(fail_next={"op": "ready", "mode": "5xx", "status": 503})
                self.ready_fails(h, sim, provider, 502, "gateway_error", "gateway_error")
        # The gateway is back: payments start again.
        self.start_payment(h, sim, "kakao")

    def test_pay__gateway_silent_on_ready__502_gateway_timeout_counted(self):
        h, sim = self.start_pay({"PAY_TIMEOUT_MS": "500"})
        sim.faults(timeout_ops=["ready"])
        for provider in ("kakao", "naver"):
            with self.subTest(provider=provider):
                self.ready_fails(h, sim, provider, 502, "gateway_timeout", "timeout")

    def declined_on_approve(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.click(h, sim, pay, "approve")
        sim.faults(fail_next={"op": "approve", "mode": "business"})
        r = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, r, pay, "payment=failed")
        self.assert_order(h, pay, "failed", "declined")
        self.assertFalse(self.unlocked(h, pay.result_id))
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, signs=2, failures={"declined": 1}))
        self.assertEqual(self.approve_calls(sim, pay), 1)
        what = "kakao approve" if provider == "kakao" else "naver apply"
        self.assertRegex(h.stderr(), rf'{what} "{pay.order_id}" failed: .*\(declined\)')
        # A second return does not try again: the decline is final.
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "payment=failed")
        self.assertEqual(self.approve_calls(sim, pay), 1)

    def test_pay__kakao_declined_on_approve__failed_declined(self):
        self.declined_on_approve("kakao")

    def test_pay__naver_declined_on_apply__failed_declined(self):
        self.declined_on_approve("naver")


class TamperTest(PayTestCase):
    def tampered_signature(self, provider):
        h, sim = self.start_pay()
        before = pay_metrics(h)
        a = self.start_payment(h, sim, provider)
        b = self.start_payment(h, sim, provider)
        self.click(h, sim, a, "approve")
        self.click(h, sim, b, "approve")
        sig_a, sig_b = query_of(a.return_url)["sig"], query_of(b.return_url)["sig"]
        flipped = sig_a[:-1] + ("0" if sig_a[-1] != "0" else "1")
        forged = [
            a.return_url.replace(f"sig={sig_a}", f"sig={flipped}"),  # one digit changed
            a.return_url.replace(f"sig={sig_a}", f"sig={sig_b}"),  # another order's signature
            a.return_url.replace(f"sig={sig_a}", "sig="),  # none
        ]
        for url in forged:
            r = self.follow(h, url)
            self.assertEqual(r.status, 403, f"{url}: {r}")
            self.assertEqual(r.json()["code"], "bad_signature")
        # An order id nobody created, with a real signature.
        made_up = "MQ" + a.order_id[2:16] + "0123456789"
        r = self.follow(h, a.return_url.replace(a.order_id, made_up))
        self.assertEqual((r.status, r.json()["code"]), (404, "unknown_order"), r)
        self.assertEqual(self.approve_calls(sim, a), 0, "a forged return never reaches the gateway")
        self.assert_order(h, a, "ready")
        self.assertFalse(self.unlocked(h, a.result_id))
        self.assertIn(f'verify order "{a.order_id}" failed: bad signature from 127.0.0.1',
                      h.stderr())
        # The genuine returns still work.
        for pay in (a, b):
            self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
            self.assertEqual(self.approve_calls(sim, pay), 1)
        # Two signed, two forged signatures checked (an empty one is refused
        # before any HMAC), two genuine ones checked.
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=2, approvals=2, signs=6))

    def test_pay__kakao_tampered_signature__403_no_approve_call(self):
        self.tampered_signature("kakao")

    def test_pay__naver_tampered_signature__403_no_apply_call(self):
        self.tampered_signature("naver")

    def test_pay__client_sends_amount__catalog_price_charged(self):
        h, sim = self.start_pay()
        for provider in ("kakao", "naver"):
            with self.subTest(provider=provider):
                before = pay_metrics(h)
                pay = self.start_payment(h, sim, provider, amount=100, totalAmount=100,
                                         total_amount=100, price=1, product="premium_result")
                self.assertEqual(self.order(h, pay.order_id)["amount"], PRICE)
                rec = self.gateway_record(sim, pay)
                asked = rec["amount"]["total"] if provider == "kakao" else rec["totalPayAmount"]
                self.assertEqual(asked, PRICE, "the gateway was asked for the catalog price")
                self.click(h, sim, pay, "approve")  # the page shows the catalog price
                self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
                self.assertEqual(metric_moves(before, pay_metrics(h)),
                                 self.expected_moves(provider, ready=1, approvals=1, signs=2))

    def amount_mismatch(self, provider):
        # mq-pgsim's fault API cannot make a gateway approve another amount
        # (its approve answers the ready call's amount, and KakaoPay's
        # approve refuses a total_amount that differs). A proxy between the
        # plugin and the simulator changes the amount of ready/reserve in
        # transit (and drops approve's total_amount), so the gateway really
        # charges TAMPERED and says so in its approve answer.
        tampered = 100
        proxy = TamperingProxy(self, tampered)
        h, sim = self.start_pay(api_base=proxy.url)
        proxy.target = sim
        before = pay_metrics(h)
        pay = self.start_payment(h, sim, provider)
        self.assertEqual(self.order(h, pay.order_id)["amount"], PRICE)
        self.click(h, sim, pay, "approve", amount=tampered)
        r = self.follow(h, pay.return_url)
        self.assert_result_redirect(h, r, pay, "payment=failed")
        self.assert_order(h, pay, "failed", "amount_mismatch")
        self.assertFalse(self.unlocked(h, pay.result_id))
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves(provider, ready=1, signs=2,
                                             failures={"amount_mismatch": 1}))
        what = "kakao approve" if provider == "kakao" else "naver apply"
        self.assertIn(f'{what} "{pay.order_id}" failed: approved amount {tampered} is not the '
                      f"order's {PRICE}: canceling the payment", h.stderr())
        # The wrong payment is voided at the gateway.
        if provider == "kakao":
            h.wait(lambda: self.gateway_record(sim, pay)["status"] == "CANCEL_PAYMENT", 10,
                   "the KakaoPay payment canceled")
            self.assertEqual(self.gateway_record(sim, pay)["canceled"]["total"], tampered)
        else:
            h.wait(lambda: self.gateway_record(sim, pay)["canceled"]["total"] == tampered, 10,
                   "the NaverPay payment canceled")
        h.wait(lambda: f'order "{pay.order_id}": payment of {tampered} KRW canceled at {provider}'
               in h.stderr(), 10, "the void's log line")

    def test_pay__kakao_gateway_approves_other_amount__failed_amount_mismatch_voided(self):
        self.amount_mismatch("kakao")

    def test_pay__naver_gateway_approves_other_amount__failed_amount_mismatch_voided(self):
        self.amount_mismatch("naver")


class TamperingProxy:
    """An HTTP proxy in front of mq-pgsim's gateway APIs that makes the
    ready/reserve amount `amount` in transit and removes KakaoPay approve's
    total_amount check. Everything else passes unchanged."""

    def __init__(self, test, amount):
        self.target = None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path.endswith("/online/v1/payment/ready"):
                    j = json.loads(body)
                    j.update(total_amount=amount, tax_free_amount=0)
                    body = json.dumps(j).encode()
                elif self.path.endswith("/online/v1/payment/approve"):
                    j = json.loads(body)
                    j.pop("total_amount", None)
                    body = json.dumps(j).encode()
                elif self.path.endswith("/naverpay/payments/v2/reserve"):
                    j = json.loads(body)
                    j.update(totalPayAmount=amount, taxScopeAmount=amount, taxExScopeAmount=0)
                    body = json.dumps(j).encode()
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target.port, timeout=30)
                try:
                    conn.request("POST", self.path, body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                finally:
                    conn.close()
                self.send_response(r.status)
                self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        test.addCleanup(self.server.server_close)
        test.addCleanup(self.server.shutdown)


class SecretsTest(PayTestCase):
    def test_pay__secrets_and_pg_tokens__never_in_stderr_or_access_log(self):
        h, sim = self.start_pay()
        tokens, bodies = [], []
        for provider in ("kakao", "naver"):
            pay = self.start_payment(h, sim, provider)
            self.click(h, sim, pay, "approve")
            q = query_of(pay.return_url)
            if provider == "kakao":
                tokens.append(q["pg_token"])
            r = self.follow(h, pay.return_url)
            self.assertEqual(r.status, 302)
            bodies.append(json.dumps(self.order(h, pay.order_id)))
        # A forged return and a failing gateway log their own lines.
        bad = self.follow(h, pay.return_url.replace("sig=", "sig=0"))
        self.assertEqual(bad.status, 403)
        sim.faults(fail_next={"op": "ready", "mode": "5xx"})
        bodies.append(self.ready(h, "kakao").text)
        h.reload()  # the init log lines of a second generation

        secrets_ = {"ORDER_SECRET": self.order_secret, "KAKAOPAY_SECRET_KEY": KAKAO_SECRET,
                    "NAVERPAY_CLIENT_SECRET": NAVER_CLIENT_SECRET, "METRICS_TOKEN": h.token}
        secrets_.update({f"pg_token {t}": t for t in tokens})
        h.wait(lambda: any("pg_token=REDACTED" in x.get("path", "") for x in h.read_access_log()),
               5, "the kakao return in the access log, pg_token redacted")
        access = open(h.access_log, encoding="utf-8").read()
        stderr = h.all_stderr()
        for what, value in secrets_.items():
            self.assertNotIn(value, stderr, f"{what} in the host's stderr")
            self.assertNotIn(value, access, f"{what} in the access log")
            for body in bodies:
                self.assertNotIn(value, body, f"{what} in a response")
        self.assertIn("sig=REDACTED", access)


class RateLimitTest(PayTestCase):
    def test_pay__more_starts_than_burst__429_with_retry_after(self):
        h, sim = self.start_pay({"PAY_READY_BURST": "3", "PAY_READY_PER_MINUTE": "1"})
        before = pay_metrics(h)
        for _ in range(3):
            self.start_payment(h, sim, "kakao")
        r = self.ready(h, "naver")
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["code"], "rate_limited")
        self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        # Refused before any order or gateway call.
        self.assertEqual(self.calls(sim, "kakao.ready") + self.calls(sim, "naver.reserve"), 3)
        self.assertEqual(metric_moves(before, pay_metrics(h)),
                         self.expected_moves("kakao", ready=3, signs=3))
        # The rest of the site is not limited.
        self.assertEqual(h.get("/api/health").status, 200)

    def test_pay__forged_forwarded_for__no_fresh_bucket(self):
        # Without TRUSTED_PROXIES the peer address counts, whatever
        # X-Forwarded-For a client sends.
        h, sim = self.start_pay({"PAY_READY_BURST": "2", "PAY_READY_PER_MINUTE": "1"})
        codes = [self.ready(h, "kakao", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status
                 for i in range(1, 5)]
        self.assertEqual(codes, [200, 200, 429, 429])


if __name__ == "__main__":
    import unittest
    unittest.main()
