//! Shows why the typed variant marks its buffer `#[serde(with = "serde_bytes")]`:
//! without it serde encodes a `Vec<u8>` element by element.
//!
//! `cargo run --release -p transport-ipc-channel --example serde_bytes_cost`
//!
//! Times one message from `send` until the receiving thread holds it decoded,
//! through an in-process `IpcSender<T>` (ipc-channel's encode, the socket and
//! the decode), best of 50, for the seed's largest message.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ipc_channel::ipc;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Serialize, Deserialize)]
struct WithSerdeBytes {
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct PlainVec {
    data: Vec<u8>,
}

fn best_round<T>(make: impl Fn() -> T) -> Duration
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    let (tx, rx) = ipc::channel::<T>().expect("channel");
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let rounds = 50;
    let reader = thread::spawn(move || {
        for _ in 0..rounds {
            rx.recv().expect("recv");
            ack_tx.send(()).expect("ack");
        }
    });
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let msg = make();
        let t = Instant::now();
        tx.send(msg).expect("send");
        ack_rx.recv().expect("ack");
        best = best.min(t.elapsed());
    }
    reader.join().expect("reader");
    best
}

fn main() {
    let len = 409_600;
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let a = best_round(|| WithSerdeBytes {
        data: payload.clone(),
    });
    let b = best_round(|| PlainVec {
        data: payload.clone(),
    });
    println!("{len} bytes, fastest send-to-decoded of 50:");
    println!("  #[serde(with = \"serde_bytes\")]: {a:?}");
    println!(
        "  plain Vec<u8>:                 {b:?}  ({:.0}x)",
        b.as_secs_f64() / a.as_secs_f64()
    );
}
