use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use super::*;

fn seqpacket_pair() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into the array on success.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0);
    // SAFETY: both fds were just created and are owned by nobody else.
    #[allow(unsafe_code)]
    unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

#[test]
fn frames_round_trip_with_their_boundaries() {
    let (a, b) = seqpacket_pair();
    send(&a, &AgentMsg::Waiting, &[]).expect("send");
    send(
        &a,
        &AgentMsg::RuntimeExited {
            code: Some(1),
            signal: None,
        },
        &[],
    )
    .expect("send");
    let (m1, _): (AgentMsg, _) = recv(&b).expect("recv");
    let (m2, _): (AgentMsg, _) = recv(&b).expect("recv");
    assert_eq!(m1, AgentMsg::Waiting);
    assert_eq!(
        m2,
        AgentMsg::RuntimeExited {
            code: Some(1),
            signal: None
        }
    );
}

#[test]
fn a_passed_descriptor_reaches_the_peer_working() {
    let (a, b) = seqpacket_pair();
    let (mut mine, theirs) = UnixStream::pair().expect("pair");
    send(&a, &AgentMsg::RuntimeApiConnection, &[theirs.as_raw_fd()]).expect("send");
    drop(theirs);
    let (msg, mut fds): (AgentMsg, _) = recv(&b).expect("recv");
    assert_eq!(msg, AgentMsg::RuntimeApiConnection);
    assert_eq!(fds.len(), 1);
    let mut received = UnixStream::from(fds.remove(0));
    mine.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    received.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
}

#[test]
fn end_of_stream_and_garbage_are_errors_not_panics() {
    let (a, b) = seqpacket_pair();
    // SAFETY: writing raw bytes to a valid socket.
    #[allow(unsafe_code)]
    let n = unsafe { libc::send(a.as_raw_fd(), b"{not json".as_ptr().cast(), 9, 0) };
    assert_eq!(n, 9);
    assert!(matches!(recv::<HostMsg>(&b), Err(ProtoError::Json(_))));
    drop(a);
    assert!(matches!(recv::<HostMsg>(&b), Err(ProtoError::Closed)));
}
