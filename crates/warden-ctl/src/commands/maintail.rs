//! `maintail [-f|-N]`: the supervisor's own log.

use crate::ctl::{py_int, Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_maintail(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes: i64 = if args.len() > 1 {
            self.usage("Error: too many arguments", "maintail", exit::GENERIC);
            return Ok(());
        } else if args.len() == 1 {
            if let Some(what) = args[0].strip_prefix('-') {
                if what == "f" {
                    return self.follow("/mainlogtail");
                }
                match py_int(what) {
                    Some(n) => n,
                    None => {
                        self.output(&format!("Error: bad argument {}", args[0]));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            } else {
                self.output(&format!("Error: bad argument {}", args[0]));
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
        } else {
            1600
        };
        let neg = i32::try_from(-bytes).unwrap_or(i32::MIN);
        let r = self.client.read_log(neg, 0);
        self.show_log("supervisord", r, false)
    }
}
