#!/usr/bin/env python3
"""The ktls tool's control plane against a live process.

usage: control_cli_test.py CASE KTLS HELPER GOLDEN_DIR
  CASE     live | golden | json | ifconfig
  KTLS     the ktls tool
  HELPER   ktls_export_helper (offloads a loopback pair, then obeys stdin)
  GOLDEN   directory of expected human output; KTLS_UPDATE_GOLDEN=1 rewrites it

Only `-p PID` writes are made: a write without -p would reach every process of this
user, including other tests running at the same time.
"""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

KTLS, HELPER, GOLDEN = sys.argv[2], sys.argv[3], sys.argv[4]
# The helper starts from the built-in defaults whatever the machine's configuration.
HELPER_ENV = {k: v for k, v in os.environ.items() if k not in ("KTLS_SYSCTL", "KTLS_EXPORT")}
HELPER_ENV["KTLS_CONFIG"] = "/dev/null"
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, file=sys.stderr)


def ktls(*args):
    result = subprocess.run([KTLS, *args], capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout, result.stderr


def json_of(text, what):
    """Parses with `python3 -m json.tool` too, as operators' scripts would."""
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=text, capture_output=True,
                          text=True)
    check(tool.returncode == 0, f"{what}: not valid JSON: {tool.stderr.strip()}")
    return json.loads(text) if tool.returncode == 0 else {}


def require_keys(obj, keys, what):
    for key in keys:
        check(isinstance(obj, dict) and key in obj, f"{what}: missing key '{key}'")


class Helper:
    def __init__(self):
        self.proc = subprocess.Popen([HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=HELPER_ENV)
        words = self.proc.stdout.readline().split()
        if len(words) != 4 or words[0] != "ready":
            raise SystemExit(f"helper did not start: {words}")
        self.pid, self.client_fd, self.server_fd = (int(w) for w in words[1:])

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def quit(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        return self.proc.wait(timeout=30)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def segment(self, suffix=""):
        return f"/dev/shm/ktls.{self.pid}{suffix}"

    def wait_for_export(self):
        """Until the snapshot shows both sockets with their three records."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rc, out, _ = ktls("stat", "-p", str(self.pid), "--json")
            if rc == 0:
                sockets = json.loads(out)["processes"][0]["sockets"]
                records = sorted(s["tx"]["records"] + s["rx"]["records"] for s in sockets)
                if records == [3, 3]:
                    return sockets
            time.sleep(0.05)
        raise SystemExit(f"pid {self.pid}: export never showed the records")


def normalize(text, helper):
    """Pids, ports and descriptors vary; table columns are compared as words."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"(127\.0\.0\.1):\d+", r"\1:<port>", line)
        line = re.sub(r"\bmtu \d+", "mtu <mtu>", line)
        line = re.sub(r"flags=<[A-Z,]*>", "flags=<flags>", line)
        words = line.split()
        if words and words[0] == str(helper.pid):  # a `ktls stat` row
            words[0] = "<pid>"
            fd = {str(helper.client_fd): "<client_fd>", str(helper.server_fd): "<server_fd>"}
            words[2] = fd.get(words[2], words[2])
            line = " ".join(words)
        elif len(words) > 2 and words[0] in ("PID", "NAME"):
            line = " ".join(words)
        elif words and re.match(r"^Tls\w+$", words[0]):
            line = " ".join(words)
        line = line.replace(f"pid {helper.pid}", "pid <pid>")
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def golden(name, text, helper):
    path = os.path.join(GOLDEN, name)
    got = normalize(text, helper)
    if os.environ.get("KTLS_UPDATE_GOLDEN") == "1":
        with open(path, "w") as f:
            f.write(got)
        return
    with open(path) as f:
        want = f.read()
    if got != want:
        check(False, f"{name} differs from the golden file:\n--- want\n{want}--- got\n{got}")


def case_live():
    helper = Helper()
    try:
        sockets = helper.wait_for_export()
        # The segments: this user's, mode 0600.
        for suffix in ("", ".ctl"):
            st = os.stat(helper.segment(suffix))
            check(stat.S_IMODE(st.st_mode) == 0o600,
                  f"{helper.segment(suffix)} mode {oct(stat.S_IMODE(st.st_mode))}")
            check(st.st_uid == os.geteuid(), f"{helper.segment(suffix)} owner {st.st_uid}")

        by_fd = {s["fd"]: s for s in sockets}
        check(set(by_fd) == {helper.client_fd, helper.server_fd}, f"socket fds {sorted(by_fd)}")
        client, server = by_fd.get(helper.client_fd, {}), by_fd.get(helper.server_fd, {})
        check(client.get("tx", {}).get("suite") == "AES-128-GCM", f"client suite {client}")
        check(client.get("tx", {}).get("version") == "TLS1.3", f"client version {client}")
        check(client.get("tx", {}).get("records") == 3, f"client TX records {client}")
        check(client.get("tx", {}).get("bytes") == 300, f"client TX bytes {client}")
        check(server.get("rx", {}).get("records") == 3, f"server RX records {server}")
        check(server.get("rx", {}).get("mode") == "sw", f"server RX mode {server}")

        rc, out, err = ktls("stat", "-p", str(helper.pid))
        check(rc == 0 and "AES-128-GCM" in out and f" {helper.client_fd} " in out,
              f"ktls stat -p: rc {rc}: {out}{err}")

        rc, out, err = ktls("sysctl", "-p", str(helper.pid))
        check(rc == 0, f"ktls sysctl -p: rc {rc}: {err}")
        for line in ("kern.ipc.tls.enable: 1", "kern.ipc.tls.cbc_enable: 1",
                     "kern.ipc.tls.stats.offload_total: 2", "kern.ipc.tls.linux.TlsCurrTxSw: 0"):
            check(line in out.splitlines(), f"ktls sysctl -p lacks '{line}'")

        # A knob set from outside reaches the live process, for its new sessions.
        check(helper.command("cbc") == "cbc 0", "CBC enable before the write")
        rc, out, err = ktls("sysctl", "-p", str(helper.pid), "kern.ipc.tls.cbc_enable=0")
        check(rc == 0 and out == "kern.ipc.tls.cbc_enable: 1 -> 0\n",
              f"setting cbc_enable: rc {rc}: {out}{err}")
        check(helper.command("cbc") == "cbc ENOTSUP", "CBC enable after cbc_enable=0")
        rc, out, _ = ktls("sysctl", "-n", "-p", str(helper.pid), "kern.ipc.tls.cbc_enable")
        check(out == "0\n", f"cbc_enable read back: {out!r}")

        # Reading without -p includes the helper, whatever else runs.
        rc, out, _ = ktls("sysctl", "--json", "kern.ipc.tls.cbc_enable")
        doc = json_of(out, "sysctl --json")
        values = doc.get("entries", [{}])[0].get("values", [])
        check({"pid": helper.pid, "value": 0} in values, f"aggregated values {values}")

        # Writes the process refuses, with sysctl(8)'s reasons.
        for assignment, words in (("kern.ipc.tls.maxlen=100", "read only tunable"),
                                  ("kern.ipc.tls.stats.active=1", "is read only"),
                                  ("kern.ipc.tls.nosuch=1", "unknown oid"),
                                  ("kern.ipc.tls.enable=2", "invalid value")):
            rc, out, err = ktls("sysctl", "-p", str(helper.pid), assignment)
            check(rc == 1 and words in err, f"{assignment}: rc {rc}: {err}")

        # Removed at exit.
        check(helper.quit() == 0, "helper exit status")
        for suffix in ("", ".ctl"):
            check(not os.path.exists(helper.segment(suffix)), f"{helper.segment(suffix)} remains")
    finally:
        helper.kill()

    # A process killed outright leaves its segments; the tool ignores and removes them.
    victim = Helper()
    victim.wait_for_export()
    victim.kill()
    check(os.path.exists(victim.segment()), "a killed process's segment (precondition)")
    rc, out, err = ktls("sysctl", "--json", "kern.ipc.tls.enable")
    doc = json_of(out, "sysctl --json after a kill")
    check(victim.pid in doc.get("removed_stale_pids", []), f"stale pid not removed: {doc}")
    check(victim.pid not in [p["pid"] for p in doc.get("processes", [])], "stale pid listed")
    for suffix in ("", ".ctl"):
        check(not os.path.exists(victim.segment(suffix)), f"{victim.segment(suffix)} remains")
    rc, _, err = ktls("stat", "-p", str(victim.pid))
    check(rc == 1 and f"pid {victim.pid}" in err, f"stat -p of a dead pid: rc {rc}: {err}")


def case_golden():
    helper = Helper()
    try:
        helper.wait_for_export()
        pid = str(helper.pid)
        rc, out, _ = ktls("sysctl", "-p", pid, "kern.ipc.tls.enable", "kern.ipc.tls.rx_enable",
                          "kern.ipc.tls.cbc_enable", "kern.ipc.tls.stats.offload_total",
                          "kern.ipc.tls.stats.enable_calls", "kern.ipc.tls.stats.active",
                          "kern.ipc.tls.stats.ocf.tls13_gcm_encrypts",
                          "kern.ipc.tls.stats.ocf.tls13_gcm_decrypts", "kern.ipc.tls.sw")
        golden("sysctl.txt", out, helper)
        rc, out, _ = ktls("stat", "-p", pid)
        golden("stat.txt", out, helper)
        rc, out, _ = ktls("stat", "-p", pid, "--linux", "--tls-stat-file", "/nonexistent/tls_stat")
        golden("stat_linux_no_kernel.txt", out, helper)
        rc, out, _ = ktls("stat", "-p", pid, "--linux", "--tls-stat-file",
                          os.path.join(GOLDEN, "tls_stat.input"))
        golden("stat_linux_kernel.txt", out.replace(GOLDEN, "<golden>"), helper)
        rc, out, err = ktls("sysctl", "-p", pid, "kern.ipc.tls.cbc_enable=0",
                            "kern.ipc.tls.cbc_enable", "kern.ipc.tls.maxlen=4096",
                            "kern.ipc.tls.bogus")
        golden("sysctl_set.txt", out + "-- stderr\n" + err, helper)
        helper.quit()
    finally:
        helper.kill()
    rc, out, _ = ktls("ifconfig", "lo")
    golden("ifconfig_lo.txt", out, helper)


def case_json():
    helper = Helper()
    try:
        helper.wait_for_export()
        pid = str(helper.pid)
        doc = json_of(ktls("sysctl", "-p", pid, "--json")[1], "sysctl -p --json")
        require_keys(doc, ["source", "processes", "removed_stale_pids", "entries", "changes",
                           "errors"], "sysctl --json")
        check(doc.get("source") == "processes", "sysctl --json source")
        require_keys(doc.get("processes", [{}])[0], ["pid", "comm", "uid", "updated_unix_ms"],
                     "sysctl --json processes[]")
        for entry in doc.get("entries", []):
            require_keys(entry, ["name", "type", "access", "value", "values"], "entries[]")
        names = {e.get("name") for e in doc.get("entries", [])}
        check({"kern.ipc.tls.enable", "kern.ipc.tls.stats.offload_total",
               "kern.ipc.tls.linux.TlsCurrTxSw"} <= names, "sysctl --json names")

        doc = json_of(ktls("sysctl", "-p", pid, "--json", "kern.ipc.tls.rx_enable=1")[1],
                      "sysctl set --json")
        change = doc.get("changes", [{}])[0]
        require_keys(change, ["pid", "name", "value", "ok", "old", "new"], "changes[]")
        check(change.get("ok") is True, f"changes[0] {change}")

        doc = json_of(ktls("stat", "-p", pid, "--json")[1], "stat --json")
        process = doc.get("processes", [{}])[0]
        require_keys(process, ["pid", "comm", "sockets_total", "sockets"], "stat processes[]")
        for s in process.get("sockets", []):
            require_keys(s, ["fd", "abi", "local", "peer", "tx", "rx"], "sockets[]")
            require_keys(s.get("tx"), ["mode", "suite", "version", "records", "bytes",
                                       "wire_bytes", "pending_bytes", "errors"], "sockets[].tx")
            require_keys(s.get("rx"), ["mode", "suite", "version", "records", "bytes",
                                       "wire_bytes", "errors"], "sockets[].rx")
            require_keys(s.get("rx", {}).get("errors"), ["bad_header", "bad_length",
                                                         "bad_record"], "sockets[].rx.errors")

        doc = json_of(ktls("stat", "-p", pid, "--linux", "--json")[1], "stat --linux --json")
        require_keys(doc, ["ktls", "kernel"], "stat --linux --json")
        require_keys(doc.get("ktls"), ["pids", "counters"], "stat --linux --json ktls")
        require_keys(doc.get("kernel"), ["path", "present", "counters"], "stat --linux kernel")
        check("TlsCurrTxSw" in doc.get("ktls", {}).get("counters", {}), "TlsCurrTxSw missing")

        doc = json_of(ktls("probe", "--json")[1], "probe --json")
        require_keys(doc.get("offload"), ["knobs", "tx", "rx", "cbc", "live_processes",
                                          "differing_processes"], "probe --json offload")
        require_keys(doc.get("offload", {}).get("tx"), ["state", "reason"], "probe offload.tx")
        helper.quit()
    finally:
        helper.kill()
    doc = json_of(ktls("ifconfig", "--json")[1], "ifconfig --json")
    check("lo" in [i.get("name") for i in doc.get("interfaces", [])], "ifconfig --json lists lo")


def case_ifconfig():
    rc, out, err = ktls("ifconfig", "lo", "--json")
    check(rc == 0, f"ifconfig lo --json: rc {rc}: {err}")
    doc = json_of(out, "ifconfig lo --json")
    lo = doc.get("interfaces", [{}])[0]
    require_keys(lo, ["name", "index", "flags", "mtu", "features", "options", "capabilities",
                      "tls_offload"], "interfaces[]")
    check(lo.get("tls_offload") is False, f"lo reports TLS offload: {lo}")
    check(lo.get("capabilities") == "<>" and lo.get("options") == "<>", f"lo capabilities {lo}")
    for feature in lo.get("features", []):
        require_keys(feature, ["linux", "freebsd", "toggle", "known", "available", "fixed",
                               "requested", "active"], "features[]")
        check(feature.get("active") is False and feature.get("fixed") is True, f"lo {feature}")
    check(sorted(f.get("linux") for f in lo.get("features", [])) ==
          ["tls-hw-record", "tls-hw-rx-offload", "tls-hw-tx-offload"], "feature names")

    for word in ("txtls", "-txtls", "rxtls"):
        rc, out, err = ktls("ifconfig", "lo", word)
        check(rc == 1 and "not supported" in err and "EOPNOTSUPP" in err,
              f"ifconfig lo {word}: rc {rc}: {err}")
    rc, _, err = ktls("ifconfig", "ktls-nosuch0")
    check(rc == 1 and "no such interface" in err, f"unknown interface: rc {rc}: {err}")
    rc, _, err = ktls("ifconfig", "lo", "fast")
    check(rc == 1 and "unknown parameter" in err, f"unknown parameter: rc {rc}: {err}")


def main():
    cases = {"live": case_live, "golden": case_golden, "json": case_json,
             "ifconfig": case_ifconfig}
    signal.alarm(110)  # below ctest's timeout, so a hang still names itself
    cases[sys.argv[1]]()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
