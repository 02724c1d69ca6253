"""ops/nginx/mindquiz.conf, checked by a real nginx (issue 8, "nginx"):

  - `nginx -t` accepts the site as shipped, with only the machine-specific
    paths substituted: a self-signed certificate made by openssl in a temp
    dir, listen ports on loopback, a temp cache/log dir, the test host's
    port as the upstream;
  - end to end, a real nginx on loopback (temp prefix, free ports, no root
    paths) in front of a real `mindquiz serve`:
      * http redirects to https://mindquiz.app; TLS answers only for
        mindquiz.app (unknown names are refused at the handshake);
      * the host sees the client's address through X-Forwarded-For when
        TRUSTED_PROXIES names nginx, and a client's forged
        X-Forwarded-For never gets through; without TRUSTED_PROXIES the
        host sees nginx's own address (so only as configured);
      * /metrics and /admin/ answer 403 from nginx to a source outside the
        allowlist (127.0.0.2, a loopback alias) and never reach the host;
        from 127.0.0.1 they reach it, and /metrics still wants the token;
      * /static/ keeps the host's Cache-Control and ETag, is served from
        nginx's cache the second time (the host counts one request), and
        a conditional request gets 304;
      * connections to the host are kept alive between requests.
Skips (saying why) when nginx or openssl is missing.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest

import opstest
from mqtest import SCALE, HostTestCase, free_port, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
SITE = os.path.join(opstest.SOURCE_DIR, "ops", "nginx", "mindquiz.conf")
FIXTURE_OPS = os.path.join(opstest.BUILD_DIR, "tests", "ops", "plugins", "ops_fx.so")


def make_cert(d):
    """A self-signed certificate for mindquiz.app and www (SAN), in d."""
    crt, key = os.path.join(d, "fullchain.pem"), os.path.join(d, "privkey.pem")
    p = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mindquiz.app",
                        "-addext", "subjectAltName=DNS:mindquiz.app,DNS:www.mindquiz.app",
                        "-keyout", key, "-out", crt], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise AssertionError("openssl req failed:\n" + p.stdout.decode("utf-8", "replace"))
    return crt, key


def localize(site, prefix, upstream_port, http_port, https_port, crt, key):
    """The shipped site with only machine-specific bits replaced: ports,
    certificate, cache/log/webroot paths, upstream. Everything else (the
    locations, allowlists, headers, cache rules) is tested as shipped."""
    subs = [
        (r"server 127\.0\.0\.1:8080;", f"server 127.0.0.1:{upstream_port};"),
        (r"^\s*listen \[::\]:\d+[^;]*;\n", ""),  # no IPv6 needed on loopback
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ", f"listen 127.0.0.1:{https_port} "),
        (r"/etc/letsencrypt/live/mindquiz\.app/fullchain\.pem", crt),
        (r"/etc/letsencrypt/live/mindquiz\.app/privkey\.pem", key),
        (r"/var/cache/nginx/mindquiz", os.path.join(prefix, "cache")),
        (r"/var/log/nginx/", prefix + "/logs/"),
        (r"/var/www/letsencrypt", os.path.join(prefix, "webroot")),
    ]
    out = site
    for pat, rep in subs:
        out, n = re.subn(pat, rep.replace("\\", "\\\\"), out, flags=re.M)
        if n == 0:
            raise AssertionError(f"the site no longer contains {pat!r}: update localize()")
    code = re.sub(r"#[^\n]*", "", out)
    for leftover in ("/etc/", "/var/"):
        if leftover in code:
            raise AssertionError(f"a system path is left in the localized site: {leftover}")
    return out


def main_conf(prefix, site_path):
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""# written by tests/ops/test_nginx.py
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    access_log {prefix}/logs/access.log;
    include {site_path};
}}
"""


class NginxSite:
    """The shipped site localized into a temp prefix, run by a real nginx."""

    def __init__(self, test, prefix, upstream_port):
        self.test = test
        self.prefix = prefix
        for d in ("logs", "tmp", "cache", "webroot", "tls"):
            os.makedirs(os.path.join(prefix, d), exist_ok=True)
        self.crt, self.key = make_cert(os.path.join(prefix, "tls"))
        self.http_port, self.https_port = free_port(), free_port()
        with open(SITE, encoding="utf-8") as f:
            site = localize(f.read(), prefix, upstream_port, self.http_port, self.https_port,
                            self.crt, self.key)
        self.site_path = os.path.join(prefix, "mindquiz.conf")
        with open(self.site_path, "w", encoding="utf-8") as f:
            f.write(site)
        self.conf = os.path.join(prefix, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(main_conf(prefix, self.site_path))
        self.proc = None

    def args(self, *extra):
        return [NGINX, "-p", self.prefix, "-e", os.path.join(self.prefix, "logs", "error.log"),
                "-c", self.conf, *extra]

    def check(self):
        return subprocess.run(self.args("-t"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)

    def start(self):
        self.proc = subprocess.Popen(self.args("-g", "daemon off;"), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.test.addCleanup(self.stop)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(up, 20, "nginx listening")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(os.path.join(self.prefix, "logs", "error.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    # -- clients ---------------------------------------------------------------------

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.crt)
        return ctx

    def https(self, path, source="127.0.0.1", headers=None, sni="mindquiz.app", method="GET"):
        """One request over TLS from `source` (a loopback address), SNI `sni`."""
        sock = socket.create_connection(("127.0.0.1", self.https_port), timeout=10 * SCALE,
                                        source_address=(source, 0))
        try:
            tls = self.tls_context().wrap_socket(sock, server_hostname=sni)
        except BaseException:
            sock.close()
            raise
        conn = http.client.HTTPConnection("mindquiz.app", self.https_port, timeout=10 * SCALE)
        conn.sock = tls
        try:
            conn.request(method, path, headers={"Host": "mindquiz.app", **(headers or {})})
            r = conn.getresponse()
            body = r.read()
            return r.status, r.headers, body
        finally:
            conn.close()

    def http(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10 * SCALE)
        try:
            conn.request("GET", path, headers={"Host": "mindquiz.app"})
            r = conn.getresponse()
            r.read()
            return r.status, r.headers
        finally:
            conn.close()


def established_to(port):
    """Established TCP connections (IPv4) whose remote port is `port`."""
    n = 0
    with open("/proc/net/tcp", encoding="ascii") as f:
        next(f)
        for line in f:
            parts = line.split()
            rem, st = parts[2], parts[3]
            if st == "01" and int(rem.split(":")[1], 16) == port:
                n += 1
    return n


def _loopback_alias_works(addr):
    try:
        s = socket.socket()
        s.bind((addr, 0))
        s.close()
        return True
    except OSError:
        return False


class NginxTestBase(HostTestCase):
    def setUp(self):
        super().setUp()
        for path, what in ((NGINX, "nginx, Debian package nginx"),
                           (OPENSSL, "openssl, Debian package openssl")):
            why = opstest.need_executable(path, what)
            if why:
                self.skipTest(why)
        self.prefix = tempfile.mkdtemp(prefix="mq-ops-nginx-")
        self.addCleanup(self._cleanup_prefix)

    def _cleanup_prefix(self):
        if os.environ.get("MQ_TEST_KEEP"):
            return
        shutil.rmtree(self.prefix, ignore_errors=True)


class NginxSyntaxTest(NginxTestBase):
    def test_nginx__site_as_shipped__nginx_t_accepts_it(self):
        site = NginxSite(self, self.prefix, free_port())
        p = site.check()
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"nginx -t failed:\n{out}")
        self.assertIn("syntax is ok", out)
        self.assertIn("test is successful", out)


class NginxEndToEndTest(NginxTestBase):
    def setUp(self):
        super().setUp()
        if not os.path.isfile(FIXTURE_OPS):
            self.fail(f"{FIXTURE_OPS} is not built (cmake --build {opstest.BUILD_DIR})")
        for alias in ("127.0.0.2", "127.0.0.3"):
            if not _loopback_alias_works(alias):
                self.skipTest(f"cannot bind {alias} (no 127.0.0.0/8 on lo)")
        self.h = self.host(env={"BACKUP_AT": "off", "TRUSTED_PROXIES": "127.0.0.1"})
        src = os.path.join(self.h.dir, "from-ops")
        os.makedirs(os.path.join(src, "plugins"))
        os.makedirs(os.path.join(src, "assets"))
        shutil.copyfile(FIXTURE_OPS, os.path.join(src, "plugins", "ops_fx.so"))
        r = self.h.cli("release", "--from", src, "--id", "ops-1")
        self.assertEqual(r.returncode, 0, r.output)
        self.h.set_current("ops-1")
        self.h.start()
        self.nginx = NginxSite(self, self.prefix, self.h.port)
        self.nginx.start()

    def client(self, source="127.0.0.1", **headers):
        status, _, body = self.nginx.https("/fx/client", source=source, headers=headers)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_nginx__http__redirects_to_https_apex(self):
        status, headers = self.nginx.http("/app/result/demo1?x=1")
        self.assertEqual(status, 301)
        self.assertEqual(headers["Location"], "https://mindquiz.app/app/result/demo1?x=1")

    def test_nginx__tls__unknown_name_refused_www_redirected(self):
        with self.assertRaises(ssl.SSLError):
            self.nginx.https("/", sni="evil.example")
        status, headers, _ = self.nginx.https("/x", sni="www.mindquiz.app",
                                              headers={"Host": "www.mindquiz.app"})
        self.assertEqual(status, 301)
        self.assertEqual(headers["Location"], "https://mindquiz.app/x")

    def test_nginx__client_ip__host_sees_it_via_xff_and_forged_xff_is_dropped(self):
        seen = self.client()
        self.assertEqual(seen, {"ip": "127.0.0.1", "xff": "127.0.0.1", "real_ip": "127.0.0.1"})
        seen = self.client(source="127.0.0.3", **{"X-Forwarded-For": "6.6.6.6",
                                                  "X-Real-IP": "6.6.6.6"})
        self.assertEqual(seen["ip"], "127.0.0.3", "the host did not get the client's address")
        self.assertNotIn("6.6.6.6", json.dumps(seen), "a forged X-Forwarded-For got through")
        # The access log (what ops greps) shows the client too.
        log = self.h.wait(lambda: [e for e in self.h.read_access_log()
                                   if e["path"] == "/fx/client" and e["ip"] == "127.0.0.3"], 10,
                          "the access log line of the proxied request")
        self.assertTrue(log)

        # Only as configured: without TRUSTED_PROXIES the host ignores the
        # header and sees nginx.
        self.h.set_env(TRUSTED_PROXIES="")
        self.h.reload()
        seen = self.client(source="127.0.0.3")
        self.assertEqual(seen["ip"], "127.0.0.1")
        self.assertEqual(seen["xff"], "127.0.0.3")

    def test_nginx__metrics__allowlist_on_top_of_the_token(self):
        status, _, _ = self.nginx.https("/metrics", source="127.0.0.2",
                                        headers={"Authorization": f"Bearer {self.h.token}"})
        self.assertEqual(status, 403, "a source outside the allowlist got through")
        for path in ("/%6Detrics", "//metrics", "/metrics?x=1"):
            status, _, _ = self.nginx.https(path, source="127.0.0.2",
                                            headers={"Authorization": f"Bearer {self.h.token}"})
            self.assertEqual(status, 403, path)
        status, _, body = self.nginx.https("/metrics")
        self.assertEqual(status, 401, body)  # allowed by nginx, refused by the host: no token
        status, headers, body = self.nginx.https(
            "/metrics", headers={"Authorization": f"Bearer {self.h.token}"})
        self.assertEqual(status, 200, body)
        self.assertIn(b"mq_generation", body)
        # The denied scrape never reached the host.
        self.h.wait(lambda: any(e["path"] == "/metrics" for e in self.h.read_access_log()), 10,
                    "access log of the allowed scrapes")
        ips = {e["ip"] for e in self.h.read_access_log() if e["path"] == "/metrics"}
        self.assertEqual(ips, {"127.0.0.1"})

    def test_nginx__admin__allowlist(self):
        status, _, _ = self.nginx.https("/admin/ping", source="127.0.0.2")
        self.assertEqual(status, 403)
        status, _, body = self.nginx.https("/admin/ping")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"admin": True, "ip": "127.0.0.1"})
        # Anything under /admin is covered, not just known pages, and
        # /admin itself, however it is spelled.
        for path in ("/admin/logs?pass=x", "/admin", "/admin?x=1", "/%61dmin/status",
                     "//admin/status", "/admin/../admin/status"):
            status, _, _ = self.nginx.https(path, source="127.0.0.2")
            self.assertEqual(status, 403, path)
        # From the allowlist /admin reaches the host (no such page in the
        # fixture: the host's own JSON 404).
        status, _, body = self.nginx.https("/admin")
        self.assertEqual(status, 404, body)
        self.assertEqual(json.loads(body)["code"], "not_found")

    def test_nginx__static__host_cache_headers_kept_second_request_cached(self):
        def static_200():
            return self.h.metric("fx_static_requests_total", status="200")

        s1, h1, b1 = self.nginx.https("/static/app.css")
        self.assertEqual(s1, 200, b1)
        self.assertEqual(b1, b"static app.css\n")
        self.assertEqual(h1["Cache-Control"], "public, max-age=300")
        etag = h1["ETag"]
        self.assertRegex(etag or "", r'^"fx-\d+-[0-9a-f]{8}"$')
        self.assertEqual(h1["X-Cache-Status"], "MISS")
        self.assertIn("max-age", h1.get("Strict-Transport-Security", ""))

        s2, h2, b2 = self.nginx.https("/static/app.css")
        self.assertEqual((s2, b2), (200, b1))
        self.assertEqual(h2["X-Cache-Status"], "HIT")
        self.assertEqual(h2["Cache-Control"], "public, max-age=300")
        self.assertEqual(h2["ETag"], etag)
        self.assertEqual(static_200(), 1, "the second request reached the host")

        s3, h3, b3 = self.nginx.https("/static/app.css", headers={"If-None-Match": etag})
        self.assertEqual(s3, 304)
        self.assertEqual(b3, b"")
        self.assertEqual(static_200(), 1)

        # Other paths are other cache entries.
        s4, _, b4 = self.nginx.https("/static/other.js")
        self.assertEqual((s4, b4), (200, b"static other.js\n"))
        self.assertEqual(static_200(), 2)

    def test_nginx__upstream__connections_kept_alive(self):
        for _ in range(10):
            self.client()
        # With keep-alive nginx holds its idle connection to the host open
        # after the requests (without it, each request closes its own).
        n = established_to(self.h.port)
        self.assertGreaterEqual(n, 1, "no idle keep-alive connection from nginx to the host")
        self.assertLessEqual(n, 2, "a new upstream connection per request")


if __name__ == "__main__":
    unittest.main()
