//! `reload`: restart the supervisor.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_reload(&mut self, arg: &str) -> R<()> {
        if !self.no_arguments("reload", arg) {
            return Ok(());
        }
        if self.opts.interactive
            && !self.confirm("Really restart the remote supervisord process y/N? ")
        {
            return Ok(());
        }
        match self.client.restart() {
            Ok(()) => self.output("Restarted supervisord"),
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.kind() == Some(FaultCode::ShutdownState) {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(CallError::Fault(f).into());
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}
