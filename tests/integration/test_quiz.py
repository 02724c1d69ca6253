"""The quiz plugin on the real host, over HTTP: pages and their security
headers, CSP modes and reports, GA4, quiz submission, Open Graph tags on
every result page, escaping of a hostile quiz, static files (ETag, 304,
traversal), the per-IP rate limit, and the premium section with payments
absent, disabled and enabled."""

import hashlib
import html.parser
import itertools
import json
import os
import re
import shutil
import unittest
import urllib.parse

import mqtest
from mqtest import HostTestCase

BASE = "https://mq.example"
QUIZZES = os.path.join(mqtest.SOURCE_DIR, "assets", "quizzes")
STATIC = os.path.join(mqtest.SOURCE_DIR, "assets", "static")
ID_RE = re.compile(r"^/app/result/([0-9a-f]{10})$")


def load_quizzes():
    out = {}
    for name in sorted(os.listdir(QUIZZES)):
        if name.endswith(".json"):
            with open(os.path.join(QUIZZES, name), encoding="utf-8") as f:
                q = json.load(f)
            out[q["slug"]] = q
    return out


def score(quiz, answers):
    """The result type for answers, as the plugin computes it (argmax, first
    listed type wins ties)."""
    types = [r["type"] for r in quiz["results"]]
    total = dict.fromkeys(types, 0)
    for q, a in zip(quiz["questions"], answers):
        for t, v in q["options"][a]["scores"].items():
            total[t] += v
    return max(types, key=lambda t: (total[t], -types.index(t)))


def answers_for_each_type(quiz):
    """{type: answers} with one answer list that yields each type."""
    found = {}
    for combo in itertools.product(*[range(len(q["options"])) for q in quiz["questions"]]):
        t = score(quiz, combo)
        found.setdefault(t, list(combo))
        if len(found) == len(quiz["results"]):
            break
    return found


class Page(html.parser.HTMLParser):
    """What the tests look at in an HTML page: meta tags, links, scripts,
    every element with its attributes, text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.meta = {}
        self.links = []
        self.scripts = []
        self.elements = []
        self.text = []
        self.title = None
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "meta":
            key = a.get("property") or a.get("name")
            if key:
                self.meta[key] = a.get("content")
        elif tag == "link":
            self.links.append(a)
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title = (self.title or "") + data

    def all_text(self):
        return "".join(self.text)

    def link(self, rel):
        for a in self.links:
            if a.get("rel") == rel:
                return a.get("href")
        return None


def csp_nonce(policy):
    m = re.search(r"'nonce-([0-9a-f]{32})'", policy or "")
    return m.group(1) if m else None


class QuizTest(HostTestCase):
    quizzes = load_quizzes()

    def start(self, env=None, plugins=None, assets=None):
        e = {"PUBLIC_BASE_URL": BASE}
        e.update(env or {})
        h = self.host(env=e)
        h.publish_build("r1", plugins=plugins, assets=assets)
        h.set_current("r1")
        h.start()
        return h

    def page(self, h, path, status=200):
        r = h.get(path)
        self.assertEqual(r.status, status, f"GET {path}: {r.status} {r.body[:300]!r}")
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"), path)
        return r, Page(r.text)

    def submit(self, h, slug, answers, as_json=False, headers=None):
        if as_json:
            body = json.dumps({"answers": answers})
            hdr = {"Content-Type": "application/json"}
        else:
            body = urllib.parse.urlencode({f"q{i}": a for i, a in enumerate(answers)})
            hdr = {"Content-Type": "application/x-www-form-urlencoded"}
        hdr.update(headers or {})
        return h.post(f"/app/quiz/{slug}", body, headers=hdr)

    def new_result(self, h, slug, answers):
        r = self.submit(h, slug, answers)
        self.assertEqual(r.status, 303, r.body[:300])
        m = ID_RE.match(r.headers.get("Location", ""))
        self.assertIsNotNone(m, r.headers.get("Location"))
        return m.group(1)

    def assert_security_headers(self, r, enforce=False):
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.headers.get("Referrer-Policy"), "strict-origin-when-cross-origin")
        self.assertEqual(r.headers.get("X-Frame-Options"), "DENY")
        enforced = r.headers.get("Content-Security-Policy")
        report_only = r.headers.get("Content-Security-Policy-Report-Only")
        self.assertIn("frame-ancestors 'none'", enforced)
        if enforce:
            self.assertIsNone(report_only)
            policy = enforced
        else:
            self.assertEqual(enforced, "frame-ancestors 'none'")
            policy = report_only
        self.assertIn("default-src 'self'", policy)
        self.assertIn("report-uri /api/csp-report", policy)
        self.assertNotIn("unsafe-inline", policy)
        return policy

    # ---- pages and headers ------------------------------------------------------------

    def test_every_page_carries_security_headers_and_a_fresh_nonce(self):
        h = self.start()
        nonces = set()
        for path in ("/", "/app/quiz/travel", "/app/quiz/work", "/app/quiz/demo",
                     "/app/result/demo1", "/app/result/nosuch0000", "/app/quiz/nosuch"):
            status = 404 if "nosuch" in path else 200
            r, page = self.page(h, path, status)
            policy = self.assert_security_headers(r)
            nonce = csp_nonce(policy)
            self.assertIsNotNone(nonce, policy)
            nonces.add(nonce)
            # Every script is ours (app.js, same origin) and carries the nonce.
            self.assertTrue(page.scripts, path)
            for s in page.scripts:
                self.assertEqual(s.get("nonce"), nonce, path)
                self.assertTrue(s.get("src", "").startswith("/static/app."), s)
            self.assertIn("마인드퀴즈", page.title)
            self.assertIn('lang="ko"', r.text)
        self.assertEqual(len(nonces), 7, "a nonce is never reused")
        # the landing page lists the real quizzes, not the demo
        _, page = self.page(h, "/")
        hrefs = {a.get("href") for t, a in page.elements if t == "a"}
        self.assertIn("/app/quiz/travel", hrefs)
        self.assertIn("/app/quiz/work", hrefs)
        self.assertNotIn("/app/quiz/demo", hrefs)
        # HEAD works and sends no body
        r = h.request("HEAD", "/app/result/demo1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")

    def test_csp_enforce_mode_and_ga4_then_reload_back_to_report_only(self):
        h = self.start({"CSP_MODE": "enforce", "GA4_MEASUREMENT_ID": "G-TEST12345"})
        r, page = self.page(h, "/app/result/demo1")
        policy = self.assert_security_headers(r, enforce=True)
        nonce = csp_nonce(policy)
        self.assertIn(f"script-src 'self' 'nonce-{nonce}' https://*.googletagmanager.com;", policy)
        self.assertIn("img-src 'self' data: https://*.google-analytics.com "
                      "https://*.googletagmanager.com;", policy)
        self.assertIn("connect-src 'self' https://*.google-analytics.com "
                      "https://*.analytics.google.com https://*.googletagmanager.com;", policy)
        srcs = [s.get("src") for s in page.scripts]
        self.assertIn("https://www.googletagmanager.com/gtag/js?id=G-TEST12345", srcs)
        self.assertTrue(all(s.get("nonce") == nonce for s in page.scripts))
        self.assertIn("gtag('config','G-TEST12345')", r.text)
        # An invalid id is refused: no tag, no Google hosts.
        h.set_env(CSP_MODE="report-only", GA4_MEASUREMENT_ID="G-x');alert(1)//")
        h.reload()
        r, page = self.page(h, "/app/result/demo1")
        policy = self.assert_security_headers(r, enforce=False)
        self.assertNotIn("google", policy)
        self.assertNotIn("gtag", r.text)
        self.assertEqual(len(page.scripts), 1)

    def test_csp_reports_are_counted(self):
        h = self.start()
        before = h.metric("csp_reports_total")
        legacy = {"csp-report": {"document-uri": BASE + "/", "violated-directive": "script-src-elem",
                                 "effective-directive": "script-src-elem", "blocked-uri": "inline"}}
        r = h.post("/api/csp-report", json.dumps(legacy),
                   headers={"Content-Type": "application/csp-report"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        batch = [{"type": "csp-violation", "url": BASE + "/",
                  "body": {"effectiveDirective": "img-src", "blockedURL": "https://x.example/a.png"}},
                 {"type": "csp-violation", "body": {"effectiveDirective": "connect-src"}}]
        r = h.post("/api/csp-report", json.dumps(batch),
                   headers={"Content-Type": "application/reports+json"})
        self.assertEqual(r.status, 204)
        r = h.post("/api/csp-report", "not a report", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["code"], "bad_report")
        self.assertEqual(h.metric("csp_reports_total"), before + 3)
        self.assertIn('csp violation: directive "script-src-elem" blocked "inline"', h.stderr())

    # ---- submission and results ----------------------------------------------------------

    def test_form_and_json_submissions_store_the_server_computed_type(self):
        h = self.start()
        quiz = self.quizzes["travel"]
        for t, answers in answers_for_each_type(quiz).items():
            rid = self.new_result(h, "travel", answers)
            _, page = self.page(h, f"/app/result/{rid}")
            name = next(r["name"] for r in quiz["results"] if r["type"] == t)
            self.assertIn(name, page.all_text())
            self.assertEqual(h.metric("quiz_submissions_total", quiz="travel", type=t) >= 1, True)
        # JSON clients get the id and url too
        r = self.submit(h, "work", [0] * len(self.quizzes["work"]["questions"]), as_json=True)
        self.assertEqual(r.status, 303)
        body = r.json()
        self.assertEqual(r.headers["Location"], body["url"])
        self.assertEqual(body["url"], f"/app/result/{body['id']}")
        # Results survive a restart: they are in the store.
        h.stop()
        h.start()
        self.page(h, body["url"])

    def test_incomplete_and_bad_answers_are_refused_in_korean(self):
        h = self.start()
        r = self.submit(h, "travel", [0, 1])
        self.assertEqual(r.status, 422)
        page = Page(r.text)
        self.assertIn("아직 답하지 않은 문항이 있어요", page.all_text())
        self.assertIn('name="q0"', r.text)  # the quiz again, to finish
        r = h.post("/app/quiz/travel", "q0=9&q1=0&q2=0&q3=0&q4=0&q5=0&q6=0&q7=0",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400)
        r = self.submit(h, "travel", [0], as_json=True)
        self.assertEqual((r.status, r.json()["code"]), (422, "incomplete_answers"))
        r = h.post("/app/quiz/travel", "{", headers={"Content-Type": "application/json"})
        self.assertEqual((r.status, r.json()["code"]), (400, "bad_answers"))
        r = self.submit(h, "nosuch", [0])
        self.assertEqual(r.status, 404)

    def test_every_result_page_has_absolute_og_and_twitter_tags(self):
        h = self.start()
        seen_images = set()
        ids = [("demo1", "demo", "calm")]
        for slug, quiz in self.quizzes.items():
            for t, answers in answers_for_each_type(quiz).items():
                ids.append((self.new_result(h, slug, answers), slug, t))
        self.assertGreaterEqual(len(ids), 11)
        for rid, slug, t in ids:
            r, page = self.page(h, f"/app/result/{rid}")
            quiz = self.quizzes[slug]
            result = next(x for x in quiz["results"] if x["type"] == t)
            canonical = f"{BASE}/app/result/{rid}"
            m = page.meta
            self.assertEqual(page.link("canonical"), canonical)
            self.assertEqual(m["og:url"], canonical)
            self.assertEqual(m["og:type"], "article")
            self.assertEqual(m["og:title"], f"{quiz['title']} 결과: {result['name']}")
            self.assertEqual(m["og:description"], result["summary"])
            self.assertEqual(m["twitter:card"], "summary_large_image")
            self.assertEqual(m["twitter:title"], m["og:title"])
            self.assertEqual(m["og:image"], m["twitter:image"])
            img = urllib.parse.urlsplit(m["og:image"])
            self.assertEqual(f"{img.scheme}://{img.netloc}", BASE, m["og:image"])
            self.assertRegex(img.path, rf"^/static/og/{slug}-{t}\.[0-9a-f]{{12}}\.png$")
            self.assertEqual((m["og:image:width"], m["og:image:height"]), ("1200", "630"))
            seen_images.add(img.path)
            png = h.get(img.path)
            self.assertEqual(png.status, 200)
            self.assertEqual(png.headers["Content-Type"], "image/png")
            self.assertEqual(png.body[:8], b"\x89PNG\r\n\x1a\n")
            # share section: the link carries the referral plugin's code
            inputs = [a.get("value") for t2, a in page.elements if t2 == "input"]
            shares = [v for v in inputs if v and v.startswith(f"{canonical}?ref=")]
            self.assertEqual(len(shares), 1, inputs)
            share = shares[0]
            self.assertRegex(share, r"\?ref=[a-km-np-z2-9]{8}$")
            kakao = [a for t2, a in page.elements if t2 == "a" and a.get("data-share") == "kakao"]
            self.assertEqual(kakao[0]["href"], share)
        self.assertEqual(len(seen_images), len({(s, t) for _, s, t in ids}),
                         "one OG image per result type")

    def test_hostile_quiz_text_is_escaped_everywhere(self):
        h = self.host(env={"PUBLIC_BASE_URL": BASE})
        assets = os.path.join(h.dir, "hostile-assets")
        shutil.copytree(os.path.join(mqtest.BUILD_DIR, "assets"), assets,
                        ignore=shutil.ignore_patterns("CMakeFiles", "Makefile", "*.cmake"))
        hostile = {
            "slug": "evil", "title": "<script>alert('title')</script>",
            "description": "\"><img src=x onerror=alert(1)>",
            "questions": [{"text": "</legend><script>alert(2)</script>", "options": [
                {"text": "<input name=q0 value=9>", "scores": {"a": 1}},
                {"text": "{{nonce}} javascript:alert(3)", "scores": {"b": 1}}]}],
            "results": [
                {"type": "a", "name": "</title><script>alert(4)</script>",
                 "summary": "\" onmouseover=\"alert(5)", "description": ["<iframe src=javascript:alert(6)>"],
                 "traits": ["</li><svg onload=alert(7)>"], "match": "b",
                 "premium": [{"heading": "<h1>x</h1>", "body": "</p><script>alert(8)</script>"}]},
                {"type": "b", "name": "'-alert(9)-'", "summary": "s", "description": ["p"],
                 "premium": [{"heading": "h", "body": "b"}]}]}
        with open(os.path.join(assets, "quizzes", "evil.json"), "w", encoding="utf-8") as f:
            json.dump(hostile, f, ensure_ascii=False)
        h.publish_build("r1", assets=assets)
        h.set_current("r1")
        h.start()
        rid = self.new_result(h, "evil", [0])
        for path in ("/", "/app/quiz/evil", f"/app/result/{rid}"):
            r, page = self.page(h, path)
            # Only the template's own elements: one script (app.js), no element or
            # event-handler attribute that came from the data.
            self.assertEqual(len(page.scripts), 1, path)
            tags = {t for t, _ in page.elements}
            self.assertFalse(tags & {"iframe", "svg"}, path)
            self.assertFalse([t for t, a in page.elements if t == "img" and a.get("src") == "x"], path)
            self.assertFalse([a for _, a in page.elements for k in a if k.startswith("on")], path)
            self.assertFalse([a for t, a in page.elements if t == "input" and a.get("value") == "9"], path)
        # ...and the text round-trips exactly: escaped, not mangled.
        r, page = self.page(h, f"/app/result/{rid}")
        self.assertEqual(page.meta["og:description"], "\" onmouseover=\"alert(5)")
        self.assertIn("</title><script>alert(4)</script>", page.title)
        self.assertIn("<h1>x</h1>", page.all_text())  # the locked report's teaser
        _, quiz_page = self.page(h, "/app/quiz/evil")
        self.assertIn("{{nonce}} javascript:alert(3)", quiz_page.all_text())

    # ---- static files ----------------------------------------------------------------------

    def test_static_files_etag_304_cache_and_no_traversal(self):
        h = self.start()
        with open(os.path.join(STATIC, "app.css"), "rb") as f:
            css = f.read()
        etag = '"' + hashlib.sha256(css).hexdigest() + '"'
        r = h.get("/static/app.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, css)
        self.assertEqual(r.headers["ETag"], etag)
        self.assertEqual(r.headers["Content-Type"], "text/css; charset=utf-8")
        self.assertEqual(r.headers["Cache-Control"], "public, max-age=300")
        self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
        # pages link the hashed name, cached for a year
        _, page = self.page(h, "/")
        hashed = page.link("stylesheet")
        self.assertRegex(hashed, r"^/static/app\.[0-9a-f]{12}\.css$")
        r = h.get(hashed)
        self.assertEqual((r.status, r.body), (200, css))
        self.assertEqual(r.headers["Cache-Control"], "public, max-age=31536000, immutable")
        self.assertEqual(r.headers["ETag"], etag)
        for inm in (etag, "W/" + etag, f'"nope", {etag}', "*"):
            r = h.get(hashed, headers={"If-None-Match": inm})
            self.assertEqual(r.status, 304, inm)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.headers["ETag"], etag)
        r = h.get(hashed, headers={"If-None-Match": '"other"'})
        self.assertEqual(r.status, 200)
        r = h.get("/robots.txt")
        self.assertEqual(r.status, 200)
        self.assertIn(b"User-agent", r.body)
        # Nothing outside what was loaded, whatever the path says.
        release = h.release_dir("r1")
        secrets_ = [open(h.env_path, "rb").read(), open(os.path.join(release, "MANIFEST"), "rb").read()]
        for path in ("/static/../.env", "/static/%2e%2e/%2e%2e/.env", "/static/..%2f..%2fMANIFEST",
                     "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/static/og/../app.css",
                     "/static/./app.css", "/static//app.css", "/static/%2fetc%2fpasswd",
                     "/static/app.css%00.png", "/static/..\\..\\MANIFEST", "/static/",
                     "/static/og", "/static/../../MANIFEST", "/static/app.000000000000.css"):
            r = h.get(path)
            self.assertIn(r.status, (400, 404), f"{path}: {r.status}")
            for s in secrets_:
                self.assertNotIn(s[:40], r.body, path)
            self.assertNotIn(b"root:x:0:0", r.body, path)

    # ---- rate limit ----------------------------------------------------------------------------

    def test_quiz_submission_is_rate_limited_per_client_ip(self):
        h = self.start({"QUIZ_SUBMIT_PER_MIN": "1", "QUIZ_SUBMIT_BURST": "3",
                        "TRUSTED_PROXIES": "127.0.0.1/32"})
        answers = [0] * len(self.quizzes["demo"]["questions"])
        xff = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(3):
            self.assertEqual(self.submit(h, "demo", answers, headers=xff).status, 303)
        r = self.submit(h, "demo", answers, headers=xff)
        self.assertEqual(r.status, 429)
        self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        self.assertIn("잠시 후 다시", Page(r.text).all_text())
        r = self.submit(h, "demo", answers, as_json=True, headers=xff)
        self.assertEqual((r.status, r.json()["code"]), (429, "rate_limited"))
        self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        # another client (behind the trusted proxy) has its own bucket
        r = self.submit(h, "demo", answers, headers={"X-Forwarded-For": "198.51.100.9"})
        self.assertEqual(r.status, 303)
        self.assertEqual(h.metric("quiz_rate_limited_total", route="quiz_submit"), 2)
        # pages are not limited
        for _ in range(10):
            self.assertEqual(h.get("/app/result/demo1", headers=xff).status, 200)

    def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(self):
        h = self.start({"QUIZ_SUBMIT_PER_MIN": "1", "QUIZ_SUBMIT_BURST": "2"})
        answers = [0] * len(self.quizzes["demo"]["questions"])
        statuses = [self.submit(h, "demo", answers, headers={"X-Forwarded-For": f"10.9.8.{i}"}).status
                    for i in range(4)]
        self.assertEqual(statuses, [303, 303, 429, 429])

    # ---- premium section ------------------------------------------------------------------------

    def premium(self, page):
        for t, a in page.elements:
            if t == "section" and a.get("id") == "premium":
                return a
        self.fail("no premium section")

    def test_premium_without_payments_plugin_is_locked_quietly(self):
        h = self.start(plugins=["quiz.so"])
        r, page = self.page(h, "/app/result/demo1")
        self.assertEqual(self.premium(page)["data-state"], "paused")
        self.assertIn("지금은 결제를 잠시 쉬고 있어요", page.all_text())
        self.assertNotIn("data-pay=", r.text)

    def test_premium_with_payments_disabled_shows_the_notice_then_buttons_after_reload(self):
        if not os.path.isfile(os.path.join(mqtest.BUILD_DIR, "plugins", "payments.so")):
            self.skipTest("plugins/payments is not built")
        h = self.start({"PAYMENTS_ENABLED": "0"})
        r, page = self.page(h, "/app/result/demo1?payment=failed")
        self.assertEqual(self.premium(page)["data-state"], "paused")
        self.assertIn("지금은 결제를 잠시 쉬고 있어요", page.all_text())
        self.assertNotIn("data-pay=", r.text)
        self.assertIn("결제가 완료되지 않았어요", page.all_text())
        # the kill switch is read again on reload: no restart
        h.set_env(PAYMENTS_ENABLED="1")
        h.reload()
        r, page = self.page(h, "/app/result/demo1")
        self.assertEqual(self.premium(page)["data-state"], "locked")
        buttons = {a.get("data-pay") for t, a in page.elements if t == "button" and a.get("data-pay")}
        self.assertEqual(buttons, {"kakao", "naver"})
        self.assertIn("3,900원", page.all_text())


if __name__ == "__main__":
    unittest.main()
