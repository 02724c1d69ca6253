"""/metrics as Prometheus and an operator see it (issue 3, "Metrics"):

  - counters are host-owned: ten reloads, alternating releases, change no
    counter but the reload count and the scrapes themselves;
  - the exposition passes `promtool check metrics`;
  - a real Prometheus (Debian's `prometheus` package) scrapes the host on
    loopback with the bearer token and answers queries; a wrong token
    makes the target down;
  - no METRICS_TOKEN: 403 and a warning at start.

The Prometheus tests skip, saying why, when /usr/bin/prometheus or
/usr/bin/promtool is missing (CI installs the package: ops/install-deps.sh).
"""
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from mqtest import SCALE, HostTestCase, free_port, metric, parse_prometheus, wait_until

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def metric_types(text):
    """{family name: type} from the # TYPE lines."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            out[parts[2]] = parts[3]
    return out


def family_of(sample_name, types):
    for suffix in ("_bucket", "_sum", "_count", ""):
        if sample_name.endswith(suffix):
            base = sample_name[:len(sample_name) - len(suffix)] if suffix else sample_name
            if base in types:
                return base
    return sample_name


class HostMixin:
    def fx_host(self, env=None):
        """Releases 001-a (hello 1.0.0 + store_fx) and 002-b (hello 2.0.0 +
        store_fx); serving 001-a."""
        h = self.host(env={"BACKUP_AT": "off", **(env or {})})
        h.publish("001-a", ["hello_v1.so", "store_fx.so"])
        h.publish("002-b", ["hello_v2.so", "store_fx.so"])
        h.set_current("001-a")
        return h.start()

    def metrics_text(self, h, token=None):
        r = h.get("/metrics", headers={"Authorization": f"Bearer {token or h.token}"})
        self.assertEqual(r.status, 200, r.body[:300])
        return r


# ---- counters across reloads ------------------------------------------------------------


class CountersAcrossReloadsTest(HostMixin, HostTestCase):
    def test_metrics__ten_reloads_alternating_releases__counters_unchanged(self):
        h = self.fx_host()
        for _ in range(5):
            self.assertEqual(h.hello(), "1.0.0")
        for i in range(3):
            r = h.post(f"/fx/store/orders/o{i}", json.dumps({"amount": 100 * i}))
            self.assertEqual(r.status, 201, r.body)
        self.assertEqual(h.get("/no/such/page").status, 404)
        h.switch("002-b")
        for _ in range(2):
            self.assertEqual(h.hello(), "2.0.0")

        r = self.metrics_text(h)
        before, types = parse_prometheus(r.text), metric_types(r.text)
        reloads_before = metric(before, "mq_reloads_total", result="ok")

        for i in range(10):
            h.switch(("001-a", "002-b")[i % 2])

        after = parse_prometheus(self.metrics_text(h).text)
        self.assertEqual(h.version()["release"], "002-b")

        # The numbers a dashboard shows, by name.
        self.assertEqual(metric(after, "fx_hello_requests_total", version="1.0.0"), 5)
        self.assertEqual(metric(after, "fx_hello_requests_total", version="2.0.0"), 2)
        self.assertEqual(metric(after, "http_requests_total", route="/fx/hello", status="200"), 7)
        self.assertEqual(metric(after, "http_requests_total", route="/fx/store/:coll/:key",
                                status="201"), 3)
        self.assertEqual(metric(after, "mq_reloads_total", result="ok"), reloads_before + 10)
        self.assertEqual(metric(after, "mq_generation"), h.version()["generation"])
        info = {dict(k[1])["name"]: dict(k[1])["version"] for k, v in after.items()
                if k[0] == "mq_plugin_info" and v == 1}
        self.assertEqual(info, {"hello": "2.0.0", "store_fx": "1.0.0"},
                         "mq_plugin_info does not show exactly the serving plugins")
        self.assertEqual(metric(after, "mq_store_records", collection="orders"), 3)

        # Every counter sample: unchanged, except the reloads and the one
        # /metrics request counted after the first scrape rendered.
        changed = []
        for key, value in before.items():
            name, labels = key
            fam = family_of(name, types)
            if types.get(fam) not in ("counter", "histogram"):
                continue
            want = value
            if name == "mq_reloads_total" and dict(labels) == {"result": "ok"}:
                want = value + 10
            elif dict(labels).get("route") == "/metrics":
                continue  # the scrapes themselves
            if after.get(key) != want:
                changed.append((name, dict(labels), value, after.get(key)))
        self.assertEqual(changed, [],
                         "counters changed across reloads (name, labels, before, after)")
        scrapes = [k for k in after if k[0] == "http_requests_total"
                   and dict(k[1]).get("route") == "/metrics"]
        for key in scrapes:
            self.assertEqual(after[key] - before.get(key, 0), 1, key)

        # The records the counters talk about are all still served.
        self.assertEqual(h.get_json("/fx/store/orders"), {"latest": 3, "all": 3})


class MetricsTokenTest(HostMixin, HostTestCase):
    def test_metrics__no_token_configured__403_and_warning_at_start(self):
        h = self.host(env={"BACKUP_AT": "off", "METRICS_TOKEN": ""})
        h.start()

        r = h.get("/metrics", headers={"Authorization": f"Bearer {h.token}"})

        self.assertEqual(r.status, 403)
        self.assertEqual(r.json()["code"], "metrics_disabled")
        self.assertRegex(h.stderr(), r"\[warn\][^\n]*METRICS_TOKEN",
                         "no warning at start that /metrics is disabled")

    def test_metrics__content_type__prometheus_text_0_0_4(self):
        h = self.fx_host()
        r = self.metrics_text(h)
        ctype = r.headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertIn("version=0.0.4", ctype)


# ---- promtool and a real Prometheus ----------------------------------------------------------


def _need(path, what):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return (f"{path} not installed ({what}; Debian package `prometheus`, "
                "see ops/install-deps.sh)")
    return None


class PromtoolTest(HostMixin, HostTestCase):
    def setUp(self):
        super().setUp()
        why = _need(PROMTOOL, "promtool")
        if why:
            self.skipTest(why)

    def test_metrics__busy_host__promtool_check_metrics_passes(self):
        h = self.fx_host()
        for i in range(3):
            h.hello()
            h.post(f"/fx/store/orders/o{i}", json.dumps({"amount": i}))
        h.get("/no/such/page")
        h.get("/metrics")  # a 401, counted too
        r = h.cli("backup")
        self.assertEqual(r.returncode, 0, r.output)
        h.switch("002-b")
        h.hello()
        body = self.metrics_text(h).body

        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60 * SCALE)

        self.assertEqual(p.returncode, 0, "promtool check metrics:\n"
                         + p.stdout.decode("utf-8", "replace"))
        m = parse_prometheus(body.decode())
        for name in ("http_5xx_total", "mq_last_backup_timestamp", "mq_generation",
                     "process_resident_memory_bytes", "process_open_fds",
                     "process_start_time_seconds", "mq_store_sync_failures_total"):
            self.assertIn((name, frozenset()), m, name)


class PrometheusServerTest(HostMixin, HostTestCase):
    def setUp(self):
        super().setUp()
        why = _need(PROMETHEUS, "the Prometheus server")
        if why:
            self.skipTest(why)

    def start_prometheus(self, h):
        pdir = os.path.join(h.dir, "prometheus")
        os.makedirs(os.path.join(pdir, "tsdb"))
        config = os.path.join(pdir, "prometheus.yml")
        target = f"127.0.0.1:{h.port}"
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"""# written by tests/integration/test_prometheus.py
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mindquiz
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: "{h.token}"
    static_configs:
      - targets: ["{target}"]
  - job_name: mindquiz_wrong_token
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: "not-{h.token}"
    static_configs:
      - targets: ["{target}"]
""")
        os.chmod(config, 0o600)
        self.prom_port = free_port()
        log = open(os.path.join(pdir, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={pdir}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.prom_port}",
             "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT, cwd=pdir)
        self.prom_log = log.name

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.addCleanup(stop)
        self.prom = proc
        wait_until(lambda: self._prom_ready(), 60, "Prometheus /-/ready")
        return proc

    def _prom_ready(self):
        if self.prom.poll() is not None:
            with open(self.prom_log, encoding="utf-8", errors="replace") as f:
                raise AssertionError(f"prometheus exited with {self.prom.returncode}:\n"
                                     f"{f.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.prom_port}/-/ready",
                                        timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def query(self, expr):
        """Instant query: {job: float value} of the result vector."""
        url = (f"http://127.0.0.1:{self.prom_port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as r:
            data = json.load(r)
        self.assertEqual(data.get("status"), "success", data)
        return {s["metric"].get("job", ""): float(s["value"][1]) for s in data["data"]["result"]}

    def wait_query(self, expr, job, want, timeout=60):
        def ok():
            return self.query(expr).get(job) == want
        try:
            wait_until(ok, timeout, f"Prometheus: {expr} == {want} for job {job}", interval=0.2)
        except AssertionError:
            raise AssertionError(f"{expr}: {self.query(expr)} (want {job}={want}); "
                                 f"targets: {self.targets()}") from None

    def targets(self):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.prom_port}/api/v1/targets", timeout=5) as r:
                data = json.load(r)
            return [(t["labels"].get("job"), t["health"], t.get("lastError"))
                    for t in data["data"]["activeTargets"]]
        except (OSError, ValueError, KeyError) as e:
            return repr(e)

    def test_prometheus__scrapes_with_bearer_token__answers_generation_query(self):
        h = self.fx_host()
        gen = h.version()["generation"]
        h.hello()
        self.start_prometheus(h)

        self.wait_query("up", "mindquiz", 1.0)
        self.wait_query("mq_generation", "mindquiz", float(gen))
        self.wait_query("up", "mindquiz_wrong_token", 0.0)
        self.assertNotIn("mindquiz_wrong_token", self.query("mq_generation"))
        self.assertEqual(self.query('fx_hello_requests_total{version="1.0.0"}').get("mindquiz"), 1)
        # The refused scrapes are visible to the operator as 401s.
        h.wait(lambda: h.metric("http_requests_total", route="/metrics", status="401") > 0, 30,
               "the wrong-token scrapes counted as 401")

        # A reload: Prometheus sees the new generation, and no scrape failed.
        h.switch("002-b")
        new_gen = h.version()["generation"]
        self.assertGreater(new_gen, gen)
        self.wait_query("mq_generation", "mindquiz", float(new_gen))
        self.assertEqual(self.query('min_over_time(up{job="mindquiz"}[5m])').get("mindquiz"), 1.0)
        self.assertEqual(self.query('fx_hello_requests_total{version="1.0.0"}').get("mindquiz"), 1)
