"""Durable delivery across kill -9: a manual batch and a stream of automatic
changes both reach the destination at least once after a restart."""

import http.client
import threading
import time
import unittest

import fault_server
import harness
from data_client import segment_call
from sync_client import DeliveryTestCase

BATCH_USERS = 50000
USERS_PER_REQUEST = 500


def user_ids(count, prefix):
    return ["%s-%05d" % (prefix, number) for number in range(count)]


class ManualBatchCrashTest(DeliveryTestCase):

    def load_users(self, external_ids):
        for start in range(0, len(external_ids), USERS_PER_REQUEST):
            batch = [{"type": "identify", "userId": external_id,
                      "traits": {"plan": "pro"}}
                     for external_id in external_ids[start:start + USERS_PER_REQUEST]]
            status, body = segment_call(self.service, "/v1/batch", {"batch": batch})
            self.assertEqual(status, 200, body)

    def test_manual_batch_survives_kill(self):
        expected = user_ids(BATCH_USERS, "batch")
        self.load_users(expected)
        segment = self.create_segment("Pro", {"attribute": "plan", "op": "eq",
                                              "value": "pro"})
        self.assertEqual(segment["size"], BATCH_USERS)
        # Slow responses stretch the batch to a few seconds, so the kill
        # lands in the middle of it.
        self.recorder.set_behaviour(fault_server.slow(0.05))
        hook = self.create_webhook(batch_size=500, max_connections=2)

        status, batch = self.start_batch(hook["id"], {"segment_id": segment["id"]})
        self.assertEqual(status, 202, batch)
        self.service.wait_until(lambda: len(self.delivered_ids()) >= BATCH_USERS // 4,
                                timeout=60, message="a quarter of the batch did not arrive")
        self.kill_and_restart()
        delivered_before_restart = sum(self.delivered_ids().values())
        self.assertLess(delivered_before_restart, BATCH_USERS,
                        "the batch finished before the kill; the test proves nothing")

        self.recorder.set_behaviour(fault_server.Fault(200, {}))
        view = self.wait_batch(batch["id"], timeout=120)
        self.assertEqual(view["state"], "done", view)

        delivered = self.delivered_ids()
        missing = set(expected) - set(delivered)
        self.assertEqual(len(missing), 0, "%d members never arrived, such as %r"
                         % (len(missing), sorted(missing)[:5]))
        self.assertEqual(set(delivered), set(expected))
        duplicates = sum(delivered.values()) - len(delivered)
        print("\nmanual batch of %d after kill -9 at %d delivered: %d duplicates"
              % (BATCH_USERS, delivered_before_restart, duplicates))


class AutomaticStreamCrashTest(DeliveryTestCase):

    def test_acknowledged_changes_survive_kill(self):
        hook = self.create_webhook(user_segments=["ALL"], max_connections=2)
        self.recorder.set_behaviour(fault_server.slow(0.02))
        acknowledged = []
        stop = threading.Event()

        def stream():
            number = 0
            # Bounded: the loop ends when the test sets stop or after
            # 20,000 calls, whichever comes first.
            while not stop.is_set() and number < 20000:
                external_id = "stream-%05d" % number
                try:
                    status, _ = segment_call(self.service, "/v1/identify",
                                             {"userId": external_id,
                                              "traits": {"n": number}})
                except (OSError, http.client.HTTPException):
                    # wharfd was killed during the call, which is then
                    # not acknowledged.
                    status = None
                if status == 200:
                    acknowledged.append(external_id)
                number += 1

        thread = threading.Thread(target=stream, name="identify-stream", daemon=True)
        thread.start()
        self.service.wait_until(lambda: len(acknowledged) >= 1000, timeout=30,
                                message="the identify stream did not get going")
        self.service.process.kill()
        self.service.stop()
        stop.set()
        thread.join(timeout=harness.scaled(15))
        self.assertFalse(thread.is_alive())
        self.service.start()

        self.recorder.set_behaviour(fault_server.Fault(200, {}))
        expected = set(acknowledged)
        self.wait_quietly(lambda: expected <= set(self.delivered_ids()), timeout=60)
        delivered = self.delivered_ids()
        missing = expected - set(delivered)
        self.assertEqual(len(missing), 0, "%d acknowledged users never arrived, such as %r"
                         % (len(missing), sorted(missing)[:5]))
        duplicates = sum(delivered[external_id] - 1 for external_id in expected)
        print("\n%d acknowledged identify calls, kill -9, restart: %d duplicates"
              % (len(expected), duplicates))
        self.assertEqual(self.service.get("/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main()
