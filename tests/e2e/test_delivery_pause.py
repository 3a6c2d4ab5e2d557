"""A destination that keeps failing pauses its connector: queued messages
wait together, one request probes the destination after each pause, and
sends resume once it responds (delivery.pause_after_failures). With
max_connections 1, each plugin batch is one request to the destination."""

import time
import unittest

import fault_server
from sync_client import DeliveryTestCase

USERS = 20
OUTAGE = {"retry_base_ms": 50, "retry_cap_ms": 400, "max_attempts": 1000}
WATCH_SECONDS = 2.0


class PauseTest(DeliveryTestCase):

    def start_outage(self, pause_after_failures):
        self.recorder.set_behaviour(fault_server.server_error(503, "down"))
        delivery = dict(OUTAGE, pause_after_failures=pause_after_failures)
        hook = self.create_webhook(user_segments=["ALL"], max_connections=1, delivery=delivery)
        names = ["pause-%02d" % number for number in range(USERS)]
        self.send([{"type": "identify", "userId": name, "traits": {"n": 1}} for name in names])
        return hook, names

    def requests_during(self, seconds):
        before = len(self.recorder.requests)
        time.sleep(seconds)
        return len(self.recorder.requests) - before

    def test_outage_pauses_then_resumes(self):
        hook, names = self.start_outage(pause_after_failures=3)
        self.service.wait_for_log("connector %s: 3 batches in a row failed (last: HTTP 503: "
                                  "down), so sends pause for 50 ms" % hook["id"])
        self.assertEqual(self.metric("wharf_delivery_paused", hook["id"]), 1)

        # Pauses of 100, 200 and then 400 ms, each ended by one probe: about
        # 6 requests in 2 s, where messages retrying on their own keep one
        # request after another going (see the test below).
        probes = self.requests_during(WATCH_SECONDS)
        self.assertGreaterEqual(probes, 2)
        self.assertLessEqual(probes, 10)
        self.service.wait_for_log("so sends pause for 400 ms")
        # Each failed request leaves retry lines, and no message ran out of
        # attempts while paused.
        retries = self.all_logs(hook["id"], message="outgoing.user.retry")
        self.assertGreaterEqual(len(retries), USERS)
        self.assertEqual(self.all_logs(hook["id"], message="outgoing.user.error"), [])

        self.recorder.set_behaviour(fault_server.Fault(200, {}))
        self.wait_quietly(lambda: set(names) <= set(self.delivered_ids()), timeout=20)
        self.assertEqual(set(names) - set(self.delivered_ids()), set())
        self.service.wait_for_log("connector %s: the destination responded again, so sends "
                                  "resume" % hook["id"])
        self.assertEqual(self.metric("wharf_delivery_paused", hook["id"]), 0)

    def test_zero_never_pauses(self):
        hook, _ = self.start_outage(pause_after_failures=0)
        self.wait_log_count(hook["id"], "outgoing.user.retry", USERS)
        requests = self.requests_during(WATCH_SECONDS)
        self.assertGreaterEqual(requests, 15)
        self.assertEqual(self.service.log_lines_matching("so sends pause"), [])
        self.assertEqual(self.metric("wharf_delivery_paused", hook["id"]), 0)

    def test_setting_validated(self):
        status, body = self.service.post("/api/v1/connectors", {
            "name": "bad", "plugin": "webhook",
            "settings": {"url": self.recorder.url + "/hook"},
            "delivery": {"pause_after_failures": -1}})
        self.assertEqual(status, 400, body)
        self.assertIn("\"delivery.pause_after_failures\" must be an integer from 0 to 1000, "
                      "got -1", body["error"])


if __name__ == "__main__":
    unittest.main()
