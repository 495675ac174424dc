//! One side's sender and receiver used from two threads at once: on the
//! current-thread runtime the two `block_on` calls share one reactor, which
//! must neither deadlock nor lose a wake-up.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, Sender, Transport};

const N: u64 = 20_000;

fn echo_while_both_halves_busy<T: Transport>() {
    let (listener, endpoint) = T::listen(&Options::unique("threads")).expect("listen");
    let echo = thread::spawn(move || {
        let (mut tx, mut rx) = T::connect(&endpoint, &Options::unique("peer")).expect("connect");
        while let Ok(msg) = rx.recv() {
            let msg = msg.to_vec();
            if tx.send(&msg).is_err() {
                break;
            }
        }
    });
    let (mut tx, mut rx) = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    let (done_tx, done_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        for seq in 0..N {
            let got = rx.recv().expect("recv");
            assert_eq!(got, seq.to_le_bytes().repeat(1 + (seq % 64) as usize));
        }
        let _ = done_tx.send(());
    });
    let writer = thread::spawn(move || {
        for seq in 0..N {
            tx.send(&seq.to_le_bytes().repeat(1 + (seq % 64) as usize))
                .expect("send");
        }
        tx
    });
    // A watchdog, not a timing assertion: a lost wake-up shows as a hang.
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no progress within 60 s: lost wake-up or deadlock");
    reader.join().expect("reader");
    drop(writer.join().expect("writer"));
    echo.join().expect("echo");
}

#[test]
fn tokio_uds_current_thread() {
    echo_while_both_halves_busy::<transport_tokio::TokioUds>();
}

#[test]
fn tokio_pipe_current_thread() {
    echo_while_both_halves_busy::<transport_tokio::TokioPipe>();
}

#[test]
fn tokio_uds_multi_thread() {
    echo_while_both_halves_busy::<transport_tokio::TokioUdsMt>();
}
