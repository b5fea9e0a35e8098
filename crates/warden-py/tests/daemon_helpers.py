"""Helpers shared by the tests: /proc readers, polling with a deadline, and
the reaper that kills by pid whatever a test started."""

import os
import signal
import time

DEADLINE = 10.0  # seconds, for anything a test waits for


def wait_until(cond, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def stat_fields(pid):
    """/proc/<pid>/stat fields after the command name (index 0 = state)."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return data[data.rindex(")") + 2 :].split()


def alive(pid):
    """Running and not a zombie (PID 1 reaps orphans slowly)."""
    try:
        return stat_fields(pid)[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def read_pid(path):
    with open(path) as f:
        text = f.read()
    assert text.endswith("\n"), "pidfile %r has no trailing newline: %r" % (path, text)
    return int(text)


def processes_running(marker):
    """Live pids whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and alive(pid):
            found.append(pid)
    return found


class Reaper:
    """Kills, by pid, every daemon a test started."""

    def __init__(self):
        self.pidfiles = []
        self.pids = []

    def pidfile(self, path):
        self.pidfiles.append(str(path))
        return str(path)

    def pid(self, pid):
        self.pids.append(pid)
        return pid

    def kill_all(self):
        pids = list(self.pids)
        for path in self.pidfiles:
            try:
                pids.append(read_pid(path))
            except (OSError, ValueError, AssertionError):
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in pids:
            wait_until(lambda: not alive(pid), "pid %d to die" % pid)


def log_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
