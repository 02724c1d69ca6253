#!/usr/bin/env python3
"""test_pgsim -- protocol tests of mq-pgsim, the KakaoPay / NaverPay gateway
simulator (tests/pgsim). Each test starts its own mq-pgsim on port 0 with its
own temp dir, drives it over HTTP with the standard library only, and stops
it with SIGTERM, asserting exit 0 and no sanitizer report.

    MQ_BUILD_DIR=/tmp/build python3 tests/pgsim/test_pgsim.py [-k pattern]

Environment: MQ_BUILD_DIR (the CMake build dir holding mq-pgsim),
MQ_TEST_TIMEOUT_SCALE (default 3 for a -DMQ_SANITIZE=ON build, else 1),
MQ_TEST_KEEP (keep temp dirs of passing tests too).
"""

import http.client
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True

BUILD_DIR = os.environ.get("MQ_BUILD_DIR") or ""
PGSIM = os.path.join(BUILD_DIR, "mq-pgsim")


def _sanitized_build():
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("MQ_SANITIZE:"):
                    return line.strip().split("=", 1)[1].upper() in ("ON", "1", "TRUE", "YES")
    except OSError:
        pass
    return False


SCALE = float(os.environ.get("MQ_TEST_TIMEOUT_SCALE") or (3 if _sanitized_build() else 1))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")

KAKAO_SECRET = "DEVSIMKAKAOSECRET"
KAKAO_ADMIN = "SIMKAKAOADMINKEY"
NAVER_PARTNER = "np_sim"
NAVER_HEADERS = {
    "X-Naver-Client-Id": "SIMNAVERCLIENTID",
    "X-Naver-Client-Secret": "SIMNAVERCLIENTSECRET",
    "X-NaverPay-Chain-Id": "SIMNAVERCHAINID",
}
JSON_CT = "application/json"
FORM_CT = "application/x-www-form-urlencoded;charset=utf-8"


def wait_until(pred, timeout, what):
    """pred() until truthy (returned); fail after timeout * SCALE seconds."""
    deadline = time.monotonic() + timeout * SCALE
    interval = 0.001
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 2, 0.02)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"response {self.status} is not JSON: {self.body[:300]!r}") from e

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


class Sim:
    """One mq-pgsim process on a free port."""

    def __init__(self, tmpdir, *args, name="sim"):
        self.dir = tmpdir
        self.args = list(args)
        self.stderr_path = os.path.join(tmpdir, f"{name}.stderr")
        self.proc = None
        self.stopped = False
        self.base = None
        self.port = None

    def start(self):
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([PGSIM, "--listen", "127.0.0.1:0", *self.args],
                                         stdout=subprocess.PIPE, stderr=err)
        line = self._read_line(10)
        m = re.fullmatch(r"mq-pgsim listening on (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            raise AssertionError(f"unexpected first line {line!r}:\n{self.stderr_tail()}")
        self.base, self.port = m.group(1), int(m.group(2))
        return self

    def _read_line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout * SCALE
        buf = b""
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise AssertionError(f"mq-pgsim printed no ready line:\n{self.stderr_tail()}")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"mq-pgsim exited ({self.proc.wait()}) before it was "
                                         f"ready:\n{self.stderr_tail()}")
                buf += chunk
        finally:
            sel.close()
        return buf.split(b"\n", 1)[0].decode()

    def stderr_tail(self, n=30):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; assert a clean exit 0 without sanitizer reports. Idempotent."""
        if not self.proc or self.stopped:
            return
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15 * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"mq-pgsim ignored SIGTERM:\n{self.stderr_tail()}")
        finally:
            self.proc.stdout.close()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                raise AssertionError(f"sanitizer report in {self.stderr_path}:\n{text[-4000:]}")
        if rc != 0:
            raise AssertionError(f"mq-pgsim exited {rc}:\n{self.stderr_tail()}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # -- HTTP ------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SCALE)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body, ensure_ascii=False).encode()
            elif isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def kakao(self, op, fields, legacy=False, auth=None, ctype=None, timeout=10):
        if legacy:
            path = f"/v1/payment/{op}"
            headers = {"Authorization": auth or f"KakaoAK {KAKAO_ADMIN}",
                       "Content-Type": ctype or FORM_CT}
            body = urllib.parse.urlencode(fields)
        else:
            path = f"/online/v1/payment/{op}"
            headers = {"Authorization": auth or f"SECRET_KEY {KAKAO_SECRET}",
                       "Content-Type": ctype or JSON_CT}
            body = fields
        return self.request("POST", path, body=body, headers=headers, timeout=timeout)

    def naver(self, api, body, idem=None, headers=None, partner=NAVER_PARTNER, timeout=10):
        form = "apply" in api or "cancel" in api
        h = dict(NAVER_HEADERS)
        h["Content-Type"] = FORM_CT if form else JSON_CT
        if idem:
            h["X-NaverPay-Idempotency-Key"] = idem
        if headers is not None:
            h.update(headers)
            h = {k: v for k, v in h.items() if v is not None}
        data = urllib.parse.urlencode(body) if form else body
        return self.request("POST", f"/{partner}/naverpay/payments/{api}", body=data, headers=h,
                            timeout=timeout)

    def faults(self, **faults):
        r = self.request("POST", "/sim/faults", body=faults)
        if r.status != 200:
            raise AssertionError(f"POST /sim/faults {faults}: {r}")
        return r.json()

    def state(self):
        return self.get("/sim/state").json()

    def stats(self):
        return self.get("/sim/stats").json()


def location(resp):
    if resp.status != 302:
        raise AssertionError(f"expected a 302 redirect, got {resp}")
    return resp.headers["Location"]


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))


class PgsimTest(unittest.TestCase):
    """Starts one mq-pgsim per test (self.sim); more with self.start_sim()."""

    sim_args = ()

    def setUp(self):
        if not BUILD_DIR or not os.access(PGSIM, os.X_OK):
            self.fail(f"MQ_BUILD_DIR must name a build dir holding mq-pgsim ({PGSIM!r})")
        self.tmp = tempfile.mkdtemp(prefix=f"pgsim-{self._testMethodName[:40]}-")
        self._sims = []
        self.sim = self.start_sim(*self.sim_args)

    def start_sim(self, *args, name=None):
        s = Sim(self.tmp, *args, name=name or f"sim{len(self._sims)}")
        self._sims.append(s)
        return s.start()

    def tearDown(self):
        errors = []
        for s in self._sims:
            try:
                s.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            self.fail("\n".join(errors))

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        res = result or out
        failed = res is not None and len(res.failures) + len(res.errors) > before
        for s in getattr(self, "_sims", []):
            s.kill()
        if hasattr(self, "tmp"):
            if failed or os.environ.get("MQ_TEST_KEEP"):
                sys.stderr.write(f"\n[{self.id()}] kept temp dir: {self.tmp}\n")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return out

    # -- KakaoPay helpers -----------------------------------------------------------

    def kakao_ready(self, legacy=False, **over):
        fields = {
            "cid": "TC0ONETIME",
            "partner_order_id": "order-1",
            "partner_user_id": "user-1",
            "item_name": "MBTI 프리미엄 결과",
            "quantity": 1,
            "total_amount": 4900,
            "tax_free_amount": 0,
            "approval_url": "http://shop.test/pay/kakao/approve?order=order-1",
            "cancel_url": "http://shop.test/pay/kakao/cancel?order=order-1",
            "fail_url": "http://shop.test/pay/kakao/fail?order=order-1",
        }
        fields.update(over)
        r = self.sim.kakao("ready", fields, legacy=legacy)
        self.assertEqual(r.status, 200, r)
        return fields, r.json()

    def kakao_authorize(self, tid, **query):
        path = f"/sim/kakao/{tid}/approve"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        url = location(self.sim.get(path))
        token = query_of(url).get("pg_token", "")
        self.assertRegex(token, r"^[0-9a-f]{20}$", url)
        return url, token

    def kakao_approve(self, fields, tid, token, legacy=False, **over):
        body = {"cid": fields["cid"], "tid": tid, "partner_order_id": fields["partner_order_id"],
                "partner_user_id": fields["partner_user_id"], "pg_token": token}
        body.update(over)
        return self.sim.kakao("approve", body, legacy=legacy)

    def kakao_order(self, tid, legacy=False, cid="TC0ONETIME"):
        r = self.sim.kakao("order", {"cid": cid, "tid": tid}, legacy=legacy)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def kakao_paid(self, **over):
        """ready + page approve + approve: (ready fields, tid)."""
        fields, ready = self.kakao_ready(**over)
        _, token = self.kakao_authorize(ready["tid"])
        r = self.kakao_approve(fields, ready["tid"], token)
        self.assertEqual(r.status, 200, r)
        return fields, ready["tid"]

    def assert_kakao_error(self, r, status=400, code=-780, legacy=False):
        self.assertEqual(r.status, status, r)
        body = r.json()
        if legacy:
            self.assertEqual(body.get("code"), code, body)
            self.assertIsInstance(body.get("msg"), str, body)
        else:
            self.assertEqual(body.get("error_code"), code, body)
            self.assertIsInstance(body.get("error_message"), str, body)
        self.assertIsInstance(body.get("extras"), dict, body)
        return body

    # -- NaverPay helpers ------------------------------------------------------------

    def naver_reserve(self, idem=None, **over):
        body = {
            "modelVersion": "2",
            "merchantUserKey": "user-1",
            "merchantPayKey": "order-n1",
            "productName": "MBTI 프리미엄 결과",
            "productCount": 1,
            "totalPayAmount": 4900,
            "taxScopeAmount": 4900,
            "taxExScopeAmount": 0,
            "returnUrl": "http://shop.test/pay/naver/return?order=order-n1",
            "productItems": [{"categoryType": "ETC", "categoryId": "ETC", "uid": "premium",
                              "name": "프리미엄 결과", "payReferrer": "ETC", "count": 1}],
        }
        body.update(over)
        r = self.sim.naver("v2/reserve", body, idem=idem)
        self.assertEqual(r.status, 200, r)
        env = r.json()
        self.assertEqual(env["code"], "Success", env)
        return body, env["body"]["reserveId"]

    def naver_authorize(self, reserve_id):
        url = location(self.sim.get(f"/sim/naver/{reserve_id}/approve"))
        q = query_of(url)
        self.assertEqual(q.get("resultCode"), "Success", url)
        self.assertRegex(q.get("paymentId", ""), r"^\d{8}NP\d{10}$", url)
        return url, q["paymentId"]

    def naver_apply(self, payment_id, idem=None, version="v2.2", **kw):
        return self.sim.naver(f"{version}/apply/payment", {"paymentId": payment_id}, idem=idem,
                              **kw)

    def naver_paid(self, **over):
        body, rid = self.naver_reserve(**over)
        _, pid = self.naver_authorize(rid)
        r = self.naver_apply(pid)
        self.assertEqual(r.json()["code"], "Success", r)
        return body, pid

    def naver_cancel(self, pid, amount, tax=None, taxex=0, idem=None, **extra):
        form = {"paymentId": pid, "cancelAmount": amount, "cancelReason": "테스트 취소",
                "cancelRequester": "2", "taxScopeAmount": amount if tax is None else tax,
                "taxExScopeAmount": taxex}
        form.update(extra)
        return self.sim.naver("v1/cancel", form, idem=idem)

    def naver_history(self, pid):
        r = self.sim.naver("v2.2/list/history", {"paymentId": pid})
        self.assertEqual(r.status, 200, r)
        env = r.json()
        self.assertEqual(env["code"], "Success", env)
        return env["body"]


# ---- KakaoPay ------------------------------------------------------------------------


class KakaoTest(PgsimTest):

    def test_kakao_full_flow__ready_page_approve_order(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        self.assertRegex(tid, r"^T[0-9a-z]{19}$")
        self.assertRegex(ready["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
        self.assertIs(ready["tms_result"], False)
        page = f"{self.sim.base}/sim/kakao/{tid}"
        self.assertEqual(ready["next_redirect_pc_url"], page)
        self.assertTrue(ready["next_redirect_mobile_url"].startswith(page))
        self.assertTrue(ready["next_redirect_app_url"].startswith(page))
        for key in ("android_app_scheme", "ios_app_scheme"):
            self.assertTrue(ready[key].startswith("kakaotalk://kakaopay/pg?url="), ready)

        html = self.sim.get(urllib.parse.urlsplit(page).path)
        self.assertEqual(html.status, 200)
        for label in ("결제 승인 (approve)", "취소 (cancel)", "실패 (fail)", "4,900원"):
            self.assertIn(label, html.text)
        self.assertEqual(self.kakao_order(tid)["status"], "OPEN_PAYMENT")

        # Click the page's approve button (a plain link).
        href = re.search(r'id="approve" href="([^"]+)"', html.text).group(1)
        self.assertEqual(href, f"{page}/approve")
        url = location(self.sim.get(urllib.parse.urlsplit(href).path))
        token = query_of(url)["pg_token"]
        self.assertRegex(token, r"^[0-9a-f]{20}$")
        # approval_url already has a query: the token is appended with '&'.
        self.assertEqual(url, f"{fields['approval_url']}&pg_token={token}")
        self.assertEqual(self.kakao_order(tid)["status"], "AUTH_PASSWORD")

        r = self.kakao_approve(fields, tid, token, total_amount=4900, payload="p-1")
        self.assertEqual(r.status, 200, r)
        a = r.json()
        self.assertRegex(a["aid"], r"^A[0-9a-z]{19}$")
        self.assertEqual((a["tid"], a["cid"]), (tid, "TC0ONETIME"))
        self.assertEqual(a["partner_order_id"], "order-1")
        self.assertEqual(a["payment_method_type"], "CARD")
        self.assertEqual(a["amount"], {"total": 4900, "tax_free": 0, "vat": 445, "point": 0,
                                       "discount": 0, "green_deposit": 0})
        self.assertIn("card_info", a)
        self.assertEqual(a["item_name"], "MBTI 프리미엄 결과")
        self.assertRegex(a["approved_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
        self.assertEqual(a["payload"], "p-1")
        self.assertNotIn("sid", a)

        o = self.kakao_order(tid)
        self.assertEqual(o["status"], "SUCCESS_PAYMENT")
        self.assertEqual(o["cancel_available_amount"]["total"], 4900)
        acts = o["payment_action_details"]
        self.assertEqual([x["payment_action_type"] for x in acts], ["PAYMENT"])
        self.assertEqual(acts[0]["aid"], a["aid"])
        self.assertEqual(acts[0]["amount"], 4900)
        self.assertEqual(self.sim.stats()["kakao_approve_calls"][tid], 1)

    def test_kakao_pg_token__single_use_and_bound_to_its_tid(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        _, token = self.kakao_authorize(tid)
        _, other = self.kakao_ready(partner_order_id="order-2")
        _, other_token = self.kakao_authorize(other["tid"])
        self.assert_kakao_error(self.kakao_approve(fields, tid, other_token))
        self.assert_kakao_error(self.kakao_approve(fields, tid, "0" * 20))
        self.assertEqual(self.kakao_approve(fields, tid, token).status, 200)
        again = self.assert_kakao_error(self.kakao_approve(fields, tid, token))
        self.assertEqual(again["extras"]["method_result_code"], "ALREADY_APPROVED")
        self.assertEqual(self.sim.state()["kakao"][tid]["approvals"], 1)
        # A reloaded approval page replays the same redirect (double return).
        self.assertEqual(query_of(location(self.sim.get(f"/sim/kakao/{tid}/approve")))["pg_token"],
                         token)

    def test_kakao_approve__wrong_amount_or_partner_ids__400_and_token_kept(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        _, token = self.kakao_authorize(tid)
        body = self.assert_kakao_error(self.kakao_approve(fields, tid, token, total_amount=100))
        self.assertEqual(body["extras"]["method_result_code"], "AMOUNT_MISMATCH")
        self.assert_kakao_error(self.kakao_approve(fields, tid, token, partner_order_id="x"))
        self.assert_kakao_error(self.kakao_approve(fields, tid, token, partner_user_id="x"))
        self.assert_kakao_error(self.kakao_approve(fields, tid, token, cid="TCSUBSCRIP"))
        self.assertEqual(self.kakao_approve(fields, tid, token).status, 200)

    def test_kakao_approve__before_user_approval__400(self):
        fields, ready = self.kakao_ready()
        self.assert_kakao_error(self.kakao_approve(fields, ready["tid"], "a" * 20))

    def test_kakao_auth__bad_key_401_dev_secret_key_accepted(self):
        fields = {"cid": "TC0ONETIME", "tid": "T" + "0" * 19}
        for auth in ("SECRET_KEY wrong", f"KakaoAK {KAKAO_ADMIN}", KAKAO_SECRET,
                     f"secret_key {KAKAO_SECRET}"):
            self.assert_kakao_error(self.sim.kakao("order", fields, auth=auth), 401, -401)
        self.assert_kakao_error(self.sim.kakao("order", fields, legacy=True, auth="KakaoAK nope"),
                                401, -401, legacy=True)
        self.assert_kakao_error(
            self.sim.kakao("order", fields, legacy=True, auth=f"SECRET_KEY {KAKAO_SECRET}"),
            401, -401, legacy=True)
        r = self.sim.kakao("ready", {}, auth=f"DEV_SECRET_KEY {KAKAO_SECRET}")
        self.assertEqual(r.status, 400, r)  # authenticated; the empty body is refused
        _, ready = self.kakao_ready()
        self.assertEqual(self.sim.kakao("order", {"cid": "TC0ONETIME", "tid": ready["tid"]},
                                        auth=f"DEV_SECRET_KEY {KAKAO_SECRET}").status, 200)

    def test_kakao_types__strings_for_integers_and_missing_fields__400(self):
        base = dict(cid="TC0ONETIME", partner_order_id="o", partner_user_id="u", item_name="i",
                    quantity=1, total_amount=4900, tax_free_amount=0,
                    approval_url="http://a.test/", cancel_url="http://a.test/c",
                    fail_url="http://a.test/f")
        cases = [({"total_amount": "4900"}, "total_amount"),
                 ({"total_amount": 4900.0}, "total_amount"),
                 ({"quantity": True}, "quantity"),
                 ({"tax_free_amount": 5000}, "tax_free_amount"),
                 ({"cid": "TC0"}, "cid"),
                 ({"partner_order_id": 17}, "partner_order_id"),
                 ({"approval_url": "/relative"}, "approval_url"),
                 ({"item_name": "x" * 101}, "item_name")]
        for over, field in cases:
            with self.subTest(over=over):
                body = dict(base, **over)
                err = self.assert_kakao_error(self.sim.kakao("ready", body))
                self.assertIn(field, err["error_message"])
                self.assertEqual(err["extras"]["method_result_code"], "INVALID_PARAMETER")
        body = dict(base)
        del body["fail_url"]
        self.assertIn("fail_url", self.assert_kakao_error(self.sim.kakao("ready", body))
                      ["error_message"])
        wrong_ct = self.sim.kakao("ready", base, ctype="application/x-www-form-urlencoded")
        self.assert_kakao_error(wrong_ct)
        self.assert_kakao_error(self.sim.request(
            "POST", "/online/v1/payment/ready", body=b"{not json",
            headers={"Authorization": f"SECRET_KEY {KAKAO_SECRET}", "Content-Type": JSON_CT}))

    def test_kakao_legacy__form_body_kakaoak_and_legacy_error_shape(self):
        fields, ready = self.kakao_ready(legacy=True, approval_url="http://shop.test/ok")
        tid = ready["tid"]
        url, token = self.kakao_authorize(tid)
        self.assertEqual(url, f"http://shop.test/ok?pg_token={token}")
        # A tid belongs to the host that issued it.
        self.assert_kakao_error(self.sim.kakao("order", {"cid": "TC0ONETIME", "tid": tid}))
        err = self.assert_kakao_error(
            self.kakao_approve(fields, tid, token, legacy=True, total_amount="49x"), legacy=True)
        self.assertIn("total_amount", err["msg"])
        self.assert_kakao_error(
            self.sim.kakao("approve", {"cid": "TC0ONETIME"}, legacy=True, ctype=JSON_CT),
            legacy=True)
        r = self.kakao_approve(fields, tid, token, legacy=True, total_amount="4900")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["amount"]["total"], 4900)
        self.assertEqual(self.kakao_order(tid, legacy=True)["status"], "SUCCESS_PAYMENT")
        again = self.assert_kakao_error(self.kakao_approve(fields, tid, token, legacy=True),
                                        legacy=True)
        self.assertNotIn("error_code", again)

    def test_kakao_cancel__partial_then_over_then_rest(self):
        fields, tid = self.kakao_paid()
        cancel = {"cid": "TC0ONETIME", "tid": tid, "cancel_amount": 1000,
                  "cancel_tax_free_amount": 0}
        r = self.sim.kakao("cancel", cancel)
        self.assertEqual(r.status, 200, r)
        c = r.json()
        self.assertEqual(c["status"], "PART_CANCEL_PAYMENT")
        self.assertEqual(c["approved_cancel_amount"]["total"], 1000)
        self.assertEqual(c["canceled_amount"]["total"], 1000)
        self.assertEqual(c["cancel_available_amount"]["total"], 3900)
        self.assertRegex(c["aid"], r"^A")
        self.assertRegex(c["canceled_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")

        over = self.assert_kakao_error(self.sim.kakao("cancel", dict(cancel, cancel_amount=4000)))
        self.assertEqual(over["extras"]["method_result_code"], "CANCEL_AMOUNT_EXCEEDED")
        self.assert_kakao_error(self.sim.kakao("cancel", dict(cancel, cancel_amount="100")))
        self.assert_kakao_error(self.sim.kakao("cancel", dict(cancel, cancel_amount=100,
                                                               cancel_available_amount=4900)))

        r = self.sim.kakao("cancel", dict(cancel, cancel_amount=3900, cancel_available_amount=3900))
        self.assertEqual(r.status, 200, r)
        c = r.json()
        self.assertEqual(c["status"], "CANCEL_PAYMENT")
        self.assertEqual(c["canceled_amount"]["total"], 4900)
        self.assertEqual(c["canceled_amount"]["vat"], 445)
        self.assertEqual(c["cancel_available_amount"]["total"], 0)
        o = self.kakao_order(tid)
        self.assertEqual(o["status"], "CANCEL_PAYMENT")
        self.assertEqual([x["payment_action_type"] for x in o["payment_action_details"]],
                         ["PAYMENT", "CANCEL", "CANCEL"])
        self.assert_kakao_error(self.sim.kakao("cancel", dict(cancel, cancel_amount=1)))

    def test_kakao_page__user_cancel_and_fail_redirects(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        self.assertEqual(location(self.sim.get(f"/sim/kakao/{tid}/cancel")), fields["cancel_url"])
        self.assertEqual(self.kakao_order(tid)["status"], "QUIT_PAYMENT")
        self.assertEqual(self.sim.get(f"/sim/kakao/{tid}/approve").status, 409)
        # The same action again is a browser reload: the same redirect.
        self.assertEqual(location(self.sim.get(f"/sim/kakao/{tid}/cancel")), fields["cancel_url"])

        fields, ready = self.kakao_ready(partner_order_id="order-2")
        tid = ready["tid"]
        self.assertEqual(location(self.sim.get(f"/sim/kakao/{tid}/fail")), fields["fail_url"])
        self.assertEqual(self.kakao_order(tid)["status"], "FAIL_AUTH_PASSWORD")
        self.assertEqual(self.sim.get("/sim/kakao/Tnope").status, 404)

    def test_kakao_money_method_and_subscription_sid(self):
        fields, ready = self.kakao_ready(cid="TCSUBSCRIP")
        _, token = self.kakao_authorize(ready["tid"], method="MONEY")
        a = self.kakao_approve(fields, ready["tid"], token).json()
        self.assertEqual(a["payment_method_type"], "MONEY")
        self.assertNotIn("card_info", a)
        self.assertRegex(a["sid"], r"^S")

    def test_kakao_expiry__approve_after_the_window__400_quit_payment(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        _, token = self.kakao_authorize(tid)
        r = self.sim.request("POST", "/sim/clock", body={"advance_s": 15 * 60 + 1})
        self.assertEqual(r.status, 200, r)
        err = self.assert_kakao_error(self.kakao_approve(fields, tid, token))
        self.assertEqual(err["extras"]["method_result_code"], "PAYMENT_EXPIRED")
        self.assertEqual(self.kakao_order(tid)["status"], "QUIT_PAYMENT")
        _, late = self.kakao_ready(partner_order_id="late")
        self.sim.request("POST", "/sim/clock", body={"advance_s": 15 * 60 + 1})
        self.assertEqual(location(self.sim.get(f"/sim/kakao/{late['tid']}/approve")),
                         fields["fail_url"])


# ---- NaverPay -------------------------------------------------------------------------


class NaverTest(PgsimTest):

    def test_naver_full_flow__reserve_page_apply_then_already_complete(self):
        body, rid = self.naver_reserve()
        self.assertRegex(rid, r"^\d{8}NR\d{10}$")
        html = self.sim.get(f"/sim/naver/{rid}")
        self.assertEqual(html.status, 200)
        for label in ("결제 승인 (approve)", "취소 (cancel)", "실패 (fail)", "4,900원"):
            self.assertIn(label, html.text)
        self.assertEqual(self.sim.get(f"/payments/{rid}").status, 200)
        href = re.search(r'id="approve" href="([^"]+)"', html.text).group(1)
        self.assertEqual(href, f"{self.sim.base}/sim/naver/{rid}/approve")

        url, pid = self.naver_authorize(rid)
        self.assertEqual(url, f"{body['returnUrl']}&resultCode=Success&paymentId={pid}")
        r = self.naver_apply(pid)
        self.assertEqual(r.status, 200, r)
        env = r.json()
        self.assertEqual(env["code"], "Success", env)
        self.assertEqual(env["body"]["paymentId"], pid)
        d = env["body"]["detail"]
        self.assertEqual(d["paymentId"], pid)
        self.assertEqual(d["admissionTypeCode"], "01")
        self.assertEqual(d["admissionState"], "SUCCESS")
        self.assertEqual(d["totalPayAmount"], 4900)
        self.assertEqual(d["merchantPayKey"], "order-n1")
        self.assertRegex(d["admissionYmdt"], r"^\d{14}$")
        self.assertEqual(d["primaryPayMeans"], "CARD")

        again = self.naver_apply(pid)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json()["code"], "AlreadyComplete")
        older = self.naver_apply(pid, version="v2")
        self.assertEqual(older.json()["code"], "AlreadyComplete")
        self.assertEqual(self.sim.state()["naver"][rid]["approvals"], 1)
        self.assertEqual(self.sim.stats()["naver_apply_calls"][pid], 3)
        self.assertEqual(self.naver_apply("20200101NP0000000000").json()["code"],
                         "InvalidPaymentId")

    def test_naver_apply__old_v2_path_works(self):
        _, rid = self.naver_reserve()
        _, pid = self.naver_authorize(rid)
        self.assertEqual(self.naver_apply(pid, version="v2").json()["code"], "Success")

    def test_naver_idempotency__same_key_409_replays_the_first_answer(self):
        _, rid = self.naver_reserve(idem="reserve-key-1")
        body = dict(modelVersion="2", merchantPayKey="order-n1", productName="x", productCount=1,
                    totalPayAmount=4900, taxScopeAmount=4900, taxExScopeAmount=0,
                    returnUrl="http://shop.test/r", productItems=[
                        {"categoryType": "ETC", "categoryId": "ETC", "uid": "u", "name": "n",
                         "count": 1}])
        dup = self.sim.naver("v2/reserve", body, idem="reserve-key-1")
        self.assertEqual(dup.status, 409, dup)
        self.assertEqual(dup.headers["X-NaverPay-Idempotency-Key"], "reserve-key-1")
        self.assertEqual(dup.json()["body"]["reserveId"], rid)

        _, pid = self.naver_authorize(rid)
        first = self.naver_apply(pid, idem="apply-key-1")
        self.assertEqual(first.status, 200)
        self.assertEqual(first.headers["X-NaverPay-Idempotency-Key"], "apply-key-1")
        replay = self.naver_apply(pid, idem="apply-key-1")
        self.assertEqual(replay.status, 409)
        self.assertEqual(replay.body, first.body)
        self.assertEqual(replay.json()["code"], "Success")
        self.assertEqual(self.naver_apply(pid, idem="apply-key-2").json()["code"],
                         "AlreadyComplete")
        self.assertEqual(self.naver_apply(pid).json()["code"], "AlreadyComplete")
        bad = self.naver_apply(pid, idem="has space")
        self.assertEqual(bad.status, 400)
        self.assertEqual(self.naver_apply(pid, idem="k" * 65).status, 400)

        c1 = self.naver_cancel(pid, 1000, idem="cancel-key-1")
        self.assertEqual(c1.json()["code"], "Success", c1)
        c2 = self.naver_cancel(pid, 1000, idem="cancel-key-1")
        self.assertEqual(c2.status, 409)
        self.assertEqual(c2.body, c1.body)
        self.assertEqual(self.naver_history(pid)["totalCount"], 2)  # approval + one cancel

    def test_naver_cancel__over_remain_tax_split_and_history(self):
        _, pid = self.naver_paid(totalPayAmount=5000, taxScopeAmount=4000, taxExScopeAmount=1000)
        over = self.naver_cancel(pid, 6000, tax=5000, taxex=1000)
        self.assertEqual(over.status, 200)
        self.assertEqual(over.json()["code"], "OverRemainAmount")
        split = self.naver_cancel(pid, 1000, tax=500, taxex=0)
        self.assertEqual(split.json()["code"], "TaxScopeAmountError")
        taxex = self.naver_cancel(pid, 2000, tax=0, taxex=2000)
        self.assertEqual(taxex.json()["code"], "TaxScopeAmtGreaterThanRemainError")
        diff = self.naver_cancel(pid, 1000, doCompareRest="1", expectedRestAmount="3000")
        self.assertEqual(diff.json()["code"], "RestAmountDiff")
        missing = self.sim.naver("v1/cancel", {"paymentId": pid, "cancelAmount": 1000})
        self.assertEqual(missing.status, 400)
        self.assertEqual(missing.json()["code"], "RequireParameter")
        typed = self.naver_cancel(pid, "1,000", tax=1000)
        self.assertEqual(typed.status, 400)
        self.assertEqual(typed.json()["code"], "InvalidParameter")

        ok = self.naver_cancel(pid, 1000, doCompareRest="1", expectedRestAmount="4000")
        b = ok.json()
        self.assertEqual(b["code"], "Success", b)
        self.assertEqual(b["body"]["totalRestAmount"], 4000)
        self.assertEqual(b["body"]["primaryPayCancelAmount"], 1000)
        self.assertEqual(b["body"]["taxScopeRestAmount"], 3000)
        self.assertEqual(b["body"]["taxExScopeRestAmount"], 1000)
        self.assertRegex(b["body"]["cancelYmdt"], r"^\d{14}$")
        rest = self.naver_cancel(pid, 4000, tax=3000, taxex=1000)
        self.assertEqual(rest.json()["code"], "Success")
        self.assertEqual(rest.json()["body"]["totalRestAmount"], 0)
        self.assertEqual(self.naver_cancel(pid, 1).json()["code"], "AlreadyCanceled")

        h = self.naver_history(pid)
        self.assertEqual(h["totalCount"], 3)
        self.assertEqual(h["responseCount"], 3)
        self.assertEqual([x["admissionTypeCode"] for x in h["list"]], ["01", "04", "03"])
        self.assertEqual([x["totalPayAmount"] for x in h["list"]], [5000, 1000, 4000])
        self.assertTrue(all(x["paymentId"] == pid for x in h["list"]))

    def test_naver_history__time_range_rules(self):
        _, pid = self.naver_paid()
        kst = time.gmtime(self.sim.get("/sim/clock").json()["now"] + 9 * 3600)
        day = time.strftime("%Y%m%d", kst)
        ok = self.sim.naver("v2.2/list/history", {"startTime": day + "000000",
                                                  "endTime": day + "235959",
                                                  "approvalType": "APPROVAL",
                                                  "rowsPerPage": 10})
        body = ok.json()
        self.assertEqual(body["code"], "Success", body)
        self.assertIn(pid, [x["paymentId"] for x in body["body"]["list"]])
        cancels = self.sim.naver("v2.2/list/history", {"startTime": day + "000000",
                                                       "endTime": day + "235959",
                                                       "approvalType": "CANCEL"}).json()
        self.assertEqual(cancels["body"]["totalCount"], 0)
        wide = self.sim.naver("v2.2/list/history", {"startTime": "20240101000000",
                                                    "endTime": "20240301000000"})
        self.assertEqual(wide.json()["code"], "TimeConditionError")
        missing = self.sim.naver("v2.2/list/history", {"startTime": "20240101000000"})
        self.assertEqual((missing.status, missing.json()["code"]), (400, "RequireParameter"))
        rows = self.sim.naver("v2.2/list/history", {"startTime": day + "000000",
                                                    "endTime": day + "235959",
                                                    "rowsPerPage": 101})
        self.assertEqual((rows.status, rows.json()["code"]), (400, "InvalidParameter"))
        by_path = self.sim.naver(f"v2.2/list/history/{pid}", {"pageNumber": 1, "rowsPerPage": 5})
        self.assertEqual(by_path.json()["body"]["totalCount"], 1)
        self.assertEqual(self.naver_history("20200101NP0000000000")["totalCount"], 0)

    def test_naver_auth__wrong_keys_chain_or_partner_401(self):
        body = {"paymentId": "x"}
        for h in ({"X-Naver-Client-Secret": "wrong"}, {"X-Naver-Client-Id": None},
                  {"X-NaverPay-Chain-Id": None}, {"X-NaverPay-Chain-Id": "other"}):
            with self.subTest(headers=h):
                r = self.sim.naver("v2.2/apply/payment", body, headers=h)
                self.assertEqual(r.status, 401, r)
                self.assertIn("code", r.json())
        self.assertEqual(self.sim.naver("v2.2/apply/payment", body, partner="np_other").status,
                         401)

    def test_naver_reserve__strict_types_and_sums(self):
        _, rid = self.naver_reserve()
        cases = [({"totalPayAmount": "4900"}, "InvalidParameter"),
                 ({"modelVersion": 2}, "InvalidParameter"),
                 ({"taxScopeAmount": 4000}, "InvalidParameter"),
                 ({"productItems": []}, "InvalidParameter"),
                 ({"productName": None}, "RequireParameter"),
                 ({"returnUrl": "shop.test/r"}, "InvalidParameter")]
        for over, code in cases:
            with self.subTest(over=over):
                body = {"modelVersion": "2", "merchantPayKey": "k", "productName": "p",
                        "productCount": 1, "totalPayAmount": 4900, "taxScopeAmount": 4900,
                        "taxExScopeAmount": 0, "returnUrl": "http://shop.test/r",
                        "productItems": [{"categoryType": "ETC", "categoryId": "ETC",
                                          "uid": "u", "name": "n", "count": 1}]}
                body.update(over)
                body = {k: v for k, v in body.items() if v is not None}
                r = self.sim.naver("v2/reserve", body)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json()["code"], code, r)
        form = self.sim.request("POST", f"/{NAVER_PARTNER}/naverpay/payments/v2/reserve",
                                body="modelVersion=2",
                                headers=dict(NAVER_HEADERS, **{"Content-Type": FORM_CT}))
        self.assertEqual(form.status, 400, form)

    def test_naver_page__user_cancel_fail_and_expiry_query_shapes(self):
        body, rid = self.naver_reserve()
        url = location(self.sim.get(f"/sim/naver/{rid}/cancel"))
        self.assertEqual(query_of(url), {"order": "order-n1", "resultCode": "Fail",
                                         "resultMessage": "userCancel", "reserveId": rid})
        self.assertEqual(self.sim.get(f"/sim/naver/{rid}/approve").status, 409)
        _, rid2 = self.naver_reserve()
        q = query_of(location(self.sim.get(f"/sim/naver/{rid2}/fail")))
        self.assertEqual((q["resultCode"], q["resultMessage"]), ("Fail", "OwnerAuthFail"))
        _, rid3 = self.naver_reserve()
        self.sim.request("POST", "/sim/clock", body={"advance_s": 10 * 60 + 1})
        q = query_of(location(self.sim.get(f"/sim/naver/{rid3}/approve")))
        self.assertEqual((q["resultCode"], q["resultMessage"]), ("Fail", "paymentTimeExpire"))

    def test_naver_apply__after_the_window__time_expired(self):
        _, rid = self.naver_reserve()
        _, pid = self.naver_authorize(rid)
        self.sim.request("POST", "/sim/clock", body={"advance_s": 10 * 60 + 1})
        r = self.naver_apply(pid)
        self.assertEqual((r.status, r.json()["code"]), (200, "TimeExpired"))
        self.assertEqual(self.naver_history(pid)["totalCount"], 0)


# ---- faults ------------------------------------------------------------------------------


class FaultTest(PgsimTest):

    def test_fault_latency__answers_delayed_by_a_timer(self):
        self.sim.faults(latency_ms=300, latency_ops=["ready"])
        t0 = time.monotonic()
        self.kakao_ready()
        slow = time.monotonic() - t0
        self.assertGreaterEqual(slow, 0.3)
        t0 = time.monotonic()
        self.assertEqual(self.sim.kakao("order", {"cid": "TC0ONETIME", "tid": "T" + "0" * 19})
                         .status, 400)
        self.assertLess(time.monotonic() - t0, 0.25 * SCALE)
        # Delays are timers, not sleeps: 20 concurrent calls take one latency.
        results = []

        def one(i):
            _, r = self.kakao_ready(partner_order_id=f"c-{i}")
            results.append(r["tid"])

        t0 = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * SCALE)
        self.assertEqual(len(results), 20)
        self.assertLess(time.monotonic() - t0, 0.3 + 1.5 * SCALE)
        self.sim.request("DELETE", "/sim/faults")
        self.assertEqual(self.sim.get("/sim/faults").json()["latency_ms"], 0)

    def test_fault_timeout__op_hangs_until_the_client_gives_up(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        _, token = self.kakao_authorize(tid)
        self.sim.faults(timeout_ops=["approve"])
        t0 = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.sim.request("POST", "/online/v1/payment/approve",
                             body={"cid": "TC0ONETIME", "tid": tid, "partner_order_id": "order-1",
                                   "partner_user_id": "user-1", "pg_token": token},
                             headers={"Authorization": f"SECRET_KEY {KAKAO_SECRET}",
                                      "Content-Type": JSON_CT}, timeout=0.5)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        # Never processed: the payment still waits for its approve.
        self.assertEqual(self.kakao_order(tid)["status"], "AUTH_PASSWORD")
        self.assertEqual(self.sim.stats()["faults"]["kakao.approve"]["timeout"], 1)
        self.sim.request("DELETE", "/sim/faults")
        self.assertEqual(self.kakao_approve(fields, tid, token).status, 200)
        self.assertEqual(self.sim.stats()["kakao_approve_calls"][tid], 2)

    def test_fault_approve_then_timeout__kakao_reconciles_through_order(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        _, token = self.kakao_authorize(tid)
        self.sim.faults(approve_then_timeout=True)
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.sim.kakao("approve", {"cid": "TC0ONETIME", "tid": tid,
                                       "partner_order_id": "order-1",
                                       "partner_user_id": "user-1", "pg_token": token},
                           timeout=0.5)
        o = self.kakao_order(tid)
        self.assertEqual(o["status"], "SUCCESS_PAYMENT")
        self.assertEqual([x["payment_action_type"] for x in o["payment_action_details"]],
                         ["PAYMENT"])
        # A blind retry is refused: the approval happened exactly once.
        self.sim.request("DELETE", "/sim/faults")
        self.assert_kakao_error(self.kakao_approve(fields, tid, token))
        self.assertEqual(self.sim.state()["kakao"][tid]["approvals"], 1)

    def test_fault_approve_then_timeout__naver_reconciles_through_history(self):
        _, rid = self.naver_reserve()
        _, pid = self.naver_authorize(rid)
        self.sim.faults(approve_then_timeout=True)
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.naver_apply(pid, idem="apply-once", timeout=0.5)
        h = self.naver_history(pid)
        self.assertEqual(h["totalCount"], 1)
        self.assertEqual(h["list"][0]["admissionTypeCode"], "01")
        self.sim.request("DELETE", "/sim/faults")
        replay = self.naver_apply(pid, idem="apply-once")
        self.assertEqual((replay.status, replay.json()["code"]), (409, "Success"))

    def test_fault_drop__connection_closed_without_answer(self):
        self.sim.faults(drop_ops=["reserve"])
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.sim.naver("v2/reserve", {"modelVersion": "2"})
        self.assertEqual(self.sim.stats()["faults"]["naver.reserve"]["drop"], 1)
        self.assertEqual(self.sim.state()["naver"], {})
        self.sim.faults(drop_ops=[], drop_after_ops=["naver.reserve"], latency_ms=50)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.naver_reserve()
        self.assertEqual(len(self.sim.state()["naver"]), 1)  # processed, then dropped

    def test_fault_fail_next__5xx_then_business_decline(self):
        fields, ready = self.kakao_ready()
        tid = ready["tid"]
        _, token = self.kakao_authorize(tid)
        self.sim.faults(fail_next=[{"op": "kakao.approve", "count": 1, "status": 503},
                                   {"op": "approve", "count": 1, "mode": "business",
                                    "code": "LACK_BALANCE"}])
        r = self.kakao_approve(fields, tid, token)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(self.kakao_order(tid)["status"], "AUTH_PASSWORD")
        r = self.kakao_approve(fields, tid, token)
        err = self.assert_kakao_error(r)
        self.assertEqual(err["extras"]["method_result_code"], "LACK_BALANCE")
        self.assertEqual(self.kakao_order(tid)["status"], "FAIL_PAYMENT")
        self.assertEqual(self.sim.get("/sim/faults").json()["fail_next"], [])
        self.assert_kakao_error(self.kakao_approve(fields, tid, token))

        _, rid = self.naver_reserve()
        _, pid = self.naver_authorize(rid)
        self.sim.faults(fail_next={"op": "apply", "mode": "business",
                                   "code": "NotEnoughAccountBalance"})
        r = self.naver_apply(pid)
        self.assertEqual((r.status, r.json()["code"]), (200, "NotEnoughAccountBalance"))
        self.assertEqual(self.naver_apply(pid).json()["code"], "Fail")

    def test_fault_cancel_not_complete__cancel_applied_empty_pay_hist_id(self):
        _, pid = self.naver_paid()
        self.sim.faults(fail_next={"op": "naver.cancel", "mode": "business",
                                   "code": "CancelNotComplete"})
        r = self.naver_cancel(pid, 4900).json()
        self.assertEqual(r["code"], "CancelNotComplete", r)
        self.assertEqual(r["body"]["payHistId"], "")
        self.assertEqual([x["admissionTypeCode"] for x in self.naver_history(pid)["list"]],
                         ["01", "03"])
        self.assertEqual(self.naver_cancel(pid, 4900).json()["code"], "AlreadyCanceled")

    def test_fault_error_rate__all_or_nothing_and_reset(self):
        self.sim.faults(error_rate=1.0, error_ops=["naver.reserve"])
        r = self.sim.naver("v2/reserve", {})
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["code"], "Fail")
        self.kakao_ready()  # other ops unaffected
        self.sim.faults(error_rate=0.5, error_ops=["all"], seed=42)
        statuses = {self.sim.kakao("order", {"cid": "TC0ONETIME", "tid": "T" + "0" * 19}).status
                    for _ in range(40)}
        self.assertEqual(statuses, {400, 500})
        self.sim.request("DELETE", "/sim/faults")
        self.assertEqual(self.sim.get("/sim/faults").json()["error_rate"], 0)

    def test_faults_api__refuses_unknown_keys_ops_and_types(self):
        for body in ({"latency": 1}, {"timeout_ops": ["aprove"]}, {"latency_ms": "200"},
                     {"error_rate": 2}, {"fail_next": {"count": 1}},
                     {"approve_then_timeout": 1}):
            with self.subTest(body=body):
                r = self.sim.request("POST", "/sim/faults", body=body)
                self.assertEqual(r.status, 400, r)
        f = self.sim.faults(timeout_ops=["approve"])
        self.assertEqual(f["timeout_ops"], ["kakao.approve", "naver.apply"])

    def test_fault_held_request__client_leaving_and_shutdown_are_clean(self):
        self.sim.faults(timeout_ops=["order"], latency_ms=5000, latency_ops=["ready"])
        # One held call whose client leaves, one still connected at shutdown.
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.sim.kakao("order", {"cid": "TC0ONETIME", "tid": "x"}, timeout=0.3)
        s = socket.create_connection(("127.0.0.1", self.sim.port))
        body = b'{"cid":"TC0ONETIME","tid":"x"}'
        s.sendall(b"POST /online/v1/payment/order HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: SECRET_KEY " + KAKAO_SECRET.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        wait_until(lambda: self.sim.stats()["calls"].get("kakao.order", 0) == 2, 5,
                   "the second order call to arrive")
        self.sim.stop()  # SIGTERM with a held request: exit 0, no leak report
        self.assertEqual(s.recv(100), b"")
        s.close()


# ---- the process -------------------------------------------------------------------------


class ProcessTest(PgsimTest):

    def test_state_file__payments_survive_a_restart(self):
        path = os.path.join(self.tmp, "state.json")
        self.sim = self.start_sim("--state-file", path, "--quiet", name="persist")
        _, tid = self.kakao_paid()
        _, pid = self.naver_paid()
        self.sim.stop()
        self.assertTrue(os.path.isfile(path))
        self.sim = self.start_sim("--state-file", path, name="persist2")
        self.assertEqual(self.kakao_order(tid)["status"], "SUCCESS_PAYMENT")
        self.assertEqual(self.naver_apply(pid).json()["code"], "AlreadyComplete")
        self.assertEqual(self.naver_history(pid)["totalCount"], 1)

    def test_cli__custom_keys_partner_public_base(self):
        s = self.start_sim("--kakao-secret", "PRDKEY", "--naver-partner", "np_custom",
                           "--naver-client-id", "cid", "--naver-client-secret", "sec",
                           "--naver-chain-id", "chain", "--public-base", "http://pay.test/",
                           name="custom")
        self.sim = s
        fields = {"cid": "TC0ONETIME", "tid": "T" + "0" * 19}
        # DEV_SECRET_KEY is for dev keys only.
        self.assertEqual(s.kakao("order", fields, auth="DEV_SECRET_KEY PRDKEY").status, 401)
        self.assertEqual(s.kakao("order", fields, auth="SECRET_KEY PRDKEY").status, 400)
        r = s.kakao("ready", {"cid": "TC0ONETIME", "partner_order_id": "o",
                              "partner_user_id": "u", "item_name": "i", "quantity": 1,
                              "total_amount": 100, "tax_free_amount": 0,
                              "approval_url": "http://a.test/", "cancel_url": "http://a.test/",
                              "fail_url": "http://a.test/"}, auth="SECRET_KEY PRDKEY")
        self.assertTrue(r.json()["next_redirect_pc_url"].startswith("http://pay.test/sim/kakao/T"))
        hdr = {"X-Naver-Client-Id": "cid", "X-Naver-Client-Secret": "sec",
               "X-NaverPay-Chain-Id": "chain"}
        r = s.naver("v2.2/list/history", {"paymentId": "x"}, headers=hdr, partner="np_custom")
        self.assertEqual(r.json()["code"], "Success", r)
        r = s.naver("v2.2/list/history", {"paymentId": "x"}, headers=hdr)
        self.assertEqual(r.status, 401)

    def test_cli__bad_arguments_exit_2(self):
        for args in (["--listen", "nowhere"], ["--listen", "127.0.0.1:0", "--bogus", "1"],
                     ["--listen", "127.0.0.1:0", "--kakao-window", "0"], []):
            with self.subTest(args=args):
                p = subprocess.run([PGSIM, *args], capture_output=True, timeout=10 * SCALE)
                self.assertEqual(p.returncode, 2, p)
                self.assertIn(b"usage:", p.stderr)

    def test_unknown_paths_and_methods(self):
        self.assertEqual(self.sim.get("/nope").status, 404)
        self.assertEqual(self.sim.get("/online/v1/payment/ready").status, 405)
        self.assertEqual(self.sim.get("/").status, 200)
        self.assertEqual(self.sim.request("PUT", "/sim/state").status, 405)


if __name__ == "__main__":
    unittest.main(verbosity=2)
