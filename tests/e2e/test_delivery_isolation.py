"""Connector isolation: a destination that hangs and one that refuses
connections do not slow down a healthy connector's deliveries."""

import time
import unittest

import fault_server
from data_client import segment_call
from sync_client import DeliveryTestCase

CHANGES = 1000


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class IsolationTest(DeliveryTestCase):

    def measure_latencies(self, prefix):
        """Send CHANGES identify calls; return seconds from each 200 to its arrival."""
        acknowledged_at = {}
        for number in range(CHANGES):
            external_id = "%s-%04d" % (prefix, number)
            status, body = segment_call(self.service, "/v1/identify",
                                        {"userId": external_id, "traits": {"n": number}})
            self.assertEqual(status, 200, body)
            acknowledged_at[external_id] = time.monotonic()

        self.wait_quietly(lambda: set(acknowledged_at) <= set(self.delivered_ids()), timeout=30)
        arrived_at = {}
        for message, received_at in self.recorder.messages():
            arrived_at.setdefault(message["user"]["external_id"], received_at)
        missing = set(acknowledged_at) - set(arrived_at)
        self.assertEqual(len(missing), 0, "%d changes never arrived, such as %r"
                         % (len(missing), sorted(missing)[:5]))
        return [arrived_at[external_id] - acknowledged_at[external_id]
                for external_id in acknowledged_at]

    def test_failing_destinations_do_not_delay_healthy(self):
        healthy = self.create_webhook("healthy", user_segments=["ALL"], max_connections=4)
        alone = self.measure_latencies("alone")

        hanging_server = fault_server.FaultServer().start()
        self.addCleanup(hanging_server.shutdown)
        hanging_server.set_behaviour(fault_server.hang())
        refused_socket, refused_url = fault_server.closed_port()
        self.addCleanup(refused_socket.close)
        hanging = self.create_webhook("hanging", user_segments=["ALL"], max_connections=4,
                                      url=hanging_server.url + "/hook")
        refused = self.create_webhook("refused", user_segments=["ALL"], max_connections=4,
                                      url=refused_url + "/hook")
        together = self.measure_latencies("together")

        p99_alone = percentile(alone, 0.99)
        p99_together = percentile(together, 0.99)
        print("\nhealthy connector p99 delivery latency: alone %.1f ms, next to a hanging "
              "and a refusing destination %.1f ms"
              % (p99_alone * 1000, p99_together * 1000))
        self.assertLessEqual(p99_together, 2 * p99_alone)

        # The failing connectors did get the changes and are failing, not idle.
        self.assertGreater(hanging_server.in_flight, 0)
        retries = self.all_logs(refused["id"], message="outgoing.user.retry")
        self.assertGreater(len(retries), 0)
        self.assertIn("transport error", retries[0]["data"]["reason"])
        self.assertEqual(self.all_logs(hanging["id"], message="outgoing.user.success"), [])
        self.assertEqual(len(self.all_logs(healthy["id"], message="outgoing.user.error")), 0)


if __name__ == "__main__":
    unittest.main()
