#!/usr/bin/env python3
"""Run one integration test module under unittest: `run.py test_reload`
(or `run.py test_reload.ReloadTest.test_x`). Exit 0 when every test passed.
MQ_BUILD_DIR must name the CMake build dir (ctest sets it)."""
import sys

sys.dont_write_bytecode = True  # never litter the source tree with __pycache__

import mqtest  # noqa: E402 -- after dont_write_bytecode

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: run.py <test module>[.<Class>[.<test>]]")
    sys.exit(mqtest.main(sys.argv[1]))
