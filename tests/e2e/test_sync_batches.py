"""End-to-end tests of manual batches ("Send to") through the real wharfd.

A segment batch or a single-entity batch goes to a webhook connector pointed
at a Recorder, or to the fixture plugin fixture-requires-whitelist. That
fixture has no destination and marks every message a success, so its outcome
shows only in the batch counts and the connector's log. Every test compares
the delivered external_ids, or the user ids in the log lines, with the set it
computes from the users it wrote.
"""

import collections
import threading
import unittest

from sync_client import (ACCOUNT_WHITELIST, REQUIRES_WHITELIST_PLUGIN, USER_WHITELIST,
                         USERS_ONLY_PLUGIN, SyncTestCase, segment_ref)

PLANS = {"pro": 5, "team": 4, "free": 3}

# Users for the "sent at once" tests: score i for user score-i.
SCORED_USERS = 1200


def plan_query(plan):
    return {"attribute": "plan", "op": "eq", "value": plan}


class PlanUsersTestCase(SyncTestCase):
    """Users pro-0..4, team-0..3 and free-0..2, and the ready segments Pro and Team."""

    def setUp(self):
        super().setUp()
        self.send([{"type": "identify", "userId": "%s-%d" % (plan, index),
                    "traits": {"plan": plan, "name": "Ünal %s %d" % (plan, index)}}
                   for plan, count in PLANS.items() for index in range(count)])
        self.pro = self.create_segment("Pro", plan_query("pro"))
        self.team = self.create_segment("Team", plan_query("team"))
        self.assertEqual((self.pro["size"], self.team["size"]), (PLANS["pro"], PLANS["team"]))

    def external_ids(self, plan):
        return ["%s-%d" % (plan, index) for index in range(PLANS[plan])]

    def user_ids(self, plan):
        return {self.user(external_id)["id"] for external_id in self.external_ids(plan)}

    def success_user_ids(self, connector_id, batch_id):
        lines = self.all_logs(connector_id, batch_id=batch_id, message="outgoing.user.success")
        for line in lines:
            self.assertEqual(line["batch_id"], batch_id, line)
        return collections.Counter(line["user_id"] for line in lines)


class SegmentBatchTest(PlanUsersTestCase):

    def test_webhook_ignores_whitelist(self):
        hook = self.create_webhook(user_segments=[self.team["id"]])

        status, view = self.start_batch(hook["id"], {"segment_id": self.pro["id"]})
        self.assertEqual(status, 202, view)
        self.assertEqual((view["connector_id"], view["segment_id"]), (hook["id"], self.pro["id"]))
        self.assertIn(view["state"], ("waiting_for_segment", "sending", "done"), view)
        view = self.wait_batch(view["id"])
        self.assertEqual(view["state"], "done", view)
        self.assertEqual((view["total"], view["sent"], view["skipped"], view["failed"]),
                         (PLANS["pro"], PLANS["pro"], 0, 0), view)
        self.assertIsNone(view["error"])

        exported = self.delivered(is_export=True)
        self.assertEqual(collections.Counter(m["user"]["external_id"] for m in exported),
                         collections.Counter(self.external_ids("pro")))
        for message in exported:
            self.assertIs(message["is_export"], True)
            self.assertNotIn("changes", message)
            self.assertNotIn("events", message)
            self.assertEqual(message["segments"], [segment_ref(self.pro)])
            self.assertEqual(message["user"]["attributes"]["plan"], "pro")
        self.assertEqual(self.delivered(is_export=False), [])
        self.assertEqual(self.success_user_ids(hook["id"], view["id"]),
                         collections.Counter(self.user_ids("pro")))

    def test_requires_whitelist_schema(self):
        plugins = {plugin["name"]: plugin for plugin in self.service.plugins()["plugins"]}
        self.assertIn(REQUIRES_WHITELIST_PLUGIN, plugins, plugins)
        plugin = plugins[REQUIRES_WHITELIST_PLUGIN]
        self.assertEqual(plugin["batch_policy"], "requires_whitelist")
        self.assertEqual(plugin["settings"], [])
        self.assertEqual(sorted(plugin["entity_types"]), ["accounts", "users"])
        self.assertEqual(plugins["webhook"]["batch_policy"], "ignores_whitelist")

    def test_requires_whitelist_rejects_segment(self):
        connector = self.create_connector(REQUIRES_WHITELIST_PLUGIN, "strict",
                                          user_segments=[self.team["id"]])

        status, view = self.start_batch(connector["id"], {"segment_id": self.pro["id"]})
        self.assertEqual(status, 409, view)
        self.assertEqual(view["state"], "rejected", view)
        self.assertEqual(view["segment_id"], self.pro["id"])
        self.assertIn('"Pro"', view["error"])
        self.assertIn(USER_WHITELIST, view["error"])
        self.assertEqual(self.batch(view["id"])["state"], "rejected")
        self.assertEqual(self.logs(connector["id"], batch_id=view["id"]), [])

    def test_requires_whitelist_rejects_account_segment(self):
        big = self.create_segment("Big accounts",
                                  {"attribute": "seats", "op": "gte", "value": 100},
                                  entity_type="accounts")
        connector = self.create_connector(REQUIRES_WHITELIST_PLUGIN, "strict",
                                          user_segments=["ALL"])

        status, view = self.start_batch(connector["id"], {"segment_id": big["id"]})
        self.assertEqual(status, 409, view)
        self.assertEqual(view["state"], "rejected", view)
        self.assertIn('"Big accounts"', view["error"])
        self.assertIn(ACCOUNT_WHITELIST, view["error"])

    def test_requires_whitelist_sends_whitelisted(self):
        connector = self.create_connector(REQUIRES_WHITELIST_PLUGIN, "strict",
                                          user_segments=[self.team["id"]])

        status, view = self.start_batch(connector["id"], {"segment_id": self.team["id"]})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual(view["state"], "done", view)
        self.assertEqual((view["total"], view["sent"], view["skipped"], view["failed"]),
                         (PLANS["team"], PLANS["team"], 0, 0), view)
        self.assertEqual(self.success_user_ids(connector["id"], view["id"]),
                         collections.Counter(self.user_ids("team")))
        starts = self.all_logs(connector["id"], batch_id=view["id"], message="outgoing.user.start")
        self.assertEqual({line["user_id"] for line in starts}, self.user_ids("team"))

    def test_requires_whitelist_accepts_all(self):
        connector = self.create_connector(REQUIRES_WHITELIST_PLUGIN, "strict",
                                          user_segments=["ALL"])

        status, view = self.start_batch(connector["id"], {"segment_id": self.pro["id"]})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["sent"]), ("done", PLANS["pro"]), view)
        self.assertEqual(self.success_user_ids(connector["id"], view["id"]),
                         collections.Counter(self.user_ids("pro")))

    def test_empty_segment_done_at_once(self):
        nobody = self.create_segment("Nobody", plan_query("enterprise"))
        self.assertEqual(nobody["size"], 0)
        hook = self.create_webhook()

        status, view = self.start_batch(hook["id"], {"segment_id": nobody["id"]})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["total"], view["sent"]), ("done", 0, 0), view)
        self.assertEqual(self.recorder.requests, [])

    def test_two_batches_at_once(self):
        hook = self.create_webhook(max_connections=2, batch_size=2)
        responses = [None, None]

        def post(slot):
            responses[slot] = self.start_batch(hook["id"], {"segment_id": self.pro["id"]})

        threads = [threading.Thread(target=post, args=(slot,)) for slot in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for status, view in responses:
            self.assertEqual(status, 202, view)
        self.assertNotEqual(responses[0][1]["id"], responses[1][1]["id"])

        expected_ids = collections.Counter(self.user_ids("pro"))
        for _, view in responses:
            done = self.wait_batch(view["id"])
            self.assertEqual(done["state"], "done", done)
            self.assertEqual((done["total"], done["sent"]), (PLANS["pro"], PLANS["pro"]), done)
            self.assertEqual(self.success_user_ids(hook["id"], view["id"]), expected_ids)
        self.assertEqual(self.delivered_external_ids(is_export=True),
                         collections.Counter({external_id: 2
                                              for external_id in self.external_ids("pro")}))


class SingleEntityBatchTest(PlanUsersTestCase):

    def test_webhook_sends_one_user(self):
        hook = self.create_webhook(user_segments=[self.team["id"]])
        user = self.user("pro-2")

        status, view = self.start_batch(hook["id"], {"user_id": user["id"]})
        self.assertEqual(status, 202, view)
        self.assertEqual(view["user_id"], user["id"])
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["total"], view["sent"], view["skipped"]),
                         ("done", 1, 1, 0), view)

        exported = self.delivered(is_export=True)
        self.assertEqual([m["user"]["external_id"] for m in exported], ["pro-2"])
        self.assertNotIn("changes", exported[0])
        self.assertNotIn("events", exported[0])
        self.assertEqual(exported[0]["user"]["attributes"], {"plan": "pro", "name": "Ünal pro 2"})

    def test_requires_whitelist_skips_user(self):
        connector = self.create_connector(REQUIRES_WHITELIST_PLUGIN, "strict",
                                          user_segments=[self.team["id"]])
        for external_id in ("pro-1", "free-0"):
            user = self.user(external_id)
            status, view = self.start_batch(connector["id"], {"user_id": user["id"]})
            self.assertEqual(status, 202, view)
            view = self.wait_batch(view["id"])
            self.assertEqual((view["state"], view["total"], view["sent"], view["skipped"],
                              view["failed"]), ("done", 1, 0, 1, 0), view)

            lines = self.all_logs(connector["id"], batch_id=view["id"])
            self.assertEqual([line["message"] for line in lines], ["outgoing.user.skip"], lines)
            self.assertEqual(lines[0]["user_id"], user["id"])
            self.assertIn(USER_WHITELIST, lines[0]["data"]["reason"])
            self.assertIn(REQUIRES_WHITELIST_PLUGIN, lines[0]["data"]["reason"])

    def test_requires_whitelist_sends_member(self):
        connector = self.create_connector(REQUIRES_WHITELIST_PLUGIN, "strict",
                                          user_segments=[self.team["id"]])
        user = self.user("team-3")

        status, view = self.start_batch(connector["id"], {"user_id": user["id"]})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["total"], view["sent"], view["skipped"]),
                         ("done", 1, 1, 0), view)
        self.assertEqual(self.success_user_ids(connector["id"], view["id"]),
                         collections.Counter([user["id"]]))

    def test_webhook_sends_one_account(self):
        self.send([{"type": "group", "userId": "pro-0", "groupId": "acme",
                    "traits": {"name": "Acme Société"}}])
        account = self.account("acme")
        hook = self.create_webhook()

        status, view = self.start_batch(hook["id"], {"account_id": account["id"]})
        self.assertEqual(status, 202, view)
        self.assertEqual(view["account_id"], account["id"])
        view = self.wait_batch(view["id"])
        self.assertEqual((view["state"], view["sent"]), ("done", 1), view)
        exported = self.delivered(is_export=True)
        self.assertEqual([(m["type"], m["account"]["external_id"]) for m in exported],
                         [("account", "acme")])
        self.assertEqual(exported[0]["account"]["attributes"], {"name": "Acme Société"})
        self.assertNotIn("changes", exported[0])


class ChangingSegmentBatchTest(SyncTestCase):
    """Batches on segments whose recomputation has only just started."""

    def setUp(self):
        super().setUp()
        self.send([{"type": "identify", "userId": "score-%d" % score,
                    "traits": {"score": score}} for score in range(SCORED_USERS)])
        self.hook = self.create_webhook(max_connections=4)

    def assert_exported(self, batch_view, expected_external_ids):
        self.assertIn(batch_view["state"], ("waiting_for_segment", "sending"), batch_view)
        done = self.wait_batch(batch_view["id"])
        self.assertEqual(done["state"], "done", done)
        self.assertEqual((done["total"], done["sent"], done["failed"]),
                         (len(expected_external_ids), len(expected_external_ids), 0), done)
        self.assertEqual(self.delivered_external_ids(is_export=True),
                         collections.Counter(expected_external_ids))

    def test_new_segment_sent_at_once(self):
        status, segment = self.service.post("/api/v1/segments", {
            "name": "Top scores", "type": "users",
            "query": {"all": [{"attribute": "score", "op": "gte", "value": 700},
                              {"not": {"attribute": "score", "op": "between",
                                       "value": [900, 999]}}]}})
        self.assertEqual(status, 201, segment)
        status, view = self.start_batch(self.hook["id"], {"segment_id": segment["id"]})
        self.assertEqual(status, 202, view)

        expected = ["score-%d" % score for score in range(SCORED_USERS)
                    if score >= 700 and not 900 <= score <= 999]
        self.assert_exported(view, expected)

    def test_changed_segment_sent_at_once(self):
        segment = self.create_segment("Scores", {"attribute": "score", "op": "lt", "value": 100})
        self.assertEqual(segment["size"], 100)

        status, updated = self.service.put("/api/v1/segments/" + segment["id"], {
            "name": "Scores", "type": "users",
            "query": {"attribute": "score", "op": "between", "value": [500, 849]}})
        self.assertEqual(status, 200, updated)
        status, view = self.start_batch(self.hook["id"], {"segment_id": segment["id"]})
        self.assertEqual(status, 202, view)

        self.assert_exported(view, ["score-%d" % score for score in range(500, 850)])


class BatchInputTest(PlanUsersTestCase):

    def setUp(self):
        super().setUp()
        self.hook = self.create_webhook()
        self.enterprise = self.create_segment("Enterprise accounts", plan_query("enterprise"),
                                              entity_type="accounts")

    def assert_error(self, connector_id, body, status, *fragments):
        got_status, response = self.start_batch(connector_id, body)
        self.assertEqual(got_status, status, "body %r: %r" % (body, response))
        for fragment in fragments:
            self.assertIn(fragment, response.get("error", ""), "body %r" % (body,))
        return response

    def test_unknown_ids_not_found(self):
        self.assert_error("no-such-connector", {"segment_id": self.pro["id"]}, 404,
                          "no-such-connector")
        self.assert_error(self.hook["id"], {"segment_id": "no-such-segment"}, 404,
                          "no-such-segment")
        self.assert_error(self.hook["id"], {"user_id": "no-such-user"}, 404, "no-such-user")
        self.assert_error(self.hook["id"], {"account_id": "no-such-account"}, 404,
                          "no-such-account")
        status, body = self.service.get("/api/v1/batches/unknown")
        self.assertEqual(status, 404, body)
        self.assertIn("unknown", body["error"])
        status, body = self.service.get("/api/v1/connectors/no-such-connector/batches")
        self.assertEqual(status, 404, body)
        self.assertEqual(self.batch_ids(self.hook["id"]), set())

    def test_segment_of_wrong_type(self):
        plugin = {p["name"]: p for p in self.service.plugins()["plugins"]}[USERS_ONLY_PLUGIN]
        self.assertEqual(plugin["entity_types"], ["users"])
        users_only = self.create_connector(USERS_ONLY_PLUGIN, "users only")

        self.assert_error(users_only["id"], {"segment_id": self.enterprise["id"]}, 400,
                          '"Enterprise accounts"', USERS_ONLY_PLUGIN)
        self.send([{"type": "group", "userId": "pro-0", "groupId": "acme", "traits": {}}])
        self.assert_error(users_only["id"], {"account_id": self.account("acme")["id"]}, 400,
                          USERS_ONLY_PLUGIN)
        self.assertEqual(self.batch_ids(users_only["id"]), set())

    def test_bad_bodies(self):
        user_id = self.user("pro-0")["id"]
        cases = [
            ({"segment_id": self.pro["id"], "user_id": user_id}, ["segment_id", "user_id"]),
            ({"user_id": user_id, "account_id": "x"}, ["user_id", "account_id"]),
            ({}, ["segment_id"]),
            ({"segment": self.pro["id"]}, ['"segment"']),
            ({"segment_id": 7}, ["segment_id"]),
            ({"segment_id": ""}, ["segment_id"]),
            ([self.pro["id"]], []),
            (b'{"segment_id": ', []),
        ]
        for body, fragments in cases:
            with self.subTest(body=body):
                self.assert_error(self.hook["id"], body, 400, *fragments)
        self.assertEqual(self.batch_ids(self.hook["id"]), set())
        self.assertEqual(self.recorder.requests, [])

    def batch_ids(self, connector_id):
        status, body = self.service.get("/api/v1/connectors/%s/batches" % connector_id)
        self.assertEqual(status, 200, body)
        return {view["id"] for view in body["batches"]}

    def test_connector_batches_listed(self):
        other = self.create_webhook(name="other")
        created = []
        for body in ({"segment_id": self.pro["id"]}, {"segment_id": self.team["id"]},
                     {"user_id": self.user("free-1")["id"]}):
            status, view = self.start_batch(self.hook["id"], body)
            self.assertEqual(status, 202, view)
            created.append(view["id"])
        status, view = self.start_batch(other["id"], {"segment_id": self.team["id"]})
        self.assertEqual(status, 202, view)
        for batch_id in created + [view["id"]]:
            self.wait_batch(batch_id)

        status, body = self.service.get("/api/v1/connectors/%s/batches" % self.hook["id"])
        self.assertEqual(status, 200, body)
        self.assertEqual([view["id"] for view in body["batches"]], created)
        for listed in body["batches"]:
            self.assertEqual(listed, self.batch(listed["id"]))
            self.assertEqual(listed["connector_id"], self.hook["id"])
            self.assertEqual(listed["state"], "done", listed)
        self.assertEqual(self.batch_ids(other["id"]), {view["id"]})


class ConnectorDeletionTest(SyncTestCase):

    USERS = 3000

    def test_delete_fails_running_batch(self):
        self.send([{"type": "identify", "userId": "bulk-%d" % index, "traits": {"bulk": True}}
                   for index in range(self.USERS)])
        everyone = self.create_segment("Everyone", {"all": []})
        self.assertEqual(everyone["size"], self.USERS)
        # 300 requests of 10 messages, 50 ms each: the batch would take 15 s.
        self.recorder.set_default(200, body="{}", delay=0.05)
        hook = self.create_webhook(batch_size=10)

        status, view = self.start_batch(hook["id"], {"segment_id": everyone["id"]})
        self.assertEqual(status, 202, view)
        self.recorder.wait_for_requests(1, timeout=10)
        status, body = self.service.delete("/api/v1/connectors/" + hook["id"])
        self.assertEqual(status, 204, body)

        failed = self.wait_batch(view["id"], states=("failed",))
        self.assertIn("deleted", failed["error"])
        self.assertEqual(failed["total"], self.USERS)
        self.assertLess(failed["sent"], self.USERS, failed)

        def accounted():
            current = self.batch(view["id"])
            return current["sent"] + current["skipped"] + current["failed"] == self.USERS
        self.service.wait_until(accounted, timeout=10,
                                message="batch counts never added up to its total: %r"
                                % self.batch(view["id"]))
        self.assertEqual(self.batch(view["id"])["state"], "failed")
        delivered = sum(self.delivered_external_ids(is_export=True).values())
        self.assertLess(delivered, self.USERS)


if __name__ == "__main__":
    unittest.main()
