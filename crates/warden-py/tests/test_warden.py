"""The `warden` Python package against real daemons, checked from /proc.

Run by scripts/test-python, with the installed wheel and a PATH that has no
Rust toolchain. Every daemon a test starts is killed by pid at teardown (the
`reap` fixture); every wait polls until a deadline.
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import warden
from daemon_helpers import (
    alive,
    log_lines,
    proc_status,
    processes_running,
    read_pid,
    stat_fields,
    wait_until,
)


def write_script(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def start_script(tmp_path, reap, name, body, **kw):
    """Writes `body` as NAME.py, runs it with argv NAME.pid NAME.log, expects
    exit 0 and returns (daemon pid, pidfile, log, the run's result)."""
    script = write_script(tmp_path, name + ".py", body)
    pidfile = reap.pidfile(tmp_path / (name + ".pid"))
    log = str(tmp_path / (name + ".log"))
    r = run(script, pidfile, log, **kw)
    assert r.returncode == 0, r.stderr
    return read_pid(pidfile), pidfile, log, r


def run(script, *args, timeout=30, **kw):
    return subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


# A Daemon subclass driven by environment variables, shared by several tests.
CLASS_DAEMON = """
    import atexit, os, signal, sys, time
    import warden

    LOG = os.environ["T_LOG"]

    def note(text):
        with open(LOG, "a") as f:
            f.write(text + "\\n")

    class Worker(warden.Daemon):
        def run(self):
            atexit.register(note, "atexit ran")
            if os.environ.get("T_IGNORE_TERM"):
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if os.environ.get("T_FAIL_BEFORE_READY"):
                raise RuntimeError("cannot reach the database at db:5432")
            self.notify_ready()
            note("running %d" % os.getpid())
            try:
                while True:
                    time.sleep(0.05)
            finally:
                note("finally ran")

        def reload(self):
            note("reloaded")

    Worker(
        os.environ["T_PIDFILE"],
        stdout=LOG,
        stderr=LOG,
        stop_schedule=os.environ.get("T_SCHEDULE", "TERM/10/KILL/5"),
        ready=False,
    ).main()
"""


@pytest.fixture
def class_daemon(tmp_path, reap):
    script = write_script(tmp_path, "worker.py", CLASS_DAEMON)
    env = dict(
        os.environ,
        T_LOG=str(tmp_path / "worker.log"),
        T_PIDFILE=reap.pidfile(tmp_path / "worker.pid"),
    )

    def call(command, timeout=30, **extra):
        return run(script, command, env=dict(env, **extra), timeout=timeout)

    call.pidfile = env["T_PIDFILE"]
    call.log = env["T_LOG"]
    call.script = script
    return call


# -- the function form -----------------------------------------------------


FUNCTION_DAEMON = """
    import os, signal, sys, time
    import warden

    # Everything a sloppy caller could hand down: odd cwd and umask, ignored
    # and blocked signals, an inherited descriptor (fd given in argv), and
    # text buffered on stdout.
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    os.umask(0o077)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    os.register_at_fork(after_in_child=lambda: os.environ.__setitem__("T_FORKS",
        str(int(os.environ.get("T_FORKS", "0")) + 1)))
    print("buffered once", end="")

    warden.daemonize(stdout=sys.argv[2], stderr=sys.argv[2], pidfile=sys.argv[1])

    try:
        open("/dev/tty")
        tty = "has a controlling terminal"
    except OSError:
        tty = "no controlling terminal"
    print("daemon", os.getpid(), tty, "at-fork hooks", os.environ.get("T_FORKS"))
    time.sleep(60)
"""


def test_function_form_detaches_cleanly(tmp_path, reap):
    inherited = os.open(str(tmp_path / "inherited"), os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        pid, pidfile, log, r = start_script(tmp_path, reap, "fn", FUNCTION_DAEMON, pass_fds=(inherited,))
    finally:
        os.close(inherited)
    assert r.stdout == "buffered once"
    # The caller returned: the pidfile already names a live process.
    assert alive(pid)
    fields = stat_fields(pid)
    # state ppid pgrp session tty_nr tpgid ...
    sid, tty_nr = int(fields[3]), int(fields[4])
    assert sid != pid, "the daemon is a session leader"
    assert sid == int(fields[2]), "the daemon left the session its intermediate created"
    assert tty_nr == 0, "the daemon has a controlling terminal"
    assert os.readlink("/proc/%d/cwd" % pid) == "/"
    st = proc_status(pid)
    assert st["Umask"] == "0022"
    assert int(st["SigBlk"], 16) == 0
    assert int(st["SigIgn"], 16) == 0
    # Only SIGTERM is caught (it raises SystemExit); everything else default.
    assert int(st["SigCgt"], 16) == 1 << (signal.SIGTERM - 1)

    def fds():
        return {
            int(fd): os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in os.listdir("/proc/%d/fd" % pid)
        }

    # The readiness pipe is closed just after "ready" is written, so it may
    # still be open for a moment after the caller returned.
    wait_until(
        lambda: [t for fd, t in fds().items() if fd > 2] == [pidfile],
        "only 0-2 and the pidfile lock to be open",
    )
    fds = fds()
    assert fds[1] == log and fds[2] == log and fds[0] == "/dev/null"
    # Line buffered: the daemon's print is in the log without a flush.
    line = wait_until(lambda: [l for l in log_lines(log) if l.startswith("daemon")], "the log line")[0]
    assert line == "daemon %d no controlling terminal at-fork hooks 2" % pid


def test_exception_before_ready_fails_the_caller(tmp_path, reap):
    script = write_script(
        tmp_path,
        "early.py",
        """
        import sys, warden
        warden.daemonize(pidfile=sys.argv[1], ready=False)
        raise RuntimeError("config key 'port' is missing")
        """,
    )
    pidfile = reap.pidfile(tmp_path / "early.pid")
    r = run(script, pidfile)
    assert r.returncode != 0
    assert "RuntimeError: config key 'port' is missing" in r.stderr
    assert not os.path.exists(pidfile)
    assert processes_running(script) == []


def test_setup_failure_after_fork_fails_the_caller(tmp_path, reap):
    script = write_script(
        tmp_path,
        "nodir.py",
        """
        import sys, warden
        warden.daemonize(pidfile=sys.argv[1], chdir="/nonexistent/dir")
        """,
    )
    r = run(script, reap.pidfile(tmp_path / "nodir.pid"))
    assert r.returncode == 3, r.stderr
    assert "/nonexistent/dir" in r.stderr
    assert processes_running(script) == []


def test_unopenable_log_file_fails_the_caller(tmp_path, reap):
    script = write_script(
        tmp_path,
        "nolog.py",
        """
        import sys, warden
        warden.daemonize(pidfile=sys.argv[1], stdout="/nonexistent/dir/app.log")
        """,
    )
    pidfile = reap.pidfile(tmp_path / "nolog.pid")
    r = run(script, pidfile)
    assert r.returncode == 3, r.stderr
    assert "open log file" in r.stderr and "/nonexistent/dir/app.log" in r.stderr
    assert not os.path.exists(pidfile)
    assert processes_running(script) == []


@pytest.mark.parametrize("how, code, text", [
    ("os._exit(7)", 7, "exit status 7"),
    ("os.kill(os.getpid(), 9)", 128 + 9, "signal 9"),
])
def test_dying_before_ready_fails_the_caller_with_its_status(tmp_path, reap, how, code, text):
    script = write_script(
        tmp_path,
        "dies.py",
        """
        import os, sys, warden
        warden.daemonize(pidfile=sys.argv[1], ready=False)
        %s
        """ % how,
    )
    pidfile = reap.pidfile(tmp_path / "dies.pid")
    r = run(script, pidfile)
    assert r.returncode == code, r.stderr
    assert "ended before it was ready" in r.stderr and text in r.stderr, r.stderr
    assert not os.path.exists(pidfile)


def test_a_child_the_daemon_forks_never_removes_its_pidfile(tmp_path, reap):
    pid, pidfile, log, _ = start_script(
        tmp_path,
        reap,
        "forks",
        """
        import os, sys, time, warden
        warden.daemonize(pidfile=sys.argv[1], stdout=sys.argv[2], stderr=sys.argv[2])
        child = os.fork()
        if child == 0:
            sys.exit(0)  # atexit and interpreter teardown run in the child
        os.waitpid(child, 0)
        print("child done", flush=True)
        time.sleep(60)
        """,
    )
    wait_until(lambda: "child done" in log_lines(log), "the child to end")
    assert os.path.exists(pidfile) and read_pid(pidfile) == pid
    # Still locked: the status is "running".
    assert warden.Daemon(pidfile).status() == 0


def test_refuses_to_fork_with_a_thread_running(tmp_path, reap):
    script = write_script(
        tmp_path,
        "threaded.py",
        """
        import sys, threading, time, warden
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
        try:
            warden.daemonize(pidfile=sys.argv[1])
        except warden.ThreadsRunningError as e:
            print(e)
            sys.exit(5)
        """,
    )
    pidfile = reap.pidfile(tmp_path / "threaded.pid")
    r = run(script, pidfile)
    assert r.returncode == 5, r.stderr
    assert "refusing to fork with 2 threads running" in r.stdout
    assert not os.path.exists(pidfile)


# -- the class form --------------------------------------------------------


def test_twenty_concurrent_starts_give_one_daemon(class_daemon):
    env = dict(os.environ, T_LOG=class_daemon.log, T_PIDFILE=class_daemon.pidfile)
    starters = [
        subprocess.Popen(
            [sys.executable, class_daemon.script, "start"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(20)
    ]
    codes = []
    try:
        for p in starters:
            p.wait(timeout=60)
            codes.append(p.returncode)
    finally:
        for p in starters:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert sorted(codes) == [0] + [1] * 19, codes
    pid = read_pid(class_daemon.pidfile)
    assert processes_running(class_daemon.script) == [pid]


def test_status_codes(class_daemon, reap, tmp_path):
    assert class_daemon("status").returncode == 3  # never started
    assert class_daemon("start").returncode == 0
    pid = read_pid(class_daemon.pidfile)
    r = class_daemon("status")
    assert r.returncode == 0 and ("running as pid %d" % pid) in r.stdout
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), "the daemon to die")
    r = class_daemon("status")
    assert r.returncode == 1, r.stdout  # dead, pidfile left behind
    # A stale pidfile naming a live, unrelated process: not running, and stop
    # does not signal it.
    sleeper = subprocess.Popen(["sleep", "60"])
    reap.pid(sleeper.pid)
    with open(class_daemon.pidfile, "w") as f:
        f.write("%d\n" % sleeper.pid)
    assert class_daemon("status").returncode == 1
    assert class_daemon("stop").returncode == 1
    assert sleeper.poll() is None
    # And a stale pidfile never blocks a start.
    assert class_daemon("start").returncode == 0
    assert read_pid(class_daemon.pidfile) != sleeper.pid
    sleeper.kill()
    sleeper.wait()


def test_sigterm_runs_finally_and_atexit_and_removes_the_pidfile(class_daemon):
    assert class_daemon("start").returncode == 0
    pid = read_pid(class_daemon.pidfile)
    r = class_daemon("stop")
    assert r.returncode == 0, r.stderr
    assert not alive(pid)
    lines = log_lines(class_daemon.log)
    assert "finally ran" in lines and "atexit ran" in lines, lines
    assert not os.path.exists(class_daemon.pidfile)
    assert class_daemon("stop").returncode == 1  # not running


def test_stop_escalates_to_kill(class_daemon):
    assert class_daemon("start", T_IGNORE_TERM="1").returncode == 0
    pid = read_pid(class_daemon.pidfile)
    began = time.monotonic()
    r = class_daemon("stop", T_SCHEDULE="TERM/1/KILL/5")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - began >= 1.0  # it waited out the TERM step
    assert not alive(pid)
    assert "finally ran" not in log_lines(class_daemon.log)  # KILLed, not exited


def test_stop_returns_2_when_the_schedule_runs_out(class_daemon):
    assert class_daemon("start", T_IGNORE_TERM="1").returncode == 0
    pid = read_pid(class_daemon.pidfile)
    r = class_daemon("stop", T_SCHEDULE="TERM/0.5")
    assert r.returncode == 2, r.stderr
    assert "still running" in r.stderr
    assert alive(pid)
    # restart does not start a second one beside it.
    assert class_daemon("restart", T_SCHEDULE="TERM/0.5").returncode == 2
    assert processes_running(class_daemon.script) == [pid]


def test_exception_before_ready_in_run_fails_start(class_daemon):
    r = class_daemon("start", T_FAIL_BEFORE_READY="1")
    assert r.returncode == 1
    assert "RuntimeError: cannot reach the database at db:5432" in r.stderr
    assert not os.path.exists(class_daemon.pidfile)
    assert processes_running(class_daemon.script) == []
    # The traceback is in the daemon's log.
    assert any("Traceback" in l for l in log_lines(class_daemon.log))


def test_restart_reload_and_dispositions(class_daemon):
    assert class_daemon("start").returncode == 0
    first = read_pid(class_daemon.pidfile)
    st = proc_status(first)
    assert int(st["SigIgn"], 16) == 0 and int(st["SigBlk"], 16) == 0
    caught = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGHUP - 1))
    assert int(st["SigCgt"], 16) == caught
    os.kill(first, signal.SIGHUP)
    wait_until(lambda: "reloaded" in log_lines(class_daemon.log), "reload() to run")
    assert class_daemon("restart").returncode == 0
    second = read_pid(class_daemon.pidfile)
    assert second != first and alive(second) and not alive(first)


def test_main_usage(class_daemon):
    r = class_daemon("bogus")
    assert r.returncode == 2
    assert "usage:" in r.stderr and "start|stop|restart|status" in r.stderr


# -- the wheel -------------------------------------------------------------


def test_no_rust_toolchain_and_the_warden_binary_works(tmp_path, reap):
    assert shutil.which("cargo") is None and shutil.which("rustc") is None
    binary = warden.warden_binary()
    assert binary and os.path.dirname(binary) == os.path.dirname(sys.executable)
    pidfile = reap.pidfile(tmp_path / "sleep.pid")
    r = subprocess.run(
        ["warden", "start", "-p", pidfile, "--", "sleep", "60"],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 0, r.stderr
    pid = read_pid(pidfile)
    assert alive(pid)
    r = subprocess.run(["warden", "stop", "-p", pidfile], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert not alive(pid)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_user_is_dropped_after_the_pidfile_and_logs_are_opened(tmp_path, reap):
    import pwd

    nobody = pwd.getpwnam("nobody")
    # tmp_path is root's, mode 0700: nobody could not open these files itself.
    pid, pidfile, log, _ = start_script(
        tmp_path,
        reap,
        "drop",
        """
        import os, sys, time, warden
        warden.daemonize(stdout=sys.argv[2], stderr=sys.argv[2], pidfile=sys.argv[1], user="nobody")
        try:
            os.setuid(0)
            print("setuid(0) worked")
        except PermissionError:
            print("setuid(0) refused")
        time.sleep(60)
        """,
    )
    st = proc_status(pid)
    assert st["Uid"].split() == [str(nobody.pw_uid)] * 4
    assert st["Gid"].split() == [str(nobody.pw_gid)] * 4
    assert "0" not in st["Groups"].split()
    wait_until(lambda: "setuid(0) refused" in log_lines(log), "the daemon's setuid check")
