//! `clear name...|all`: empty processes' log files.

use warden_types::Namespec;
use warden_xmlrpc::FaultCode;

use super::OutcomeWords;
use crate::client::{CallError, Outcome};
use crate::ctl::{Ctl, R};
use crate::exit;

/// `_clearresult`'s codes.
const CLEAR: OutcomeWords = OutcomeWords {
    errors: &[
        (FaultCode::BadName, Some("no such process")),
        (FaultCode::Failed, Some("failed")),
    ],
    success: "cleared",
};

impl Ctl {
    pub(super) fn do_clear(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.usage(
                "Error: clear requires a process name",
                "clear",
                exit::GENERIC,
            );
            return Ok(());
        }
        if names.contains(&"all") {
            let outcomes = self.client.clear_all_logs()?;
            return self.report_outcomes(&outcomes, &CLEAR, None);
        }
        for name in names {
            let Namespec { group, process } = Namespec::parse(name);
            // split_namespec gives None for "group:*"; Python then formats
            // the namespec with process None.
            let process = process.unwrap_or_else(|| "None".to_string());
            match self.client.clear_logs(name) {
                Ok(()) => {
                    let spec = Namespec::process(&group, &process);
                    self.output(&format!("{spec}: cleared"));
                }
                Err(CallError::Fault(f)) => {
                    let line = CLEAR.line(&Outcome::of_fault(&f, &group, &process))?;
                    self.output(&line);
                    self.set_exitstatus_from_fault(f.code, None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
