"""End-to-end tests of /api/v1/segments: CRUD, recomputation, membership, errors, restart.

Segments are computed in the background, so every size check first waits
for status "ready" with a bounded poll. Membership changes caused by one
user's or account's change are also polled, because the API does not
promise that they are visible in the write's own response.
"""

import unittest

import harness
from data_client import (account_view, create_segment, days_ago, get_ok, one_user,
                         post_account, post_user, ready_segment, segment_call,
                         start_customer_wharfd, user_view, wait_for_value, wait_segment_ready)

SEGMENT_VIEW_KEYS = {"id", "name", "type", "query", "status", "size", "created_at",
                     "updated_at"}

PRO_QUERY = {"attribute": "plan", "op": "eq", "value": "pro"}


def nested_not(depth):
    """A query of depth `not` conditions around one attribute condition."""
    query = {"attribute": "a", "op": "exists"}
    for _ in range(depth):
        query = {"not": query}
    return query


# (case, type, query, exact error or None, prefix the error starts with). The
# exact messages are the ones docs/segments.md documents.
INVALID_QUERIES = [
    ("unknown operator", "users", {"attribute": "a", "op": "equals", "value": 1},
     'unknown operator "equals"; use one of eq, neq, in, nin, contains, starts_with, '
     'ends_with, exists, missing, gt, gte, lt, lte, between, before, after, within_last',
     "$.op: "),
    ("between three values", "users",
     {"all": [{"attribute": "a", "op": "exists"},
              {"attribute": "b", "op": "between", "value": [1, 2, 3]}]},
     'between needs an array of two numbers or two dates, such as [18, 65] or '
     '["2024-01-01", "2024-12-31"]', "$.all[1].value: "),
    ("contains a number", "users", {"attribute": "a", "op": "contains", "value": 5},
     "contains needs a string, got a number", "$.value: "),
    ("unknown key", "users", {"attribute": "a", "op": "eq", "value": 1, "extra": 1},
     'unknown key "extra"; an attribute condition takes attribute, op, value and '
     'case_insensitive', "$.extra: "),
    ("bad duration", "users", {"attribute": "seen", "op": "within_last", "value": "7x"},
     'within_last needs a duration such as "30m", "12h", "7d" or "2w" (a whole number then '
     's, m, h, d or w), got "7x"', "$.value: "),
    ("eq null", "users", {"attribute": "a", "op": "eq", "value": None},
     "eq needs a string, number or boolean, got null; use missing to match an unset "
     "attribute", "$.value: "),
    ("empty any", "users", {"any": []},
     "any needs at least one condition; an empty any never matches", "$.any: "),
    ("account prefix in account segment", "accounts",
     {"attribute": "account.plan", "op": "eq", "value": "x"},
     '"account.plan": account attributes are only available in user segments; in an '
     'account segment write "plan"', "$.attribute: "),
    ("33 nested not", "users", nested_not(33), None, "$.not.not.not"),
    ("all and any together", "users",
     {"all": [{"attribute": "a", "op": "exists"}], "any": [{"attribute": "b", "op": "exists"}]},
     None, "$"),
    ("event in account segment", "accounts",
     {"event": "Order Completed", "op": "count_gte", "value": 1}, None, "$"),
    ("negative event count", "users",
     {"event": "Order Completed", "op": "count_gte", "value": -1}, None, "$.value: "),
    ("missing value deep", "users",
     {"not": {"any": [{"attribute": "a", "op": "exists"}, {"attribute": "b", "op": "gte"}]}},
     None, "$.not.any[1]"),
    ("case_insensitive on exists", "users",
     {"attribute": "a", "op": "exists", "case_insensitive": True}, None, "$.case_insensitive"),
    ("in with empty array", "users", {"attribute": "a", "op": "in", "value": []}, None,
     "$.value: "),
    ("event within bad duration", "users",
     {"event": "Order Completed", "op": "count_gte", "value": 1, "within": "30 days"}, None,
     "$.within: "),
]


class SegmentsTestCase(harness.ServiceTestCase):

    def setUp(self):
        self.service = start_customer_wharfd(self)

    def user_segment_ids(self, user_id):
        return sorted(user_view(self, self.service, user_id)["segment_ids"])

    def wait_user_segments(self, user_id, expected, what=None):
        wait_for_value(self.service, lambda: self.user_segment_ids(user_id), sorted(expected),
                       what=what or "segment_ids of user %s" % user_id)

    def wait_size(self, segment_id, expected):
        def size():
            return wait_segment_ready(self, self.service, segment_id)["size"]

        wait_for_value(self.service, size, expected, what="size of segment %s" % segment_id)


class CrudTest(SegmentsTestCase):

    def test_create_read_update_delete(self):
        post_user(self, self.service, {"claims": {"external_id": "crud-1"},
                                       "attributes": {"plan": "pro"}})

        created = create_segment(self, self.service, "Pro users", "users", PRO_QUERY)
        self.assertEqual(set(created), SEGMENT_VIEW_KEYS)
        self.assertEqual(created["name"], "Pro users")
        self.assertEqual(created["type"], "users")
        self.assertEqual(created["query"], PRO_QUERY)
        self.assertEqual(created["status"], "computing")

        ready = wait_segment_ready(self, self.service, created["id"])
        self.assertEqual(ready["size"], 1)
        listed = get_ok(self, self.service, "/api/v1/segments")["segments"]
        self.assertEqual(listed, [ready])

        status, updated = self.service.put("/api/v1/segments/" + created["id"], {
            "name": "Paying users", "type": "users", "query": PRO_QUERY})
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["id"], created["id"])
        self.assertEqual(updated["name"], "Paying users")
        self.assertEqual(wait_segment_ready(self, self.service, created["id"])["size"], 1)

        status, body = self.service.delete("/api/v1/segments/" + created["id"])
        self.assertEqual(status, 204, body)
        status, body = self.service.get("/api/v1/segments/" + created["id"])
        self.assertEqual(status, 404, body)
        self.assertIn(created["id"], body["error"])
        self.assertEqual(get_ok(self, self.service, "/api/v1/segments")["segments"], [])
        status, body = self.service.delete("/api/v1/segments/" + created["id"])
        self.assertEqual(status, 404, body)

    def test_everyone_segment(self):
        for number in range(4):
            post_user(self, self.service, {"claims": {"external_id": "all-%d" % number}})

        segment = ready_segment(self, self.service, "Everyone", "users", {"all": []})

        self.assertEqual(segment["size"], 4)

    def test_bad_segment_bodies(self):
        cases = [
            ("no name", {"type": "users", "query": PRO_QUERY}, "name"),
            ("empty name", {"name": "", "type": "users", "query": PRO_QUERY}, "name"),
            ("unknown type", {"name": "x", "type": "people", "query": PRO_QUERY}, "people"),
            ("no query", {"name": "x", "type": "users"}, "query"),
            ("unknown member", {"name": "x", "type": "users", "query": PRO_QUERY,
                                "filter": "plan"}, "filter"),
            ("query not an object", {"name": "x", "type": "users", "query": "plan = pro"},
             "query"),
        ]
        for name, body, error_part in cases:
            with self.subTest(case=name):
                status, response = self.service.post("/api/v1/segments", body)
                self.assertEqual(status, 400, response)
                self.assertIn(error_part, response["error"])
        status, response = self.service.post("/api/v1/segments", b"{",
                                             headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, response)
        self.assertEqual(get_ok(self, self.service, "/api/v1/segments")["segments"], [])

    def test_invalid_queries_name_json_path(self):
        for name, entity_type, query, exact, prefix in INVALID_QUERIES:
            with self.subTest(case=name):
                status, body = self.service.post("/api/v1/segments", {
                    "name": name, "type": entity_type, "query": query})
                self.assertEqual(status, 400, body)
                self.assertTrue(body["error"].startswith(prefix),
                                "error %r does not start with %r" % (body["error"], prefix))
                if exact is not None:
                    self.assertEqual(body["error"], prefix + exact)
        self.assertEqual(get_ok(self, self.service, "/api/v1/segments")["segments"], [])

    def test_read_only_fields_ignored(self):
        created = create_segment(self, self.service, "Round trip", "users", PRO_QUERY)
        ready = wait_segment_ready(self, self.service, created["id"])

        status, updated = self.service.put("/api/v1/segments/" + created["id"],
                                           dict(ready, name="Round trip 2", size=999))

        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["name"], "Round trip 2")
        self.assertEqual(wait_segment_ready(self, self.service, created["id"])["size"], 0)

    def test_deepest_nesting_accepted(self):
        # docs/segments.md: up to 32 levels, the top-level object being level 1.
        segment = ready_segment(self, self.service, "Deep", "users", nested_not(31))

        self.assertEqual(segment["query"], nested_not(31))

    def test_invalid_put_keeps_query(self):
        segment = ready_segment(self, self.service, "Keep", "users", PRO_QUERY)

        status, body = self.service.put("/api/v1/segments/" + segment["id"], {
            "name": "Keep", "type": "users", "query": {"any": []}})

        self.assertEqual(status, 400, body)
        self.assertTrue(body["error"].startswith("$.any: "), body)
        self.assertEqual(get_ok(self, self.service, "/api/v1/segments/" + segment["id"])
                         ["query"], PRO_QUERY)


class MembershipTest(SegmentsTestCase):

    def test_size_and_user_move_in_and_out(self):
        users = {}
        for number, plan in enumerate(["pro", "pro", "free", None, "Pro"]):
            attributes = {"plan": plan} if plan is not None else {}
            users[number] = post_user(self, self.service, {
                "claims": {"external_id": "move-%d" % number}, "attributes": attributes})

        segment = ready_segment(self, self.service, "Pro", "users", PRO_QUERY)
        self.assertEqual(segment["size"], 2)
        self.assertEqual(self.user_segment_ids(users[0]["id"]), [segment["id"]])
        self.assertEqual(self.user_segment_ids(users[2]["id"]), [])

        post_user(self, self.service, {"claims": {"external_id": "move-2"},
                                       "attributes": {"plan": "pro"}})
        self.wait_user_segments(users[2]["id"], [segment["id"]])
        self.wait_size(segment["id"], 3)

        post_user(self, self.service, {"claims": {"external_id": "move-0"},
                                       "attributes": {"plan": None}})
        self.wait_user_segments(users[0]["id"], [])
        self.wait_size(segment["id"], 2)

        status, body = segment_call(self.service, "/v1/identify",
                                    {"userId": "move-new", "traits": {"plan": "pro"}})
        self.assertEqual(status, 200, body)
        newcomer = one_user(self, self.service, "external_id", "move-new")
        self.wait_user_segments(newcomer["id"], [segment["id"]])
        self.wait_size(segment["id"], 3)

    def test_put_query_recomputes(self):
        for number, seats in enumerate([5, 20, 80, 150]):
            post_user(self, self.service, {"claims": {"external_id": "seats-%d" % number},
                                           "attributes": {"seats": seats}})
        segment = ready_segment(self, self.service, "Big", "users",
                                {"attribute": "seats", "op": "gte", "value": 100})
        self.assertEqual(segment["size"], 1)

        status, updated = self.service.put("/api/v1/segments/" + segment["id"], {
            "name": "Big", "type": "users",
            "query": {"attribute": "seats", "op": "between", "value": [10, 100]}})

        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["status"], "computing")
        ready = wait_segment_ready(self, self.service, segment["id"])
        self.assertEqual(ready["size"], 2)
        self.assertEqual(ready["query"], {"attribute": "seats", "op": "between",
                                          "value": [10, 100]})
        member = one_user(self, self.service, "external_id", "seats-1")
        self.assertEqual(member["segment_ids"], [segment["id"]])
        self.assertEqual(one_user(self, self.service, "external_id", "seats-3")["segment_ids"],
                         [])

    def test_several_segments_on_one_user(self):
        user = post_user(self, self.service, {"claims": {"external_id": "multi"},
                                              "attributes": {"plan": "pro", "country": "FR"}})
        pro = ready_segment(self, self.service, "Pro", "users", PRO_QUERY)
        french = ready_segment(self, self.service, "FR", "users",
                               {"attribute": "country", "op": "in", "value": ["FR", "BE"]})
        ready_segment(self, self.service, "US", "users",
                      {"attribute": "country", "op": "eq", "value": "US"})

        self.assertEqual(self.user_segment_ids(user["id"]), sorted([pro["id"], french["id"]]))


class DeleteTest(SegmentsTestCase):

    def setUp(self):
        plugins_dir = harness.make_plugins_dir(self, fixtures=["valid_1_0"])
        self.service = start_customer_wharfd(self, plugins_dir=plugins_dir)

    def test_delete_clears_memberships_whitelists(self):
        user = post_user(self, self.service, {"claims": {"external_id": "del-user"},
                                              "attributes": {"plan": "pro", "seats": 9}})
        account = post_account(self, self.service, {"claims": {"external_id": "del-acct"},
                                                    "attributes": {"seats": 90}})
        doomed = ready_segment(self, self.service, "Doomed", "users", PRO_QUERY)
        kept = ready_segment(self, self.service, "Kept", "users",
                             {"attribute": "seats", "op": "gt", "value": 1})
        doomed_accounts = ready_segment(self, self.service, "Doomed accounts", "accounts",
                                        {"attribute": "seats", "op": "gte", "value": 50})
        self.assertEqual(self.user_segment_ids(user["id"]), sorted([doomed["id"], kept["id"]]))
        self.assertEqual(account_view(self, self.service, account["id"])["segment_ids"],
                         [doomed_accounts["id"]])
        status, connector = self.service.create_connector(
            "fixture-valid", "whitelisted", {"api_key": "k"},
            synchronized_user_segments=[doomed["id"], kept["id"]],
            synchronized_account_segments=[doomed_accounts["id"]])
        self.assertEqual(status, 201, connector)
        mark = self.service.log_mark()

        status, body = self.service.delete("/api/v1/segments/" + doomed["id"])
        self.assertEqual(status, 204, body)
        status, body = self.service.delete("/api/v1/segments/" + doomed_accounts["id"])
        self.assertEqual(status, 204, body)

        self.assertEqual(self.user_segment_ids(user["id"]), [kept["id"]])
        self.assertEqual(account_view(self, self.service, account["id"])["segment_ids"], [])
        stored = get_ok(self, self.service, "/api/v1/connectors/" + connector["id"])
        self.assertEqual(stored["synchronized_user_segments"], [kept["id"]])
        self.assertEqual(stored["synchronized_account_segments"], [])
        for segment_id in [doomed["id"], doomed_accounts["id"]]:
            line = self.service.wait_for_log(segment_id, timeout=2, since=mark)
            self.assertIn(connector["id"], line)
            self.assertIn("whitelist", line)

        # The whitelist change is stored, not only held in memory.
        self.service.restart()
        stored = get_ok(self, self.service, "/api/v1/connectors/" + connector["id"])
        self.assertEqual(stored["synchronized_user_segments"], [kept["id"]])
        self.assertEqual(stored["synchronized_account_segments"], [])
        self.assertEqual(self.user_segment_ids(user["id"]), [kept["id"]])


class AccountSegmentTest(SegmentsTestCase):

    def test_account_segment(self):
        accounts = {}
        for name, seats in [("big-co", 120), ("mid-co", 50), ("small-co", 3)]:
            accounts[name] = post_account(self, self.service, {
                "claims": {"external_id": name}, "attributes": {"seats": seats}})

        segment = ready_segment(self, self.service, "Large", "accounts",
                                {"attribute": "seats", "op": "gte", "value": 50})
        self.assertEqual(segment["type"], "accounts")
        self.assertEqual(segment["size"], 2)
        self.assertEqual(account_view(self, self.service, accounts["mid-co"]["id"])
                         ["segment_ids"], [segment["id"]])

        post_account(self, self.service, {"claims": {"external_id": "small-co"},
                                          "attributes": {"seats": {"operation": "inc",
                                                                   "value": 60}}})
        wait_for_value(self.service, lambda: account_view(
            self, self.service, accounts["small-co"]["id"])["segment_ids"], [segment["id"]],
            what="segment_ids of small-co")
        self.wait_size(segment["id"], 3)

        status, body = segment_call(self.service, "/v1/group", {
            "userId": "someone", "groupId": "big-co", "traits": {"seats": 10}})
        self.assertEqual(status, 200, body)
        wait_for_value(self.service, lambda: account_view(
            self, self.service, accounts["big-co"]["id"])["segment_ids"], [],
            what="segment_ids of big-co")
        self.wait_size(segment["id"], 2)

    def test_user_segment_ignores_accounts(self):
        post_account(self, self.service, {"claims": {"external_id": "only-account"},
                                          "attributes": {"plan": "pro"}})

        segment = ready_segment(self, self.service, "Pro users", "users", PRO_QUERY)

        self.assertEqual(segment["size"], 0)


class AccountAttributeTest(SegmentsTestCase):

    def test_account_attribute_in_user_segment(self):
        post_account(self, self.service, {"claims": {"external_id": "acme"},
                                          "attributes": {"plan": "enterprise"}})
        post_account(self, self.service, {"claims": {"external_id": "globex"},
                                          "attributes": {"plan": "free"}})
        users = {}
        for name, account in [("ann", "acme"), ("bob", "acme"), ("cid", "globex"),
                              ("dee", None)]:
            body = {"claims": {"external_id": name}}
            if account is not None:
                body["account"] = {"external_id": account}
            users[name] = post_user(self, self.service, body)

        enterprise = ready_segment(self, self.service, "Enterprise users", "users",
                                   {"attribute": "account.plan", "op": "eq",
                                    "value": "enterprise"})
        no_plan = ready_segment(self, self.service, "No account plan", "users",
                                {"attribute": "account.plan", "op": "missing"})
        self.assertEqual(enterprise["size"], 2)
        self.assertEqual(no_plan["size"], 1)
        self.assertEqual(self.user_segment_ids(users["dee"]["id"]), [no_plan["id"]])

        post_account(self, self.service, {"claims": {"external_id": "globex"},
                                          "attributes": {"plan": "enterprise"}})
        self.wait_user_segments(users["cid"]["id"], [enterprise["id"]])
        self.wait_size(enterprise["id"], 3)

        post_account(self, self.service, {"claims": {"external_id": "acme"},
                                          "attributes": {"plan": None}})
        self.wait_user_segments(users["ann"]["id"], [no_plan["id"]])
        self.wait_user_segments(users["bob"]["id"], [no_plan["id"]])
        self.wait_size(enterprise["id"], 1)
        self.wait_size(no_plan["id"], 3)

        # Moving a user to another account changes what account.plan reads.
        post_user(self, self.service, {"claims": {"external_id": "dee"},
                                       "account": {"external_id": "globex"}})
        self.wait_user_segments(users["dee"]["id"], [enterprise["id"]])


class EventSegmentTest(SegmentsTestCase):

    def track(self, user_id, event, timestamp, message_id):
        status, body = segment_call(self.service, "/v1/track", {
            "userId": user_id, "event": event, "timestamp": timestamp,
            "messageId": message_id})
        self.assertEqual(status, 200, body)

    def test_event_count_segments(self):
        for days, message_id in [(1, "a-1"), (2, "a-2"), (60, "a-3")]:
            self.track("buyer-a", "Order Completed", days_ago(days), message_id)
        for days, message_id in [(1, "b-1"), (100, "b-2"), (101, "b-3"), (102, "b-4")]:
            self.track("buyer-b", "Order Completed", days_ago(days), message_id)
        self.track("buyer-c", "Viewed Page", days_ago(1), "c-1")
        self.track("buyer-c", "order completed", days_ago(1), "c-2")
        users = {name: one_user(self, self.service, "external_id", name)
                 for name in ["buyer-a", "buyer-b", "buyer-c"]}

        recent = ready_segment(self, self.service, "2 orders in 30 days", "users",
                               {"event": "Order Completed", "op": "count_gte", "value": 2,
                                "within": "30d"})
        total = ready_segment(self, self.service, "3 orders ever", "users",
                              {"event": "Order Completed", "op": "count_gte", "value": 3})
        never = ready_segment(self, self.service, "Never ordered", "users",
                              {"event": "Order Completed", "op": "count_lte", "value": 0})
        few_recent = ready_segment(self, self.service, "At most 1 in 4 weeks", "users",
                                   {"event": "Order Completed", "op": "count_lte", "value": 1,
                                    "within": "4w"})

        self.assertEqual(recent["size"], 1)
        self.assertEqual(total["size"], 2)
        self.assertEqual(never["size"], 1)
        self.assertEqual(few_recent["size"], 2)
        self.assertEqual(self.user_segment_ids(users["buyer-a"]["id"]),
                         sorted([recent["id"], total["id"]]))
        self.assertEqual(self.user_segment_ids(users["buyer-b"]["id"]),
                         sorted([total["id"], few_recent["id"]]))
        self.assertEqual(self.user_segment_ids(users["buyer-c"]["id"]),
                         sorted([never["id"], few_recent["id"]]))

        # A new event is a change to the user: buyer-b now has 2 in 30 days.
        self.track("buyer-b", "Order Completed", days_ago(0.01), "b-5")
        self.wait_user_segments(users["buyer-b"]["id"], [recent["id"], total["id"]])
        self.wait_size(recent["id"], 2)
        self.wait_size(few_recent["id"], 1)

        # An event older than the window changes the total but not "recent".
        self.track("buyer-c", "Order Completed", days_ago(400), "c-3")
        self.wait_user_segments(users["buyer-c"]["id"], [few_recent["id"]])
        self.wait_size(never["id"], 0)


class RestartTest(harness.ServiceTestCase):

    def test_segments_survive_restart(self):
        service = start_customer_wharfd(self)
        for number in range(6):
            plan = "pro" if number % 2 == 0 else "free"
            post_user(self, service, {
                "claims": {"external_id": "r-%d" % number}, "attributes": {"plan": plan}})
        post_account(self, service, {"claims": {"external_id": "r-acct"},
                                     "attributes": {"seats": 70}})
        pro = ready_segment(self, service, "Pro", "users", PRO_QUERY)
        free = ready_segment(self, service, "Free", "users",
                             {"attribute": "plan", "op": "eq", "value": "free"})
        large = ready_segment(self, service, "Large", "accounts",
                              {"attribute": "seats", "op": "gt", "value": 10})
        user = one_user(self, service, "external_id", "r-0")
        self.assertEqual((pro["size"], free["size"], large["size"]), (3, 3, 1))

        service.restart()

        segments = get_ok(self, service, "/api/v1/segments")["segments"]
        self.assertEqual(sorted(segment["id"] for segment in segments),
                         sorted([pro["id"], free["id"], large["id"]]))
        for before in [pro, free, large]:
            with self.subTest(segment=before["name"]):
                self.assertEqual(wait_segment_ready(self, service, before["id"]), before)
        self.assertEqual(user_view(self, service, user["id"])["segment_ids"], [pro["id"]])

        # Membership keeps following changes after the restart.
        post_user(self, service, {"claims": {"external_id": "r-1"},
                                  "attributes": {"plan": "pro"}})
        wait_for_value(service, lambda: wait_segment_ready(self, service, pro["id"])["size"],
                       4, what="size of Pro after the restart")


if __name__ == "__main__":
    unittest.main()
