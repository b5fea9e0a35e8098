#!/usr/bin/env python3
"""The class form: subclass warden.Daemon, override run(), call main().

    python3 examples/python/class_daemon.py start     # 0 started, 1 already running, 3 setup failed
    python3 examples/python/class_daemon.py status    # 0 running, 1 dead (stale pidfile), 3 not running
    echo 5 > /tmp/counter.step; kill -HUP $(cat /tmp/counter.pid)   # reload(): re-reads the step
    python3 examples/python/class_daemon.py restart
    python3 examples/python/class_daemon.py stop      # TERM, 10 s, KILL, 5 s: 0 stopped, 1 not running, 2 still running
"""

import os
import time

import warden

BASE = os.environ.get("COUNTER_BASE", "/tmp/counter")
STEP_FILE = BASE + ".step"


class Counter(warden.Daemon):
    def read_step(self):
        try:
            with open(STEP_FILE) as f:
                return int(f.read())
        except FileNotFoundError:
            return 1

    def run(self):
        self.step = self.read_step()
        n = 0
        while True:
            n += self.step
            print("count", n)
            time.sleep(1)

    def reload(self):
        self.step = self.read_step()
        print("reloaded: step", self.step)


if __name__ == "__main__":
    Counter(BASE + ".pid", stdout=BASE + ".log", stderr=BASE + ".log").main()
