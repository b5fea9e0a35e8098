//! The interactive shell (`warden ctl` with no command): supervisorctl's
//! `cmd.Cmd` loop on rustyline, with history (`-r` / `history_file=`), line
//! editing, and completion of commands, process names and group names that
//! follows `Controller.complete`.

use std::cell::RefCell;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::client::Client;
use crate::ctl::{self, Ctl, VOCAB};

/// readline's default word delimiters minus `:`, `*` and `-`, as
/// supervisorctl configures them.
const DELIMS: &str = " \t\n\"\\'`@$><=;|&{(";

/// Completion state: its own connection and a per-command cache of
/// `(group, name)` pairs.
pub struct CtlHelper {
    client: RefCell<Client>,
    cache: RefCell<Option<Vec<(String, String)>>>,
}

impl CtlHelper {
    fn new(c: &Ctl) -> Self {
        CtlHelper {
            client: RefCell::new(ctl::client_for(&c.opts)),
            cache: RefCell::new(None),
        }
    }

    fn infos(&self) -> Vec<(String, String)> {
        if let Some(c) = &*self.cache.borrow() {
            return c.clone();
        }
        let got: Vec<(String, String)> = self
            .client
            .borrow_mut()
            .all_process_info()
            .map(|infos| infos.into_iter().map(|i| (i.group, i.name)).collect())
            .unwrap_or_default();
        *self.cache.borrow_mut() = Some(got.clone());
        got
    }

    /// `Controller.complete`'s candidate list for `text` within `line`.
    pub fn matches(&self, line: &str, text: &str) -> Vec<String> {
        let actions = || -> Vec<String> {
            VOCAB
                .iter()
                .filter(|a| a.starts_with(text))
                .map(|a| format!("{a} "))
                .collect()
        };
        if line.trim().is_empty() {
            return actions();
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let action = words[0];
        if words.len() == 1 && !line.ends_with(' ') {
            return actions();
        }
        // `action in ('help')` is a substring test in supervisorctl.
        if "help".contains(action) {
            return actions();
        }
        if ["add", "remove", "update"].contains(&action) {
            let mut groups: Vec<String> = Vec::new();
            for (g, _) in self.infos() {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            return groups
                .into_iter()
                .filter(|g| g.starts_with(text))
                .map(|g| format!("{g} "))
                .collect();
        }
        if [
            "clear", "fg", "pid", "restart", "signal", "start", "status", "stop", "tail", "wait",
        ]
        .contains(&action)
        {
            let mut procs: Vec<String> = Vec::new();
            for (g, n) in self.infos() {
                if text.contains(':') || n != g {
                    procs.push(format!("{g}:{n}"));
                    let star = format!("{g}:*");
                    if !procs.contains(&star) {
                        procs.push(star);
                    }
                } else {
                    procs.push(n);
                }
            }
            return procs
                .into_iter()
                .filter(|p| p.starts_with(text))
                .map(|p| format!("{p} "))
                .collect();
        }
        Vec::new()
    }
}

impl Completer for CtlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .char_indices()
            .rev()
            .find(|(_, c)| DELIMS.contains(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let text = &line[start..pos];
        let m = self
            .matches(line, text)
            .into_iter()
            .map(|s| Pair {
                display: s.trim_end().to_string(),
                replacement: s,
            })
            .collect();
        Ok((start, m))
    }
}

impl Hinter for CtlHelper {
    type Hint = String;
}
impl Highlighter for CtlHelper {}
impl Validator for CtlHelper {}
impl Helper for CtlHelper {}

/// Run the shell: `status` first, then prompt until EOF, `quit`/`exit` or Ctrl-C.
pub fn run(c: &mut Ctl) {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        // Like Python's cmd without a terminal: prompt, read, run; no editing.
        c.onecmd("status");
        loop {
            let prompt = format!("{}> ", c.opts.prompt);
            match ctl::read_stdin_line(&prompt) {
                Some(line) => {
                    if c.onecmd(&line) {
                        break;
                    }
                }
                None => {
                    c.output("");
                    break;
                }
            }
        }
        c.flush();
        return;
    }
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(true)
        .build();
    let mut rl: Editor<CtlHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("Error: cannot start the shell: {e}");
            return;
        }
    };
    rl.set_helper(Some(CtlHelper::new(c)));
    if let Some(h) = &c.opts.history_file {
        let _ = rl.load_history(h);
    }
    c.onecmd("status");
    loop {
        if let Some(h) = rl.helper_mut() {
            *h = CtlHelper::new(c);
        }
        let prompt = format!("{}> ", c.opts.prompt);
        match rl.readline(&prompt) {
            Ok(line) => {
                if c.onecmd(&line) {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                c.output("");
                break;
            }
            Err(ReadlineError::Eof) => {
                c.output("");
                break;
            }
            Err(e) => {
                eprintln!("Error: {e}");
                break;
            }
        }
    }
    c.flush();
    if let Some(h) = &c.opts.history_file {
        let _ = rl.save_history(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper(infos: &[(&str, &str)]) -> CtlHelper {
        let h = CtlHelper {
            client: RefCell::new(Client::new(
                crate::http::Endpoint::Unix("/nonexistent".into()),
                None,
            )),
            cache: RefCell::new(None),
        };
        *h.cache.borrow_mut() = Some(
            infos
                .iter()
                .map(|(g, n)| (g.to_string(), n.to_string()))
                .collect(),
        );
        h
    }

    #[test]
    fn completes_like_supervisorctl() {
        let h = helper(&[("web", "a"), ("web", "b"), ("sleep", "sleep")]);
        assert_eq!(h.matches("sta", "sta"), vec!["start ", "status "]);
        assert_eq!(
            h.matches("", ""),
            VOCAB.iter().map(|a| format!("{a} ")).collect::<Vec<_>>()
        );
        assert_eq!(
            h.matches("stop ", ""),
            vec!["web:a ", "web:* ", "web:b ", "sleep "]
        );
        assert_eq!(h.matches("stop w", "w"), vec!["web:a ", "web:* ", "web:b "]);
        assert_eq!(
            h.matches("stop sleep:", "sleep:"),
            vec!["sleep:sleep ", "sleep:* "]
        );
        assert_eq!(h.matches("add ", ""), vec!["web ", "sleep "]);
        assert_eq!(
            h.matches("help st", "st"),
            vec!["start ", "status ", "stop "]
        );
        assert!(h.matches("version ", "").is_empty());
    }
}
