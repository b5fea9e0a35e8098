//! `fg name`: a process in the foreground: its output on stdout, stdin
//! lines sent to it, until Ctrl-C or its end.

use std::io::{self, BufRead, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use warden_types::ProcessState;
use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{endpoint_of, Ctl, R};
use crate::exit;
use crate::http;

impl Ctl {
    pub(super) fn do_fg(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.usage("ERROR: no process name supplied", "fg", exit::GENERIC);
            return Ok(());
        }
        if names.len() > 1 {
            self.output("ERROR: too many process names supplied");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let name = names[0].to_string();
        let info = match self.client.process_info(&name) {
            Ok(i) => i,
            Err(CallError::Fault(f)) => {
                if f.kind() == Some(FaultCode::BadName) {
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
            Err(e) => return Err(e.into()),
        };
        if info.state != ProcessState::Running {
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
                    match self.client.send_stdin(&name, &inp) {
                        Ok(()) => {}
                        Err(CallError::Fault(f)) => {
                            if f.kind() == Some(FaultCode::NotRunning) {
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
                        Err(e) => break Err(e.into()),
                    }
                    match self.client.process_info(&name) {
                        Ok(info) if info.state != ProcessState::Running => {
                            self.output("Process got killed");
                            self.output("Exiting foreground");
                            break Ok(());
                        }
                        Ok(_) => {}
                        Err(e) => break Err(e.into()),
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
}
