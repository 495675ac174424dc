//! A connection removes everything it created in /dev/shm and /tmp, and its
//! halves work from threads other than the one that made them.

use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, Sender, Transport};
use transport_iceoryx2::{Iceoryx2, Iceoryx2Block};

/// Names in /dev/shm and /tmp that belong to the domain in `endpoint`.
fn leftovers(endpoint: &str) -> Vec<String> {
    let domain = endpoint.split(':').nth(2).expect("domain in endpoint");
    let mut found = Vec::new();
    for dir in ["/dev/shm", "/tmp"] {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(domain) {
                found.push(format!("{dir}/{name}"));
            }
        }
    }
    found
}

#[test]
fn nothing_left_after_both_sides_drop() {
    round_trips_then_nothing_left::<Iceoryx2>();
}

#[test]
fn nothing_left_after_both_sides_drop_block() {
    round_trips_then_nothing_left::<Iceoryx2Block>();
}

fn round_trips_then_nothing_left<T: Transport>() {
    let mut opts = Options::unique("iox2-leftovers");
    opts.expected_max_message = 4096;
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    assert!(
        !leftovers(&endpoint.0).is_empty(),
        "the domain should exist while listening"
    );
    let ep = endpoint.clone();
    let o = opts.clone();
    // The connector's halves are created on one thread and used on another.
    let connector = std::thread::spawn(move || T::connect(&ep, &o).expect("connect"));
    let (mut ltx, mut lrx) = listener
        .accept(Instant::now() + Duration::from_secs(20))
        .expect("accept");
    let (tx, rx) = connector.join().expect("connect thread");
    let echo = std::thread::spawn(move || {
        let (mut tx, mut rx) = (tx, rx);
        while let Ok(m) = rx.recv() {
            tx.send(m).expect("echo");
        }
    });
    // Larger than expected_max_message: the publisher grows its segment.
    for len in [0, 1, 100, 4096, 100_000, 3 << 20] {
        let msg = vec![len as u8; len];
        ltx.send(&msg).expect("send");
        assert_eq!(lrx.recv().expect("recv"), &msg[..]);
    }
    drop((ltx, lrx));
    echo.join().expect("echo thread");
    let left = leftovers(&endpoint.0);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn failed_accept_leaves_nothing() {
    let (listener, endpoint) = Iceoryx2::listen(&Options::unique("iox2-timeout")).expect("listen");
    let res = listener.accept(Instant::now() + Duration::from_millis(50));
    assert!(matches!(res, Err(transport::OpenError::Timeout)));
    let left = leftovers(&endpoint.0);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn nothing_left_after_a_broadcast() {
    broadcast_then_nothing_left::<Iceoryx2>();
    broadcast_then_nothing_left::<Iceoryx2Block>();
}

/// A publisher and two subscribers (threads of this process) exchange a
/// few messages and drop: nothing of the domain is left.
fn broadcast_then_nothing_left<T: Transport>() {
    use transport::{BroadcastListener, Publisher};
    let mut opts = Options::unique("iox2-bcast-leftovers");
    opts.expected_max_message = 4096;
    let (listener, endpoint) = T::listen_broadcast(&opts, 2).expect("listen_broadcast");
    assert!(
        !leftovers(&endpoint.0).is_empty(),
        "the domain should exist while listening"
    );
    let subs: Vec<_> = (0..2)
        .map(|_| {
            let (ep, o) = (endpoint.clone(), opts.clone());
            std::thread::spawn(move || {
                let mut rx = T::subscribe(&ep, &o).expect("subscribe");
                let mut got = Vec::new();
                while let Ok(m) = rx.recv() {
                    got.push(m.to_vec());
                }
                got
            })
        })
        .collect();
    let mut publisher = listener
        .accept(Instant::now() + Duration::from_secs(20))
        .expect("accept");
    let sent: Vec<Vec<u8>> = [0usize, 1, 100, 4096]
        .iter()
        .map(|&len| vec![len as u8; len])
        .collect();
    for m in &sent {
        publisher.publish(m).expect("publish");
    }
    drop(publisher);
    for s in subs {
        assert_eq!(s.join().expect("subscriber thread"), sent);
    }
    assert_eq!(leftovers(&endpoint.0), Vec::<String>::new());
}
