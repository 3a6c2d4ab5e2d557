"""End-to-end test that secrets set through wharfd never come back out.

One flow sets every kind of secret that wharfd holds: admin tokens (from a
token file and from a flag), the ingest write key (from the config file), a
webhook connector's secret headers and a HubSpot connector's access token. It then uses them all: admin calls,
Segment ingest, automatic sync, a test message, a failing delivery, a
connector update that keeps the headers, rejected requests and invalid
settings. Every API response of the run, wharfd's stderr and stdout (at log
level debug) and the connector logs API are searched for the secrets, and
every file wharfd created under the data directory is checked for mode 0600
(directories 0700).
"""

import json
import os
import stat
import unittest

import harness
from data_client import basic_authorization
from recorder import Recorder

ADMIN_TOKEN = "sec-flow-admin-4e8d1c7b2a9f0635"
FLAG_ADMIN_TOKEN = "sec-flow-flag-admin-7a2c5e0b9d41f386"
WRITE_KEY = "sec-flow-write-key-b7e3d90a51c2"
DESTINATION_TOKEN = "sec-flow-destination-bearer-6f0e2d8c"
DESTINATION_API_KEY = "sec-flow-destination-api-key-13c9ab5e"
REJECTED_HEADER_VALUE = "sec-flow-rejected-header-value-92d4"
HUBSPOT_TOKEN = "sec-flow-hubspot-access-token-58e1f7"

SECRETS = [ADMIN_TOKEN, FLAG_ADMIN_TOKEN, WRITE_KEY, DESTINATION_TOKEN, DESTINATION_API_KEY,
           REJECTED_HEADER_VALUE, HUBSPOT_TOKEN]

# Deliveries take milliseconds; the rest is room for a sanitizer build and a
# retry backoff, which wharfd draws at random below 1 s.
DELIVERY_SECONDS = 20


class RecordingWharfd(harness.Wharfd):
    """A Wharfd that keeps every response (status, headers, body) it received."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.responses = []

    def request(self, method, path, body=None, headers=None, timeout=10):
        status, response_headers, response_body = super().request(
            method, path, body=body, headers=headers, timeout=timeout)
        if isinstance(response_body, (dict, list)):
            text = json.dumps(response_body, ensure_ascii=False)
        elif isinstance(response_body, bytes):
            text = response_body.decode("utf-8", errors="replace")
        else:
            text = ""
        self.responses.append("%s %s -> %d %r %s" % (method, path, status,
                                                     dict(response_headers.items()), text))
        return status, response_headers, response_body


def file_modes(directory):
    """Map each path under directory (itself included) to its permission bits."""
    modes = {directory: stat.S_IMODE(os.lstat(directory).st_mode)}
    for root, directories, files in os.walk(directory):
        for name in directories + files:
            path = os.path.join(root, name)
            modes[path] = stat.S_IMODE(os.lstat(path).st_mode)
    return modes


class SecretsFlowTest(unittest.TestCase):

    def setUp(self):
        self.recorder = Recorder().start()
        self.addCleanup(self.recorder.shutdown)
        self.hubspot_api = Recorder().start()
        self.addCleanup(self.hubspot_api.shutdown)
        work = harness.make_temp_dir(self, prefix="wharf-secrets-")
        self.data_dir = os.path.join(work, "data")

        token_file = os.path.join(work, "admin-tokens")
        with open(token_file, "w", encoding="utf-8") as output:
            output.write(ADMIN_TOKEN + "\n")
        os.chmod(token_file, 0o600)
        config_file = os.path.join(work, "wharfd.conf")
        with open(config_file, "w", encoding="utf-8") as output:
            output.write("write_key = %s\nadmin_token_file = %s\nlog_level = debug\n"
                         % (WRITE_KEY, token_file))
        os.chmod(config_file, 0o600)

        plugins_dir = harness.make_plugins_dir(self, bundled=["webhook", "hubspot"])
        self.service = RecordingWharfd(plugins_dir=plugins_dir, data_dir=self.data_dir,
                                       args=["--config", config_file,
                                             "--admin-token", FLAG_ADMIN_TOKEN],
                                       admin_token=ADMIN_TOKEN)
        self.service.start()
        self.addCleanup(self.service.stop)

    def call(self, method, path, body=None, expected=200, headers=None):
        status, _, response = self.service.request(method, path, body=body, headers=headers)
        self.assertEqual(status, expected, "%s %s: %r" % (method, path, response))
        return response

    def create_webhook(self):
        body = {
            "plugin": "webhook",
            "name": "secret hook",
            "settings": {
                "url": self.recorder.url + "/hook",
                "headers": {"Authorization": "Bearer " + DESTINATION_TOKEN,
                            "X-Api-Key": DESTINATION_API_KEY},
            },
            "synchronized_user_segments": ["ALL"],
            "max_connections": 1,
        }
        view = self.call("POST", "/api/v1/connectors", body, expected=201)
        self.assertNotIn("headers", view["settings"])
        self.assertEqual(view["secret_settings"], ["headers"])
        return view

    def assert_destination_saw_secrets(self, count):
        requests = self.recorder.wait_for_requests(count, timeout=harness.scaled(DELIVERY_SECONDS))
        for request in requests:
            self.assertEqual(request.headers.get("Authorization"), "Bearer " + DESTINATION_TOKEN)
            self.assertEqual(request.headers.get("X-Api-Key"), DESTINATION_API_KEY)
        return requests

    def use_every_secret(self):
        self.call("GET", "/api/v1/plugins")
        self.call("GET", "/api/v1/plugins", headers={"Authorization": "Bearer " + FLAG_ADMIN_TOKEN})
        hook = self.create_webhook()
        connector_path = "/api/v1/connectors/" + hook["id"]

        # A test message that the destination accepts, then one it refuses.
        result = self.call("POST", connector_path + "/test")
        self.assertEqual(result["results"][0]["result"], "success", result)
        self.recorder.push_response(status=401, body={"error": "bad credentials"})
        result = self.call("POST", connector_path + "/test")
        self.assertEqual(result["results"][0]["result"], "error", result)
        self.assert_destination_saw_secrets(2)

        # An update that leaves the headers out keeps them.
        update = {"plugin": "webhook", "name": "secret hook",
                  "settings": {"url": self.recorder.url + "/hook", "batch_size": 10},
                  "synchronized_user_segments": ["ALL"], "max_connections": 1}
        view = self.call("PUT", connector_path, update)
        self.assertEqual(view["secret_settings"], ["headers"])
        self.call("GET", connector_path)
        self.call("GET", "/api/v1/connectors")

        # Settings that the plugin rejects: the message names the header only.
        bad = {"plugin": "webhook", "name": "bad hook",
               "settings": {"url": self.recorder.url + "/hook",
                            "headers": {"X-Broken": "a\r\n" + REJECTED_HEADER_VALUE}}}
        self.call("POST", "/api/v1/connectors", bad, expected=400)

        # Ingest with the write key; the automatic sync reaches the webhook,
        # first failing once so that a retry is logged.
        self.recorder.push_response(status=503, body="try later")
        identify = {"type": "identify", "userId": "ada", "traits": {"plan": "pro"}}
        self.call("POST", "/v1/identify", identify,
                  headers={"Authorization": basic_authorization(WRITE_KEY)})
        self.call("POST", "/v1/track", {"type": "track", "userId": "ada", "event": "Paid",
                                        "writeKey": WRITE_KEY},
                  headers={"Authorization": "Bearer none"})
        self.assert_destination_saw_secrets(4)

        # Credentials sent where they do not belong are refused, not echoed.
        self.call("POST", "/v1/identify", identify, expected=401,
                  headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        self.call("POST", "/v1/identify", identify, expected=401,
                  headers={"Authorization": basic_authorization(ADMIN_TOKEN)})
        self.call("GET", "/api/v1/plugins", expected=401,
                  headers={"Authorization": basic_authorization(WRITE_KEY)})
        self.call("GET", "/api/v1/plugins", expected=401,
                  headers={"Authorization": "Bearer " + WRITE_KEY})
        self.call("GET", "/api/v1/plugins", expected=401,
                  headers={"Authorization": "Bearer " + DESTINATION_TOKEN})

        # A HubSpot connector sends its access token as a bearer token.
        hubspot = {"plugin": "hubspot", "name": "secret crm",
                   "settings": {"access_token": HUBSPOT_TOKEN,
                                "base_url": self.hubspot_api.url},
                   "synchronized_user_segments": ["ALL"]}
        view = self.call("POST", "/api/v1/connectors", hubspot, expected=201)
        self.assertEqual(view["secret_settings"], ["access_token"])
        self.assertNotIn("access_token", view["settings"])
        self.call("POST", "/api/v1/connectors/%s/test" % view["id"])
        requests = self.hubspot_api.wait_for_requests(
            1, timeout=harness.scaled(DELIVERY_SECONDS))
        self.assertEqual(requests[0].headers.get("Authorization"), "Bearer " + HUBSPOT_TOKEN)
        self.call("GET", "/api/v1/connectors/%s/logs?limit=1000" % view["id"])

        # The connector's log, read through the API.
        def logged_success():
            lines = self.call("GET", connector_path + "/logs?limit=1000")["lines"]
            return [line for line in lines if line["message"] == "outgoing.user.success"]

        self.service.wait_until(logged_success, timeout=DELIVERY_SECONDS)
        self.call("GET", "/api/v1/users?external_id=ada")
        return hook

    def test_secrets_never_returned_or_logged(self):
        self.use_every_secret()

        # While wharfd runs, the store uses WAL mode, so its -wal and -shm
        # files exist next to it.
        running_modes = file_modes(self.data_dir)
        names = {os.path.basename(path) for path in running_modes}
        self.assertIn("wharf.db", names)
        self.assertIn("wharf.db-wal", names)
        self.assertIn("wharf.db-shm", names)

        code = self.service.stop()
        self.assertEqual(code, 0, self.service.stderr_text())
        stopped_modes = file_modes(self.data_dir)

        self.assertEqual(running_modes[self.data_dir], 0o700)
        self.assertEqual(stopped_modes[self.data_dir], 0o700)
        for modes in (running_modes, stopped_modes):
            for path, mode in modes.items():
                with self.subTest(path=path):
                    self.assertEqual(mode & 0o077, 0, "%s has mode %04o" % (path, mode))

        logs = self.service.stderr_text() + self.service.stdout_text()
        self.assertIn("DEBUG", logs)
        responses = "\n".join(self.service.responses)
        self.assertGreaterEqual(len(self.service.responses), 15)
        for secret in SECRETS:
            with self.subTest(secret=secret[:14]):
                self.assertNotIn(secret, logs)
                self.assertNotIn(secret, responses)

        # The search itself can fail: the secrets did reach the destination.
        received = "\n".join("%r %s" % (dict(request.headers.items()), request.text())
                             for request in self.recorder.requests + self.hubspot_api.requests)
        self.assertIn(DESTINATION_TOKEN, received)
        self.assertIn(DESTINATION_API_KEY, received)
        self.assertIn(HUBSPOT_TOKEN, received)


if __name__ == "__main__":
    unittest.main()
