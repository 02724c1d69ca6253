"""paytest -- what the payments integration tests (test_payments*.py) share.

Each test runs the real `mindquiz serve` with a release published from the
build (<build>/plugins/payments.so + <build>/assets) and a real mq-pgsim as
both gateways, and acts as the buyer's browser would: POST /api/pay/ready,
open the redirectUrl page at the simulator, "click" a button (a GET whose
302 goes back to the host's return URL), follow that to the host and read
its 302 to /app/result/<resultId>?... Assertions read what a user or an
operator sees: statuses and redirects, GET /api/pay/order/:id and
/api/pay/unlocked/:resultId, /metrics, the host's log lines, the
simulator's /sim/stats and /sim/state.
"""

import json
import os
import re
import secrets
import threading
import urllib.parse

from mqtest import BUILD_DIR, HostTestCase

# The simulator's default credentials (tests/pgsim/README.md).
KAKAO_SECRET = "DEVSIMKAKAOSECRET"
NAVER_PARTNER = "np_sim"
NAVER_CLIENT_ID = "SIMNAVERCLIENTID"
NAVER_CLIENT_SECRET = "SIMNAVERCLIENTSECRET"
NAVER_CHAIN_ID = "SIMNAVERCHAINID"

PROVIDERS = ("kakao", "naver")

# The payments plugin's metric families (plugins/payments/README.md).
PAY_METRICS = ("payment_ready_calls_total", "payment_approval_total", "payment_failure_total",
               "payment_cancel_total", "revenue_krw_total", "order_sign_calls_total")


def catalog_price(product="premium_result"):
    """The price the release sells `product` at: <build>/assets/catalog.json."""
    with open(os.path.join(BUILD_DIR, "assets", "catalog.json"), encoding="utf-8") as f:
        return int(json.load(f)["products"][product]["amount"])


PRICE = catalog_price()


def new_result_id():
    return "r" + secrets.token_hex(6)


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


def pay_metrics(h):
    """The payments series of /metrics as {'name{labels}': value}."""
    out = {}
    for (name, labels), value in h.metrics().items():
        if name in PAY_METRICS:
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
            out[f"{name}{{{lab}}}" if lab else name] = value
    return out


def metric_moves(before, after):
    """{series: after - before} for the series that moved."""
    keys = set(before) | set(after)
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in sorted(keys)
            if after.get(k, 0.0) != before.get(k, 0.0)}


def series(name, provider=None, reason=None):
    """The metric_moves key of one series."""
    labels = []
    if provider is not None:
        labels.append(f'provider="{provider}"')
    if reason is not None:
        labels.append(f'reason="{reason}"')
    return f"{name}{{{','.join(labels)}}}" if labels else name


class Payment:
    """One buyer's checkout, as far as it got."""

    def __init__(self, provider, result_id, order_id, redirect_url):
        self.provider = provider
        self.result_id = result_id
        self.order_id = order_id
        self.redirect_url = redirect_url
        # The gateway's id of the payment: KakaoPay's tid, NaverPay's reserveId
        # (the last path segment of the page URL either way).
        self.gateway_id = urllib.parse.urlsplit(redirect_url).path.rsplit("/", 1)[-1]
        self.return_url = None  # where the gateway sent the browser back
        self.payment_id = None  # NaverPay's paymentId (from the return URL)


class PayTestCase(HostTestCase):
    """A host serving the payments plugin against its own mq-pgsim."""

    def start_pay(self, env=None, sim_args=(), releases=("001-pay",), api_base=None, start=True,
                  plugins=("payments.so",)):
        """Start mq-pgsim and a host configured for it; publish `releases`
        (of `plugins` from the build, and its assets) and serve the first.
        api_base: where the plugin calls the gateways' APIs (default: the
        simulator). Returns (host, sim)."""
        sim = self.pgsim(*sim_args)
        self.order_secret = secrets.token_hex(24)
        cfg = {
            "ORDER_SECRET": self.order_secret,
            "KAKAOPAY_API_BASE": api_base or sim.base,
            "KAKAOPAY_SECRET_KEY": KAKAO_SECRET,
            "NAVERPAY_API_BASE": api_base or sim.base,
            "NAVERPAY_PARTNER_ID": NAVER_PARTNER,
            "NAVERPAY_CLIENT_ID": NAVER_CLIENT_ID,
            "NAVERPAY_CLIENT_SECRET": NAVER_CLIENT_SECRET,
            "NAVERPAY_CHAIN_ID": NAVER_CHAIN_ID,
            "NAVERPAY_PAYMENT_PAGE_BASE": f"{sim.base}/payments",
            "PAY_RECONCILE_INTERVAL_MS": "200",
            "PAY_RETURN_WAIT_MS": "5000",
            "PAY_TIMEOUT_MS": "5000",
            "PAY_READY_PER_MINUTE": "600",
            "PAY_READY_BURST": "100",
        }
        cfg.update(env or {})
        h = self.host(env=cfg)
        # The return URLs name the host's own port, whichever start() settles on.
        h.env_fn = lambda: {"PUBLIC_BASE_URL": f"http://127.0.0.1:{h.port}"}
        h.write_env()
        for rid in releases:
            h.publish_build(rid, plugins=list(plugins))
        h.set_current(releases[0])
        if start:
            h.start()
        return h, sim

    # -- the buyer -----------------------------------------------------------------

    def ready(self, h, provider, result_id=None, headers=None, **extra):
        """POST /api/pay/ready; returns the Response."""
        body = {"provider": provider, "resultId": result_id or new_result_id(), **extra}
        return h.post("/api/pay/ready", json.dumps(body),
                      headers=dict({"Content-Type": "application/json"}, **(headers or {})))

    def start_payment(self, h, sim, provider, result_id=None, **extra):
        """A payment start that must succeed: 200 {orderId, redirectUrl} with
        the redirect at the simulator's page for this provider."""
        result_id = result_id or new_result_id()
        r = self.ready(h, provider, result_id, **extra)
        self.assertEqual(r.status, 200, f"POST /api/pay/ready ({provider}): {r}")
        body = r.json()
        self.assertRegex(body["orderId"], r"^MQ\d{14}[0-9a-f]{10}$")
        page = "/sim/kakao/" if provider == "kakao" else "/payments/"
        self.assertTrue(body["redirectUrl"].startswith(sim.base + page),
                        f"redirectUrl {body['redirectUrl']!r} is not the {provider} page of {sim.base}")
        return Payment(provider, result_id, body["orderId"], body["redirectUrl"])

    def open_page(self, sim, pay, amount=PRICE):
        """GET the gateway's page: 200, the amount shown (the catalog's), and
        the buttons' links by action (approve, cancel, fail[, expire])."""
        r = sim.get(pay.redirect_url)
        self.assertEqual(r.status, 200, f"GET {pay.redirect_url}: {r}")
        html = r.text
        self.assertIn(f"{amount:,}원", html, "the page shows the amount to pay")
        self.assertIn(pay.order_id, html, "the page names the merchant's order")
        links = dict(re.findall(r'id="(\w+)" href="([^"]+)"', html))
        self.assertIn("approve", links, html[-600:])
        return {k: v.replace("&amp;", "&") for k, v in links.items()}

    def click(self, h, sim, pay, action="approve", amount=PRICE):
        """Open the page and click `action`: the gateway's 302 must send the
        browser back to this host. Returns (and remembers) that return URL."""
        links = self.open_page(sim, pay, amount)
        r = sim.get(links[action])
        self.assertEqual(r.status, 302, f"click {action} at {links[action]}: {r}")
        loc = r.headers["Location"]
        base = f"http://127.0.0.1:{h.port}/api/pay/{pay.provider}/"
        self.assertTrue(loc.startswith(base), f"the gateway sent the browser to {loc!r}")
        pay.return_url = loc
        if pay.provider == "naver":
            pay.payment_id = query_of(loc).get("paymentId") or pay.payment_id
        return loc

    def follow(self, h, url, timeout=30):
        """GET a URL of this host (a gateway's return URL); the Response."""
        prefix = f"http://127.0.0.1:{h.port}"
        self.assertTrue(url.startswith(prefix + "/"), f"{url!r} does not point at the host")
        return h.get(url[len(prefix):], timeout=timeout)

    def assert_result_redirect(self, h, r, pay, query):
        """r is the 302 to PUBLIC_BASE_URL/app/result/<resultId>?<query>."""
        self.assertEqual(r.status, 302, f"return for {pay.order_id}: {r}")
        want = f"http://127.0.0.1:{h.port}/app/result/{pay.result_id}?{query}"
        self.assertEqual(r.headers["Location"], want)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")

    def pay_through(self, h, sim, provider, result_id=None):
        """ready -> page -> approve -> return: an approved payment."""
        pay = self.start_payment(h, sim, provider, result_id)
        self.click(h, sim, pay, "approve")
        self.assert_result_redirect(h, self.follow(h, pay.return_url), pay, "paid=1")
        return pay

    # -- what the host says about it -----------------------------------------------

    def order(self, h, order_id):
        return h.get_json(f"/api/pay/order/{order_id}")

    def assert_order(self, h, pay, status, reason=""):
        o = self.order(h, pay.order_id)
        self.assertEqual((o["status"], o["reason"]), (status, reason), o)
        self.assertEqual((o["orderId"], o["provider"], o["resultId"], o["amount"], o["currency"]),
                         (pay.order_id, pay.provider, pay.result_id, PRICE, "KRW"), o)
        self.assertEqual(o["paid"], status == "approved", o)
        return o

    def unlocked(self, h, result_id):
        return h.get_json(f"/api/pay/unlocked/{result_id}")["premium"]

    def wait_order(self, h, pay, status, timeout=15):
        """Wait until GET /api/pay/order/:id shows `status`; the order."""
        return h.wait(lambda: (lambda o: o if o["status"] == status else None)(
            self.order(h, pay.order_id)), timeout, f"order {pay.order_id} {status}")

    # -- what the gateway saw -------------------------------------------------------

    def approve_calls(self, sim, pay):
        """Approve (KakaoPay) / apply (NaverPay) calls the simulator received
        for this payment."""
        st = sim.stats()
        if pay.provider == "kakao":
            return st.get("kakao_approve_calls", {}).get(pay.gateway_id, 0)
        return st.get("naver_apply_calls", {}).get(pay.payment_id or "", 0)

    def gateway_record(self, sim, pay):
        """The simulator's record of this payment (GET /sim/state)."""
        return sim.state()["kakao" if pay.provider == "kakao" else "naver"][pay.gateway_id]

    def calls(self, sim, op):
        """How many calls of `op` (e.g. "kakao.order") the simulator received."""
        return sim.stats().get("calls", {}).get(op, 0)

    def expected_moves(self, provider, ready=0, approvals=0, signs=0, failures=None, cancels=0):
        """The metric_moves of a scenario, for assertEqual."""
        want = {}
        if ready:
            want[series("payment_ready_calls_total", provider)] = float(ready)
        if approvals:
            want[series("payment_approval_total", provider)] = float(approvals)
            want[series("revenue_krw_total", provider)] = float(approvals * PRICE)
        for reason, n in (failures or {}).items():
            want[series("payment_failure_total", provider, reason)] = float(n)
        if cancels:
            want[series("payment_cancel_total", provider)] = float(cancels)
        if signs:
            want["order_sign_calls_total"] = float(signs)
        return want


def concurrently(n, fn):
    """Run fn(i) for i in range(n) in n threads released at the same moment;
    returns the results (or raises the first exception)."""
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            barrier.wait(30)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 -- re-raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise AssertionError("concurrent requests still running after 120 s")
    return results

