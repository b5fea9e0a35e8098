//! `remove name...`: deactivate stopped groups.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_remove(&mut self, arg: &str) -> R<()> {
        for name in arg.split_whitespace() {
            match self.client.remove_group(name) {
                Ok(()) => self.output(&format!("{name}: removed process group")),
                Err(CallError::Fault(f)) => {
                    self.exitstatus = exit::GENERIC;
                    match f.kind() {
                        Some(FaultCode::StillRunning) => {
                            self.output(&format!("ERROR: process/group still running: {name}"));
                        }
                        Some(FaultCode::BadName) => {
                            self.output(&format!("ERROR: no such process/group: {name}"));
                        }
                        _ => return Err(CallError::Fault(f).into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
