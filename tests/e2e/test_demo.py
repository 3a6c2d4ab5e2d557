"""The README's main-job command (scripts/demo) run against the test build."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoTest(unittest.TestCase):
    def test_demo_runs_whole_flow(self):
        demo_dir = tempfile.mkdtemp(prefix="wharf-demo-")
        self.addCleanup(shutil.rmtree, demo_dir, True)
        environment = dict(os.environ)
        environment.update({
            "DEMO_EXIT": "1",
            "WHARF_DEMO_BUILD_DIR": os.path.dirname(harness.WHARFD),
            "WHARF_DEMO_DIR": demo_dir,
            "WHARF_DEMO_PORT": str(free_port()),
            "WHARF_DEMO_DESTINATION_PORT": str(free_port()),
            "WHARF_DEMO_USERS": "300",
        })

        completed = subprocess.run(
            [os.path.join(harness.SOURCE_DIR, "scripts", "demo")],
            cwd=harness.SOURCE_DIR, env=environment, capture_output=True,
            text=True, timeout=180)
        output = completed.stdout + completed.stderr

        self.assertEqual(completed.returncode, 0, output)
        self.assertIn("webhook 1.0.0 (ABI 1.1, ignores_whitelist)", output)
        self.assertIn("demo-data: sent 300 users", output)
        sent_line = re.search(r"outgoing\.user\.success (demo-\d+): HTTP 200", output)
        skipped_line = re.search(r"outgoing\.user\.skip (demo-\d+): user is in none of the "
                                 r"segments in synchronized_user_segments", output)
        self.assertIsNotNone(sent_line, output)
        self.assertIsNotNone(skipped_line, output)
        self.assertIn("wharfd stopped", output)
        self.assertIn("wharfd has stopped (DEMO_EXIT=1)", completed.stdout)

        # Every value in the "where to look" block starts in the same column.
        block = completed.stdout.split("== where to look\n", 1)[1].split("\n\n", 1)[0]
        labels = [re.match(r"  [a-z][a-z ]*: +", line) for line in block.splitlines()]
        self.assertGreaterEqual(len([label for label in labels if label]), 7, block)
        self.assertEqual(len({label.end() for label in labels if label}), 1, block)
        self.assertNotIn("demo-token", output)

        match = re.search(r"batch \S+: done, total (\d+), sent (\d+), skipped 0, failed 0", output)
        self.assertIsNotNone(match, output)
        total, sent = int(match.group(1)), int(match.group(2))
        self.assertGreater(total, 0)
        self.assertEqual(sent, total)

        exported = set()
        automatic = []
        with open(os.path.join(demo_dir, "received.ndjson"), "rb") as received:
            for line in received.read().splitlines():
                for message in json.loads(line):
                    if message["is_export"]:
                        exported.add(message["user"]["external_id"])
                    else:
                        automatic.append(message)
        self.assertEqual(len(exported), total)
        self.assertEqual([m["user"]["external_id"] for m in automatic], [sent_line.group(1)])
        self.assertIn("yearly_income", automatic[0]["changes"]["attributes"])


if __name__ == "__main__":
    unittest.main()
