#![allow(dead_code)]
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use warden_config::{parse_str_with, ConfigErrors, Context, Loaded, System};

/// A host with users root(0) and www(33), groups root(0) and www(33).
pub struct FakeSystem;

impl System for FakeSystem {
    fn uid_by_name(&self, name: &str) -> Option<u32> {
        match name {
            "root" => Some(0),
            "www" => Some(33),
            _ => None,
        }
    }
    fn uid_exists(&self, uid: u32) -> bool {
        uid == 0 || uid == 33
    }
    fn gid_for_uid(&self, uid: u32) -> Option<u32> {
        self.uid_exists(uid).then_some(uid)
    }
    fn home_of(&self, name: &str) -> Option<PathBuf> {
        (name == "www").then(|| PathBuf::from("/var/www"))
    }
    fn gid_by_name(&self, name: &str) -> Option<u32> {
        self.uid_by_name(name)
    }
    fn gid_exists(&self, gid: u32) -> bool {
        self.uid_exists(gid)
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
}

pub static FAKE: FakeSystem = FakeSystem;

pub fn ctx(env: &[(&str, &str)], cwd: &Path) -> Context<'static> {
    Context {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        cwd: cwd.to_path_buf(),
        host_node_name: "node1".into(),
        temp_dir: PathBuf::from("/tmp"),
        system: &FAKE,
    }
}

pub fn parse(text: &str) -> Result<Loaded, ConfigErrors> {
    parse_env(text, &[("HOME", "/home/me")])
}

pub fn parse_env(text: &str, env: &[(&str, &str)]) -> Result<Loaded, ConfigErrors> {
    parse_str_with(text, Path::new("/etc/sv"), &ctx(env, Path::new("/work")))
}

pub fn ok(text: &str) -> Loaded {
    match parse(text) {
        Ok(l) => l,
        Err(e) => panic!("unexpected errors: {e}"),
    }
}

pub fn errs(text: &str) -> ConfigErrors {
    match parse(text) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}
