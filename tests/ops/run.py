#!/usr/bin/env python3
"""Run one ops test module under unittest: `run.py test_dashboard` (or
`run.py test_nginx.NginxTest.test_x`). Exit 0 when every test passed or
was skipped for a stated reason (a missing tool), 1 otherwise.
MQ_BUILD_DIR must name the CMake build dir (ctest sets it)."""
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "integration"))

import mqtest  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: run.py <test module>[.<Class>[.<test>]]")
    sys.exit(mqtest.main(sys.argv[1]))
