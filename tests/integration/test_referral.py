"""Referrals in the real host: the referral plugin (referral.so) with the
real payments and coupons plugins against mq-pgsim, and quizstub.so (a test
plugin) making the calls the quiz plugin makes: attribute() when a result is
created, on_visit() on a page with ?ref=, code_for() for the share link,
rewards_json() for the owner.

Browsers are cookie jars: what they are sent back is what a real browser
would keep. Assertions read what users and operators see: redirects and
cookies, /metrics (referral_reward_total...), the store's records, and
`mindquiz report ref --csv`.
"""
import datetime
import re
import shutil
import json
import os

from paytest import PRICE, concurrently
from test_coupons import CouponStackTestCase, latest, ndjson

KST = datetime.timezone(datetime.timedelta(hours=9))


class Browser:
    """One browser: keeps the cookies the host sets."""

    def __init__(self, test, h):
        self.test = test
        self.h = h
        self.cookies = {}
        self.set_cookie_lines = []

    def request(self, method, path, body=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/json"
        r = self.h.request(method, path, body=body, headers=headers)
        for line in r.headers.get_all("Set-Cookie") or []:
            self.set_cookie_lines.append(line)
            name, value = line.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        return r

    def take_quiz(self):
        """POST /app/quiz/stub: a new result; its id."""
        r = self.request("POST", "/app/quiz/stub", b"{}")
        self.test.assertEqual(r.status, 303, r)
        return r.json()["id"]

    def page(self, result_id, ref=None):
        """GET /app/result/<id>[?ref=]: {id, code, share, rewards}."""
        r = self.request("GET", f"/app/result/{result_id}" + (f"?ref={ref}" if ref else ""))
        self.test.assertEqual(r.status, 200, r)
        return r.json()


class ReferralTestCase(CouponStackTestCase):
    def stack(self, **kw):
        h, sim = self.start_stack(stub=True, **kw)
        return h, sim

    def browser(self, h):
        return Browser(self, h)

    def buy(self, h, sim, result_id, coupon=None, amount=PRICE, returns=1):
        """An approved payment for result_id; `returns` concurrent returns
        from the gateway (a double approval when 2 or more)."""
        extra = {"coupon": coupon} if coupon else {}
        pay = self.start_payment(h, sim, "kakao", result_id, **extra)
        self.click(h, sim, pay, "approve", amount=amount)
        for r in concurrently(returns, lambda i: self.follow(h, pay.return_url)):
            self.assert_result_redirect(h, r, pay, "paid=1")
        return pay


class AttributionTest(ReferralTestCase):
    def test_referral__shared_result_bought_by_a_friend__one_reward_once(self):
        h, sim = self.stack()
        sharer, friend, stranger = self.browser(h), self.browser(h), self.browser(h)
        res_a = sharer.take_quiz()
        page = sharer.page(res_a)
        code = page["code"]
        self.assertRegex(code, r"^[a-km-np-z2-9]{8}$")
        self.assertEqual(page["share"], f"/app/result/{res_a}?ref={code}")
        # The friend follows the share link: first touch recorded.
        friend.page(res_a, ref=code)
        self.assertEqual(friend.cookies.get("mq_ref"), code)
        ref_line = [c for c in friend.set_cookie_lines if c.startswith("mq_ref=")][0]
        self.assertEqual(ref_line, f"mq_ref={code}; Max-Age=2592000; Path=/; HttpOnly; "
                                   "SameSite=Lax")
        friend.page(res_a, ref=code)  # a reload is not another visit
        self.assertEqual(h.metric("referral_visits_total", via="page"), 1)
        res_b = friend.take_quiz()
        self.assertEqual(latest(h, "ref_attrib")[res_b]["code"], code)

        # The friend buys their report with WELCOME10; the gateway's return
        # arrives twice at once (a double approval).
        pay = self.buy(h, sim, res_b, coupon="WELCOME10", amount=PRICE - PRICE // 10, returns=2)
        self.assertEqual(self.approve_calls(sim, pay), 1)
        self.assertEqual(h.metric("coupon_redeem_total"), 1)
        self.assertEqual(h.metric("referral_reward_total"), 1)
        # A replay of order.approved cannot reach the plugin from outside;
        # the one record per order is what stops it (unit-tested).
        refs = latest(h, "referrals")
        self.assertEqual(list(refs), [pay.order_id])
        rec = refs[pay.order_id]
        self.assertEqual((rec["code"], rec["referrer_result"], rec["result_id"], rec["amount"],
                          rec["reward"], rec["reward_krw"]),
                         (code, res_a, res_b, PRICE - PRICE // 10, "granted", 1000))
        reward = rec["reward_coupon"]
        c = latest(h, "coupons")[reward]
        self.assertEqual((c["kind"], c["value"], c["total_uses"], c["per_user"], c["enabled"]),
                         ("fixed", 1000, 1, 1, True))
        self.assertEqual(len([e for e in ndjson(h, "events") if e.get("type") ==
                              "referral.reward"]), 1)

        # Only the sharer sees the reward on their page...
        self.assertEqual([(x["coupon"], x["krw"], x["status"]) for x in sharer.page(res_a)["rewards"]],
                         [(reward, 1000, "granted")])
        self.assertIsNone(friend.page(res_a)["rewards"])
        self.assertIsNone(stranger.page(res_a)["rewards"])
        # ...and can spend it: 1,000 KRW off their own report, once.
        self.buy(h, sim, res_a, coupon=reward, amount=PRICE - 1000)
        self.assertEqual(latest(h, "coupons")[reward]["used"], 1)
        self.refused(self.ready(h, "kakao", coupon=reward))
        # The sharer's own purchase refers nobody.
        self.assertEqual(h.metric("referral_reward_total"), 1)

    def test_referral__link_route_sets_the_cookie_and_lands_on_the_result(self):
        h, sim = self.stack()
        sharer, friend = self.browser(h), self.browser(h)
        res_a = sharer.take_quiz()
        code = sharer.page(res_a)["code"]
        r = friend.request("GET", f"/r/{code.upper()}")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.headers["Location"], f"/app/result/{res_a}")
        self.assertEqual(r.headers["Cache-Control"], "no-store")
        self.assertEqual(friend.cookies.get("mq_ref"), code)
        self.assertRegex(friend.cookies.get("mq_uid", ""), r"^[0-9a-f]{32}$")
        self.assertEqual(h.metric("referral_visits_total", via="link"), 1)
        # Another sharer's link later: a visit for them, first touch kept.
        other = self.browser(h)
        code_x = other.page(other.take_quiz())["code"]
        friend.request("GET", f"/r/{code_x}")
        self.assertEqual(friend.cookies["mq_ref"], code)
        self.assertEqual(h.metric("referral_visits_total", via="link"), 2)
        r = self.browser(h).request("GET", "/r/zzzzzzzz")
        self.assertEqual((r.status, r.headers["Location"]), (302, "/"))
        self.assertIsNone(r.headers.get("Set-Cookie"))


class SelfReferralTest(ReferralTestCase):
    def test_referral__self_referral_gives_nothing(self):
        h, sim = self.stack()
        sharer = self.browser(h)
        res_a = sharer.take_quiz()
        code = sharer.page(res_a)["code"]
        # Opening your own link: not a visit, no referral cookie.
        sharer.page(res_a, ref=code)
        sharer.request("GET", f"/r/{code}")
        self.assertNotIn("mq_ref", sharer.cookies)
        self.assertEqual(h.metric("referral_self_ignored_total", stage="visit"), 2)
        self.assertEqual(h.metric("referral_visits_total", via="page"), 0)
        # Even carrying your own code (a forged or copied cookie), a new
        # result of yours is not a referral...
        sharer.cookies["mq_ref"] = code
        res_a2 = sharer.take_quiz()
        self.assertNotIn(res_a2, latest(h, "ref_attrib"))
        self.assertEqual(h.metric("referral_self_ignored_total", stage="attribute"), 1)
        # ...so buying it rewards nobody.
        self.buy(h, sim, res_a2)
        self.buy(h, sim, res_a)
        self.assertEqual(h.metric("referral_reward_total"), 0)
        self.assertEqual(latest(h, "referrals"), {})
        self.assertFalse([k for k in latest(h, "coupons") if k.startswith("REF-")])


class ReportTest(ReferralTestCase):
    def test_report__csv_of_a_live_referral_matches_what_happened(self):
        h, sim = self.stack()
        sharer, friend, friend2 = self.browser(h), self.browser(h), self.browser(h)
        res_a = sharer.take_quiz()
        code = sharer.page(res_a)["code"]
        friend.page(res_a, ref=code)
        friend2.request("GET", f"/r/{code}")
        res_b = friend.take_quiz()
        friend2.take_quiz()
        self.buy(h, sim, res_b, coupon="WELCOME10", amount=PRICE - PRICE // 10)
        # While the host runs, from its data dir.
        r = h.cli("report", "ref", "--csv")
        self.assertEqual(r.returncode, 0, r.output)
        today = datetime.datetime.now(KST).strftime("%Y-%m-%d")
        paid = PRICE - PRICE // 10
        # By hand: 2 visits, 2 referred results, 1 sale of `paid`, 1 reward.
        row = f"2,2,1,0,{paid},1,1000"
        self.assertEqual(r.stdout.decode(),
                         "section,day,code,referrer_result,visits,results,conversions,refunds,"
                         "revenue_krw,rewards,reward_krw\r\n"
                         f"referrer,,{code},{res_a},{row}\r\n"
                         f"day,{today},,,{row}\r\n"
                         f"total,,,,{row}\r\n")
        table = h.cli("report", "ref", "--from", today, "--to", today)
        self.assertEqual(table.returncode, 0, table.output)
        self.assertIn(f"리퍼럴 리포트  {today} ~ {today} (KST)", table.output)
        self.assertIn(code, table.output)
        self.assertIn(f"{paid:,}", table.output)

    def test_report__csv_matches_a_hand_computed_fixture(self):
        """The fixture of plugins/referral/tests/test_ref_report.c, as files
        in a data dir, through the real command (no host running)."""
        h = self.host()
        write_fixture(h.data)
        r = h.cli("report", "ref", "--csv", "--from", "2026-11-20", "--to", "2026-11-23")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(r.stdout.decode(),
                         "section,day,code,referrer_result,visits,results,conversions,refunds,"
                         "revenue_krw,rewards,reward_krw\r\n"
                         "referrer,,bbbbbbbb,resB,2,1,2,0,7800,0,0\r\n"
                         "referrer,,aaaaaaaa,resA,4,2,2,1,3900,1,1000\r\n"
                         "referrer,,cccccccc,resC,0,0,1,1,0,1,1000\r\n"
                         "day,2026-11-20,,,3,1,0,0,0,0,0\r\n"
                         "day,2026-11-21,,,3,1,1,0,3900,1,1000\r\n"
                         "day,2026-11-22,,,0,1,2,1,3900,0,0\r\n"
                         "day,2026-11-23,,,0,0,2,1,3900,1,1000\r\n"
                         "total,,,,6,3,5,2,11700,2,2000\r\n")
        self.assertIn("skipped 1 unreadable line", r.stderr.decode())
        bad = h.cli("report", "ref", "--from", "2026-02-30")
        self.assertEqual(bad.returncode, 64, bad.output)
        self.assertEqual(h.cli("report", "nothing").returncode, 64)


def write_fixture(data_dir):
    """See test_ref_report.c for the fixture and the figures by hand."""
    def w(coll, records):
        with open(os.path.join(data_dir, f"{coll}.ndjson"), "w", encoding="utf-8") as f:
            for rec in records:
                f.write((rec if isinstance(rec, str) else json.dumps(rec)) + "\n")

    w("ref_codes", [{"k": c * 8, "code": c * 8, "result_id": "res" + c.upper(), "uid": ""}
                    for c in "abc"])

    def visit(c, ts):
        return {"k": "", "type": "referral.visit", "code": c * 8, "via": "page", "ts": ts}

    w("events", [visit("a", 1795100400000), visit("a", 1795133700000),
                 visit("a", 1795186799000), visit("a", 1795186830000),
                 visit("b", 1795233600000), visit("b", 1795233600000),
                 visit("c", 1795057200000),
                 {"k": "", "type": "order.approved", "order": "MQ1", "ts": 1795233600000},
                 '{"k":"","type":"referral.visit","code":"aaaa'])  # torn

    def attrib(res, c, ms):
        return {"k": res, "result_id": res, "code": c * 8, "created_ms": ms, "ts": ms}

    w("ref_attrib", [attrib("X1", "a", 1795133700000), attrib("X2", "a", 1795233600000),
                     attrib("X3", "b", 1795302000000), attrib("X4", "c", 1795446000000)])

    def sale(oid, c, amount, ms, reward, refunded):
        return {"k": oid, "order": oid, "code": c * 8, "amount": amount, "approved_ms": ms,
                "reward": reward, "reward_krw": 1000, "refunded": refunded, "ts": ms}

    w("referrals", [sale("MQ01", "a", 3900, 1795233600000, "pending", False),
                    sale("MQ01", "a", 3900, 1795233600000, "granted", False),
                    sale("MQ02", "a", 3510, 1795302000000, "granted", False),
                    sale("MQ03", "b", 3900, 1795345200000, "none", False),
                    sale("MQ04", "b", 3900, 1795395600000, "pending", False),
                    sale("MQ05", "a", 3900, 1795446000000, "granted", False),
                    sale("MQ06", "c", 2900, 1795445999000, "granted", True),
                    sale("MQ02", "a", 3510, 1795302000000, "voided", True)])


if __name__ == "__main__":
    import sys

    import mqtest
    sys.exit(mqtest.main("test_referral"))


class QuizPagesTest(ReferralTestCase):
    """The same chain through the real quiz plugin's pages (not the stub):
    the share link on a result page carries the referral plugin's code, a
    visit through it sets the first-touch cookie, the friend's own result
    is attributed, and buying it rewards the sharer once."""

    def start_with_quiz(self):
        from mqtest import BUILD_DIR
        quiz = os.path.join(BUILD_DIR, "plugins", "quiz.so")
        if not os.path.isfile(quiz):
            self.skipTest("quiz.so not built")
        h, sim = self.start_stack(start=False)
        src = os.path.join(h.dir, "stack-quiz")
        os.makedirs(os.path.join(src, "plugins"))
        for name in ("payments.so", "coupons.so", "referral.so", "quiz.so"):
            shutil.copyfile(os.path.join(BUILD_DIR, "plugins", name),
                            os.path.join(src, "plugins", name))
        shutil.copytree(os.path.join(BUILD_DIR, "assets"), os.path.join(src, "assets"))
        r = h.cli("release", "--from", src, "--id", "002-quiz")
        self.assertEqual(r.returncode, 0, r.output)
        h.set_current("002-quiz")
        h.start()
        return h, sim

    def take_demo(self, b):
        r = b.request("POST", "/app/quiz/demo", b'{"answers":[0,0,0]}')
        self.assertEqual(r.status, 303, r)
        return r.headers["Location"].rsplit("/", 1)[1]

    def test_quiz_pages__share_link_visit_result_purchase__one_reward(self):
        h, sim = self.start_with_quiz()
        sharer, friend = self.browser(h), self.browser(h)
        res_a = self.take_demo(sharer)
        page = sharer.request("GET", f"/app/result/{res_a}")
        self.assertEqual(page.status, 200)
        m = re.search(rf"/app/result/{res_a}\?ref=([a-km-np-z2-9]{{8}})", page.text)
        self.assertIsNotNone(m, "the share link carries the referral code")
        code = m.group(1)

        r = friend.request("GET", f"/app/result/{res_a}?ref={code}")
        self.assertEqual(r.status, 200)
        self.assertEqual(friend.cookies.get("mq_ref"), code)
        res_b = self.take_demo(friend)
        self.assertEqual(latest(h, "ref_attrib")[res_b]["code"], code)

        self.buy(h, sim, res_b)
        self.assertEqual(h.metric("referral_reward_total"), 1)
        self.assertEqual(latest(h, "referrals")[next(iter(latest(h, "referrals")))]["referrer_result"],
                         res_a)

    def test_quiz_pages__own_share_link__no_reward(self):
        h, sim = self.start_with_quiz()
        sharer = self.browser(h)
        res_a = self.take_demo(sharer)
        code = re.search(r"\?ref=([a-km-np-z2-9]{8})",
                         sharer.request("GET", f"/app/result/{res_a}").text).group(1)
        sharer.request("GET", f"/app/result/{res_a}?ref={code}")
        self.assertNotIn("mq_ref", sharer.cookies)
        res_b = self.take_demo(sharer)
        self.buy(h, sim, res_b)
        self.assertEqual(h.metric("referral_reward_total"), 0)
