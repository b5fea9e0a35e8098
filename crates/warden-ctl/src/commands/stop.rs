//! `stop [--with-dependents] name...|group:*|all`.
//!
//! warden's `depends_on=`: the programs that depend on a target are read
//! from the config file. Stopping a program that running programs depend
//! on is refused unless `--with-dependents` stops them first.

use warden_xmlrpc::FaultCode;

use super::{OutcomeWords, Targets, SIGNAL_ERRORS};
use crate::ctl::{Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_stop(&mut self, arg: &str) -> R<()> {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut names: Vec<&str> = arg.split_whitespace().collect();
        let with_dependents = names.contains(&"--with-dependents");
        names.retain(|n| *n != "--with-dependents");
        if names.is_empty() {
            self.usage("Error: stop requires a process name", "stop", exit::GENERIC);
            return Ok(());
        }
        let dependents = if names.contains(&"all") {
            Vec::new()
        } else {
            self.running_dependents(&names)?
        };
        if !dependents.is_empty() && !with_dependents {
            self.output(&format!(
                "Error: running programs depend on {}: {}; stop them first, or use 'stop --with-dependents'",
                names.join(" "),
                dependents.join(", ")
            ));
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let all: Vec<&str> = dependents
            .iter()
            .map(String::as_str)
            .chain(names.iter().copied())
            .collect();
        self.for_each_target(
            &all,
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

    /// The running processes that depend on `names` (from the config
    /// file's `depends_on=`), in the order to stop them.
    fn running_dependents(&mut self, names: &[&str]) -> R<Vec<String>> {
        let Some(path) = self.opts.configfile.clone() else {
            return Ok(Vec::new());
        };
        let env = warden_config::host_env();
        let Ok(loaded) = warden_config::load(&path, &env) else {
            return Ok(Vec::new());
        };
        let mut deps: Vec<String> = Vec::new();
        for name in names {
            for d in warden_config::dependents(&loaded.config.groups, name) {
                if !deps.contains(&d) && !names.contains(&d.as_str()) {
                    deps.push(d);
                }
            }
        }
        if deps.is_empty() {
            return Ok(deps);
        }
        let running: Vec<String> = self
            .client
            .all_process_info()?
            .into_iter()
            .filter(|p| p.state.is_running())
            .map(|p| format!("{}:{}", p.group, p.name))
            .collect();
        deps.retain(|d| running.contains(d));
        Ok(deps)
    }
}
