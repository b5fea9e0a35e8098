//! warden's own `[supervisord]` keys for containers and process trees:
//! defaults, accepted values and the errors for bad ones.

use std::collections::HashMap;
use std::path::Path;

fn supervisord(keys: &str) -> Result<warden_config::SupervisordSection, String> {
    let text = format!("[supervisord]\nlogfile=/dev/null\n{keys}\n");
    warden_config::parse_str(&text, Path::new("/tmp"), &HashMap::new())
        .map(|l| l.config.supervisord)
        .map_err(|e| e.to_string())
}

#[test]
fn defaults() {
    let s = supervisord("").unwrap();
    assert_eq!(s.shutdown_timeout, None);
    assert!(s.forward_signals.is_empty());
    assert_eq!(s.pdeathsig, Some(9));
    assert!(s.cgroups);
    assert_eq!(s.previous_run, warden_config::PreviousRun::Stop);
}

#[test]
fn values() {
    let s = supervisord(
        "shutdown_timeout=5\nforward_signals=HUP, SIGUSR1,winch,TERM\npdeathsig=TERM\ncgroups=false",
    )
    .unwrap();
    assert_eq!(s.shutdown_timeout, Some(5));
    assert_eq!(s.forward_signals, [1, 10, 28, 15]);
    assert_eq!(s.pdeathsig, Some(15));
    assert!(!s.cgroups);
    assert_eq!(supervisord("pdeathsig=none").unwrap().pdeathsig, None);
    assert_eq!(
        supervisord("previous_run=Adopt").unwrap().previous_run,
        warden_config::PreviousRun::Adopt
    );
}

#[test]
fn bad_values_name_the_key() {
    let e = supervisord("forward_signals=CHLD").unwrap_err();
    assert!(
        e.contains("forward_signals takes HUP, INT, QUIT, TERM, USR1, USR2 and WINCH, not CHLD"),
        "{e}"
    );
    let e = supervisord("shutdown_timeout=0").unwrap_err();
    assert!(e.contains("shutdown_timeout must be at least 1"), "{e}");
    let e = supervisord("pdeathsig=NOPE").unwrap_err();
    assert!(e.contains("pdeathsig"), "{e}");
    let e = supervisord("previous_run=keep").unwrap_err();
    assert!(
        e.contains("previous_run") && e.contains("not one of stop, adopt"),
        "{e}"
    );
}
