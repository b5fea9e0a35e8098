//! `start name...|group:*|all`.

use warden_xmlrpc::FaultCode;

use super::{OutcomeWords, Targets};
use crate::ctl::{Ctl, R};
use crate::exit;

/// `_startresult`'s codes.
const START_ERRORS: &[(FaultCode, Option<&str>)] = &[
    (FaultCode::BadName, Some("no such process")),
    (FaultCode::NoFile, Some("no such file")),
    (FaultCode::NotExecutable, Some("file is not executable")),
    (FaultCode::AlreadyStarted, Some("already started")),
    (FaultCode::SpawnError, Some("spawn error")),
    (FaultCode::AbnormalTermination, Some("abnormal termination")),
];

impl Ctl {
    pub(super) fn do_start(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.usage(
                "Error: start requires a process name",
                "start",
                exit::INVALID_ARGS,
            );
            return Ok(());
        }
        self.for_each_target(
            &names,
            &Targets {
                all: Box::new(|c| c.start_all()),
                group: Box::new(|c, g| c.start_group(g)),
                one: Box::new(|c, n| c.start(n)),
                words: OutcomeWords {
                    errors: START_ERRORS,
                    success: "started",
                },
                ignored: Some(FaultCode::AlreadyStarted),
                no_such_group: exit::INVALID_ARGS,
                group_error: Some(exit::GENERIC),
            },
        )
    }
}
