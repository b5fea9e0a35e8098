"""Daemonize Python programs by the book.

The classic API -- a ``daemonize()`` function and a ``Daemon`` class with
``start``/``stop``/``restart``/``status`` over a pidfile -- with warden's
guarantees:

* the calling process returns (or exits 0) only when the daemon is ready and
  its pidfile holds its pid; any failure after the fork (chdir, user, pidfile
  taken, log file, an exception before ready, the daemon dying) makes it exit
  non-zero with the error on its stderr;
* the pidfile is locked for the daemon's whole life (an open file description
  lock), so a stale pidfile never blocks a start and a reused pid is never
  signalled; it is removed at a clean exit, and only if it is still ours;
* the forks go through CPython's own ``os.fork()`` (``os.register_at_fork``
  hooks run), Python's buffers are flushed first, and forking is refused while
  other threads run;
* in the daemon every descriptor not asked for is closed, signal dispositions
  are default and the mask empty, ``sys.stdout``/``sys.stderr`` are line
  buffered on the given files, and SIGTERM raises ``SystemExit`` (so
  ``finally:`` blocks and ``atexit`` handlers run).

The steps around the forks are warden-daemon's own (Rust), in ``warden._native``.
"""

import atexit
import os
import signal
import sys
import threading
import traceback

from . import _native

__all__ = [
    "Daemon",
    "Error",
    "ThreadsRunningError",
    "daemonize",
    "notify_ready",
    "is_daemon",
    "warden_binary",
]

#: A daemonization step failed; ``args`` are ``(message, exit_code)``.
Error = _native.Error

# Exit codes shared with the ``warden`` CLI.
_ALREADY_RUNNING = 1
_SETUP_FAILED = 3
_INIT_FAILED = 1

# The daemon's handle (readiness, pidfile lock), set in the daemon only.
_handle = None


class ThreadsRunningError(RuntimeError):
    """Raised instead of forking while other threads run: ``fork`` copies
    only the calling thread, so locks they hold would stay locked forever in
    the daemon."""


def is_daemon():
    """True in a process that ``daemonize()`` or ``Daemon.start()`` made."""
    return _handle is not None


def notify_ready():
    """Tells the process that started the daemon that it is ready (it then
    exits 0, or ``Daemon.start()`` returns 0). Needed only with
    ``ready=False``; idempotent; does nothing outside a daemon."""
    if _handle is not None:
        _handle.notify_ready()


def warden_binary():
    """The path of the ``warden`` binary installed with this package (in the
    environment's ``bin`` directory), or ``None`` if it is missing."""
    import shutil
    import sysconfig

    path = os.path.join(sysconfig.get_path("scripts"), "warden")
    if os.access(path, os.X_OK):
        return path
    return shutil.which("warden")


def _program():
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "daemon"


def _check_threads():
    n = threading.active_count()
    if n > 1:
        raise ThreadsRunningError(
            "refusing to fork with %d threads running (fork copies only the calling "
            "thread): daemonize before starting threads" % n
        )
    # Threads started outside `threading` (by C extensions) count too.
    n = _native.thread_count()
    if n > 1:
        raise ThreadsRunningError(
            "refusing to fork: the process has %d threads (fork copies only the "
            "calling thread): daemonize before starting threads" % n
        )


def _flush():
    # Text buffered before the fork would otherwise be written by every process.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _reset_python_signals():
    """Every disposition back to SIG_DFL through the `signal` module, so that
    Python's own table agrees with the kernel (warden-daemon then resets the
    rest, and the mask, below Python)."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _rewrap_stdio():
    """sys.stdin/stdout/stderr on the new descriptors 0-2, output line
    buffered (no need for `python -u`)."""
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    sys.stdin = open(0, "r", closefd=False, encoding=enc)
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding=enc)
    sys.stderr = open(
        2, "w", buffering=1, closefd=False, encoding=enc, errors="backslashreplace"
    )


def _on_sigterm(signum, frame):
    raise SystemExit(0)


def _at_exit():
    global _handle
    _flush()
    if _handle is not None:
        _handle.close()
        _handle = None


def _excepthook(kind, value, tb):
    # An exception before ready is the start's failure: the caller prints its
    # message and exits non-zero. The traceback goes to the daemon's stderr.
    sys.__excepthook__(kind, value, tb)
    if _handle is not None and not _handle.is_ready():
        _flush()
        message = "".join(traceback.format_exception_only(kind, value)).strip()
        _handle.fail(_INIT_FAILED, message)


def _fork(prepared):
    """Fork, setsid, fork through CPython's os.fork(). Returns the
    intermediate pid in the original process, None in the daemon."""
    first = os.fork()
    if first:
        return first
    # Intermediate process: new session, then fork again so the daemon is not
    # a session leader and can never acquire a controlling terminal.
    try:
        os.setsid()
        second = os.fork()
    except OSError as e:
        prepared.fail("detach (setsid, fork): %s" % e)
    if second:
        os._exit(0)
    return None


def _become_daemon(prepared, ready):
    """In the final process: warden-daemon's steps, then Python's."""
    global _handle
    # Whatever fails here is the start's failure, reported to the caller: the
    # daemon never goes on into the program half set up.
    try:
        _reset_python_signals()
    except BaseException as e:
        prepared.fail("reset signal dispositions: %s" % e)
    _handle = prepared.setup()  # on failure: reported to the caller, _exit
    try:
        # warden-daemon consumed it (READY=1 goes to systemd from here); the
        # programs this daemon runs must not notify on its behalf.
        os.environ.pop("NOTIFY_SOCKET", None)
        _rewrap_stdio()
        atexit.register(_at_exit)
        sys.excepthook = _excepthook
        signal.signal(signal.SIGTERM, _on_sigterm)
    except BaseException as e:
        _handle.fail(_SETUP_FAILED, "set up Python in the daemon: %s" % e)
    if ready:
        _handle.notify_ready()


def _prepare(pidfile, stdin, stdout, stderr, chdir, umask, user, group, keep_fds):
    _check_threads()
    _flush()
    return _native.prepare(
        pidfile=None if pidfile is None else os.fspath(pidfile),
        stdin=None if stdin is None else os.fspath(stdin),
        stdout=None if stdout is None else os.fspath(stdout),
        stderr=None if stderr is None else os.fspath(stderr),
        chdir=os.fspath(chdir),
        umask=umask,
        user=None if user is None else str(user),
        group=None if group is None else str(group),
        keep_fds=[int(fd) for fd in keep_fds],
    )


def daemonize(
    stdin="/dev/null",
    stdout="/dev/null",
    stderr="/dev/null",
    *,
    pidfile=None,
    chdir="/",
    umask=0o022,
    user=None,
    group=None,
    ready=True,
    keep_fds=(),
):
    """Turns the calling program into a daemon. Returns only in the daemon.

    The calling process exits 0 once the daemon is ready: at once when
    ``ready`` is true, at ``notify_ready()`` otherwise. When anything fails
    after the fork (chdir, user, pidfile taken, log file, an exception before
    ready, the daemon ending), it prints the error on its stderr and exits
    non-zero (1 already running, 3 setup failed, 1 or the daemon's own status
    for an initialisation failure).

    ``stdout``/``stderr`` files are opened for append (created 0640 less the
    umask); ``pidfile`` is locked for the daemon's life and removed at a clean
    exit. ``user``/``group`` (names or ids, needs root) are applied last, after
    the pidfile and log files are opened. Descriptors in ``keep_fds`` stay
    open; every other one above 2 is closed (Python file objects still holding
    a closed descriptor must not be used).

    Raises ``ThreadsRunningError`` with other threads running and ``Error``
    for failures before the fork (unknown user...); nothing was started then.
    """
    prepared = _prepare(pidfile, stdin, stdout, stderr, chdir, umask, user, group, keep_fds)
    intermediate = _fork(prepared)
    if intermediate is None:
        _become_daemon(prepared, ready)
        return
    try:
        prepared.wait(intermediate)
        code = 0
    except Error as e:
        message, code = e.args
        sys.stderr.write("%s: %s\n" % (_program(), message))
    _flush()
    # The caller's atexit handlers are the daemon's now: run none of them here.
    os._exit(code)


class Daemon:
    """A daemon over a pidfile: subclass it, override ``run()`` (and
    ``reload()`` for SIGHUP), and call ``main()``.

    ``start()``, ``stop()``, ``restart()`` and ``status()`` return the
    ``warden`` CLI's exit codes and print a line on failure::

        start    0 started, 1 already running, 3 setup failed,
                 1 (or the daemon's status) when it ended before ready
        stop     0 stopped, 1 not running, 2 still running after the schedule
        status   0 running, 1 dead but pidfile exists, 3 not running, 4 unknown

    In the daemon, SIGTERM raises ``SystemExit`` (``finally:`` and ``atexit``
    run, the pidfile is removed) and SIGHUP calls ``reload()``. With
    ``ready=False`` the caller waits until ``run()`` calls
    ``self.notify_ready()``; an exception before that is the start's failure.

    ``name`` prefixes the messages (default: the program's file name).
    ``start()`` returns in the calling process; the daemon stays its child
    until that process exits (it reaps a daemon that dies before ready).
    """

    def __init__(
        self,
        pidfile,
        stdin="/dev/null",
        stdout="/dev/null",
        stderr="/dev/null",
        *,
        chdir="/",
        umask=0o022,
        user=None,
        group=None,
        stop_schedule="TERM/10/KILL/5",
        ready=True,
        keep_fds=(),
        name=None,
    ):
        self.pidfile = os.path.abspath(os.fspath(pidfile))
        self.name = name
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.chdir = chdir
        self.umask = umask
        self.user = user
        self.group = group
        self.stop_schedule = _native.check_schedule(stop_schedule)
        self.ready = ready
        self.keep_fds = tuple(keep_fds)

    def _say(self, stream, message):
        stream.write("%s: %s\n" % (self.name or _program(), message))

    # -- to override -------------------------------------------------------

    def run(self):
        """The daemon's work. Return (or let SIGTERM raise SystemExit) to end."""
        raise NotImplementedError("subclasses of warden.Daemon override run()")

    def reload(self):
        """Called on SIGHUP in the daemon."""

    # -- in the daemon -----------------------------------------------------

    def notify_ready(self):
        """See ``warden.notify_ready``."""
        notify_ready()

    def _serve(self, prepared):
        _become_daemon(prepared, self.ready)
        signal.signal(signal.SIGHUP, lambda signum, frame: self.reload())
        self.run()
        if _handle is not None and not _handle.is_ready():
            _handle.fail(_INIT_FAILED, "run() returned before the daemon was ready")
        sys.exit(0)

    # -- control -----------------------------------------------------------

    def start(self):
        """Starts the daemon; returns 0 once it is ready, or an error code."""
        try:
            prepared = _prepare(
                self.pidfile, self.stdin, self.stdout, self.stderr, self.chdir,
                self.umask, self.user, self.group, self.keep_fds,
            )
        except Error as e:
            message, code = e.args
            self._say(sys.stderr, message)
            return code
        intermediate = _fork(prepared)
        if intermediate is None:
            self._serve(prepared)  # never returns: ends with SystemExit
        try:
            prepared.wait(intermediate)
            return 0
        except Error as e:
            message, code = e.args
            self._say(sys.stderr, message)
            return code

    def stop(self):
        """Stops the daemon with the stop schedule; 0, 1 or 2 (3 on error)."""
        code, _pid, message = _native.stop(self.pidfile, self.stop_schedule)
        if code != 0:
            self._say(sys.stderr, message)
        return code

    def restart(self):
        """Stops the daemon if it runs, then starts it. If it will not stop,
        returns 2 without starting another."""
        code = self.stop()
        if code not in (0, 1):
            return code
        return self.start()

    def status(self):
        """LSB status code; prints the state on stdout."""
        code, _pid, message = _native.status(self.pidfile)
        self._say(sys.stdout, message)
        return code

    def main(self, argv=None):
        """``prog start|stop|restart|status``: runs the command and exits with
        its code; anything else prints the usage and exits 2."""
        argv = sys.argv if argv is None else argv
        commands = {
            "start": self.start,
            "stop": self.stop,
            "restart": self.restart,
            "status": self.status,
        }
        if len(argv) != 2 or argv[1] not in commands:
            prog = os.path.basename(argv[0]) if argv else _program()
            sys.stderr.write("usage: %s start|stop|restart|status\n" % prog)
            sys.exit(2)
        sys.exit(commands[argv[1]]())
