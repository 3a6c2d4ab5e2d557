"""GET /metrics: every delivery series per connector, with values that match
what the destinations did."""

import unittest

import fault_server
from data_client import segment_call
from sync_client import DeliveryTestCase

FAST_RETRIES = {"retry_base_ms": 50, "retry_cap_ms": 100, "max_attempts": 3}
GAUGES = ("wharf_delivery_queue_depth", "wharf_delivery_in_flight",
          "wharf_delivery_dead_letters", "wharf_delivery_paused")
COUNTERS = ("wharf_delivery_sent_total", "wharf_delivery_skipped_total",
            "wharf_delivery_failed_total", "wharf_delivery_retries_total",
            "wharf_delivery_dead_lettered_total")
HISTOGRAM = "wharf_delivery_request_duration_seconds"


def connector_samples(samples, name, connector_id):
    """Samples of the series name for one connector: {labels other than connector: value}."""
    found = {}
    for (series, labels), value in samples.items():
        label_map = dict(labels)
        if series == name and label_map.get("connector") == connector_id:
            del label_map["connector"]
            found[frozenset(label_map.items())] = value
    return found


class MetricsTest(DeliveryTestCase):

    def counts(self, connector_id):
        samples = self.metrics()
        return {name: self.metric(name, connector_id, samples) for name in GAUGES + COUNTERS}

    def test_series_match_outcomes(self):
        seen = set()
        # Once the test resends the dead letter, m-error is accepted.
        accept_all = []

        def decide(message):
            external_id = message["user"]["external_id"]
            first_time = external_id not in seen
            seen.add(external_id)
            if external_id == "m-skip":
                return {"status": "skip", "reason": "not wanted"}
            if external_id == "m-error" and not accept_all:
                return {"status": "error", "reason": "invalid"}
            if external_id == "m-retry" and first_time:
                return {"status": "retry", "reason": "busy"}
            return {"status": "ok"}

        self.recorder.set_behaviour(fault_server.per_message_results(decide))
        outcomes = self.create_webhook("outcomes", user_segments=["ALL"],
                                       delivery=FAST_RETRIES)
        held_server = fault_server.FaultServer().start()
        self.addCleanup(held_server.shutdown)
        gate = fault_server.Gate(held_server)
        held_server.set_behaviour(gate.fault())
        held = self.create_webhook("held", user_segments=["ALL"], url=held_server.url + "/hook")

        names = ["m-ok-0", "m-ok-1", "m-ok-2", "m-skip", "m-error", "m-retry"]
        self.send([{"type": "identify", "userId": name, "traits": {"n": 1}} for name in names])
        self.wait_logs(outcomes["id"],
                       lambda lines: sum(line["message"] in ("outgoing.user.success",
                                                             "outgoing.user.skip",
                                                             "outgoing.user.error")
                                         for line in lines) >= len(names),
                       "a final line per user")
        self.service.wait_until(lambda: held_server.in_flight == 1, timeout=10,
                                message="the held connector's request did not arrive")

        samples = self.metrics()
        for connector in (outcomes, held):
            for name in GAUGES + COUNTERS:
                self.metric(name, connector["id"], samples)
            buckets = connector_samples(samples, HISTOGRAM + "_bucket", connector["id"])
            self.assertIn(frozenset([("le", "+Inf")]), buckets)
            self.metric(HISTOGRAM + "_sum", connector["id"], samples)
            self.metric(HISTOGRAM + "_count", connector["id"], samples)

        self.assertEqual(self.counts(outcomes["id"]), {
            "wharf_delivery_queue_depth": 0,
            "wharf_delivery_in_flight": 0,
            "wharf_delivery_dead_letters": 1,
            "wharf_delivery_paused": 0,
            "wharf_delivery_sent_total": 4,
            "wharf_delivery_skipped_total": 1,
            "wharf_delivery_failed_total": 1,
            "wharf_delivery_retries_total": 1,
            "wharf_delivery_dead_lettered_total": 1,
        })
        requests = len(self.recorder.requests)
        self.assertEqual(self.metric(HISTOGRAM + "_count", outcomes["id"]), requests)
        buckets = connector_samples(self.metrics(), HISTOGRAM + "_bucket", outcomes["id"])
        ordered = sorted(buckets.items(), key=lambda item: float(dict(item[0])["le"]))
        values = [value for _, value in ordered]
        self.assertEqual(values, sorted(values), "buckets must be cumulative")
        self.assertEqual(values[-1], requests)
        self.assertGreater(self.metric(HISTOGRAM + "_sum", outcomes["id"]), 0)

        # The held connector has its six messages in one request that the
        # destination holds; a seventh change waits behind it.
        held_counts = self.counts(held["id"])
        self.assertEqual(held_counts["wharf_delivery_in_flight"], len(names))
        self.assertEqual(held_counts["wharf_delivery_queue_depth"], len(names))
        status, body = segment_call(self.service, "/v1/identify",
                                    {"userId": "m-late", "traits": {"n": 1}})
        self.assertEqual(status, 200, body)
        self.service.wait_until(
            lambda: self.metric("wharf_delivery_queue_depth", held["id"]) == len(names) + 1,
            timeout=5, message="the seventh message is not counted in the queue depth")
        self.assertEqual(self.metric("wharf_delivery_in_flight", held["id"]), len(names))
        gate.open()
        self.service.wait_until(
            lambda: self.metric("wharf_delivery_sent_total", held["id"]) == len(names) + 1,
            timeout=10, message="the held connector did not send its messages")
        self.assertEqual(self.counts(held["id"]), {
            "wharf_delivery_queue_depth": 0,
            "wharf_delivery_in_flight": 0,
            "wharf_delivery_dead_letters": 0,
            "wharf_delivery_paused": 0,
            "wharf_delivery_sent_total": len(names) + 1,
            "wharf_delivery_skipped_total": 0,
            "wharf_delivery_failed_total": 0,
            "wharf_delivery_retries_total": 0,
            "wharf_delivery_dead_lettered_total": 0,
        })

        accept_all.append(True)
        self.assertEqual(self.resend_dead_letters(outcomes["id"]), 1)
        self.service.wait_until(
            lambda: self.metric("wharf_delivery_sent_total", outcomes["id"]) == 5, timeout=10,
            message="the resent dead letter was not sent")
        # The delivered row leaves the store a moment after the counter
        # moves, so the queue depth may read 1 briefly.
        self.service.wait_until(
            lambda: self.metric("wharf_delivery_queue_depth", outcomes["id"]) == 0, timeout=5,
            message="the resent message is still counted in the queue depth")
        counts = self.counts(outcomes["id"])
        self.assertEqual(counts["wharf_delivery_dead_letters"], 0)
        self.assertEqual(counts["wharf_delivery_dead_lettered_total"], 1)

    def test_coalesced_skips_counted(self):
        gate = fault_server.Gate(self.recorder)
        self.recorder.set_behaviour(gate.fault())
        hook = self.create_webhook(user_segments=["ALL"], delivery={"coalesce": True})
        self.send([{"type": "identify", "userId": "blocker", "traits": {"n": 0}}])
        self.service.wait_until(lambda: self.recorder.in_flight == 1, timeout=10,
                                message="the first request never reached the destination")
        # Three changes in one ingest request, and two more in their own.
        self.send([{"type": "identify", "userId": "merged", "traits": {"n": n}}
                   for n in range(1, 4)])
        for n in range(4, 6):
            self.send([{"type": "identify", "userId": "merged", "traits": {"n": n}}])
        gate.open()

        self.wait_log_count(hook["id"], "outgoing.user.success", 2)
        skips = self.all_logs(hook["id"], message="outgoing.user.skip")
        # One ingest request yields one message per changed user, so the
        # three messages of "merged" become one with two skip lines.
        self.assertEqual(len(skips), 2)
        self.assertEqual(self.metric("wharf_delivery_skipped_total", hook["id"]), len(skips))
        self.assertEqual(self.metric("wharf_delivery_sent_total", hook["id"]), 2)


if __name__ == "__main__":
    unittest.main()
