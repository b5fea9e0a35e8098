//! `add name...`: activate groups from the configuration.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_add(&mut self, arg: &str) -> R<()> {
        for name in arg.split_whitespace() {
            match self.client.add_group(name) {
                Ok(()) => self.output(&format!("{name}: added process group")),
                Err(CallError::Fault(f)) => match f.kind() {
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
                        return Err(CallError::Fault(f).into());
                    }
                },
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
