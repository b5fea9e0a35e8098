//! `open URL`: talk to another supervisor from now on.

use crate::ctl::{client_for, Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_open(&mut self, arg: &str) -> R<()> {
        let url = arg.trim();
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_lowercase())
            .unwrap_or_default();
        if scheme != "unix" && scheme != "http" {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        self.opts.serverurl = url.to_string();
        self.client = client_for(&self.opts);
        let old = self.exitstatus;
        let r = self.do_status("");
        self.exitstatus = old;
        r
    }
}
