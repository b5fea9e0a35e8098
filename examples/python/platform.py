#!/usr/bin/env python3
"""The platform script on warden.Daemon: start these programs unless they run,
stop them, tell which run.

    python3 examples/python/platform.py start    # starts what is not running
    python3 examples/python/platform.py status
    python3 examples/python/platform.py stop

Each program is a Daemon with its own locked pidfile, so "unless running" is
the kernel's answer (start returns 1 for a running one), never a guess from
`ps | grep` or a pid that may belong to someone else by now. The exit code is
the worst of the programs' codes. platform.conf does the same under
`warden supervise`, which also restarts a program that crashes.
"""

import http.server
import os
import sys
import time

import warden

RUN = os.environ.get("PLATFORM_RUN", "/tmp/py-platform")
PORT = int(os.environ.get("PLATFORM_WEB_PORT", "8767"))


class Web(warden.Daemon):
    def run(self):
        server = http.server.HTTPServer(("127.0.0.1", PORT), http.server.SimpleHTTPRequestHandler)
        os.chdir("/tmp")
        server.serve_forever()


class Ticker(warden.Daemon):
    def run(self):
        i = 0
        while True:
            print("tick", i)
            i += 1
            time.sleep(1)


class Worker(warden.Daemon):
    def __init__(self, n, *args, **kw):
        super().__init__(*args, **kw)
        self.n = n

    def run(self):
        print("worker", self.n, "up")
        while True:
            time.sleep(3600)


def programs():
    def daemon(cls, name, *extra):
        log = os.path.join(RUN, name + ".log")
        pidfile = os.path.join(RUN, name + ".pid")
        return cls(*extra, pidfile, stdout=log, stderr=log, stop_schedule="TERM/5/KILL/2", name=name)

    return [
        daemon(Web, "web"),
        daemon(Ticker, "ticker"),
        daemon(Worker, "worker_0", 0),
        daemon(Worker, "worker_1", 1),
    ]


def main(argv):
    if len(argv) != 2 or argv[1] not in ("start", "stop", "status"):
        sys.stderr.write("usage: %s start|stop|status\n" % os.path.basename(argv[0]))
        return 2
    os.makedirs(RUN, exist_ok=True)
    worst = 0
    for d in programs():
        if argv[1] == "start":
            code = d.start()
            code = 0 if code == 1 else code  # already running: nothing to do
        elif argv[1] == "stop":
            code = d.stop()
            code = 0 if code == 1 else code  # not running: nothing to do
        else:
            code = d.status()
        worst = max(worst, code)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv))
