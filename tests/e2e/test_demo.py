"""The README's main-job command (scripts/demo) run against the test build."""

import json
import os
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
    def test_demo_delivers_test_message(self):
        demo_dir = tempfile.mkdtemp(prefix="wharf-demo-")
        self.addCleanup(shutil.rmtree, demo_dir, True)
        environment = dict(os.environ)
        environment.update({
            "DEMO_EXIT": "1",
            "WHARF_DEMO_BUILD_DIR": os.path.dirname(harness.WHARFD),
            "WHARF_DEMO_DIR": demo_dir,
            "WHARF_DEMO_PORT": str(free_port()),
            "WHARF_DEMO_DESTINATION_PORT": str(free_port()),
        })

        completed = subprocess.run(
            [os.path.join(harness.SOURCE_DIR, "scripts", "demo")],
            cwd=harness.SOURCE_DIR, env=environment, capture_output=True,
            text=True, timeout=120)
        output = completed.stdout + completed.stderr

        self.assertEqual(completed.returncode, 0, output)
        self.assertIn("webhook 1.0.0 (ABI 1.0, ignores_whitelist)", output)
        self.assertIn("result: success (HTTP 200)", output)
        self.assertIn("wharfd stopped", output)
        self.assertNotIn("demo-token", output)

        with open(os.path.join(demo_dir, "received.ndjson"), "rb") as received:
            lines = received.read().splitlines()
        self.assertEqual(len(lines), 1)
        messages = json.loads(lines[0])
        self.assertEqual(len(messages), 1)
        self.assertEqual(messages[0]["user"]["external_id"], "wharf-test-user")
        self.assertTrue(messages[0]["is_test"])


if __name__ == "__main__":
    unittest.main()
