"""End-to-end tests of the wharfd process: command line, config file, signals, routes."""

import os
import re
import signal
import socket
import unittest

import harness
from harness import OMIT, Wharfd, run_wharfd

FLAGS = ["--listen", "--data-dir", "--plugins-dir", "--config", "--log-level",
         "--help", "--version"]

# UTC timestamp with milliseconds, then the level padded to 5 characters.
LOG_LINE_PATTERN = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \S")


def project_version():
    """Read VERSION from project() in the top CMakeLists.txt."""
    with open(os.path.join(harness.SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as cmake:
        match = re.search(r"project\(\s*wharf\s+VERSION\s+([0-9.]+)", cmake.read())
    if match is None:
        raise AssertionError("no project(wharf VERSION ...) in the top CMakeLists.txt")
    return match.group(1)


class CommandLineTest(unittest.TestCase):

    def test_help_names_every_flag(self):
        code, stdout, stderr = run_wharfd(["--help"])

        self.assertEqual(code, 0, stderr)
        self.assertIn("usage", stdout.lower())
        for flag in FLAGS:
            with self.subTest(flag=flag):
                self.assertIn(flag, stdout)

    def test_version_prints_project_version(self):
        code, stdout, stderr = run_wharfd(["--version"])

        self.assertEqual(code, 0, stderr)
        self.assertIn(project_version(), stdout)

    def test_unknown_flag_exits_2(self):
        code, stdout, stderr = run_wharfd(["--no-such-flag"])

        self.assertEqual(code, 2, stderr)
        self.assertIn("--no-such-flag", stderr)
        self.assertIn("--help", stderr)

    def test_missing_flag_value_exits_2(self):
        code, stdout, stderr = run_wharfd(["--listen"])

        self.assertEqual(code, 2, stderr)
        self.assertIn("--listen", stderr)
        self.assertIn("--help", stderr)

    def test_bad_log_level_flag_exits_2(self):
        code, stdout, stderr = run_wharfd(["--log-level", "loud"])

        self.assertEqual(code, 2, stderr)
        self.assertIn("--log-level", stderr)
        self.assertIn("loud", stderr)


class ConfigFileTest(unittest.TestCase):

    def write_config(self, text):
        directory = harness.make_temp_dir(self)
        path = os.path.join(directory, "wharfd.conf")
        with open(path, "w", encoding="utf-8") as config_file:
            config_file.write(text)
        return path

    def plugin_names(self, service):
        return sorted(plugin["name"] for plugin in service.plugins()["plugins"])

    def test_config_sets_listen_and_plugins_dir(self):
        plugins_dir = harness.make_plugins_dir(self, fixtures=["valid_1_0"])
        config = ("# wharfd settings for the config file test\n"
                  "\n"
                  "listen = 127.0.0.1:0\n"
                  "plugins_dir = %s\n"
                  "log_level = info\n" % plugins_dir)

        with Wharfd(listen=OMIT, plugins_dir=OMIT, config_text=config) as service:
            status, body = service.get("/healthz")
            self.assertEqual(status, 200)
            self.assertEqual(self.plugin_names(service), ["fixture-valid"])

    def test_flags_win_over_config(self):
        config_plugins_dir = harness.make_plugins_dir(self, fixtures=["valid_1_0"])
        flag_plugins_dir = harness.make_plugins_dir(self, fixtures=["requires_whitelist"])

        # The config names a port that is already taken, so wharfd can only
        # start if the --listen flag wins.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            taken_port = taken.getsockname()[1]
            config = ("listen = 127.0.0.1:%d\n"
                      "plugins_dir = %s\n" % (taken_port, config_plugins_dir))

            with Wharfd(plugins_dir=flag_plugins_dir, config_text=config) as service:
                self.assertNotEqual(service.port, taken_port)
                self.assertEqual(self.plugin_names(service), ["fixture-requires-whitelist"])

    def test_unknown_config_key_exits_2(self):
        path = self.write_config("listen = 127.0.0.1:0\n"
                                 "# a comment\n"
                                 "colour = blue\n")

        code, stdout, stderr = run_wharfd(["--config", path])

        self.assertEqual(code, 2, stderr)
        self.assertIn(path, stderr)
        self.assertIn("colour", stderr)
        line = next((line for line in stderr.splitlines() if "colour" in line), "")
        self.assertRegex(line, r"\b3\b", "the message should name line 3")

    def test_bad_config_value_exits_2(self):
        path = self.write_config("log_level = loud\n")

        code, stdout, stderr = run_wharfd(["--config", path])

        self.assertEqual(code, 2, stderr)
        self.assertIn(path, stderr)
        self.assertIn("log_level", stderr)
        line = next((line for line in stderr.splitlines() if "log_level" in line), "")
        self.assertRegex(line, r"\b1\b", "the message should name line 1")

    def test_missing_config_file_exits_2(self):
        directory = harness.make_temp_dir(self)
        path = os.path.join(directory, "absent.conf")

        code, stdout, stderr = run_wharfd(["--config", path])

        self.assertEqual(code, 2, stderr)
        self.assertIn(path, stderr)


class RunningServiceTest(unittest.TestCase):

    def test_healthz_returns_ok(self):
        with Wharfd() as service:
            status, headers, body = service.request("GET", "/healthz")

            self.assertEqual(status, 200)
            self.assertIn("application/json", headers.get("Content-Type", ""))
            self.assertEqual(body, {"status": "ok"})

    def test_unknown_route_returns_404(self):
        with Wharfd() as service:
            for path in ["/no/such/route", "/api/v1/nothing", "/api/v2/plugins"]:
                with self.subTest(path=path):
                    status, body = service.get(path)
                    self.assertEqual(status, 404)
                    self.assertIsInstance(body, dict)
                    self.assertIsInstance(body.get("error"), str)

    def test_wrong_method_returns_405(self):
        with Wharfd() as service:
            status, body = service.post("/healthz", {})

            self.assertEqual(status, 405)
            self.assertIsInstance(body, dict)
            self.assertIsInstance(body.get("error"), str)

    def test_log_lines_have_timestamp_and_level(self):
        with Wharfd() as service:
            line = service.wait_for_log("wharfd listening on")

            self.assertRegex(line, LOG_LINE_PATTERN)

    def test_data_dir_holds_database(self):
        with Wharfd() as service:
            self.assertTrue(os.path.isfile(os.path.join(service.data_dir, "wharf.db")),
                            os.listdir(service.data_dir))

    def test_log_level_flag_sets_threshold(self):
        with Wharfd() as service:
            self.assertEqual(service.log_lines_matching(" DEBUG "), [])

        with Wharfd(args=["--log-level", "debug"]) as service:
            service.wait_for_log(re.compile(r"Z DEBUG "))

    def test_restart_restores_connector(self):
        plugins_dir = harness.make_plugins_dir(self, fixtures=["valid_1_0"])

        with Wharfd(plugins_dir=plugins_dir) as service:
            status, created = service.create_connector(
                "fixture-valid", "restart check", {"api_key": "key-51b2", "retries": 3})
            self.assertEqual(status, 201, created)

            service.restart()

            status, restored = service.get("/api/v1/connectors/" + created["id"])
            self.assertEqual(status, 200, restored)
            self.assertEqual(restored["name"], "restart check")
            self.assertEqual(restored["plugin"], "fixture-valid")
            self.assertEqual(restored["settings"], {"region": "eu", "retries": 3})
            self.assertEqual(restored["secret_settings"], ["api_key"])
            self.assertEqual(restored["status"], "active")
            self.assertNotIn("key-51b2", service.stderr_text())

    def check_signal_stops_cleanly(self, signal_number):
        service = Wharfd()
        with service:
            status, body = service.get("/healthz")
            self.assertEqual(status, 200)

            code = service.stop(signal=signal_number)

            self.assertEqual(code, 0, service.stderr_text())
            text = service.stderr_text()
            self.assertIn("wharfd stopping", text)
            self.assertIn("wharfd stopped", text)
            self.assertLess(text.index("wharfd stopping"), text.index("wharfd stopped"))
            last_line = text.strip().splitlines()[-1]
            self.assertIn("wharfd stopped", last_line)

    def test_sigint_stops_with_code_0(self):
        self.check_signal_stops_cleanly(signal.SIGINT)

    def test_sigterm_stops_with_code_0(self):
        self.check_signal_stops_cleanly(signal.SIGTERM)


if __name__ == "__main__":
    unittest.main()
