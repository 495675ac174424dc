//! Probes, on this machine, where ipc-channel stops sending a message as one
//! packet and how much it lets a sender run ahead of a receiver that is not
//! reading: the figures quoted in the crate documentation.
//!
//! `cargo run --release -p transport-ipc-channel --example threshold`
//!
//! Sends happen on a helper thread; a send that has not returned after
//! [`STUCK`] counts as blocked, and the receiver then drains the channel so
//! the thread can finish. The same kernel mechanics apply across processes.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcSharedMemory};
use transport_ipc_channel::single_packet_limit;

/// A send still running after this long is waiting for the receiver.
const STUCK: Duration = Duration::from_millis(300);

/// Sends `count` messages of `len` bytes with nobody reading; returns how many
/// were accepted before a send blocked (or `count`).
fn accepted_without_reader(len: usize, count: usize) -> usize {
    let (tx, rx): (IpcBytesSender, IpcBytesReceiver) = ipc::bytes_channel().expect("bytes_channel");
    let msg = vec![0xA5u8; len];
    count_until_blocked(
        count,
        move || tx.send(&msg).expect("send"),
        move || rx.recv().is_ok(),
    )
}

/// The same for the shmem variant: a fresh shared-memory region per message.
fn shmem_accepted_without_reader(len: usize, count: usize) -> usize {
    let (tx, rx) = ipc::channel::<IpcSharedMemory>().expect("channel");
    let msg = vec![0xA5u8; len];
    count_until_blocked(
        count,
        move || tx.send(IpcSharedMemory::from_bytes(&msg)).expect("send"),
        move || rx.recv().is_ok(),
    )
}

/// Runs `send` `count` times on a helper thread until it blocks, then drains
/// with `recv` so the helper can finish.
fn count_until_blocked(
    count: usize,
    mut send: impl FnMut() + Send + 'static,
    mut recv: impl FnMut() -> bool,
) -> usize {
    let (progress_tx, progress_rx) = mpsc::channel::<usize>();
    let sender = thread::spawn(move || {
        for i in 0..count {
            send();
            let _ = progress_tx.send(i + 1);
        }
    });
    let mut done = 0;
    while let Ok(n) = progress_rx.recv_timeout(STUCK) {
        done = n;
    }
    for _ in 0..count {
        if !recv() {
            break;
        }
    }
    sender.join().expect("sender thread");
    done
}

/// How long one send of `len` bytes takes while the receiver reads it at once.
fn send_time(len: usize) -> Duration {
    let (tx, rx) = ipc::bytes_channel().expect("bytes_channel");
    let reader = thread::spawn(move || {
        for _ in 0..20 {
            rx.recv().expect("recv");
        }
    });
    let msg = vec![1u8; len];
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        tx.send(&msg).expect("send");
        best = best.min(t.elapsed());
    }
    reader.join().expect("reader thread");
    best
}

/// Drops the receiver while a send of `len` bytes waits for it; returns what
/// the send did within `patience` (`None`: still blocked, left behind).
fn send_to_receiver_that_dies(len: usize, patience: Duration) -> Option<String> {
    let (tx, rx) = ipc::bytes_channel().expect("bytes_channel");
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let res = tx.send(&vec![7u8; len]);
        let _ = done_tx.send(format!("{res:?}"));
    });
    thread::sleep(STUCK);
    drop(rx);
    done_rx.recv_timeout(patience).ok()
}

fn main() {
    let limit = single_packet_limit();
    let wmem = std::fs::read_to_string("/proc/sys/net/core/wmem_default").unwrap_or_default();
    println!("net.core.wmem_default (SO_SNDBUF default): {}", wmem.trim());
    println!("ipc-channel single-packet limit: {limit} bytes");
    println!();
    println!("one message, nobody reading: does send return?");
    // A fragmented message's first fragment goes on the channel, the rest on
    // the dedicated socket pair, whose buffer takes one more (16 bytes larger,
    // as it carries no header) before the sender must wait for the reader.
    let two_fragments = 2 * limit + 16;
    for len in [limit, limit + 1, two_fragments, two_fragments + 1, 1 << 20] {
        let ok = accepted_without_reader(len, 1) == 1;
        println!(
            "  {len:>9} bytes: {}",
            if ok { "returns" } else { "blocks" }
        );
    }
    println!();
    println!("back-to-back messages, nobody reading: how many are accepted?");
    for len in [8, 64, 800, 6_400, 51_200, 102_400, 204_800, limit] {
        let n = accepted_without_reader(len, 4000);
        println!("  {len:>9} bytes: {n:>5} messages ({} bytes)", n * len);
    }
    println!(
        "  shmem variant, 8-byte messages: {:>5}",
        shmem_accepted_without_reader(8, 4000)
    );
    println!();
    println!("fastest of 20 sends with a reader draining at once:");
    for len in [
        8,
        51_200,
        204_800,
        limit,
        limit + 1,
        409_600,
        1 << 20,
        4 << 20,
    ] {
        println!("  {len:>9} bytes: {:?}", send_time(len));
    }
    println!();
    println!("receiver dropped while a send waits for it:");
    for len in [1 << 20, 16 << 20] {
        let outcome = send_to_receiver_that_dies(len, Duration::from_secs(2));
        println!(
            "  {len:>9} bytes: {}",
            outcome.unwrap_or_else(|| "still blocked after 2 s (the thread is abandoned)".into())
        );
    }
}
