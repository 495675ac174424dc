//! Rough round-trip figures for the iceoryx2 backends: two processes pinned
//! to cores 0 and 1, ping-pong of 8 B and 409.6 KB messages, medians printed.
//! Not a test (timings on a shared machine are noise-prone); run with
//! `cargo run --release -p transport-iceoryx2 --example iox2_pingpong [block]`.

use std::process::Command;
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, Options, Receiver, Sender, Transport};
use transport_iceoryx2::{Iceoryx2, Iceoryx2Block};

const ENV_ENDPOINT: &str = "IOX2_PINGPONG_ENDPOINT";
const SIZES: [(usize, usize); 2] = [(8, 20_000), (409_600, 2_000)];

fn pin(core: usize) {
    // Not via get_core_ids(): it lists only the cores of the current mask,
    // and the child inherits the parent's single-core mask.
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        eprintln!("could not pin to core {core}");
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("block") {
        run::<Iceoryx2Block>();
    } else {
        run::<Iceoryx2>();
    }
}

fn run<T: Transport>() {
    if let Ok(ep) = std::env::var(ENV_ENDPOINT) {
        pin(1);
        let opts = Options {
            expected_max_message: 409_600,
            ..Options::unique("pingpong-peer")
        };
        let (mut tx, mut rx) = T::connect(&Endpoint(ep), &opts).expect("connect");
        while let Ok(m) = rx.recv() {
            tx.send(m).expect("echo");
        }
        return;
    }
    pin(0);
    let opts = Options {
        expected_max_message: 409_600,
        ..Options::unique("pingpong")
    };
    let t0 = Instant::now();
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    let t_listen = t0.elapsed();
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(std::env::args().skip(1))
        .env(ENV_ENDPOINT, &endpoint.0)
        .spawn()
        .expect("spawn peer");
    let t1 = Instant::now();
    let (mut tx, mut rx) = listener
        .accept(Instant::now() + Duration::from_secs(30))
        .expect("accept");
    println!(
        "{}: listen {:?}, accept (incl. peer exec + connect) {:?}",
        T::NAME,
        t_listen,
        t1.elapsed()
    );
    for (size, iters) in SIZES {
        let msg: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        let mut rtts = Vec::with_capacity(iters);
        // A time budget keeps a run on a contended machine short.
        let budget = Instant::now() + Duration::from_secs(10);
        for i in 0..iters + iters / 10 {
            if Instant::now() > budget && rtts.len() >= 10 {
                break;
            }
            let start = Instant::now();
            tx.send(&msg).expect("send");
            let got = rx.recv().expect("recv");
            let rtt = start.elapsed();
            assert_eq!(got.len(), size);
            assert_eq!(got.last(), msg.last());
            if i >= iters / 10 {
                rtts.push(rtt);
            }
        }
        rtts.sort();
        let q = |p: f64| rtts[((rtts.len() - 1) as f64 * p) as usize];
        println!(
            "{size:>7} B: median RTT {:?}  p10 {:?}  p90 {:?}  p99 {:?}  ({} round trips)",
            q(0.5),
            q(0.1),
            q(0.9),
            q(0.99),
            rtts.len()
        );
    }
    drop((tx, rx));
    let _ = child.wait();
}
