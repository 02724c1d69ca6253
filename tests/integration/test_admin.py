"""Admin (plugins/admin) on the real host with payments and mq-pgsim: the
access matrix (no password, wrong, right by ?pass= / Bearer / Basic /
session cookie, a locked-out address, an address outside
ADMIN_ALLOW_CIDRS), no password in any log, /admin/logs filters and CSV
returning exactly the expected rows, a refund from the admin page reaching
the gateway simulator and showing in metrics and logs, /admin/status
reporting a refused reload, and backups taken and checked from /admin/files.

Client addresses: the host trusts X-Forwarded-For from 127.0.0.1
(TRUSTED_PROXIES), so each test presents its own addresses and no test's
failed logins lock another out."""
import base64
import csv
import io
import json
import os
import re
import secrets
import unittest
import urllib.parse

from mqtest import BUILD_DIR, make_writable
from paytest import PRICE, PayTestCase

PASS = "adm-" + secrets.token_hex(12)
ALLOW = "10.0.0.0/8, 127.0.0.1"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class AdminTestCase(PayTestCase):
    """A host serving payments + admin against its own mq-pgsim."""

    def start_admin(self, env=None, start=True, releases=("001-adm",),
                    plugins=("payments.so", "admin.so")):
        cfg = {"ADMIN_PASS": PASS, "TRUSTED_PROXIES": "127.0.0.1", "ADMIN_ALLOW_CIDRS": ALLOW}
        cfg.update(env or {})
        return self.start_pay(env=cfg, plugins=plugins, start=start, releases=releases)

    # -- requests ------------------------------------------------------------------

    def req(self, h, method, path, ip=None, headers=None, cookie=None, body=None):
        hdrs = dict(headers or {})
        if ip:
            hdrs["X-Forwarded-For"] = ip
        if cookie:
            hdrs["Cookie"] = cookie
        if body is not None:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return h.post(path, body=body, headers=hdrs)
        return h.request(method, path, headers=hdrs)

    def get(self, h, path, **kw):
        return self.req(h, "GET", path, **kw)

    def bearer_json(self, h, path):
        r = self.get(h, path + ("&" if "?" in path else "?") + "format=json",
                     headers={"Authorization": f"Bearer {PASS}"})
        self.assertEqual(r.status, 200, r)
        return r.json()

    def login(self, h, ip=None, path="/admin/status"):
        """?pass= on a page: the session cookie ("mq_admin=<id>")."""
        r = self.get(h, f"{path}?pass={urllib.parse.quote(PASS)}", ip=ip)
        self.assertEqual(r.status, 303, r)
        return r.headers["Set-Cookie"].split(";", 1)[0]

    def csrf_of(self, html):
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
        self.assertIsNotNone(m, "the page carries a CSRF token")
        return m.group(1)

    def post_form(self, h, path, fields, cookie=None, ip=None, origin=True, headers=None):
        hdrs = dict(headers or {})
        if origin:
            hdrs["Origin"] = f"http://127.0.0.1:{h.port}"
        return self.req(h, "POST", path, ip=ip, cookie=cookie, headers=hdrs,
                        body=urllib.parse.urlencode(fields))


class AccessTest(AdminTestCase):
    def test_admin__access_matrix__each_means_and_each_refusal(self):
        h, _ = self.start_admin()
        inside = "10.1.0.1"

        # No credential: 401, a login page for people, JSON for scripts.
        r = self.get(h, "/admin/status", ip=inside)
        self.assertEqual(r.status, 401, r)
        self.assertIn('action="/admin/login"', r.text)
        self.assertTrue(r.headers.get("WWW-Authenticate"))
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        r = self.get(h, "/admin/logs?format=json", ip=inside)
        self.assertEqual((r.status, r.json()["code"]), (401, "unauthorized"))

        # Wrong password by each means: 401.
        for hdrs, path in (({}, "/admin/status?pass=nope-1"),
                           ({"Authorization": "Bearer nope-2"}, "/admin/status"),
                           ({"Authorization": basic("ops", "nope-3")}, "/admin/status")):
            r = self.get(h, path, ip="10.1.0.2", headers=hdrs)
            self.assertEqual(r.status, 401, (hdrs, path, r))

        # Right password: ?pass= on a page -> session cookie + 303 without pass.
        r = self.get(h, f"/admin/logs?provider=kakao&pass={urllib.parse.quote(PASS)}&limit=5",
                     ip=inside)
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.headers["Location"], "/admin/logs?provider=kakao&limit=5")
        cookie_line = r.headers["Set-Cookie"]
        self.assertRegex(cookie_line, r"^mq_admin=[0-9a-f]{64}; Path=/admin; Max-Age=43200; "
                                      r"HttpOnly; SameSite=Strict$")
        cookie = cookie_line.split(";", 1)[0]
        r = self.get(h, "/admin/logs?provider=kakao&limit=5", ip=inside, cookie=cookie)
        self.assertEqual(r.status, 200, r)
        self.assertIn("주문·이벤트 로그", r.text)
        # ... Bearer, Basic (any user name), ?pass= for JSON: answered directly.
        for hdrs, path in (({"Authorization": f"Bearer {PASS}"}, "/admin/status"),
                           ({"Authorization": basic("anyone", PASS)}, "/admin/files"),
                           ({"Authorization": basic("", PASS)}, "/admin/status"),
                           ({}, f"/admin/status?format=json&pass={urllib.parse.quote(PASS)}")):
            r = self.get(h, path, ip=inside, headers=hdrs)
            self.assertEqual(r.status, 200, (hdrs, path, r))
            self.assertIsNone(r.headers.get("Set-Cookie"))

        # Outside ADMIN_ALLOW_CIDRS: 403 even with the right password or cookie.
        for hdrs, path in (({"Authorization": f"Bearer {PASS}"}, "/admin/status"),
                           ({"Cookie": cookie}, "/admin/status"),
                           ({}, f"/admin/files?pass={urllib.parse.quote(PASS)}")):
            r = self.get(h, path, ip="192.0.2.10", headers=hdrs)
            self.assertEqual(r.status, 403, (hdrs, r))
            self.assertIn("허용된 네트워크", r.text)
        r = self.get(h, "/admin/status?format=json", ip="192.0.2.10",
                     headers={"Authorization": f"Bearer {PASS}"})
        self.assertEqual((r.status, r.json()["code"]), (403, "forbidden_network"))

        # Five wrong passwords in a minute lock the address out: 429, even
        # for the right password, with Retry-After; other addresses are fine.
        guesser = "10.66.0.1"
        fails_before = h.metric("admin_login_failures_total")
        for i in range(5):
            r = self.get(h, f"/admin/status?pass=guess-{i}", ip=guesser)
            self.assertEqual(r.status, 401, (i, r))
        r = self.get(h, "/admin/status", ip=guesser, headers={"Authorization": f"Bearer {PASS}"})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.headers["Retry-After"], "900")
        r = self.get(h, "/admin/status", ip="10.66.0.2",
                     headers={"Authorization": f"Bearer {PASS}"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(h.metric("admin_login_failures_total") - fails_before, 5)
        self.assertIn('admin login from "10.66.0.1" failed (pass): 5 failures in a minute, '
                      'locked out for 900 s', h.stderr())

        # The password is in no log line: access log (pass= redacted) or stderr.
        access = h.wait(lambda: (lambda a: a if any("pass=REDACTED" in e["path"] for e in a)
                                 else None)(h.read_access_log()), 10, "the access log")
        text = json.dumps(access, ensure_ascii=False)
        self.assertNotIn(PASS, text)
        self.assertNotIn(PASS, h.stderr())
        for guess in ("nope-1", "guess-0", "guess-4"):
            self.assertNotIn(guess, text)
            self.assertNotIn(guess, h.stderr())
        # ... nor in the store (sessions keep a keyed hash of the id only).
        for name in os.listdir(h.data):
            if name.endswith(".ndjson"):
                with open(os.path.join(h.data, name), encoding="utf-8") as f:
                    data = f.read()
                self.assertNotIn(PASS, data, name)
                self.assertNotIn(cookie.split("=", 1)[1], data, name)

    def test_admin__login_form_and_logout__cookie_then_refused(self):
        h, _ = self.start_admin()
        ip = "10.2.0.1"
        r = self.post_form(h, "/admin/login", {"pass": PASS, "next": "/admin/files"}, ip=ip)
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.headers["Location"], "/admin/files")
        cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        page = self.get(h, "/admin/files", ip=ip, cookie=cookie)
        self.assertEqual(page.status, 200, page)
        # Logout without the page's token is refused; with it the session ends.
        r = self.post_form(h, "/admin/logout", {}, cookie=cookie, ip=ip)
        self.assertEqual(r.status, 403, r)
        r = self.post_form(h, "/admin/logout", {"csrf": self.csrf_of(page.text)}, cookie=cookie,
                           ip=ip)
        self.assertEqual(r.status, 303, r)
        self.assertEqual(self.get(h, "/admin/files", ip=ip, cookie=cookie).status, 401)
        # A foreign page cannot log anyone in.
        r = self.post_form(h, "/admin/login", {"pass": PASS}, ip=ip, origin=False,
                           headers={"Origin": "https://evil.example"})
        self.assertEqual(r.status, 403, r)

    def test_admin__no_admin_pass__every_admin_path_404(self):
        h, _ = self.start_admin(env={"ADMIN_PASS": ""})
        for path in ("/admin", "/admin/status", f"/admin/logs?pass={PASS}", "/admin/login",
                     "/admin/files?format=json"):
            self.assertEqual(self.get(h, path).status, 404, path)
        r = self.post_form(h, "/admin/actions/backup", {}, headers={"Authorization": "Bearer x"})
        self.assertEqual(r.status, 404)
        self.assertIn("admin is off", h.stderr())


# ---- /admin/logs ---------------------------------------------------------------------------------

# 2026-11-20 10:00 KST in ms; the seeded orders are minutes after it.
BASE_MS = 1795136400000
MIN = 60000

# id, provider, status, reason, minutes after BASE
SEED_ORDERS = [
    ("MQ20261120100000aaaaaaaa01", "kakao", "approved", "", 0),
    ("MQ20261120101000aaaaaaaa02", "naver", "failed", "timeout", 10),
    ("MQ20261120102000aaaaaaaa03", "kakao", "failed", "declined", 20),
    ("MQ20261120103000aaaaaaaa04", "naver", "failed", '카드사 거절, "한도"\n초과', 30),
    ("MQ20261120104000aaaaaaaa05", "kakao", "failed", "timeout", 40),
    ("MQ20261120105000aaaaaaaa06", "naver", "canceled", "user_cancel", 50),
    ("MQ20261120110000aaaaaaaa07", "kakao", "failed", "timeout", 60),
    ("MQ20261120113000aaaaaaaa08", "naver", "approved", "", 90),
]


def seed_store(data_dir):
    """Write orders and events as the payments plugin would have, before
    the host starts (the store replays the files)."""
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, "orders.ndjson"), "w", encoding="utf-8") as o, \
            open(os.path.join(data_dir, "events.ndjson"), "w", encoding="utf-8") as e:
        for oid, prov, status, reason, m in SEED_ORDERS:
            t = BASE_MS + m * MIN
            rec = {"v": 1, "k": oid, "ts": t + 1000, "id": oid, "provider": prov,
                   "result_id": "r" + oid[-2:], "product": "premium_result", "amount": 3900,
                   "status": status, "reason": reason, "created_ms": t, "updated_ms": t + 1000}
            o.write(json.dumps(rec, ensure_ascii=False) + "\n")
            ev = {"v": 1, "k": "", "ts": t + 1000, "type": f"order.{status}", "order": oid,
                  "provider": prov, "result_id": rec["result_id"], "amount": 3900,
                  "reason": reason}
            e.write(json.dumps(ev, ensure_ascii=False) + "\n")


def expected(provider=None, status=None, reason=None, start=None, end=None):
    """Seeded order ids that pass the filters, newest first."""
    out = []
    for oid, prov, st, rsn, m in SEED_ORDERS:
        t = BASE_MS + m * MIN
        if ((provider and prov != provider) or (status and st != status)
                or (reason is not None and rsn != reason) or (start and t < start)
                or (end and t >= end)):
            continue
        out.append((oid, prov, st, rsn, t))
    return list(reversed(out))


def parse_csv(body):
    """(header, rows) of a CSV export; asserts the BOM and CRLF endings."""
    assert body.startswith(b"\xef\xbb\xbf"), body[:10]
    text = body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


class LogsTest(AdminTestCase):
    def test_admin__logs_filters_and_csv__exactly_the_expected_rows(self):
        h, _ = self.start_admin(start=False)
        seed_store(h.data)
        h.start()
        auth = {"Authorization": f"Bearer {PASS}"}

        cases = [
            ({"provider": "naver", "status": "failed"}, expected("naver", "failed")),
            ({"reason": "timeout"}, expected(reason="timeout")),
            ({"reason": "user_cancel", "provider": "naver"}, expected("naver", reason="user_cancel")),
            ({"from": "2026-11-20T10:20", "to": "2026-11-20T11:00"},
             expected(start=BASE_MS + 20 * MIN, end=BASE_MS + 60 * MIN)),
            ({"from": str((BASE_MS + 40 * MIN) // 1000), "provider": "kakao"},
             expected("kakao", start=BASE_MS + 40 * MIN)),
            ({"to": "2026-11-20", "status": "approved"}, expected(status="approved")),
            ({"from": "2026-11-21"}, []),
        ]
        for params, want in cases:
            q = urllib.parse.urlencode(dict(params, kind="orders"))
            r = self.get(h, f"/admin/logs?{q}&format=csv", headers=auth)
            self.assertEqual(r.status, 200, (params, r))
            self.assertEqual(r.headers["Content-Type"], "text/csv; charset=utf-8")
            self.assertIn("attachment;", r.headers["Content-Disposition"])
            self.assertIn(b"\r\n", r.body)
            header, rows = parse_csv(r.body)
            self.assertEqual(header[:8], ["kind", "time_kst", "ts_ms", "order", "provider",
                                          "status", "amount", "reason"])
            got = [(row[3], row[4], row[5], row[7], int(row[2])) for row in rows]
            self.assertEqual(got, want, params)
            # The JSON view holds the same rows, and the counts of every match.
            j = self.get(h, f"/admin/logs?{q}&format=json", headers=auth).json()
            self.assertEqual([x["id"] for x in j["orders"]["rows"]], [w[0] for w in want])
            counts = j["orders"]["counts"]["provider"]
            for prov in ("kakao", "naver"):
                self.assertEqual(counts.get(prov, 0), sum(1 for w in want if w[1] == prov))

        # Events filter the same way (status "failed" matches order.failed).
        r = self.get(h, "/admin/logs?kind=events&provider=kakao&status=failed&format=csv",
                     headers=auth)
        _, rows = parse_csv(r.body)
        self.assertEqual([(x[0], x[3], x[5]) for x in rows],
                         [("event", w[0], "order.failed") for w in expected("kakao", "failed")])

        # limit keeps the newest rows; the counts still cover every match.
        j = self.bearer_json(h, "/admin/logs?kind=orders&limit=2")
        self.assertEqual([x["id"] for x in j["orders"]["rows"]],
                         [w[0] for w in expected()[:2]])
        self.assertEqual(j["orders"]["matched"], len(SEED_ORDERS))
        self.assertEqual(j["orders"]["counts"]["reason"]["timeout"], 3)
        self.assertEqual(j["orders"]["counts"]["status"]["failed"], 5)

        # The page shows the distribution at the top and escapes every value.
        cookie = self.login(h)
        page = self.get(h, "/admin/logs?status=failed", cookie=cookie)
        self.assertEqual(page.status, 200)
        top = page.text.index('<table id="orders">')
        self.assertIn('data-count="provider"', page.text[:top])
        self.assertIn('data-count="reason"', page.text[:top])
        self.assertIn("카드사 거절, &quot;한도&quot;", page.text)
        self.assertIn('href="/admin/logs?status=failed&amp;format=csv"', page.text)

        r = self.get(h, "/admin/logs?from=yesterday&format=json", headers=auth)
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_filter"))


# ---- a refund from the admin page ------------------------------------------------------------------


class RefundTest(AdminTestCase):
    def refund_from_admin(self, provider):
        h, sim = self.start_admin()
        pay = self.pay_through(h, sim, provider)
        self.assert_order(h, pay, "approved")
        cancels_before = h.metric("payment_cancel_total", provider=provider)
        ip = "10.3.0.1"
        cookie = self.login(h, ip=ip)

        # The logs page offers a refund button on the approved order.
        page = self.get(h, f"/admin/logs?order={pay.order_id}", ip=ip, cookie=cookie)
        self.assertEqual(page.status, 200, page)
        form = page.text[page.text.index('action="/admin/actions/refund"'):]
        self.assertIn(f'name="order" value="{pay.order_id}"', form[:600])
        csrf = self.csrf_of(form)

        # Without the token nothing happens.
        r = self.post_form(h, "/admin/actions/refund", {"order": pay.order_id}, cookie=cookie,
                           ip=ip)
        self.assertEqual(r.status, 403, r)
        table = f"{provider}_cancel_calls"
        gw_id = pay.gateway_id if provider == "kakao" else pay.payment_id
        self.assertEqual(sim.stats().get(table, {}).get(gw_id, 0), 0)

        # With it: the answer comes after the gateway's cancel and the record.
        note = "고객 요청, \"중복\" 결제"
        r = self.post_form(h, "/admin/actions/refund",
                           {"order": pay.order_id, "reason": note, "csrf": csrf},
                           cookie=cookie, ip=ip)
        self.assertEqual(r.status, 200, r)
        self.assertIn("환불했습니다", r.text)
        self.assertEqual(sim.stats()[table][gw_id], 1)
        self.assert_order(h, pay, "refunded", "admin_refund")
        self.assertFalse(self.unlocked(h, pay.result_id))
        self.assertEqual(h.metric("payment_cancel_total", provider=provider) - cancels_before, 1)
        self.assertEqual(h.metric("admin_actions_total", action="refund", result="ok"), 1)

        # /admin/logs shows the refunded order, the payments event and ours.
        j = self.bearer_json(h, f"/admin/logs?order={pay.order_id}")
        self.assertEqual(j["orders"]["rows"][0]["status"], "refunded")
        types = [e["type"] for e in j["events"]["rows"]]
        self.assertEqual(types[:2], ["admin.refund", "order.refunded"], types)
        ours = j["events"]["rows"][0]
        self.assertEqual((ours["provider"], ours["amount"], ours["reason"]),
                         (provider, PRICE, note))
        self.assertIn("result=ok", ours["detail"])
        self.assertIn("via=session", ours["detail"])
        self.assertIn(f'admin action "refund" by "{ip}" (session) order "{pay.order_id}"',
                      h.stderr())

        # A second refund of the same order is refused, and the gateway is not called.
        r = self.post_form(h, "/admin/actions/refund",
                           {"order": pay.order_id, "csrf": csrf, "format": "json"},
                           cookie=cookie, ip=ip)
        self.assertEqual((r.status, r.json()["code"]), (409, "wrong_state"))
        self.assertEqual(sim.stats()[table][gw_id], 1)
        self.assertEqual(h.metric("admin_actions_total", action="refund", result="failed"), 1)

    def test_admin__refund_kakao__gateway_cancel_metrics_and_logs(self):
        self.refund_from_admin("kakao")

    def test_admin__refund_naver__gateway_cancel_metrics_and_logs(self):
        self.refund_from_admin("naver")


# ---- /admin/status and /admin/files ----------------------------------------------------------------


class OpsTest(AdminTestCase):
    def test_admin__status__shows_a_refused_reload_and_its_reason(self):
        h, _ = self.start_admin(releases=("001-adm", "002-bad"))
        gen = h.version()["generation"]
        # A plugin changed after publishing: its checksum no longer matches.
        path = os.path.join(h.release_dir("002-bad"), "plugins", "payments.so")
        make_writable(os.path.dirname(path))
        make_writable(path)
        with open(path, "ab") as f:
            f.write(b"\0")
        st = h.switch("002-bad", expect_ok=False)
        self.assertEqual(st["reason"], "checksum")

        j = self.bearer_json(h, "/admin/status")
        self.assertEqual((j["generation"], j["release"]), (gen, "001-adm"))
        last = j["reloads"][0]
        self.assertEqual((last["ok"], last["reason"]), (False, "checksum"))
        self.assertTrue(last["message"])
        self.assertEqual({p["name"] for p in j["plugins"]}, {"admin", "payments"})
        self.assertTrue(j["payments_enabled"])

        page = self.get(h, "/admin/status", headers={"Authorization": f"Bearer {PASS}"})
        reloads = page.text[page.text.index('<table id="reloads">'):]
        self.assertIn('<td class="bad">실패', reloads)
        self.assertIn("<td>checksum</td>", reloads)

        # The kill switch, flipped by a reload that succeeds, shows too.
        h.set_env(PAYMENTS_ENABLED="0")
        h.switch("001-adm")
        j = self.bearer_json(h, "/admin/status")
        self.assertFalse(j["payments_enabled"])
        self.assertTrue(j["reloads"][0]["ok"])

    def test_admin__files__backup_now_and_restore_check_from_the_page(self):
        h, sim = self.start_admin()
        self.pay_through(h, sim, "kakao")
        files = self.bearer_json(h, "/admin/files")
        self.assertEqual(files["backups"], [])
        self.assertTrue(files["backup_stale"])
        self.assertIn("orders.ndjson", [f["name"] for f in files["data_files"]])

        cookie = self.login(h, path="/admin/files")
        page = self.get(h, "/admin/files", cookie=cookie)
        self.assertIn('class="stale"', page.text)
        csrf = self.csrf_of(page.text)
        r = self.post_form(h, "/admin/actions/backup", {"csrf": csrf}, cookie=cookie)
        self.assertEqual(r.status, 202, r)
        done = h.wait(lambda: (lambda j: j if j["backups"] and not j["job_running"] else None)(
            self.bearer_json(h, "/admin/files")), 30, "the backup in /admin/files")
        self.assertFalse(done["backup_stale"])
        name = done["backups"][0]["name"]
        self.assertEqual(done["backups"][0]["check"], "unchecked")

        r = self.post_form(h, "/admin/actions/restore-check", {"csrf": csrf}, cookie=cookie)
        self.assertEqual(r.status, 202, r)
        checked = h.wait(lambda: (lambda b: b if b["check"] != "unchecked" else None)(
            self.bearer_json(h, "/admin/files")["backups"][0]), 60, "the restore check")
        self.assertEqual((checked["name"], checked["check"]), (name, "ok"), checked)
        page = self.get(h, "/admin/files", cookie=cookie)
        self.assertIn('<p id="backup-age" class="fresh">', page.text)
        self.assertIn('<td class="ok">통과</td>', page.text)
        self.assertEqual(h.metric("admin_actions_total", action="backup", result="ok"), 1)
        self.assertEqual(h.metric("admin_actions_total", action="restore_check", result="ok"), 1)
        j = self.bearer_json(h, "/admin/logs?status=admin.restore_check")
        self.assertIn(f"backup={name}", j["events"]["rows"][0]["detail"])


# ---- coupons through coupons.admin ---------------------------------------------------------------

COUPONS_SO = os.path.join(BUILD_DIR, "plugins", "coupons.so")


@unittest.skipUnless(os.path.isfile(COUPONS_SO), "coupons.so is not built (-DMQ_PLUGINS)")
class CouponsTest(AdminTestCase):
    def test_admin__coupon_create_hold_disable__through_the_coupons_plugin(self):
        h, sim = self.start_admin(plugins=("payments.so", "admin.so", "coupons.so"))
        cookie = self.login(h, path="/admin/coupons")
        page = self.get(h, "/admin/coupons", cookie=cookie)
        self.assertIn('action="/admin/actions/coupon-create"', page.text)
        csrf = self.csrf_of(page.text)
        fields = {"code": "ADMIN500", "kind": "fixed", "value": "500", "total_uses": "3",
                  "per_user": "0", "valid_from": "2026-01-01", "valid_until": "2030-12-31",
                  "csrf": csrf}
        r = self.post_form(h, "/admin/actions/coupon-create", fields, cookie=cookie)
        self.assertEqual(r.status, 200, r)
        r = self.post_form(h, "/admin/actions/coupon-create", dict(fields, format="json"),
                           cookie=cookie)
        self.assertEqual((r.status, r.json()["code"]), (409, "coupon_exists"))
        listed = {c["code"]: c for c in self.bearer_json(h, "/admin/coupons")["coupons"]}
        self.assertEqual((listed["ADMIN500"]["kind"], listed["ADMIN500"]["value"],
                          listed["ADMIN500"]["total_uses"], listed["ADMIN500"]["enabled"]),
                         ("fixed", 500, 3, True))

        # A payment started with it holds one use: a live hold on /admin/status.
        self.assertEqual(self.bearer_json(h, "/admin/status")["coupon_holds_live"], 0)
        r = self.ready(h, "kakao", coupon="ADMIN500")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bearer_json(h, "/admin/status")["coupon_holds_live"], 1)

        # Disabled: listed so, and a new payment cannot use it.
        r = self.post_form(h, "/admin/actions/coupon-disable", {"code": "admin500", "csrf": csrf},
                           cookie=cookie)
        self.assertEqual(r.status, 200, r)
        listed = {c["code"]: c for c in self.bearer_json(h, "/admin/coupons")["coupons"]}
        self.assertFalse(listed["ADMIN500"]["enabled"])
        self.assertEqual(self.ready(h, "kakao", coupon="ADMIN500").status, 400)
        page = self.get(h, "/admin/coupons", cookie=cookie)
        self.assertIn("중지됨", page.text)

        self.assertEqual(h.metric("admin_actions_total", action="coupon_create", result="ok"), 1)
        self.assertEqual(h.metric("admin_actions_total", action="coupon_create", result="failed"),
                         1)
        self.assertEqual(h.metric("admin_actions_total", action="coupon_disable", result="ok"), 1)
        rows = self.bearer_json(h, "/admin/logs?kind=events&status=admin.coupon_disable")
        self.assertEqual(len(rows["events"]["rows"]), 1)
        self.assertIn("coupon=ADMIN500", rows["events"]["rows"][0]["detail"])


if __name__ == "__main__":
    unittest.main()
