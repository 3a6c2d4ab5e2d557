"""End-to-end tests of the bundled file plugin through the real wharfd.

Each test starts wharfd with file.so only, writes users through the Segment
API, points a file connector at a temporary directory and reads back the
NDJSON files it wrote. Every test compares the external_ids found in the
files with the set it computes from the users it wrote.
"""

import collections
import json
import os
import re
import time
import unittest

import harness
from data_client import WRITE_KEY
from sync_client import SyncTestCase

FILE_PLUGIN = "file"
PLANS = {"pro": 6, "free": 4}
FILE_NAME = re.compile(r"^(?P<prefix>.+)-(?P<connector>[0-9a-f-]{36})-(?P<stamp>\d{8}T\d{6}Z)"
                       r"-(?P<sequence>\d{6})\.ndjson(?P<part>\.part)?$")


def plan_query(plan):
    return {"attribute": "plan", "op": "eq", "value": plan}


class FilePluginTestCase(SyncTestCase):
    """wharfd with the file plugin, an export directory and users pro-0..5 and free-0..3."""

    def setUp(self):
        plugins_dir = harness.make_plugins_dir(self, bundled=[FILE_PLUGIN])
        self.service = self.start_wharfd(plugins_dir=plugins_dir,
                                         args=["--write-key", WRITE_KEY])
        self.export_dir = harness.make_temp_dir(self, prefix="wharf-export-")
        self.send([{"type": "identify", "userId": "%s-%d" % (plan, index),
                    "traits": {"plan": plan, "name": "Ünal %s %d" % (plan, index)}}
                   for plan, count in PLANS.items() for index in range(count)])
        self.pro = self.create_segment("Pro", plan_query("pro"))

    def external_ids(self, plan):
        return ["%s-%d" % (plan, index) for index in range(PLANS[plan])]

    def create_file_connector(self, name="export", user_segments=(), **settings):
        values = {"directory": self.export_dir}
        values.update(settings)
        return self.create_connector(FILE_PLUGIN, name, values, user_segments=user_segments)

    def files(self, directory=None):
        """Names of the NDJSON files (finished and open) in the export directory, sorted."""
        names = sorted(name for name in os.listdir(directory or self.export_dir)
                       if FILE_NAME.match(name))
        return names

    def read_lines(self, name):
        with open(os.path.join(self.export_dir, name), "rb") as exported:
            data = exported.read()
        if data:
            self.assertTrue(data.endswith(b"\n"), "%s does not end with a newline" % name)
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]

    def written_messages(self):
        return [message for name in self.files() for message in self.read_lines(name)]

    def written_external_ids(self, is_export=None):
        return collections.Counter(message["user"]["external_id"]
                                   for message in self.written_messages()
                                   if message["type"] == "user"
                                   and (is_export is None or message["is_export"] is is_export))

    def send_segment(self, connector_id, segment_id, expected_state="done"):
        status, view = self.start_batch(connector_id, {"segment_id": segment_id})
        self.assertEqual(status, 202, view)
        view = self.wait_batch(view["id"])
        self.assertEqual(view["state"], expected_state, view)
        return view

    def run_test_message(self, connector_id):
        status, body = self.service.post("/api/v1/connectors/%s/test" % connector_id)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["results"]), 1, body)
        return body["results"][0]


class FileDeliveryTest(FilePluginTestCase):

    def test_schema_is_blocking_and_ignores_whitelist(self):
        plugins = {plugin["name"]: plugin for plugin in self.service.plugins()["plugins"]}
        plugin = plugins[FILE_PLUGIN]
        self.assertEqual(plugin["batch_policy"], "ignores_whitelist")
        self.assertEqual(sorted(plugin["entity_types"]), ["accounts", "users"])
        self.assertEqual([setting["name"] for setting in plugin["settings"]],
                         ["directory", "file_prefix", "max_file_bytes", "max_file_age_seconds",
                          "max_record_bytes"])

    def test_manual_batch_writes_one_line_each(self):
        connector = self.create_file_connector()

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["total"], view["sent"], view["skipped"], view["failed"]),
                         (PLANS["pro"], PLANS["pro"], 0, 0), view)
        names = self.files()
        self.assertEqual(len(names), 1, names)
        match = FILE_NAME.match(names[0])
        self.assertEqual((match["prefix"], match["connector"], match["sequence"], match["part"]),
                         ("wharf", connector["id"], "000001", ".part"))
        self.assertEqual(self.written_external_ids(is_export=True),
                         collections.Counter(self.external_ids("pro")))
        for message in self.written_messages():
            self.assertEqual(message["user"]["attributes"]["plan"], "pro")
            self.assertNotIn("changes", message)

    def test_automatic_update_written(self):
        connector = self.create_file_connector(user_segments=[self.pro["id"]])

        self.identify("pro-1", {"score": 7})
        self.identify("free-1", {"score": 3})
        self.settle(connector["id"], user_id=self.user("pro-1")["id"])

        automatic = [message for message in self.written_messages()
                     if message["is_export"] is False]
        self.assertEqual([message["user"]["external_id"] for message in automatic], ["pro-1"])
        self.assertEqual(automatic[0]["changes"]["attributes"], {"score": [None, 7]})
        skips = self.all_logs(connector["id"], message="outgoing.user.skip")
        self.assertEqual([line["claims"]["external_id"] for line in skips], ["free-1"])

    def test_account_messages_written(self):
        self.send([{"type": "group", "userId": "pro-%d" % index, "groupId": "acct-%d" % index,
                    "traits": {"domain": "acct-%d.example" % index, "tier": "gold"}}
                   for index in range(3)])
        gold = self.create_segment("Gold", {"attribute": "tier", "op": "eq", "value": "gold"},
                                   entity_type="accounts")
        connector = self.create_file_connector()

        view = self.send_segment(connector["id"], gold["id"])

        self.assertEqual(view["sent"], 3, view)
        accounts = [message for message in self.written_messages()
                    if message["type"] == "account"]
        self.assertEqual(sorted(message["account"]["external_id"] for message in accounts),
                         ["acct-0", "acct-1", "acct-2"])
        self.assertEqual(len(self.written_messages()), 3)

    def test_rotation_by_size(self):
        connector = self.create_file_connector(max_file_bytes=1024, max_record_bytes=1024)
        everyone = self.create_segment("Everyone", {"attribute": "plan", "op": "exists"})

        self.send_segment(connector["id"], everyone["id"])

        names = self.files()
        self.assertGreater(len(names), 1, names)
        for name in names[:-1]:
            self.assertFalse(name.endswith(".part"), names)
            self.assertLessEqual(os.path.getsize(os.path.join(self.export_dir, name)), 1024)
        self.assertTrue(names[-1].endswith(".part"), names)
        sequences = [FILE_NAME.match(name)["sequence"] for name in names]
        self.assertEqual(sequences, ["%06d" % number for number in range(1, len(names) + 1)])
        self.assertEqual(self.written_external_ids(),
                         collections.Counter(self.external_ids("pro") + self.external_ids("free")))

    def test_rotation_by_age(self):
        connector = self.create_file_connector(max_file_age_seconds=1)

        self.send_segment(connector["id"], self.pro["id"])
        first = self.files()
        time.sleep(1.2)
        self.send_segment(connector["id"], self.pro["id"])

        names = self.files()
        self.assertEqual(len(first), 1, first)
        self.assertEqual(len(names), 2, names)
        self.assertEqual(names[0], first[0][:-len(".part")])
        self.assertTrue(names[1].endswith(".part"), names)
        for name in names:
            self.assertEqual(collections.Counter(m["user"]["external_id"]
                                                 for m in self.read_lines(name)),
                             collections.Counter(self.external_ids("pro")))

    def test_stop_finishes_open_file(self):
        connector = self.create_file_connector(file_prefix="audit")
        self.send_segment(connector["id"], self.pro["id"])
        self.assertTrue(self.files()[0].endswith(".part"))

        self.service.restart()

        names = self.files()
        self.assertEqual(len(names), 1, names)
        self.assertTrue(names[0].startswith("audit-"), names)
        self.assertTrue(names[0].endswith(".ndjson"), names)
        self.assertEqual(self.written_external_ids(),
                         collections.Counter(self.external_ids("pro")))

        # The next file gets a name of its own, also when the restart took
        # less than a second and the time in the name is the same.
        self.send_segment(connector["id"], self.pro["id"])
        later = self.files()
        self.assertEqual(len(later), 2, later)
        self.assertIn(names[0], later)
        self.assertEqual(self.written_external_ids(),
                         collections.Counter(self.external_ids("pro") * 2))

    def test_leftover_part_file_finished(self):
        connector = self.create_file_connector()
        leftover = "wharf-%s-20260101T000000Z-000009.ndjson.part" % connector["id"]
        with open(os.path.join(self.export_dir, leftover), "w", encoding="utf-8") as part:
            part.write('{"earlier": 1}\n{"earlier": 2, "cut": ')
        other = "wharf-00000000-0000-4000-8000-000000000000-20260101T000000Z-000001.ndjson.part"
        with open(os.path.join(self.export_dir, other), "w", encoding="utf-8") as part:
            part.write('{"other": 1}\n')

        self.send_segment(connector["id"], self.pro["id"])

        names = os.listdir(self.export_dir)
        self.assertIn(leftover[:-len(".part")], names)
        self.assertNotIn(leftover, names)
        self.assertIn(other, names, "a file of another connector was touched")
        self.assertEqual(self.read_lines(leftover[:-len(".part")]), [{"earlier": 1}])

    def test_test_message_writes_no_line(self):
        connector = self.create_file_connector()

        result = self.run_test_message(connector["id"])

        self.assertEqual(result["result"], "success", result)
        self.assertEqual(self.files(), [])
        self.assertEqual([name for name in os.listdir(self.export_dir)], [],
                         "the probe file was left behind")


class FileBadInputTest(FilePluginTestCase):

    def assert_rejected(self, settings, *fragments):
        status, body = self.service.create_connector(FILE_PLUGIN, "bad", settings)
        self.assertEqual(status, 400, body)
        for fragment in fragments:
            self.assertIn(fragment, body["error"])
        return body["error"]

    def test_missing_directory_rejected(self):
        missing = os.path.join(self.export_dir, "nope")

        self.assert_rejected({"directory": missing}, '"directory"', missing, "does not exist")

    def test_relative_directory_rejected(self):
        self.assert_rejected({"directory": "exports"}, '"directory"', "absolute path")

    def test_directory_setting_required(self):
        self.assert_rejected({}, "directory")

    def test_file_as_directory_rejected(self):
        path = os.path.join(self.export_dir, "plain-file")
        with open(path, "w", encoding="utf-8") as plain:
            plain.write("x")

        self.assert_rejected({"directory": path}, '"directory"', "not a directory")

    def test_bad_numbers_rejected(self):
        self.assert_rejected({"directory": self.export_dir, "max_file_bytes": 10},
                             '"max_file_bytes"', "10")
        self.assert_rejected({"directory": self.export_dir, "max_file_bytes": 4096,
                              "max_record_bytes": 8192}, '"max_record_bytes"', "max_file_bytes")
        self.assert_rejected({"directory": self.export_dir, "file_prefix": "../x"},
                             '"file_prefix"')

    def test_directory_removed_later(self):
        connector = self.create_file_connector()
        os.rmdir(self.export_dir)

        result = self.run_test_message(connector["id"])
        self.assertEqual(result["result"], "error", result)
        self.assertIn(self.export_dir, result["reason"])
        self.assertIn('setting "directory"', result["reason"])

        view = self.send_segment(connector["id"], self.pro["id"], expected_state="failed")
        self.assertEqual((view["sent"], view["failed"]), (0, PLANS["pro"]), view)
        errors = self.all_logs(connector["id"], message="outgoing.user.error",
                               batch_id=view["id"])
        self.assertEqual({line["claims"]["external_id"] for line in errors},
                         set(self.external_ids("pro")))
        for line in errors:
            self.assertIn("does not exist", line["data"]["reason"])
            self.assertIn('setting "directory"', line["data"]["reason"])

        os.mkdir(self.export_dir)
        self.assertEqual(self.run_test_message(connector["id"])["result"], "success")
        self.send_segment(connector["id"], self.pro["id"])
        self.assertEqual(self.written_external_ids(),
                         collections.Counter(self.external_ids("pro")))

    def test_oversize_message_error_neighbours_written(self):
        connector = self.create_file_connector(max_record_bytes=1024)
        self.identify("pro-2", {"biography": "x" * 2000})

        view = self.send_segment(connector["id"], self.pro["id"])

        self.assertEqual((view["sent"], view["failed"]), (PLANS["pro"] - 1, 1), view)
        expected = collections.Counter(self.external_ids("pro"))
        del expected["pro-2"]
        self.assertEqual(self.written_external_ids(is_export=True), expected)
        error, = self.all_logs(connector["id"], message="outgoing.user.error",
                               batch_id=view["id"])
        self.assertEqual(error["claims"]["external_id"], "pro-2")
        self.assertIn('setting "max_record_bytes" (1024)', error["data"]["reason"])


if __name__ == "__main__":
    unittest.main()
