#!/usr/bin/env python3
"""Install the build, build the installed template out of tree, load it.

Steps, each depending on the one before:
  1. `cmake --install BUILD --prefix TMP/prefix`, then check the installed
     files: wharfd, the webhook plugin, the ABI and SDK headers, the SDK
     archives, the pkg-config files, the CMake package and the template.
  2. Copy PREFIX/share/wharf/sdk/template and build it with its Makefile
     (pkg-config), including `make check`, which runs the harness test.
  3. Copy it again and build it with CMake and find_package(WharfSDK),
     then run its ctest.
  4. Start the installed wharfd on a plugins directory that contains the
     built template.so. Check GET /api/v1/plugins and run the connector
     test endpoint, then deploy webhook.so by copy-then-rename while
     wharfd runs.
  5. Start it again on PREFIX/lib/wharf/plugins and check that webhook
     is listed with its settings schema.

Everything runs on loopback against servers this script starts, with
bounded waits. Usage (ctest passes these):
  template_builds.py --build-dir DIR --source-dir DIR --libdir lib
                     [--sanitize on|off] [--cmake PATH] [--ctest PATH]
                     [--cc PATH] [--keep]
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LISTENING = re.compile(r"wharfd listening on http://127\.0\.0\.1:(\d+)")
SANITIZER_FLAGS = "-fsanitize=address,undefined -fno-omit-frame-pointer"
STEP_TIMEOUT = 300  # seconds for one build or install command


def fail(message):
    raise AssertionError(message)


def run(command, cwd=None, env=None):
    """Run command; on failure, raise with its output."""
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT)
    if result.returncode != 0:
        fail("command failed with exit code %d: %s\n%s"
             % (result.returncode, " ".join(command), result.stdout))
    return result.stdout


def check_file(path, executable=False):
    if not os.path.isfile(path):
        fail("expected installed file %s is missing" % path)
    if executable and not os.access(path, os.X_OK):
        fail("installed file %s is not executable" % path)


def check_installed_files(prefix, libdir):
    lib = os.path.join(prefix, libdir)
    check_file(os.path.join(prefix, "bin", "wharfd"), executable=True)
    check_file(os.path.join(lib, "wharf", "plugins", "webhook.so"))
    for header in ("plugin.h", "host.h"):
        check_file(os.path.join(prefix, "include", "wharf", header))
    for header in ("buffer.h", "settings.h", "batch_json.h", "json_writer.h",
                   "retry_after.h", "http_result.h", "clock.h", "harness.h"):
        check_file(os.path.join(prefix, "include", "wharf", "sdk", header))
    check_file(os.path.join(lib, "libwharf-sdk.a"))
    check_file(os.path.join(lib, "libwharf-sdk-harness.a"))
    check_file(os.path.join(lib, "pkgconfig", "wharf-sdk.pc"))
    check_file(os.path.join(lib, "pkgconfig", "wharf-sdk-harness.pc"))
    for name in ("WharfSDKConfig.cmake", "WharfSDKConfigVersion.cmake",
                 "WharfSDKTargets.cmake"):
        check_file(os.path.join(lib, "cmake", "WharfSDK", name))
    for name in ("template.c", "test_template.c", "Makefile", "CMakeLists.txt", "README.md"):
        check_file(os.path.join(prefix, "share", "wharf", "sdk", "template", name))


def check_pkg_config(prefix, libdir, env):
    cflags = run(["pkg-config", "--cflags", "wharf-sdk"], env=env).split()
    include_dirs = [os.path.realpath(flag[2:]) for flag in cflags if flag.startswith("-I")]
    expected = os.path.realpath(os.path.join(prefix, "include"))
    if expected not in include_dirs:
        fail("pkg-config --cflags wharf-sdk gives %s, without -I%s" % (cflags, expected))

    libs = run(["pkg-config", "--libs", "wharf-sdk"], env=env).split()
    for flag in ("-lwharf-sdk", "-ljson-c"):
        if flag not in libs:
            fail("pkg-config --libs wharf-sdk gives %s, without %s" % (libs, flag))
    library_dirs = [os.path.realpath(flag[2:]) for flag in libs if flag.startswith("-L")]
    if os.path.realpath(os.path.join(prefix, libdir)) not in library_dirs:
        fail("pkg-config --libs wharf-sdk gives %s, without -L%s/%s" % (libs, prefix, libdir))


def check_exports(plugin):
    """A plugin must export wharf_plugin_entry and none of the SDK's functions."""
    symbols = run(["nm", "-D", "--defined-only", plugin]).split()
    if "wharf_plugin_entry" not in symbols:
        fail("%s does not export wharf_plugin_entry:\n%s" % (plugin, symbols))
    leaked = [symbol for symbol in symbols if symbol.startswith("wharf_")
              and symbol != "wharf_plugin_entry"]
    if leaked:
        fail("%s exports SDK functions %s; build with -fvisibility=hidden" % (plugin, leaked))


def build_with_make(template_dir, work, env, options):
    source = os.path.join(work, "make-template")
    shutil.copytree(template_dir, source)
    command = ["make", "check", "CC=" + options.cc]
    if options.sanitize == "on":
        command += ["CFLAGS=-O1 -g " + SANITIZER_FLAGS, "LDFLAGS=" + SANITIZER_FLAGS]
    output = run(command, cwd=source, env=env)
    if "template: all checks passed" not in output:
        fail("make check did not report passing checks:\n" + output)
    plugin = os.path.join(source, "template.so")
    check_file(plugin)
    check_exports(plugin)
    return plugin


def build_with_cmake(template_dir, work, prefix, env, options):
    source = os.path.join(work, "cmake-template")
    build = os.path.join(work, "cmake-template-build")
    shutil.copytree(template_dir, source)
    configure = [options.cmake, "-S", source, "-B", build,
                 "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_C_COMPILER=" + options.cc]
    if options.sanitize == "on":
        configure += ["-DCMAKE_C_FLAGS=" + SANITIZER_FLAGS,
                      "-DCMAKE_SHARED_LINKER_FLAGS=" + SANITIZER_FLAGS,
                      "-DCMAKE_MODULE_LINKER_FLAGS=" + SANITIZER_FLAGS,
                      "-DCMAKE_EXE_LINKER_FLAGS=" + SANITIZER_FLAGS]
    run(configure, env=env)
    run([options.cmake, "--build", build], env=env)
    output = run([options.ctest, "--test-dir", build, "--output-on-failure"], env=env)
    if "100% tests passed" not in output:
        fail("ctest of the CMake-built template did not pass:\n" + output)
    plugin = os.path.join(build, "template.so")
    check_file(plugin)
    check_exports(plugin)
    return plugin


class Wharfd:
    """The installed wharfd on a free loopback port, stderr in a file."""

    def __init__(self, binary, work, name, plugins_dir):
        self.data_dir = os.path.join(work, name + "-data")
        os.makedirs(self.data_dir)
        self.log_path = os.path.join(work, name + ".log")
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
             "--plugins-dir", plugins_dir, "--log-level", "debug"],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file)
        self.port = None
        deadline = time.monotonic() + 30
        while self.port is None:
            if self.process.poll() is not None:
                fail("wharfd exited with code %d before listening:\n%s"
                     % (self.process.returncode, self.log()))
            if time.monotonic() > deadline:
                self.stop()
                fail("wharfd did not log its listening line within 30 s:\n" + self.log())
            match = LISTENING.search(self.log())
            if match:
                self.port = int(match.group(1))
            else:
                time.sleep(0.05)

    def log(self):
        with open(self.log_path) as log_file:
            return log_file.read()

    def request(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = json.dumps(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
        finally:
            connection.close()

    def wait_for(self, description, condition, timeout=15):
        """Poll condition() until it returns a true value or timeout elapses."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                fail("timed out after %d s waiting for %s; wharfd log:\n%s"
                     % (timeout, description, self.log()))
            time.sleep(0.1)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
                self.log_file.close()
                fail("wharfd did not stop within 30 s of SIGTERM:\n" + self.log())
        self.log_file.close()
        if self.process.returncode != 0:
            fail("wharfd exited with code %d:\n%s" % (self.process.returncode, self.log()))


def plugins_by_name(wharfd):
    status, body = wharfd.request("GET", "/api/v1/plugins")
    if status != 200:
        fail("GET /api/v1/plugins answered %d: %s" % (status, body))
    return {plugin["name"]: plugin for plugin in body["plugins"]}, body["rejected"]


def check_template_in_wharfd(binary, work, template_plugin, prefix, libdir):
    plugins_dir = os.path.join(work, "plugins")
    os.makedirs(plugins_dir)
    shutil.copy(template_plugin, os.path.join(plugins_dir, "template.so"))

    wharfd = Wharfd(binary, work, "template-run", plugins_dir)
    try:
        plugins, rejected = plugins_by_name(wharfd)
        if "template" not in plugins:
            fail("GET /api/v1/plugins does not list template: %s %s" % (plugins, rejected))
        if rejected:
            fail("wharfd rejected plugins: %s" % rejected)
        template = plugins["template"]
        if template["version"] != "0.1.0" or template["abi"] != "1.1":
            fail("template is listed as %s" % template)
        if [setting["name"] for setting in template["settings"]] != ["label", "verbose"]:
            fail("template settings are listed as %s" % template["settings"])
        if "plugin loaded: template 0.1.0 (ABI 1.1) from " not in wharfd.log():
            fail("wharfd did not log the template load:\n" + wharfd.log())

        status, connector = wharfd.request("POST", "/api/v1/connectors", {
            "plugin": "template", "name": "sdk template", "settings": {"label": "installed"}})
        if status != 201:
            fail("POST /api/v1/connectors answered %d: %s" % (status, connector))
        status, outcome = wharfd.request("POST", "/api/v1/connectors/%s/test" % connector["id"])
        if status != 200:
            fail("POST /api/v1/connectors/ID/test answered %d: %s" % (status, outcome))
        results = [result["result"] for result in outcome["results"]]
        if results != ["success"]:
            fail("the template's test send gave results %s" % outcome["results"])
        wharfd.wait_for("the template's log line",
                        lambda: "(template): accepted 1 message for installed" in wharfd.log())

        # Deploy as docs/connector-guide.md describes: copy under a name that
        # is not *.so, then rename into place in the same directory.
        temporary = os.path.join(plugins_dir, "webhook.so.partial")
        shutil.copy(os.path.join(prefix, libdir, "wharf", "plugins", "webhook.so"), temporary)
        os.rename(temporary, os.path.join(plugins_dir, "webhook.so"))
        wharfd.wait_for("webhook to be loaded after the rename",
                        lambda: "webhook" in plugins_by_name(wharfd)[0])
        rejected = plugins_by_name(wharfd)[1]
        if rejected:
            fail("wharfd rejected plugins after the deploy: %s" % rejected)
    finally:
        wharfd.stop()


def check_bundled_plugins_in_wharfd(binary, work, prefix, libdir):
    plugins_dir = os.path.join(prefix, libdir, "wharf", "plugins")
    wharfd = Wharfd(binary, work, "bundled-run", plugins_dir)
    try:
        plugins, rejected = plugins_by_name(wharfd)
        if "webhook" not in plugins:
            fail("GET /api/v1/plugins does not list webhook from %s: %s %s"
                 % (plugins_dir, plugins, rejected))
        if rejected:
            fail("wharfd rejected bundled plugins: %s" % rejected)
        webhook = plugins["webhook"]
        settings = {setting["name"]: setting for setting in webhook["settings"]}
        if sorted(settings) != ["batch_size", "headers", "timeout_ms", "url"]:
            fail("webhook settings are listed as %s" % webhook["settings"])
        if not settings["url"]["required"] or not settings["headers"]["secret"]:
            fail("webhook url must be required and headers secret: %s" % settings)
        if webhook["batch_policy"] != "ignores_whitelist" or webhook["max_batch_size"] != 1000:
            fail("webhook is listed as %s" % webhook)
        if sorted(webhook["entity_types"]) != ["accounts", "users"]:
            fail("webhook entity types are listed as %s" % webhook["entity_types"])
    finally:
        wharfd.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--libdir", default="lib")
    parser.add_argument("--sanitize", choices=("on", "off"), default="off")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--ctest", default="ctest")
    parser.add_argument("--cc", default=os.environ.get("CC", "cc"))
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory for inspection")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="wharf-sdk-template-")
    prefix = os.path.join(work, "prefix")
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.path.join(prefix, options.libdir, "pkgconfig")
    try:
        print("installing %s into %s" % (options.build_dir, prefix), flush=True)
        run([options.cmake, "--install", options.build_dir, "--prefix", prefix])
        check_installed_files(prefix, options.libdir)
        check_pkg_config(prefix, options.libdir, env)

        template_dir = os.path.join(prefix, "share", "wharf", "sdk", "template")
        print("building the template with make (pkg-config)", flush=True)
        make_plugin = build_with_make(template_dir, work, env, options)
        print("building the template with CMake (find_package)", flush=True)
        build_with_cmake(template_dir, work, prefix, env, options)

        binary = os.path.join(prefix, "bin", "wharfd")
        print("loading the template into the installed wharfd", flush=True)
        check_template_in_wharfd(binary, work, make_plugin, prefix, options.libdir)
        print("loading the bundled plugins into the installed wharfd", flush=True)
        check_bundled_plugins_in_wharfd(binary, work, prefix, options.libdir)
    finally:
        if options.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("installed SDK, template builds and plugin loading: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
