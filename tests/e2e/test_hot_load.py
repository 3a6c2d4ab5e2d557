"""End-to-end tests of plugins dropped into the plugins dir while wharfd runs."""

import os
import time
import unittest

import harness

# wharfd loads a new file once its size and mtime have been stable for about
# a second, so a renamed-in file must be listed well within this time.
RENAMED_LOAD_SECONDS = 2

SLOW_COPY_CHUNKS = 8
SLOW_COPY_PAUSE_SECONDS = 0.15

# How long a test watches for a repeated rejection after the first one. The
# watcher retries a changed file after about a second of stability, so two
# seconds cover at least one more scan.
REPEAT_WATCH_SECONDS = 2


class HotLoadTest(harness.ServiceTestCase):

    def setUp(self):
        self.plugins_dir = harness.make_plugins_dir(self, fixtures=["valid_1_0"])
        self.service = self.start_wharfd(plugins_dir=self.plugins_dir)

    def listing(self):
        return self.service.plugins()

    def plugin_names(self):
        return sorted(plugin["name"] for plugin in self.listing()["plugins"])

    def rejected_files(self):
        return [os.path.basename(entry["file"]) for entry in self.listing()["rejected"]]

    def test_starts_with_initial_plugin(self):
        self.assertEqual(self.plugin_names(), ["fixture-valid"])
        self.assertEqual(self.rejected_files(), [])

    def test_renamed_plugin_listed_within_2s(self):
        final_path = os.path.join(self.plugins_dir, "minor_1_1.so")
        staging_path = harness.copy_fixture("minor_1_1", self.plugins_dir, "minor_1_1.so.partial")
        mark = self.service.log_mark()

        started = time.monotonic()
        os.rename(staging_path, final_path)
        self.service.wait_until(lambda: "fixture-minor" in self.plugin_names(),
                                timeout=RENAMED_LOAD_SECONDS, interval=0.05,
                                message="fixture-minor not listed within %d s of the rename"
                                        % RENAMED_LOAD_SECONDS)
        elapsed = time.monotonic() - started

        self.assertLess(elapsed, harness.scaled(RENAMED_LOAD_SECONDS))
        self.assertEqual(self.plugin_names(), ["fixture-minor", "fixture-valid"])
        self.assertEqual(self.rejected_files(), [])
        line = self.service.wait_for_log("plugin loaded: fixture-minor", since=mark)
        self.assertIn(final_path, line)

    def test_symlinked_plugin_loaded(self):
        link_path = os.path.join(self.plugins_dir, "linked.so")
        mark = self.service.log_mark()

        os.symlink(harness.fixture_path("requires_whitelist"), link_path)

        self.service.wait_until(lambda: "fixture-requires-whitelist" in self.plugin_names(),
                                timeout=RENAMED_LOAD_SECONDS,
                                message="symlinked plugin not listed within %d s"
                                        % RENAMED_LOAD_SECONDS)
        self.assertEqual(self.rejected_files(), [])
        line = self.service.wait_for_log("plugin loaded: fixture-requires-whitelist", since=mark)
        self.assertIn("linked.so", line)

    def test_slow_copy_not_rejected_midway(self):
        source = harness.fixture_path("requires_whitelist")
        with open(source, "rb") as source_file:
            content = source_file.read()
        chunk_size = -(-len(content) // SLOW_COPY_CHUNKS)
        destination = os.path.join(self.plugins_dir, "requires_whitelist.so")
        mark = self.service.log_mark()

        with open(destination, "wb") as copy:
            for offset in range(0, len(content), chunk_size):
                copy.write(content[offset:offset + chunk_size])
                copy.flush()
                self.assertNotIn("requires_whitelist.so", self.rejected_files(),
                                 "rejected after %d of %d bytes" % (offset + chunk_size,
                                                                    len(content)))
                time.sleep(SLOW_COPY_PAUSE_SECONDS)

        def listed_or_rejected():
            listing = self.listing()
            rejected = [entry for entry in listing["rejected"]
                        if os.path.basename(entry["file"]) == "requires_whitelist.so"]
            self.assertEqual(rejected, [], "the slowly copied plugin was rejected")
            return any(plugin["name"] == "fixture-requires-whitelist"
                       for plugin in listing["plugins"])

        self.service.wait_until(listed_or_rejected, timeout=5,
                                message="fixture-requires-whitelist not listed within 5 s "
                                        "of the copy completing")

        self.assertEqual(self.rejected_files(), [])
        self.assertEqual(self.plugin_names(), ["fixture-requires-whitelist", "fixture-valid"])
        rejected_lines = [line for line in self.service.stderr_lines()[mark:]
                          if "plugin rejected" in line]
        self.assertEqual(rejected_lines, [])
        loaded_lines = [line for line in self.service.stderr_lines()[mark:]
                        if "plugin loaded: fixture-requires-whitelist" in line]
        self.assertEqual(len(loaded_lines), 1, loaded_lines)

    def test_non_elf_dropped_in_rejected_once(self):
        junk_path = os.path.join(self.plugins_dir, "junk.so")
        mark = self.service.log_mark()

        with open(junk_path, "w", encoding="utf-8") as junk:
            junk.write("#!/bin/sh\necho this is not a shared object\n")

        self.service.wait_until(lambda: "junk.so" in self.rejected_files(), timeout=5,
                                message="junk.so not rejected within 5 s")
        line = self.service.wait_for_log("plugin rejected: " + junk_path, since=mark)
        self.assertIn("ELF", line)

        # The file does not change again, so no later scan may reject it again.
        deadline = time.monotonic() + REPEAT_WATCH_SECONDS
        while time.monotonic() < deadline:
            self.assertEqual(len(self.service.log_lines_matching("plugin rejected: " + junk_path)),
                             1)
            time.sleep(0.1)

        self.assertEqual(self.rejected_files().count("junk.so"), 1)
        status, body = self.service.get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(self.plugin_names(), ["fixture-valid"])


if __name__ == "__main__":
    unittest.main()
