//! Shell completions and man pages, generated from the clap definitions
//! (`clap_complete`, `clap_mangen`).

use std::path::Path;

use clap::CommandFactory;

use crate::Failure;

/// `warden completions SHELL`: the script on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32, Failure> {
    use std::io::Write;
    let mut cmd = crate::cli::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "warden", &mut script);
    // A closed pipe (`| head`) is not worth a panic.
    let _ = std::io::stdout().write_all(&script);
    Ok(0)
}

/// `warden manpages DIR`: warden.1 and one page per subcommand. The pages of
/// `supervise` and `ctl` describe the options those front ends parse
/// themselves (supervisord's and supervisorctl's), not clap's pass-through.
pub fn manpages(dir: &Path) -> Result<i32, Failure> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Failure::setup(format!("manpages: {what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    let version = env!("CARGO_PKG_VERSION");
    let cmd = crate::cli::Cli::command().version(version);
    clap_mangen::generate_to(cmd, dir).map_err(|e| io("cannot write into", dir, e))?;
    let supervise = <warden_supervisor::Options as CommandFactory>::command()
        .name("warden-supervise")
        .version(version)
        .about("run programs under a supervisord-compatible supervisor")
        .long_about(
            "warden supervise (also installed as a link named supervisord) reads \
             supervisord's configuration files and serves its XML-RPC API and web pages. \
             Its options are supervisord's.",
        );
    let path = dir.join("warden-supervise.1");
    let mut out = Vec::new();
    clap_mangen::Man::new(supervise)
        .render(&mut out)
        .map_err(|e| io("cannot render", &path, e))?;
    std::fs::write(&path, out).map_err(|e| io("cannot write", &path, e))?;
    // warden ctl parses its options by hand, as supervisorctl does: its page
    // is its help text, kept as laid out (no-fill), after clap_mangen's title
    // and name sections.
    let ctl = clap::Command::new("warden-ctl")
        .version(version)
        .about("control a supervisor (supervisorctl compatible)");
    let path = dir.join("warden-ctl.1");
    let man = clap_mangen::Man::new(ctl);
    let mut out = Vec::new();
    man.render_title(&mut out)
        .and_then(|()| man.render_name_section(&mut out))
        .map_err(|e| io("cannot render", &path, e))?;
    out.extend_from_slice(b".SH DESCRIPTION\n.nf\n");
    for line in warden_ctl::help_text("warden ctl").lines() {
        let line = line.replace('\\', "\\e");
        if line.starts_with(['.', '\'']) {
            out.extend_from_slice(b"\\&");
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b".fi\n");
    std::fs::write(&path, out).map_err(|e| io("cannot write", &path, e))?;
    Ok(0)
}
