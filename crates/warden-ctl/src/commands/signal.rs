//! `signal SIG name...|group:*|all`.

use super::{OutcomeWords, Targets, SIGNAL_ERRORS};
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_signal(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        if args.len() < 2 {
            self.usage(
                "Error: signal requires a signal name and a process name",
                "signal",
                exit::GENERIC,
            );
            return Ok(());
        }
        // The server parses the signal name (supervisord's signal_number).
        let sig = args[0];
        self.for_each_target(
            &args[1..],
            &Targets {
                all: Box::new(|c| c.signal_all(sig)),
                group: Box::new(|c, g| c.signal_group(g, sig)),
                one: Box::new(|c, n| c.signal(n, sig)),
                words: OutcomeWords {
                    errors: SIGNAL_ERRORS,
                    success: "signalled",
                },
                ignored: None,
                no_such_group: exit::GENERIC,
                group_error: None,
            },
        )
    }
}
