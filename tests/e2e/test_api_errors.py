"""End-to-end tests of API errors a new user meets: duplicate segment names,
query parameters that a GET endpoint does not read, and 404s that name the
next step.

Each test starts a real wharfd with the webhook plugin (see sync_client) and
talks to it over loopback HTTP.
"""

import os
import sqlite3
import unittest
import urllib.parse

from sync_client import ACCOUNT_WHITELIST, USER_WHITELIST, SyncTestCase

PRO_QUERY = {"attribute": "plan", "op": "eq", "value": "pro"}
FREE_QUERY = {"attribute": "plan", "op": "eq", "value": "free"}
TEAM_QUERY = {"attribute": "plan", "op": "eq", "value": "team"}
BIG_QUERY = {"attribute": "seats", "op": "gt", "value": 10}

LOG_PARAMETERS = ("message", "user_id", "account_id", "batch_id", "since", "limit", "after")

# Every message name wharfd writes to a connector log.
LOG_MESSAGES = tuple("outgoing.%s.%s" % (entity, outcome)
                     for entity in ("user", "account")
                     for outcome in ("start", "success", "skip", "retry", "error"))


class SegmentNameTest(SyncTestCase):

    def segment_body(self, name, query=PRO_QUERY, entity_type="users"):
        return {"name": name, "type": entity_type, "query": query}

    def segment_names(self):
        status, body = self.service.get("/api/v1/segments")
        self.assertEqual(status, 200, body)
        return sorted(segment["name"] for segment in body["segments"])

    def assert_name_conflict(self, status, body, name, holder_id):
        self.assertEqual(status, 409, body)
        self.assertIn('"%s"' % name, body["error"])
        self.assertIn(holder_id, body["error"])
        self.assertIn("choose another name", body["error"])
        self.assertIn("PUT /api/v1/segments/" + holder_id, body["error"])

    def test_create_with_used_name_409(self):
        pros = self.create_segment("Pros", PRO_QUERY)

        status, body = self.service.post("/api/v1/segments", self.segment_body("Pros"))
        self.assert_name_conflict(status, body, "Pros", pros["id"])

        # Names are unique across user and account segments.
        status, body = self.service.post("/api/v1/segments",
                                         self.segment_body("Pros", BIG_QUERY, "accounts"))
        self.assert_name_conflict(status, body, "Pros", pros["id"])
        self.assertEqual(self.segment_names(), ["Pros"])

    def test_names_compare_case_sensitive(self):
        self.create_segment("Pros", PRO_QUERY)

        status, body = self.service.post("/api/v1/segments", self.segment_body("pros"))
        self.assertEqual(status, 201, body)
        status, body = self.service.post("/api/v1/segments", self.segment_body("Pros "))
        self.assertEqual(status, 201, body)
        self.assertEqual(self.segment_names(), ["Pros", "Pros ", "pros"])

    def test_rename_to_used_name_409(self):
        pros = self.create_segment("Pros", PRO_QUERY)
        free = self.create_segment("Free", FREE_QUERY)

        status, body = self.service.put("/api/v1/segments/" + free["id"],
                                        self.segment_body("Pros", FREE_QUERY))
        self.assert_name_conflict(status, body, "Pros", pros["id"])
        status, view = self.service.get("/api/v1/segments/" + free["id"])
        self.assertEqual(status, 200, view)
        self.assertEqual(view["name"], "Free")
        self.assertEqual(view["query"], FREE_QUERY)

        # A segment keeps its own name when its query changes.
        status, view = self.service.put("/api/v1/segments/" + pros["id"],
                                        self.segment_body("Pros", FREE_QUERY))
        self.assertEqual(status, 200, view)
        self.assertEqual(view["query"], FREE_QUERY)

    def test_deleted_segment_frees_name(self):
        pros = self.create_segment("Pros", PRO_QUERY)
        status, body = self.service.delete("/api/v1/segments/" + pros["id"])
        self.assertEqual(status, 204, body)

        status, body = self.service.post("/api/v1/segments", self.segment_body("Pros"))
        self.assertEqual(status, 201, body)

    def test_store_with_duplicate_names_loads(self):
        pros = self.create_segment("Pros", PRO_QUERY)
        free = self.create_segment("Free", FREE_QUERY)
        self.assertEqual(self.service.stop(), 0, self.service.stderr_text())
        self.rename_in_store(free["id"], "Pros")

        self.service.start()
        self.assertEqual(self.segment_names(), ["Pros", "Pros"])
        warnings = self.service.log_lines_matching("share the name")
        self.assertEqual(len(warnings), 1, self.service.stderr_text())
        self.assertIn(pros["id"], warnings[0])
        self.assertIn(free["id"], warnings[0])
        self.assertIn("PUT /api/v1/segments/" + free["id"], warnings[0])

        # Either duplicate can still change its query under its own name.
        status, view = self.service.put("/api/v1/segments/" + free["id"],
                                        self.segment_body("Pros", TEAM_QUERY))
        self.assertEqual(status, 200, view)
        status, body = self.service.post("/api/v1/segments", self.segment_body("Pros"))
        self.assert_name_conflict(status, body, "Pros", pros["id"])

        # Renaming one clears the warning for the next start.
        status, view = self.service.put("/api/v1/segments/" + free["id"],
                                        self.segment_body("Free", FREE_QUERY))
        self.assertEqual(status, 200, view)
        self.service.restart()
        self.assertEqual(self.segment_names(), ["Free", "Pros"])
        self.assertEqual(self.service.log_lines_matching("share the name"), [])

    def rename_in_store(self, segment_id, name):
        """Rename a stored segment directly in wharf.db, as a store from before names
        were unique could hold it; wharfd must be stopped."""
        self.assertFalse(self.service.running)
        database = sqlite3.connect(os.path.join(self.service.data_dir, "wharf.db"))
        try:
            with database:
                changed = database.execute(
                    "UPDATE segments SET document = json_set(document, '$.name', ?) "
                    "WHERE id = ?", (name, segment_id)).rowcount
        finally:
            database.close()
        self.assertEqual(changed, 1)


class QueryParameterTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.hook = self.create_webhook()
        self.logs_path = "/api/v1/connectors/%s/logs" % self.hook["id"]

    def assert_unknown(self, path, name, accepted):
        status, body = self.service.get(path)
        self.assertEqual(status, 400, "GET %s: %r" % (path, body))
        self.assertIn('unknown query parameter "%s"' % name, body["error"])
        for parameter in accepted:
            self.assertIn(parameter, body["error"])

    def assert_repeated(self, path, name):
        status, body = self.service.get(path)
        self.assertEqual(status, 400, "GET %s: %r" % (path, body))
        self.assertIn('"%s" is given more than once' % name, body["error"])

    def test_logs_unknown_parameter_400(self):
        for query, name in [("user=u-1", "user"), ("userId=u-1", "userId"),
                            ("foo=bar", "foo"), ("limit=5&Limit=1", "Limit"),
                            ("flag", "flag"), ("=x", "")]:
            with self.subTest(query=query):
                self.assert_unknown(self.logs_path + "?" + query, name, LOG_PARAMETERS)

    def test_logs_repeated_parameter_400(self):
        for query, name in [("limit=5&limit=1", "limit"),
                            ("message=outgoing.user.skip&message=outgoing.user.start", "message"),
                            ("user_id=a&us%65r_id=b", "user_id")]:
            with self.subTest(query=query):
                self.assert_repeated(self.logs_path + "?" + query, name)

    def test_logs_accepted_parameters_200(self):
        query = urllib.parse.urlencode({
            "message": "outgoing.user.skip", "user_id": "u", "account_id": "a",
            "batch_id": "b", "since": "2026-01-01T00:00:00Z", "limit": "5", "after": "0"})
        for path in [self.logs_path, self.logs_path + "?" + query,
                     self.logs_path + "?limit=5&", self.logs_path + "?lim%69t=5"]:
            with self.subTest(path=path):
                status, body = self.service.get(path)
                self.assertEqual(status, 200, body)
                self.assertEqual(body["lines"], [])

    def test_logs_message_names_checked(self):
        for message in LOG_MESSAGES:
            with self.subTest(message=message):
                status, body = self.service.get(self.logs_path + "?message=" + message)
                self.assertEqual(status, 200, body)
        for message in ["outgoing.user.failed", "outgoing.user", "outgoing.user.*",
                        "Outgoing.User.Skip", ""]:
            with self.subTest(message=message):
                status, body = self.service.get(self.logs_path + "?message=" + message)
                self.assertEqual(status, 400, body)
                self.assertIn('message "%s" is not a log message' % message, body["error"])
                for name in LOG_MESSAGES:
                    self.assertIn(name, body["error"])

    def test_long_query_values_400(self):
        connector = "/api/v1/connectors/" + self.hook["id"]
        cases = [(self.logs_path + "?user_id=" + "u" * 200, "user_id"),
                 (connector + "/dead-letters?limit=" + "1" * 40, "limit"),
                 (connector + "/dead-letters?after=" + "1" * 40, "after")]
        for path, name in cases:
            with self.subTest(name=name):
                status, body = self.service.get(path)
                self.assertEqual(status, 400, body)
                self.assertIn("%s is longer than" % name, body["error"])

    def test_other_endpoints_check_query(self):
        connector = "/api/v1/connectors/" + self.hook["id"]
        self.assert_unknown(connector + "/dead-letters?max=5", "max", ["after", "limit"])
        self.assert_repeated(connector + "/dead-letters?limit=1&limit=2", "limit")
        self.assert_unknown(connector + "/batches?state=done", "state",
                            ["takes no query parameters"])
        self.assert_unknown("/api/v1/connectors?plugin=webhook", "plugin",
                            ["takes no query parameters"])
        self.assert_unknown("/api/v1/users?externalId=x", "externalId",
                            ["external_id", "email", "anonymous_id"])
        self.assert_unknown("/api/v1/accounts?email=x", "email",
                            ["external_id", "domain", "anonymous_id"])
        self.assert_repeated("/api/v1/users?external_id=a&external_id=b", "external_id")

        status, body = self.service.get(connector + "/dead-letters?limit=5")
        self.assertEqual(status, 200, body)
        status, body = self.service.get("/healthz?probe=1")
        self.assertEqual(status, 200, body)

    def test_lookup_takes_one_claim(self):
        self.identify("ada", {"email": "ada@example.com"})

        status, body = self.service.get("/api/v1/users?external_id=ada&email=ada%40example.com")
        self.assertEqual(status, 400, body)
        self.assertIn("not both external_id and email", body["error"])

        status, body = self.service.get("/api/v1/users?email=ada%40example.com")
        self.assertEqual(status, 200, body)
        self.assertEqual([user["external_id"] for user in body["users"]], ["ada"])

    def test_user_events_check_query(self):
        self.identify("ada", {"plan": "pro"})
        events = "/api/v1/users/%s/events" % self.user("ada")["id"]

        self.assert_repeated(events + "?limit=1&limit=2", "limit")
        self.assert_unknown(events + "?event=Signed+Up", "event", ["limit"])
        status, body = self.service.get(events + "?limit=1")
        self.assertEqual(status, 200, body)


class NotFoundHintTest(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.identify("u1", {"plan": "pro", "email": "ada@example.com"})
        self.send([{"type": "group", "userId": "u1", "groupId": "acme",
                    "traits": {"domain": "acme.example", "seats": 40}}])
        self.ada = self.user("u1")
        self.acme = self.account("acme")
        self.pros = self.create_segment("pros", PRO_QUERY)
        self.big = self.create_segment("big", BIG_QUERY, entity_type="accounts")
        self.hook = self.create_webhook(name="demo-hook")
        self.batches = "/api/v1/connectors/%s/batches" % self.hook["id"]

    def assert_batch_404(self, body, *fragments):
        status, answer = self.service.post(self.batches, body)
        self.assertEqual(status, 404, answer)
        for fragment in fragments:
            self.assertIn(fragment, answer["error"])

    def test_unknown_connector_names_list(self):
        status, body = self.service.get("/api/v1/connectors/no-such-connector/logs")
        self.assertEqual(status, 404, body)
        self.assertIn('connector "no-such-connector" not found', body["error"])
        self.assertIn("GET /api/v1/connectors lists them", body["error"])

    def test_connector_name_gives_id(self):
        status, body = self.service.get("/api/v1/connectors/demo-hook")
        self.assertEqual(status, 404, body)
        self.assertIn('connector "demo-hook" has id %s' % self.hook["id"], body["error"])

    def test_batch_user_claims_give_id(self):
        self.assert_batch_404({"user_id": "u1"}, 'user "u1" not found',
                              "user_id takes a wharf user id",
                              'the user with external_id "u1" has id ' + self.ada["id"])
        self.assert_batch_404({"user_id": "ada@example.com"},
                              'the user with email "ada@example.com" has id ' + self.ada["id"])
        self.assert_batch_404({"user_id": "nobody"}, "user_id takes a wharf user id",
                              "GET /api/v1/users?external_id=nobody")

        status, view = self.service.post(self.batches, {"user_id": self.ada["id"]})
        self.assertEqual(status, 202, view)

    def test_batch_account_claims_give_id(self):
        self.assert_batch_404({"account_id": "acme"}, 'account "acme" not found',
                              "account_id takes a wharf account id",
                              'the account with external_id "acme" has id ' + self.acme["id"])
        self.assert_batch_404({"account_id": "acme.example"},
                              'the account with domain "acme.example" has id ' + self.acme["id"])
        self.assert_batch_404({"account_id": "no corp"}, "account_id takes a wharf account id",
                              "GET /api/v1/accounts?external_id=no%20corp")

    def test_batch_segment_name_gives_id(self):
        self.assert_batch_404({"segment_id": "pros"}, 'segment "pros" not found',
                              'segment_id takes a segment id, and segment "pros" has id '
                              + self.pros["id"])
        self.assert_batch_404({"segment_id": "nobody"}, "GET /api/v1/segments lists them")

    def test_entity_and_segment_paths_give_id(self):
        status, body = self.service.get("/api/v1/users/u1")
        self.assertEqual(status, 404, body)
        self.assertIn('the user with external_id "u1" has id ' + self.ada["id"], body["error"])
        status, body = self.service.get("/api/v1/segments/pros")
        self.assertEqual(status, 404, body)
        self.assertIn('segment "pros" has id ' + self.pros["id"], body["error"])

    def test_whitelist_segment_name_gives_id(self):
        status, body = self.service.create_connector(
            "webhook", "named", {"url": self.recorder.url + "/hook"},
            **{USER_WHITELIST: ["pros"]})
        self.assertEqual(status, 400, body)
        self.assertIn('"%s" names segment "pros", which does not exist; the setting takes '
                      'segment ids, and segment "pros" has id %s'
                      % (USER_WHITELIST, self.pros["id"]), body["error"])

        status, body = self.service.create_connector(
            "webhook", "named", {"url": self.recorder.url + "/hook"},
            **{ACCOUNT_WHITELIST: ["pros"]})
        self.assertEqual(status, 400, body)
        self.assertIn("has id %s, but it is a segment of users" % self.pros["id"],
                      body["error"])

        update = {"plugin": "webhook", "name": "demo-hook",
                  "settings": {"url": self.recorder.url + "/hook"}, ACCOUNT_WHITELIST: ["big"]}
        status, body = self.service.put("/api/v1/connectors/" + self.hook["id"], update)
        self.assertEqual(status, 400, body)
        self.assertIn('segment "big" has id ' + self.big["id"], body["error"])

        update[ACCOUNT_WHITELIST] = [self.big["id"]]
        status, body = self.service.put("/api/v1/connectors/" + self.hook["id"], update)
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
