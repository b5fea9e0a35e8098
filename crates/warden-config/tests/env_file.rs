//! `env_file=` in `[supervisord]` and per program: merge order and errors.

use std::collections::HashMap;

fn load(dir: &std::path::Path, conf: &str) -> Result<warden_config::Loaded, String> {
    let path = dir.join("supervisord.conf");
    std::fs::write(&path, conf).unwrap();
    warden_config::load(&path, &HashMap::new()).map_err(|e| e.to_string())
}

#[test]
fn merged_in_order_global_file_global_env_program_file_program_env() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("global.env"),
        "# global\nexport A=global-file\nB='global-file'\nC=global-file\nD=global-file\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.env"),
        "C=\"app-file\"\nD=app-file\nE=\"multi\nline\"\n",
    )
    .unwrap();
    let loaded = load(
        dir.path(),
        &format!(
            "[supervisord]\nenv_file={d}/global.env\nenvironment=B=\"global-env\"\n\
             [program:app]\ncommand=/bin/true\nenv_file=%(here)s/app.env\nenvironment=D=\"app-env\"\n"
        ),
    )
    .unwrap();
    let p = &loaded.config.groups[0].processes[0];
    let env: Vec<(&str, &str)> = p
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("A", "global-file"),
            ("B", "global-env"),
            ("C", "app-file"),
            ("D", "app-env"),
            ("E", "multi\nline"),
        ]
    );
    assert!(loaded
        .warnings
        .iter()
        .all(|w| w.location.key.as_deref() != Some("env_file")));
}

#[test]
fn errors_name_the_env_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(dir.path().join("bad.env"), "OK=1\n# fine\nnot a pair\n").unwrap();
    let e = load(
        dir.path(),
        &format!("[supervisord]\n[program:app]\ncommand=/bin/true\nenv_file={d}/bad.env\n"),
    )
    .unwrap_err();
    assert!(e.contains("bad.env:3"), "{e}");
    assert!(e.contains("[program:app] env_file"), "{e}");
    let e = load(
        dir.path(),
        &format!("[supervisord]\nenv_file={d}/missing.env\n"),
    )
    .unwrap_err();
    assert!(e.contains("missing.env: cannot read"), "{e}");
}
