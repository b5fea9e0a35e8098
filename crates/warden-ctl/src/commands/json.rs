//! `--json` for the commands that print supervisorctl's lines and have no
//! JSON form of their own (start, stop, restart, signal, clear, update, add,
//! remove, reload, shutdown, version, maintail, wait): the lines the command
//! printed become one JSON document.
//!
//! ```text
//! {"command":"start","exit_status":0,
//!  "results":[{"name":"web","ok":true,"message":"started"},
//!             {"name":"db","ok":false,"message":"ERROR (spawn error)"}],
//!  "lines":["web: started","db: ERROR (spawn error)"]}
//! ```
//!
//! Every `NAME: MESSAGE` line is a result (`ok` unless the message starts
//! with `ERROR`); `lines` keeps every line as printed (a version, a log).

use serde_json::{json, Value};

/// The document for `command`'s printed `text` and exit status.
pub(crate) fn document(command: &str, text: &str, exit_status: i32) -> Value {
    let lines: Vec<&str> = text.lines().collect();
    let results: Vec<Value> = lines
        .iter()
        .filter_map(|l| {
            let (name, message) = l.split_once(": ")?;
            if name.is_empty() || name.contains(char::is_whitespace) {
                return None;
            }
            Some(json!({
                "name": name,
                "ok": !message.starts_with("ERROR"),
                "message": message,
            }))
        })
        .collect();
    json!({
        "command": command,
        "exit_status": exit_status,
        "results": results,
        "lines": lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_become_results() {
        let d = document(
            "start",
            "web: started\ndb:db_0: ERROR (spawn error)\nError: something else\n",
            1,
        );
        assert_eq!(d["exit_status"], 1);
        assert_eq!(
            d["results"][0],
            json!({"name": "web", "ok": true, "message": "started"})
        );
        assert_eq!(d["results"][1]["name"], "db:db_0");
        assert_eq!(d["results"][1]["ok"], false);
        assert_eq!(d["results"].as_array().unwrap().len(), 3);
        assert_eq!(d["lines"].as_array().unwrap().len(), 3);
        let v = document("version", "4.3.0\n", 0);
        assert_eq!(v["results"], json!([]));
        assert_eq!(v["lines"], json!(["4.3.0"]));
    }
}
