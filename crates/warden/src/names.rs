//! The instance name derived from a command line, when `-n` is not given.
//!
//! An interpreter's name says little (`python3`, `node`): the script it runs
//! names the instance instead. `python3 app.py` → `app`, `node server.js` →
//! `server`, `java -jar x.jar` → `x`, `bash run.sh` → `run`,
//! `python3 -m http.server` → `http.server`. Anything else keeps the
//! program's file name (`sleep`, `./app.sh` → `app.sh`).

use std::path::Path;

/// Interpreters by family, matched on the program's file name without a
/// version suffix (`python3.12` → `python`).
const INTERPRETERS: &[&str] = &[
    "python", "pypy", "node", "nodejs", "deno", "bun", "ruby", "perl", "php", "lua", "luajit",
    "Rscript", "tclsh", "bash", "sh", "dash", "zsh", "ksh", "mksh", "fish", "java", "env",
];

/// Options of an interpreter that take the next argument as their value
/// (so that value is not the script).
fn takes_value(family: &str, opt: &str) -> bool {
    match family {
        "python" | "pypy" => matches!(opt, "-W" | "-X" | "-Q"),
        "node" | "nodejs" | "bun" => matches!(opt, "-r" | "--require" | "--import" | "--loader"),
        "ruby" => matches!(opt, "-I" | "-r"),
        "perl" => matches!(opt, "-I" | "-M" | "-m"),
        "java" => matches!(
            opt,
            "-cp" | "-classpath" | "--class-path" | "-p" | "--module-path" | "--add-opens"
        ),
        "bash" | "sh" | "dash" | "zsh" | "ksh" | "mksh" => matches!(opt, "-o" | "-O"),
        _ => false,
    }
}

/// The interpreter family of a program name, if it is one.
fn family(program: &str) -> Option<&'static str> {
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.iter().copied().find(|i| *i == base)
}

/// The name for an instance of `command`.
#[must_use]
pub fn derive(command: &[String]) -> String {
    let file_name = |s: &str| {
        Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let Some(program) = command.first() else {
        return String::new();
    };
    let own = file_name(program);
    script(command)
        .filter(|n| !n.is_empty() && !n.starts_with('.'))
        .unwrap_or(own)
}

/// The script (or module, or jar) an interpreter command line runs.
fn script(command: &[String]) -> Option<String> {
    let prog = Path::new(command.first()?).file_name()?.to_string_lossy();
    let fam = family(&prog)?;
    let mut args = command[1..].iter();
    if fam == "env" {
        // `env [-i] [VAR=VALUE...] python3 app.py`
        let rest: Vec<String> = args
            .skip_while(|a| a.starts_with('-') || a.contains('='))
            .cloned()
            .collect();
        return rest.first().map(|_| derive(&rest));
    }
    while let Some(a) = args.next() {
        match a.as_str() {
            // Inline code: no script to name it after.
            "-c" | "-e" | "--eval" | "-p" | "--print" if fam != "java" => return None,
            "-m" if matches!(fam, "python" | "pypy") => return args.next().cloned(),
            "-jar" if fam == "java" => return args.next().map(|j| stem(j)),
            "--" => return args.next().map(|s| stem(s)),
            o if takes_value(fam, o) => {
                args.next();
            }
            o if o.starts_with('-') => {}
            s if fam == "java" => {
                // A main class: its simple name.
                return Some(s.rsplit('.').next().unwrap_or(s).to_string());
            }
            s => return Some(stem(s)),
        }
    }
    None
}

/// A script's file name without its extension.
fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::derive;

    fn name(cmd: &str) -> String {
        derive(&cmd.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn interpreters_are_skipped() {
        assert_eq!(name("python3 app.py"), "app");
        assert_eq!(
            name("/usr/bin/python3.12 -u -W ignore /srv/app/main.py"),
            "main"
        );
        assert_eq!(name("python3 -m http.server 8000"), "http.server");
        assert_eq!(name("node server.js"), "server");
        assert_eq!(name("node --require ./t.js server.mjs"), "server");
        assert_eq!(name("java -jar x.jar"), "x");
        assert_eq!(name("java -cp lib/* com.example.Main"), "Main");
        assert_eq!(name("bash run.sh"), "run");
        assert_eq!(name("env FOO=1 python3 app.py"), "app");
    }

    #[test]
    fn other_programs_keep_their_name() {
        assert_eq!(name("sleep 1000"), "sleep");
        assert_eq!(name("./app.sh"), "app.sh");
        assert_eq!(name("sh -c true"), "sh");
        assert_eq!(name("python3"), "python3");
        assert_eq!(name("python3 .hidden.py"), "python3");
        assert_eq!(name("/usr/sbin/nginx -g x"), "nginx");
    }
}
