//! An intruder on the machine cannot join a run: a thread that watches
//! /proc/net/unix and connects to every new `@ipcbench-*` listener the moment
//! it appears (the attack described in issue 14) is refused by the
//! consumer's listener, which admits only the producer the supervisor
//! started, and the run completes with verified results.

mod support;

use std::collections::HashSet;
use std::io::Read;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use support::*;

/// Abstract stream-socket names in /proc/net/unix that a run listens on.
fn listening_names() -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|n| n.starts_with("@ipcbench-"))
        .map(|n| n[1..].to_owned())
        .collect()
}

#[test]
fn an_intruder_connecting_first_is_refused_and_the_run_completes() {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let intruder = thread::spawn(move || {
        let mut seen = HashSet::new();
        let mut held = Vec::new();
        while !flag.load(Ordering::SeqCst) {
            for name in listening_names() {
                if seen.insert(name.clone())
                    && let Ok(addr) = SocketAddr::from_abstract_name(name.as_bytes())
                    && let Ok(s) = UnixStream::connect_addr(&addr)
                {
                    held.push((name, s));
                }
            }
            thread::sleep(Duration::from_micros(200));
        }
        // Every connection the intruder got must have been closed on it
        // without a byte of the run's data.
        for (name, s) in &mut held {
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("read timeout");
            let mut buf = [0u8; 64];
            match s.read(&mut buf) {
                Ok(0) => {}
                // A connection still waiting in the backlog when the
                // listener closes is reset, not ended: refused all the same,
                // and without a byte.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Ok(n) => panic!("the intruder read {n} bytes from @{name}"),
                Err(e) => panic!("the intruder's connection to @{name} stayed open: {e}"),
            }
        }
        held.len()
    });
    let out = ipcbench()
        .args([
            "run",
            "--transport",
            "uds,tokio-uds,interprocess",
            "--workload",
            "pingpong",
            "--sizes",
            "8B,4KiB",
            "--messages",
            "200",
            "--trials",
            "3",
            "--warmup-ms",
            "0",
            "--no-floors",
            "--quiet",
        ])
        .output()
        .expect("start ipcbench");
    stop.store(true, Ordering::SeqCst);
    let connected = intruder.join().expect("intruder thread");
    assert!(
        out.status.success(),
        "the run failed with an intruder about: {}",
        stderr(&out)
    );
    assert!(
        connected > 0,
        "the intruder never got a connection in, so the test proved nothing"
    );
}
