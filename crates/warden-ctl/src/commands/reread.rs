//! `reread`: what changed in the configuration files.

use warden_xmlrpc::FaultCode;

use crate::client::{CallError, ConfigChanges};
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_reread(&mut self, arg: &str) -> R<()> {
        if !self.no_arguments("reread", arg) {
            return Ok(());
        }
        match self.client.reload_config() {
            Ok(changes) => {
                if self.json {
                    let j = serde_json::json!({
                        "added": changes.added,
                        "changed": changes.changed,
                        "removed": changes.removed,
                    });
                    self.output(&j.to_string());
                } else {
                    self.format_changes(&changes);
                }
            }
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                match f.kind() {
                    Some(FaultCode::ShutdownState) => {
                        self.output("ERROR: supervisor shutting down");
                    }
                    Some(FaultCode::CantReread) => self.output(&format!("ERROR: {}", f.string)),
                    _ => return Err(CallError::Fault(f).into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// supervisorctl's `_formatChanges`: `name: available|changed|disappeared`,
    /// sorted by name.
    fn format_changes(&mut self, changes: &ConfigChanges) {
        let mut m: std::collections::BTreeMap<&str, &str> = Default::default();
        for (list, t) in [
            (&changes.added, "available"),
            (&changes.changed, "changed"),
            (&changes.removed, "disappeared"),
        ] {
            for n in list {
                m.insert(n, t);
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
}
