//! The commands, one per module, each an `impl Ctl` block with its
//! `do_<command>` method, and the dispatcher that picks one.
//!
//! Each is a port of the `do_<command>` method of supervisorctl 4.3.0's
//! `DefaultControllerPlugin`, producing the same lines and exit statuses;
//! `wait` and the `--json` and `--strict` flags are warden's.

mod add;
mod avail;
mod clear;
mod events;
mod fg;
mod help;
mod json;
mod maintail;
mod open;
mod pid;
mod reload;
mod remove;
mod reread;
mod restart;
mod shutdown;
mod signal;
mod start;
mod status;
mod stop;
mod tail;
mod update;
mod version;
mod wait;

use std::io::{self, Write};
use std::sync::atomic::Ordering;

use warden_types::Namespec;
use warden_xmlrpc::FaultCode;

use crate::client::{CallError, CallResult, Client, Outcome};
use crate::ctl::{endpoint_of, py_oserror, Abort, Ctl, R};
use crate::exit;
use crate::http::{self, HttpError};

impl Ctl {
    /// Runs command `cmd` with its argument text; `None` if there is no
    /// such command, `Some(Ok(true))` when the shell should stop.
    pub(crate) fn dispatch(&mut self, cmd: &str, arg: &str) -> Option<R<bool>> {
        // The commands that accept warden's `--json` anywhere in their words.
        if matches!(
            cmd,
            "status" | "pid" | "avail" | "reread" | "tail" | "events"
        ) {
            let arg = self.take_json(arg);
            return self.dispatch_plain(cmd, &arg);
        }
        // The others print supervisorctl's lines; with --json those lines
        // become one document (json.rs).
        let converts = !matches!(cmd, "help" | "EOF" | "quit" | "exit" | "fg" | "open");
        let arg = if converts {
            self.take_json(arg)
        } else {
            arg.to_string()
        };
        if !(converts && self.json) {
            return self.dispatch_plain(cmd, &arg);
        }
        let mark = self.out.len();
        let r = self.dispatch_plain(cmd, &arg);
        if matches!(r, Some(Ok(_))) {
            let text = String::from_utf8_lossy(&self.out.split_off(mark)).into_owned();
            let doc = json::document(cmd, &text, self.exitstatus);
            self.output(&doc.to_string());
        }
        r
    }

    fn dispatch_plain(&mut self, cmd: &str, arg: &str) -> Option<R<bool>> {
        let r = match cmd {
            "help" => self.do_help(arg),
            "EOF" | "quit" | "exit" => {
                self.output("");
                return Some(Ok(true));
            }
            "status" => self.do_status(arg),
            "pid" => self.do_pid(arg),
            "avail" => self.do_avail(arg),
            "reread" => self.do_reread(arg),
            "tail" => self.do_tail(arg),
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
            "events" => self.do_events(arg),
            _ => return None,
        };
        Some(r.map(|()| false))
    }

    /// `Error: <command> accepts no arguments` and the command's help, for
    /// the commands that take none; `true` if `arg` was empty.
    fn no_arguments(&mut self, command: &str, arg: &str) -> bool {
        if arg.is_empty() {
            return true;
        }
        let message = format!("Error: {command} accepts no arguments");
        self.usage(&message, command, exit::GENERIC);
        false
    }

    /// A usage error: the message, the command's help, and an exit status.
    fn usage(&mut self, message: &str, command: &str, status: i32) {
        self.output(message);
        self.exitstatus = status;
        self.help(command);
    }

    /// Reports each entry of a group or "all" call as `result` words it.
    fn report_outcomes(
        &mut self,
        outcomes: &[Outcome],
        result: &OutcomeWords,
        ignored: Option<FaultCode>,
    ) -> R<()> {
        for r in outcomes {
            let line = result.line(r)?;
            self.output(&line);
            self.set_exitstatus_from_fault(r.status, ignored);
        }
        Ok(())
    }

    /// The shared body of `start`, `stop` and `signal`: `all` through one
    /// call, each `group:*` through a group call, each process through a
    /// single call whose fault is reported like a group call's entry.
    fn for_each_target(&mut self, names: &[&str], t: &Targets<'_>) -> R<()> {
        if names.contains(&"all") {
            let outcomes = (t.all)(&mut self.client)?;
            return self.report_outcomes(&outcomes, &t.words, t.ignored);
        }
        for name in names {
            let Namespec { group, process } = Namespec::parse(name);
            let Some(process) = process else {
                match (t.group)(&mut self.client, &group) {
                    Ok(outcomes) => self.report_outcomes(&outcomes, &t.words, t.ignored)?,
                    Err(CallError::Fault(f)) if f.kind() == Some(FaultCode::BadName) => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = t.no_such_group;
                    }
                    Err(e) => {
                        if let Some(status) = t.group_error {
                            self.exitstatus = status;
                        }
                        return Err(e.into());
                    }
                }
                continue;
            };
            match (t.one)(&mut self.client, name) {
                Ok(()) => {
                    let spec = Namespec::process(&group, &process);
                    self.output(&format!("{spec}: {}", t.words.success));
                }
                Err(CallError::Fault(f)) => {
                    let line = t.words.line(&Outcome::of_fault(&f, &group, &process))?;
                    self.output(&line);
                    self.set_exitstatus_from_fault(f.code, t.ignored);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Prints what a log read returned, or `who: ERROR (...)` for the
    /// faults supervisorctl words (`BAD_NAME` only for a process's log).
    fn show_log(&mut self, who: &str, r: CallResult<String>, process: bool) -> R<()> {
        let f = match r {
            Ok(text) => {
                self.output(&text);
                return Ok(());
            }
            Err(CallError::Fault(f)) => f,
            Err(e) => return Err(e.into()),
        };
        self.exitstatus = exit::GENERIC;
        let m = match f.kind() {
            Some(FaultCode::NoFile) => "no log file",
            Some(FaultCode::Failed) => "unknown error reading log",
            Some(FaultCode::BadName) if process => "no such process name",
            _ => return Err(Abort::Fault(f)),
        };
        self.output(&format!("{who}: ERROR ({m})"));
        Ok(())
    }

    /// Follows a log stream (`tail -f`, `maintail -f`) until Ctrl-C or
    /// until nobody reads stdout.
    fn follow(&mut self, path: &str) -> R<()> {
        self.output("==> Press Ctrl-C to exit <==");
        self.flush();
        self.follow_with(path, |data| {
            let mut so = io::stdout().lock();
            // Stop following when nobody reads any more.
            so.write_all(data).and_then(|()| so.flush()).is_ok()
        })
    }

    /// Streams `GET path` into `each` (which returns false to stop) until
    /// Ctrl-C, the end of the stream or an error (reported as supervisorctl
    /// reports a failed tail).
    fn follow_with(&mut self, path: &str, mut each: impl FnMut(&[u8]) -> bool) -> R<()> {
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
                    if !each(&data) {
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
}

/// How a command words the entries of a result array: the fault codes it
/// knows, and the word for success.
struct OutcomeWords {
    /// Each known fault code and its message; `None` shows the entry's own
    /// description (signal's `FAILED`).
    errors: &'static [(FaultCode, Option<&'static str>)],
    success: &'static str,
}

impl OutcomeWords {
    /// The result formatters of supervisorctl (`_startresult`,
    /// `_signalresult`, `_clearresult`): `name: started`, `name: ERROR
    /// (message)`, and a `ValueError` for a code the command does not know.
    fn line(&self, r: &Outcome) -> R<String> {
        let name = r.namespec();
        let code = FaultCode::from_code(r.status);
        if code == Some(FaultCode::Success) {
            return Ok(format!("{name}: {}", self.success));
        }
        match self.errors.iter().find(|(c, _)| Some(*c) == code) {
            Some((_, Some(m))) => Ok(format!("{name}: ERROR ({m})")),
            Some((_, None)) => Ok(r.description.clone()),
            None => Err(Abort::Other(
                "ValueError",
                format!("Unknown result code {} for {name}", r.status),
            )),
        }
    }
}

/// `_signalresult`'s codes, for `stop` and `signal`.
const SIGNAL_ERRORS: &[(FaultCode, Option<&str>)] = &[
    (FaultCode::BadName, Some("no such process")),
    (FaultCode::BadSignal, Some("bad signal name")),
    (FaultCode::NotRunning, Some("not running")),
    (FaultCode::Failed, None),
];

type GroupCall<'a> = Box<dyn Fn(&mut Client, &str) -> CallResult<Vec<Outcome>> + 'a>;
type AllCall<'a> = Box<dyn Fn(&mut Client) -> CallResult<Vec<Outcome>> + 'a>;
type OneCall<'a> = Box<dyn Fn(&mut Client, &str) -> CallResult<()> + 'a>;

/// What [`Ctl::for_each_target`] calls and how it reports.
struct Targets<'a> {
    all: AllCall<'a>,
    group: GroupCall<'a>,
    one: OneCall<'a>,
    words: OutcomeWords,
    /// The fault code that is no failure (`ALREADY_STARTED` for start).
    ignored: Option<FaultCode>,
    /// The exit status of `group:*` naming no group.
    no_such_group: i32,
    /// The exit status set when a group call fails otherwise, if any.
    group_error: Option<i32>,
}
