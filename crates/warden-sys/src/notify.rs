//! The receiving side of sd_notify: datagrams on a unix socket with the
//! sender's credentials (`SO_PASSCRED` / `SCM_CREDENTIALS`), so the
//! supervisor knows which process sent `READY=1` without trusting its text.
//! Safe wrappers over nix; no `unsafe` here.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, UnixCredentials,
};

/// Asks the kernel to attach the sender's credentials to every datagram
/// received on `fd`.
///
/// # Errors
///
/// setsockopt(SO_PASSCRED) failed.
pub fn pass_credentials(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    setsockopt(&fd, sockopt::PassCred, &true).map_err(std::io::Error::from)
}

/// Receives one datagram without blocking: its length and the sender's
/// pid (from `SCM_CREDENTIALS`, when the kernel attached them).
///
/// # Errors
///
/// recvmsg failed (`WouldBlock` when nothing is waiting).
pub fn recv_with_pid(fd: BorrowedFd<'_>, buf: &mut [u8]) -> std::io::Result<(usize, Option<i32>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(UnixCredentials);
    let msg = recvmsg::<()>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    let pid = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|c| match c {
            ControlMessageOwned::ScmCredentials(cr) => Some(cr.pid()),
            _ => None,
        })
    });
    Ok((msg.bytes, pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn the_sender_pid_comes_with_the_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        pass_credentials(rx.as_fd()).unwrap();
        let tx = UnixDatagram::unbound().unwrap();
        tx.send_to(b"READY=1", &path).unwrap();
        let mut buf = [0u8; 64];
        let (n, pid) = recv_with_pid(rx.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert_eq!(pid, Some(std::process::id() as i32));
        let e = recv_with_pid(rx.as_fd(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }
}
