//! Thin binary around [`warden_supervisor::main`] (supervisord's command line).
fn main() {
    std::process::exit(warden_supervisor::main(std::env::args_os().collect()));
}
