"""opstest -- helpers of the ops tests (tests/ops), on top of the integration
harness (tests/integration/mqtest.py): a real host with releases holding the
fixture plugins and the real payments plugin, the mq-pgsim gateway
simulator, a real Prometheus loading ops/prometheus/mindquiz.rules.yml, and
payments driven through the simulator the way a browser would.

Environment: as mqtest (MQ_BUILD_DIR, MQ_SOURCE_DIR, MQ_TEST_KEEP, ...).
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import mqtest  # noqa: E402
from mqtest import SCALE, BUILD_DIR, SOURCE_DIR, free_port, wait_until  # noqa: E402,F401

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PGSIM = os.path.join(BUILD_DIR, "mq-pgsim")
PAYMENTS_SO = os.path.join(BUILD_DIR, "plugins", "payments.so")
BUILD_ASSETS = os.path.join(BUILD_DIR, "assets")
RULES = os.path.join(SOURCE_DIR, "ops", "prometheus", "mindquiz.rules.yml")
PROMETHEUS_YML = os.path.join(SOURCE_DIR, "ops", "prometheus", "prometheus.yml")
DASHBOARD = os.path.join(SOURCE_DIR, "ops", "grafana", "mindquiz.json")


def need_executable(path, what):
    """A reason to skip when `path` is not an executable, else None."""
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return None
    return f"{path} not installed ({what}; see ops/install-deps.sh)"


# ---- the gateway simulator ------------------------------------------------------------


class PgSim:
    """One mq-pgsim on a free loopback port, stopped by the test's cleanup."""

    def __init__(self, test, workdir):
        self.log_path = os.path.join(workdir, "pgsim.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([PGSIM, "--listen", "127.0.0.1:0", "--quiet"],
                                     stdout=subprocess.PIPE, stderr=log)
        log.close()
        test.addCleanup(self.stop)
        line = self.proc.stdout.readline().decode("utf-8", "replace")
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            raise AssertionError(f"mq-pgsim did not start: {line!r}\n{self.log()}")
        self.url = m.group(1)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10 * SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request(self.url + path, data=data, method=method,
                                    headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(rq, timeout=10 * SCALE) as r:
            return json.loads(r.read() or b"null")

    def faults(self, **faults):
        """POST /sim/faults (merge); faults() with nothing clears them all."""
        if not faults:
            return self.request("DELETE", "/sim/faults")
        return self.request("POST", "/sim/faults", faults)

    def env(self):
        """The payments keys of a .env that points both gateways here."""
        return {
            "KAKAOPAY_API_BASE": self.url,
            "KAKAOPAY_SECRET_KEY": "DEVSIMKAKAOSECRET",
            "NAVERPAY_API_BASE": self.url,
            "NAVERPAY_PAYMENT_PAGE_BASE": self.url + "/payments",
            "NAVERPAY_PARTNER_ID": "np_sim",
            "NAVERPAY_CLIENT_ID": "SIMNAVERCLIENTID",
            "NAVERPAY_CLIENT_SECRET": "SIMNAVERCLIENTSECRET",
            "NAVERPAY_CHAIN_ID": "SIMNAVERCHAINID",
            "ORDER_SECRET": secrets.token_hex(24),
            "PAYMENTS_ENABLED": "1",
            "PAY_TIMEOUT_MS": "3000",
            "PAY_RECONCILE_INTERVAL_MS": "1000",
            # Steady test traffic comes from one address.
            "PAY_READY_PER_MINUTE": "100000",
            "PAY_READY_BURST": "10000",
        }


# ---- releases with the payments plugin ---------------------------------------------------


def payments_built():
    return os.path.isfile(PAYMENTS_SO) and os.path.isfile(os.path.join(BUILD_ASSETS, "catalog.json"))


def publish(h, rid, fixtures, payments=True):
    """Publish releases/<rid> from fixture plugins (+ the real payments.so
    and the build's assets when `payments`), with `mindquiz release` as an
    operator would. Returns the release dir."""
    h._n += 1
    src = os.path.join(h.dir, f"from-{h._n}-{rid}")
    os.makedirs(os.path.join(src, "plugins"))
    for name in fixtures:
        shutil.copyfile(mqtest.fixture(name), os.path.join(src, "plugins", name))
    if payments:
        shutil.copyfile(PAYMENTS_SO, os.path.join(src, "plugins", "payments.so"))
        shutil.copytree(BUILD_ASSETS, os.path.join(src, "assets"))
    else:
        os.makedirs(os.path.join(src, "assets"))
    r = h.cli("release", "--from", src, "--id", rid)
    if r.returncode != 0:
        raise AssertionError(f"mindquiz release --id {rid} failed ({r.returncode}):\n{r.output}")
    return os.path.join(h.releases, rid)


# ---- payments through the simulator, as a browser goes ----------------------------------------


def _get_location(url):
    """GET url without following redirects; (status, Location)."""
    p = urllib.parse.urlsplit(url)
    import http.client
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=15 * SCALE)
    try:
        conn.request("GET", p.path + ("?" + p.query if p.query else ""))
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Location")
    finally:
        conn.close()


def pay(h, provider="kakao", action="approve", result_id="demo1", via=None):
    """One payment: POST /api/pay/ready, the buyer's click on the gateway
    page (approve / cancel / fail), the gateway's redirect back to the host.
    Returns (ready response, final Location or None). `via` is another
    base URL (a proxy) to send the host requests to."""
    body = json.dumps({"provider": provider, "resultId": result_id})
    if via:
        ready = _post_json(via + "/api/pay/ready", body)
    else:
        ready = h.post("/api/pay/ready", body, headers={"Content-Type": "application/json"})
    if ready.status != 200:
        return ready, None
    redirect = ready.json()["redirectUrl"]
    if provider == "kakao":
        click = redirect + "/" + action
    else:
        reserve_id = redirect.rstrip("/").rsplit("/", 1)[-1]
        base = redirect[: redirect.index("/payments/")]
        click = f"{base}/sim/naver/{reserve_id}/{action}"
    status, back = _get_location(click)
    if status != 302 or not back:
        raise AssertionError(f"gateway page {click}: {status} (want a 302 back to the host)")
    status, final = _get_location(back)
    if status != 302:
        raise AssertionError(f"return to the host {back}: {status} (want 302)")
    return ready, final


def _post_json(url, body):
    rq = urllib.request.Request(url, data=body.encode(), method="POST",
                                headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(rq, timeout=15 * SCALE) as r:
            return mqtest.Response(r.status, r.reason, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return mqtest.Response(e.code, e.reason, e.headers, e.read())


# ---- a real Prometheus ---------------------------------------------------------------------------


class Prometheus:
    """Debian's Prometheus on a free loopback port, run with the shipped
    ops/prometheus/prometheus.yml: its /etc/prometheus paths pointed at a
    temp dir (the rules file is the tree's, the token file holds the test
    host's METRICS_TOKEN), its target at the test host, its intervals
    shortened to 1 s. `backfill` is OpenMetrics text imported as TSDB blocks
    (promtool tsdb create-blocks-from openmetrics) before the start, for
    history a test cannot wait for (last week's revenue). `config_check`
    holds what `promtool check config` said of the localized file."""

    def __init__(self, test, h, workdir, backfill=None):
        self.test = test
        pdir = os.path.join(workdir, "prometheus")
        tsdb = os.path.join(pdir, "tsdb")
        os.makedirs(tsdb)
        if backfill:
            om = os.path.join(pdir, "backfill.om")
            with open(om, "w", encoding="utf-8") as f:
                f.write(backfill)
            p = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, tsdb],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=120 * SCALE)
            if p.returncode != 0:
                raise AssertionError("promtool tsdb create-blocks-from openmetrics failed:\n"
                                     + p.stdout.decode("utf-8", "replace"))
        etc = os.path.join(pdir, "etc")
        os.makedirs(etc)
        shutil.copyfile(RULES, os.path.join(etc, "mindquiz.rules.yml"))
        with open(os.path.join(etc, "mindquiz.token"), "w", encoding="utf-8") as f:
            f.write(h.token)
        with open(PROMETHEUS_YML, encoding="utf-8") as f:
            text = f.read()
        subs = [("/etc/prometheus", etc), ("127.0.0.1:8080", f"127.0.0.1:{h.port}"),
                ("scrape_interval: 15s", "scrape_interval: 1s"),
                ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                ("evaluation_interval: 15s", "evaluation_interval: 1s")]
        for old, new in subs:
            if old not in text:
                raise AssertionError(f"{PROMETHEUS_YML} no longer contains {old!r}")
            text = text.replace(old, new)
        config = os.path.join(pdir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(config, 0o600)
        p = subprocess.run([PROMTOOL, "check", "config", config], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60 * SCALE)
        self.config_check = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0:
            raise AssertionError(f"promtool check config {config}:\n{self.config_check}")
        self.port = free_port()
        self.log_path = os.path.join(pdir, "prometheus.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--storage.tsdb.retention.time=30d"],
            stdout=log, stderr=subprocess.STDOUT, cwd=pdir)
        log.close()
        test.addCleanup(self.stop)
        wait_until(self._ready, 60, "Prometheus /-/ready", interval=0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                data = json.load(r)
        except urllib.error.HTTPError as e:
            data = json.loads(e.read() or b"{}")
            raise AssertionError(f"Prometheus {path} {params}: HTTP {e.code}: {data}") from None
        if data.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {data}")
        return data["data"]

    def query(self, expr):
        """Instant query: the result list ([{"metric": {...}, "value": [t, "v"]}, ...])."""
        return self.api("query", query=expr)["result"]

    def value(self, expr):
        """The single value of an instant query, or None when it is empty."""
        res = self.query(expr)
        if not res:
            return None
        if len(res) != 1:
            raise AssertionError(f"{expr}: {len(res)} series, want one: {res}")
        return float(res[0]["value"][1])

    def wait_value(self, expr, pred, timeout=60, what=None):
        """Wait until pred(value of expr) holds (value None when empty)."""
        last = []

        def ok():
            v = self.value(expr)
            last[:] = [v]
            return pred(v)
        try:
            wait_until(ok, timeout, what or expr, interval=0.2)
        except AssertionError:
            raise AssertionError(f"{what or expr}: last value {last} (targets: {self.targets()})") \
                from None
        return last[0]

    def targets(self):
        try:
            return [(t["labels"].get("job"), t["health"], t.get("lastError"))
                    for t in self.api("targets")["activeTargets"]]
        except AssertionError as e:
            return str(e)

    def rules(self):
        """[(group, rule name, type, health, lastError)] of the loaded rules."""
        out = []
        for g in self.api("rules")["groups"]:
            for r in g["rules"]:
                out.append((g["name"], r["name"], r["type"], r.get("health"), r.get("lastError")))
        return out
