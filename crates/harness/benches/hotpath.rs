//! Instructions per message on each backend's hot path, counted by callgrind
//! through gungraun: one `send` of a message and the matching `recv`, 8 B and
//! 64 KiB, over a real connection. Deterministic, so it guards the hot paths
//! on a machine where wall-clock time moves by 25x with the other core's load
//! (`.ci/instructions` compares the counts with `.ci/instructions-baseline`).
//!
//! gungraun counts the benchmark process only, so both ends live in this
//! process: the connection is set up (listener here, connector on a helper
//! thread, as two processes would) and warmed up outside the count, then the
//! counted function sends one message on the connector's sender and receives
//! it on the listener's receiver, in one thread. Both sides' user-space
//! instructions are counted, kernel work is not: an added system call shows
//! as the instructions of its wrapper and error handling (callgrind's own
//! system-call count was not stable here, 130 or 131 for the same pipe
//! message, so it is not used). Backends whose buffer cannot hold a whole 64 KiB message
//! (`pipe`, 64 KiB of pipe buffer; `tcp`, whose loopback send buffer starts
//! smaller) are counted at 8 B only: a single thread would block in `send`.
//! The shm variants' 8-byte round trip is counted too (`*_rtt_8b`: a
//! message there and its echo back, four calls): `shm-line` carries it in
//! its shared line, while its one-way 8-byte count is the ring path it takes
//! when the peer never replies (its line slot is then never acknowledged).
//! iceoryx2 is counted at 8 B only: at 64 KiB its count moves by 8
//! instructions between runs (67 893 or 67 901; the loaned sample's
//! placement), which a 2-instruction tolerance cannot hold.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gungraun::{
    Callgrind, CallgrindMetrics, LibraryBenchmarkConfig, library_benchmark,
    library_benchmark_group, main,
};
use transport::{Listener, Options, Receiver, Sender, Transport};

/// One connected pair with the message to send; the halves of the reverse
/// direction are kept so neither side sees its peer gone.
trait Hot {
    /// Sends the message one way and receives it; returns the length read.
    fn once(&mut self) -> usize;
}

struct Pair<T: Transport> {
    tx: T::Sender,
    rx: T::Receiver,
    _back: (T::Sender, T::Receiver),
    msg: Vec<u8>,
}

impl<T: Transport> Hot for Pair<T> {
    #[inline(never)]
    fn once(&mut self) -> usize {
        if let Err(e) = self.tx.send(&self.msg) {
            panic!("{}: send failed: {e}", T::NAME);
        }
        match self.rx.recv() {
            Ok(m) => m.len(),
            Err(e) => panic!("{}: recv failed: {e}", T::NAME),
        }
    }
}

/// A connected pair whose counted step is a round trip: the message one
/// way, and the very bytes received sent back.
struct Trip<T: Transport> {
    there: (T::Sender, T::Receiver),
    back: (T::Sender, T::Receiver),
    msg: Vec<u8>,
}

impl<T: Transport> Hot for Trip<T> {
    #[inline(never)]
    fn once(&mut self) -> usize {
        if let Err(e) = self.there.0.send(&self.msg) {
            panic!("{}: send failed: {e}", T::NAME);
        }
        let echo = match self.back.1.recv() {
            Ok(m) => self.back.0.send(m),
            Err(e) => panic!("{}: recv failed: {e}", T::NAME),
        };
        if let Err(e) = echo {
            panic!("{}: echo failed: {e}", T::NAME);
        }
        match self.there.1.recv() {
            Ok(m) => m.len(),
            Err(e) => panic!("{}: recv of the echo failed: {e}", T::NAME),
        }
    }
}

/// Connects a pair of `T` in this process and warms it up (first-use
/// allocations, lazily grown buffers, page faults stay out of the count).
fn pair<T: Transport>(size: usize) -> Box<dyn Hot> {
    let ((c_tx, c_rx), (l_tx, l_rx)) = connect::<T>(size);
    let mut p = Pair::<T> {
        tx: c_tx,
        rx: l_rx,
        _back: (l_tx, c_rx),
        msg: (0..size).map(|i| i as u8).collect(),
    };
    warm(&mut p, size, T::NAME);
    Box::new(p)
}

/// Like [`pair`], counting a round trip.
fn trip<T: Transport>(size: usize) -> Box<dyn Hot> {
    let ((c_tx, c_rx), (l_tx, l_rx)) = connect::<T>(size);
    let mut p = Trip::<T> {
        there: (c_tx, c_rx),
        back: (l_tx, l_rx),
        msg: (0..size).map(|i| i as u8).collect(),
    };
    warm(&mut p, size, T::NAME);
    Box::new(p)
}

fn warm(p: &mut dyn Hot, size: usize, name: &str) {
    for _ in 0..64 {
        assert_eq!(p.once(), size, "{name}: warm-up message length");
    }
}

/// The connector's halves and the listener's, connected in this process.
#[allow(clippy::type_complexity)]
fn connect<T: Transport>(size: usize) -> ((T::Sender, T::Receiver), (T::Sender, T::Receiver)) {
    let opts = Options {
        expected_max_message: size + 64,
        ..Options::unique("hotpath")
    };
    let (listener, ep) =
        T::listen(&opts).unwrap_or_else(|e| panic!("{}: listen failed: {e}", T::NAME));
    let connector = std::thread::spawn(move || {
        T::connect(&ep, &opts).unwrap_or_else(|e| panic!("{}: connect failed: {e}", T::NAME))
    });
    let (l_tx, l_rx) = listener
        .accept(Instant::now() + Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{}: accept failed: {e}", T::NAME));
    let connector = match connector.join() {
        Ok(halves) => halves,
        Err(_) => panic!("{}: the connecting thread panicked", T::NAME),
    };
    (connector, (l_tx, l_rx))
}

// The counted function: one message, one way.
#[library_benchmark]
#[bench::pipe_8b(pair::<transport_pipe::PipeDefault>(8))]
#[bench::pipe_1m_8b(pair::<transport_pipe::Pipe1M>(8))]
#[bench::uds_8b(pair::<transport_uds::Uds>(8))]
#[bench::seqpacket_8b(pair::<transport_seqpacket::SeqPacket>(8))]
#[bench::tcp_8b(pair::<transport_tcp::Tcp>(8))]
#[bench::shm_spin_8b(pair::<transport_shm::ShmSpin>(8))]
#[bench::shm_adaptive_8b(pair::<transport_shm::ShmAdaptive>(8))]
#[bench::shm_block_8b(pair::<transport_shm::ShmBlock>(8))]
#[bench::shm_line_8b(pair::<transport_shm::ShmLine>(8))]
#[bench::shm_spin_rtt_8b(trip::<transport_shm::ShmSpin>(8))]
#[bench::shm_line_rtt_8b(trip::<transport_shm::ShmLine>(8))]
#[bench::iceoryx2_8b(pair::<transport_iceoryx2::Iceoryx2>(8))]
#[bench::pipe_1m_64k(pair::<transport_pipe::Pipe1M>(65_536))]
#[bench::uds_64k(pair::<transport_uds::Uds>(65_536))]
#[bench::seqpacket_64k(pair::<transport_seqpacket::SeqPacket>(65_536))]
#[bench::shm_spin_64k(pair::<transport_shm::ShmSpin>(65_536))]
#[bench::shm_adaptive_64k(pair::<transport_shm::ShmAdaptive>(65_536))]
#[bench::shm_block_64k(pair::<transport_shm::ShmBlock>(65_536))]
#[bench::shm_line_64k(pair::<transport_shm::ShmLine>(65_536))]
fn message(mut hot: Box<dyn Hot>) -> Box<dyn Hot> {
    black_box(hot.once());
    hot
}

library_benchmark_group!(name = hot_path; benchmarks = message);

main!(
    config = LibraryBenchmarkConfig::default()
        .tool(Callgrind::default().format([CallgrindMetrics::Default]));
    library_benchmark_groups = hot_path
);
