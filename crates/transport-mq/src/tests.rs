//! Unit tests of the mq backend's set-up records and endpoint.

use super::*;
use transport::{Listener, Receiver, Sender, Transport};

#[test]
fn hellos_round_trip_and_foreign_records_are_not_hellos() {
    let base = format!("/{PREFIX}1-conf-x-0");
    let rec = Hello::encode(42, &[b'a'; TOKEN_LEN], &base);
    let h = Hello::parse(&rec).expect("a hello");
    assert_eq!(
        (h.pid, h.token, h.base),
        (42, &[b'a'; TOKEN_LEN][..], base.as_str())
    );
    assert!(Hello::parse(b"HELO").is_none());
    assert!(Hello::parse(&Hello::encode(1, &[b'a'; TOKEN_LEN], "/other-q")).is_none());
    assert!(
        Hello::parse(&Hello::encode(
            1,
            &[b'a'; TOKEN_LEN],
            &format!("/{PREFIX}1 x")
        ))
        .is_none()
    );
}

#[test]
fn endpoints_parse_and_garbage_is_refused() {
    let token = "0123456789abcdef0123456789abcdef";
    let door = format!("/{PREFIX}7-t-door");
    let ep = Endpoint(format!("mq:7:{door}#{token}"));
    assert_eq!(parse(&ep).expect("valid"), (7, door.as_str(), Some(token)));
    let public = Endpoint(ep.public().to_owned());
    assert_eq!(parse(&public).expect("public").2, None);
    for bad in [
        "mq:0:/ipcbench-mq-1",
        "mq:7:/etc",
        "mq:7",
        "tcp:1",
        "mq:x:/ipcbench-mq-1",
        "mq:7:/ipcbench-mq-1#short",
    ] {
        assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
    }
}

#[test]
fn capabilities_fit_the_user_quota() {
    let caps = Mq::capabilities();
    let l = Limits::read();
    assert!(caps.max_concurrent >= 1);
    if l.rlimit_bytes < u64::MAX / 2 {
        assert!(
            caps.max_concurrent as u64 * connection_charge()
                <= l.rlimit_bytes.max(connection_charge())
        );
    }
}

/// Within one process: messages around the record size keep their
/// boundaries, a full queue holds the sender back without loss, and the
/// names are gone once connected.
#[test]
fn records_reassemble_and_names_are_removed() {
    let (mut l, ep) = Mq::listen(&Options::unique("mqreasm")).expect("listen");
    assert!(l.expect_peer(std::process::id()));
    let (mut ctx, mut crx) = Mq::connect(&ep, &Options::unique("mqreasm")).expect("connect");
    let (mut ltx, mut lrx) = l
        .accept(Instant::now() + Duration::from_secs(5))
        .expect("accept");
    let (_, size) = shape();
    let sizes = [
        0,
        1,
        size - HEADER - 1,
        size - HEADER,
        size - HEADER + 1,
        size,
        3 * size + 5,
    ];
    let sender = std::thread::spawn(move || {
        for (i, &n) in sizes.iter().enumerate() {
            ctx.send(&vec![i as u8; n]).expect("send");
        }
        ctx
    });
    for (i, &n) in sizes.iter().enumerate() {
        assert_eq!(lrx.recv().expect("recv"), vec![i as u8; n].as_slice());
    }
    let ctx = sender.join().expect("sender");
    ltx.send(b"back").expect("send back");
    assert_eq!(crx.recv().expect("welcome, then the message"), b"back");
    let left: Vec<String> = mqueue_names::list()
        .expect("list")
        .into_iter()
        .filter(|n| n.contains("mqreasm"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    drop(ctx);
    assert!(matches!(
        lrx.recv(),
        Err(transport::RecvError::Disconnected)
    ));
    assert!(matches!(
        ltx.send(b"x"),
        Err(transport::SendError::Disconnected)
    ));
}

#[test]
fn a_connector_without_the_token_is_refused_and_named() {
    let (mut l, ep) = Mq::listen(&Options::unique("mqunit")).expect("listen");
    l.expect_peer(std::process::id());
    let public = Endpoint(ep.public().to_owned());
    let (_tx, mut rx) = Mq::connect(&public, &Options::unique("mqunit")).expect("connect");
    let err = l
        .accept(Instant::now() + Duration::from_millis(300))
        .expect_err("refused");
    let why = err.to_string();
    assert!(
        why.contains(&format!("pid {}", std::process::id())) && why.contains("token"),
        "{why}"
    );
    let refused = rx.recv().expect_err("refused");
    assert!(refused.to_string().contains("refused"), "{refused}");
}

/// Many large messages in flight at once (a stream), not one at a time.
#[test]
fn a_stream_of_large_messages_arrives_whole() {
    let (l, ep) = Mq::listen(&Options::unique("mqstream")).expect("listen");
    let (mut ctx, _crx) = Mq::connect(&ep, &Options::unique("mqstream")).expect("connect");
    let (_ltx, mut lrx) = l
        .accept(Instant::now() + Duration::from_secs(5))
        .expect("accept");
    let sender = std::thread::spawn(move || {
        for i in 0..200u32 {
            let mut m = vec![(i % 251) as u8; 409_600];
            m[..4].copy_from_slice(&i.to_le_bytes());
            ctx.send(&m).expect("send");
        }
        ctx
    });
    for i in 0..200u32 {
        let m = lrx.recv().expect("recv");
        assert_eq!(m.len(), 409_600);
        assert_eq!(&m[..4], &i.to_le_bytes());
        assert!(m[4..].iter().all(|&b| b == (i % 251) as u8), "message {i}");
    }
    drop(sender.join().expect("sender"));
}
