"""mqtest -- the harness of the MindQuiz integration tests.

Every test starts the real `mindquiz serve` on a free port with its own temp
dir (.env, releases/, data/, a private TMPDIR) and talks HTTP to it. Nothing
is ordered by sleeping: tests wait for a condition with a deadline
(wait_until / Host.wait), and deadlines are scaled up for sanitizer builds.

Environment:
  MQ_BUILD_DIR            the CMake build dir (mindquiz, fixtures/plugins/)
  MQ_SOURCE_DIR           the source tree (defaults to ../.. of this file)
  MQ_TEST_TIMEOUT_SCALE   multiply every deadline (default 3 under ASan, else 1)
  MQ_TEST_KEEP            keep every temp dir, not only those of failed tests

A failed test keeps its temp dir and prints its path and the tail of the
host's stderr; a passing test removes it.
"""

import hashlib
import http.client
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# ---- where things are ---------------------------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("MQ_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD_DIR = os.environ.get("MQ_BUILD_DIR") or ""
MINDQUIZ = os.path.join(BUILD_DIR, "mindquiz")
PGSIM = os.path.join(BUILD_DIR, "mq-pgsim")
FIXTURES = os.path.join(BUILD_DIR, "fixtures", "plugins")


def _sanitized_build():
    """True when the build dir was configured with -DMQ_SANITIZE=ON."""
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("MQ_SANITIZE:"):
                    return line.strip().split("=", 1)[1].upper() in ("ON", "1", "TRUE", "YES")
    except OSError:
        pass
    return False


SANITIZED = _sanitized_build()
SCALE = float(os.environ.get("MQ_TEST_TIMEOUT_SCALE") or (3 if SANITIZED else 1))

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:")


def _abi_version():
    """(major, minor) of the host ABI, read from api/mq_plugin.h."""
    text = open(os.path.join(SOURCE_DIR, "api", "mq_plugin.h"), encoding="utf-8").read()
    major = int(re.search(r"#define\s+MQ_ABI_MAJOR\s+(\d+)", text).group(1))
    minor = int(re.search(r"#define\s+MQ_ABI_MINOR\s+(\d+)", text).group(1))
    return major, minor


ABI_MAJOR, ABI_MINOR = _abi_version()


def fixture(name):
    """Absolute path of a fixture plugin; fails the test clearly if not built."""
    path = os.path.join(FIXTURES, name)
    if not os.path.isfile(path):
        raise AssertionError(f"fixture plugin {path} is not built (cmake --build {BUILD_DIR})")
    return path


# ---- waiting ---------------------------------------------------------------------


def wait_until(pred, timeout, what=None, interval=0.001):
    """Call pred() until it returns something truthy and return that; fail
    after `timeout` seconds (times SCALE). Polls fast first, then backs off
    to 20 ms."""
    limit = timeout * SCALE
    deadline = time.monotonic() + limit
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {limit:.1f}s waiting for {what or pred}")
        time.sleep(interval)
        interval = min(interval * 2, 0.02)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- HTTP ------------------------------------------------------------------------


class Response:
    """One HTTP response, fully read."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage (case-insensitive get)
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
        return f"<Response {self.status} {self.body[:200]!r}>"


def read_response(conn):
    r = conn.getresponse()
    body = r.read()
    return Response(r.status, r.reason, r.headers, body)


# ---- Prometheus text -------------------------------------------------------------

_SAMPLE_RE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
_LABEL_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _unescape_label(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_prometheus(text):
    """Prometheus text exposition -> {(name, frozenset(labels.items())): float}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"unparsable metrics line: {line!r}")
        name, labels_text, value = m.groups()
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = _LABEL_RE.match(labels_text, pos)
                if not lm:
                    raise AssertionError(f"unparsable labels in metrics line: {line!r}")
                labels[lm.group(1)] = _unescape_label(lm.group(2))
                pos = lm.end()
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def metric(metrics, name, **labels):
    """Value of one sample; 0.0 when absent (a counter never incremented)."""
    return metrics.get((name, frozenset(labels.items())), 0.0)


# ---- background work ---------------------------------------------------------------


class Background:
    """Run fn() in a thread; result() re-raises its exception in the caller."""

    def __init__(self, fn, name="background"):
        self._value = None
        self._exc = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn):
        try:
            self._value = fn()
        except BaseException as e:  # noqa: BLE001 -- handed to the caller
            self._exc = e

    def done(self):
        return not self._thread.is_alive()

    def result(self, timeout):
        self._thread.join(timeout * SCALE)
        if self._thread.is_alive():
            raise AssertionError(f"background work still running after {timeout * SCALE:.1f}s")
        if self._exc is not None:
            raise self._exc
        return self._value


# ---- the payment gateway simulator ------------------------------------------------


class PgSim:
    """One mq-pgsim (tests/pgsim): the KakaoPay / NaverPay simulator, started
    on port 0 in its own dir; `base` is the URL it printed when ready.

        sim = PgSim(dir).start()
        sim.faults(latency_ms=200, latency_ops=["ready"])
        sim.stats()["kakao_approve_calls"].get(tid, 0)

    stop() asserts a clean exit (0, no sanitizer report); HostTestCase.pgsim()
    starts one that the test's teardown stops."""

    def __init__(self, dir, *args, name="pgsim"):
        self.dir = dir
        self.args = list(args)
        self.name = name
        self.stderr_path = os.path.join(dir, f"{name}.stderr")
        self.proc = None
        self.base = None
        self.port = None
        self._stopped = False

    def start(self, timeout=10):
        if not os.access(PGSIM, os.X_OK):
            raise AssertionError(f"{PGSIM} is not built (cmake --build {BUILD_DIR})")
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([PGSIM, "--listen", "127.0.0.1:0", *self.args],
                                         stdout=subprocess.PIPE, stderr=err)
        line = self._first_line(timeout)
        m = re.fullmatch(r"mq-pgsim listening on (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            raise AssertionError(f"mq-pgsim printed {line!r}, not its URL:\n{self.stderr_tail()}")
        self.base, self.port = m.group(1), int(m.group(2))
        return self

    def _first_line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout * SCALE
        buf = b""
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise AssertionError(f"mq-pgsim printed no URL within {timeout * SCALE:.0f}s:\n"
                                         f"{self.stderr_tail()}")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"mq-pgsim exited ({self.proc.wait()}) before it was "
                                         f"ready:\n{self.stderr_tail()}")
                buf += chunk
        finally:
            sel.close()
        return buf.split(b"\n", 1)[0].decode("utf-8", "replace")

    def stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stderr_tail(self, n=30):
        return f"--- last {n} lines of {self.stderr_path} ---\n{_tail(self.stderr_path, n)}"

    def stop(self, timeout=15):
        """SIGTERM; assert exit 0 and no sanitizer report. Idempotent."""
        if self.proc is None or self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"mq-pgsim ignored SIGTERM:\n{self.stderr_tail()}")
        finally:
            self.proc.stdout.close()
        _assert_no_sanitizer_report(self.stderr(), self.stderr_path)
        if rc != 0:
            raise AssertionError(f"mq-pgsim exited with {rc} (want 0):\n{self.stderr_tail()}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()

    # -- HTTP ------------------------------------------------------------------

    def path_of(self, url):
        """The path + query of a URL that must point at this simulator."""
        if not url.startswith(self.base + "/"):
            raise AssertionError(f"{url!r} does not point at the simulator {self.base}")
        return url[len(self.base):]

    def request(self, method, path, body=None, headers=None, timeout=10):
        if path.startswith("http"):
            path = self.path_of(path)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SCALE)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            return read_response(conn)
        finally:
            conn.close()

    def get(self, path, timeout=10):
        return self.request("GET", path, timeout=timeout)

    def _json(self, method, path, body=None):
        r = self.request(method, path, body=body)
        if r.status != 200:
            raise AssertionError(f"{method} {path} at mq-pgsim: {r.status} {r.body[:300]!r}")
        return r.json()

    def faults(self, **faults):
        """POST /sim/faults: merge these keys into the faults in force."""
        return self._json("POST", "/sim/faults", faults)

    def clear_faults(self):
        return self._json("DELETE", "/sim/faults")

    def stats(self):
        return self._json("GET", "/sim/stats")

    def clear_stats(self):
        return self._json("DELETE", "/sim/stats")

    def state(self):
        return self._json("GET", "/sim/state")

    def advance_clock(self, seconds):
        return self._json("POST", "/sim/clock", {"advance_s": int(seconds)})


# ---- the host ----------------------------------------------------------------------


class HostTestCase(unittest.TestCase):
    """Base class: stops every Host a test started (asserting a clean exit,
    so every test also checks for a crash or a sanitizer report), removes
    the temp dirs of passing tests and keeps those of failing ones."""

    def setUp(self):
        if not BUILD_DIR or not os.access(MINDQUIZ, os.X_OK):
            self.fail(f"MQ_BUILD_DIR must name a build dir holding the mindquiz binary ({MINDQUIZ!r})")
        self._hosts = []
        self._sims = []
        self.addCleanup(self._kill_leftovers)

    def tearDown(self):
        errors = []
        for h in self._hosts:
            try:
                h.finish()
            except AssertionError as e:
                errors.append(str(e))
        for sim in getattr(self, "_sims", []):
            try:
                sim.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            self.fail("\n".join(errors))

    def _kill_leftovers(self):
        for h in self._hosts:
            h.kill()
        for sim in getattr(self, "_sims", []):
            sim.kill()

    def pgsim(self, *args):
        """Start an mq-pgsim (args: its options) in its own temp dir; the
        test's teardown stops it and asserts a clean exit."""
        short = self.id().rsplit(".", 1)[-1][:40]
        sim = PgSim(tempfile.mkdtemp(prefix=f"mq-it-sim-{short}-"), *args)
        self._sims.append(sim)
        return sim.start()

    def host(self, env=None, env_mode=0o600):
        h = Host(self, env=env, env_mode=env_mode)
        self._hosts.append(h)
        return h

    def run(self, result=None):
        before = None
        if result is not None:
            before = len(result.failures) + len(result.errors)
        out = super().run(result)
        res = result if result is not None else out
        failed = res is not None and before is not None and (
            len(res.failures) + len(res.errors) > before)
        for h in getattr(self, "_hosts", []):
            h.kill()
            if failed or os.environ.get("MQ_TEST_KEEP"):
                sys.stderr.write(f"\n[{self.id()}] kept temp dir: {h.dir}\n")
                if failed:
                    sys.stderr.write(h.stderr_tail(40))
            else:
                h.remove()
        for sim in getattr(self, "_sims", []):
            sim.kill()
            if failed or os.environ.get("MQ_TEST_KEEP"):
                sys.stderr.write(f"\n[{self.id()}] kept simulator dir: {sim.dir}\n")
                if failed:
                    sys.stderr.write(sim.stderr_tail(20))
            else:
                shutil.rmtree(sim.dir, ignore_errors=True)
        return out


class Host:
    """One `mindquiz serve` with its own temp dir:

        <dir>/.env                  LISTEN, RELEASES_DIR, ... (mode 0600)
        <dir>/releases/<id>/        published with `mindquiz release`
        <dir>/releases/current      switched with set_current()
        <dir>/data/                 PID_FILE, reload status, access log
        <dir>/tmp/                  the host's TMPDIR
        <dir>/stderr-<n>.log        the host's stderr, one file per start
    """

    def __init__(self, test, env=None, env_mode=0o600):
        self.test = test
        short = test.id().rsplit(".", 1)[-1][:48]
        self.dir = tempfile.mkdtemp(prefix=f"mq-it-{short}-")
        self.env_path = os.path.join(self.dir, ".env")
        self.releases = os.path.join(self.dir, "releases")
        self.data = os.path.join(self.dir, "data")
        self.tmpdir = os.path.join(self.dir, "tmp")
        for d in (self.releases, self.data, self.tmpdir):
            os.makedirs(d)
        self.pid_file = os.path.join(self.data, "mindquiz.pid")
        self.status_file = self.pid_file + ".reload.json"
        self.access_log = os.path.join(self.data, "logs", "access.log")
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.extra = dict(env or {})
        self.env_mode = env_mode
        self.extra_lines = []
        # Optional: a function returning more KEY=VALUE pairs, evaluated at
        # every write (e.g. PUBLIC_BASE_URL from the port start() settled on).
        self.env_fn = None
        self.proc = None
        self.stderr_path = None
        self._starts = 0
        self._n = 0
        self._logs = []
        self._checked = False
        self._stop_sent = False
        self.write_env()

    # -- files -----------------------------------------------------------------

    def env_text(self):
        lines = [
            "# written by tests/integration/mqtest.py",
            f"LISTEN=127.0.0.1:{self.port}",
            "RELEASES_DIR=releases",
            "DATA_DIR=data",
            "PID_FILE=data/mindquiz.pid",
            "APP_ENV=test",
            f"METRICS_TOKEN={self.token}",
        ]
        if self.env_fn is not None:
            lines += [f"{k}={v}" for k, v in self.env_fn().items()]
        lines += [f"{k}={v}" for k, v in self.extra.items()]
        lines += self.extra_lines
        return "\n".join(lines) + "\n"

    def write_env(self, path=None, text=None, mode=None):
        """(Re)write the .env (atomically) with the configured mode."""
        path = path or self.env_path
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text if text is not None else self.env_text())
        os.chmod(tmp, self.env_mode if mode is None else mode)
        os.replace(tmp, path)
        return path

    def set_env(self, **values):
        self.extra.update(values)
        self.write_env()

    def append_env_line(self, line):
        self.extra_lines.append(line)
        self.write_env()

    # -- releases --------------------------------------------------------------

    def publish(self, rid, plugins):
        """Publish releases/<rid> from fixture .so names with `mindquiz release`.
        Does not switch current. Returns the release dir."""
        self._n += 1
        src = os.path.join(self.dir, f"from-{self._n}-{rid}")
        os.makedirs(os.path.join(src, "plugins"))
        os.makedirs(os.path.join(src, "assets"))
        for name in plugins:
            shutil.copyfile(fixture(name), os.path.join(src, "plugins", name))
        r = self.cli("release", "--from", src, "--id", rid)
        if r.returncode != 0:
            raise AssertionError(f"mindquiz release --id {rid} failed ({r.returncode}):\n{r.output}")
        rel = os.path.join(self.releases, rid)
        if not os.path.isfile(os.path.join(rel, "MANIFEST")):
            raise AssertionError(f"mindquiz release did not create {rel}/MANIFEST:\n{r.output}")
        return rel

    def publish_build(self, rid, plugins=None, assets=None):
        """Publish releases/<rid> from the build, as an operator would: the
        product plugins <build>/plugins/*.so (or only the names given) and
        <build>/assets (without CMake's own files), or `assets` (a dir) in
        its place. Does not switch current. Returns the release dir."""
        self._n += 1
        src = os.path.join(self.dir, f"from-{self._n}-{rid}")
        os.makedirs(os.path.join(src, "plugins"))
        built = os.path.join(BUILD_DIR, "plugins")
        names = plugins or sorted(f for f in os.listdir(built) if f.endswith(".so"))
        for name in names:
            path = os.path.join(built, name)
            if not os.path.isfile(path):
                raise AssertionError(f"plugin {path} is not built (cmake --build {BUILD_DIR})")
            shutil.copyfile(path, os.path.join(src, "plugins", name))
        cmake_files = ("CMakeFiles", "Makefile", "cmake_install.cmake", "CTestTestfile.cmake")
        shutil.copytree(assets or os.path.join(BUILD_DIR, "assets"), os.path.join(src, "assets"),
                        ignore=lambda d, files: [f for f in files if f in cmake_files])
        r = self.cli("release", "--from", src, "--id", rid)
        if r.returncode != 0:
            raise AssertionError(f"mindquiz release --id {rid} failed ({r.returncode}):\n{r.output}")
        rel = os.path.join(self.releases, rid)
        if not os.path.isfile(os.path.join(rel, "MANIFEST")):
            raise AssertionError(f"mindquiz release did not create {rel}/MANIFEST:\n{r.output}")
        return rel

    def release_dir(self, rid):
        return os.path.join(self.releases, rid)

    def manifest(self, rid):
        with open(os.path.join(self.release_dir(rid), "MANIFEST"), encoding="utf-8") as f:
            return json.load(f)

    def write_manifest(self, rid, data):
        rel = self.release_dir(rid)
        make_writable(rel)
        path = os.path.join(rel, "MANIFEST")
        tmp = path + ".tmp-test"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)

    def plugin_file(self, rid, fixture_name):
        """Absolute path inside releases/<rid> of the plugin published from
        `fixture_name` (the MANIFEST lists it as plugins/<fixture_name>)."""
        want = f"plugins/{fixture_name}"
        files = [p.get("file") for p in self.manifest(rid).get("plugins", [])]
        if want not in files:
            raise AssertionError(f"{want} is not a plugin of release {rid}: {files}")
        return os.path.join(self.release_dir(rid), want)

    def refresh_manifest_entry(self, rid, path, plugin_version=None):
        """After changing a release file in place, make the MANIFEST agree
        with it (size and sha256; optionally the plugin's version)."""
        rel = self.release_dir(rid)
        relpath = os.path.relpath(path, rel)
        data = self.manifest(rid)
        with open(path, "rb") as f:
            blob = f.read()
        found = False
        for entry in data.get("files", []):
            if entry.get("path") == relpath:
                entry["size"] = len(blob)
                entry["sha256"] = hashlib.sha256(blob).hexdigest()
                found = True
        if not found:
            raise AssertionError(f"{relpath} is not listed in the MANIFEST of {rid}")
        if plugin_version is not None:
            for p in data.get("plugins", []):
                if p.get("file") == relpath:
                    p["version"] = plugin_version
        self.write_manifest(rid, data)

    def set_current(self, rid):
        """Point releases/current at rid atomically (symlink to a temp name,
        then rename), as an operator's deploy script would. None removes it."""
        link = os.path.join(self.releases, "current")
        if rid is None:
            try:
                os.unlink(link)
            except FileNotFoundError:
                pass
            return
        self._n += 1
        tmp = os.path.join(self.releases, f".current.tmp-{os.getpid()}-{self._n}")
        os.symlink(rid, tmp)
        os.replace(tmp, link)

    def current(self):
        try:
            return os.readlink(os.path.join(self.releases, "current"))
        except FileNotFoundError:
            return None

    # -- the process -----------------------------------------------------------

    def _child_env(self):
        env = dict(os.environ)
        env["TMPDIR"] = self.tmpdir
        return env

    def start(self, timeout=20, cwd=None, fsize_limit=None, wait_healthy=True):
        """Start `mindquiz serve` and wait until GET /api/health is 200.
        fsize_limit: start it with RLIMIT_FSIZE at that many bytes, so any
        of its writes past that size in any file fails with EFBIG (a full
        disk, as the process sees it). wait_healthy=False returns right
        after the process is spawned (no port-retry then)."""
        assert self.proc is None or self.proc.poll() is not None, "host already running"
        for attempt in range(3):
            self._starts += 1
            self._checked = False
            self._stop_sent = False
            self.stderr_path = os.path.join(self.dir, f"stderr-{self._starts}.log")
            self._logs.append(self.stderr_path)
            with open(self.stderr_path, "wb") as err, open(os.devnull, "wb") as out:
                self.proc = subprocess.Popen(
                    [MINDQUIZ, "serve", "--env", self.env_path],
                    stdout=out, stderr=err, cwd=cwd or self.dir, env=self._child_env(),
                    preexec_fn=_fsize_limiter(fsize_limit) if fsize_limit else None)
            if not wait_healthy:
                return self
            try:
                self.wait(self._healthy, timeout, "GET /api/health == 200 after start")
                return self
            except AssertionError:
                rc = self.proc.poll()
                if rc is not None and attempt < 2 and re.search(
                        r"in use|EADDRINUSE|bind", self.stderr(), re.I):
                    # Another test took our free port between probe and bind.
                    self.port = free_port()
                    self.write_env()
                    continue
                raise
        raise AssertionError("unreachable")

    def start_expect_failure(self, timeout=20, env_path=None):
        """Run `mindquiz serve` expecting it to refuse to start. Returns
        (exit code, stderr text)."""
        self._starts += 1
        path = os.path.join(self.dir, f"stderr-{self._starts}.log")
        self._logs.append(path)
        with open(path, "wb") as err, open(os.devnull, "wb") as out:
            p = subprocess.Popen([MINDQUIZ, "serve", "--env", env_path or self.env_path],
                                 stdout=out, stderr=err, cwd=self.dir, env=self._child_env())
        try:
            rc = p.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError(f"`mindquiz serve` was expected to refuse to start but is running "
                                 f"(stderr {path}):\n{_tail(path, 20)}")
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        _assert_no_sanitizer_report(text, path)
        return rc, text

    def wait_started(self, timeout=20):
        """After start(wait_healthy=False): wait until GET /api/health is 200
        (fails at once if the process exits)."""
        self.wait(self._healthy, timeout, "GET /api/health == 200 after start")
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"host exited with {self.proc.returncode} during start:\n"
                                 f"{self.stderr_tail(30)}")
        try:
            return self.get("/api/health", timeout=2).status == 200
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self):
        if not self.alive():
            raise AssertionError(f"host died (exit {self.proc.returncode if self.proc else None}):\n"
                                 f"{self.stderr_tail(40)}")

    def wait(self, pred, timeout, what=None):
        """wait_until that fails at once (with stderr) if the host dies."""
        def checked():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"host exited with {self.proc.returncode} while waiting for "
                                     f"{what or pred}:\n{self.stderr_tail(40)}")
            return pred()
        return wait_until(checked, timeout, what)

    def kill_signal(self, sig):
        if sig in (signal.SIGTERM, signal.SIGINT):
            self._stop_sent = True
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Stop gracefully and assert a clean exit: code 0, no sanitizer
        report. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None and not self._stop_sent:
            # Only once: a second SIGTERM during shutdown is a different test.
            self._stop_sent = True
            self.proc.send_signal(sig)
        limit = timeout if timeout is not None else 30
        try:
            rc = self.proc.wait(limit * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"host did not exit within {limit * SCALE:.0f}s of "
                                 f"{signal.Signals(sig).name}:\n{self.stderr_tail(30)}")
        self.assert_clean_exit(rc)
        return rc

    def wait_exit(self, timeout):
        """Wait for the process to exit by itself; return its exit code."""
        try:
            return self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"host still running after {timeout * SCALE:.1f}s:\n"
                                 f"{self.stderr_tail(20)}")

    def assert_clean_exit(self, rc):
        self._checked = True
        text = self.stderr()
        if rc != 0:
            raise AssertionError(f"host exited with {rc} (want 0):\n{self.stderr_tail(40)}")
        _assert_no_sanitizer_report(text, self.stderr_path)

    def finish(self):
        """Test teardown: stop a host still running (asserting a clean
        exit), or report one that exited without the test checking it."""
        if self.proc is not None and not self._checked:
            if self.proc.poll() is None:
                self.stop()
            else:
                raise AssertionError(f"host exited on its own with {self.proc.returncode}:\n"
                                     f"{self.stderr_tail(40)}")
        for path in self._logs:
            if path != self.stderr_path and os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    _assert_no_sanitizer_report(f.read(), path)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def crash(self):
        """SIGKILL the host (a crash or an OOM kill, as a test means it) and
        reap it; teardown then does not report the exit. Returns the exit
        code (-9)."""
        self._checked = True
        self.proc.kill()
        return self.proc.wait()

    def expect_exit(self, timeout):
        """Wait for a host the test expects to die by itself; teardown then
        does not report it. Returns the exit code."""
        rc = self.wait_exit(timeout)
        self._checked = True
        return rc

    def remove(self):
        shutil.rmtree(self.dir, onerror=_force_remove)

    def stderr(self):
        if not self.stderr_path or not os.path.exists(self.stderr_path):
            return ""
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def all_stderr(self):
        """The host's stderr over every start (and refused start) so far."""
        out = []
        for path in self._logs:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    out.append(f.read())
            except OSError:
                pass
        return "".join(out)

    def stderr_tail(self, n):
        if not self.stderr_path:
            return "(host never started)\n"
        return f"--- last {n} lines of {self.stderr_path} ---\n{_tail(self.stderr_path, n)}"

    # -- reload ------------------------------------------------------------------

    def read_status(self):
        """The parsed reload status file, or None (missing or mid-write)."""
        try:
            with open(self.status_file, encoding="utf-8") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def status_seq(self):
        st = self.read_status()
        return st.get("seq", -1) if st else -1

    def reload(self, expect_ok=True, timeout=20):
        """SIGHUP and wait until the status file shows a higher seq. Asserts
        the attempt's outcome when expect_ok is True/False. Returns the
        status as parsed JSON."""
        before = self.status_seq()
        self.assert_alive()
        self.proc.send_signal(signal.SIGHUP)

        def newer():
            st = self.read_status()
            return st if st and st.get("seq", -1) > before else None

        st = self.wait(newer, timeout, f"reload status seq > {before} in {self.status_file}")
        if expect_ok is not None and bool(st.get("ok")) != expect_ok:
            raise AssertionError(f"reload ok={st.get('ok')} (want {expect_ok}): {st}\n"
                                 f"{self.stderr_tail(15)}")
        return st

    def switch(self, rid, expect_ok=True):
        """set_current(rid) then reload()."""
        self.set_current(rid)
        return self.reload(expect_ok=expect_ok)

    def cli(self, sub, *args, timeout=60, env_path=None):
        """Run `mindquiz <sub> --env <env> args...`. Returns the
        CompletedProcess with .output = stdout + stderr."""
        r = subprocess.run([MINDQUIZ, sub, "--env", env_path or self.env_path, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir,
                           env=self._child_env(), timeout=timeout * SCALE)
        r.output = (r.stdout + r.stderr).decode("utf-8", "replace")
        _assert_no_sanitizer_report(r.output, f"mindquiz {sub}")
        return r

    # -- HTTP ----------------------------------------------------------------------

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SCALE)

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            return read_response(conn)
        finally:
            conn.close()

    def get(self, path, headers=None, timeout=10):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def post(self, path, body=b"", headers=None, timeout=10):
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request("POST", path, body=body, headers=headers, timeout=timeout)

    def get_json(self, path, status=200, headers=None):
        r = self.get(path, headers=headers)
        if r.status != status:
            raise AssertionError(f"GET {path}: status {r.status} (want {status}): {r.body[:300]!r}")
        return r.json()

    def get_bg(self, path, timeout=30):
        """GET in a background thread; .result(t) gives the Response."""
        return Background(lambda: self.get(path, timeout=timeout), name=f"GET {path}")

    def version(self):
        return self.get_json("/api/version")

    def hello(self):
        """Version string served by the hello fixture's GET /fx/hello."""
        return self.get_json("/fx/hello")["version"]

    def metrics(self):
        r = self.get("/metrics", headers={"Authorization": f"Bearer {self.token}"})
        if r.status != 200:
            raise AssertionError(f"GET /metrics with the token: {r.status} {r.body[:200]!r}")
        return parse_prometheus(r.text)

    def metric(self, name, **labels):
        return metric(self.metrics(), name, **labels)

    def inflight(self):
        """mq_requests_in_flight: requests being handled or suspended (the
        /metrics request reading it counts the same way each time, so
        compare two readings)."""
        m = self.metrics()
        key = ("mq_requests_in_flight", frozenset())
        if key not in m:
            raise AssertionError("no mq_requests_in_flight gauge in /metrics")
        return m[key]

    def wait_inflight_above(self, base, timeout=10):
        return self.wait(lambda: self.inflight() > base, timeout,
                         f"in-flight requests > {base}")

    def slow_in_flight(self, ms, timeout=None):
        """Start GET /fx/slow?ms=<ms> in the background and return once the
        host holds it (its in-flight gauge rose), so it belongs to the
        generation serving now. .result(t) gives the Response."""
        base = self.inflight()
        bg = self.get_bg(f"/fx/slow?ms={ms}", timeout=timeout or (ms / 1000 + 30))
        self.wait_inflight_above(base)
        return bg

    # -- /proc -----------------------------------------------------------------------

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/<pid>/status")

    def peak_rss_kb(self):
        """VmHWM: the highest resident set size the process has had."""
        with open(f"/proc/{self.pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc/<pid>/status")

    def maps(self):
        with open(f"/proc/{self.pid}/maps", encoding="utf-8") as f:
            return f.read()

    def mapped_generations(self):
        """Generations whose private plugin copies are mapped: N in
        mq-<pid>-g<N>- names in /proc/<pid>/maps."""
        return {int(n) for n in re.findall(rf"mq-{self.pid}-g(\d+)-", self.maps())}

    def mapped_release_files(self):
        """Files under releases/ that the host maps (it never should: it
        maps private copies only)."""
        real = os.path.realpath(self.releases)
        return sorted({line.split(None, 5)[5] for line in self.maps().splitlines()
                       if len(line.split(None, 5)) == 6
                       and line.split(None, 5)[5].startswith((real, self.releases))})

    def wait_generations(self, expected, timeout=10):
        """Wait until exactly the generations in `expected` are mapped."""
        expected = set(expected)
        self.wait(lambda: self.mapped_generations() == expected, timeout,
                  f"mapped generations == {sorted(expected)}")

    def private_copies_on_disk(self):
        """Files named like the host's private plugin copies anywhere under
        its TMPDIR: each is unlinked right after dlopen, so none should stay."""
        return sorted(os.path.join(d, f) for d, _, files in os.walk(self.tmpdir)
                      for f in files if f.startswith(f"mq-{self.pid}-g"))

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def read_access_log(self):
        """Parsed JSON lines of the access log (a torn last line skipped).
        Each line must be UTF-8 JSON: log shippers reject anything else."""
        try:
            with open(self.access_log, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return []
        out = []
        lines = raw.split(b"\n")
        for i, line in enumerate(lines):
            if not line:
                continue
            try:
                out.append(json.loads(line.decode("utf-8")))
            except ValueError:
                if i == len(lines) - 1:
                    continue  # torn last line, still being written
                raise AssertionError(f"access log line {i + 1} is not UTF-8 JSON: {line!r}")
        return out


# ---- helpers -----------------------------------------------------------------------


def _tail(path, n):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def mount_small_tmpfs(test, path, size):
    """Mount a tmpfs of `size` bytes on path (created): a small disk that
    fills up. Skips the test when this process may not mount (not root, no
    CAP_SYS_ADMIN); unmounts (lazily) at cleanup."""
    os.makedirs(path, exist_ok=True)
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                            path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        test.skipTest(f"cannot run mount: {e}")
    if p.returncode != 0:
        test.skipTest("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): "
                      + p.stdout.decode("utf-8", "replace").strip())
    test.addCleanup(subprocess.run, ["umount", "-l", path], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    return path


def _fsize_limiter(limit):
    """A preexec_fn that sets RLIMIT_FSIZE in the child before exec."""
    def apply():
        import resource
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _assert_no_sanitizer_report(text, where):
    for marker in SANITIZER_MARKERS:
        i = text.find(marker)
        if i >= 0:
            raise AssertionError(f"sanitizer report in {where}:\n{text[max(0, i - 200):i + 3000]}")


def make_writable(path):
    """Release dirs are published read-only-ish; let a test tamper with one."""
    st = os.stat(path)
    os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IWUSR)


def _force_remove(func, path, exc_info):
    parent = os.path.dirname(path)
    try:
        os.chmod(parent, 0o755)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o755)
        func(path)
    except OSError:
        pass


def overwrite_with_cp(src, dst):
    """Overwrite dst in place (same inode, truncate + write) as `cp` does."""
    make_writable(os.path.dirname(dst))
    if os.path.exists(dst):
        make_writable(dst)
    ino = os.stat(dst).st_ino
    subprocess.run(["cp", src, dst], check=True)
    assert os.stat(dst).st_ino == ino, "cp replaced the file instead of overwriting it"


def main(module_name):
    """Run one test module (or Module.Class.test) and exit 0 on success."""
    sys.dont_write_bytecode = True
    suite = unittest.defaultTestLoader.loadTestsFromName(module_name)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stderr).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1
