"""Order per entity: one user's messages reach a connector in the order they
were made, also across a retry. With delivery.coalesce, queued changes merge
into fewer messages that keep the first old value and the last new value."""

import collections
import unittest

import fault_server
from sync_client import DeliveryTestCase

USERS = 10
CHANGES_PER_USER = 5
FAST_RETRIES = {"retry_base_ms": 50, "retry_cap_ms": 200, "max_attempts": 5}


def step_of(message):
    return message["user"]["attributes"]["step"]


class OrderTest(DeliveryTestCase):

    def change_users(self, names, steps):
        # Each round changes every user once, so one user's messages are
        # made apart from each other, with other users' messages between.
        for step in steps:
            self.send([{"type": "identify", "userId": name, "traits": {"step": step}}
                       for name in names])

    def test_per_user_order_across_retry(self):
        attempts = collections.Counter()

        def decide(message):
            key = (message["user"]["external_id"], step_of(message))
            attempts[key] += 1
            # The second change of every even user fails once.
            number = int(key[0].split("-")[1])
            if key[1] == 2 and number % 2 == 0 and attempts[key] == 1:
                return {"status": "retry", "reason": "try again"}
            return {"status": "ok"}

        self.recorder.set_behaviour(fault_server.per_message_results(decide))
        hook = self.create_webhook(user_segments=["ALL"], batch_size=3, max_connections=4,
                                   delivery=FAST_RETRIES)
        names = ["order-%d" % number for number in range(USERS)]
        steps = list(range(1, CHANGES_PER_USER + 1))
        self.change_users(names, steps)

        self.wait_log_count(hook["id"], "outgoing.user.success", USERS * CHANGES_PER_USER)
        arrivals = collections.defaultdict(list)
        for message, _ in self.recorder.messages():
            arrivals[message["user"]["external_id"]].append(step_of(message))

        for number, name in enumerate(names):
            expected = [1, 2, 2, 3, 4, 5] if number % 2 == 0 else steps
            self.assertEqual(arrivals[name], expected, name)
        retries = self.all_logs(hook["id"], message="outgoing.user.retry")
        self.assertEqual(len(retries), USERS // 2)

    def test_coalesced_changes_keep_first_old_value(self):
        gate = fault_server.Gate(self.recorder)
        self.recorder.set_behaviour(gate.fault())
        hook = self.create_webhook(user_segments=["ALL"], delivery={"coalesce": True})
        self.send([{"type": "identify", "userId": "blocker", "traits": {"step": 0}}])
        self.service.wait_until(lambda: self.recorder.in_flight == 1, timeout=10,
                                message="the first request never reached the destination")

        # The destination keeps the first request waiting, so these five changes
        # wait in the queue, where each replaces the one before.
        self.send([{"type": "identify", "userId": "changing", "traits": {"step": 0}}])
        for step in range(1, CHANGES_PER_USER + 1):
            self.send([{"type": "identify", "userId": "changing", "traits": {"step": step}}])
        gate.open()

        self.wait_logs(hook["id"],
                       lambda lines: any(line["message"] == "outgoing.user.success" and
                                         line["claims"]["external_id"] == "changing"
                                         for line in lines),
                       "a success line for the changed user")
        messages = [message for message, _ in self.recorder.messages()
                    if message["user"]["external_id"] == "changing"]
        # All six messages waited behind the held request, so they merged
        # into one: the user's creation (old value null) to the last step.
        self.assertEqual(len(messages), 1, messages)
        merged, = messages
        self.assertEqual(step_of(merged), CHANGES_PER_USER)
        self.assertEqual(merged["changes"]["attributes"]["step"], [None, CHANGES_PER_USER])

        skips = [line for line in self.all_logs(hook["id"], message="outgoing.user.skip")
                 if line["claims"]["external_id"] == "changing"]
        self.assertEqual(len(skips), CHANGES_PER_USER)
        for line in skips:
            self.assertIn("replaced by a newer message for the same entity",
                          line["data"]["reason"])


if __name__ == "__main__":
    unittest.main()
