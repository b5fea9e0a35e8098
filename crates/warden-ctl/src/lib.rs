#![forbid(unsafe_code)]
//! `warden ctl`: a fast drop-in for supervisor 4.3.0's `supervisorctl`.
//!
//! It speaks supervisord's XML-RPC API (to warden's own supervisor or to the
//! real supervisord), prints the same lines byte for byte as `supervisorctl`
//! for everything tools parse (`status` lines, `name: started`,
//! `name: added process group`, ...), and exits with the same codes by
//! default, so scripts and Ansible's `supervisorctl` module can call either.
//!
//! # Theory of operation
//!
//! [`main`] realizes options like supervisorctl's `ClientOptions`
//! ([`options`]), then runs one command line through [`ctl::Ctl::onecmd`] (a
//! port of `Controller.onecmd`; the `do_*` methods live one per module
//! under `src/commands/`) or starts the interactive shell ([`shell`]).
//! Commands call the server through the typed [`client::Client`] (one
//! method per XML-RPC method, typed results and faults), which makes
//! blocking calls over one keep-alive connection through a small
//! hand-written HTTP/1.1 client ([`http`]); `tail -f`, `maintail -f` and `fg` stream
//! `GET /logtail/...` / `GET /mainlogtail`. There is no async runtime: a
//! command is a handful of round trips on a local socket, and start-up time
//! dominates (`status` takes about a millisecond).
//!
//! # Exit codes
//!
//! By default exactly supervisorctl's (LSB init-script style):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | generic error (bad arguments for most commands, faults, unknown command) |
//! | 2 | invalid arguments (usage errors, `start` without a name or with an unknown group) |
//! | 3 | `status`: some process is STOPPED, EXITED, FATAL or UNKNOWN; also: the server lacks the `supervisor` RPC namespace |
//! | 4 | `status`: cannot connect (any connection failure); others: connection refused |
//! | 5 | the server's API version is not 3.0 |
//! | 7 | a process is not running (`pid` of a stopped process, spawn error, abnormal termination); the socket file does not exist |
//!
//! `status` exit codes, usable as a health check: 0 when every listed
//! process is RUNNING, STARTING, BACKOFF or STOPPING (supervisorctl
//! compatible; see supervisor issues #1223 and #1488), 3 when some are not
//! running, 4 when the server cannot be reached or a name is unknown.
//! `status --strict` makes anything other than RUNNING exit 3.
//!
//! # Extensions
//!
//! - `--json` (before the command, or among its arguments) prints one JSON
//!   document instead of text; exit codes do not change. `status`, `pid`,
//!   `avail`, `reread`, `tail` and `events` have documents of their own; for
//!   every other command (`start`, `stop`, `restart`, `signal`, `clear`,
//!   `update`, `add`, `remove`, `reload`, `shutdown`, `version`, `maintail`,
//!   `wait`) the lines it prints become
//!   `{"command", "exit_status", "results": [{"name", "ok", "message"}], "lines"}`.
//! - `events [--json]` follows `warden supervise`'s event stream
//!   (`/api/v1/events`): one line (or JSON object) per change, until Ctrl-C.
//! - `wait [--timeout S] NAME... [--for running|stopped]` polls until every
//!   named process is RUNNING (or stopped): exit 0 when reached, 1 at the
//!   timeout (default 30 s), 3 if a process went FATAL while waiting for
//!   running, 4 if the server could not be reached before the timeout,
//!   2 for bad arguments.
//!
//! # Known differences
//!
//! - When an unexpected error reaches the top level, supervisorctl prints a
//!   Python class, message, *file and line*; warden prints the same class and
//!   message with `file: warden-ctl line: 0`.
//! - The 401 credential prompt of the interactive shell echoes the password.
//! - `[ctlplugin:x]` plugins (Python code) are not supported.

use std::ffi::OsString;
use std::io::Write;

pub mod client;
mod commands;
pub mod ctl;
pub mod http;
pub mod options;
pub mod shell;

/// Exit codes (supervisorctl's `LSBInitExitStatuses` and `LSBStatusExitStatuses`).
pub mod exit {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// Generic failure.
    pub const GENERIC: i32 = 1;
    /// Invalid arguments.
    pub const INVALID_ARGS: i32 = 2;
    /// Server lacks the supervisor namespace.
    pub const UNIMPLEMENTED_FEATURE: i32 = 3;
    /// Connection refused.
    pub const INSUFFICIENT_PRIVILEGES: i32 = 4;
    /// API version mismatch.
    pub const NOT_INSTALLED: i32 = 5;
    /// Not running / no such socket file.
    pub const NOT_RUNNING: i32 = 7;
    /// `status`: some process is not running.
    pub const STATUS_NOT_RUNNING: i32 = 3;
    /// `status`: cannot connect, or an unknown name.
    pub const STATUS_UNKNOWN: i32 = 4;
}

/// supervisorctl's usage text (`%s` replaced by the program name), followed
/// by warden's additions.
const DOC: &str = "supervisorctl -- control applications run by supervisord from the cmd line.

Usage: %s [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-i/--interactive -- start an interactive shell after executing commands
-s/--serverurl URL -- URL on which supervisord server is listening
     (default \"http://localhost:9001\").
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server
-r/--history-file -- keep a readline history (if readline is available)

action [arguments] -- see below

Actions are commands like \"tail\" or \"stop\".  If -i is specified or no action is
specified on the command line, a \"shell\" interpreting actions typed
interactively is started.  Use the action \"help\" to find out about available
actions.
";

const WARDEN_DOC: &str = "
warden additions:
--json -- print JSON: for status, pid, avail, reread, tail and events their
     own documents; for the other commands the lines they print as
     {command, exit_status, results: [{name, ok, message}], lines}
     (also accepted after the command)
events [--json] -- follow the supervisor's events (warden supervise only)
wait [--timeout S] NAME... [--for running|stopped] -- wait for processes
     (exit 0 reached, 1 timeout, 3 went FATAL, 4 cannot connect)
status --strict -- exit 3 unless every listed process is RUNNING

Exit codes (same as supervisorctl):
0 success; 1 generic error; 2 invalid arguments; 3 no supervisor RPC
namespace; 4 connection refused; 5 API version mismatch; 7 process not
running, or socket file missing.
status: 0 all listed processes running (STARTING, BACKOFF and STOPPING
count as running, as in supervisorctl); 3 some STOPPED, EXITED, FATAL or
UNKNOWN; 4 cannot connect or unknown name.
";

/// The text `PROGNAME -h` prints: supervisorctl's usage, then warden's
/// extensions (for man pages).
pub fn help_text(progname: &str) -> String {
    format!("{}\n{}", DOC.replace("%s", progname), WARDEN_DOC)
}

/// Run `warden ctl` / `supervisorctl`. `args[0]` is the program name (used
/// in messages and, like supervisorctl's `sys.argv[0]`, to find
/// `../etc/supervisord.conf`); the rest are the arguments. Returns the exit
/// code.
pub fn main(args: Vec<OsString>) -> i32 {
    let progname = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "supervisorctl".to_string());
    let rest = options::strings(args.get(1..).unwrap_or_default());
    let env = warden_config::host_env();
    let opts = match options::realize(&progname, &rest, &env) {
        Ok(o) => o,
        Err(options::Early::Help) => {
            let text = help_text(&progname);
            let _ = std::io::stdout().write_all(text.as_bytes());
            return exit::SUCCESS;
        }
        Err(options::Early::Usage(msg)) => {
            eprintln!("Error: {msg}");
            eprintln!("For help, use {progname} -h");
            return exit::INVALID_ARGS;
        }
    };
    let has_args = !opts.args.is_empty();
    let mut c = ctl::Ctl::new(opts);
    if has_args {
        let line = c.opts.args.join(" ");
        c.onecmd(&line);
        c.flush();
        return c.exitstatus;
    }
    shell::run(&mut c);
    // supervisorctl: "exitstatus always 0 for interactive mode".
    exit::SUCCESS
}
