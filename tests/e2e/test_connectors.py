"""End-to-end tests of the connector API (/api/v1/connectors) with fixture plugins.

fixture-valid has the settings api_key (string, required, secret), region
(string, default "eu") and retries (integer). fixture-create-fails has the
same settings, but its create() always fails with an operator message.
"""

import json
import os
import unittest

import harness

VALID_PLUGIN = "fixture-valid"
CREATE_FAILS_PLUGIN = "fixture-create-fails"
CREATE_FAILS_MESSAGE = "api_key is not valid for this account"
VALID_SETTING_NAMES = ["api_key", "region", "retries"]

# A value that must never show up in an API response or on wharfd's stderr.
SECRET = "sk-live-7f3a9c-DO-NOT-LOG-51e2"
OTHER_SECRET = "sk-live-0b8d44-ALSO-SECRET-9a6c"

CONNECTORS_PATH = "/api/v1/connectors"

# wharfd responds to bad input at once, so a longer wait means it sent no response.
BAD_INPUT_TIMEOUT_SECONDS = 3

# wharfd loads a new plugin file within about a second of its size and mtime
# becoming stable. The rest of the wait leaves room for a slow machine.
PLUGIN_LOAD_SECONDS = 5


def connector_path(connector_id, suffix=""):
    return "%s/%s%s" % (CONNECTORS_PATH, connector_id, suffix)


class ConnectorApiTestCase(harness.ServiceTestCase):
    """Starts wharfd with fixture-valid and fixture-create-fails at debug level.

    Every response goes through call(), which fails the test when a secret
    appears in it. After each test the service must still respond to /healthz
    and its stderr must not contain a secret.
    """

    def setUp(self):
        self.plugins_dir = harness.make_plugins_dir(self, fixtures=["valid_1_0", "create_fails"])
        self.service = self.start_wharfd(plugins_dir=self.plugins_dir,
                                         args=["--log-level", "debug"])
        # Cleanups run last-in first-out, so these run while wharfd is still up.
        self.addCleanup(self.assert_no_secret_in_stderr)
        self.addCleanup(self.assert_healthy)

    # ---- checks run after every test ----------------------------------------

    def assert_healthy(self):
        status, body = self.service.get("/healthz")
        self.assertEqual(status, 200, "wharfd stopped answering /healthz: %r" % (body,))
        self.assertEqual(body, {"status": "ok"})

    def assert_no_secret_in_stderr(self):
        text = self.service.stderr_text()
        for secret in (SECRET, OTHER_SECRET):
            self.assertNotIn(secret, text, "a secret setting appeared on wharfd's stderr")

    def restart_service(self):
        """Restart wharfd on the same data dir, checking the stderr of the run that ends."""
        self.assert_no_secret_in_stderr()
        self.service.restart()

    # ---- requests -----------------------------------------------------------

    def call(self, method, path, body=None, timeout=10):
        """Send one request and return (status, parsed body), failing when the body contains a secret."""
        try:
            status, headers, response_body = self.service.request(method, path, body=body,
                                                                   timeout=timeout)
        except TimeoutError:
            raise self.failureException("%s %s with body %r got no response within %s s"
                                        % (method, path, body, harness.scaled(timeout))) from None
        if isinstance(response_body, bytes):
            text = response_body.decode("utf-8", errors="replace")
        else:
            text = json.dumps(response_body)
        for secret in (SECRET, OTHER_SECRET):
            self.assertNotIn(secret, text, "%s %s returned a secret setting: %s"
                             % (method, path, text))
        return status, response_body

    def create(self, name="crm", settings=None, plugin=VALID_PLUGIN, **fields):
        body = {"plugin": plugin, "name": name,
                "settings": {"api_key": SECRET} if settings is None else settings}
        body.update(fields)
        return self.call("POST", CONNECTORS_PATH, body)

    def create_ok(self, **kwargs):
        status, body = self.create(**kwargs)
        self.assertEqual(status, 201, body)
        return body

    def create_segment(self, name="segment a"):
        """A user segment for whitelists, which must name existing segments."""
        status, body = self.call("POST", "/api/v1/segments",
                                 {"name": name, "type": "users",
                                  "query": {"attribute": "plan", "op": "eq", "value": "pro"}})
        self.assertEqual(status, 201, body)
        return body["id"]

    def get_connector(self, connector_id):
        status, body = self.call("GET", connector_path(connector_id))
        self.assertEqual(status, 200, body)
        return body

    def list_connectors(self):
        status, body = self.call("GET", CONNECTORS_PATH)
        self.assertEqual(status, 200, body)
        self.assertIsInstance(body.get("connectors"), list, body)
        return body["connectors"]

    def run_test_message(self, connector_id):
        """Run POST .../test and return the results list. Fails unless the status is 200."""
        status, body = self.call("POST", connector_path(connector_id, "/test"))
        self.assertEqual(status, 200, body)
        self.assertIsInstance(body.get("message"), dict, body)
        self.assertEqual(body["message"].get("type"), "user", body)
        return body["results"]

    def assert_test_succeeds(self, connector_id):
        results = self.run_test_message(connector_id)
        self.assertEqual(len(results), 1, results)
        self.assertEqual(results[0]["result"], "success", results)

    def assert_rejected(self, method, path, body, status=400):
        """Send body and check the status and that the reply is {"error": non-empty string}."""
        got_status, got_body = self.call(method, path, body, timeout=BAD_INPUT_TIMEOUT_SECONDS)
        self.assertEqual(got_status, status, got_body)
        self.assertIsInstance(got_body, dict, got_body)
        self.assertIsInstance(got_body.get("error"), str, got_body)
        self.assertTrue(got_body["error"].strip(), got_body)
        return got_body["error"]


class ConnectorRoundTripTest(ConnectorApiTestCase):

    def test_create_fills_defaults(self):
        created = self.create_ok(name="crm-eu")

        self.assertIsInstance(created["id"], str)
        self.assertTrue(created["id"])
        self.assertEqual(created["name"], "crm-eu")
        self.assertEqual(created["plugin"], VALID_PLUGIN)
        self.assertEqual(created["settings"], {"region": "eu"})
        self.assertEqual(created["secret_settings"], ["api_key"])
        self.assertEqual(created["synchronized_user_segments"], [])
        self.assertEqual(created["synchronized_account_segments"], [])
        self.assertEqual(created["max_connections"], 4)
        self.assertEqual(created["status"], "active")
        self.assertIsNone(created["error"])
        self.assertTrue(created["created_at"])
        self.assertTrue(created["updated_at"])

    def test_create_get_list_update_delete(self):
        segment_id = self.create_segment()
        created = self.create_ok(name="crm", settings={"api_key": SECRET, "retries": 2},
                                 synchronized_user_segments=[segment_id],
                                 max_connections=3)
        connector_id = created["id"]
        self.assertEqual(created["settings"], {"region": "eu", "retries": 2})
        self.assertEqual(created["synchronized_user_segments"], [segment_id])
        self.assertEqual(created["max_connections"], 3)

        self.assertEqual(self.get_connector(connector_id), created)
        listed = [c for c in self.list_connectors() if c["id"] == connector_id]
        self.assertEqual(listed, [created])

        update = {"plugin": VALID_PLUGIN, "name": "crm-us",
                  "settings": {"region": "us", "retries": 5},
                  "synchronized_account_segments": ["ALL"], "max_connections": 8}
        status, updated = self.call("PUT", connector_path(connector_id), update)
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["id"], connector_id)
        self.assertEqual(updated["name"], "crm-us")
        self.assertEqual(updated["settings"], {"region": "us", "retries": 5})
        self.assertEqual(updated["secret_settings"], ["api_key"])
        # PUT replaces the whole connector, so the omitted user whitelist is empty now.
        self.assertEqual(updated["synchronized_user_segments"], [])
        self.assertEqual(updated["synchronized_account_segments"], ["ALL"])
        self.assertEqual(updated["max_connections"], 8)
        self.assertEqual(updated["status"], "active")
        self.assertEqual(updated["created_at"], created["created_at"])
        self.assertEqual(self.get_connector(connector_id), updated)

        status, body = self.call("DELETE", connector_path(connector_id))
        self.assertEqual(status, 204, body)
        self.assertIsNone(body)
        status, body = self.call("GET", connector_path(connector_id))
        self.assertEqual(status, 404, body)
        self.assertNotIn(connector_id, [c["id"] for c in self.list_connectors()])

    def test_list_holds_every_connector(self):
        first = self.create_ok(name="first")
        second = self.create_ok(name="second", settings={"api_key": OTHER_SECRET})

        listed = {c["id"]: c for c in self.list_connectors()}

        self.assertEqual(set(listed), {first["id"], second["id"]})
        self.assertEqual(listed[first["id"]], first)
        self.assertEqual(listed[second["id"]], second)
        self.assertNotEqual(first["id"], second["id"])

    def test_test_endpoint_runs_sample(self):
        created = self.create_ok()

        results = self.run_test_message(created["id"])

        self.assertEqual(len(results), 1, results)
        self.assertEqual(results[0]["result"], "success")
        self.assertEqual(results[0]["status_code"], 200)
        self.assertIsNone(results[0]["retry_after_ms"])
        self.assertIsNone(results[0]["reason"])


class ConnectorSecretTest(ConnectorApiTestCase):
    # call() fails on any response that contains a secret, and a cleanup
    # checks stderr, so these tests drive every route that returns a
    # connector while a secret is stored.

    def test_secret_hidden_in_every_response(self):
        created = self.create_ok()
        connector_id = created["id"]
        self.assertNotIn("api_key", created["settings"])
        self.assertEqual(created["secret_settings"], ["api_key"])

        self.assertNotIn("api_key", self.get_connector(connector_id)["settings"])
        self.assertNotIn("api_key", self.list_connectors()[0]["settings"])

        status, updated = self.call("PUT", connector_path(connector_id),
                                    {"plugin": VALID_PLUGIN, "name": "crm",
                                     "settings": {"api_key": OTHER_SECRET, "region": "us"}})
        self.assertEqual(status, 200, updated)
        self.assertNotIn("api_key", updated["settings"])
        self.assertEqual(updated["secret_settings"], ["api_key"])

        self.assert_test_succeeds(connector_id)

    def test_put_without_secret_keeps_it(self):
        created = self.create_ok()
        connector_id = created["id"]

        # api_key is required, so this PUT can only succeed when wharfd kept
        # the stored value for the omitted secret.
        status, updated = self.call("PUT", connector_path(connector_id),
                                    {"plugin": VALID_PLUGIN, "name": "renamed",
                                     "settings": {"region": "us"}})
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["secret_settings"], ["api_key"])
        self.assertEqual(updated["status"], "active")
        self.assert_test_succeeds(connector_id)

        error = self.assert_rejected("PUT", connector_path(connector_id),
                                     {"plugin": VALID_PLUGIN, "name": "renamed",
                                      "settings": {"api_key": None, "region": "us"}})
        self.assertIn("api_key", error)
        self.assertIn("missing", error.lower())

        # The rejected PUT changed nothing.
        after = self.get_connector(connector_id)
        self.assertEqual(after, updated)
        self.assert_test_succeeds(connector_id)

    def test_get_edit_put_round_trip(self):
        # A client may GET a connector, change a field and PUT the whole
        # object back, read-only fields included.
        created = self.create_ok()
        edited = dict(created)
        edited["name"] = "edited"

        status, updated = self.call("PUT", connector_path(created["id"]), edited)

        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["name"], "edited")
        self.assertEqual(updated["secret_settings"], ["api_key"])
        self.assert_test_succeeds(created["id"])


class ConnectorValidationTest(ConnectorApiTestCase):

    def test_unknown_setting_rejected(self):
        error = self.assert_rejected("POST", CONNECTORS_PATH,
                                     {"plugin": VALID_PLUGIN, "name": "crm",
                                      "settings": {"api_key": SECRET, "colour": "blue"}})

        self.assertIn('"colour"', error)
        for name in VALID_SETTING_NAMES:
            with self.subTest(setting=name):
                self.assertIn(name, error)

    def test_wrong_setting_type_rejected(self):
        cases = [
            ("retries", "three", "integer", "string"),
            ("region", 5, "string", "integer"),
            ("api_key", ["a"], "string", "array"),
        ]
        for name, value, expected_type, given_type in cases:
            with self.subTest(setting=name, value=value):
                settings = {"api_key": SECRET, name: value}
                error = self.assert_rejected("POST", CONNECTORS_PATH,
                                             {"plugin": VALID_PLUGIN, "name": "crm",
                                              "settings": settings})
                self.assertIn(name, error)
                self.assertIn(expected_type, error)
                self.assertIn(given_type, error)

    def test_missing_required_setting_rejected(self):
        for settings in ({}, {"region": "us"}, {"api_key": None}):
            with self.subTest(settings=settings):
                error = self.assert_rejected("POST", CONNECTORS_PATH,
                                             {"plugin": VALID_PLUGIN, "name": "crm",
                                              "settings": settings})
                self.assertIn("api_key", error)
                self.assertIn("required", error)

    def test_unknown_plugin_rejected(self):
        error = self.assert_rejected("POST", CONNECTORS_PATH,
                                     {"plugin": "no-such-plugin", "name": "crm",
                                      "settings": {"api_key": SECRET}})

        self.assertIn("no-such-plugin", error)
        self.assertIn("/api/v1/plugins", error)

    def test_bad_bodies_rejected(self):
        cases = [
            ("malformed JSON", b'{"plugin": "fixture-valid", "name": ', "json"),
            ("trailing garbage", b'{"plugin": "fixture-valid"} xyz', "json"),
            ("trailing comma", b'{"plugin": "fixture-valid", "name": "crm",}', "json"),
            ("single quotes", b"{'plugin': 'fixture-valid'}", "json"),
            ("invalid UTF-8", b'{"plugin": "fixture-valid", "name": "\xff"}', "json"),
            ("empty body", b"", "empty"),
            ("array body", b'[{"plugin": "fixture-valid"}]', "object"),
            ("string body", b'"fixture-valid"', "object"),
            ("number body", b"42", "object"),
            ("true body", b"true", "object"),
            ("null body", b"null", "object"),
            ("null body with newline", b"null\n", "object"),
            ("unknown field", {"plugin": VALID_PLUGIN, "name": "crm",
                               "settings": {"api_key": SECRET}, "colour": "blue"}, "colour"),
            ("missing plugin", {"name": "crm", "settings": {"api_key": SECRET}}, "plugin"),
            ("missing name", {"plugin": VALID_PLUGIN, "settings": {"api_key": SECRET}}, "name"),
            ("empty name", {"plugin": VALID_PLUGIN, "name": "",
                            "settings": {"api_key": SECRET}}, "name"),
            ("settings not an object", {"plugin": VALID_PLUGIN, "name": "crm",
                                        "settings": ["api_key"]}, "settings"),
            ("segments not a list", {"plugin": VALID_PLUGIN, "name": "crm",
                                     "settings": {"api_key": SECRET},
                                     "synchronized_user_segments": "ALL"},
             "synchronized_user_segments"),
        ]
        for label, body, expected_word in cases:
            with self.subTest(case=label):
                error = self.assert_rejected("POST", CONNECTORS_PATH, body)
                self.assertIn(expected_word, error.lower())

        self.assertEqual(self.list_connectors(), [])

    def test_bad_put_bodies_rejected(self):
        created = self.create_ok()
        path = connector_path(created["id"])

        for label, body in [("malformed JSON", b"{"), ("empty body", b""),
                            ("array body", b"[]"), ("null body", b"null"),
                            ("unknown field", {"plugin": VALID_PLUGIN, "name": "crm",
                                               "colour": "blue"})]:
            with self.subTest(case=label):
                self.assert_rejected("PUT", path, body)

        self.assertEqual(self.get_connector(created["id"]), created)

    def test_max_connections_out_of_range(self):
        for value in (0, -1, 65, 1000, "4", 2.5):
            with self.subTest(max_connections=value):
                body = {"plugin": VALID_PLUGIN, "name": "crm",
                        "settings": {"api_key": SECRET}, "max_connections": value}
                error = self.assert_rejected("POST", CONNECTORS_PATH, body)
                self.assertIn("max_connections", error)
                self.assertIn("64", error)

    def test_max_connections_limits_accepted(self):
        for value in (1, 64):
            with self.subTest(max_connections=value):
                created = self.create_ok(max_connections=value)
                self.assertEqual(created["max_connections"], value)

    def test_unknown_id_returns_404(self):
        unknown = "00000000-0000-4000-8000-00000000dead"
        update = {"plugin": VALID_PLUGIN, "name": "crm", "settings": {"api_key": SECRET}}
        for method, path, body in [("GET", connector_path(unknown), None),
                                   ("PUT", connector_path(unknown), update),
                                   ("DELETE", connector_path(unknown), None),
                                   ("POST", connector_path(unknown, "/test"), None)]:
            with self.subTest(method=method, path=path):
                error = self.assert_rejected(method, path, body, status=404)
                self.assertIn(unknown, error)

    def test_plugin_change_on_put_rejected(self):
        created = self.create_ok()

        error = self.assert_rejected("PUT", connector_path(created["id"]),
                                     {"plugin": CREATE_FAILS_PLUGIN, "name": "crm",
                                      "settings": {"api_key": SECRET}})

        self.assertIn(CREATE_FAILS_PLUGIN, error)
        self.assertIn(VALID_PLUGIN, error)
        self.assertEqual(self.get_connector(created["id"]), created)

    def test_plugin_create_failure_returns_message(self):
        error = self.assert_rejected("POST", CONNECTORS_PATH,
                                     {"plugin": CREATE_FAILS_PLUGIN, "name": "crm",
                                      "settings": {"api_key": SECRET}})

        self.assertIn(CREATE_FAILS_MESSAGE, error)
        self.assertEqual(self.list_connectors(), [])

    def test_wrong_method_returns_405(self):
        created = self.create_ok()
        for method, path in [("DELETE", CONNECTORS_PATH),
                             ("PUT", CONNECTORS_PATH),
                             ("PATCH", connector_path(created["id"])),
                             ("POST", connector_path(created["id"])),
                             ("GET", connector_path(created["id"], "/test")),
                             ("POST", "/healthz")]:
            with self.subTest(method=method, path=path):
                self.assert_rejected(method, path, None, status=405)

    def test_unknown_route_returns_404(self):
        self.assert_rejected("GET", "/api/v1/connectors/some-id/no-such-action", None,
                             status=404)
        self.assert_rejected("GET", "/api/v1/no-such-resource", None, status=404)


class ConnectorPersistenceTest(ConnectorApiTestCase):

    def test_restart_keeps_connectors(self):
        segment_id = self.create_segment()
        first = self.create_ok(name="first", settings={"api_key": SECRET, "retries": 1},
                               synchronized_user_segments=[segment_id], max_connections=2)
        second = self.create_ok(name="second",
                                settings={"api_key": OTHER_SECRET, "region": "us"})

        self.restart_service()

        listed = {c["id"]: c for c in self.list_connectors()}
        self.assertEqual(set(listed), {first["id"], second["id"]})
        for before in (first, second):
            with self.subTest(name=before["name"]):
                after = listed[before["id"]]
                for field in ("name", "plugin", "settings", "secret_settings",
                              "synchronized_user_segments", "synchronized_account_segments",
                              "max_connections", "created_at", "updated_at"):
                    self.assertEqual(after[field], before[field], field)
                # api_key is required, so a restored connector only runs
                # when its secret was stored and read back.
                self.assertEqual(after["status"], "active", after)
                self.assertIsNone(after["error"])
                self.assert_test_succeeds(before["id"])

    def test_restart_keeps_secret_for_put(self):
        created = self.create_ok()

        self.restart_service()

        status, updated = self.call("PUT", connector_path(created["id"]),
                                    {"plugin": VALID_PLUGIN, "name": "after-restart",
                                     "settings": {}})
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["secret_settings"], ["api_key"])
        self.assert_test_succeeds(created["id"])

    def test_deleted_connector_stays_deleted(self):
        kept = self.create_ok(name="kept")
        deleted = self.create_ok(name="deleted")
        status, body = self.call("DELETE", connector_path(deleted["id"]))
        self.assertEqual(status, 204, body)

        self.restart_service()

        self.assertEqual([c["id"] for c in self.list_connectors()], [kept["id"]])

    def test_missing_plugin_then_hot_loaded(self):
        created = self.create_ok(settings={"api_key": SECRET, "retries": 3})
        connector_id = created["id"]

        # Restart without the plugin file. stop() and start() keep the data dir.
        code = self.service.stop()
        self.assertEqual(code, 0, self.service.stderr_text())
        self.assert_no_secret_in_stderr()
        os.remove(os.path.join(self.plugins_dir, "valid_1_0.so"))
        self.service.start()

        waiting = self.get_connector(connector_id)
        self.assertEqual(waiting["status"], "plugin_missing", waiting)
        self.assertEqual(waiting["name"], created["name"])
        self.assertEqual(waiting["plugin"], VALID_PLUGIN)
        error = self.assert_rejected("POST", connector_path(connector_id, "/test"), None,
                                     status=409)
        self.assertIn("plugin_missing", error)

        # Copy under another name and rename, so wharfd never loads a partial file.
        staging = harness.copy_fixture("valid_1_0", self.plugins_dir, "valid_1_0.so.partial")
        os.rename(staging, os.path.join(self.plugins_dir, "valid_1_0.so"))

        def active():
            connector = self.get_connector(connector_id)
            return connector if connector["status"] == "active" else None

        running = self.service.wait_until(
            active, timeout=PLUGIN_LOAD_SECONDS, interval=0.1,
            message="connector %s not active within %d s of its plugin being copied in"
                    % (connector_id, PLUGIN_LOAD_SECONDS))
        self.assertIsNone(running["error"])
        self.assertEqual(running["settings"], {"region": "eu", "retries": 3})
        self.assertEqual(running["secret_settings"], ["api_key"])
        self.assert_test_succeeds(connector_id)


if __name__ == "__main__":
    unittest.main()
