//! `shutdown`: stop the supervisor and its processes.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{Ctl, R};
use crate::exit;
use crate::http::HttpError;

impl Ctl {
    pub(super) fn do_shutdown(&mut self, arg: &str) -> R<()> {
        if !self.no_arguments("shutdown", arg) {
            return Ok(());
        }
        if self.opts.interactive
            && !self.confirm("Really shut the remote supervisord process down y/N? ")
        {
            return Ok(());
        }
        match self.client.shutdown() {
            Ok(()) => self.output("Shut down"),
            Err(CallError::Fault(f)) => {
                if f.kind() == Some(FaultCode::ShutdownState) {
                    self.output("ERROR: already shutting down");
                } else {
                    self.exitstatus = exit::GENERIC;
                    return Err(CallError::Fault(f).into());
                }
            }
            Err(CallError::Http(HttpError::Connect(e) | HttpError::Io(e)))
                if matches!(e.raw_os_error(), Some(111 | 2)) =>
            {
                self.exitstatus = exit::GENERIC;
                let url = self.opts.serverurl.clone();
                if e.raw_os_error() == Some(111) {
                    self.output(&format!(
                        "ERROR: {url} refused connection (already shut down?)"
                    ));
                } else {
                    self.output(&format!("ERROR: {url} no such file (already shut down?)"));
                }
            }
            Err(e) => {
                if matches!(e, CallError::Http(HttpError::Connect(_) | HttpError::Io(_))) {
                    self.exitstatus = exit::GENERIC;
                }
                return Err(e.into());
            }
        }
        Ok(())
    }
}
