#!/usr/bin/env python3
"""The function form: turn this program into a daemon, then do the work.

    python3 examples/python/function_daemon.py /tmp/heartbeat
    cat /tmp/heartbeat.pid; tail -f /tmp/heartbeat.log
    warden stop -p /tmp/heartbeat.pid        # or: kill $(cat /tmp/heartbeat.pid)

The command returns once the daemon is ready (its pidfile holds its pid), or
exits non-zero with the reason: a second copy says "already running", an
unwritable log directory says which file could not be opened, and an error
while loading the settings below (before `notify_ready()`) is printed by the
command itself instead of vanishing into /dev/null.
"""

import os
import sys
import time

import warden

base = sys.argv[1] if len(sys.argv) > 1 else "/tmp/heartbeat"
interval = float(os.environ.get("HEARTBEAT_INTERVAL", "1"))

warden.daemonize(
    stdout=base + ".log",
    stderr=base + ".log",
    pidfile=base + ".pid",
    ready=False,  # released below, once the settings are checked
)

# In the daemon now: cwd is /, umask 022, stdio on the log (line buffered).
if interval <= 0:
    raise ValueError("HEARTBEAT_INTERVAL must be positive, not %r" % interval)
warden.notify_ready()

beats = 0
try:
    while True:
        beats += 1
        print("beat %d from pid %d" % (beats, os.getpid()))
        time.sleep(interval)
finally:
    # SIGTERM raises SystemExit: this runs, and the pidfile is removed.
    print("stopping after %d beats" % beats)
