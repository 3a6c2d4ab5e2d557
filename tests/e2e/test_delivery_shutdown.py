"""SIGTERM with requests in flight: wharfd waits for them up to
--shutdown-timeout-ms, exits 0, and loses nothing across the restart."""

import time
import unittest

import fault_server
from sync_client import DeliveryTestCase

SHUTDOWN_TIMEOUT_MS = 3000
USERS = 20


class GracefulShutdownTest(DeliveryTestCase):

    WHARFD_ARGS = ("--shutdown-timeout-ms", str(SHUTDOWN_TIMEOUT_MS))

    def queue_users(self, hook_id):
        names = ["down-%02d" % number for number in range(USERS)]
        self.send([{"type": "identify", "userId": name, "traits": {"n": 1}} for name in names])
        self.service.wait_until(lambda: self.recorder.in_flight >= 1, timeout=10,
                                message="no request reached the destination")
        return names

    def stop_and_restart(self, names, kept_queued=None):
        """SIGTERM, then start again and wait for every name to be delivered.

        With kept_queued, check the count of queued messages in wharfd's
        log lines about what it keeps at exit and restores at start.
        """
        started = time.monotonic()
        code = self.service.stop()
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0, "wharfd exited with %s after SIGTERM" % code)
        if kept_queued is not None:
            self.assertIn("delivery queue kept for the next start: %d queued messages and 0 dead "
                          "letters of 1 connectors, 0 unfinished manual batches" % kept_queued,
                          self.service.stderr_text())

        self.recorder.set_behaviour(fault_server.Fault(200, {}))
        self.service.start()
        if kept_queued is not None:
            self.service.wait_for_log("delivery queue restored: %d queued messages and 0 dead "
                                      "letters of 1 connectors" % kept_queued)
        self.wait_quietly(lambda: set(names) <= set(self.delivered_ids()), timeout=20)
        missing = set(names) - set(self.delivered_ids())
        self.assertEqual(missing, set())
        return elapsed

    def test_slow_requests_finish_before_exit(self):
        self.recorder.set_behaviour(fault_server.slow(1.0))
        hook = self.create_webhook(user_segments=["ALL"], batch_size=10, max_connections=2)
        names = self.queue_users(hook["id"])
        in_flight = [message["user"]["external_id"] for message, _ in self.recorder.messages()]
        self.assertGreater(len(in_flight), 0)

        elapsed = self.stop_and_restart(names)
        self.assertLess(elapsed, SHUTDOWN_TIMEOUT_MS / 1000)
        # The requests in flight finished with 200 before the exit.
        successes = self.all_logs(hook["id"], message="outgoing.user.success")
        succeeded = [line["claims"]["external_id"] for line in successes]
        for external_id in in_flight:
            self.assertIn(external_id, succeeded)
        print("\nSIGTERM with slow requests in flight: exit 0 after %.2f s" % elapsed)

    def test_hanging_requests_end_at_timeout(self):
        self.recorder.set_behaviour(fault_server.hang())
        hook = self.create_webhook(user_segments=["ALL"], batch_size=1, max_connections=2)
        names = self.queue_users(hook["id"])
        in_flight = [message["user"]["external_id"] for message, _ in self.recorder.messages()]
        self.assertGreater(len(in_flight), 0)

        # Nothing was delivered, so every message stays queued.
        elapsed = self.stop_and_restart(names, kept_queued=USERS)
        # The destination never responded to them, so they went again.
        delivered = self.delivered_ids()
        for external_id in in_flight:
            self.assertGreaterEqual(delivered[external_id], 2, external_id)
        self.assertGreaterEqual(elapsed, SHUTDOWN_TIMEOUT_MS / 1000 - 0.2)
        self.assertLess(elapsed, SHUTDOWN_TIMEOUT_MS / 1000 + 2)
        print("\nSIGTERM with hanging requests in flight: exit 0 after %.2f s" % elapsed)


if __name__ == "__main__":
    unittest.main()
