#!/usr/bin/env python3
"""The rule unit tests are not vacuous: each plausible mistake in
ops/prometheus/mindquiz.rules.yml (a threshold, a `for`, the KST offset,
a filter, a window) makes `promtool test rules` fail.

Each mutation is applied to a private copy of the rules (the tests are
copied beside it, so their `../mindquiz.rules.yml` resolves to the copy).
Exit 0 when promtool passes on the real rules and fails on every mutant;
77 (ctest SKIP) when promtool is missing.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("MQ_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
PROM_DIR = os.path.join(SOURCE_DIR, "ops", "prometheus")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# (what the mistake is, text in the rules, its replacement, how many times,
#  the test file that must catch it: ops/prometheus/tests/<name>.test.yml)
MUTATIONS = [
    ("KST window computed in UTC", "(hour() + 9) % 24 >= 8", "hour() >= 8", 1, "activity"),
    ("KST offset of the wrong sign", "(hour() + 9) % 24 >= 8", "(hour() + 15) % 24 >= 8", 1,
     "activity"),
    ("no-activity after 30 instead of 60 min", "for: 60m\n", "for: 30m\n", 1, "activity"),
    ("warning at 15% instead of 10%", "payment_failure_ratio:10m > 0.10",
     "payment_failure_ratio:10m > 0.15", 1, "payments"),
    ("page at 30% instead of 20%", "payment_failure_ratio:10m > 0.20",
     "payment_failure_ratio:10m > 0.30", 1, "payments"),
    ("page after 5 instead of 10 minutes", "for: 10m", "for: 5m", 1, "payments"),
    ("warning without its 5 minutes", "for: 5m\n        labels:\n          severity: warning",
     "for: 0m\n        labels:\n          severity: warning", 1, "payments"),
    ("user cancels counted as failures", '{reason!="user_cancel"}', "", 1, "payments"),
    ("no minimum volume", "\n            and job_provider:payment_ready_calls:increase10m >= 3", "",
     2, "payments"),
    ("the seed's clamp at one start per second",
     "clamp_min(job_provider:payment_ready_calls:increase10m, 1)",
     "clamp_min(job_provider:payment_ready_calls:increase10m, 600)", 1, "payments"),
    ("5xx warning at >= 5", "job:http_5xx:increase5m > 5", "job:http_5xx:increase5m >= 5", 1,
     "payments"),
    ("5xx page at >= 20", "job:http_5xx:increase5m > 20", "job:http_5xx:increase5m >= 20", 1,
     "payments"),
    ("revenue compared with yesterday", "[1h] offset 1w", "[1h] offset 1d", 1, "revenue"),
    ("revenue alert at -75%", "< 0.5 * sum", "< 0.25 * sum", 1, "revenue"),
    ("revenue alert without its 30 minutes", "for: 30m", "for: 0m", 1, "revenue"),
    ("backup age 25h", "mq_last_backup_timestamp > 86400", "mq_last_backup_timestamp > 90000", 1,
     "ops"),
    ("reload failures over 5 minutes", "increase(mq_reload_failures_total[10m])",
     "increase(mq_reload_failures_total[5m])", 1, "ops"),
    ("target down without its 2 minutes", "for: 2m", "for: 0m", 1, "ops"),
    ("target down for any job", 'up{job="mindquiz"}', "up", 1, "ops"),
]


def promtool_test(prom_dir, only=None):
    pattern = f"{only}.test.yml" if only else "*.test.yml"
    tests = sorted(glob.glob(os.path.join(prom_dir, "tests", pattern)))
    p = subprocess.run([PROMTOOL, "test", "rules", *tests], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def main():
    if not os.access(PROMTOOL, os.X_OK):
        print(f"SKIP: {PROMTOOL} not installed (Debian package prometheus, ops/install-deps.sh)")
        return 77
    original = open(os.path.join(PROM_DIR, "mindquiz.rules.yml"), encoding="utf-8").read()
    rc, out = promtool_test(PROM_DIR)
    if rc != 0:
        print("the real rules fail their own tests:\n" + out)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mq-rule-mutants-") as tmp:
        shutil.copytree(os.path.join(PROM_DIR, "tests"), os.path.join(tmp, "tests"))
        for what, old, new, count, test_file in MUTATIONS:
            n = original.count(old)
            if n != count:
                print(f"FAIL  {what}: expected {count} occurrence(s) of {old!r}, found {n} "
                      "(update this list with the rules)")
                failed += 1
                continue
            with open(os.path.join(tmp, "mindquiz.rules.yml"), "w", encoding="utf-8") as f:
                f.write(original.replace(old, new))
            rc, out = promtool_test(tmp, test_file)
            if rc == 0:
                print(f"FAIL  {what}: the mutant passes {test_file}.test.yml")
                failed += 1
            else:
                caught = sorted({line.strip().rstrip(",") for line in out.splitlines()
                                 if line.strip().startswith(("alertname:", "expr:"))})
                print(f"ok    {what}: caught by {'; '.join(caught) or 'promtool'}")
    print(f"{len(MUTATIONS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
