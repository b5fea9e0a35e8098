//! `wait [--timeout S] name... [--for running|stopped]` (warden's): poll
//! until every named process is running, or stopped.

use std::time::{Duration, Instant};

use warden_types::{Namespec, ProcessState};
use warden_xmlrpc::FaultCode;

use crate::client::{CallError, ProcessInfo};
use crate::ctl::{py_oserror, Ctl, R};
use crate::exit;
use crate::http::HttpError;

impl Ctl {
    pub(super) fn do_wait(&mut self, arg: &str) -> R<()> {
        let mut timeout = 30.0_f64;
        let mut want_running = true;
        let mut names: Vec<String> = Vec::new();
        let mut words = arg.split_whitespace();
        let usage = |ctl: &mut Ctl, m: &str| {
            ctl.usage(&format!("Error: {m}"), "wait", exit::INVALID_ARGS);
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
            match self.client.all_process_info() {
                Ok(infos) => {
                    let mut pending = Vec::new();
                    for name in &names {
                        let spec = Namespec::parse(name);
                        let matched: Vec<&ProcessInfo> = infos
                            .iter()
                            .filter(|i| {
                                name == "all"
                                    || (i.group == spec.group
                                        && spec.process.as_ref().is_none_or(|p| i.name == *p))
                            })
                            .collect();
                        if matched.is_empty() {
                            pending.push(format!("{name}: ERROR (no such process)"));
                        }
                        for i in matched {
                            let ok = if want_running {
                                i.state == ProcessState::Running
                            } else {
                                i.state.is_stopped()
                            };
                            if want_running && i.state == ProcessState::Fatal {
                                self.output(&format!(
                                    "{}: ERROR (FATAL: {})",
                                    i.namespec(),
                                    i.description
                                ));
                                self.exitstatus = exit::STATUS_NOT_RUNNING;
                                return Ok(());
                            }
                            if !ok {
                                pending.push(format!("{}: {}", i.namespec(), i.statename));
                            }
                        }
                    }
                    if pending.is_empty() {
                        return Ok(());
                    }
                    last = Some(pending.join("\n"));
                }
                Err(CallError::Http(HttpError::Connect(e))) => {
                    last = None;
                    if Instant::now() >= deadline {
                        let (_, t) = py_oserror(&e);
                        self.output(&format!("{} cannot connect: {t}", self.opts.serverurl));
                        self.exitstatus = exit::STATUS_UNKNOWN;
                        return Ok(());
                    }
                }
                Err(CallError::Fault(f)) if f.kind() == Some(FaultCode::ShutdownState) => {}
                Err(e) => return Err(e.into()),
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
