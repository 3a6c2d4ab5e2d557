"""A destination down for a long stretch: the backlog waits on disk, not in
memory, ingest keeps returning 200, and everything arrives once the
destination is back."""

import unittest

import fault_server
from data_client import segment_call
from sync_client import DeliveryTestCase

BACKLOG = 20000
USERS_PER_REQUEST = 500
RSS_GROWTH_MAX_BYTES = 100 * 1024 * 1024
# AddressSanitizer keeps freed memory in a quarantine (256 MB by default) and
# maps shadow memory, so a sanitizer build gets this larger bound.
# NOTE: under ASan the check only catches gross growth, not a leak per message.
RSS_GROWTH_MAX_BYTES_ASAN = 600 * 1024 * 1024


def resident_bytes(pid):
    """VmRSS of a process from /proc/PID/status."""
    with open("/proc/%d/status" % pid, encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line for process %d" % pid)


def runs_with_asan(pid):
    with open("/proc/%d/maps" % pid, encoding="ascii", errors="replace") as maps:
        return any("libasan" in line for line in maps)


class BacklogTest(DeliveryTestCase):

    def test_backlog_on_disk_then_delivered(self):
        gate = fault_server.Gate(self.recorder)
        self.recorder.set_behaviour(gate.fault())
        hook = self.create_webhook(user_segments=["ALL"], timeout_ms=120000)
        rss_before = resident_bytes(self.service.process.pid)
        rss_peak = rss_before

        expected = ["backlog-%05d" % number for number in range(BACKLOG)]
        for start in range(0, BACKLOG, USERS_PER_REQUEST):
            batch = [{"type": "identify", "userId": external_id, "traits": {"plan": "pro"}}
                     for external_id in expected[start:start + USERS_PER_REQUEST]]
            status, body = segment_call(self.service, "/v1/batch", {"batch": batch})
            self.assertEqual(status, 200, body)
            rss_peak = max(rss_peak, resident_bytes(self.service.process.pid))

        depths = []

        def backlog_queued():
            depths.append(self.metric("wharf_delivery_queue_depth", hook["id"]))
            return depths[-1] >= BACKLOG

        self.wait_quietly(backlog_queued, timeout=30)
        self.assertGreaterEqual(depths[-1], BACKLOG)
        rss_peak = max(rss_peak, resident_bytes(self.service.process.pid))
        print("\n%d queued messages: wharfd RSS %.1f MB before, %.1f MB at the peak"
              % (BACKLOG, rss_before / 1e6, rss_peak / 1e6))
        limit = (RSS_GROWTH_MAX_BYTES_ASAN if runs_with_asan(self.service.process.pid)
                 else RSS_GROWTH_MAX_BYTES)
        self.assertLess(rss_peak - rss_before, limit)

        gate.open()
        self.wait_quietly(lambda: set(expected) <= set(self.delivered_ids()), timeout=90)
        delivered = self.delivered_ids()
        missing = set(expected) - set(delivered)
        self.assertEqual(len(missing), 0, "%d messages never arrived, such as %r"
                         % (len(missing), sorted(missing)[:5]))
        self.service.wait_until(
            lambda: self.metric("wharf_delivery_queue_depth", hook["id"]) == 0, timeout=30,
            message="the queue did not drain after every message arrived")


if __name__ == "__main__":
    unittest.main()
