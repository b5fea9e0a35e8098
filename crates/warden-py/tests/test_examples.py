"""The programs of examples/python/ do what their docstrings say."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from daemon_helpers import alive, log_lines, read_pid, wait_until

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "python")


def example(name):
    return os.path.abspath(os.path.join(EXAMPLES, name))


def run(args, env=None, timeout=30):
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {}))
    )


def test_function_daemon_example(tmp_path, reap):
    base = str(tmp_path / "heartbeat")
    pidfile = reap.pidfile(base + ".pid")
    fast = {"HEARTBEAT_INTERVAL": "0.05"}
    r = run([sys.executable, example("function_daemon.py"), base], env=fast)
    assert r.returncode == 0, r.stderr
    pid = read_pid(pidfile)
    wait_until(lambda: any(l.startswith("beat 2 ") for l in log_lines(base + ".log")), "two beats")
    r = run([sys.executable, example("function_daemon.py"), base], env=fast)
    assert r.returncode == 1 and "already running as pid %d" % pid in r.stderr
    r = run(["warden", "stop", "-p", pidfile])
    assert r.returncode == 0, r.stderr
    assert not alive(pid)
    assert log_lines(base + ".log")[-1].startswith("stopping after ")
    assert not os.path.exists(pidfile)
    # A bad setting is reported by the command, before it returns.
    r = run([sys.executable, example("function_daemon.py"), base], env={"HEARTBEAT_INTERVAL": "-1"})
    assert r.returncode == 1
    assert "ValueError: HEARTBEAT_INTERVAL must be positive" in r.stderr
    assert not os.path.exists(pidfile)


def test_class_daemon_example(tmp_path, reap):
    base = str(tmp_path / "counter")
    pidfile = reap.pidfile(base + ".pid")
    env = {"COUNTER_BASE": base}
    script = example("class_daemon.py")
    assert run([sys.executable, script, "start"], env).returncode == 0
    assert run([sys.executable, script, "start"], env).returncode == 1
    pid = read_pid(pidfile)
    assert run([sys.executable, script, "status"], env).returncode == 0
    with open(base + ".step", "w") as f:
        f.write("5")
    os.kill(pid, signal.SIGHUP)
    wait_until(lambda: "reloaded: step 5" in log_lines(base + ".log"), "the reload")
    assert run([sys.executable, script, "stop"], env).returncode == 0
    assert not alive(pid)
    assert run([sys.executable, script, "status"], env).returncode == 3


def test_platform_example(tmp_path, reap):
    env = {"PLATFORM_RUN": str(tmp_path), "PLATFORM_WEB_PORT": "0"}
    names = ["web", "ticker", "worker_0", "worker_1"]
    pidfiles = [reap.pidfile(tmp_path / (n + ".pid")) for n in names]
    script = example("platform.py")
    r = run([sys.executable, script, "start"], env)
    assert r.returncode == 0, r.stderr
    pids = [read_pid(p) for p in pidfiles]
    assert all(alive(p) for p in pids)
    # "unless running": a second start changes nothing and succeeds.
    r = run([sys.executable, script, "start"], env)
    assert r.returncode == 0, r.stderr
    assert [read_pid(p) for p in pidfiles] == pids
    assert run([sys.executable, script, "status"], env).returncode == 0
    r = run([sys.executable, script, "stop"], env)
    assert r.returncode == 0, r.stderr
    assert not any(alive(p) for p in pids)
    assert run([sys.executable, script, "status"], env).returncode == 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def platform_conf(tmp_path, reap):
    with open(example("platform.conf")) as f:
        text = f.read()
    text = text.replace("/tmp/py-platform", str(tmp_path / "py-platform"))
    text = text.replace("childlogdir=/tmp", "childlogdir=%s" % tmp_path)
    text = text.replace("8766", str(free_port()))
    conf = tmp_path / "platform.conf"
    conf.write_text(text)
    pidfile = reap.pidfile(tmp_path / "py-platform.pid")
    yield str(conf), pidfile
    # Stop the programs through the supervisor if a test left it running (the
    # reaper then kills the supervisor itself by pid).
    if os.path.exists(pidfile):
        run(["warden", "ctl", "-c", str(conf), "shutdown"])


def test_platform_conf_under_warden_supervise(platform_conf):
    conf, pidfile = platform_conf
    r = run(["warden", "supervise", "-c", conf])
    assert r.returncode == 0, r.stderr
    supervisor = read_pid(pidfile)

    def all_running():
        out = run(["warden", "ctl", "-c", conf, "status"]).stdout
        lines = [l for l in out.splitlines() if l.strip()]
        return len(lines) == 4 and all(" RUNNING " in l for l in lines) and lines

    lines = wait_until(all_running, "four programs RUNNING")
    program_pids = [int(l.split("pid ")[1].split(",")[0]) for l in lines]
    r = run(["warden", "supervise", "-c", conf])
    assert r.returncode == 1 and "already running" in r.stderr
    r = run(["warden", "ctl", "-c", conf, "shutdown"])
    assert r.returncode == 0, r.stderr
    wait_until(lambda: not alive(supervisor), "the supervisor to exit")
    assert not any(alive(p) for p in program_pids)
