//! Processes SIGKILLed mid-put, mid-get and at random instants: the others go
//! on, at most the records the dead held are lost, and the loss is counted.
//! The child processes are this test binary re-executed with a role.

use std::io::{BufRead, BufReader};
use std::process::ChildStdout;
use std::time::{Duration, Instant};

use conformance::process::PeerGuard;
use shm_queue::{Error, Queue};

const ROLE: &str = "SHM_QUEUE_TEST_ROLE";
const NAME: &str = "SHM_QUEUE_TEST_NAME";
const T: Option<Duration> = Some(Duration::from_secs(20));

/// A record that carries its own check: id, then bytes derived from it.
fn record(id: u64) -> Vec<u8> {
    let len = 8 + (id as usize * 7919) % 3000;
    let mut v = id.to_le_bytes().to_vec();
    v.extend((8..len).map(|i| (id as usize).wrapping_mul(31).wrapping_add(i) as u8));
    v
}

fn check(rec: &[u8]) -> u64 {
    let id = u64::from_le_bytes(rec[..8].try_into().expect("8-byte id"));
    assert_eq!(rec, record(id).as_slice(), "record {id} corrupted");
    id
}

/// Runs the child side when this binary was started with a role.
fn child_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let q = Queue::open(&std::env::var(NAME).expect("name")).expect("open");
    match role.as_str() {
        "stall-in-put" => {
            q.put_with(100, T, |buf| {
                buf[..50].fill(1);
                println!("inside");
                std::thread::sleep(Duration::from_secs(60));
            })
            .expect("put");
        }
        "stall-in-get" => {
            q.get_with(T, |_| {
                println!("inside");
                std::thread::sleep(Duration::from_secs(60));
            })
            .expect("get");
        }
        "producer" => {
            println!("started");
            let base: u64 = std::process::id().into();
            for i in 0.. {
                q.put(&record((base << 32) | i), T).expect("put");
            }
        }
        "consumer" => {
            println!("started");
            loop {
                let _ = q.get_with(T, check).expect("get");
            }
        }
        other => panic!("unknown role {other}"),
    }
    true
}

/// This test binary re-executed as the child playing `role` (killed and
/// reaped when the guard drops), and its stdout.
fn spawn(test: &str, role: &str, q: &Queue) -> (PeerGuard, BufReader<ChildStdout>) {
    let mut cmd = conformance::process::self_command(module_path!(), test);
    cmd.env(ROLE, role).env(NAME, q.name());
    let mut child = conformance::process::spawn(&mut cmd);
    let out = BufReader::new(child.child.stdout.take().expect("stdout"));
    (child, out)
}

/// Waits until the child prints `word` (libtest may prefix the line).
fn wait_for(out: &mut BufReader<ChildStdout>, word: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).expect("read child stdout");
        assert!(n > 0, "child exited before printing {word:?}");
        if line.contains(word) {
            return;
        }
    }
}

/// SIGKILL, and wait until it is dead (a zombie: not reaped).
fn kill(child: &PeerGuard) {
    conformance::process::kill_peer(child.child.id());
}

#[test]
fn producer_killed_mid_put() {
    if child_role() {
        return;
    }
    let q = Queue::create_unique(4, 256).expect("create");
    let (mut child, mut out) = spawn("producer_killed_mid_put", "stall-in-put", &q);
    wait_for(&mut out, "inside");
    q.put(b"after", T).expect("put after the claim");
    kill(&child);
    // Not reaped yet: a zombie still counts as dead.
    assert_eq!(q.get(T).expect("get skips the dead claim"), b"after");
    assert_eq!(q.lost(), 1);
    child.child.wait().expect("reap");
    for i in 0..10u8 {
        q.put(&[i], T).expect("put");
        assert_eq!(q.get(T).expect("get"), [i]);
    }
    assert_eq!(q.lost(), 1);
}

#[test]
fn consumer_killed_mid_get() {
    if child_role() {
        return;
    }
    let q = Queue::create_unique(2, 256).expect("create");
    q.put(b"held", T).expect("put");
    let (mut child, mut out) = spawn("consumer_killed_mid_get", "stall-in-get", &q);
    wait_for(&mut out, "inside");
    q.put(b"second", T).expect("put");
    kill(&child);
    // Both slots taken (one by the dead reader): a blocking put must reclaim.
    q.put(b"third", T)
        .expect("put reclaims the dead reader's slot");
    assert_eq!(q.lost(), 1);
    assert_eq!(q.get(T).expect("get"), b"second");
    assert_eq!(q.get(T).expect("get"), b"third");
    assert!(matches!(q.get(Some(Duration::ZERO)), Err(Error::Empty)));
    child.child.wait().expect("reap");
}

#[test]
fn random_kills_never_corrupt_the_queue() {
    if child_role() {
        return;
    }
    let q = Queue::create_unique(8, 4096).expect("create");
    let start = Instant::now();
    let mut rounds = 0u64;
    while rounds < 12 || start.elapsed() < Duration::from_secs(2) {
        let mut kids: Vec<_> = ["producer", "producer", "consumer", "consumer"]
            .into_iter()
            .map(|role| spawn("random_kills_never_corrupt_the_queue", role, &q))
            .collect();
        for (_, out) in &mut kids {
            wait_for(out, "started");
        }
        std::thread::sleep(Duration::from_micros(500 + rounds * 997 % 20_000));
        for (child, _) in &mut kids {
            kill(child);
        }
        for (child, _) in &mut kids {
            child.child.wait().expect("reap");
        }
        rounds += 1;
    }
    // Every record left is whole, and the queue still works end to end.
    q.reclaim_dead();
    while let Ok(id) = q.get_with(Some(Duration::ZERO), check) {
        let _ = id;
    }
    for i in 0..100 {
        q.put(&record(i), T).expect("put after the storm");
        assert_eq!(q.get_with(T, check).expect("get after the storm"), i);
    }
    eprintln!(
        "{rounds} rounds of kills, {} records lost to them",
        q.lost()
    );
}

#[test]
fn nothing_left_in_dev_shm() {
    if child_role() {
        return;
    }
    let q = Queue::create_unique(2, 64).expect("create");
    let name = [q.name().to_owned()];
    assert_eq!(conformance::hygiene::leftovers(&name).len(), 1);
    let other = Queue::open(q.name()).expect("open");
    drop(q);
    let left = conformance::hygiene::leftovers(&name);
    assert!(left.is_empty(), "left behind: {left:?}");
    // Open handles keep working after the name is gone.
    other.put(b"x", T).expect("put");
    assert_eq!(other.get(T).expect("get"), b"x");
}
