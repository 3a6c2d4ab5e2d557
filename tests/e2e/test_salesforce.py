"""End-to-end tests of the bundled salesforce plugin against a fake org.

Each test starts a FakeSalesforce on 127.0.0.1 and a real wharfd with only
salesforce.so in its plugins dir, writes users through the Segment ingest
API, and drives a salesforce connector whose login_url points at the fake:
manual batches, automatic sync, failures the fake is switched into, and
settings that are wrong. Delivered sets are compared with what each test
computes from the users it wrote.
"""

import collections
import json

import harness
from data_client import WRITE_KEY
from fake_salesforce import (CLIENT_ID, CLIENT_SECRET, PASSWORD, SECURITY_TOKEN, USERNAME,
                             FakeSalesforce)
from sync_client import USER_WHITELIST, SyncTestCase

PLUGIN = "salesforce"
SECRETS = (CLIENT_SECRET, PASSWORD, SECURITY_TOKEN)
UPSERT_PATH = "/services/data/v60.0/composite/sobjects/%s/Wharf_External_Id__c"

PLANS = {"pro": 5, "team": 4, "free": 3}


def plan_query(plan):
    return {"attribute": "plan", "op": "eq", "value": plan}


def external_ids(plan):
    return ["%s-%d" % (plan, index) for index in range(PLANS[plan])]


class SalesforceTestCase(SyncTestCase):
    """A FakeSalesforce and wharfd with the salesforce plugin and the write key.

    Every API response and wharfd's stderr are checked for the secrets.
    """

    def setUp(self):
        self.fake = FakeSalesforce().start()
        self.addCleanup(self.fake.shutdown)
        plugins_dir = harness.make_plugins_dir(self, bundled=[PLUGIN])
        self.service = self.start_wharfd(plugins_dir=plugins_dir,
                                         args=["--write-key", WRITE_KEY, "--log-level", "debug"])
        self.addCleanup(self.assert_no_secret_in_stderr)

    def assert_no_secret_in_stderr(self):
        text = self.service.stderr_text()
        for secret in SECRETS:
            self.assertNotIn(secret, text, "a secret setting appeared on wharfd's stderr")

    def assert_no_secret_in(self, body):
        text = json.dumps(body)
        for secret in SECRETS:
            self.assertNotIn(secret, text, "the API returned a secret setting: %s" % text)

    def settings(self, **overrides):
        values = {"login_url": self.fake.url, "client_id": CLIENT_ID,
                  "client_secret": CLIENT_SECRET, "username": USERNAME,
                  "password": PASSWORD, "security_token": SECURITY_TOKEN}
        values.update(overrides)
        return {name: value for name, value in values.items() if value is not None}

    def create_salesforce(self, user_segments=(), account_segments=(), name="crm",
                          **overrides):
        connector = self.create_connector(PLUGIN, name, self.settings(**overrides),
                                          user_segments, account_segments)
        self.assert_no_secret_in(connector)
        return connector

    def create_rejected(self, **overrides):
        """POST a connector that must be rejected; return the error text."""
        status, body = self.service.create_connector(PLUGIN, "bad", self.settings(**overrides))
        self.assertEqual(status, 400, body)
        self.assert_no_secret_in(body)
        return body["error"]

    def write_plan_users(self, extra_traits=None):
        """Users pro-0..4, team-0..3, free-0..2 with plan, names and emails."""
        messages = []
        for plan, count in PLANS.items():
            for index in range(count):
                external_id = "%s-%d" % (plan, index)
                traits = {"plan": plan, "first_name": "Ünal", "last_name": "Test %s" % external_id,
                          "email": "%s@example.test" % external_id}
                traits.update((extra_traits or {}).get(external_id, {}))
                messages.append({"type": "identify", "userId": external_id, "traits": traits})
        self.send(messages)

    def run_batch(self, connector_id, body, state="done"):
        status, view = self.start_batch(connector_id, body)
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual(view["state"], state, view)
        return view

    def user_ids(self, keys):
        return {self.user(key)["id"] for key in keys}

    def line_user_ids(self, connector_id, message, **filters):
        return {line["user_id"] for line in self.all_logs(connector_id, message=message,
                                                          **filters)}

    def run_test_message(self, connector_id):
        status, body = self.service.post("/api/v1/connectors/%s/test" % connector_id,
                                         timeout=30)
        self.assertEqual(status, 200, body)
        self.assert_no_secret_in(body)
        self.assertEqual(len(body["results"]), 1, body)
        return body["results"][0]


class PlanUsersTestCase(SalesforceTestCase):
    """The plan users and the ready segments Pro, Team, Free and Paying."""

    def setUp(self):
        super().setUp()
        self.write_plan_users(self.extra_traits())
        self.pro = self.create_segment("Pro", plan_query("pro"))
        self.team = self.create_segment("Team", plan_query("team"))
        self.free = self.create_segment("Free", plan_query("free"))
        self.paying = self.create_segment("Paying", {"attribute": "plan", "op": "in",
                                                     "value": ["pro", "team"]})
        self.assertEqual(self.paying["size"], PLANS["pro"] + PLANS["team"])

    def extra_traits(self):
        return {}


class PluginSchemaTest(SalesforceTestCase):

    def test_schema_requires_whitelist(self):
        plugins = {plugin["name"]: plugin for plugin in self.service.plugins()["plugins"]}
        plugin = plugins[PLUGIN]
        self.assertEqual(plugin["batch_policy"], "requires_whitelist")
        self.assertEqual(sorted(plugin["entity_types"]), ["accounts", "users"])
        secret = {setting["name"] for setting in plugin["settings"] if setting["secret"]}
        self.assertEqual(secret, {"client_secret", "password", "security_token"})
        required = {setting["name"] for setting in plugin["settings"] if setting["required"]}
        self.assertEqual(required, {"client_id", "client_secret"})

    def test_secrets_hidden_in_views(self):
        connector = self.create_salesforce()
        self.assertEqual(sorted(connector["secret_settings"]),
                         ["client_secret", "password", "security_token"])
        for name in ("client_secret", "password", "security_token"):
            self.assertNotIn(name, connector["settings"])
        self.assertEqual(connector["settings"]["login_url"], self.fake.url)
        status, fetched = self.service.get("/api/v1/connectors/" + connector["id"])
        self.assertEqual(status, 200, fetched)
        self.assert_no_secret_in(fetched)


class ManualBatchTest(PlanUsersTestCase):

    def test_segment_upserted_as_contacts(self):
        connector = self.create_salesforce(
            user_segments=[self.pro["id"]], contact_segments=[self.pro["id"]],
            contact_mapping={"first_name": "FirstName", "last_name": "LastName",
                             "plan": "Plan__c"})

        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]})

        self.assertEqual((view["total"], view["sent"], view["skipped"], view["failed"]),
                         (PLANS["pro"], PLANS["pro"], 0, 0), view)
        contacts = self.fake.stored("Contact")
        self.assertEqual(set(contacts), set(external_ids("pro")))
        for key, record in contacts.items():
            self.assertEqual(record["Email"], "%s@example.test" % key)
            self.assertEqual(record["FirstName"], "Ünal")
            self.assertEqual(record["LastName"], "Test %s" % key)
            self.assertEqual(record["Plan__c"], "pro")
        self.assertEqual(self.fake.stored("Lead"), {})
        self.assertEqual(self.line_user_ids(connector["id"], "outgoing.user.success",
                                            batch_id=view["id"]),
                         self.user_ids(external_ids("pro")))

        token_requests = self.fake.token_requests()
        self.assertEqual(len(token_requests), 1, token_requests)
        self.assertEqual(token_requests[0].form(), {
            "grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "username": USERNAME, "password": PASSWORD + SECURITY_TOKEN})
        upserts = self.fake.upsert_requests()
        self.assertEqual(len(upserts), 1, upserts)
        self.assertEqual(upserts[0].path, UPSERT_PATH % "Contact")
        self.assertEqual(upserts[0].headers["Authorization"], "Bearer 00DFAKE!session-1")
        body = upserts[0].json()
        self.assertIs(body["allOrNone"], False)
        self.assertEqual(sorted(record["Wharf_External_Id__c"] for record in body["records"]),
                         sorted(external_ids("pro")))
        for record in body["records"]:
            self.assertEqual(record["attributes"], {"type": "Contact"})

    def test_both_lists_make_lead(self):
        self.send([{"type": "group", "userId": key, "groupId": "acme",
                    "traits": {"name": "Acme Société"}} for key in external_ids("team")])
        connector = self.create_salesforce(
            user_segments=[self.paying["id"]], contact_segments=[self.paying["id"]],
            lead_segments=[self.team["id"]])

        view = self.run_batch(connector["id"], {"segment_id": self.paying["id"]})

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] + PLANS["team"], 0), view)
        self.assertEqual(set(self.fake.stored("Contact")), set(external_ids("pro")))
        leads = self.fake.stored("Lead")
        self.assertEqual(set(leads), set(external_ids("team")))
        for record in leads.values():
            self.assertEqual(record["Company"], "Acme Société")
        paths = collections.Counter(request.path for request in self.fake.upsert_requests())
        self.assertEqual(paths, collections.Counter({UPSERT_PATH % "Contact": 1,
                                                     UPSERT_PATH % "Lead": 1}))

    def test_segment_not_whitelisted_rejected(self):
        connector = self.create_salesforce(user_segments=[self.team["id"]],
                                           contact_segments=[self.pro["id"]])

        status, view = self.start_batch(connector["id"], {"segment_id": self.pro["id"]})

        self.assertEqual(status, 409, view)
        self.assertEqual(view["state"], "rejected", view)
        self.assertIn(USER_WHITELIST, view["error"])
        self.assertEqual(self.fake.upsert_requests(), [])

    def test_user_in_neither_list_skipped(self):
        connector = self.create_salesforce(user_segments=[self.free["id"]],
                                           contact_segments=[self.pro["id"]],
                                           lead_segments=[self.team["id"]])

        view = self.run_batch(connector["id"], {"segment_id": self.free["id"]})

        self.assertEqual((view["total"], view["sent"], view["skipped"]),
                         (PLANS["free"], 0, PLANS["free"]), view)
        lines = self.all_logs(connector["id"], batch_id=view["id"],
                              message="outgoing.user.skip")
        self.assertEqual({line["user_id"] for line in lines}, self.user_ids(external_ids("free")))
        for line in lines:
            self.assertIn("contact_segments", line["data"]["reason"])
            self.assertIn("lead_segments", line["data"]["reason"])
        self.assertEqual(self.fake.token_requests(), [])

    def test_client_credentials_flow(self):
        connector = self.create_salesforce(user_segments=[self.pro["id"]],
                                           contact_segments=["ALL"],
                                           auth_flow="client_credentials", username=None,
                                           password=None, security_token=None)

        self.run_batch(connector["id"], {"user_id": self.user("pro-3")["id"]})

        self.assertEqual(set(self.fake.stored("Contact")), {"pro-3"})
        self.assertEqual(self.fake.token_requests()[0].form(), {
            "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET})

    def test_more_than_200_split(self):
        self.send([{"type": "identify", "userId": "bulk-%03d" % index,
                    "traits": {"plan": "bulk", "last_name": "Bulk %d" % index}}
                   for index in range(450)])
        bulk = self.create_segment("Bulk", plan_query("bulk"))
        connector = self.create_salesforce(user_segments=[bulk["id"]],
                                           contact_segments=[bulk["id"]])

        view = self.run_batch(connector["id"], {"segment_id": bulk["id"]})

        self.assertEqual((view["sent"], view["failed"]), (450, 0), view)
        self.assertEqual(set(self.fake.stored("Contact")),
                         {"bulk-%03d" % index for index in range(450)})
        sizes = [len(request.json()["records"]) for request in self.fake.upsert_requests()]
        self.assertEqual(sum(sizes), 450, sizes)
        self.assertLessEqual(max(sizes), 200, sizes)


class AutomaticSyncTest(PlanUsersTestCase):

    def test_change_updates_contact(self):
        connector = self.create_salesforce(user_segments=["ALL"],
                                           contact_segments=[self.pro["id"]],
                                           lead_segments=[self.team["id"]])
        self.run_batch(connector["id"], {"segment_id": self.pro["id"]})
        self.assertEqual(self.fake.stored("Contact")["pro-2"]["FirstName"], "Ünal")

        self.identify("pro-2", {"first_name": "Ada"})
        self.identify("free-1", {"first_name": "Grace"})

        self.fake.wait_for(lambda: self.fake.records["Contact"]["pro-2"].get("FirstName") == "Ada",
                           "the automatic update of pro-2", timeout=harness.scaled(20))
        self.assertEqual(set(self.fake.stored("Contact")), set(external_ids("pro")))

        free = self.user("free-1")
        lines = self.wait_log_count(connector["id"], "outgoing.user.skip", 1, user_id=free["id"])
        self.assertIn("contact_segments", lines[-1]["data"]["reason"])
        self.assertIn("lead_segments", lines[-1]["data"]["reason"])
        self.assertNotIn("free-1", self.fake.stored("Contact"))
        self.assertNotIn("free-1", self.fake.stored("Lead"))

    def test_connection_test_upserts_sample(self):
        connector = self.create_salesforce(contact_segments=[self.pro["id"]])

        result = self.run_test_message(connector["id"])

        self.assertEqual(result["result"], "success", result)
        self.assertEqual(set(self.fake.stored("Contact")), {"wharf-test-user"})
        self.assertEqual(self.fake.stored("Contact")["wharf-test-user"]["LastName"], "Test")


class AccountTest(SalesforceTestCase):

    def test_account_segment_upserted(self):
        self.send([{"type": "group", "userId": "u-%s" % key, "groupId": key,
                    "traits": {"name": name, "seats": seats}}
                   for key, name, seats in (("acme", "Acme Société", 150),
                                            ("globex", "Globex", 400),
                                            ("tiny", "Tiny", 3))])
        big = self.create_segment("Big accounts", {"attribute": "seats", "op": "gte",
                                                   "value": 100}, entity_type="accounts")
        connector = self.create_salesforce(
            account_segments=[big["id"]],
            account_mapping={"name": "Name", "seats": "NumberOfEmployees"})

        view = self.run_batch(connector["id"], {"segment_id": big["id"]})

        self.assertEqual((view["sent"], view["failed"]), (2, 0), view)
        accounts = self.fake.stored("Account")
        self.assertEqual(set(accounts), {"acme", "globex"})
        self.assertEqual((accounts["acme"]["Name"], accounts["acme"]["NumberOfEmployees"]),
                         ("Acme Société", 150))
        self.assertEqual(self.fake.upsert_requests()[0].path, UPSERT_PATH % "Account")


class PartialFailureTest(PlanUsersTestCase):

    def extra_traits(self):
        return {"pro-1": {"email": "not-an-email"}}

    def test_record_errors_fail_only_themselves(self):
        self.fake.fail_record("pro-3", "DUPLICATE_VALUE",
                              "duplicate value found: Wharf_External_Id__c", ["Email"])
        connector = self.create_salesforce(user_segments=[self.pro["id"]],
                                           contact_segments=[self.pro["id"]])

        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]})

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] - 2, 2), view)
        self.assertEqual(set(self.fake.stored("Contact")), {"pro-0", "pro-2", "pro-4"})
        errors = {line["user_id"]: line["data"] for line in
                  self.all_logs(connector["id"], batch_id=view["id"],
                                message="outgoing.user.error")}
        self.assertEqual(set(errors), self.user_ids(["pro-1", "pro-3"]))
        invalid_email = errors[self.user("pro-1")["id"]]
        self.assertIn("INVALID_EMAIL_ADDRESS", invalid_email["reason"])
        self.assertIn("not-an-email", invalid_email["reason"])
        duplicate = errors[self.user("pro-3")["id"]]
        self.assertIn("DUPLICATE_VALUE", duplicate["reason"])
        self.assertIn("duplicate value found", duplicate["reason"])
        self.assertEqual(len(self.fake.upsert_requests()), 1)


class MappingErrorTest(PlanUsersTestCase):
    """Mappings that name a missing field, and values of the wrong type or size."""

    def extra_traits(self):
        return {"pro-0": {"score": "high", "nickname": "N" * 21, "bio_note": "x"},
                "pro-1": {"score": 7.5, "nickname": "Ünal the twentieth!!"},
                "pro-2": {"score": 12, "signup": "yesterday"},
                "pro-3": {"signup": "2024-05-01"},
                "pro-4": {"is_customer": "yes"}}

    def batch_errors(self, mapping):
        connector = self.create_salesforce(user_segments=[self.pro["id"]],
                                           contact_segments=[self.pro["id"]],
                                           contact_mapping=mapping)
        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]})
        errors = {line["user_id"]: line["data"]["reason"] for line in
                  self.all_logs(connector["id"], batch_id=view["id"],
                                message="outgoing.user.error")}
        return view, errors

    def test_missing_field_fails_its_users(self):
        view, errors = self.batch_errors({"last_name": "LastName", "bio_note": "Bio_Note__c"})

        self.assertEqual((view["sent"], view["failed"]), (4, 1), view)
        self.assertEqual(set(errors), self.user_ids(["pro-0"]))
        reason = errors[self.user("pro-0")["id"]]
        self.assertIn("contact_mapping", reason)
        self.assertIn("Bio_Note__c", reason)
        self.assertEqual(set(self.fake.stored("Contact")), {"pro-1", "pro-2", "pro-3", "pro-4"})

    def test_wrong_types_fail_their_users(self):
        view, errors = self.batch_errors({"last_name": "LastName", "score": "Score__c",
                                          "signup": "Signup_Date__c",
                                          "is_customer": "Is_Customer__c"})

        self.assertEqual((view["sent"], view["failed"]), (2, 3), view)
        self.assertEqual(set(errors), self.user_ids(["pro-0", "pro-2", "pro-4"]))
        self.assertIn("Score__c", errors[self.user("pro-0")["id"]])
        self.assertIn("a number", errors[self.user("pro-0")["id"]])
        self.assertIn("Signup_Date__c", errors[self.user("pro-2")["id"]])
        self.assertIn("Is_Customer__c", errors[self.user("pro-4")["id"]])
        contacts = self.fake.stored("Contact")
        self.assertEqual(set(contacts), {"pro-1", "pro-3"})
        self.assertEqual(contacts["pro-1"]["Score__c"], 7.5)
        self.assertEqual(contacts["pro-3"]["Signup_Date__c"], "2024-05-01")

    def test_oversize_value_fails_its_user(self):
        view, errors = self.batch_errors({"last_name": "LastName", "nickname": "Nickname__c"})

        self.assertEqual((view["sent"], view["failed"]), (4, 1), view)
        self.assertEqual(set(errors), self.user_ids(["pro-0"]))
        reason = errors[self.user("pro-0")["id"]]
        self.assertIn("21 characters", reason)
        self.assertIn("at most 20", reason)
        # 20 characters with a two-byte "Ü" fits: the limit counts characters.
        self.assertEqual(self.fake.stored("Contact")["pro-1"]["Nickname__c"],
                         "Ünal the twentieth!!")

    def test_external_id_field_missing(self):
        connector = self.create_salesforce(user_segments=[self.pro["id"]],
                                           contact_segments=[self.pro["id"]],
                                           contact_external_id_field="Crm_Key__c")
        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]}, state="failed")

        self.assertEqual((view["sent"], view["failed"]), (0, PLANS["pro"]), view)
        lines = self.all_logs(connector["id"], batch_id=view["id"], message="outgoing.user.error")
        self.assertEqual(len(lines), PLANS["pro"], lines)
        for line in lines:
            self.assertIn("contact_external_id_field", line["data"]["reason"])
            self.assertIn("Crm_Key__c", line["data"]["reason"])
        self.assertEqual(self.fake.upsert_requests(), [])


class TransientFailureTest(PlanUsersTestCase):

    def create_pro_connector(self):
        return self.create_salesforce(user_segments=[self.pro["id"]],
                                      contact_segments=[self.pro["id"]])

    def assert_retried_then_delivered(self, connector, view, status_code, code):
        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"], 0), view)
        # The connection test before the batch may have stored its sample user.
        self.assertEqual(set(self.fake.stored("Contact")) - {"wharf-test-user"},
                         set(external_ids("pro")))
        retries = self.all_logs(connector["id"], batch_id=view["id"],
                                message="outgoing.user.retry")
        self.assertEqual({line["user_id"] for line in retries},
                         self.user_ids(external_ids("pro")))
        for line in retries:
            self.assertEqual(line["data"]["status_code"], status_code, line)
            self.assertIn(code, line["data"]["reason"])

    def test_rate_limit_retried(self):
        connector = self.create_pro_connector()
        self.run_test_message(connector["id"])  # caches the describe
        self.fake.rate_limit(1, retry_after=1)

        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]})

        self.assert_retried_then_delivered(connector, view, 403, "REQUEST_LIMIT_EXCEEDED")
        retries = self.all_logs(connector["id"], batch_id=view["id"],
                                message="outgoing.user.retry")
        for line in retries:
            self.assertEqual(line["data"]["retry_in_ms"], 1000, line)

    def test_server_error_retried(self):
        connector = self.create_pro_connector()
        self.fake.server_errors(1, status=503, retry_after=1)

        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]})

        self.assert_retried_then_delivered(connector, view, 503, "SERVER_UNAVAILABLE")

    def test_expired_session_renewed(self):
        connector = self.create_pro_connector()
        self.run_batch(connector["id"], {"user_id": self.user("pro-0")["id"]})
        self.assertEqual(len(self.fake.token_requests()), 1)
        self.fake.expire_sessions()

        view = self.run_batch(connector["id"], {"segment_id": self.pro["id"]})

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"], 0), view)
        self.assertEqual(self.all_logs(connector["id"], batch_id=view["id"],
                                       message="outgoing.user.retry"), [])
        self.assertEqual(len(self.fake.token_requests()), 2)
        upserts = self.fake.upsert_requests()
        self.assertEqual([request.headers["Authorization"] for request in upserts],
                         ["Bearer 00DFAKE!session-1", "Bearer 00DFAKE!session-1",
                          "Bearer 00DFAKE!session-2"])
        self.assertEqual(upserts[1].body, upserts[2].body)
        self.assertEqual(set(self.fake.stored("Contact")), set(external_ids("pro")))


class CredentialsTest(PlanUsersTestCase):

    def assert_login_error(self, connector, settings_named):
        result = self.run_test_message(connector["id"])
        self.assertEqual(result["result"], "error", result)
        self.assertIn("login failed", result["reason"])
        for setting in settings_named:
            self.assertIn('"%s"' % setting, result["reason"])

        user = self.user("pro-2")
        view = self.run_batch(connector["id"], {"user_id": user["id"]}, state="failed")
        self.assertEqual((view["sent"], view["failed"]), (0, 1), view)
        lines = self.all_logs(connector["id"], batch_id=view["id"], message="outgoing.user.error")
        self.assertEqual([line["user_id"] for line in lines], [user["id"]])
        for setting in settings_named:
            self.assertIn('"%s"' % setting, lines[0]["data"]["reason"])
        self.assertEqual(self.fake.upsert_requests(), [])
        return result

    def test_wrong_password_names_settings(self):
        connector = self.create_salesforce(user_segments=["ALL"], contact_segments=["ALL"],
                                           password="wrong-password")
        result = self.assert_login_error(connector, ["username", "password", "security_token"])
        self.assertIn("invalid_grant", result["reason"])

    def test_wrong_client_secret_names_settings(self):
        connector = self.create_salesforce(user_segments=["ALL"], contact_segments=["ALL"],
                                           client_secret="not-the-secret")
        result = self.assert_login_error(connector, ["client_id", "client_secret"])
        self.assertIn("invalid_client", result["reason"])

    def test_missing_credentials_rejected(self):
        error = self.create_rejected(client_secret=None)
        self.assertIn("client_secret", error)
        error = self.create_rejected(password=None)
        self.assertIn('"password"', error)
        error = self.create_rejected(username="")
        self.assertIn('"username"', error)
        status, listed = self.service.get("/api/v1/connectors")
        self.assertEqual((status, listed["connectors"]), (200, []))


class SettingsTest(SalesforceTestCase):

    def test_invalid_settings_rejected(self):
        cases = [
            ({"login_url": "ftp://login.example.test"}, "login_url"),
            ({"login_url": "https://"}, "login_url"),
            ({"auth_flow": "jwt"}, "auth_flow"),
            ({"api_version": "45.0"}, "api_version"),
            ({"api_version": "latest"}, "api_version"),
            ({"contact_mapping": {"plan": "Plan c"}}, "contact_mapping"),
            ({"lead_mapping": {"x": "Wharf_External_Id__c"}}, "lead_mapping"),
            ({"account_external_id_field": "1bad"}, "account_external_id_field"),
            ({"contact_segments": [""]}, "contact_segments"),
            ({"timeout_ms": 0}, "timeout_ms"),
        ]
        for overrides, setting in cases:
            with self.subTest(setting=setting, overrides=overrides):
                error = self.create_rejected(**overrides)
                self.assertIn('"%s"' % setting, error)
