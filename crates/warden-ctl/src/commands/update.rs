//! `update [all|group...]`: apply configuration changes (stop and remove
//! what disappeared, restart what changed, add what is new).

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_update(&mut self, arg: &str) -> R<()> {
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
        // Python iterates a set here; sort for a stable order.
        let mut valid: Vec<String> = arg.split_whitespace().map(str::to_string).collect();
        valid.sort();
        valid.dedup();
        if valid.iter().any(|g| g == "all") {
            valid.clear();
        }
        if !valid.is_empty() {
            let mut groups: Vec<String> = self
                .client
                .all_process_info()?
                .into_iter()
                .map(|i| i.group)
                .collect();
            groups.extend(changes.added.iter().cloned());
            for g in &valid {
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
