//! Reading other processes from `/proc`: parent, process group, session and
//! start time (to tell a process from a later one that reuses its pid), and
//! the environment a process was started with.
//!
//! Plain file reads, no `unsafe`: they allocate, so never call them between
//! `fork` and `exec`.

/// The fields of `/proc/<pid>/stat` the supervisor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The pid.
    pub pid: i32,
    /// Scheduler state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Start time in clock ticks since boot (field 22): with the pid, it
    /// names one process for the life of the machine.
    pub starttime: u64,
}

impl Stat {
    /// True unless the process has exited and only waits to be reaped.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// Parses the text of `/proc/<pid>/stat`.
#[must_use]
pub fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    // The command name is in parentheses and may itself contain ") ".
    let after = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // f[0] is field 3 (state): field n is f[n - 3].
    Some(Stat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
    })
}

/// `/proc/<pid>/stat`, or `None` if there is no such process.
#[must_use]
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// True if `pid` is alive (not a zombie) and started at `starttime`.
#[must_use]
pub fn same_process(pid: i32, starttime: u64) -> bool {
    stat(pid).is_some_and(|s| s.is_alive() && s.starttime == starttime)
}

/// Every process visible in `/proc` (an unreadable entry is skipped: it has
/// just exited).
#[must_use]
pub fn all() -> Vec<Stat> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

/// True if the environment `pid` was started with holds every `KEY=VALUE`
/// of `pairs` (readable for our own user's processes, or as root).
#[must_use]
pub fn environ_has(pid: i32, pairs: &[(&str, &str)]) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    pairs.iter().all(|(k, v)| {
        env.split(|&b| b == 0).any(|kv| {
            kv.len() == k.len() + 1 + v.len()
                && kv.starts_with(k.as_bytes())
                && kv[k.len()] == b'='
                && kv.ends_with(v.as_bytes())
        })
    })
}

/// The living descendants of `roots` in `procs` (following parent links),
/// roots excluded.
#[must_use]
pub fn descendants(procs: &[Stat], roots: &[i32]) -> Vec<Stat> {
    let mut found: Vec<Stat> = Vec::new();
    let mut frontier: Vec<i32> = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for p in procs.iter().filter(|p| p.ppid == parent && p.is_alive()) {
            if !roots.contains(&p.pid) && !found.iter().any(|f| f.pid == p.pid) {
                found.push(*p);
                frontier.push(p.pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_parentheses_and_spaces() {
        let text = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        let s = parse_stat(42, text).unwrap();
        assert_eq!((s.state, s.ppid, s.pgrp, s.session), ('S', 1, 42, 42));
        assert_eq!(s.starttime, 123_456);
    }

    #[test]
    fn own_stat_and_environ() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert!(s.is_alive());
        assert!(same_process(me, s.starttime));
        assert!(!same_process(me, s.starttime + 1));
        let path = std::env::var("PATH").unwrap_or_default();
        assert!(environ_has(me, &[("PATH", &path)]));
        assert!(!environ_has(me, &[("PATH", "surely-not-this")]));
    }

    #[test]
    fn descendants_follow_parent_links() {
        let p = |pid, ppid| Stat {
            pid,
            state: 'S',
            ppid,
            pgrp: pid,
            session: pid,
            starttime: 0,
        };
        let procs = [p(10, 1), p(11, 10), p(12, 11), p(13, 1), p(14, 12)];
        let mut d: Vec<i32> = descendants(&procs, &[10]).iter().map(|s| s.pid).collect();
        d.sort_unstable();
        assert_eq!(d, [11, 12, 14]);
    }
}
