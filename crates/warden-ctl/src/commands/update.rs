//! `update [all|group...]`: apply configuration changes.
//!
//! Against warden, one `warden.update` call restarts only the processes
//! whose configuration changed (unchanged ones keep running, with their
//! pids). Against a server without it (supervisord), supervisorctl's
//! procedure: stop and remove what disappeared, stop, remove and re-add
//! every changed group as a whole, add what is new.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_update(&mut self, arg: &str) -> R<()> {
        // Python iterates a set here; sort for a stable order.
        let mut valid: Vec<String> = arg.split_whitespace().map(str::to_string).collect();
        valid.sort();
        valid.dedup();
        if valid.iter().any(|g| g == "all") {
            valid.clear();
        }
        match self.client.update(&valid) {
            Ok(groups) => {
                self.print_update(&groups);
                Ok(())
            }
            Err(CallError::Fault(f)) if f.kind() == Some(FaultCode::UnknownMethod) => {
                self.classic_update(&valid)
            }
            Err(CallError::Fault(f)) if f.kind() == Some(FaultCode::ShutdownState) => {
                self.exitstatus = exit::GENERIC;
                self.output("ERROR: already shutting down");
                Ok(())
            }
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                Err(CallError::Fault(f).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One line per process touched, then one per group, in the words of
    /// supervisorctl's update where the meaning is the same.
    fn print_update(&mut self, groups: &[crate::client::GroupUpdate]) {
        for g in groups {
            match g.action.as_str() {
                "unknown" => {
                    self.output(&format!("ERROR: no such group: {}", g.group));
                    self.exitstatus = exit::GENERIC;
                }
                "removed" => {
                    self.output(&format!("{}: stopped", g.group));
                    self.output(&format!("{}: removed process group", g.group));
                }
                "added" => self.output(&format!("{}: added process group", g.group)),
                _ => {
                    for (name, action) in &g.processes {
                        let spec = warden_types::Namespec::process(&g.group, name);
                        self.output(&format!("{spec}: {action}"));
                    }
                    self.output(&format!("{}: updated process group", g.group));
                }
            }
        }
    }

    /// supervisorctl's update, for servers without `warden.update`.
    fn classic_update(&mut self, valid: &[String]) -> R<()> {
        let changes = match self.client.reload_config() {
            Ok(x) => x,
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.kind() == Some(FaultCode::ShutdownState) {
                    self.output("ERROR: already shutting down");
                    return Ok(());
                }
                return Err(CallError::Fault(f).into());
            }
            Err(e) => return Err(e.into()),
        };
        if !valid.is_empty() {
            let mut groups: Vec<String> = self
                .client
                .all_process_info()?
                .into_iter()
                .map(|i| i.group)
                .collect();
            groups.extend(changes.added.iter().cloned());
            for g in valid {
                if !groups.contains(g) {
                    self.output(&format!("ERROR: no such group: {g}"));
                    self.exitstatus = exit::GENERIC;
                }
            }
        }
        let wanted = |g: &String| valid.is_empty() || valid.contains(g);
        for g in changes.removed.iter().filter(|g| wanted(g)) {
            let outcomes = self.client.stop_group(g)?;
            self.output(&format!("{g}: stopped"));
            let fails = outcomes
                .iter()
                .any(|r| r.status == FaultCode::Failed.code());
            if fails {
                self.output(&format!("{g}: has problems; not removing"));
                self.exitstatus = exit::GENERIC;
                continue;
            }
            self.client.remove_group(g)?;
            self.output(&format!("{g}: removed process group"));
        }
        for g in changes.changed.iter().filter(|g| wanted(g)) {
            self.client.stop_group(g)?;
            self.output(&format!("{g}: stopped"));
            self.client.remove_group(g)?;
            self.client.add_group(g)?;
            self.output(&format!("{g}: updated process group"));
        }
        for g in changes.added.iter().filter(|g| wanted(g)) {
            self.client.add_group(g)?;
            self.output(&format!("{g}: added process group"));
        }
        Ok(())
    }
}
