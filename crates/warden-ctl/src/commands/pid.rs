//! `pid [name...|all]`: the supervisor's pid, or its processes'.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_pid(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let mut json = Vec::new();
        if names.is_empty() {
            let pid = self.client.pid()?;
            if self.json {
                self.output(&serde_json::json!({ "supervisord": pid }).to_string());
            } else {
                self.output(&pid.to_string());
            }
            return Ok(());
        } else if names.contains(&"all") {
            for info in self.client.all_process_info()? {
                if self.json {
                    json.push(serde_json::json!({
                        "name": info.namespec(),
                        "pid": info.pid,
                    }));
                } else {
                    self.output(&info.pid.to_string());
                }
            }
        } else {
            for name in names {
                match self.client.process_info(name) {
                    Err(CallError::Fault(f)) if f.kind() == Some(FaultCode::BadName) => {
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
                        return Err(e.into());
                    }
                    Ok(info) => {
                        let pid = info.pid;
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
}
