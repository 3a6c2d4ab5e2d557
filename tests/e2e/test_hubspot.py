"""End-to-end tests of the bundled hubspot plugin through the real wharfd.

Each test starts a fake HubSpot API (fake_hubspot.py) on 127.0.0.1 and
wharfd with hubspot.so only, writes users and accounts through the Segment
and native APIs, and points a hubspot connector at the fake with base_url.
Every test compares the contacts and companies the fake stored, and the
results in the connector's log, with sets it computes from what it wrote.
"""

import collections
import math
import unittest

import harness
from data_client import WRITE_KEY, post_user
from fake_hubspot import FakeHubSpot
from sync_client import SyncTestCase

HUBSPOT_PLUGIN = "hubspot"
TOKEN = "pat-na1-11111111-2222-3333-4444-SECRET"
NEW_TOKEN = "pat-na1-55555555-6666-7777-8888-SECRET"
PLANS = {"pro": 6, "free": 4}
CONTACT_MAPPING = {"firstname": "first_name", "age": "age"}


def plan_query(plan):
    return {"attribute": "plan", "op": "eq", "value": plan}


def email_of(external_id):
    return "%s@example.com" % external_id


class HubSpotTestCase(SyncTestCase):
    """wharfd with the hubspot plugin, a fake HubSpot, users pro-0..5 and free-0..3 with
    emails, user nomail-0 in Pro without one, and the ready segment Pro."""

    def setUp(self):
        self.hubspot = FakeHubSpot(TOKEN).start()
        self.addCleanup(self.hubspot.shutdown)
        plugins_dir = harness.make_plugins_dir(self, bundled=[HUBSPOT_PLUGIN])
        self.service = self.start_wharfd(plugins_dir=plugins_dir,
                                         args=["--write-key", WRITE_KEY, "--log-level", "debug"])
        self.addCleanup(self.assert_no_token_in_stderr)
        users = [{"type": "identify", "userId": "%s-%d" % (plan, index),
                  "traits": {"plan": plan, "email": email_of("%s-%d" % (plan, index)),
                             "first_name": "Ünal %d" % index, "age": 30 + index}}
                 for plan, count in PLANS.items() for index in range(count)]
        users.append({"type": "identify", "userId": "nomail-0", "traits": {"plan": "pro"}})
        self.send(users)
        self.pro = self.create_segment("Pro", plan_query("pro"))

    def assert_no_token_in_stderr(self):
        text = self.service.stderr_text()
        for secret in (TOKEN, NEW_TOKEN):
            self.assertNotIn(secret, text, "the access token appeared on wharfd's stderr")

    def pro_emails(self):
        return {email_of("pro-%d" % index) for index in range(PLANS["pro"])}

    def create_hubspot(self, name="crm", user_segments=(), account_segments=(),
                       contact_properties=None, **settings):
        values = {"access_token": TOKEN, "base_url": self.hubspot.url,
                  "contact_properties": CONTACT_MAPPING if contact_properties is None
                  else contact_properties}
        values.update(settings)
        return self.create_connector(HUBSPOT_PLUGIN, name, values, user_segments=user_segments,
                                     account_segments=account_segments)

    def send_segment(self, connector_id, segment_id, expected_state="done"):
        status, view = self.start_batch(connector_id, {"segment_id": segment_id})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual(view["state"], expected_state, view)
        return view

    def run_test_message(self, connector_id):
        status, body = self.service.post("/api/v1/connectors/%s/test" % connector_id)
        self.assertEqual(status, 200, body)
        self.assertNotIn(TOKEN, str(body))
        self.assertEqual(len(body["results"]), 1, body)
        return body["results"][0]

    def log_by_external_id(self, connector_id, message, batch_id=None):
        lines = self.all_logs(connector_id, message=message, batch_id=batch_id)
        return {line["claims"]["external_id"]: line for line in lines}


class HubSpotDeliveryTest(HubSpotTestCase):

    def test_schema_and_secret(self):
        plugins = {plugin["name"]: plugin for plugin in self.service.plugins()["plugins"]}
        plugin = plugins[HUBSPOT_PLUGIN]
        self.assertEqual(plugin["batch_policy"], "ignores_whitelist")
        self.assertEqual(sorted(plugin["entity_types"]), ["accounts", "users"])
        settings = {setting["name"]: setting for setting in plugin["settings"]}
        self.assertTrue(settings["access_token"]["secret"])
        self.assertTrue(settings["access_token"]["required"])

        connector = self.create_hubspot()
        self.assertEqual(connector["secret_settings"], ["access_token"])
        self.assertNotIn("access_token", connector["settings"])
        self.assertEqual(connector["settings"]["batch_size"], 100)
        status, fetched = self.service.get("/api/v1/connectors/" + connector["id"])
        self.assertEqual(status, 200)
        self.assertNotIn(TOKEN, str(fetched))

    def test_manual_batch_upserts_contacts(self):
        connector = self.create_hubspot(user_segments=[])

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["total"], view["sent"], view["skipped"], view["failed"]),
                         (PLANS["pro"] + 1, PLANS["pro"], 1, 0), view)
        self.assertEqual(self.hubspot.contact_ids(), self.pro_emails())
        contact = self.hubspot.contact(email_of("pro-3"))
        self.assertEqual(contact["properties"], {"firstname": "Ünal 3", "age": "33",
                                                 "email": email_of("pro-3")})
        upsert, = self.hubspot.upsert_requests("contacts")
        self.assertEqual({entry["idProperty"] for entry in upsert.inputs}, {"email"})
        self.assertEqual(set(self.hubspot.authorizations), {"Bearer " + TOKEN})
        self.assertEqual(self.hubspot.property_reads, ["contacts"])

        skip, = self.all_logs(connector["id"], message="outgoing.user.skip",
                              batch_id=view["id"])
        self.assertEqual(skip["claims"]["external_id"], "nomail-0")
        self.assertIn("no email", skip["data"]["reason"])

    def test_requests_hold_at_most_batch_size(self):
        self.send([{"type": "identify", "userId": "bulk-%d" % index,
                    "traits": {"plan": "bulk", "email": email_of("bulk-%d" % index)}}
                   for index in range(150)])
        bulk = self.create_segment("Bulk", plan_query("bulk"))
        default = self.create_hubspot(name="default")
        small = self.create_hubspot(name="small", batch_size=40)

        self.send_segment(default["id"], bulk["id"])
        sizes = sorted(len(upsert.inputs) for upsert in self.hubspot.upsert_requests())
        self.assertEqual(sizes, [50, 100])
        self.send_segment(small["id"], bulk["id"])

        sizes = [len(upsert.inputs) for upsert in self.hubspot.upsert_requests()[2:]]
        self.assertEqual(len(sizes), math.ceil(150 / 40), sizes)
        self.assertTrue(all(size <= 40 for size in sizes), sizes)
        self.assertEqual(self.hubspot.contact_ids(),
                         {email_of("bulk-%d" % index) for index in range(150)})

    def test_automatic_update_upserts_changed_contact(self):
        connector = self.create_hubspot(user_segments=[self.pro["id"]])

        self.identify("pro-1", {"first_name": "Ada"})
        self.identify("free-1", {"first_name": "Bob"})
        self.settle(connector["id"], user_id=self.user("pro-2")["id"])

        self.assertEqual(self.hubspot.contact_ids(), {email_of("pro-1"), email_of("pro-2")})
        self.assertEqual(self.hubspot.contact(email_of("pro-1"))["properties"]["firstname"], "Ada")
        skips = self.log_by_external_id(connector["id"], "outgoing.user.skip")
        self.assertEqual(set(skips), {"free-1"})

    def test_companies_upserted_by_domain(self):
        self.send([{"type": "group", "userId": "pro-%d" % index, "groupId": "acct-%d" % index,
                    "traits": {"domain": "acct-%d.example" % index, "name": "Firm %d" % index,
                               "tier": "gold"}} for index in range(3)]
                  + [{"type": "group", "userId": "free-0", "groupId": "nodomain",
                      "traits": {"name": "No domain", "tier": "gold"}}])
        gold = self.create_segment("Gold", {"attribute": "tier", "op": "eq", "value": "gold"},
                                   entity_type="accounts")
        connector = self.create_hubspot(company_properties={"name": "name"})

        view = self.send_segment(connector["id"], gold["id"])

        self.assertEqual((view["total"], view["sent"], view["skipped"]), (4, 3, 1), view)
        self.assertEqual(self.hubspot.company_ids(),
                         {"acct-%d.example" % index for index in range(3)})
        company = self.hubspot.company("acct-1.example")
        self.assertEqual(company["properties"]["name"], "Firm 1")
        upsert, = self.hubspot.upsert_requests("companies")
        self.assertEqual({entry["idProperty"] for entry in upsert.inputs}, {"domain"})
        skip, = self.all_logs(connector["id"], message="outgoing.account.skip",
                              batch_id=view["id"])
        self.assertEqual(skip["claims"]["external_id"], "nodomain")
        self.assertIn("no domain", skip["data"]["reason"])


class HubSpotFailureTest(HubSpotTestCase):

    def test_rejected_record_whole_request_400(self):
        self.hubspot.reject_id(email_of("pro-2"))
        connector = self.create_hubspot()

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["sent"], view["failed"], view["skipped"]),
                         (PLANS["pro"] - 1, 1, 1), view)
        self.assertEqual(self.hubspot.contact_ids(), self.pro_emails() - {email_of("pro-2")})
        errors = self.log_by_external_id(connector["id"], "outgoing.user.error", view["id"])
        self.assertEqual(set(errors), {"pro-2"})
        self.assertIn("INVALID_EMAIL", errors["pro-2"]["data"]["reason"])
        self.assertEqual(errors["pro-2"]["data"]["status_code"], 400)
        retries = self.log_by_external_id(connector["id"], "outgoing.user.retry", view["id"])
        self.assertEqual(set(retries), {"pro-%d" % i for i in range(PLANS["pro"]) if i != 2})
        # wharfd may split the retried messages over several requests.
        upserts = self.hubspot.upsert_requests()
        self.assertEqual([upsert.status for upsert in upserts],
                         [400] + [200] * (len(upserts) - 1))
        self.assertEqual(collections.Counter(email for upsert in upserts[1:]
                                             for email in upsert.ids),
                         collections.Counter(self.pro_emails() - {email_of("pro-2")}))

    def test_rejected_record_multi_status(self):
        self.hubspot.multi_status = True
        self.hubspot.reject_id(email_of("pro-4"), code="INVALID_EMAIL")
        connector = self.create_hubspot()

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] - 1, 1), view)
        self.assertEqual(self.hubspot.contact_ids(), self.pro_emails() - {email_of("pro-4")})
        errors = self.log_by_external_id(connector["id"], "outgoing.user.error", view["id"])
        self.assertEqual(set(errors), {"pro-4"})
        self.assertIn("VALIDATION_ERROR", errors["pro-4"]["data"]["reason"])
        self.assertEqual(self.log_by_external_id(connector["id"], "outgoing.user.retry"), {})
        self.assertEqual([upsert.status for upsert in self.hubspot.upsert_requests()], [207])

    def test_rate_limit_retry_after_header(self):
        connector = self.create_hubspot()
        self.hubspot.rate_limit_next(1, policy="SECONDLY", retry_after=1)

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual(view["sent"], PLANS["pro"], view)
        self.assertEqual(self.hubspot.contact_ids(), self.pro_emails())
        retries = self.log_by_external_id(connector["id"], "outgoing.user.retry", view["id"])
        self.assertEqual(set(retries), {"pro-%d" % i for i in range(PLANS["pro"])})
        for line in retries.values():
            self.assertEqual(line["data"]["status_code"], 429, line)
            self.assertIn("rate limit", line["data"]["reason"])
            self.assertGreaterEqual(line["data"]["retry_in_ms"], 1000, line)

    def test_rate_limit_policy_without_header(self):
        connector = self.create_hubspot()
        self.hubspot.rate_limit_next(1, policy="SECONDLY")

        result = self.run_test_message(connector["id"])

        self.assertEqual(result["result"], "retry", result)
        self.assertEqual(result["status_code"], 429)
        self.assertEqual(result["retry_after_ms"], 1000)
        self.assertIn("SECONDLY", result["reason"])
        self.assertEqual(self.run_test_message(connector["id"])["result"], "success")

    def test_server_error_retried(self):
        connector = self.create_hubspot()
        self.hubspot.fail_next(502, body={"status": "error", "message": "Bad gateway"},
                               headers={"Retry-After": "1"})

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual(view["sent"], PLANS["pro"], view)
        upserts = self.hubspot.upsert_requests()
        self.assertEqual([upsert.status for upsert in upserts],
                         [502] + [200] * (len(upserts) - 1))
        self.assertEqual(collections.Counter(email for upsert in upserts[1:]
                                             for email in upsert.ids),
                         collections.Counter(self.pro_emails()))

    def test_token_expiry_then_new_token(self):
        connector = self.create_hubspot(user_segments=[self.pro["id"]])
        self.assertEqual(self.run_test_message(connector["id"])["result"], "success")
        self.hubspot.expire_token(TOKEN)

        result = self.run_test_message(connector["id"])
        self.assertEqual(result["result"], "error", result)
        self.assertEqual(result["status_code"], 401)
        self.assertIn("expired", result["reason"])
        self.assertIn('setting "access_token"', result["reason"])

        self.identify("pro-1", {"first_name": "Ada"})
        error = self.wait_log_count(connector["id"], "outgoing.user.error", 1)[0]
        self.assertEqual(error["claims"]["external_id"], "pro-1")
        self.assertIn('setting "access_token"', error["data"]["reason"])

        self.hubspot.add_token(NEW_TOKEN)
        body = {"plugin": HUBSPOT_PLUGIN, "name": "crm",
                "settings": {"access_token": NEW_TOKEN, "base_url": self.hubspot.url,
                             "contact_properties": CONTACT_MAPPING},
                "synchronized_user_segments": [self.pro["id"]]}
        status, updated = self.service.put("/api/v1/connectors/" + connector["id"], body)
        self.assertEqual(status, 200, updated)
        self.assertEqual(self.run_test_message(connector["id"])["result"], "success")
        self.identify("pro-1", {"first_name": "Ada Lovelace"})
        self.wait_log_count(connector["id"], "outgoing.user.success", 1,
                            user_id=self.user("pro-1")["id"])
        self.assertEqual(self.hubspot.contact(email_of("pro-1"))["properties"]["firstname"],
                         "Ada Lovelace")


class HubSpotBadInputTest(HubSpotTestCase):

    def test_missing_token_rejected(self):
        status, body = self.service.create_connector(
            HUBSPOT_PLUGIN, "crm", {"base_url": self.hubspot.url})
        self.assertEqual(status, 400, body)
        self.assertIn("access_token", body["error"])

    def test_token_with_line_break_rejected(self):
        status, body = self.service.create_connector(
            HUBSPOT_PLUGIN, "crm", {"access_token": TOKEN + "\r\nX: 1", "base_url": self.hubspot.url})
        self.assertEqual(status, 400, body)
        self.assertIn('setting "access_token"', body["error"])
        self.assertNotIn(TOKEN, body["error"])

    def test_bad_settings_rejected(self):
        cases = [({"base_url": "ftp://example.test"}, "base_url"),
                 ({"batch_size": 101}, "batch_size"),
                 ({"contact_properties": {"firstname": ""}}, "contact_properties")]
        for extra, setting in cases:
            with self.subTest(setting=setting):
                values = {"access_token": TOKEN, "base_url": self.hubspot.url}
                values.update(extra)
                status, body = self.service.create_connector(HUBSPOT_PLUGIN, "crm", values)
                self.assertEqual(status, 400, body)
                self.assertIn('"%s"' % setting, body["error"])

    def test_wrong_token(self):
        connector = self.create_hubspot(access_token="pat-na1-wrong")

        result = self.run_test_message(connector["id"])
        self.assertEqual((result["result"], result["status_code"]), ("error", 401), result)
        self.assertIn('setting "access_token"', result["reason"])

        # nomail-0 is skipped before any request, so not every message failed.
        view = self.send_segment(connector["id"], self.pro["id"])
        self.assertEqual((view["sent"], view["failed"], view["skipped"]),
                         (0, PLANS["pro"], 1), view)
        errors = self.log_by_external_id(connector["id"], "outgoing.user.error", view["id"])
        self.assertEqual(set(errors), {"pro-%d" % i for i in range(PLANS["pro"])})
        for line in errors.values():
            self.assertIn("rejected the access token", line["data"]["reason"])
        self.assertEqual(self.hubspot.contact_ids(), set())

    def test_mapping_to_missing_property(self):
        self.identify("pro-1", {"shoe_size": 44})
        self.identify("pro-3", {"shoe_size": 39})
        connector = self.create_hubspot(
            contact_properties={"firstname": "first_name", "shoe_size": "shoe_size"})

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] - 2, 2), view)
        self.assertEqual(self.hubspot.contact_ids(),
                         self.pro_emails() - {email_of("pro-1"), email_of("pro-3")})
        errors = self.log_by_external_id(connector["id"], "outgoing.user.error", view["id"])
        self.assertEqual(set(errors), {"pro-1", "pro-3"})
        for line in errors.values():
            self.assertIn('field "shoe_size", which does not exist', line["data"]["reason"])
        self.assertEqual([upsert.status for upsert in self.hubspot.upsert_requests()], [200])

    def test_value_of_wrong_type(self):
        self.identify("pro-0", {"age": "forty"})
        self.identify("pro-5", {"age": {"years": 40}})
        connector = self.create_hubspot()

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] - 2, 2), view)
        self.assertEqual(self.hubspot.contact_ids(),
                         self.pro_emails() - {email_of("pro-0"), email_of("pro-5")})
        errors = self.log_by_external_id(connector["id"], "outgoing.user.error", view["id"])
        self.assertIn('attribute "age" has the string value "forty"',
                      errors["pro-0"]["data"]["reason"])
        self.assertIn('field "age" is a number field', errors["pro-5"]["data"]["reason"])

    def test_oversize_value(self):
        post_user(self, self.service, {"claims": {"external_id": "pro-2"},
                                       "attributes": {"notes": "n" * 70000}})
        connector = self.create_hubspot(
            contact_properties={"firstname": "first_name", "notes": "notes"})

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] - 1, 1), view)
        self.assertEqual(self.hubspot.contact_ids(), self.pro_emails() - {email_of("pro-2")})
        error, = self.all_logs(connector["id"], message="outgoing.user.error",
                               batch_id=view["id"])
        self.assertEqual(error["claims"]["external_id"], "pro-2")
        self.assertIn("70000 bytes long", error["data"]["reason"])
        self.assertIn("at most 65536", error["data"]["reason"])

    def test_unreachable_base_url_retried(self):
        connector = self.create_hubspot(base_url="http://127.0.0.1:%d" % closed_port())

        result = self.run_test_message(connector["id"])

        self.assertEqual(result["result"], "retry", result)
        self.assertIn("transport error", result["reason"])


def closed_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    unittest.main()
