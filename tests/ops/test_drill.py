"""The incident drill of the runbook's section 1, automated (issue 8):

Under steady traffic -- pages (GET /fx/hello, /api/version, /api/health)
and payments (KakaoPay and NaverPay through mq-pgsim) from two threads --
on a host serving a "regressed" release:

  1. payments start failing at the simulator (error_rate 1.0 on ready and
     approve);
  2. the real Prometheus, evaluating ops/prometheus/mindquiz.rules.yml,
     sees the MQ_HighErrorRate expression above both thresholds and puts
     the alert in `pending` (its `for` of 5/10 minutes is the rule unit
     tests' business, not waited for here);
  3. 결제 킬스위치 ON with the runbook's own [kill-switch-on] block (.env +
     `mindquiz reload`): payment start answers 503, pages 200;
  4. `mindquiz rollback` with the runbook's [rollback] block: /api/version
     shows the previous release;
  5. the gateway recovers; 킬스위치 OFF with [kill-switch-off]; a test
     payment (KakaoPay and NaverPay) succeeds;
and not one page request failed throughout, and no counter was reset.
"""
import json
import shutil
import tempfile
import threading
import time
import unittest

import opstest
from mqtest import HostTestCase, SCALE, wait_until
from test_runbook import RunbookShell

ALERT_EXPR = ("job_provider:payment_failure_ratio:10m > 0.20 "
              "and job_provider:payment_ready_calls:increase10m >= 3")


class Traffic:
    """Steady traffic in two threads until stop(): pages (must never fail)
    and payments (outcomes counted by kind)."""

    PAGES = ("/fx/hello", "/api/version", "/api/health")

    def __init__(self, h):
        self.h = h
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.page_ok = 0
        self.page_failures = []
        self.payments = {}
        self.threads = [threading.Thread(target=self._pages, daemon=True),
                        threading.Thread(target=self._payments, daemon=True)]
        for t in self.threads:
            t.start()

    def _pages(self):
        i = 0
        while not self.stopping.is_set():
            path = self.PAGES[i % len(self.PAGES)]
            i += 1
            try:
                r = self.h.get(path, timeout=10)
                ok = r.status == 200
                what = f"{path}: {r.status} {r.body[:120]!r}"
            except OSError as e:
                ok, what = False, f"{path}: {e!r}"
            with self.lock:
                if ok:
                    self.page_ok += 1
                else:
                    self.page_failures.append(what)
            time.sleep(0.01)

    def _payments(self):
        i = 0
        while not self.stopping.is_set():
            provider = ("kakao", "naver")[i % 2]
            i += 1
            try:
                ready, loc = opstest.pay(self.h, provider, "approve")
                if ready.status != 200:
                    kind = f"ready {ready.status} {ready.json().get('code')}"
                else:
                    kind = "paid" if "paid=1" in loc else f"returned {loc.split('?')[-1]}"
            except (OSError, AssertionError, ValueError) as e:
                kind = f"error {type(e).__name__}"
            with self.lock:
                self.payments[kind] = self.payments.get(kind, 0) + 1
            time.sleep(0.05)

    def snapshot(self):
        with self.lock:
            return self.page_ok, list(self.page_failures), dict(self.payments)

    def wait_payments(self, kind, more_than, timeout=30):
        base = self.snapshot()[2].get(kind, 0)
        wait_until(lambda: self.snapshot()[2].get(kind, 0) > base + more_than, timeout,
                   f"more than {more_than} payments ending '{kind}' (so far {self.snapshot()[2]})",
                   interval=0.05)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30 * SCALE)


class DrillTest(HostTestCase):
    def setUp(self):
        super().setUp()
        for path, what in ((opstest.PROMETHEUS, "the Prometheus server"),
                           (opstest.PGSIM, "mq-pgsim")):
            why = opstest.need_executable(path, what)
            if why:
                self.skipTest(why)
        if not opstest.payments_built():
            self.skipTest("plugins/payments is not built")

    def test_drill__payments_fail__kill_switch_rollback_recover__pages_never_fail(self):
        simdir = tempfile.mkdtemp(prefix="mq-ops-sim-")
        self.addCleanup(shutil.rmtree, simdir, ignore_errors=True)
        sim = opstest.PgSim(self, simdir)
        h = self.host(env={"BACKUP_AT": "off", **sim.env()})
        h.set_env(PUBLIC_BASE_URL=f"http://127.0.0.1:{h.port}")
        good, bad = "20261120-100000", "20261127-100000"
        opstest.publish(h, good, ["hello_v1.so"])
        opstest.publish(h, bad, ["hello_v2.so"])
        h.set_current(bad)
        h.start()
        runbook = RunbookShell(self, h)
        prom = opstest.Prometheus(self, h, h.dir)
        prom.wait_value('up{job="mindquiz"}', lambda v: v == 1, what="the host scraped")

        traffic = Traffic(h)
        self.addCleanup(traffic.stop)
        traffic.wait_payments("paid", 5)

        # ---- 1. the gateway starts failing ----------------------------------------------------
        sim.faults(error_rate=1.0, error_ops=["ready", "approve"], error_mode="5xx",
                   error_status=500)
        traffic.wait_payments("ready 502 gateway_error", 10)

        # ---- 2. the real Prometheus sees it: expression above threshold, alert pending --------
        prom.wait_value(f'max({ALERT_EXPR})', lambda v: v is not None and v > 0.2, timeout=60,
                        what="MQ_HighErrorRate (page) expression above 20%")
        prom.wait_value('count(ALERTS{alertname="MQ_HighErrorRate",alertstate="pending",'
                        'severity="page"})', lambda v: v and v >= 1, timeout=30,
                        what="MQ_HighErrorRate pending in Prometheus")
        failures_before = prom.value('sum(payment_failure_total{job="mindquiz"})')

        # ---- 3. kill switch on: the runbook's block ----------------------------------------------
        runbook.run("kill-switch-on")
        traffic.wait_payments("ready 503 payments_disabled", 5)
        self.assertEqual(h.get("/fx/hello").status, 200)

        # ---- 4. roll back to the previous release ------------------------------------------------
        runbook.run("rollback")
        v = h.version()
        self.assertEqual(v["release"], good)
        self.assertIn({"name": "hello", "version": "1.0.0"}, v["plugins"])
        out = runbook.run("rollback-verify")
        self.assertIn(good, out)
        traffic.wait_payments("ready 503 payments_disabled", 5)  # still off after the rollback

        # ---- 5. the gateway recovers; kill switch off; a test payment succeeds -------------------
        sim.faults()
        runbook.run("kill-switch-off")
        for provider in ("kakao", "naver"):
            _, loc = opstest.pay(h, provider, "approve")
            self.assertIn("paid=1", loc, f"the test payment ({provider}) did not succeed")
        traffic.wait_payments("paid", 5)

        traffic.stop()
        page_ok, page_failures, payments = traffic.snapshot()
        self.assertEqual(page_failures, [], "page requests failed during the drill")
        self.assertGreater(page_ok, 100, "too little page traffic to prove anything")
        # Counters are the host's: the reloads and the rollback reset none.
        m = h.metrics()
        failures_now = sum(v for (name, _), v in m.items() if name == "payment_failure_total")
        self.assertGreaterEqual(failures_now, failures_before)
        self.assertEqual(h.version()["release"], good)
        print(f"\ndrill: {page_ok} page requests, none failed; payments: "
              f"{json.dumps(payments, sort_keys=True)}")


if __name__ == "__main__":
    unittest.main()
