//! `tail [-f|-N] name [stdout|stderr]`: a process's log.

use crate::client::Channel;
use crate::ctl::{py_int, Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_tail(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() {
            self.usage("Error: too few arguments", "tail", exit::GENERIC);
            return Ok(());
        } else if args.len() > 3 {
            self.usage("Error: too many arguments", "tail", exit::GENERIC);
            return Ok(());
        }
        let mut modifier = None;
        if args[0].starts_with('-') {
            modifier = Some(args.remove(0));
        }
        let (name, channel) = if args.len() == 1 {
            (args[0].to_string(), "stdout".to_string())
        } else if !args.is_empty() {
            let ch = args[args.len() - 1].to_lowercase();
            if ch != "stderr" && ch != "stdout" {
                self.output(&format!(
                    "Error: bad channel {}",
                    warden_config::expand::repr(&ch)
                ));
                self.exitstatus = exit::GENERIC;
                return Ok(());
            }
            (args[0].to_string(), ch)
        } else {
            self.output("Error: tail requires process name");
            self.exitstatus = exit::GENERIC;
            return Ok(());
        };
        let mut bytes: Option<i64> = Some(1600);
        if let Some(m) = modifier {
            let what = &m[1..];
            if what == "f" {
                bytes = None;
            } else {
                match py_int(what) {
                    Some(n) => bytes = Some(n),
                    None => {
                        self.output(&format!("Error: bad argument {m}"));
                        self.exitstatus = exit::GENERIC;
                        return Ok(());
                    }
                }
            }
        }
        let Some(bytes) = bytes else {
            return self.follow(&format!("/logtail/{name}/{channel}"));
        };
        let ch = if channel == "stdout" {
            Channel::Stdout
        } else {
            Channel::Stderr
        };
        let r = if self.json {
            let len = i32::try_from(bytes).unwrap_or(i32::MAX);
            self.client.tail_process_log(&name, ch, 0, len).map(|t| {
                serde_json::json!({
                    "name": name,
                    "channel": channel,
                    "bytes": bytes,
                    "data": t.data,
                    "offset": t.offset,
                    "overflow": t.overflow,
                })
                .to_string()
            })
        } else {
            let neg = i32::try_from(-bytes).unwrap_or(i32::MIN);
            self.client.read_process_log(&name, ch, neg, 0)
        };
        self.show_log(&name, r, true)
    }
}
