//! Unit tests of the UDP backend's endpoint, window and flow control.

use super::*;
use std::time::Duration;
use transport::{Listener, Receiver, Sender, Transport};

#[test]
fn endpoints_parse_and_garbage_is_refused() {
    let token = "0123456789abcdef0123456789abcdef";
    let ep = Endpoint(format!("udp:9:127.0.0.1:4000#{token}"));
    let (pid, port, t) = parse(&ep).expect("valid");
    assert_eq!(
        (pid, port, t.map(|t| t.to_vec())),
        (9, 4000, Some(token.as_bytes().to_vec()))
    );
    assert_eq!(
        parse(&Endpoint(ep.public().to_owned())).expect("public").2,
        None
    );
    for bad in [
        "udp:9:127.0.0.1:0",
        "udp:0:127.0.0.1:1",
        "udp:9:10.0.0.1:1",
        "udp:9:127.0.0.1:1#short",
        "tcp:1",
        "",
    ] {
        assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
    }
}

#[test]
fn the_window_holds_two_of_the_largest_datagrams_and_charges_err_high() {
    assert!(window(RCVBUF) >= 2 * halves::charge(MAX));
    assert!(window(1 << 30) <= 1 << 30);
    for len in [0, 1, 100, 4096, 16_000, MAX] {
        assert!(
            halves::charge(len) as usize >= len + halves::HEADER + 256,
            "{len}"
        );
    }
}

/// A burst far larger than any socket buffer arrives whole and in order:
/// the credits hold the sender back instead of the kernel dropping.
#[test]
fn a_burst_larger_than_the_buffer_loses_nothing() {
    let (mut l, ep) = Udp::listen(&Options::unique("udpunit")).expect("listen");
    l.expect_peer(std::process::id());
    let (mut ctx, _crx) = Udp::connect(&ep, &Options::unique("udpunit")).expect("connect");
    let (_ltx, mut lrx) = l
        .accept(Instant::now() + Duration::from_secs(5))
        .expect("accept");
    const N: u32 = 600;
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            let mut m = vec![(i % 251) as u8; MAX];
            m[..4].copy_from_slice(&i.to_le_bytes());
            ctx.send(&m).expect("send");
        }
        ctx
    });
    for i in 0..N {
        let m = lrx.recv().expect("recv");
        assert_eq!((m.len(), &m[..4]), (MAX, &i.to_le_bytes()[..]));
    }
    drop(sender.join().expect("sender"));
    assert!(matches!(
        lrx.recv(),
        Err(transport::RecvError::Disconnected)
    ));
}
