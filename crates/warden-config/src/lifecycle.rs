//! warden's lifecycle keys of `[program:x]` (`ready=`, `healthcheck=`,
//! `depends_on=`, `backoff=`, `critical=`...): value parsers and the
//! dependency checks (unknown names, cycles). supervisord ignores these keys.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Backoff, GroupConfig, Probe};
use crate::shlex;

/// The keys this module reads, for the unknown-key check.
pub(crate) const KEYS: &[&str] = &[
    "ready",
    "ready_timeout",
    "healthcheck",
    "healthcheck_interval",
    "healthcheck_timeout",
    "healthcheck_retries",
    "healthcheck_start_period",
    "depends_on",
    "backoff",
    "backoff_max",
    "backoff_reset",
    "critical",
];

/// `ready=`: `notify`, `tcp:[HOST:]PORT`, `http:URL`, `exec:COMMAND` or
/// `log:REGEX`.
pub(crate) fn probe(v: &str) -> Result<Probe, String> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("notify") {
        return Ok(Probe::Notify);
    }
    let Some((kind, rest)) = v.split_once(':') else {
        return Err(format!(
            "not a probe: {v:?} (notify, tcp:PORT, tcp:HOST:PORT, http:URL, exec:COMMAND or log:REGEX)"
        ));
    };
    match kind.to_ascii_lowercase().as_str() {
        "tcp" => {
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h.trim_matches(['[', ']']).to_string(), p),
                None => ("127.0.0.1".to_string(), rest),
            };
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("not a TCP port: {port:?}"))?;
            if host.is_empty() {
                return Err(format!("no host in {v:?}"));
            }
            Ok(Probe::Tcp { host, port })
        }
        "http" | "https" => {
            let url = if kind.eq_ignore_ascii_case("http") && rest.starts_with("//") {
                format!("http:{rest}")
            } else {
                rest.to_string()
            };
            if !url.starts_with("http://") {
                return Err(format!("only http:// URLs are probed: {url:?}"));
            }
            Ok(Probe::Http(url))
        }
        "exec" => match shlex::split(rest) {
            Ok(argv) if !argv.is_empty() => Ok(Probe::Exec(argv)),
            Ok(_) => Err("empty command".into()),
            Err(e) => Err(format!("can't parse command {rest:?}: {e}")),
        },
        "log" => regex_lite::Regex::new(rest)
            .map(|_| Probe::Log(rest.to_string()))
            .map_err(|e| format!("bad regular expression {rest:?}: {e}")),
        _ => Err(format!("unknown probe kind {kind:?}")),
    }
}

/// `healthcheck=`: as `ready=` but without `log:`.
pub(crate) fn health_probe(v: &str) -> Result<Probe, String> {
    match probe(v)? {
        Probe::Log(_) => Err("log: is a readiness probe only".into()),
        p => Ok(p),
    }
}

/// `backoff=`: `linear` (supervisord's) or `exponential`.
pub(crate) fn backoff(v: &str) -> Result<Backoff, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "linear" => Ok(Backoff::Linear),
        "exponential" => Ok(Backoff::Exponential),
        _ => Err(format!("not a backoff: {v:?} (linear or exponential)")),
    }
}

/// A count of seconds that must not be negative.
pub(crate) fn seconds(v: &str) -> Result<i64, String> {
    crate::datatypes::integer(v).and_then(|n| {
        if n < 0 {
            Err(format!("{n} is negative"))
        } else {
            Ok(n)
        }
    })
}

/// `depends_on=`: comma-separated program names or `GROUP:*`.
pub(crate) fn depends_on(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let bare = name.strip_suffix(":*").unwrap_or(name);
        if bare.is_empty() || bare.contains([':', ' ', '\t']) {
            return Err(format!("not a program name or GROUP:*: {name:?}"));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// The processes (as `GROUP:NAME`) that depend on the processes of
/// `target` (`NAME`, `GROUP:NAME` or `GROUP:*`), directly or not, in the
/// order to stop them: those furthest from `target` first.
pub fn dependents(groups: &[GroupConfig], target: &str) -> Vec<String> {
    let procs: Vec<&crate::ProcessConfig> = groups.iter().flat_map(|g| &g.processes).collect();
    let named = |spec: &str| -> Vec<&str> {
        let (group, name) = match spec.split_once(':') {
            Some((g, n)) => (Some(g), n),
            None => (None, spec),
        };
        procs
            .iter()
            .filter(|p| match (group, name) {
                (Some(g), "*") => p.group == g,
                (Some(g), n) => p.group == g && p.name == n,
                (None, n) => p.name == n || p.group == n,
            })
            .map(|p| p.program_name.as_str())
            .collect()
    };
    // does program `p` depend directly on program `on`?
    let depends = |p: &crate::ProcessConfig, on: &str| {
        p.lifecycle
            .depends_on
            .iter()
            .any(|d| match d.strip_suffix(":*") {
                Some(g) => groups
                    .iter()
                    .any(|gc| gc.name == g && gc.processes.iter().any(|q| q.program_name == on)),
                None => d == on,
            })
    };
    // post-order over the dependents graph: the deepest dependents first
    fn walk<'a>(
        on: &str,
        procs: &[&'a crate::ProcessConfig],
        depends: &dyn Fn(&crate::ProcessConfig, &str) -> bool,
        seen: &mut BTreeSet<&'a str>,
        out: &mut Vec<&'a crate::ProcessConfig>,
    ) {
        for p in procs {
            if depends(p, on) && seen.insert(p.program_name.as_str()) {
                walk(&p.program_name, procs, depends, seen, out);
                for q in procs.iter().filter(|q| q.program_name == p.program_name) {
                    out.push(q);
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for on in named(target) {
        seen.insert(on);
    }
    for on in named(target) {
        walk(on, &procs, &depends, &mut seen, &mut out);
    }
    out.iter()
        .map(|p| format!("{}:{}", p.group, p.name))
        .collect()
}

/// A problem with `depends_on=`: the section and the reason.
pub(crate) struct DepError {
    pub(crate) section: String,
    pub(crate) reason: String,
}

/// Checks every `depends_on=` name exists and that the dependencies have
/// no cycle (the error names the cycle's programs, in order).
pub(crate) fn check_dependencies(groups: &[GroupConfig]) -> Vec<DepError> {
    // program name -> (section, the program names it depends on)
    let mut graph: BTreeMap<&str, (&str, BTreeSet<&str>)> = BTreeMap::new();
    let mut errors = Vec::new();
    for g in groups {
        for p in &g.processes {
            let mut deps = BTreeSet::new();
            for d in &p.lifecycle.depends_on {
                let found: Vec<&str> = match d.strip_suffix(":*") {
                    Some(group) => groups
                        .iter()
                        .filter(|g| g.name == group)
                        .flat_map(|g| g.processes.iter().map(|p| p.program_name.as_str()))
                        .collect(),
                    None => groups
                        .iter()
                        .flat_map(|g| &g.processes)
                        .filter(|q| q.program_name == *d)
                        .map(|q| q.program_name.as_str())
                        .take(1)
                        .collect(),
                };
                if found.is_empty() {
                    errors.push(DepError {
                        section: p.section.clone(),
                        reason: format!("depends_on names no program: {d:?}"),
                    });
                }
                deps.extend(found);
            }
            graph
                .entry(p.program_name.as_str())
                .or_insert_with(|| (p.section.as_str(), BTreeSet::new()))
                .1
                .extend(deps);
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        let section = graph[cycle[0]].0.to_string();
        let mut names = cycle.clone();
        names.push(cycle[0]);
        errors.push(DepError {
            section,
            reason: format!("depends_on has a cycle: {}", names.join(" -> ")),
        });
    }
    errors
}

/// A cycle of the graph, if any (depth-first search with colours).
fn find_cycle<'a>(graph: &BTreeMap<&'a str, (&'a str, BTreeSet<&'a str>)>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, (&'a str, BTreeSet<&'a str>)>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = path.iter().position(|p| *p == n).unwrap_or(0);
                return Some(path[at..].to_vec());
            }
            None => {}
        }
        marks.insert(n, Mark::Open);
        path.push(n);
        if let Some((_, deps)) = graph.get(n) {
            for d in deps {
                if let Some(c) = visit(d, graph, marks, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        marks.insert(n, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in graph.keys() {
        let mut path = Vec::new();
        if let Some(c) = visit(n, graph, &mut marks, &mut path) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_parse() {
        assert_eq!(probe("notify"), Ok(Probe::Notify));
        assert_eq!(
            probe("tcp:8080"),
            Ok(Probe::Tcp {
                host: "127.0.0.1".into(),
                port: 8080
            })
        );
        assert_eq!(
            probe("tcp:localhost:80"),
            Ok(Probe::Tcp {
                host: "localhost".into(),
                port: 80
            })
        );
        assert_eq!(
            probe("http://127.0.0.1:1/x"),
            Ok(Probe::Http("http://127.0.0.1:1/x".into()))
        );
        assert_eq!(probe("http:http://h/"), Ok(Probe::Http("http://h/".into())));
        assert_eq!(
            probe("exec:test -e '/tmp/a b'"),
            Ok(Probe::Exec(vec![
                "test".into(),
                "-e".into(),
                "/tmp/a b".into()
            ]))
        );
        assert_eq!(
            probe("log:ready on \\d+"),
            Ok(Probe::Log("ready on \\d+".into()))
        );
        assert!(probe("tcp:0").is_err());
        assert!(probe("log:(").is_err());
        assert!(probe("bogus").is_err());
        assert!(health_probe("log:x").is_err());
    }

    #[test]
    fn depends_on_names() {
        assert_eq!(
            depends_on("web, db ,grp:*"),
            Ok(vec!["web".into(), "db".into(), "grp:*".into()])
        );
        assert!(depends_on("a:b").is_err());
    }
}

#[cfg(test)]
mod config_tests {
    use std::collections::HashMap;
    use std::path::Path;

    fn load(programs: &str) -> Result<crate::Loaded, crate::ConfigErrors> {
        let text = format!("[supervisord]\n{programs}");
        crate::parse_str(&text, Path::new("/tmp"), &HashMap::new())
    }

    #[test]
    fn a_cycle_is_refused_with_its_members_named() {
        let e = load(
            "[program:a]\ncommand=/bin/true\ndepends_on=b\n\
             [program:b]\ncommand=/bin/true\ndepends_on=c\n\
             [program:c]\ncommand=/bin/true\ndepends_on=a\n\
             [program:d]\ncommand=/bin/true\ndepends_on=a\n",
        )
        .expect_err("a cycle");
        let text = e.to_string();
        assert!(
            text.contains("depends_on has a cycle: a -> b -> c -> a"),
            "{text}"
        );
        assert!(text.contains("[program:a]"), "{text}");
    }

    #[test]
    fn dependents_come_deepest_first() {
        let l = load(
            "[program:db]\ncommand=/bin/true\n\
             [program:api]\ncommand=/bin/true\ndepends_on=db\n\
             [program:web]\ncommand=/bin/true\ndepends_on=api\n\
             [program:other]\ncommand=/bin/true\n",
        )
        .expect("valid");
        assert_eq!(
            crate::dependents(&l.config.groups, "db"),
            vec!["web:web".to_string(), "api:api".to_string()]
        );
        assert!(crate::dependents(&l.config.groups, "other").is_empty());
    }

    #[test]
    fn unknown_names_are_refused_and_groups_resolve() {
        let e = load("[program:a]\ncommand=/bin/true\ndepends_on=nope\n").expect_err("unknown");
        assert!(
            e.to_string()
                .contains("depends_on names no program: \"nope\""),
            "{e}"
        );
        let ok = load(
            "[program:a]\ncommand=/bin/true\ndepends_on=g:*\nbackoff=exponential\n\
             ready=tcp:9999\ncritical=true\n\
             [program:b]\ncommand=/bin/true\n[group:g]\nprograms=b\n",
        )
        .expect("valid");
        let a = ok.config.processes().find(|p| p.name == "a").expect("a");
        assert_eq!(a.lifecycle.depends_on, vec!["g:*".to_string()]);
        assert!(a.lifecycle.critical);
        assert_eq!(a.lifecycle.backoff, crate::Backoff::Exponential);
    }
}
