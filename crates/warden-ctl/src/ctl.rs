//! The command interpreter: a line-for-line port of supervisor 4.3.0's
//! `Controller` and `DefaultControllerPlugin` (`supervisorctl.py`), so that
//! output and exit statuses match, plus warden's extensions (`--json`,
//! `wait`, `status --strict`).

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_types::{Namespec, ProcessState};
use warden_xmlrpc::{Fault, FaultCode, Value};

use crate::exit;
use crate::http::{self, Endpoint, HttpError, RpcConnection};
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

type R<T> = Result<T, Abort>;

/// The names supervisorctl completes and lists (`vocab`).
pub const VOCAB: &[&str] = &[
    "help", "add", "avail", "clear", "exit", "fg", "help", "maintail", "open", "pid", "quit",
    "reload", "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop",
    "tail", "update", "version",
];

const HELP_TOPICS: &str = "\ndefault commands (type help <topic>):\n=====================================\nadd    exit      open  reload  restart   start   tail   \navail  fg        pid   remove  shutdown  status  update \nclear  maintail  quit  reread  signal    stop    version\n\n";

/// The controller: options, one keep-alive RPC connection, the exit status
/// and buffered output.
pub struct Ctl {
    /// Options (the server URL may change with `open`).
    pub opts: Options,
    conn: RpcConnection,
    /// Exit status so far (supervisorctl's `exitstatus`).
    pub exitstatus: i32,
    out: Vec<u8>,
    /// `--json` in effect for the current command.
    json: bool,
    /// Set by SIGINT while a `tail -f`/`fg` stream runs.
    interrupted: Arc<AtomicBool>,
}

impl std::fmt::Debug for Ctl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctl")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// A new RPC connection for the server and credentials in `o`.
pub fn connection_for(o: &Options) -> RpcConnection {
    RpcConnection::new(endpoint_of(&o.serverurl), auth_of(o))
}

fn auth_of(o: &Options) -> Option<String> {
    // SupervisorTransport sends auth only when both are set.
    match (&o.username, &o.password) {
        (Some(u), Some(p)) => Some(http::basic_auth(u, p)),
        _ => None,
    }
}

fn endpoint_of(url: &str) -> Endpoint {
    // `open` and `-s` validate the scheme; anything else fails to connect.
    Endpoint::parse(url).unwrap_or_else(|| Endpoint::Unix(String::new()))
}

/// Python's `make_namespec`.
pub fn make_namespec(group: &str, name: &str) -> String {
    Namespec::process(group, name).to_string()
}

/// The state in a process info struct (`UNKNOWN` if absent or unknown).
fn state_of(info: &Value) -> ProcessState {
    ProcessState::from_code(ifield(info, "state")).unwrap_or(ProcessState::Unknown)
}

/// A field of a struct value as a string ("" if absent).
pub fn sfield(v: &Value, k: &str) -> String {
    match v.as_struct().and_then(|s| s.get(k)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Boolean(b)) => if *b { "True" } else { "False" }.to_string(),
        _ => String::new(),
    }
}

/// A string field of a struct value, borrowed ("" if absent or not a string).
pub fn str_field<'a>(v: &'a Value, k: &str) -> &'a str {
    match v.as_struct().and_then(|s| s.get(k)) {
        Some(Value::String(s)) => s,
        _ => "",
    }
}

/// A field of a struct value as an int (0 if absent).
pub fn ifield(v: &Value, k: &str) -> i32 {
    match v.as_struct().and_then(|s| s.get(k)) {
        Some(Value::Int(i)) => *i,
        Some(Value::Boolean(b)) => i32::from(*b),
        _ => 0,
    }
}

fn truthy(v: &Value, k: &str) -> bool {
    match v.as_struct().and_then(|s| s.get(k)) {
        Some(Value::Boolean(b)) => *b,
        Some(Value::Int(i)) => *i != 0,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    }
}

/// Convert an XML-RPC value to JSON.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Int(i) => J::from(*i),
        Value::Boolean(b) => J::from(*b),
        Value::String(s) | Value::DateTime(s) => J::from(s.as_str()),
        Value::Double(d) => J::from(*d),
        Value::Base64(b) => J::from(String::from_utf8_lossy(b).into_owned()),
        Value::Struct(s) => J::Object(s.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Nil => J::Null,
    }
}

/// Python's `str(OSError)`: `[Errno N] strerror`, and its class name.
fn py_oserror(e: &io::Error) -> (&'static str, String) {
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
        let conn = RpcConnection::new(endpoint_of(&opts.serverurl), auth_of(&opts));
        Ctl {
            json: opts.json,
            opts,
            conn,
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

    /// Call an XML-RPC method.
    pub fn call(&mut self, method: &str, params: &[Value]) -> R<Value> {
        let body = warden_xmlrpc::write_call(method, params);
        let resp = self.conn.post(body.as_bytes()).map_err(Abort::Http)?;
        match warden_xmlrpc::parse_response(&resp) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(Abort::Fault(f)),
            Err(e) => Err(Abort::Parse(e.to_string())),
        }
    }

    fn call_s(&mut self, method: &str, params: &[&str]) -> R<Value> {
        let p: Vec<Value> = params.iter().map(|s| Value::from(*s)).collect();
        self.call(method, &p)
    }

    fn set_exitstatus_from_fault(&mut self, code: i32, ignored: Option<FaultCode>) {
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
    fn upcheck(&mut self) -> R<bool> {
        match self.call("supervisor.getVersion", &[]) {
            Ok(v) => {
                let api = v.as_str().unwrap_or_default().to_string();
                if api != "3.0" {
                    self.output(&format!(
                        "Sorry, this version of supervisorctl expects to talk to a server with API version 3.0, but the remote version is {api}."
                    ));
                    self.exitstatus = exit::NOT_INSTALLED;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(Abort::Fault(f)) if f.code == FaultCode::UnknownMethod.code() => {
                self.output("Sorry, supervisord responded but did not recognize the supervisor namespace commands that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] section is enabled in the configuration file (see sample.conf).");
                self.exitstatus = exit::UNIMPLEMENTED_FEATURE;
                Ok(false)
            }
            Err(Abort::Http(HttpError::Connect(e) | HttpError::Io(e)))
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
            Err(Abort::Http(HttpError::Status(401, r))) => {
                Err(Abort::Http(HttpError::Status(401, r)))
            }
            Err(e) => {
                self.exitstatus = exit::GENERIC;
                Err(e)
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
        self.conn.set_auth(auth_of(&self.opts));
        true
    }

    fn default(&mut self, line: &str) {
        self.output(&format!("*** Unknown syntax: {line}"));
        self.exitstatus = exit::GENERIC;
        self.flush();
    }

    /// Strip warden's `--json` flag from command arguments.
    fn take_json(&mut self, arg: &str) -> String {
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

    fn dispatch(&mut self, cmd: &str, arg: &str) -> Option<R<bool>> {
        let r = match cmd {
            "help" => self.do_help(arg),
            "EOF" | "quit" | "exit" => {
                self.output("");
                return Some(Ok(true));
            }
            "status" => {
                let a = self.take_json(arg);
                self.do_status(&a)
            }
            "pid" => {
                let a = self.take_json(arg);
                self.do_pid(&a)
            }
            "avail" => {
                let a = self.take_json(arg);
                self.do_avail(&a)
            }
            "reread" => {
                let a = self.take_json(arg);
                self.do_reread(&a)
            }
            "tail" => {
                let a = self.take_json(arg);
                self.do_tail(&a)
            }
            "start" => self.do_start(arg),
            "stop" => self.do_stop(arg),
            "restart" => self.do_restart(arg),
            "signal" => self.do_signal(arg),
            "maintail" => self.do_maintail(arg),
            "fg" => self.do_fg(arg),
            "clear" => self.do_clear(arg),
            "update" => self.do_update(arg),
            "add" => self.do_add(arg),
            "remove" => self.do_remove(arg),
            "reload" => self.do_reload(arg),
            "shutdown" => self.do_shutdown(arg),
            "version" => self.do_version(arg),
            "open" => self.do_open(arg),
            "wait" => self.do_wait(arg),
            _ => return None,
        };
        Some(r.map(|()| false))
    }

    // ---- help -------------------------------------------------------------

    fn do_help(&mut self, arg: &str) -> R<()> {
        let arg = arg.trim();
        if arg == "help" {
            self.output("help\t\tPrint a list of available actions");
            self.output("help <action>\tPrint help for <action>");
            return Ok(());
        }
        if arg.is_empty() {
            self.out.extend_from_slice(HELP_TOPICS.as_bytes());
            return Ok(());
        }
        if !self.help_topic(arg) {
            self.output(&format!("*** No help on {arg}"));
        }
        Ok(())
    }

    fn help_topic(&mut self, topic: &str) -> bool {
        let text: &str = match topic {
            "tail" => "tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\ntail -f <name>\t\tContinuous tail of named process stdout\n\t\t\tCtrl-C to exit.\ntail -100 <name>\tlast 100 *bytes* of process stdout\ntail <name> stderr\tlast 1600 *bytes* of process stderr",
            "maintail" => "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\nmaintail -100\tlast 100 *bytes* of supervisord main log file\nmaintail\tlast 1600 *bytes* of supervisor main log file\n",
            "quit" => "quit\tExit the supervisor shell.",
            "exit" => "exit\tExit the supervisor shell.",
            "status" => "status <name>\t\tGet status for a single process\nstatus <gname>:*\tGet status for all processes in a group\nstatus <name> <name>\tGet status for multiple named processes\nstatus\t\t\tGet all process status info",
            "pid" => "pid\t\t\tGet the PID of supervisord.\npid <name>\t\tGet the PID of a single child process by name.\npid all\t\t\tGet the PID of every child process, one per line.",
            "start" => "start <name>\t\tStart a process\nstart <gname>:*\t\tStart all processes in a group\nstart <name> <name>\tStart multiple processes or groups\nstart all\t\tStart all processes",
            "stop" => "stop <name>\t\tStop a process\nstop <gname>:*\t\tStop all processes in a group\nstop <name> <name>\tStop multiple processes or groups\nstop all\t\tStop all processes",
            "signal" => "signal <signal name> <name>\t\tSignal a process\nsignal <signal name> <gname>:*\t\tSignal all processes in a group\nsignal <signal name> <name> <name>\tSignal multiple processes or groups\nsignal <signal name> all\t\tSignal all processes",
            "restart" => "restart <name>\t\tRestart a process\nrestart <gname>:*\tRestart all processes in a group\nrestart <name> <name>\tRestart multiple processes or groups\nrestart all\t\tRestart all processes\nNote: restart does not reread config files. For that, see reread and update.",
            "shutdown" => "shutdown \tShut the remote supervisord down.",
            "reload" => "reload \t\tRestart the remote supervisord.",
            "avail" => "avail\t\t\tDisplay all configured processes",
            "reread" => "reread \t\t\tReload the daemon's configuration files without add/remove",
            "add" => "add <name> [...]\tActivates any updates in config for process/group",
            "remove" => "remove <name> [...]\tRemoves process/group from active config",
            "update" => "update\t\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate all\t\tReload config and add/remove as necessary, and will restart affected programs\nupdate <gname> [...]\tUpdate specific groups",
            "clear" => "clear <name>\t\tClear a process' log files.\nclear <name> <name>\tClear multiple process' log files\nclear all\t\tClear all process' log files",
            "open" => "open <url>\tConnect to a remote supervisord process.\n\t\t(for UNIX domain socket, use unix:///socket/path)",
            "version" => "version\t\t\tShow the version of the remote supervisord process",
            "fg" => "fg <process>\tConnect to a process in foreground mode\n\t\tCtrl-C to exit",
            // warden extensions.
            "wait" => "wait [--timeout S] <name>... [--for running|stopped]\n\t\t\tWait until every named process (name, group:*, all) is\n\t\t\tRUNNING (default) or stopped. Exit 0 when reached, 1 at\n\t\t\tthe timeout (default 30 s), 3 if a process went FATAL while\n\t\t\twaiting for running, 4 if the server cannot be reached.",
            _ => return false,
        };
        self.output(text);
        true
    }

    fn help(&mut self, topic: &str) {
        self.help_topic(topic);
    }

    // ---- status / pid -----------------------------------------------------

    fn do_status(&mut self, arg: &str) -> R<()> {
        let mut strict = false;
        let words: Vec<String> = arg
            .split_whitespace()
            .filter(|w| {
                if *w == "--strict" {
                    strict = true;
                    false
                } else {
                    true
                }
            })
            .map(str::to_string)
            .collect();
        if !self.upcheck()? {
            self.exitstatus = exit::STATUS_UNKNOWN;
            return Ok(());
        }
        let all = self.call("supervisor.getAllProcessInfo", &[])?;
        let all_infos: &[Value] = all.as_array().unwrap_or_default();
        let matching: Vec<&Value> = if words.is_empty() || words.iter().any(|w| w == "all") {
            all_infos.iter().collect()
        } else {
            let mut m = Vec::new();
            for name in &words {
                let Namespec {
                    group: g,
                    process: p,
                } = Namespec::parse(name);
                let mut bad = true;
                for info in all_infos {
                    let mut matched = str_field(info, "group") == g;
                    if let Some(p) = &p {
                        matched = matched && str_field(info, "name") == p;
                    }
                    if matched {
                        bad = false;
                        m.push(info);
                    }
                }
                if bad {
                    let msg = if p.is_none() {
                        format!("{g}: ERROR (no such group)")
                    } else {
                        format!("{name}: ERROR (no such process)")
                    };
                    if self.json {
                        eprintln!("{msg}");
                    } else {
                        self.output(&msg);
                    }
                    self.exitstatus = exit::STATUS_UNKNOWN;
                }
            }
            m
        };
        if self.json {
            let arr: Vec<serde_json::Value> = matching
                .iter()
                .map(|i| {
                    let mut j = to_json(i);
                    if let Some(o) = j.as_object_mut() {
                        o.insert(
                            "namespec".into(),
                            make_namespec(&sfield(i, "group"), &sfield(i, "name")).into(),
                        );
                    }
                    j
                })
                .collect();
            self.output(&serde_json::Value::Array(arr).to_string());
        } else {
            self.show_statuses(&matching);
        }
        for info in &matching {
            let s = state_of(info);
            if s.is_stopped() || (strict && s != ProcessState::Running) {
                self.exitstatus = exit::STATUS_NOT_RUNNING;
            }
        }
        Ok(())
    }

    fn show_statuses(&mut self, infos: &[&Value]) {
        let specs: Vec<String> = infos
            .iter()
            .map(|i| make_namespec(str_field(i, "group"), str_field(i, "name")))
            .collect();
        // Python pads by code points.
        let maxlen = specs
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(30);
        let width = maxlen + 3;
        for (spec, info) in specs.iter().zip(infos) {
            pad_into(&mut self.out, spec, width);
            pad_into(&mut self.out, str_field(info, "statename"), 10);
            self.out
                .extend_from_slice(str_field(info, "description").as_bytes());
            self.out.push(b'\n');
        }
    }

    fn do_pid(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let mut json = Vec::new();
        if names.is_empty() {
            let pid = self.call("supervisor.getPID", &[])?;
            let pid = pid.as_i32().unwrap_or_default();
            if self.json {
                self.output(&serde_json::json!({ "supervisord": pid }).to_string());
            } else {
                self.output(&pid.to_string());
            }
            return Ok(());
        } else if names.contains(&"all") {
            let all = self.call("supervisor.getAllProcessInfo", &[])?;
            for info in all.as_array().unwrap_or_default() {
                let pid = ifield(info, "pid");
                if self.json {
                    json.push(serde_json::json!({
                        "name": make_namespec(&sfield(info, "group"), &sfield(info, "name")),
                        "pid": pid,
                    }));
                } else {
                    self.output(&pid.to_string());
                }
            }
        } else {
            for name in names {
                match self.call_s("supervisor.getProcessInfo", &[name]) {
                    Err(Abort::Fault(f)) if f.code == FaultCode::BadName.code() => {
                        self.exitstatus = exit::GENERIC;
                        if self.json {
                            json.push(
                                serde_json::json!({ "name": name, "error": "no such process" }),
                            );
                        } else {
                            self.output(&format!("No such process {name}"));
                        }
                    }
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        return Err(e);
                    }
                    Ok(info) => {
                        let pid = ifield(&info, "pid");
                        if self.json {
                            json.push(serde_json::json!({ "name": name, "pid": pid }));
                        } else {
                            self.output(&pid.to_string());
                        }
                        if pid == 0 {
                            self.exitstatus = exit::NOT_RUNNING;
                        }
                    }
                }
            }
        }
        if self.json {
            self.output(&serde_json::Value::Array(json).to_string());
        }
        Ok(())
    }

    // ---- start / stop / signal / restart -----------------------------------

    fn startresult(&self, r: &Value) -> R<String> {
        let name = make_namespec(&sfield(r, "group"), &sfield(r, "name"));
        let code = ifield(r, "status");
        let e = |m: &str| format!("{name}: ERROR ({m})");
        Ok(match FaultCode::from_code(code) {
            Some(FaultCode::BadName) => e("no such process"),
            Some(FaultCode::NoFile) => e("no such file"),
            Some(FaultCode::NotExecutable) => e("file is not executable"),
            Some(FaultCode::AlreadyStarted) => e("already started"),
            Some(FaultCode::SpawnError) => e("spawn error"),
            Some(FaultCode::AbnormalTermination) => e("abnormal termination"),
            Some(FaultCode::Success) => format!("{name}: started"),
            _ => {
                return Err(Abort::Other(
                    "ValueError",
                    format!("Unknown result code {code} for {name}"),
                ))
            }
        })
    }

    fn signalresult(&self, r: &Value, success: &str) -> R<String> {
        let name = make_namespec(&sfield(r, "group"), &sfield(r, "name"));
        let code = ifield(r, "status");
        let e = |m: &str| format!("{name}: ERROR ({m})");
        Ok(match FaultCode::from_code(code) {
            Some(FaultCode::BadName) => e("no such process"),
            Some(FaultCode::BadSignal) => e("bad signal name"),
            Some(FaultCode::NotRunning) => e("not running"),
            Some(FaultCode::Success) => format!("{name}: {success}"),
            Some(FaultCode::Failed) => sfield(r, "description"),
            _ => {
                return Err(Abort::Other(
                    "ValueError",
                    format!("Unknown result code {code} for {name}"),
                ))
            }
        })
    }

    fn fault_result(f: &Fault, group: &str, process: &str) -> Value {
        Value::Struct(
            warden_xmlrpc::Struct::new()
                .with("status", f.code)
                .with("name", process)
                .with("group", group)
                .with("description", f.string.as_str()),
        )
    }

    fn results(v: &Value) -> Vec<Value> {
        v.as_array().unwrap_or_default().to_vec()
    }

    fn do_start(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: start requires a process name");
            self.exitstatus = exit::INVALID_ARGS;
            self.help("start");
            return Ok(());
        }
        let ign = Some(FaultCode::AlreadyStarted);
        if names.contains(&"all") {
            let rs = self.call("supervisor.startAllProcesses", &[])?;
            for r in Self::results(&rs) {
                let l = self.startresult(&r)?;
                self.output(&l);
                self.set_exitstatus_from_fault(ifield(&r, "status"), ign);
            }
            return Ok(());
        }
        for name in names {
            let Namespec {
                group: g,
                process: p,
            } = Namespec::parse(name);
            match p {
                None => match self.call_s("supervisor.startProcessGroup", &[&g]) {
                    Ok(rs) => {
                        for r in Self::results(&rs) {
                            let l = self.startresult(&r)?;
                            self.output(&l);
                            self.set_exitstatus_from_fault(ifield(&r, "status"), ign);
                        }
                    }
                    Err(Abort::Fault(f)) if f.code == FaultCode::BadName.code() => {
                        self.output(&format!("{g}: ERROR (no such group)"));
                        self.exitstatus = exit::INVALID_ARGS;
                    }
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        return Err(e);
                    }
                },
                Some(p) => match self.call_s("supervisor.startProcess", &[name]) {
                    Ok(_) => {
                        let n = make_namespec(&g, &p);
                        self.output(&format!("{n}: started"));
                    }
                    Err(Abort::Fault(f)) => {
                        let r = Self::fault_result(&f, &g, &p);
                        let l = self.startresult(&r)?;
                        self.output(&l);
                        self.set_exitstatus_from_fault(f.code, ign);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_stop(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: stop requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("stop");
            return Ok(());
        }
        let ign = Some(FaultCode::NotRunning);
        if names.contains(&"all") {
            let rs = self.call("supervisor.stopAllProcesses", &[])?;
            for r in Self::results(&rs) {
                let l = self.signalresult(&r, "stopped")?;
                self.output(&l);
                self.set_exitstatus_from_fault(ifield(&r, "status"), ign);
            }
            return Ok(());
        }
        for name in names {
            let Namespec {
                group: g,
                process: p,
            } = Namespec::parse(name);
            match p {
                None => match self.call_s("supervisor.stopProcessGroup", &[&g]) {
                    Ok(rs) => {
                        for r in Self::results(&rs) {
                            let l = self.signalresult(&r, "stopped")?;
                            self.output(&l);
                            self.set_exitstatus_from_fault(ifield(&r, "status"), ign);
                        }
                    }
                    Err(Abort::Fault(f)) if f.code == FaultCode::BadName.code() => {
                        self.exitstatus = exit::GENERIC;
                        self.output(&format!("{g}: ERROR (no such group)"));
                    }
                    Err(e) => {
                        self.exitstatus = exit::GENERIC;
                        return Err(e);
                    }
                },
                Some(p) => match self.call_s("supervisor.stopProcess", &[name]) {
                    Ok(_) => {
                        let n = make_namespec(&g, &p);
                        self.output(&format!("{n}: stopped"));
                    }
                    Err(Abort::Fault(f)) => {
                        let r = Self::fault_result(&f, &g, &p);
                        let l = self.signalresult(&r, "stopped")?;
                        self.output(&l);
                        self.set_exitstatus_from_fault(f.code, ign);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_signal(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        if args.len() < 2 {
            self.output("Error: signal requires a signal name and a process name");
            self.help("signal");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let sig = args[0];
        let names = &args[1..];
        if names.contains(&"all") {
            let rs = self.call_s("supervisor.signalAllProcesses", &[sig])?;
            for r in Self::results(&rs) {
                let l = self.signalresult(&r, "signalled")?;
                self.output(&l);
                self.set_exitstatus_from_fault(ifield(&r, "status"), None);
            }
            return Ok(());
        }
        for name in names {
            let Namespec {
                group: g,
                process: p,
            } = Namespec::parse(name);
            match p {
                None => match self.call_s("supervisor.signalProcessGroup", &[&g, sig]) {
                    Ok(rs) => {
                        for r in Self::results(&rs) {
                            let l = self.signalresult(&r, "signalled")?;
                            self.output(&l);
                            self.set_exitstatus_from_fault(ifield(&r, "status"), None);
                        }
                    }
                    Err(Abort::Fault(f)) if f.code == FaultCode::BadName.code() => {
                        self.output(&format!("{g}: ERROR (no such group)"));
                        self.exitstatus = exit::GENERIC;
                    }
                    Err(e) => return Err(e),
                },
                Some(p) => match self.call_s("supervisor.signalProcess", &[name, sig]) {
                    Ok(_) => {
                        let n = make_namespec(&g, &p);
                        self.output(&format!("{n}: signalled"));
                    }
                    Err(Abort::Fault(f)) => {
                        let r = Self::fault_result(&f, &g, &p);
                        let l = self.signalresult(&r, "signalled")?;
                        self.output(&l);
                        self.set_exitstatus_from_fault(f.code, None);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(())
    }

    fn do_restart(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.output("Error: restart requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("restart");
            return Ok(());
        }
        self.do_stop(arg)?;
        self.do_start(arg)
    }

    // ---- logs ---------------------------------------------------------------

    fn tailf(&mut self, path: &str) -> R<()> {
        self.output("==> Press Ctrl-C to exit <==");
        self.flush();
        let flag = self.interrupted.clone();
        flag.store(false, Ordering::SeqCst);
        let id = signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone()).ok();
        let ep = endpoint_of(&self.opts.serverurl);
        let auth = self.stream_auth();
        let url = format!("{}{}", self.opts.serverurl, path);
        let f2 = flag.clone();
        let interrupt: Box<dyn Fn() -> bool + Send> = Box::new(move || f2.load(Ordering::SeqCst));
        match http::get_stream(&ep, path, auth.as_deref(), Some(interrupt)) {
            Ok(mut s) => {
                while let Ok(Some(data)) = s.next_data() {
                    let mut so = io::stdout().lock();
                    // Stop following when nobody reads any more.
                    if so.write_all(&data).and_then(|()| so.flush()).is_err() {
                        break;
                    }
                }
            }
            Err(HttpError::Status(code, _)) => {
                eprintln!("{url} Cannot read, status code {code}");
            }
            Err(HttpError::Connect(e) | HttpError::Io(e)) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    let (c, t) = py_oserror(&e);
                    eprintln!("{url} Cannot connect, error: <class '{c}'> ({t})");
                }
            }
        }
        if let Some(id) = id {
            signal_hook::low_level::unregister(id);
        }
        if flag.load(Ordering::SeqCst) {
            self.output("");
        }
        Ok(())
    }

    fn stream_auth(&self) -> Option<String> {
        // http_client.HTTPHandler sends auth when the password is truthy.
        match &self.opts.password {
            Some(p) if !p.is_empty() => Some(http::basic_auth(
                self.opts.username.as_deref().unwrap_or("None"),
                p,
            )),
            _ => None,
        }
    }

    fn do_tail(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() {
            self.output("Error: too few arguments");
            self.exitstatus = exit::GENERIC;
            self.help("tail");
            return Ok(());
        } else if args.len() > 3 {
            self.output("Error: too many arguments");
            self.exitstatus = exit::GENERIC;
            self.help("tail");
            return Ok(());
        }
        let mut modifier = None;
        if args[0].starts_with('-') {
            modifier = Some(args.remove(0));
        }
        let (name, channel) = if args.len() == 1 {
            (args[0].to_string(), "stdout".to_string())
        } else if !args.is_empty() {
            let ch = args[args.len() - 1].to_lowercase();
            if ch != "stderr" && ch != "stdout" {
                self.output(&format!(
                    "Error: bad channel {}",
                    warden_config::expand::repr(&ch)
                ));
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            (args[0].to_string(), ch)
        } else {
            self.output("Error: tail requires process name");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        };
        let mut bytes: Option<i64> = Some(1600);
        if let Some(m) = modifier {
            let what = &m[1..];
            if what == "f" {
                bytes = None;
            } else {
                match py_int(what) {
                    Some(n) => bytes = Some(n),
                    None => {
                        self.output(&format!("Error: bad argument {m}"));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            }
        }
        let Some(bytes) = bytes else {
            return self.tailf(&format!("/logtail/{name}/{channel}"));
        };
        let neg = i32::try_from(-bytes).unwrap_or(i32::MIN);
        let r = if self.json {
            let method = if channel == "stdout" {
                "supervisor.tailProcessStdoutLog"
            } else {
                "supervisor.tailProcessStderrLog"
            };
            let len = i32::try_from(bytes).unwrap_or(i32::MAX);
            self.call(
                method,
                &[Value::from(name.as_str()), Value::Int(0), Value::Int(len)],
            )
        } else {
            let method = if channel == "stdout" {
                "supervisor.readProcessStdoutLog"
            } else {
                "supervisor.readProcessStderrLog"
            };
            self.call(
                method,
                &[Value::from(name.as_str()), Value::Int(neg), Value::Int(0)],
            )
        };
        match r {
            Ok(v) => {
                if self.json {
                    let a = v.as_array().unwrap_or_default();
                    let j = serde_json::json!({
                        "name": name,
                        "channel": channel,
                        "bytes": bytes,
                        "data": a.first().and_then(Value::as_str).unwrap_or_default(),
                        "offset": a.get(1).and_then(Value::as_i32).unwrap_or_default(),
                        "overflow": a.get(2).and_then(Value::as_bool).unwrap_or_default(),
                    });
                    self.output(&j.to_string());
                } else {
                    self.output(v.as_str().unwrap_or_default());
                }
            }
            Err(Abort::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let m = match f.kind() {
                    Some(FaultCode::NoFile) => "no log file",
                    Some(FaultCode::Failed) => "unknown error reading log",
                    Some(FaultCode::BadName) => "no such process name",
                    _ => return Err(Abort::Fault(f)),
                };
                self.output(&format!("{name}: ERROR ({m})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_maintail(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes: i64 = if args.len() > 1 {
            self.output("Error: too many arguments");
            self.exitstatus = exit::GENERIC;
            self.help("maintail");
            return Ok(());
        } else if args.len() == 1 {
            if let Some(what) = args[0].strip_prefix('-') {
                if what == "f" {
                    return self.tailf("/mainlogtail");
                }
                match py_int(what) {
                    Some(n) => n,
                    None => {
                        self.output(&format!("Error: bad argument {}", args[0]));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            } else {
                self.output(&format!("Error: bad argument {}", args[0]));
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
        } else {
            1600
        };
        let neg = i32::try_from(-bytes).unwrap_or(i32::MIN);
        match self.call("supervisor.readLog", &[Value::Int(neg), Value::Int(0)]) {
            Ok(v) => self.output(v.as_str().unwrap_or_default()),
            Err(Abort::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                let m = match f.kind() {
                    Some(FaultCode::NoFile) => "no log file",
                    Some(FaultCode::Failed) => "unknown error reading log",
                    _ => return Err(Abort::Fault(f)),
                };
                self.output(&format!("supervisord: ERROR ({m})"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn clearresult(&self, r: &Value) -> R<String> {
        let name = make_namespec(&sfield(r, "group"), &sfield(r, "name"));
        let code = ifield(r, "status");
        Ok(match FaultCode::from_code(code) {
            Some(FaultCode::BadName) => format!("{name}: ERROR (no such process)"),
            Some(FaultCode::Failed) => format!("{name}: ERROR (failed)"),
            Some(FaultCode::Success) => format!("{name}: cleared"),
            _ => {
                return Err(Abort::Other(
                    "ValueError",
                    format!("Unknown result code {code} for {name}"),
                ))
            }
        })
    }

    fn do_clear(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: clear requires a process name");
            self.exitstatus = exit::GENERIC;
            self.help("clear");
            return Ok(());
        }
        if names.contains(&"all") {
            let rs = self.call("supervisor.clearAllProcessLogs", &[])?;
            for r in Self::results(&rs) {
                let l = self.clearresult(&r)?;
                self.output(&l);
                self.set_exitstatus_from_fault(ifield(&r, "status"), None);
            }
            return Ok(());
        }
        for name in names {
            let Namespec {
                group: g,
                process: p,
            } = Namespec::parse(name);
            // split_namespec gives None for "group:*"; Python then formats
            // the namespec with process None.
            let p = p.unwrap_or_else(|| "None".to_string());
            match self.call_s("supervisor.clearProcessLogs", &[name]) {
                Ok(_) => {
                    let n = make_namespec(&g, &p);
                    self.output(&format!("{n}: cleared"));
                }
                Err(Abort::Fault(f)) => {
                    let r = Self::fault_result(&f, &g, &p);
                    let l = self.clearresult(&r)?;
                    self.output(&l);
                    self.set_exitstatus_from_fault(f.code, None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_fg(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("ERROR: no process name supplied");
            self.exitstatus = exit::GENERIC;
            self.help("fg");
            return Ok(());
        }
        if names.len() > 1 {
            self.output("ERROR: too many process names supplied");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let name = names[0].to_string();
        let info = match self.call_s("supervisor.getProcessInfo", &[&name]) {
            Ok(i) => i,
            Err(Abort::Fault(f)) => {
                if f.code == FaultCode::BadName.code() {
                    self.output("ERROR: bad process name supplied");
                    self.exitstatus = exit::GENERIC;
                } else {
                    self.output(&format!(
                        "ERROR: <Fault {}: {}>",
                        f.code,
                        warden_config::expand::repr(&f.string)
                    ));
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if state_of(&info) != ProcessState::Running {
            self.output("ERROR: process not running");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.output("==> Press Ctrl-C to exit <==");
        self.flush();

        let flag = self.interrupted.clone();
        flag.store(false, Ordering::SeqCst);
        let sig = signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone()).ok();
        let ep = endpoint_of(&self.opts.serverurl);
        let auth = self.stream_auth();
        let mut streams = Vec::new();
        let mut threads = Vec::new();
        for ch in ["stdout", "stderr"] {
            let f2 = flag.clone();
            let interrupt: Box<dyn Fn() -> bool + Send> =
                Box::new(move || f2.load(Ordering::SeqCst));
            if let Ok(s) = http::get_stream(
                &ep,
                &format!("/logtail/{name}/{ch}"),
                auth.as_deref(),
                Some(interrupt),
            ) {
                streams.push(ch);
                threads.push(std::thread::spawn(move || {
                    let mut s = s;
                    while let Ok(Some(data)) = s.next_data() {
                        let mut so = io::stdout().lock();
                        let _ = so.write_all(&data);
                        let _ = so.flush();
                    }
                }));
            }
        }
        // stdin on its own thread so Ctrl-C can be noticed while it blocks.
        let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
        std::thread::spawn(move || {
            let stdin = io::stdin();
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        let l = line.trim_end_matches('\n').to_string();
                        if tx.send(Some(l)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let result = loop {
            if flag.load(Ordering::SeqCst) {
                self.output("Exiting foreground");
                break Ok(());
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Ok(None) | Err(_) => {
                    self.output("Exiting foreground");
                    break Ok(());
                }
                Ok(Some(l)) => {
                    let inp = format!("{l}\n");
                    match self.call_s("supervisor.sendProcessStdin", &[&name, &inp]) {
                        Ok(_) => {}
                        Err(Abort::Fault(f)) => {
                            if f.code == FaultCode::NotRunning.code() {
                                self.output("Process got killed");
                            } else {
                                self.output(&format!(
                                    "ERROR: <Fault {}: {}>",
                                    f.code,
                                    warden_config::expand::repr(&f.string)
                                ));
                            }
                            self.output("Exiting foreground");
                            break Ok(());
                        }
                        Err(e) => break Err(e),
                    }
                    match self.call_s("supervisor.getProcessInfo", &[&name]) {
                        Ok(info) if state_of(&info) != ProcessState::Running => {
                            self.output("Process got killed");
                            self.output("Exiting foreground");
                            break Ok(());
                        }
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                    self.flush();
                }
            }
        };
        flag.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        if let Some(id) = sig {
            signal_hook::low_level::unregister(id);
        }
        result
    }

    // ---- config ------------------------------------------------------------

    fn format_changes(&mut self, added: &[Value], changed: &[Value], dropped: &[Value]) {
        let mut m: std::collections::BTreeMap<String, &str> = Default::default();
        for (list, t) in [
            (added, "available"),
            (changed, "changed"),
            (dropped, "disappeared"),
        ] {
            for n in list {
                m.insert(n.as_str().unwrap_or_default().to_string(), t);
            }
        }
        if m.is_empty() {
            self.output("No config updates to processes");
        } else {
            for (n, t) in m {
                self.output(&format!("{n}: {t}"));
            }
        }
    }

    fn do_avail(&mut self, arg: &str) -> R<()> {
        if !arg.is_empty() {
            self.output("Error: avail accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("avail");
            return Ok(());
        }
        match self.call("supervisor.getAllConfigInfo", &[]) {
            Ok(v) => {
                let infos = Self::results(&v);
                if self.json {
                    let arr: Vec<serde_json::Value> = infos
                        .iter()
                        .map(|i| {
                            let mut j = to_json(i);
                            if let Some(o) = j.as_object_mut() {
                                o.insert(
                                    "namespec".into(),
                                    make_namespec(&sfield(i, "group"), &sfield(i, "name")).into(),
                                );
                            }
                            j
                        })
                        .collect();
                    self.output(&serde_json::Value::Array(arr).to_string());
                    return Ok(());
                }
                for i in infos {
                    let name = make_namespec(&sfield(&i, "group"), &sfield(&i, "name"));
                    let inuse = if truthy(&i, "inuse") {
                        "in use"
                    } else {
                        "avail"
                    };
                    let auto = if truthy(&i, "autostart") {
                        "auto"
                    } else {
                        "manual"
                    };
                    let prio = format!(
                        "{}:{}",
                        sfield(&i, "group_prio"),
                        sfield(&i, "process_prio")
                    );
                    self.output(&format!(
                        "{} {} {} {}",
                        pad(&name, 32),
                        pad(inuse, 9),
                        pad(auto, 9),
                        prio
                    ));
                }
            }
            Err(Abort::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: supervisor shutting down");
                } else {
                    return Err(Abort::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn reload_config(&mut self) -> R<(Vec<Value>, Vec<Value>, Vec<Value>)> {
        let v = self.call("supervisor.reloadConfig", &[])?;
        let first = v
            .as_array()
            .and_then(|a| a.first())
            .and_then(Value::as_array)
            .unwrap_or_default();
        let get = |i: usize| {
            first
                .get(i)
                .and_then(Value::as_array)
                .unwrap_or_default()
                .to_vec()
        };
        Ok((get(0), get(1), get(2)))
    }

    fn do_reread(&mut self, arg: &str) -> R<()> {
        if !arg.is_empty() {
            self.output("Error: reread accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("reread");
            return Ok(());
        }
        match self.reload_config() {
            Ok((a, c, d)) => {
                if self.json {
                    let j = serde_json::json!({
                        "added": a.iter().map(to_json).collect::<Vec<_>>(),
                        "changed": c.iter().map(to_json).collect::<Vec<_>>(),
                        "removed": d.iter().map(to_json).collect::<Vec<_>>(),
                    });
                    self.output(&j.to_string());
                } else {
                    self.format_changes(&a, &c, &d);
                }
            }
            Err(Abort::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: supervisor shutting down");
                } else if f.code == FaultCode::CantReread.code() {
                    self.output(&format!("ERROR: {}", f.string));
                } else {
                    return Err(Abort::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_add(&mut self, arg: &str) -> R<()> {
        for name in arg.split_whitespace() {
            match self.call_s("supervisor.addProcessGroup", &[name]) {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(Abort::Fault(f)) => match f.kind() {
                    Some(FaultCode::ShutdownState) => {
                        self.output("ERROR: shutting down");
                        self.exitstatus = exit::GENERIC;
                    }
                    Some(FaultCode::AlreadyAdded) => {
                        self.output("ERROR: process group already active");
                    }
                    Some(FaultCode::BadName) => {
                        self.output(&format!("ERROR: no such process/group: {name}"));
                        self.exitstatus = exit::GENERIC;
                    }
                    _ => {
                        self.exitstatus = exit::GENERIC;
                        return Err(Abort::Fault(f));
                    }
                },
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_remove(&mut self, arg: &str) -> R<()> {
        for name in arg.split_whitespace() {
            match self.call_s("supervisor.removeProcessGroup", &[name]) {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(Abort::Fault(f)) => {
                    self.exitstatus = exit::GENERIC;
                    match f.kind() {
                        Some(FaultCode::StillRunning) => {
                            self.output(&format!("ERROR: process/group still running: {name}"));
                        }
                        Some(FaultCode::BadName) => {
                            self.output(&format!("ERROR: no such process/group: {name}"));
                        }
                        _ => return Err(Abort::Fault(f)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn do_update(&mut self, arg: &str) -> R<()> {
        let (added, changed, removed) = match self.reload_config() {
            Ok(x) => x,
            Err(Abort::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                    return Ok(());
                }
                return Err(Abort::Fault(f));
            }
            Err(e) => return Err(e),
        };
        let names = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        };
        let (added, changed, removed) = (names(&added), names(&changed), names(&removed));
        // Python iterates a set here; sort for a stable order.
        let mut valid: Vec<String> = arg.split_whitespace().map(str::to_string).collect();
        valid.sort();
        valid.dedup();
        if valid.iter().any(|g| g == "all") {
            valid.clear();
        }
        if !valid.is_empty() {
            let all = self.call("supervisor.getAllProcessInfo", &[])?;
            let mut groups: Vec<String> = Self::results(&all)
                .iter()
                .map(|i| sfield(i, "group"))
                .collect();
            groups.extend(added.iter().cloned());
            for g in &valid {
                if !groups.contains(g) {
                    self.output(&format!("ERROR: no such group: {g}"));
                    self.exitstatus = exit::GENERIC;
                }
            }
        }
        let wanted = |g: &String| valid.is_empty() || valid.contains(g);
        for g in removed.iter().filter(|g| wanted(g)) {
            let rs = self.call_s("supervisor.stopProcessGroup", &[g])?;
            self.output(&format!("{g}: stopped"));
            let fails = Self::results(&rs)
                .iter()
                .any(|r| ifield(r, "status") == FaultCode::Failed.code());
            if fails {
                self.output(&format!("{g}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.call_s("supervisor.removeProcessGroup", &[g])?;
            self.output(&format!("{g}: removed process group"));
        }
        for g in changed.iter().filter(|g| wanted(g)) {
            self.call_s("supervisor.stopProcessGroup", &[g])?;
            self.output(&format!("{g}: stopped"));
            self.call_s("supervisor.removeProcessGroup", &[g])?;
            self.call_s("supervisor.addProcessGroup", &[g])?;
            self.output(&format!("{g}: updated process group"));
        }
        for g in added.iter().filter(|g| wanted(g)) {
            self.call_s("supervisor.addProcessGroup", &[g])?;
            self.output(&format!("{g}: added process group"));
        }
        Ok(())
    }

    // ---- daemon --------------------------------------------------------------

    fn confirm(&mut self, prompt: &str) -> bool {
        self.flush();
        read_stdin_line(prompt).is_some_and(|a| a.to_lowercase().starts_with('y'))
    }

    fn do_reload(&mut self, arg: &str) -> R<()> {
        if !arg.is_empty() {
            self.output("Error: reload accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("reload");
            return Ok(());
        }
        if self.opts.interactive
            && !self.confirm("Really restart the remote supervisord process y/N? ")
        {
            return Ok(());
        }
        match self.call("supervisor.restart", &[]) {
            Ok(_) => self.output("Restarted supervisord"),
            Err(Abort::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(Abort::Fault(f));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn do_shutdown(&mut self, arg: &str) -> R<()> {
        if !arg.is_empty() {
            self.output("Error: shutdown accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("shutdown");
            return Ok(());
        }
        if self.opts.interactive
            && !self.confirm("Really shut the remote supervisord process down y/N? ")
        {
            return Ok(());
        }
        match self.call("supervisor.shutdown", &[]) {
            Ok(_) => self.output("Shut down"),
            Err(Abort::Fault(f)) => {
                if f.code == FaultCode::ShutdownState.code() {
                    self.output("ERROR: already shutting down");
                } else {
                    self.exitstatus = exit::GENERIC;
                    return Err(Abort::Fault(f));
                }
            }
            Err(Abort::Http(HttpError::Connect(e) | HttpError::Io(e)))
                if matches!(e.raw_os_error(), Some(111 | 2)) =>
            {
                self.exitstatus = exit::GENERIC;
                let url = self.opts.serverurl.clone();
                if e.raw_os_error() == Some(111) {
                    self.output(&format!(
                        "ERROR: {url} refused connection (already shut down?)"
                    ));
                } else {
                    self.output(&format!("ERROR: {url} no such file (already shut down?)"));
                }
            }
            Err(e) => {
                if matches!(e, Abort::Http(HttpError::Connect(_) | HttpError::Io(_))) {
                    self.exitstatus = exit::GENERIC;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn do_version(&mut self, arg: &str) -> R<()> {
        if !arg.is_empty() {
            self.output("Error: version accepts no arguments");
            self.exitstatus = exit::GENERIC;
            self.help("version");
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let v = self.call("supervisor.getSupervisorVersion", &[])?;
        self.output(v.as_str().unwrap_or_default());
        Ok(())
    }

    fn do_open(&mut self, arg: &str) -> R<()> {
        let url = arg.trim();
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_lowercase())
            .unwrap_or_default();
        if scheme != "unix" && scheme != "http" {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.opts.serverurl = url.to_string();
        self.conn = RpcConnection::new(endpoint_of(url), auth_of(&self.opts));
        let old = self.exitstatus;
        let r = self.do_status("");
        self.exitstatus = old;
        r
    }

    // ---- warden extensions ---------------------------------------------------

    fn do_wait(&mut self, arg: &str) -> R<()> {
        let mut timeout = 30.0_f64;
        let mut want_running = true;
        let mut names: Vec<String> = Vec::new();
        let mut words = arg.split_whitespace();
        let usage = |ctl: &mut Ctl, m: &str| {
            ctl.output(&format!("Error: {m}"));
            ctl.help("wait");
            ctl.exitstatus = exit::INVALID_ARGS;
        };
        while let Some(w) = words.next() {
            match w {
                "--timeout" | "-t" => match words.next().and_then(|t| t.parse::<f64>().ok()) {
                    Some(t) if t >= 0.0 => timeout = t,
                    _ => {
                        usage(self, "--timeout requires a number of seconds");
                        return Ok(());
                    }
                },
                "--for" => match words.next() {
                    Some("running") => want_running = true,
                    Some("stopped") => want_running = false,
                    _ => {
                        usage(self, "--for must be running or stopped");
                        return Ok(());
                    }
                },
                w if w.starts_with("--timeout=") => match w[10..].parse::<f64>() {
                    Ok(t) if t >= 0.0 => timeout = t,
                    _ => {
                        usage(self, "--timeout requires a number of seconds");
                        return Ok(());
                    }
                },
                w if w.starts_with("--for=") => match &w[6..] {
                    "running" => want_running = true,
                    "stopped" => want_running = false,
                    _ => {
                        usage(self, "--for must be running or stopped");
                        return Ok(());
                    }
                },
                w => names.push(w.to_string()),
            }
        }
        if names.is_empty() {
            usage(self, "wait requires a process name");
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs_f64(timeout);
        let mut last: Option<String> = None;
        loop {
            match self.call("supervisor.getAllProcessInfo", &[]) {
                Ok(all) => {
                    let infos = Self::results(&all);
                    let mut pending = Vec::new();
                    for name in &names {
                        let Namespec {
                            group: g,
                            process: p,
                        } = Namespec::parse(name);
                        let matched: Vec<&Value> = infos
                            .iter()
                            .filter(|i| {
                                name == "all"
                                    || (sfield(i, "group") == g
                                        && p.as_ref().is_none_or(|p| sfield(i, "name") == *p))
                            })
                            .collect();
                        if matched.is_empty() {
                            pending.push(format!("{name}: ERROR (no such process)"));
                        }
                        for i in matched {
                            let s = state_of(i);
                            let spec = make_namespec(&sfield(i, "group"), &sfield(i, "name"));
                            let ok = if want_running {
                                s == ProcessState::Running
                            } else {
                                s.is_stopped()
                            };
                            if want_running && s == ProcessState::Fatal {
                                self.output(&format!(
                                    "{spec}: ERROR (FATAL: {})",
                                    sfield(i, "description")
                                ));
                                self.exitstatus = exit::STATUS_NOT_RUNNING;
                                return Ok(());
                            }
                            if !ok {
                                pending.push(format!("{spec}: {}", sfield(i, "statename")));
                            }
                        }
                    }
                    if pending.is_empty() {
                        return Ok(());
                    }
                    last = Some(pending.join("\n"));
                }
                Err(Abort::Http(HttpError::Connect(e))) => {
                    last = None;
                    if Instant::now() >= deadline {
                        let (_, t) = py_oserror(&e);
                        self.output(&format!("{} cannot connect: {t}", self.opts.serverurl));
                        self.exitstatus = exit::STATUS_UNKNOWN;
                        return Ok(());
                    }
                }
                Err(Abort::Fault(f)) if f.code == FaultCode::ShutdownState.code() => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                self.output(&format!(
                    "ERROR: timed out after {timeout}s waiting for {}:",
                    if want_running { "running" } else { "stopped" }
                ));
                if let Some(l) = last {
                    self.output(&l);
                }
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}

/// [`pad`] appended to a byte buffer.
fn pad_into(out: &mut Vec<u8>, s: &str, width: usize) {
    out.extend_from_slice(s.as_bytes());
    let n = s.chars().count();
    if n < width {
        out.resize(out.len() + (width - n), b' ');
    }
}

/// Python's `'%-Ns' % s`: pad with spaces to N code points.
fn pad(s: &str, width: usize) -> String {
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
fn py_int(s: &str) -> Option<i64> {
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
    fn namespecs() {
        assert_eq!(make_namespec("a", "a"), "a");
        assert_eq!(make_namespec("g", "a"), "g:a");
    }

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
