//! The command interpreter: a line-for-line port of supervisor 4.3.0's
//! `Controller` (`supervisorctl.py`), so that output and exit statuses
//! match. The commands (`DefaultControllerPlugin`'s `do_*` methods, plus
//! warden's extensions `--json`, `wait` and `status --strict`) live one per
//! module (`src/commands/`), and talk to the server through the typed
//! [`Client`].

use std::io::{self, BufRead, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use warden_xmlrpc::{Fault, FaultCode};

use crate::client::{CallError, Client};
use crate::exit;
use crate::http::{self, Endpoint, HttpError};
use crate::options::Options;

/// Why a command stopped early: the equivalent of a Python exception that
/// reaches `Controller.onecmd`.
#[derive(Debug)]
pub enum Abort {
    /// An XML-RPC fault the command does not handle.
    Fault(Fault),
    /// A transport failure.
    Http(HttpError),
    /// A malformed response.
    Parse(String),
    /// Anything else (`ValueError`s of the result formatters).
    Other(&'static str, String),
}

/// What a command returns.
pub(crate) type R<T> = Result<T, Abort>;

impl From<CallError> for Abort {
    fn from(e: CallError) -> Abort {
        match e {
            CallError::Fault(f) => Abort::Fault(f),
            CallError::Http(e) => Abort::Http(e),
            CallError::Parse(m) => Abort::Parse(m),
        }
    }
}

/// The names supervisorctl completes and lists (`vocab`).
pub const VOCAB: &[&str] = &[
    "help", "add", "avail", "clear", "exit", "fg", "help", "maintail", "open", "pid", "quit",
    "reload", "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop",
    "tail", "update", "version",
];

/// The controller: options, the client (one keep-alive connection), the
/// exit status and buffered output.
pub struct Ctl {
    /// Options (the server URL may change with `open`).
    pub opts: Options,
    pub(crate) client: Client,
    /// Exit status so far (supervisorctl's `exitstatus`).
    pub exitstatus: i32,
    pub(crate) out: Vec<u8>,
    /// `--json` in effect for the current command.
    pub(crate) json: bool,
    /// Set by SIGINT while a `tail -f`/`fg` stream runs.
    pub(crate) interrupted: Arc<AtomicBool>,
}

impl std::fmt::Debug for Ctl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctl")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// A new client of the server, with the credentials, in `o`.
pub fn client_for(o: &Options) -> Client {
    Client::new(endpoint_of(&o.serverurl), auth_of(o))
}

fn auth_of(o: &Options) -> Option<String> {
    // SupervisorTransport sends auth only when both are set.
    match (&o.username, &o.password) {
        (Some(u), Some(p)) => Some(http::basic_auth(u, p)),
        _ => None,
    }
}

pub(crate) fn endpoint_of(url: &str) -> Endpoint {
    // `open` and `-s` validate the scheme; anything else fails to connect.
    Endpoint::parse(url).unwrap_or_else(|| Endpoint::Unix(String::new()))
}

/// Python's `str(OSError)`: `[Errno N] strerror`, and its class name.
pub(crate) fn py_oserror(e: &io::Error) -> (&'static str, String) {
    let Some(code) = e.raw_os_error() else {
        return ("OSError", e.to_string());
    };
    let text = e.to_string();
    let text = text
        .rsplit_once(" (os error")
        .map_or(text.as_str(), |(t, _)| t)
        .to_string();
    let class = match code {
        2 => "FileNotFoundError",
        111 => "ConnectionRefusedError",
        1 | 13 => "PermissionError",
        104 => "ConnectionResetError",
        32 => "BrokenPipeError",
        110 => "TimeoutError",
        20 => "NotADirectoryError",
        _ => "OSError",
    };
    (class, format!("[Errno {code}] {text}"))
}

impl Ctl {
    /// A controller for `opts`.
    pub fn new(opts: Options) -> Ctl {
        Ctl {
            json: opts.json,
            client: client_for(&opts),
            opts,
            exitstatus: exit::SUCCESS,
            out: Vec::with_capacity(4096),
            interrupted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `self.ctl.output(message)`: the message and a newline, on stdout.
    pub fn output(&mut self, msg: &str) {
        self.out.extend_from_slice(msg.as_bytes());
        self.out.push(b'\n');
    }

    /// Write buffered output to stdout.
    pub fn flush(&mut self) {
        if !self.out.is_empty() {
            let mut so = io::stdout().lock();
            // A closed stdout (e.g. `| head`) is not an error worth reporting.
            let _ = so.write_all(&self.out);
            let _ = so.flush();
            self.out.clear();
        }
    }

    /// supervisorctl's `_set_exitstatus_from_fault`.
    pub(crate) fn set_exitstatus_from_fault(&mut self, code: i32, ignored: Option<FaultCode>) {
        if ignored.is_some_and(|c| c.code() == code) || code == FaultCode::Success.code() {
        } else if [
            FaultCode::SpawnError,
            FaultCode::AbnormalTermination,
            FaultCode::NotRunning,
        ]
        .iter()
        .any(|c| c.code() == code)
        {
            self.exitstatus = exit::NOT_RUNNING;
        } else {
            self.exitstatus = exit::GENERIC;
        }
    }

    /// Report an exception the way `onecmd`'s catch-all does.
    fn report(&mut self, a: Abort) {
        let (class, text) = match &a {
            Abort::Fault(f) => (
                "xmlrpc.client.Fault",
                format!(
                    "<Fault {}: {}>",
                    f.code,
                    warden_config::expand::repr(&f.string)
                ),
            ),
            Abort::Http(HttpError::Connect(e) | HttpError::Io(e)) => {
                let (c, t) = py_oserror(e);
                (c, t)
            }
            Abort::Http(HttpError::Status(code, reason)) => (
                "xmlrpc.client.ProtocolError",
                format!("<ProtocolError for 127.0.0.1/RPC2: {code} {reason}>"),
            ),
            Abort::Parse(m) => ("xml.parsers.expat.ExpatError", m.clone()),
            Abort::Other(c, m) => (*c, m.clone()),
        };
        self.output(&format!(
            "error: <class '{class}'>, {text}: file: warden-ctl line: 0"
        ));
        self.exitstatus = exit::GENERIC;
    }

    /// supervisorctl's `upcheck`.
    pub(crate) fn upcheck(&mut self) -> R<bool> {
        match self.client.api_version() {
            Ok(api) => {
                if api != "3.0" {
                    self.output(&format!(
                        "Sorry, this version of supervisorctl expects to talk to a server with API version 3.0, but the remote version is {api}."
                    ));
                    self.exitstatus = exit::NOT_INSTALLED;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(CallError::Fault(f)) if f.code == FaultCode::UnknownMethod.code() => {
                self.output("Sorry, supervisord responded but did not recognize the supervisor namespace commands that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] section is enabled in the configuration file (see sample.conf).");
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(false)
            }
            Err(CallError::Http(HttpError::Connect(e) | HttpError::Io(e)))
                if matches!(e.raw_os_error(), Some(111 | 2)) =>
            {
                let url = self.opts.serverurl.clone();
                if e.raw_os_error() == Some(111) {
                    self.output(&format!("{url} refused connection"));
                    self.exitstatus = exit::INSUFFICIENT_PRIVILEGES;
                } else {
                    self.output(&format!("{url} no such file"));
                    self.exitstatus = exit::NOT_RUNNING;
                }
                Ok(false)
            }
            Err(CallError::Http(HttpError::Status(401, r))) => {
                Err(Abort::Http(HttpError::Status(401, r)))
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                Err(e.into())
            }
        }
    }

    /// Python's `cmd.Cmd.parseline`.
    fn parseline(line: &str) -> (Option<String>, String, String) {
        let mut line = line.trim().to_string();
        if line.is_empty() {
            return (None, String::new(), line);
        }
        if let Some(rest) = line.strip_prefix('?') {
            line = format!("help {rest}");
        } else if line.starts_with('!') {
            return (None, String::new(), line);
        }
        let i = line
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(line.len(), |(i, _)| i);
        let cmd = line[..i].to_string();
        let arg = line[i..].trim().to_string();
        (Some(cmd), arg, line)
    }

    /// Run one command line; returns true when the shell should stop.
    pub fn onecmd(&mut self, line: &str) -> bool {
        let (cmd, arg, line) = Self::parseline(line);
        if line.is_empty() {
            return false;
        }
        let Some(cmd) = cmd.filter(|c| !c.is_empty()) else {
            self.default(&line);
            return false;
        };
        let json_before = self.json;
        let r = self.dispatch(&cmd, &arg);
        self.json = json_before;
        let stop = match r {
            None => {
                self.default(&line);
                false
            }
            Some(Ok(stop)) => stop,
            Some(Err(Abort::Http(HttpError::Status(401, _)))) => {
                if self.opts.interactive && self.prompt_credentials() {
                    self.flush();
                    return self.onecmd(&line);
                }
                self.output("Server requires authentication");
                self.exitstatus = exit::GENERIC;
                // supervisorctl then runs the command once more, outside
                // the 401 handler; its failure goes to the catch-all.
                let again = self.dispatch(&cmd, &arg);
                self.json = json_before;
                match again {
                    Some(Err(e)) => {
                        self.report(e);
                        false
                    }
                    Some(Ok(stop)) => stop,
                    None => false,
                }
            }
            Some(Err(e)) => {
                self.report(e);
                false
            }
        };
        self.flush();
        stop
    }

    fn prompt_credentials(&mut self) -> bool {
        self.output("Server requires authentication");
        self.flush();
        let username = read_stdin_line("Username:");
        let password = read_stdin_line("Password:");
        let (Some(u), Some(p)) = (username, password) else {
            return false;
        };
        self.output("");
        self.opts.username = Some(u);
        self.opts.password = Some(p);
        self.client.set_auth(auth_of(&self.opts));
        true
    }

    fn default(&mut self, line: &str) {
        self.output(&format!("*** Unknown syntax: {line}"));
        self.exitstatus = exit::GENERIC;
        self.flush();
    }

    /// Strip warden's `--json` flag from command arguments.
    pub(crate) fn take_json(&mut self, arg: &str) -> String {
        let words: Vec<&str> = arg.split_whitespace().collect();
        if words.contains(&"--json") {
            self.json = true;
            words
                .into_iter()
                .filter(|w| *w != "--json")
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            arg.to_string()
        }
    }

    /// Ask a yes/no question on stdin.
    pub(crate) fn confirm(&mut self, prompt: &str) -> bool {
        self.flush();
        read_stdin_line(prompt).is_some_and(|a| a.to_lowercase().starts_with('y'))
    }

    /// The Basic credentials of a log stream.
    pub(crate) fn stream_auth(&self) -> Option<String> {
        // http_client.HTTPHandler sends auth when the password is truthy.
        match &self.opts.password {
            Some(p) if !p.is_empty() => Some(http::basic_auth(
                self.opts.username.as_deref().unwrap_or("None"),
                p,
            )),
            _ => None,
        }
    }
}

/// [`pad`] appended to a byte buffer.
pub(crate) fn pad_into(out: &mut Vec<u8>, s: &str, width: usize) {
    out.extend_from_slice(s.as_bytes());
    let n = s.chars().count();
    if n < width {
        out.resize(out.len() + (width - n), b' ');
    }
}

/// Python's `'%-Ns' % s`: pad with spaces to N code points.
pub(crate) fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        let mut o = String::with_capacity(width);
        o.push_str(s);
        o.extend(std::iter::repeat_n(' ', width - n));
        o
    }
}

/// Python's `int(s)` for the `tail -N` modifier (underscores, sign, spaces).
pub(crate) fn py_int(s: &str) -> Option<i64> {
    warden_config::datatypes::py_int(s).ok()
}

/// Print `prompt` and read a line from stdin (`raw_input`).
pub fn read_stdin_line(prompt: &str) -> Option<String> {
    let mut so = io::stdout().lock();
    let _ = so.write_all(prompt.as_bytes());
    let _ = so.flush();
    drop(so);
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parseline_like_cmd() {
        assert_eq!(
            Ctl::parseline("  status  foo bar "),
            (
                Some("status".into()),
                "foo bar".into(),
                "status  foo bar".into()
            )
        );
        assert_eq!(Ctl::parseline("?status").0.as_deref(), Some("help"));
        assert_eq!(Ctl::parseline("!ls").0, None);
        assert_eq!(Ctl::parseline("-x").0.as_deref(), Some(""));
    }

    #[test]
    fn padding() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("abcdef", 4), "abcdef");
    }
}
