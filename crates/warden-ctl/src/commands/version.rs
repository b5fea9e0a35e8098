//! `version`: the supervisor's version.

use crate::ctl::{Ctl, R};

impl Ctl {
    pub(super) fn do_version(&mut self, arg: &str) -> R<()> {
        if !self.no_arguments("version", arg) {
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let version = self.client.supervisor_version()?;
        self.output(&version);
        // As `warden ctl`, also say which warden this is; as `supervisorctl`
        // (a link) the output stays supervisorctl's, which scripts parse.
        if self.opts.warden_named() {
            self.output(&format!("warden ctl {}", env!("CARGO_PKG_VERSION")));
        }
        Ok(())
    }
}
