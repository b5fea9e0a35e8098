//! The systemd notification protocol (`sd_notify`): datagrams such as
//! `READY=1` sent to the socket named by `NOTIFY_SOCKET` (a path, or an
//! abstract name written with a leading `@`).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// A connection to a notification socket.
#[derive(Debug, Clone)]
pub struct SdNotify {
    target: String,
}

impl SdNotify {
    /// The socket named by `NOTIFY_SOCKET`, if set.
    #[must_use]
    pub fn from_env() -> Option<SdNotify> {
        let target = std::env::var("NOTIFY_SOCKET").ok()?;
        (!target.is_empty()).then_some(SdNotify { target })
    }

    /// The socket address as given (`/run/...` or `@name`).
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Sends one datagram, e.g. `"READY=1\nMAINPID=42"`.
    ///
    /// # Errors
    ///
    /// Socket creation or delivery errors.
    pub fn send(&self, state: &str) -> std::io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        let addr = match self.target.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(&self.target)?,
        };
        sock.send_to_addr(state.as_bytes(), &addr).map(drop)
    }
}
