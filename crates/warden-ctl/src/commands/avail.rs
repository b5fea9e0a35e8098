//! `avail`: every configured program, active or not.

use warden_xmlrpc::FaultCode;

use crate::client::CallError;
use crate::ctl::{pad, Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_avail(&mut self, arg: &str) -> R<()> {
        if !self.no_arguments("avail", arg) {
            return Ok(());
        }
        let infos = match self.client.all_config_info() {
            Ok(infos) => infos,
            Err(CallError::Fault(f)) => {
                self.exitstatus = exit::GENERIC;
                if f.kind() == Some(FaultCode::ShutdownState) {
                    self.output("ERROR: supervisor shutting down");
                    return Ok(());
                }
                return Err(CallError::Fault(f).into());
            }
            Err(e) => return Err(e.into()),
        };
        if self.json {
            let arr: Vec<serde_json::Value> = infos
                .iter()
                .map(|i| {
                    let mut j = i.json.clone();
                    if let Some(o) = j.as_object_mut() {
                        o.insert("namespec".into(), i.namespec().into());
                    }
                    j
                })
                .collect();
            self.output(&serde_json::Value::Array(arr).to_string());
            return Ok(());
        }
        for i in infos {
            let inuse = if i.inuse { "in use" } else { "avail" };
            let auto = if i.autostart { "auto" } else { "manual" };
            self.output(&format!(
                "{} {} {} {}:{}",
                pad(&i.namespec(), 32),
                pad(inuse, 9),
                pad(auto, 9),
                i.group_prio,
                i.process_prio
            ));
        }
        Ok(())
    }
}
