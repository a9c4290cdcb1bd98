//! Sending and receiving one frame with up to a few file descriptors on a `SOCK_SEQPACKET` socket.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{MAX_FRAME, ProtoError};

const MAX_FDS: usize = 4;

/// Sends `msg` with `fds` attached. The fds stay owned by the caller.
pub fn send<T: Serialize>(sock: &impl AsRawFd, msg: &T, fds: &[RawFd]) -> Result<(), ProtoError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(ProtoError::TooLarge);
    }
    if fds.len() > MAX_FDS {
        return Err(ProtoError::Io(io::Error::from(io::ErrorKind::InvalidInput)));
    }
    let mut iov = libc::iovec {
        iov_base: body.as_ptr() as *mut libc::c_void,
        iov_len: body.len(),
    };
    // u64 alignment satisfies cmsghdr's; sized for MAX_FDS descriptors.
    let mut cmsg_buf = [0u64; 8];
    // SAFETY: zeroed msghdr is a valid "no name, no control" header; every pointer set below
    // points at locals that outlive the sendmsg call.
    let mut hdr: libc::msghdr = unsafe { zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if !fds.is_empty() {
        let fd_bytes = std::mem::size_of_val(fds);
        // SAFETY: CMSG_SPACE is a pure size computation.
        let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
        hdr.msg_control = cmsg_buf.as_mut_ptr().cast();
        hdr.msg_controllen = space;
        // SAFETY: msg_control points at a buffer of at least `space` bytes (64 ≥ CMSG_SPACE of
        // 4 fds), so CMSG_FIRSTHDR is non-null and the header and data fit inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as usize;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                fds.len(),
            );
        }
    }
    loop {
        // SAFETY: hdr is fully initialised above and its buffers are alive.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err.into());
        }
    }
}

/// Receives one frame and the fds attached to it (close-on-exec). `Err(Closed)` at end of stream.
/// A non-blocking socket with nothing to read gives `Io(WouldBlock)`.
pub fn recv<T: DeserializeOwned>(sock: &impl AsRawFd) -> Result<(T, Vec<OwnedFd>), ProtoError> {
    let mut body = vec![0u8; MAX_FRAME];
    let mut iov = libc::iovec {
        iov_base: body.as_mut_ptr().cast(),
        iov_len: body.len(),
    };
    let mut cmsg_buf = [0u64; 8];
    // SAFETY: as in `send`: a zeroed header, then pointers to live local buffers.
    let mut hdr: libc::msghdr = unsafe { zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = cmsg_buf.as_mut_ptr().cast();
    hdr.msg_controllen = size_of::<[u64; 8]>();
    let n = loop {
        // SAFETY: hdr's buffers are alive and sized as declared.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut hdr, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err.into());
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled msg_control up to msg_controllen; CMSG_FIRSTHDR/NXTHDR walk only
    // within it, and SCM_RIGHTS payloads are arrays of fds now owned by this process.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count =
                    ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&hdr, cmsg);
        }
    }
    if n == 0 {
        return Err(ProtoError::Closed);
    }
    if hdr.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0 {
        return Err(ProtoError::TooLarge);
    }
    let msg = serde_json::from_slice(&body[..n])?;
    Ok((msg, fds))
}
