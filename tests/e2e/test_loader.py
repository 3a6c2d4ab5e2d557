"""End-to-end tests of plugin loading at startup: one plugins dir with every fixture.

The plugins dir contains all fixture plugins, a text file named junk.so, a
world-writable copy of valid_1_0 named writable.so, a notes.txt that the
loader must ignore, and duplicate_name.so
copied as zz_duplicate_name.so so that it sorts after valid_1_0.so and is the
one rejected for reusing the name "fixture-valid".
"""

import os
import re
import shutil
import stat
import tempfile
import unittest

import harness
from harness import Wharfd

LOADED_FIXTURES = {
    "valid_1_0.so": "fixture-valid",
    "minor_1_1.so": "fixture-minor",
    "create_fails.so": "fixture-create-fails",
    "requires_whitelist.so": "fixture-requires-whitelist",
}

# File name -> words its rejection reason must contain.
REJECTION_WORDS = {
    "wrong_major.so": ["ABI major 2"],
    "bad_magic.so": ["magic"],
    "no_entry.so": ["wharf_plugin_entry"],
    "null_entry.so": ["NULL"],
    "garbage_entry.so": ["wharf_plugin_entry"],
    "null_name.so": ["name"],
    "dup_settings.so": ["duplicate setting", "api_key"],
    "junk.so": ["ELF"],
    "writable.so": ["writable"],
    "zz_duplicate_name.so": ["fixture-valid"],
}

FIXTURE_FILES = ["valid_1_0", "minor_1_1", "wrong_major", "bad_magic", "no_entry",
                 "null_entry", "garbage_entry", "null_name", "dup_settings",
                 "create_fails", "requires_whitelist"]

REJECTED_LINE = re.compile(r"\bWARN\s+plugin rejected: (/.+?\.so): (.+)$")
LOADED_LINE = re.compile(r"plugin loaded: (\S+) (\S+) \(ABI (\d+\.\d+)\) from (/.+\.so)$")


class LoaderTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.plugins_dir = tempfile.mkdtemp(prefix="wharf-loader-")
        for name in FIXTURE_FILES:
            harness.copy_fixture(name, cls.plugins_dir)
        harness.copy_fixture("duplicate_name", cls.plugins_dir, "zz_duplicate_name.so")

        with open(os.path.join(cls.plugins_dir, "junk.so"), "w", encoding="utf-8") as junk:
            junk.write("this is a text file, not a shared object\n")

        with open(os.path.join(cls.plugins_dir, "notes.txt"), "w", encoding="utf-8") as notes:
            notes.write("not a plugin: the loader only reads files named *.so\n")

        writable = harness.copy_fixture("valid_1_0", cls.plugins_dir, "writable.so")
        os.chmod(writable, os.stat(writable).st_mode | stat.S_IWOTH)

        cls.service = Wharfd(plugins_dir=cls.plugins_dir)
        try:
            cls.service.__enter__()
        except BaseException:
            shutil.rmtree(cls.plugins_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.service.__exit__(None, None, None)
        finally:
            shutil.rmtree(cls.plugins_dir, ignore_errors=True)

    def setUp(self):
        self.listing = self.service.plugins()
        self.plugins = {plugin["name"]: plugin for plugin in self.listing["plugins"]}
        self.rejected = {os.path.basename(entry["file"]): entry
                         for entry in self.listing["rejected"]}

    def run(self, result=None):
        # Print wharfd's stderr next to any failure of this class.
        before = len(result.failures) + len(result.errors) if result else 0
        outcome = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            print("---- wharfd stderr ----\n" + self.service.stderr_text())
        return outcome

    def test_lists_exactly_valid_plugins(self):
        self.assertEqual(sorted(self.plugins), sorted(LOADED_FIXTURES.values()))
        for file_name, plugin_name in LOADED_FIXTURES.items():
            with self.subTest(plugin=plugin_name):
                self.assertEqual(os.path.basename(self.plugins[plugin_name]["file"]), file_name)

    def test_valid_plugin_description(self):
        plugin = self.plugins["fixture-valid"]

        self.assertEqual(plugin["version"], "1.0.0")
        self.assertEqual(plugin["abi"], "1.0")
        self.assertEqual(plugin["batch_policy"], "ignores_whitelist")
        self.assertEqual(sorted(plugin["entity_types"]), ["accounts", "users"])
        self.assertEqual(plugin["max_batch_size"], 50)

        settings = {setting["name"]: setting for setting in plugin["settings"]}
        self.assertEqual([setting["name"] for setting in plugin["settings"]],
                         ["api_key", "region", "retries"])
        self.assertEqual(settings["api_key"]["type"], "string")
        self.assertIs(settings["api_key"]["required"], True)
        self.assertIs(settings["api_key"]["secret"], True)
        self.assertIsNone(settings["api_key"]["default"])
        self.assertEqual(settings["region"]["type"], "string")
        self.assertIs(settings["region"]["required"], False)
        self.assertIs(settings["region"]["secret"], False)
        self.assertEqual(settings["region"]["default"], "eu")
        self.assertEqual(settings["retries"]["type"], "integer")
        self.assertIsNone(settings["retries"]["default"])
        for setting in plugin["settings"]:
            with self.subTest(setting=setting["name"]):
                self.assertTrue(setting["help"])

    def test_later_minor_plugin_description(self):
        plugin = self.plugins["fixture-minor"]

        self.assertEqual(plugin["version"], "1.1.0")
        self.assertEqual(plugin["abi"], "1.1")
        self.assertEqual(plugin["entity_types"], ["users"])
        self.assertEqual(plugin["settings"], [])

    def test_requires_whitelist_policy_listed(self):
        plugin = self.plugins["fixture-requires-whitelist"]

        self.assertEqual(plugin["batch_policy"], "requires_whitelist")

    def test_rejects_every_bad_file(self):
        self.assertEqual(sorted(self.rejected), sorted(REJECTION_WORDS))
        for file_name, words in REJECTION_WORDS.items():
            reason = self.rejected.get(file_name, {}).get("reason", "")
            with self.subTest(file=file_name):
                self.assertTrue(reason, "rejection of %s has no reason" % file_name)
            for word in words:
                with self.subTest(file=file_name, word=word):
                    self.assertIn(word, reason)

    def test_duplicate_name_reason_names_other_file(self):
        reason = self.rejected["zz_duplicate_name.so"]["reason"]

        self.assertTrue("already loaded" in reason or "valid_1_0.so" in reason, reason)

    def test_rejected_file_paths_are_absolute(self):
        for file_name, entry in self.rejected.items():
            with self.subTest(file=file_name):
                self.assertEqual(entry["file"], os.path.join(self.plugins_dir, file_name))

    def test_one_stderr_line_per_file(self):
        rejected_lines = {}
        loaded_lines = {}
        for line in self.service.stderr_lines():
            rejected = REJECTED_LINE.search(line)
            if rejected:
                rejected_lines.setdefault(os.path.basename(rejected.group(1)), []).append(line)
            loaded = LOADED_LINE.search(line)
            if loaded:
                loaded_lines.setdefault(os.path.basename(loaded.group(4)), []).append(loaded)

        self.assertEqual(sorted(rejected_lines), sorted(REJECTION_WORDS))
        for file_name, lines in rejected_lines.items():
            with self.subTest(rejected=file_name):
                self.assertEqual(len(lines), 1, lines)
                self.assertTrue(lines[0].endswith(self.rejected[file_name]["reason"]), lines[0])

        self.assertEqual(sorted(loaded_lines), sorted(LOADED_FIXTURES))
        for file_name, matches in loaded_lines.items():
            with self.subTest(loaded=file_name):
                self.assertEqual(len(matches), 1)
                self.assertEqual(matches[0].group(1), LOADED_FIXTURES[file_name])
                self.assertEqual(matches[0].group(4), os.path.join(self.plugins_dir, file_name))

        valid = loaded_lines["valid_1_0.so"][0]
        self.assertEqual(valid.group(2), "1.0.0")
        self.assertEqual(valid.group(3), "1.0")

    def test_service_still_healthy(self):
        status, body = self.service.get("/healthz")

        self.assertEqual(status, 200)
        self.assertEqual(body, {"status": "ok"})

    def test_create_failure_returns_plugin_message(self):
        secret = "key-3f9a1c"

        status, body = self.service.create_connector(
            "fixture-create-fails", "create fails", {"api_key": secret})

        self.assertEqual(status, 400, body)
        self.assertIn("api_key is not valid for this account", body["error"])
        self.assertNotIn(secret, body["error"])
        self.assertNotIn(secret, self.service.stderr_text())

        status, listing = self.service.get("/api/v1/connectors")
        self.assertEqual(status, 200)
        self.assertNotIn("create fails", [connector["name"] for connector in listing["connectors"]])

    def check_fixture_connector_sends(self, plugin_name, settings):
        status, connector = self.service.create_connector(plugin_name, plugin_name + " test",
                                                          settings)
        self.assertEqual(status, 201, connector)
        self.addCleanup(self.service.delete, "/api/v1/connectors/" + connector["id"])

        status, body = self.service.post("/api/v1/connectors/%s/test" % connector["id"])

        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["results"]), 1, body)
        self.assertEqual(body["results"][0]["result"], "success")
        self.assertEqual(body["results"][0]["status_code"], 200)
        return connector

    def test_valid_plugin_connector_sends(self):
        connector = self.check_fixture_connector_sends("fixture-valid", {"api_key": "key-77d0"})

        self.assertEqual(connector["settings"].get("region"), "eu")
        self.assertNotIn("api_key", connector["settings"])
        self.assertEqual(connector["secret_settings"], ["api_key"])

    def test_later_minor_connector_sends(self):
        self.check_fixture_connector_sends("fixture-minor", {})


if __name__ == "__main__":
    unittest.main()
