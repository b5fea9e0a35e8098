//! `status [--strict] [name...]`: one line per process.

use warden_types::{Namespec, ProcessState};

use crate::client::ProcessInfo;
use crate::ctl::{pad_into, Ctl, R};
use crate::exit;

impl Ctl {
    pub(super) fn do_status(&mut self, arg: &str) -> R<()> {
        let mut strict = false;
        let words: Vec<&str> = arg
            .split_whitespace()
            .filter(|w| {
                if *w == "--strict" {
                    strict = true;
                    false
                } else {
                    true
                }
            })
            .collect();
        if !self.upcheck()? {
            self.exitstatus = exit::STATUS_UNKNOWN;
            return Ok(());
        }
        // --json prints every field of getAllProcessInfo (the log paths too)
        let all = if self.json {
            self.client.all_process_info()?
        } else {
            self.client.all_process_status()?
        };
        let matching: Vec<&ProcessInfo> = if words.is_empty() || words.contains(&"all") {
            all.iter().collect()
        } else {
            let mut m = Vec::new();
            for name in &words {
                let spec = Namespec::parse(name);
                let mut bad = true;
                for info in &all {
                    let matched = info.group == spec.group
                        && spec.process.as_ref().is_none_or(|p| info.name == *p);
                    if matched {
                        bad = false;
                        m.push(info);
                    }
                }
                if bad {
                    let msg = if spec.is_group() {
                        format!("{}: ERROR (no such group)", spec.group)
                    } else {
                        format!("{name}: ERROR (no such process)")
                    };
                    if self.json {
                        eprintln!("{msg}");
                    } else {
                        self.output(&msg);
                    }
                    self.exitstatus = exit::STATUS_UNKNOWN;
                }
            }
            m
        };
        if self.json {
            let arr: Vec<serde_json::Value> = matching
                .iter()
                .map(|i| {
                    let mut j = i.to_json();
                    if let Some(o) = j.as_object_mut() {
                        o.insert("namespec".into(), i.namespec().into());
                    }
                    j
                })
                .collect();
            self.output(&serde_json::Value::Array(arr).to_string());
        } else {
            self.show_statuses(&matching);
        }
        for info in &matching {
            if info.state.is_stopped() || (strict && info.state != ProcessState::Running) {
                self.exitstatus = exit::STATUS_NOT_RUNNING;
            }
        }
        Ok(())
    }

    fn show_statuses(&mut self, infos: &[&ProcessInfo]) {
        let specs: Vec<String> = infos.iter().map(|i| i.namespec()).collect();
        // Python pads by code points.
        let maxlen = specs
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(30);
        let width = maxlen + 3;
        for (spec, info) in specs.iter().zip(infos) {
            pad_into(&mut self.out, spec, width);
            pad_into(&mut self.out, &info.statename, 10);
            self.out.extend_from_slice(info.description.as_bytes());
            self.out.push(b'\n');
        }
    }
}
