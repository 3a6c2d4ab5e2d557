"""End-to-end tests of wharfd's credentials and plugin directory checks.

They start the real wharfd on 127.0.0.1 and cover the admin API's bearer
tokens (flags, config key, token file, several tokens, 401 responses that never
echo what was sent), the separation of admin tokens and ingest write keys,
start-up errors for bad token settings, wharfctl's --token and
WHARF_ADMIN_TOKEN, and the rejection of plugins that users other than the
service user could replace.
"""

import base64
import os
import shutil
import subprocess
import unittest

import harness
from harness import Wharfd, run_wharfd

TOKEN = "e2e-admin-token-5f1c9a27d3b84e06"
SECOND_TOKEN = "e2e-rotated-token-0c7d2e94b1a3f658"
WRONG_TOKEN = "e2e-wrong-token-9b3e7a15c2d4f860"
WRITE_KEY = "e2e-write-key-3a6f0d8c"

WHARFCTL = os.path.join(os.path.dirname(harness.WHARFD), "wharfctl")

# wharfctl makes one or two requests; the rest is room for a sanitizer build.
WHARFCTL_TIMEOUT_SECONDS = 60

# The plugins directory is rescanned every 250 ms; a fixed file loads within
# two scans, and the rest is room for a slow build.
PLUGIN_RELOAD_SECONDS = 10

FIXTURE_PLUGIN = "valid_1_0"
FIXTURE_PLUGIN_NAME = "fixture-valid"


def basic_authorization(key):
    return "Basic " + base64.b64encode((key + ":").encode("utf-8")).decode("ascii")


def bearer(token):
    return {"Authorization": "Bearer " + token}


def write_file(test, text, mode, name="secret"):
    """Write text to a new file with mode in a temporary directory; return its path."""
    directory = harness.make_temp_dir(test, prefix="wharf-security-")
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as output:
        output.write(text)
    os.chmod(path, mode)
    return path


class AdminTokenTest(harness.ServiceTestCase):
    """wharfd with two admin tokens from a token file and a write key."""

    def setUp(self):
        token_file = write_file(self, "# admin tokens\n%s\n\n%s\n" % (TOKEN, SECOND_TOKEN),
                                0o600)
        self.service = self.start_wharfd(args=["--admin-token-file", token_file,
                                               "--write-key", WRITE_KEY])

    def assert_unauthorized(self, status, headers, body, *fragments):
        self.assertEqual(status, 401, body)
        self.assertIn("error", body)
        for fragment in fragments:
            self.assertIn(fragment, body["error"])
        self.assertTrue(headers["WWW-Authenticate"].startswith('Bearer realm="wharf"'),
                        headers)

    def test_missing_token_gets_401(self):
        status, headers, body = self.service.request("GET", "/api/v1/plugins")

        self.assert_unauthorized(status, headers, body, "missing admin token",
                                 "Authorization: Bearer TOKEN", "WHARF_ADMIN_TOKEN")
        self.assertNotIn("invalid_token", headers["WWW-Authenticate"])

    def test_wrong_token_not_echoed(self):
        status, headers, body = self.service.request("GET", "/api/v1/connectors",
                                                     headers=bearer(WRONG_TOKEN))

        self.assert_unauthorized(status, headers, body, "invalid admin token")
        self.assertEqual(headers["WWW-Authenticate"],
                         'Bearer realm="wharf", error="invalid_token"')
        self.assertNotIn(WRONG_TOKEN, str(body))
        self.assertNotIn(TOKEN, str(body))

    def test_write_key_not_accepted_as_admin(self):
        status, headers, body = self.service.request(
            "GET", "/api/v1/plugins", headers={"Authorization": basic_authorization(WRITE_KEY)})

        self.assert_unauthorized(status, headers, body, "does not use the Bearer scheme")
        self.assertNotIn(WRITE_KEY, str(body))

        status, headers, body = self.service.request("GET", "/api/v1/plugins",
                                                     headers=bearer(WRITE_KEY))
        self.assert_unauthorized(status, headers, body, "invalid admin token")

    def test_each_configured_token_accepted(self):
        for token in (TOKEN, SECOND_TOKEN):
            with self.subTest(token=token[:12]):
                status, body = self.service.get("/api/v1/plugins", headers=bearer(token))
                self.assertEqual(status, 200, body)
                self.assertIn("plugins", body)

        status, body = self.service.get("/api/v1/plugins",
                                        headers={"Authorization": "bearer  " + TOKEN})
        self.assertEqual(status, 200, body)

    def test_unknown_admin_path_needs_token(self):
        status, _, body = self.service.request("GET", "/api/v1/no-such-thing")
        self.assertEqual(status, 401, body)

        status, body = self.service.get("/api/v1/no-such-thing", headers=bearer(TOKEN))
        self.assertEqual(status, 404, body)

    def test_metrics_needs_token(self):
        status, headers, body = self.service.request("GET", "/metrics")
        self.assert_unauthorized(status, headers, body, "missing admin token")

        status, _, body = self.service.request("GET", "/metrics", headers=bearer(TOKEN))
        self.assertNotEqual(status, 401, body)

    def test_writes_need_token(self):
        body = {"name": "No token", "type": "users",
                "query": {"attribute": "plan", "op": "eq", "value": "pro"}}
        status, _, response = self.service.request("POST", "/api/v1/segments", body=body)
        self.assertEqual(status, 401, response)

        status, response = self.service.get("/api/v1/segments", headers=bearer(TOKEN))
        self.assertEqual(status, 200, response)
        self.assertEqual(response["segments"], [])

    def test_healthz_open(self):
        status, body = self.service.get("/healthz")

        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"status": "ok"})

    def test_ingest_takes_write_key_not_token(self):
        identify = {"type": "identify", "userId": "ada", "traits": {"plan": "pro"}}

        status, body = self.service.post("/v1/identify", identify, headers=bearer(TOKEN))
        self.assertEqual(status, 401, body)
        self.assertNotIn(TOKEN, str(body))

        status, body = self.service.post(
            "/v1/identify", identify, headers={"Authorization": basic_authorization(TOKEN)})
        self.assertEqual(status, 401, body)

        status, body = self.service.post(
            "/v1/identify", identify, headers={"Authorization": basic_authorization(WRITE_KEY)})
        self.assertEqual(status, 200, body)

    def test_rejections_logged_without_secrets(self):
        mark = self.service.log_mark()
        for _ in range(5):
            status, _, _ = self.service.request("GET", "/api/v1/plugins",
                                                headers=bearer(WRONG_TOKEN))
            self.assertEqual(status, 401)

        line = self.service.wait_for_log("rejected with 401", since=mark)
        self.assertIn("GET /api/v1/plugins from 127.0.0.1:", line)
        self.assertIn("matches none configured", line)
        # Five rejections within the interval make one line, not five.
        lines = [entry for entry in self.service.stderr_lines()[mark:]
                 if "rejected with 401" in entry]
        self.assertEqual(len(lines), 1, lines)
        text = self.service.stderr_text()
        for secret in (TOKEN, SECOND_TOKEN, WRONG_TOKEN, WRITE_KEY):
            self.assertNotIn(secret, text)

    def test_start_logs_token_count(self):
        line = self.service.wait_for_log("admin API:")

        self.assertIn("need one of 2 admin token(s)", line)


class TokenSourcesTest(harness.ServiceTestCase):

    def test_flag_tokens_scrubbed_from_command_line(self):
        service = self.start_wharfd(args=["--admin-token", TOKEN, "--write-key=" + WRITE_KEY])

        with open("/proc/%d/cmdline" % service.process.pid, "rb") as cmdline:
            arguments = cmdline.read().split(b"\0")
        self.assertIn(b"--admin-token", arguments)
        self.assertNotIn(TOKEN.encode(), b" ".join(arguments))
        self.assertNotIn(WRITE_KEY.encode(), b" ".join(arguments))
        self.assertIn(b"x" * len(TOKEN), arguments)

        status, body = service.get("/api/v1/plugins", headers=bearer(TOKEN))
        self.assertEqual(status, 200, body)
        status, _, body = service.request("GET", "/api/v1/plugins")
        self.assertEqual(status, 401, body)

    def test_config_key_tokens(self):
        config = "admin_token = %s\nadmin_token = %s\n" % (TOKEN, SECOND_TOKEN)
        service = self.start_wharfd(config_text=config)

        for token in (TOKEN, SECOND_TOKEN):
            status, body = service.get("/api/v1/plugins", headers=bearer(token))
            self.assertEqual(status, 200, body)
        status, _, body = service.request("GET", "/api/v1/plugins", headers=bearer(WRONG_TOKEN))
        self.assertEqual(status, 401, body)

    def test_readable_config_with_token_warned(self):
        config_path = write_file(self, "admin_token = %s\n" % TOKEN, 0o644, name="wharfd.conf")
        service = self.start_wharfd(args=["--config", config_path])

        line = service.wait_for_log("readable by every user")
        self.assertIn(config_path, line)
        self.assertIn("chmod o-r", line)
        self.assertNotIn(TOKEN, service.stderr_text())

    def test_loopback_without_token_stays_open(self):
        service = self.start_wharfd()

        status, body = service.get("/api/v1/plugins")
        self.assertEqual(status, 200, body)
        line = service.wait_for_log("admin API:")
        self.assertIn("no admin token configured", line)


class StartupErrorTest(unittest.TestCase):
    """Bad token settings stop wharfd at start with exit code 2 and a clear message."""

    def assert_start_fails(self, args, *fragments):
        code, _, stderr = run_wharfd(["--listen", "127.0.0.1:0",
                                      "--data-dir", harness.make_temp_dir(self), *args])
        self.assertEqual(code, 2, stderr)
        for fragment in fragments:
            self.assertIn(fragment, stderr)
        return stderr

    def test_world_readable_token_file(self):
        path = write_file(self, TOKEN + "\n", 0o644)

        stderr = self.assert_start_fails(["--admin-token-file", path], path,
                                         "readable by every user (mode 0644)",
                                         "chmod 600 " + path)
        self.assertNotIn(TOKEN, stderr)

    def test_group_writable_token_file(self):
        path = write_file(self, TOKEN + "\n", 0o660)

        self.assert_start_fails(["--admin-token-file", path], "writable by its group",
                                "chmod g-w")

    def test_missing_token_file(self):
        path = os.path.join(harness.make_temp_dir(self), "absent")

        self.assert_start_fails(["--admin-token-file", path], "cannot read admin token file",
                                path, "No such file")

    def test_empty_token_file(self):
        path = write_file(self, "# no tokens yet\n", 0o600)

        self.assert_start_fails(["--admin-token-file", path], "holds no token")

    def test_bad_token_line_named(self):
        path = write_file(self, TOKEN + "\nnot a token\n", 0o600)

        stderr = self.assert_start_fails(["--admin-token-file", path], path + ":2",
                                         "cannot contain")
        self.assertNotIn(TOKEN, stderr)

    def test_short_flag_token(self):
        stderr = self.assert_start_fails(["--admin-token", "tiny-secret"], "--admin-token",
                                         "11 characters long", "openssl rand")
        self.assertNotIn("tiny-secret", stderr)

    def test_bad_token_in_config_file(self):
        path = write_file(self, "admin_token = has space in it 0123456789\n", 0o600,
                          name="wharfd.conf")

        stderr = self.assert_start_fails(["--config", path], path + ":1: key admin_token")
        self.assertNotIn("has space in it", stderr)


def run_wharfctl(args, token_environment=None):
    """Run wharfctl with a clean environment; return (code, stdout, stderr)."""
    environment = dict(os.environ)
    environment.pop("WHARF_URL", None)
    environment.pop("WHARF_ADMIN_TOKEN", None)
    if token_environment is not None:
        environment["WHARF_ADMIN_TOKEN"] = token_environment
    if not os.path.isfile(WHARFCTL):
        raise AssertionError("%s is missing; build the wharfctl target" % WHARFCTL)
    prefix = list(harness.VALGRIND_COMMAND) if harness.VALGRIND else []
    try:
        completed = subprocess.run(prefix + [WHARFCTL, *args], capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL, env=environment,
                                   timeout=harness.scaled(WHARFCTL_TIMEOUT_SECONDS))
    except subprocess.TimeoutExpired as expired:
        raise AssertionError("wharfctl %s did not exit in time; stderr:\n%s"
                             % (" ".join(args), expired.stderr)) from None
    return completed.returncode, completed.stdout, completed.stderr


class WharfctlTokenTest(harness.ServiceTestCase):

    def setUp(self):
        token_file = write_file(self, TOKEN + "\n", 0o600)
        self.service = self.start_wharfd(args=["--admin-token-file", token_file])

    def test_no_token_explains_how_to_send(self):
        code, stdout, stderr = run_wharfctl(["--url", self.service.url, "plugins"])

        self.assertEqual(code, 1, stderr)
        self.assertIn("HTTP 401", stderr)
        self.assertIn("missing admin token", stderr)
        self.assertIn("set the WHARF_ADMIN_TOKEN environment variable", stderr)

    def test_token_flag_sent(self):
        code, stdout, stderr = run_wharfctl(["--url", self.service.url, "--token", TOKEN,
                                             "plugins"])

        self.assertEqual(code, 0, stderr)
        self.assertIn("webhook", stdout)

    def test_token_from_environment(self):
        code, stdout, stderr = run_wharfctl(["--url", self.service.url, "connectors"],
                                            token_environment=TOKEN)

        self.assertEqual(code, 0, stderr)

    def test_flag_wins_over_environment(self):
        code, _, stderr = run_wharfctl(["segments", "--url", self.service.url,
                                        "--token=" + TOKEN],
                                       token_environment=WRONG_TOKEN)

        self.assertEqual(code, 0, stderr)

    def test_wrong_token_names_source_only(self):
        code, stdout, stderr = run_wharfctl(["--url", self.service.url, "plugins"],
                                            token_environment=WRONG_TOKEN)

        self.assertEqual(code, 1, stderr)
        self.assertIn("invalid admin token", stderr)
        self.assertIn("rejected the admin token from WHARF_ADMIN_TOKEN", stderr)
        self.assertNotIn(WRONG_TOKEN, stderr + stdout)

    def test_malformed_token_is_usage_error(self):
        code, stdout, stderr = run_wharfctl(["--url", self.service.url,
                                             "--token", "two words", "plugins"])

        self.assertEqual(code, 2, stderr)
        self.assertIn("admin token from --token", stderr)
        self.assertNotIn("two words", stderr)


class PluginDirectoryTest(harness.ServiceTestCase):
    """Plugin files and directories that others could write to are rejected."""

    def make_plugins_dir(self, directory_mode=0o755, file_mode=0o755):
        parent = harness.make_temp_dir(self, prefix="wharf-plugin-perms-")
        directory = os.path.join(parent, "plugins")
        os.mkdir(directory)
        path = harness.copy_fixture(FIXTURE_PLUGIN, directory)
        os.chmod(path, file_mode)
        os.chmod(directory, directory_mode)
        # Other tests' cleanup removes the directory; it must be writable then.
        self.addCleanup(os.chmod, directory, 0o755)
        return directory, path

    def loaded_names(self, service):
        return [plugin["name"] for plugin in service.plugins()["plugins"]]

    def rejection(self, service, path):
        for entry in service.plugins()["rejected"]:
            if entry["file"] == path:
                return entry["reason"]
        return None

    def wait_loaded(self, service):
        service.wait_until(lambda: FIXTURE_PLUGIN_NAME in self.loaded_names(service),
                           timeout=PLUGIN_RELOAD_SECONDS,
                           message="%s did not load after the fix; plugins: %r"
                                   % (FIXTURE_PLUGIN_NAME, service.plugins()))

    def test_group_writable_directory_rejected_then_fixed(self):
        directory, path = self.make_plugins_dir(directory_mode=0o775)
        service = self.start_wharfd(plugins_dir=directory)

        reason = self.rejection(service, path)
        self.assertIsNotNone(reason, service.plugins())
        self.assertIn("plugins directory %s is writable by its group (mode 0775)" % directory,
                      reason)
        self.assertIn("chmod g-w " + directory, reason)
        self.assertNotIn(FIXTURE_PLUGIN_NAME, self.loaded_names(service))
        line = service.wait_for_log("plugin rejected: " + path)
        self.assertIn("chmod g-w", line)
        status, body = service.get("/healthz")
        self.assertEqual(status, 200, body)

        # Fixing the directory is enough; the file itself did not change.
        os.chmod(directory, 0o755)
        self.wait_loaded(service)

    def test_world_writable_directory_rejected(self):
        directory, path = self.make_plugins_dir(directory_mode=0o777)
        service = self.start_wharfd(plugins_dir=directory)

        reason = self.rejection(service, path)
        self.assertIsNotNone(reason, service.plugins())
        self.assertIn("writable by every user (mode 0777)", reason)
        self.assertIn("chmod go-w " + directory, reason)

    def test_group_writable_file_rejected_then_fixed(self):
        directory, path = self.make_plugins_dir(file_mode=0o775)
        service = self.start_wharfd(plugins_dir=directory)

        reason = self.rejection(service, path)
        self.assertIsNotNone(reason, service.plugins())
        self.assertIn("file %s is writable by its group (mode 0775)" % path, reason)
        self.assertIn("chmod g-w " + path, reason)

        os.chmod(path, 0o755)
        self.wait_loaded(service)

    def test_new_file_in_bad_directory_rejected(self):
        directory, path = self.make_plugins_dir()
        service = self.start_wharfd(plugins_dir=directory)
        self.assertIn(FIXTURE_PLUGIN_NAME, self.loaded_names(service))

        # The loaded plugin stays; a file added after the change is rejected.
        os.chmod(directory, 0o770)
        added = os.path.join(directory, "minor.so")
        shutil.copyfile(harness.fixture_path("minor_1_1"), added)
        os.chmod(added, 0o755)
        service.wait_until(lambda: self.rejection(service, added),
                           timeout=PLUGIN_RELOAD_SECONDS,
                           message="minor.so was not rejected: %r" % service.plugins())
        self.assertIn("writable by its group", self.rejection(service, added))
        self.assertIn(FIXTURE_PLUGIN_NAME, self.loaded_names(service))


if __name__ == "__main__":
    unittest.main()
