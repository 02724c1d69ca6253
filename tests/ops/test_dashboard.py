"""ops/grafana/mindquiz.json against a real Prometheus scraping a real host
that has served traffic (issue 8, "dashboard"):

  - the JSON is an importable Grafana dashboard: schemaVersion, uid, a
    Prometheus datasource variable every panel and target uses, unique
    panel ids and refIds, a layout inside the 24-column grid, and every
    PromQL sample of the seed runbook's section 7 has its panel;
  - every panel query (and the reload annotation) returns data from
    Debian's Prometheus scraping `mindquiz serve`, after real traffic:
    fixture plugins, the payments plugin paying through mq-pgsim (approved,
    buyer-cancelled, declined, a gateway error at ready), a reload, a
    refused reload and a backup. Last week's revenue, which no test can
    wait for, is backfilled as a TSDB block with promtool;
  - the key panels show the right numbers (failure ratio, backup age,
    generation, serving plugins, last week's revenue);
  - that Prometheus runs the shipped ops/prometheus/prometheus.yml (paths,
    port and intervals localized; `promtool check config` passes): the
    scrape job with the token file works against the host;
  - ops/prometheus/mindquiz.rules.yml loads into it, every rule evaluates
    without error, and every recording rule has data;
  - the seed's literal failure-rate query returns nothing against this
    host's metrics (why the rules and the panel sum by provider first).
"""
import json
import re
import shutil
import tempfile
import time
import unittest

import opstest
from mqtest import HostTestCase
from opstest import DASHBOARD, PROMETHEUS, PROMTOOL, RULES, need_executable

JOB = "mindquiz"


def load_dashboard():
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def panel_queries(dash):
    """[(where, expr)] for every Prometheus query of the dashboard: panel
    targets (rows' nested panels too) and annotation queries."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"panel {p['id']} \"{p['title']}\" {t['refId']}", t["expr"]))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append((f"annotation \"{a['name']}\"", a["expr"]))
    return out


def substitute(expr):
    """Grafana's template variables, as the dashboard would send them."""
    expr = re.sub(r"\$\{job(?::\w+)?\}|\[\[job\]\]|\$job\b", JOB, expr)
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
    if "$" in expr.replace("$value", ""):
        raise AssertionError(f"unsubstituted variable in {expr!r}")
    return expr


class DashboardJsonTest(unittest.TestCase):
    """Importable as it is: what Grafana's import needs and checks."""

    def test_dashboard__json__importable_with_datasource_variable(self):
        d = load_dashboard()
        self.assertIsInstance(d.get("schemaVersion"), int)
        self.assertGreaterEqual(d["schemaVersion"], 30)
        self.assertRegex(d.get("uid", ""), r"^[A-Za-z0-9_-]{1,40}$")
        self.assertTrue(d.get("title"))
        self.assertNotIn("id", d, "an exported dashboard carries no database id (import fails on it)")
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        self.assertIn("job", variables)

        ids = []
        panels = []

        def walk(ps):
            for p in ps:
                panels.append(p)
                walk(p.get("panels", []))
        walk(d["panels"])
        for p in panels:
            ids.append(p["id"])
            g = p["gridPos"]
            self.assertTrue(0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"])
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${datasource}"},
                             p["title"])
            refs = [t["refId"] for t in p["targets"]]
            self.assertEqual(len(refs), len(set(refs)), p["title"])
            self.assertTrue(p["targets"], f"panel {p['title']} has no query")
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${datasource}", p["title"])
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")

    def test_dashboard__runbook_section_7__every_sample_has_a_panel(self):
        exprs = [re.sub(r"\s+", " ", e) for _, e in panel_queries(load_dashboard())]
        # The seed's five samples (OPERATIONS.md §7), by what each must use.
        wanted = {
            "실패율(10분)": [r"increase\(payment_failure_total\{[^}]*\}\[10m\]\)",
                          r"payment_ready_calls_total\{[^}]*\}\[10m\]"],
            "승인 처리량(5분)": [r"rate\(payment_approval_total\{[^}]*\}\[5m\]\)"],
            "5xx 증가(5분)": [r"increase\(http_5xx_total\{[^}]*\}\[5m\]\)"],
            "매출(원/시간)": [r"revenue_krw_total\{[^}]*\}\[1h\]\)"],
            "마지막 백업 경과(분)": [r"\(time\(\) - max\(mq_last_backup_timestamp\{[^}]*\}\)\) / 60"],
        }
        for name, patterns in wanted.items():
            self.assertTrue(any(all(re.search(p, e) for p in patterns) for e in exprs),
                            f"no panel query for the runbook's {name}: {patterns}")


class DashboardDataTest(HostTestCase):
    def setUp(self):
        super().setUp()
        for path, what in ((PROMETHEUS, "the Prometheus server"), (PROMTOOL, "promtool")):
            why = need_executable(path, what + ", Debian package prometheus")
            if why:
                self.skipTest(why)
        why = need_executable(opstest.PGSIM, "mq-pgsim, built with the tree")
        if why:
            self.skipTest(why)

    def last_week_revenue(self, now):
        """OpenMetrics for a backfilled block: kakao made 3,900 KRW every
        minute from 1w+2h ago to 1w-10m ago (234,000 KRW per hour)."""
        start = int(now - 7 * 86400 - 2 * 3600)
        end = int(now - 7 * 86400 + 10 * 60)
        lines = ["# TYPE revenue_krw counter"]
        v = 0
        for t in range(start, end, 60):
            lines.append(f'revenue_krw_total{{job="{JOB}",provider="kakao"}} {v} {t}')
            v += 3900
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def test_dashboard__every_panel_query__returns_data_from_a_real_prometheus(self):
        dash = load_dashboard()
        has_payments = opstest.payments_built()
        sim = opstest.PgSim(self, self._tmp()) if has_payments else None
        env = {"BACKUP_AT": "off", **(sim.env() if sim else {})}
        h = self.host(env=env)
        h.set_env(PUBLIC_BASE_URL=f"http://127.0.0.1:{h.port}")
        opstest.publish(h, "001-a", ["hello_v1.so", "store_fx.so"], payments=has_payments)
        opstest.publish(h, "002-b", ["hello_v2.so", "store_fx.so"], payments=has_payments)
        h.set_current("001-a")
        h.start()

        prom = opstest.Prometheus(self, h, h.dir, backfill=self.last_week_revenue(time.time()))
        prom.wait_value('up{job="mindquiz"}', lambda v: v == 1, what="the host scraped")

        # ---- traffic -----------------------------------------------------------------
        for _ in range(5):
            h.hello()
        self.assertEqual(h.get("/no/such/page").status, 404)
        for i in range(3):
            self.assertEqual(h.post(f"/fx/store/orders/o{i}", json.dumps({"amount": i})).status, 201)
        if has_payments:
            _, loc = opstest.pay(h, "kakao", "approve")
            self.assertIn("paid=1", loc)
            _, loc = opstest.pay(h, "naver", "approve")
            self.assertIn("paid=1", loc)
            _, loc = opstest.pay(h, "kakao", "cancel")
            self.assertIn("payment=canceled", loc)
            _, loc = opstest.pay(h, "kakao", "fail")
            self.assertIn("payment=failed", loc)
            sim.faults(fail_next={"op": "ready", "count": 1, "mode": "5xx", "status": 500})
            r, _ = opstest.pay(h, "kakao", "approve")
            self.assertEqual(r.status, 502, r.body)
            sim.faults()
        r = h.cli("backup")
        self.assertEqual(r.returncode, 0, r.output)
        # A refused reload (a bad .env value), then a good one to release 002-b.
        h.append_env_line("DRAIN_TIMEOUT_MS=soon")
        h.reload(expect_ok=False)
        h.extra_lines.clear()
        h.write_env()
        h.switch("002-b")
        gen = h.version()["generation"]
        h.hello()

        # ---- Prometheus has seen all of it, with a few samples after --------------------
        if has_payments:
            prom.wait_value('sum(payment_approval_total{job="mindquiz"})', lambda v: v == 2)
        prom.wait_value('mq_generation{job="mindquiz"}', lambda v: v == gen)
        prom.wait_value('sum(mq_reload_failures_total{job="mindquiz",reason="env"})',
                        lambda v: v == 1)
        prom.wait_value('mq_last_backup_timestamp{job="mindquiz"}', lambda v: v and v > 0)
        prom.wait_value('count_over_time(mq_generation{job="mindquiz"}[1m])',
                        lambda v: v and v >= 8, what="a few scrapes after the traffic")

        # ---- every query returns data ----------------------------------------------------
        empty = []
        checked = 0
        for where, expr in panel_queries(dash):
            if not has_payments and re.search(r"payment_|revenue_|order_sign", expr):
                continue
            q = substitute(expr)
            res = prom.query(q)
            checked += 1
            if not res:
                empty.append(f"{where}: {q}")
        self.assertEqual(empty, [], "dashboard queries with no data:\n" + "\n".join(empty))
        self.assertGreaterEqual(checked, 25)

        # ---- the key panels show the right numbers -------------------------------------------
        self.assertEqual(prom.value('max(mq_generation{job=~"mindquiz"})'), gen)
        age_min = prom.value('(time() - max(mq_last_backup_timestamp{job=~"mindquiz"})) / 60')
        self.assertLess(age_min, 5)
        plugins = {(s["metric"]["name"], s["metric"]["version"])
                   for s in prom.query('max by (name, version) (mq_plugin_info{job=~"mindquiz"})')
                   if float(s["value"][1]) == 1}
        self.assertIn(("hello", "2.0.0"), plugins)
        if has_payments:
            self.assertIn("payments", {n for n, _ in plugins})
            ratio = {s["metric"]["provider"]: float(s["value"][1]) for s in prom.query(
                'sum by (provider) (increase(payment_failure_total{job=~"mindquiz",'
                'reason!="user_cancel"}[10m])) / clamp_min(sum by (provider) '
                '(increase(payment_ready_calls_total{job=~"mindquiz"}[10m])), 1)')}
            # kakao: 4 starts, 2 non-cancel failures (declined, gateway_error).
            self.assertAlmostEqual(ratio["kakao"], 0.5, delta=0.01)
            self.assertEqual(ratio["naver"], 0)
            last_week = prom.value('sum(increase(revenue_krw_total{job=~"mindquiz"}[1h] offset 1w))')
            self.assertAlmostEqual(last_week, 234000, delta=234000 * 0.05)

            # The seed's query, literally: the failure counter's `reason`
            # label matches no ready-calls series, so it has no data.
            seed = ("rate(payment_failure_total[10m]) / "
                    "clamp_min(rate(payment_ready_calls_total[10m]), 1)")
            self.assertEqual(prom.query(seed), [], "the seed's query unexpectedly matched")

        # ---- the rules: loaded, healthy, recording rules with data -----------------------------
        def rules_evaluated():
            rules = prom.rules()
            return rules if rules and all(r[3] == "ok" for r in rules) else None
        try:
            rules = opstest.wait_until(rules_evaluated, 30, "every rule evaluated with health ok",
                                       interval=0.5)
        except AssertionError:
            self.fail(f"rules not healthy: {prom.rules()}")
        names = {r[1] for r in rules}
        with open(RULES, encoding="utf-8") as f:
            records = re.findall(r"^\s*- record: (\S+)", f.read(), re.M)
        self.assertTrue(records)
        no_data = []
        for rec in records:
            self.assertIn(rec, names)
            if not has_payments and ("payment" in rec or "revenue" in rec):
                continue
            if not prom.query(rec):
                no_data.append(rec)
        self.assertEqual(no_data, [], "recording rules without data")
        if has_payments:
            ratio = {s["metric"]["provider"]: float(s["value"][1])
                     for s in prom.query("job_provider:payment_failure_ratio:10m")}
            self.assertAlmostEqual(ratio["kakao"], 0.5, delta=0.01)

    def _tmp(self):
        d = tempfile.mkdtemp(prefix="mq-ops-sim-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d


if __name__ == "__main__":
    unittest.main()
