//! `restart name...|group:*|all`: stop, then start.

use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_restart(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.usage(
                "Error: restart requires a process name",
                "restart",
                exit::GENERIC,
            );
            return Ok(());
        }
        self.do_stop(arg)?;
        self.do_start(arg)
    }
}
