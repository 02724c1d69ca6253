"""(h) 1000 reloads alternating two releases: resident memory grows less
than 2 MB after a warm-up, no file descriptor or private copy leaks, older
generations unmap once their requests end, and the host exits clean (no
ASan/LSan report: the teardown's stop() checks)."""
import sys

from mqtest import SANITIZED, HostTestCase

WARMUP = 50
RELOADS = 1000


class SoakTest(HostTestCase):
    def test_soak__1000_reloads__rss_and_generations_bounded(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so", "twin_a.so"])
        h.publish("002-b", ["hello_v2.so", "twin_b.so"])
        h.set_current("001-a")
        h.start()
        ids = ["002-b", "001-a"]
        versions = {"001-a": "1.0.0", "002-b": "2.0.0"}

        for i in range(WARMUP):
            h.switch(ids[i % 2])
        h.wait_generations({h.version()["generation"]})
        rss0, fds0 = h.rss_kb(), h.fd_count()

        for i in range(RELOADS):
            rid = ids[i % 2]
            h.switch(rid)
            if i % 50 == 0:
                self.assertEqual(h.hello(), versions[rid])
                self.assertLessEqual(len(h.mapped_generations()), 2)

        gen = h.version()["generation"]
        self.assertLessEqual(len(h.mapped_generations()), 2)
        h.wait_generations({gen})
        rss1, fds1 = h.rss_kb(), h.fd_count()
        self.assertLessEqual(fds1 - fds0, 2, f"file descriptors {fds0} -> {fds1}")
        self.assertEqual(h.private_copies_on_disk(), [])
        self.assertEqual(h.metric("mq_reloads_total", result="ok"), WARMUP + RELOADS)
        print(f"\nVmRSS {rss0} kB -> {rss1} kB over {RELOADS} reloads, fds {fds0} -> {fds1}",
              file=sys.stderr)
        if not SANITIZED:  # ASan's quarantine keeps freed memory resident by design
            self.assertLess(rss1 - rss0, 2048, f"VmRSS {rss0} kB -> {rss1} kB over {RELOADS} reloads")
