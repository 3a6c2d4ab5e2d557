"""Per-message results from the destination: only the messages that the
destination rejected are retried or become dead letters."""

import collections
import unittest

import fault_server
from sync_client import DeliveryTestCase

FAST_RETRIES = {"retry_base_ms": 50, "retry_cap_ms": 200, "max_attempts": 3}


def external_id_of(message):
    return message["user"]["external_id"]


class PartialResultsTest(DeliveryTestCase):

    def test_only_rejected_messages_retried(self):
        seen = collections.Counter()

        def decide(message):
            external_id = external_id_of(message)
            seen[external_id] += 1
            if external_id.startswith("bad-"):
                return {"status": "error", "reason": "invalid email"}
            if external_id.startswith("skip-"):
                return {"status": "skip", "reason": "unsubscribed"}
            if external_id.startswith("flaky-") and seen[external_id] == 1:
                return {"status": "retry", "reason": "busy"}
            return {"status": "ok"}

        self.recorder.set_behaviour(fault_server.per_message_results(decide))
        hook = self.create_webhook(user_segments=["ALL"], batch_size=20,
                                   delivery=FAST_RETRIES)
        groups = {prefix: ["%s-%d" % (prefix, number) for number in range(3)]
                  for prefix in ("good", "bad", "skip", "flaky")}
        self.send([{"type": "identify", "userId": external_id, "traits": {"plan": "pro"}}
                   for names in groups.values() for external_id in names])

        final_messages = ("outgoing.user.success", "outgoing.user.skip", "outgoing.user.error")
        lines = self.wait_logs(hook["id"],
                               lambda lines: sum(line["message"] in final_messages
                                                 for line in lines) >= 12,
                               "a final line for each of the 12 users")
        delivered = self.delivered_ids()
        by_user = collections.defaultdict(list)
        for line in lines:
            if line["message"] != "outgoing.user.start":
                by_user[line["claims"]["external_id"]].append(line)

        for external_id in groups["good"]:
            self.assertEqual(delivered[external_id], 1, external_id)
            self.assertEqual([line["message"] for line in by_user[external_id]],
                             ["outgoing.user.success"])
        for external_id in groups["flaky"]:
            self.assertEqual(delivered[external_id], 2, external_id)
            self.assertEqual([line["message"] for line in by_user[external_id]],
                             ["outgoing.user.retry", "outgoing.user.success"])
            self.assertIn("busy", by_user[external_id][0]["data"]["reason"])
        for external_id in groups["skip"]:
            self.assertEqual(delivered[external_id], 1, external_id)
            skip, = by_user[external_id]
            self.assertEqual(skip["message"], "outgoing.user.skip")
            self.assertRegex(skip["data"]["reason"], r"^HTTP 200: result \d+ of \d+: unsubscribed$")
        for external_id in groups["bad"]:
            self.assertEqual(delivered[external_id], 1, external_id)
            error, = by_user[external_id]
            self.assertEqual(error["message"], "outgoing.user.error")
            self.assertRegex(error["data"]["reason"], r"^HTTP 200: result \d+ of \d+: invalid email$")

        dead = self.dead_letters(hook["id"])["dead_letters"]
        self.assertEqual(sorted(letter["message"]["user"]["external_id"] for letter in dead),
                         sorted(groups["bad"]))

    def test_success_line_follows_success(self):
        # Every user is retried once; a success line may only appear after
        # the request that accepted the user.
        seen = collections.Counter()
        hook_ids = []
        # external_id -> success lines for it that existed while the
        # destination was still deciding to accept it.
        early_success_lines = {}

        def decide(message):
            external_id = external_id_of(message)
            seen[external_id] += 1
            if seen[external_id] == 1:
                return {"status": "retry", "reason": "not yet"}
            early_success_lines[external_id] = [
                line for line in self.all_logs(hook_ids[0], message="outgoing.user.success")
                if line["claims"]["external_id"] == external_id]
            return {"status": "ok"}

        self.recorder.set_behaviour(fault_server.per_message_results(decide))
        hook = self.create_webhook(user_segments=["ALL"], batch_size=5, delivery=FAST_RETRIES)
        hook_ids.append(hook["id"])
        names = ["user-%d" % number for number in range(10)]
        self.send([{"type": "identify", "userId": name, "traits": {"n": 1}} for name in names])

        lines = self.wait_log_count(hook["id"], "outgoing.user.success", 10)
        self.assertEqual(sorted(line["claims"]["external_id"] for line in lines), names)
        retries = self.all_logs(hook["id"], message="outgoing.user.retry")
        self.assertEqual(sorted(line["claims"]["external_id"] for line in retries), names)
        for success in lines:
            retry, = [line for line in retries
                      if line["user_id"] == success["user_id"]]
            self.assertLess(retry["sequence"], success["sequence"])
            self.assertEqual(success["data"]["attempt"], 2, success)
        self.assertEqual(sorted(early_success_lines), names)
        for external_id, early in early_success_lines.items():
            self.assertEqual(early, [], external_id)


if __name__ == "__main__":
    unittest.main()
