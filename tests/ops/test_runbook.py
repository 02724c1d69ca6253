"""ops/RUNBOOK.md is executable (issue 8, "every command real"):

Every ```sh block of the runbook carries a name (`# [name]` on its first
line). This test runs each one, as written, against a real `mindquiz serve`
with the payments plugin and mq-pgsim, in the order an operator would
(triage, kill switch, rollback, recovery, backups, secret rotation,
routines), and checks both what the block prints -- the ```text block after
it, `<...>` matching anything -- and what it did: payment start 503 then 200,
the release serving, a rotated ORDER_SECRET still verifying an order signed
before the rotation, a rotated METRICS_TOKEN, a webhook test reaching a
(local) Slack stand-in.

Only machine facts are substituted: /srv/mindquiz -> the test host's dir,
https://mindquiz.app and 127.0.0.1:8080 -> the test host, /usr/local/bin/*
-> the build and ops/ files, /etc/prometheus -> a temp dir. `sudo`,
`systemctl` and `journalctl` are stand-ins on PATH that do what they would
(`sudo -u mindquiz X` runs X; `systemctl reload mindquiz` sends SIGHUP to
the PID file's process, as ExecReload does; `journalctl` prints the host's
log). The [install] block needs root on a real server: it is only parsed
(bash -n). Every alert's `runbook:` link must name a heading of the runbook.
"""
import http.server
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import unittest

import opstest
from mqtest import SCALE, HostTestCase, MINDQUIZ

RUNBOOK = os.path.join(opstest.SOURCE_DIR, "ops", "RUNBOOK.md")
ENV_SET = os.path.join(opstest.SOURCE_DIR, "ops", "mq-env-set")
SYNTAX_ONLY = {"install"}
BASH = shutil.which("bash") or "/bin/bash"

STUBS = {
    "sudo": r"""#!/bin/sh
# test stand-in: `sudo [-u USER] [-opts] CMD...` runs CMD as this user
while [ $# -gt 0 ]; do
  case "$1" in -u|-g) shift 2 ;; -*) shift ;; *) break ;; esac
done
exec "$@"
""",
    "systemctl": r"""#!/bin/sh
# test stand-in: what systemd would do for mindquiz.service
case "$1 $2" in
  "reload mindquiz"|"reload mindquiz.service") exec kill -HUP "$(cat "$MQ_PID_FILE")" ;;
  "status mindquiz"|"status mindquiz.service") echo "mindquiz.service: active (running)"; exit 0 ;;
esac
echo "systemctl $*: not emulated by the runbook test" >&2
exit 1
""",
    "journalctl": r"""#!/bin/sh
# test stand-in: the host's log (what journald holds for the unit)
cat "$MQ_HOST_LOG"
""",
}


def parse_runbook(text):
    """[(lang, name, body, expected output or None)] of the fenced blocks,
    list indentation removed. `expected` is the ```text block right after an
    ```sh block (only blank lines between)."""
    blocks = []
    pattern = re.compile(r"^([ \t]*)```(\w*)[^\n]*\n(.*?)^\1```[ \t]*$", re.M | re.S)
    for m in pattern.finditer(text):
        indent, lang, body = m.group(1), m.group(2), m.group(3)
        lines = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                 for line in body.splitlines()]
        blocks.append((lang, "\n".join(lines) + "\n", m.start(), m.end()))
    out = []
    for i, (lang, body, start, end) in enumerate(blocks):
        if lang != "sh":
            continue
        first = body.splitlines()[0] if body.strip() else ""
        nm = re.match(r"#\s*\[([a-z0-9-]+)\]", first)
        expected = None
        if i + 1 < len(blocks) and blocks[i + 1][0] == "text" and \
                text[end:blocks[i + 1][2]].strip() == "":
            expected = blocks[i + 1][1]
        out.append((nm.group(1) if nm else None, body, expected))
    return out


def github_slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)  # keeps Hangul (\w is Unicode-aware)
    return s.replace(" ", "-")


def template_regex(line):
    parts = re.split(r"<[^>]*>", line.strip())
    return re.compile(".+?".join(re.escape(p) for p in parts))


class Capture(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        Capture.bodies.append(self.rfile.read(n).decode("utf-8", "replace"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


class RunbookShell:
    """Runs the runbook's named ```sh blocks against a test host, with only
    machine facts substituted (see the module doc), and checks each one's
    output against the ```text block after it."""

    def __init__(self, test, h):
        self.test = test
        with open(RUNBOOK, encoding="utf-8") as f:
            self.blocks = {n: (b, e) for n, b, e in parse_runbook(f.read())}
        self.work = tempfile.mkdtemp(prefix="mq-ops-runbook-")
        test.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir)
        for name, text in STUBS.items():
            path = os.path.join(bindir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.etc_prometheus = os.path.join(self.work, "etc-prometheus")
        os.makedirs(self.etc_prometheus)
        base = f"http://127.0.0.1:{h.port}"
        self.subs = [
            ("/usr/local/bin/mindquiz", MINDQUIZ),
            ("/usr/local/bin/mq-env-set", ENV_SET),
            ("/srv/mindquiz", h.dir),
            ("https://mindquiz.app", base),
            ("http://127.0.0.1:8080", base),
            ("/etc/prometheus", self.etc_prometheus),
        ]
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                        MQ_PID_FILE=h.pid_file, MQ_HOST_LOG=h.stderr_path, TMPDIR=h.tmpdir)

    def run(self, name, stdin=b"", expect_rc=0):
        """Run block `name`; assert its exit code and expected output.
        Returns what it printed (stdout and stderr)."""
        t = self.test
        body, expected = self.blocks[name]
        script = body
        for old, new in self.subs:
            script = script.replace(old, new)
        p = subprocess.run([BASH, "-eo", "pipefail", "-c", script], input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.work,
                           env=self.env, timeout=120 * SCALE)
        out = p.stdout.decode("utf-8", "replace")
        t.assertEqual(p.returncode, expect_rc, f"[{name}] exited {p.returncode}:\n{out}\n"
                      f"--- script ---\n{script}")
        if expected:
            lines = [ln.strip() for ln in out.splitlines()]
            at = 0
            for want in expected.splitlines():
                if not want.strip():
                    continue
                for old, new in self.subs:
                    want = want.replace(old, new)
                rx = template_regex(want)
                while at < len(lines) and not rx.fullmatch(lines[at]):
                    at += 1
                t.assertLess(at, len(lines), f"[{name}] output lacks {want!r} (in order):\n{out}")
                at += 1
        return out


class RunbookStaticTest(unittest.TestCase):
    def test_runbook__every_sh_block__is_named_and_unique(self):
        with open(RUNBOOK, encoding="utf-8") as f:
            blocks = parse_runbook(f.read())
        names = [n for n, _, _ in blocks]
        self.assertNotIn(None, names, "an ```sh block without a `# [name]` first line")
        self.assertEqual(len(names), len(set(names)), names)
        self.assertEqual(set(names) - set(RunbookTest.ORDER) - SYNTAX_ONLY, set(),
                         "blocks this test does not run")
        self.assertEqual(set(RunbookTest.ORDER) - set(names), set(),
                         "blocks this test runs that the runbook lost")

    def test_runbook__install_block__parses(self):
        with open(RUNBOOK, encoding="utf-8") as f:
            blocks = {n: b for n, b, _ in parse_runbook(f.read())}
        for name in SYNTAX_ONLY:
            p = subprocess.run([BASH, "-n"], input=blocks[name].encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_runbook__alert_links__name_existing_headings(self):
        with open(RUNBOOK, encoding="utf-8") as f:
            text = f.read()
        slugs = {github_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}
        with open(opstest.RULES, encoding="utf-8") as f:
            links = set(re.findall(r"runbook: ops/RUNBOOK\.md#(\S+)", f.read()))
        self.assertTrue(links)
        self.assertEqual(sorted(links - slugs), [], "alert runbook links to missing headings")


class RunbookTest(HostTestCase):
    # The order an operator meets them in an incident, then the routines.
    ORDER = ["health", "metrics", "logs", "kill-switch-on", "kill-switch-check", "reload-status",
             "reload-refused", "releases", "rollback", "rollback-verify", "activate", "release",
             "kill-switch-off", "backup", "restore-check", "rotate-order-secret",
             "rotate-order-secret-finish", "rotate-metrics-token", "rotate-gateway-key",
             "rotate-slack-webhook", "daily", "weekly-prune-releases"]

    def setUp(self):
        super().setUp()
        for tool in ("jq", "curl", "openssl"):
            if not shutil.which(tool):
                self.skipTest(f"{tool} not installed (see ops/install-deps.sh)")
        if not opstest.payments_built():
            self.skipTest("plugins/payments is not built: the runbook's payment steps need it")
        why = opstest.need_executable(opstest.PGSIM, "mq-pgsim")
        if why:
            self.skipTest(why)

    def _tmp(self, prefix):
        d = tempfile.mkdtemp(prefix=prefix)
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d

    def test_runbook__every_command__runs_against_a_real_host(self):
        sim = opstest.PgSim(self, self._tmp("mq-ops-sim-"))
        h = self.host(env={"BACKUP_AT": "off", "APP_ENV": "production", **sim.env()})
        h.set_env(PUBLIC_BASE_URL=f"http://127.0.0.1:{h.port}")
        r1, r2 = "20261101-000000", "20261102-000000"
        opstest.publish(h, r1, ["hello_v1.so"])
        opstest.publish(h, r2, ["hello_v2.so"])
        h.set_current(r2)
        h.start()

        incoming = os.path.join(h.dir, "incoming")
        os.makedirs(os.path.join(incoming, "plugins"))
        shutil.copyfile(opstest.PAYMENTS_SO, os.path.join(incoming, "plugins", "payments.so"))
        shutil.copyfile(opstest.mqtest.fixture("hello_v2.so"),
                        os.path.join(incoming, "plugins", "hello_v2.so"))
        shutil.copytree(opstest.BUILD_ASSETS, os.path.join(incoming, "assets"))
        shell = RunbookShell(self, h)
        self.run_block = shell.run
        etc_prom = shell.etc_prometheus
        ready_body = json.dumps({"provider": "kakao", "resultId": "demo1"})

        def ready_status():
            return h.post("/api/pay/ready", ready_body,
                          headers={"Content-Type": "application/json"}).status

        # Some history for triage to look at.
        _, loc = opstest.pay(h, "kakao", "approve")
        self.assertIn("paid=1", loc)
        _, loc = opstest.pay(h, "kakao", "cancel")
        self.assertIn("payment=canceled", loc)

        # ---- §1.1 triage ------------------------------------------------------------------
        out = self.run_block("health")
        self.assertIn(f'"release": "{r2}"', out)
        self.run_block("metrics")
        out = self.run_block("logs")
        self.assertRegex(out, r"\b1\s+kakao\s+user_cancel\b")

        # ---- §1.0 kill switch on --------------------------------------------------------------
        out = self.run_block("kill-switch-on")
        self.assertEqual(ready_status(), 503)
        self.assertEqual(h.get("/api/health").status, 200)
        self.assertEqual(stat.S_IMODE(os.stat(h.env_path).st_mode), 0o600, "sed -i changed the mode")
        self.run_block("kill-switch-check")
        self.run_block("reload-status")
        self.run_block("reload-refused")
        self.assertEqual(ready_status(), 503, "the refused reload changed what serves")

        # ---- §3 rollback and forward ---------------------------------------------------------
        self.run_block("releases")
        self.run_block("rollback")
        self.assertEqual(h.version()["release"], r1)
        out = self.run_block("rollback-verify")
        self.assertIn(r1, out)
        self.assertEqual(ready_status(), 503, "rollback must keep the kill switch on")
        self.run_block("activate")
        self.assertEqual(h.version()["release"], r2)
        out = self.run_block("release")
        new_id = re.search(r"published release (\S+)", out).group(1)
        self.assertTrue(os.path.isfile(os.path.join(h.releases, new_id, "MANIFEST")))

        # ---- §1.4 kill switch off -------------------------------------------------------------
        self.run_block("kill-switch-off")
        _, loc = opstest.pay(h, "naver", "approve")
        self.assertIn("paid=1", loc)

        # ---- §5 backups ----------------------------------------------------------------------------
        self.run_block("backup")
        self.run_block("restore-check")

        # ---- §6 secret rotation ------------------------------------------------------------------------
        def env_values():
            vals = {}
            with open(h.env_path, encoding="utf-8") as f:
                for line in f:
                    k, _, v = line.rstrip("\n").partition("=")
                    vals[k] = v
            return vals

        old_secret = env_values()["ORDER_SECRET"]
        # A buyer at the gateway while the secret rotates: signed with the old one.
        r = h.post("/api/pay/ready", ready_body, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r.body)
        pending = r.json()["redirectUrl"]
        out = self.run_block("rotate-order-secret")
        self.assertNotIn(old_secret, out, "the rotation printed a secret")
        vals = env_values()
        self.assertEqual(vals["ORDER_SECRET_PREV"], old_secret)
        self.assertNotEqual(vals["ORDER_SECRET"], old_secret)
        self.assertEqual(len(vals["ORDER_SECRET"]), 64)
        self.assertEqual(stat.S_IMODE(os.stat(h.env_path).st_mode), 0o600)
        status, back = opstest._get_location(pending + "/approve")
        self.assertEqual(status, 302)
        status, final = opstest._get_location(back)
        self.assertIn("paid=1", final or "", "an order signed before the rotation failed")
        self.run_block("rotate-order-secret-finish")
        self.assertNotIn("ORDER_SECRET_PREV", env_values())
        _, loc = opstest.pay(h, "kakao", "approve")
        self.assertIn("paid=1", loc)

        old_token = h.token
        out = self.run_block("rotate-metrics-token")
        new_token = env_values()["METRICS_TOKEN"]
        self.assertNotEqual(new_token, old_token)
        self.assertNotIn(new_token, out)
        with open(os.path.join(etc_prom, "mindquiz.token"), encoding="utf-8") as f:
            self.assertEqual(f.read(), new_token)
        self.assertEqual(h.get("/metrics", headers={"Authorization": f"Bearer {old_token}"}).status,
                         401)
        h.token = new_token
        h.metrics()  # 200 with the new one

        self.run_block("rotate-gateway-key", stdin=b"DEVSIMKAKAOSECRET\n")
        _, loc = opstest.pay(h, "kakao", "approve")
        self.assertIn("paid=1", loc)

        srv = http.server.HTTPServer(("127.0.0.1", 0), Capture)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        hook = f"http://127.0.0.1:{srv.server_port}/services/T000/B000/XXXX"
        Capture.bodies.clear()
        out = self.run_block("rotate-slack-webhook", stdin=(hook + "\n").encode())
        self.assertIn("webhook ok", out)
        self.assertNotIn(hook, out, "the webhook URL was printed")
        self.assertEqual(env_values()["SLACK_WEBHOOK_URL"], hook)
        self.assertEqual(len(Capture.bodies), 1)
        self.assertIn("webhook rotated", Capture.bodies[0])

        # ---- §7 routines -------------------------------------------------------------------------------
        self.run_block("daily")
        for i in range(12):
            opstest.publish(h, f"old-{i:02d}", ["hello_v1.so"], payments=False)
        current = h.current()
        self.run_block("weekly-prune-releases")
        self.assertEqual(h.current(), current)
        self.assertTrue(os.path.isdir(os.path.join(h.releases, current)))
        left = [d for d in os.listdir(h.releases) if d != "current"]
        self.assertEqual(len(left), 10, left)
        self.assertEqual(h.version()["release"], current)
        self.assertEqual(h.get("/api/health").status, 200)


if __name__ == "__main__":
    unittest.main()
