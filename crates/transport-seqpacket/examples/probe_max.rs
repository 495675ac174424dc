//! Finds the largest record a Unix `SOCK_SEQPACKET` socket accepts on this
//! machine, for the default send buffer and for buffers raised with
//! `SO_SNDBUF`, and times one record against the same bytes in fragments.
//!
//! Run with `cargo run --release -p transport-seqpacket --example probe_max`.

use std::os::fd::OwnedFd;
use std::time::Instant;

use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, recv, send, socketpair, sockopt,
};

fn pair(sndbuf: Option<usize>) -> (OwnedFd, OwnedFd) {
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair");
    if let Some(n) = sndbuf {
        sockopt::set_socket_send_buffer_size(&a, n).expect("SO_SNDBUF");
        sockopt::set_socket_recv_buffer_size(&b, n).expect("SO_RCVBUF");
    }
    (a, b)
}

/// Whether one record of `len` bytes goes through (non-blocking, so a record
/// that could never fit reports an error instead of waiting).
fn fits(a: &OwnedFd, b: &OwnedFd, buf: &mut [u8], len: usize) -> Result<(), rustix::io::Errno> {
    send(a, &buf[..len], SendFlags::DONTWAIT | SendFlags::NOSIGNAL)?;
    let (_, n) = recv(b, &mut *buf, RecvFlags::TRUNC).expect("recv");
    assert_eq!(n, len);
    Ok(())
}

fn largest(sndbuf: Option<usize>) {
    let (a, b) = pair(sndbuf);
    let eff = sockopt::socket_send_buffer_size(&a).expect("get SO_SNDBUF");
    let mut buf = vec![7u8; 64 << 20];
    let (mut lo, mut hi) = (0usize, buf.len());
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        match fits(&a, &b, &mut buf, mid) {
            Ok(()) => lo = mid,
            Err(_) => hi = mid,
        }
    }
    let err = fits(&a, &b, &mut buf, lo + 1).err();
    println!(
        "SO_SNDBUF requested {sndbuf:?}, effective {eff}: largest record {lo} bytes (sndbuf - {}); one more: {err:?}",
        eff as i64 - lo as i64
    );
}

fn time_records(total: usize, frag: usize, sndbuf: usize) -> f64 {
    let (a, b) = pair(Some(sndbuf));
    let src = vec![3u8; total];
    let mut dst = vec![0u8; frag + 1];
    let iters = 200;
    let start = Instant::now();
    for _ in 0..iters {
        // Single thread: send what fits, drain, repeat.
        for chunk in src.chunks(frag) {
            send(&a, chunk, SendFlags::NOSIGNAL).expect("send");
            recv(&b, &mut dst[..], RecvFlags::empty()).expect("recv");
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
}

fn main() {
    for v in ["wmem_default", "wmem_max", "rmem_max"] {
        let s = std::fs::read_to_string(format!("/proc/sys/net/core/{v}")).unwrap_or_default();
        println!("net.core.{v} = {}", s.trim());
    }
    largest(None);
    for n in [212_992usize, 1 << 20, 4 << 20, 64 << 20] {
        largest(Some(n));
    }
    for total in [409_600usize, 1 << 20, 4 << 20] {
        for frag in [
            64 << 10,
            128 << 10,
            204_800,
            256 << 10,
            409_600,
            512 << 10,
            1 << 20,
            4 << 20,
        ] {
            if frag > total {
                continue;
            }
            let us = time_records(total, frag, 4 << 20);
            println!(
                "{total:>8} bytes in records of {frag:>8}: {us:>9.1} us (one thread, send+recv)"
            );
        }
    }
}
