//! The shm ring's broadcast beyond the conformance cases: in one process, a
//! message larger than one record is refused naming both sizes and nothing
//! reaches a subscriber, group sizes outside 1..=32 and endpoints of the
//! other shape are refused by name; across processes, a publisher killed
//! with SIGKILL ends every subscriber's `recv` in Disconnected after what it
//! published.

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use transport::{
    BroadcastListener, Endpoint, OpenError, Options, PublishError, Publisher, Receiver, RecvError,
    Transport,
};
use transport_shm::{ShmAdaptive, ShmBlock, ring_size_for};

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn too_large_is_refused_by_name_and_reaches_nobody() {
    let mut opts = Options::unique("shm-bcast-large");
    opts.expected_max_message = 4096;
    let (listener, endpoint) = ShmBlock::listen_broadcast(&opts, 2).expect("listen_broadcast");
    let mut a = ShmBlock::subscribe(&endpoint, &opts).expect("subscribe a");
    let mut b = ShmBlock::subscribe(&endpoint, &opts).expect("subscribe b");
    let mut publisher = listener.accept(Instant::now() + DEADLINE).expect("accept");
    assert_eq!(publisher.subscribers(), 2);
    // One record is at most half the ring (the ring is sized from the
    // expected size, so that size fits).
    let max = ring_size_for(opts.expected_max_message) / 2 - 16;
    let big = vec![7u8; max + 1];
    match publisher.publish(&big) {
        Err(PublishError::TooLarge { size, max: m }) => {
            assert_eq!((size, m), (max + 1, max));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let whole = vec![9u8; max];
    publisher.publish(&whole).expect("the largest message");
    publisher.publish(b"after").expect("a small one");
    for rx in [&mut a, &mut b] {
        assert_eq!(rx.recv().expect("largest"), whole.as_slice());
        assert_eq!(rx.recv().expect("small"), b"after");
    }
    drop(publisher);
    for rx in [&mut a, &mut b] {
        assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    }
}

#[test]
fn group_sizes_and_foreign_endpoints_are_refused_by_name() {
    let opts = Options::unique("shm-bcast-bad");
    for n in [0, 33] {
        let Err(e) = ShmAdaptive::listen_broadcast(&opts, n) else {
            panic!("a group of {n} was accepted");
        };
        let text = e.to_string();
        assert!(
            text.contains(&format!("not {n}")) && text.contains("1 to 32"),
            "{text}"
        );
    }
    // A connection's endpoint is no broadcast, and the other way round.
    let (_listener, pair) = ShmAdaptive::listen(&opts).expect("listen");
    assert!(matches!(
        ShmAdaptive::subscribe(&pair, &opts),
        Err(OpenError::BadEndpoint(_))
    ));
    let (_bl, bcast) = ShmAdaptive::listen_broadcast(&opts, 1).expect("listen_broadcast");
    assert!(matches!(
        ShmAdaptive::connect(&bcast, &opts),
        Err(OpenError::BadEndpoint(_))
    ));
    // Another wait strategy's broadcast is refused too.
    assert!(ShmBlock::subscribe(&bcast, &opts).is_err());
}

const ENV_PUBLISHER: &str = "SHM_BCAST_TEST_PUBLISHER";
/// Messages the killed publisher publishes before it waits to be killed.
const PUBLISHED: u64 = 50;

/// The child: publishes to two subscribers (its parent's), then waits to
/// be killed.
fn publisher_process() {
    let opts = Options::unique("shm-bcast-killed");
    let (listener, endpoint) = ShmBlock::listen_broadcast(&opts, 2).expect("listen_broadcast");
    println!("ENDPOINT={}", endpoint.0);
    let _ = std::io::stdout().flush();
    let mut publisher = listener.accept(Instant::now() + DEADLINE).expect("accept");
    for seq in 0..PUBLISHED {
        publisher.publish(&seq.to_le_bytes()).expect("publish");
    }
    std::thread::sleep(DEADLINE);
}

#[test]
fn a_killed_publisher_ends_every_subscriber() {
    if std::env::var_os(ENV_PUBLISHER).is_some() {
        return publisher_process();
    }
    let mut cmd = conformance::process::self_command(
        module_path!(),
        "a_killed_publisher_ends_every_subscriber",
    );
    cmd.env(ENV_PUBLISHER, "1");
    let mut guard = conformance::process::spawn(&mut cmd);
    let out = guard.child.stdout.take().expect("stdout");
    let endpoint = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("ENDPOINT=").map(|(_, e)| e.to_owned()))
        .expect("the publisher's endpoint");
    let opts = Options::unique("shm-bcast-sub");
    let ep = Endpoint(endpoint);
    let mut subs: Vec<_> = (0..2)
        .map(|_| ShmBlock::subscribe(&ep, &opts).expect("subscribe"))
        .collect();
    for rx in &mut subs {
        for seq in 0..PUBLISHED {
            assert_eq!(rx.recv().expect("message"), seq.to_le_bytes());
        }
    }
    conformance::process::kill_peer(guard.child.id());
    for rx in &mut subs {
        assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    }
}
