//! `stop name...|group:*|all`.

use warden_xmlrpc::FaultCode;

use super::{OutcomeWords, Targets, SIGNAL_ERRORS};
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_stop(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.usage("Error: stop requires a process name", "stop", exit::GENERIC);
            return Ok(());
        }
        self.for_each_target(
            &names,
            &Targets {
                all: Box::new(|c| c.stop_all()),
                group: Box::new(|c, g| c.stop_group(g)),
                one: Box::new(|c, n| c.stop(n)),
                words: OutcomeWords {
                    errors: SIGNAL_ERRORS,
                    success: "stopped",
                },
                ignored: Some(FaultCode::NotRunning),
                no_such_group: exit::GENERIC,
                group_error: Some(exit::GENERIC),
            },
        )
    }
}
