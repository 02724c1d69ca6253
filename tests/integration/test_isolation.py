"""(i) Two plugins whose internal symbols share a name each run their own
code (RTLD_LOCAL, hidden visibility)."""
from mqtest import HostTestCase


class IsolationTest(HostTestCase):
    def assert_twins(self, h):
        self.assertEqual(h.get_json("/fx/twin/a"), {"twin": "a"})
        self.assertEqual(h.get_json("/fx/twin/b"), {"twin": "b"})

    def test_twins__loaded_at_start__each_answers_its_own(self):
        h = self.host()
        h.publish("001-ab", ["twin_a.so", "twin_b.so"])
        h.set_current("001-ab")
        h.start()
        self.assert_twins(h)
        names = sorted(p["name"] for p in h.version()["plugins"])
        self.assertEqual(len(names), 2)

    def test_twins__loaded_by_reload__each_answers_its_own(self):
        h = self.host()
        h.publish("001-a", ["hello_v1.so", "twin_a.so"])
        h.publish("002-ab", ["twin_b.so", "twin_a.so", "hello_v2.so"])
        h.set_current("001-a")
        h.start()
        self.assertEqual(h.get_json("/fx/twin/a"), {"twin": "a"})
        self.assertEqual(h.get("/fx/twin/b").status, 404)

        h.switch("002-ab")

        self.assert_twins(h)
        h.reload()
        self.assert_twins(h)

    def test_twins__b_alone_after_a__answers_b(self):
        h = self.host()
        h.publish("001-a", ["twin_a.so"])
        h.publish("002-b", ["twin_b.so"])
        h.set_current("001-a")
        h.start()
        h.switch("002-b")
        self.assertEqual(h.get_json("/fx/twin/b"), {"twin": "b"})
        self.assertEqual(h.get("/fx/twin/a").status, 404)
