"""ops/systemd/mindquiz.service (issue 8, "systemd"):

  - `systemd-analyze verify` accepts the unit (only ExecStart's binary path
    is pointed at the build, so verify finds an executable there);
  - `systemd-analyze security --offline=yes` rates its exposure 2.0 or
    lower ("OK" is below 4);
  - the settings the runbook relies on are there: ExecStart serve --env
    /srv/mindquiz/.env, ExecReload SIGHUP, PIDFile = the host's default
    PID_FILE, Restart=on-failure, UMask=0077, a dedicated user, the
    hardening set, ReadWritePaths for data and backups, TMPDIR in an
    exec-allowed path that is writable;
  - the ExecStartPre .env check, run as systemd would run it (with $$ and
    %% unescaped), passes a 0600/0400 .env and refuses 0640, 0644, 0604,
    0660 and a missing one, saying why;
  - the seccomp filter (SystemCallFilter) allows every system call the host
    makes in a real session traced with strace: start, requests, a
    payment through mq-pgsim (outbound HTTP), a reload, a backup, SIGTERM.
Skips, saying why, when systemd-analyze (Debian package systemd) or strace
is missing.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import mqtest
import opstest
from mqtest import SCALE, HostTestCase, MINDQUIZ

UNIT = os.path.join(opstest.SOURCE_DIR, "ops", "systemd", "mindquiz.service")
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
STRACE = shutil.which("strace") or "/usr/bin/strace"


def read_unit():
    """{key: [values]} of the unit (keys may repeat), comments dropped."""
    out = {}
    with open(UNIT, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            k, _, v = line.partition("=")
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def unescape_exec(cmd):
    """A unit's command line as systemd hands it to the program: $$ -> $,
    %% -> % (no other specifiers or variables are used in ours)."""
    if re.search(r"%[^%]", cmd.replace("%%", "")):
        raise AssertionError(f"unexpected specifier in {cmd!r}")
    return cmd.replace("$$", "$").replace("%%", "%")


def sh_argv(cmd):
    """['/bin/sh', '-c', script] from `/bin/sh -c '...'`."""
    m = re.fullmatch(r"(/bin/sh) -c '(.*)'", cmd)
    if not m:
        raise AssertionError(f"not a /bin/sh -c '...' command: {cmd!r}")
    return [m.group(1), "-c", m.group(2)]


class UnitFileTest(unittest.TestCase):
    def setUp(self):
        why = opstest.need_executable(ANALYZE, "systemd-analyze, Debian package systemd")
        if why:
            self.skipTest(why)
        self.tmp = tempfile.mkdtemp(prefix="mq-ops-systemd-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        if not os.access(MINDQUIZ, os.X_OK):
            self.fail(f"{MINDQUIZ} is not built")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/local/bin/mindquiz ", text)
        self.local = os.path.join(self.tmp, "mindquiz.service")
        with open(self.local, "w", encoding="utf-8") as f:
            f.write(text.replace("ExecStart=/usr/local/bin/mindquiz ", f"ExecStart={MINDQUIZ} "))

    def test_systemd__unit__systemd_analyze_verify_passes(self):
        p = subprocess.run([ANALYZE, "verify", self.local], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, f"systemd-analyze verify:\n{out}")
        # verify prints warnings without failing: there must be none.
        self.assertEqual(out.strip(), "", f"systemd-analyze verify warned:\n{out}")

    def test_systemd__unit__exposure_level_at_most_2(self):
        p = subprocess.run([ANALYZE, "security", "--offline=yes", "--no-pager", self.local],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        self.assertIsNotNone(m, out[-2000:])
        self.assertLessEqual(float(m.group(1)), 2.0, out[-3000:])


class UnitSettingsTest(unittest.TestCase):
    def test_systemd__unit__settings_the_runbook_relies_on(self):
        u = read_unit()
        one = {k: v[-1] for k, v in u.items()}
        self.assertEqual(one["ExecStart"], "/usr/local/bin/mindquiz serve --env /srv/mindquiz/.env")
        self.assertEqual(one["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(one["PIDFile"], "/srv/mindquiz/data/mindquiz.pid")
        self.assertEqual(one["Restart"], "on-failure")
        self.assertEqual(one["UMask"], "0077")
        self.assertEqual(one["User"], "mindquiz")
        self.assertEqual(one["WorkingDirectory"], "/srv/mindquiz")
        for k, v in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                     "PrivateTmp": "yes"}.items():
            self.assertEqual(one.get(k), v, k)
        rw = one["ReadWritePaths"].split()
        for d in ("/srv/mindquiz/data", "/srv/mindquiz/backups"):
            self.assertIn(d, rw)
        # The private plugin copies: TMPDIR is writable and the one exec path.
        self.assertIn("TMPDIR=/srv/mindquiz/run", u["Environment"])
        self.assertIn("TZ=Asia/Seoul", u["Environment"], "BACKUP_AT 04:10 must mean KST")
        self.assertIn("/srv/mindquiz/run", rw)
        self.assertEqual(one["ExecPaths"], "/srv/mindquiz/run")
        self.assertNotIn("RuntimeDirectory", u, "/run is noexec on Debian: dlopen would fail")
        # SIGTERM is the graceful stop; systemd must wait longer than the host.
        self.assertEqual(one["KillSignal"], "SIGTERM")
        self.assertGreater(int(one["TimeoutStopSec"].rstrip("s")), 10)


class EnvModeCheckTest(unittest.TestCase):
    """The ExecStartPre .env check, executed the way systemd runs it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mq-ops-envcheck-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        pre = [c for c in read_unit()["ExecStartPre"] if ".env" in c]
        self.assertEqual(len(pre), 1, "one ExecStartPre checks the .env")
        self.argv = sh_argv(unescape_exec(pre[0]))
        self.env = os.path.join(self.tmp, ".env")
        self.argv[2] = self.argv[2].replace("/srv/mindquiz/.env", self.env)

    def check(self, mode):
        if mode is None:
            if os.path.exists(self.env):
                os.unlink(self.env)
        else:
            with open(self.env, "w", encoding="utf-8") as f:
                f.write("ORDER_SECRET=x\n")
            os.chmod(self.env, mode)
        p = subprocess.run(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_systemd__env_check__owner_only_modes_pass(self):
        for mode in (0o600, 0o400):
            rc, out = self.check(mode)
            self.assertEqual((rc, out), (0, ""), oct(mode))

    def test_systemd__env_check__group_or_world_readable_refused(self):
        for mode in (0o640, 0o644, 0o604, 0o660, 0o666):
            rc, out = self.check(mode)
            self.assertEqual(rc, 1, oct(mode))
            self.assertIn(f"has mode {mode:o}, readable by group or others", out)
            self.assertIn(f"chmod 600 {self.env}", out)

    def test_systemd__env_check__missing_env_refused(self):
        rc, out = self.check(None)
        self.assertNotEqual(rc, 0)
        self.assertIn("No such file", out)


def expand_syscall_group(name, cache):
    """Every system call name in a systemd syscall group (recursively)."""
    if name in cache:
        return cache[name]
    p = subprocess.run([ANALYZE, "syscall-filter", "--no-pager", name], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = set()
    for line in p.stdout.decode().splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out |= expand_syscall_group(line, cache) if line.startswith("@") else {line}
    cache[name] = out
    return out


class SyscallFilterTest(HostTestCase):
    def setUp(self):
        super().setUp()
        for path, what in ((ANALYZE, "systemd-analyze, Debian package systemd"),
                           (STRACE, "strace, Debian package strace")):
            why = opstest.need_executable(path, what)
            if why:
                self.skipTest(why)

    def allowed_syscalls(self):
        u = read_unit()
        cache = {}
        allowed, denied = set(), set()
        for spec in u["SystemCallFilter"]:
            deny = spec.startswith("~")
            for item in spec.lstrip("~").split():
                names = expand_syscall_group(item, cache) if item.startswith("@") else {item}
                (denied if deny else allowed).update(names)
        return allowed - denied

    def test_systemd__syscall_filter__allows_everything_a_real_session_calls(self):
        if mqtest.SANITIZED:
            self.skipTest("the filter is for the production build (ASan adds its own calls)")
        allowed = self.allowed_syscalls()
        self.assertIn("epoll_wait", allowed)
        has_payments = opstest.payments_built()
        sim = opstest.PgSim(self, self._tmp()) if has_payments else None
        h = self.host(env={"BACKUP_AT": "off", **(sim.env() if sim else {})})
        h.set_env(PUBLIC_BASE_URL=f"http://127.0.0.1:{h.port}")
        opstest.publish(h, "r1", ["hello_v1.so", "store_fx.so"], payments=has_payments)
        opstest.publish(h, "r2", ["hello_v2.so", "store_fx.so"], payments=has_payments)
        h.set_current("r1")

        trace = os.path.join(h.dir, "strace.txt")
        h._starts += 1
        h.stderr_path = os.path.join(h.dir, "stderr-strace.log")
        h._logs.append(h.stderr_path)
        with open(h.stderr_path, "wb") as err:
            h.proc = subprocess.Popen([STRACE, "-f", "-qq", "-o", trace, MINDQUIZ, "serve",
                                       "--env", h.env_path], stdout=subprocess.DEVNULL,
                                      stderr=err, cwd=h.dir, env=h._child_env())
        h.wait(h._healthy, 60, "GET /api/health under strace")
        host_pid = int(open(h.pid_file).read().strip())

        for _ in range(3):
            h.hello()
        h.post("/fx/store/orders/o1", json.dumps({"amount": 1}))
        h.get("/metrics", headers={"Authorization": f"Bearer {h.token}"})
        if has_payments:
            _, loc = opstest.pay(h, "kakao", "approve")
            self.assertIn("paid=1", loc)
        r = h.cli("backup")
        self.assertEqual(r.returncode, 0, r.output)
        r = h.cli("activate", "r2")
        self.assertEqual(r.returncode, 0, r.output)
        h.hello()
        os.kill(host_pid, signal.SIGTERM)
        rc = h.proc.wait(60 * SCALE)
        h._checked = True
        self.assertEqual(rc, 0, h.stderr_tail(20))

        called = set()
        with open(trace, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z_0-9]+)\(", line)
                if m:
                    called.add(m.group(1))
        self.assertIn("epoll_wait", called, "strace saw no event loop")
        # Before execve the traced process is strace's child, not the host.
        called.discard("execve")
        missing = sorted(called - allowed)
        self.assertEqual(missing, [], "system calls the host makes that SystemCallFilter denies "
                         "(each would fail with EPERM under systemd)")

    def _tmp(self):
        d = tempfile.mkdtemp(prefix="mq-ops-sim-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d


if __name__ == "__main__":
    unittest.main()
