//! The project's performance targets, as data written into every results
//! file: the harness declares them because it is the one crate that names
//! backends (the registry's crate); the report only evaluates them.

use results::schema::{Against, Metric, Placement, Target, Workload};

/// One target, in the order the report lists them.
#[allow(clippy::too_many_arguments)]
fn target(
    issue: u32,
    transport: &str,
    python: bool,
    (workload, placement, size_bytes, metric): (Workload, Placement, u64, Metric),
    against: Against,
    ratio: f64,
    bound: &str,
) -> Target {
    Target {
        issue,
        transport: transport.to_owned(),
        python,
        workload,
        placement,
        size_bytes,
        metric,
        against,
        ratio,
        bound: bound.to_owned(),
    }
}

/// Every target the open issues state, met or not: the Rust transports'
/// first, then the Python binding's.
pub fn declared() -> Vec<Target> {
    let mut all = rust_transports();
    all.extend(patterns());
    all.extend(in_place());
    all.extend(python_binding());
    all
}

/// The transport whose native broadcast the patterns' targets judge: the
/// shm ring's adaptive variant, which the default run broadcasts with
/// (spin-only variants collapse when subscribers share a core).
const SHM_BROADCAST: &str = "shm-adaptive";

/// The iceoryx2 variant the ring's broadcast is judged against: the one
/// that wakes its subscribers (iceoryx2 events), as the ring's adaptive
/// variant does; the busy-polling one collapses the same way spin-only
/// rings do when subscribers share a core.
const ICEORYX2_BROADCAST: &str = "iceoryx2-block";

/// Issue 24's targets for the patterns: the shm ring's native broadcast
/// against its own round trip, against its own point-to-point fan, and
/// against iceoryx2's waking variant; a gather into shm-queue against Python's mp.Queue.
fn patterns() -> Vec<Target> {
    let native = format!("{SHM_BROADCAST}{}", results::index::NATIVE);
    let bcast2 = (Workload::Bcast(2), Placement::Split, 800, Metric::Rtt);
    vec![
        target(
            24,
            &native,
            false,
            bcast2,
            Against::OwnIn(Workload::Pingpong),
            2.0,
            "one publish and two subscribers' acknowledgements back: a round trip to the slower of two readers of one ring, which share CPU 1 under split, so one of them runs only after the other yields (a context switch per message that a pingpong never makes)",
        ),
        target(
            24,
            &native,
            false,
            bcast2,
            Against::Transport(SHM_BROADCAST.to_owned()),
            1.0,
            "one write read by both subscribers, where point to point writes each ring in turn",
        ),
        target(
            24,
            &native,
            false,
            (Workload::Bcast(2), Placement::Split, 0, Metric::Rtt),
            Against::NotBehindAtEverySize(format!(
                "{ICEORYX2_BROADCAST}{}",
                results::index::NATIVE
            )),
            1.0,
            "both publish once into shared memory every subscriber reads and wake subscribers that sleep; iceoryx2 adds per-sample bookkeeping and wakes through a socket",
        ),
        target(
            24,
            "shm-queue",
            false,
            (
                Workload::Gather(4),
                Placement::Split,
                800,
                Metric::Throughput,
            ),
            Against::PythonRateOf("mp-queue".to_owned()),
            5.0,
            "four producers into one shared-memory queue without pickling or a feeder thread, against mp.Queue's",
        ),
    ]
}

/// The loaning transports of the in-place targets (issue 23): each lends
/// 64 MiB in the default run (`Capabilities::max_loan`).
pub const LOANING: [&str; 4] = ["shm-spin", "shm-queue", "iceoryx2", "ipc-channel-shmem"];

/// Issue 23's targets for the in-place workloads: a loaning transport's
/// hand-over does not grow with the size, its in-place stream reaches the
/// fill + verify floor, and the shm ring keeps up with iceoryx2.
fn in_place() -> Vec<Target> {
    const MIB64: u64 = 64 << 20;
    let mut out = Vec::new();
    for t in LOANING {
        out.push(target(
            23,
            t,
            false,
            (Workload::Handover, Placement::Split, MIB64, Metric::Latency),
            Against::SameTransportAt(8),
            2.0,
            "publishing a loan hands the region over without touching its bytes, and the consumer's view points into memory it already maps (ipc-channel-shmem: a fresh descriptor per message, mapped on receipt)",
        ));
    }
    for t in LOANING {
        out.push(target(
            23,
            t,
            false,
            (Workload::InplaceStream, Placement::Split, MIB64, Metric::Throughput),
            Against::FillVerifyFloor,
            0.9,
            "filling and checking every byte run in parallel on two cores; a loan adds no copy, so the transport may add only its hand-over and the cache misses of memory the other core wrote",
        ));
    }
    for (workload, metric) in [
        (Workload::Handover, Metric::Latency),
        (Workload::InplaceStream, Metric::Throughput),
    ] {
        out.push(target(
            23,
            "shm-spin",
            false,
            (workload, Placement::Split, 0, metric),
            Against::NotBehindAtEverySize("iceoryx2".to_owned()),
            1.0,
            "both publish a loan of shared memory and busy-poll; iceoryx2 adds per-sample bookkeeping",
        ));
    }
    out
}

/// The targets of the Rust transports against the machine's floors and
/// each other.
fn rust_transports() -> Vec<Target> {
    let rtt8 = (Workload::Pingpong, Placement::Split, 8, Metric::Rtt);
    let seed_big = (Workload::Seed, Placement::Split, 409_600, Metric::Total);
    vec![
        target(
            7,
            "pipe",
            false,
            rtt8,
            Against::RawPipeFloor,
            1.25,
            "framing costs one vectored write and one buffered read, the same system calls as the bare pipe",
        ),
        target(
            15,
            "shm-spin",
            false,
            rtt8,
            Against::CachelineFloor,
            1.3,
            "one hop is one cache-line transfer each way, plus the record header and the clock reads (per-round-trip timing on both sides)",
        ),
        target(
            15,
            "shm-spin",
            false,
            (Workload::Pingpong, Placement::Split, 8, Metric::RttBatch),
            Against::CachelineBatchFloor,
            1.3,
            "batch-timed on both sides: no clock in either loop, so the ratio is the ring's own cost over one cache line each way",
        ),
        target(
            15,
            "shm-spin",
            false,
            (Workload::Pingpong, Placement::Split, 0, Metric::Rtt),
            Against::BeatsAtEverySize("iceoryx2".to_owned()),
            1.0,
            "both busy-poll shared memory; iceoryx2 adds per-sample bookkeeping, the ring copies large messages once more",
        ),
        target(
            15,
            "shm-spin",
            false,
            (Workload::Seed, Placement::Split, 0, Metric::Total),
            Against::BeatsAtEverySize("iceoryx2".to_owned()),
            1.0,
            "the seed's put copies into the ring; iceoryx2 loans a sample and the producer writes into it",
        ),
        target(
            22,
            "shm-spin",
            false,
            (Workload::Pingpong, Placement::Split, 8, Metric::RttBatch),
            Against::CachelineBatchFloor,
            1.5,
            "the batch-timed floor is the cheapest probe shape; a stream ring keeps the message and its stamp in one line per direction, so a round trip moves two lines where the cheapest shape may move one",
        ),
        target(
            22,
            "shm-line",
            false,
            (Workload::Pingpong, Placement::Split, 8, Metric::RttBatch),
            Against::CachelineBatchFloor,
            1.5,
            "shm-line moves one shared line per hop, the one-line shape, but each hop stores a control word and up to three body words where the probe stores one, its wait loop also polls the ring, and the round trip varies with where the line lands in the last-level cache (docs/shm.md)",
        ),
        target(
            22,
            "shm-crate",
            false,
            rtt8,
            Against::PlainExample,
            1.0,
            "the backend adds a length, an `empty` event the writer waits for before each message, a copy out of the slot, fences, and a spin bounded by raw_sync's clock-reading timeout",
        ),
        target(
            7,
            "shm-adaptive",
            false,
            (Workload::Pingpong, Placement::Same, 8, Metric::Rtt),
            Against::Nanoseconds(5000.0),
            1.0,
            "on one core every hop is a context switch: yield or futex wake, never a spin",
        ),
        target(
            15,
            "shm-spin",
            false,
            seed_big,
            Against::Memcpy,
            2.0,
            "put copies the message into the ring (one memcpy); get is the wake-up plus a zero-copy decode",
        ),
        target(
            13,
            "shm-queue",
            false,
            (
                Workload::FanoutQ(4),
                Placement::Split,
                800,
                Metric::Throughput,
            ),
            Against::BestRateIn(Workload::Fanout(4)),
            1.0,
            "one shared queue: a free worker takes the next task at once, where one channel per worker makes the producer wait on each worker in turn; four workers share core 1",
        ),
        target(
            15,
            "shm-spin",
            false,
            (
                Workload::Stream,
                Placement::Split,
                409_600,
                Metric::Throughput,
            ),
            Against::BytesPerSecond(8e9),
            1.0,
            "the producer copies each message in, the consumer reads every byte to verify it",
        ),
    ]
}

/// The targets of `ipcbench`'s Python binding against the Python
/// alternatives.
fn python_binding() -> Vec<Target> {
    vec![
        target(
            13,
            "ipcbench",
            true,
            (Workload::Seed, Placement::Split, 800, Metric::Get),
            Against::Nanoseconds(10_000.0),
            1.0,
            "a get is a futex wake of the sleeping consumer plus building the ndarray",
        ),
        target(
            13,
            "ipcbench",
            true,
            (Workload::Seed, Placement::Split, 409_600, Metric::Get),
            Against::Nanoseconds(100_000.0),
            1.0,
            "one copy into the queue and one out into a new ndarray",
        ),
        target(
            13,
            "ipcbench",
            true,
            (
                Workload::Fanout(4),
                Placement::Split,
                800,
                Metric::Throughput,
            ),
            Against::RateOf("mp-queue".to_owned()),
            5.0,
            "one shared queue, workers pulling; four workers share core 1",
        ),
        target(
            13,
            "ipcbench",
            true,
            (Workload::Seed, Placement::Split, 0, Metric::Total),
            Against::BeatsAtEverySize("faster-fifo".to_owned()),
            1.0,
            "faster-fifo pickles every array into its buffer; ipcbench.Queue copies the raw bytes",
        ),
        target(
            13,
            "ipcbench",
            true,
            (Workload::Seed, Placement::Split, 0, Metric::Total),
            Against::BeatsAtEverySize("zmq".to_owned()),
            1.0,
            "pyzmq moves frames through a Unix socket and an I/O thread",
        ),
        target(
            13,
            "ipcbench",
            true,
            (Workload::Seed, Placement::Split, 800, Metric::Get),
            Against::ExcessOver("shm-queue".to_owned()),
            3000.0,
            "the binding's own cost: the GIL, the header, building the ndarray",
        ),
    ]
    .into_iter()
    .chain(python_handover())
    .collect()
}

/// Issue 23's targets of the Python hand-over (the baseline's `handover`
/// workload, timed from `put` until the consumer's `get()` returns).
fn python_handover() -> Vec<Target> {
    let at = |size: u64| (Workload::Handover, Placement::Split, size, Metric::Latency);
    let mut v: Vec<Target> = [4 << 20, 64 << 20]
        .into_iter()
        .map(|size| {
            target(
                23,
                "ipcbench",
                true,
                at(size),
                Against::Memcpy,
                1.2,
                "an ordinary put copies the array once into a pooled block of the queue's memory (4 KiB pages where /dev/shm has no huge pages); get hands a view of it, no copy",
            )
        })
        .collect();
    v.extend([
        target(
            23,
            "ipcbench-loan",
            true,
            at(64 << 20),
            Against::Nanoseconds(50_000.0),
            1.0,
            "a loaned array is put by reference: a record naming its block, and get building a view; the loan announced it, so a sleeping consumer woke during the fill and polls (docs/zero-copy.md, \"Announced records\"); no byte of the array moves",
        ),
        target(
            23,
            "ipcbench",
            true,
            at(64 << 20),
            Against::Transport("py-sharedmemory".to_owned()),
            1.0 / 3.0,
            "py-sharedmemory copies the array into its block and copies it out again in get; ipcbench copies it in only",
        ),
        target(
            23,
            "ipcbench-sum",
            true,
            (
                Workload::Handover,
                Placement::Split,
                64 << 20,
                Metric::Throughput,
            ),
            Against::RateOf("sum-inproc".to_owned()),
            0.8,
            "the received array is a view of a block mapped with every page present (MAP_POPULATE); what is left is 4 KiB pages against the private array's huge pages",
        ),
        target(
            23,
            "ipcbench",
            true,
            (Workload::Seed, Placement::Split, 800, Metric::Total),
            Against::Nanoseconds(1_700.0),
            1.0,
            "small messages no worse: an 800 B array still goes in line through a ring slot; only arrays larger than a slot take the block path",
        ),
    ]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_holds_only_its_own_targets() {
        assert!(rust_transports().iter().all(|t| !t.python));
        assert!(patterns().iter().all(|t| !t.python));
        assert!(python_binding().iter().all(|t| t.python));
        assert!(in_place().iter().all(|t| !t.python && t.issue == 23));
        assert_eq!(
            declared().len(),
            rust_transports().len() + patterns().len() + in_place().len() + python_binding().len()
        );
    }

    #[test]
    fn the_in_place_targets_name_transports_that_lend_64_mib() {
        for t in LOANING {
            let b = crate::registry::find(t).expect("registered");
            assert!((b.capabilities)().max_loan >= 64 << 20, "{t}");
        }
    }

    #[test]
    fn every_rust_target_names_registered_backends() {
        for t in declared() {
            if t.python {
                continue;
            }
            let registered =
                |name: &str| crate::registry::find(results::index::unlabel(name).0).is_some();
            assert!(registered(&t.transport), "{}", t.transport);
            if let Against::Transport(o)
            | Against::BeatsAtEverySize(o)
            | Against::RateOf(o)
            | Against::NotBehindAtEverySize(o) = &t.against
            {
                assert!(registered(o), "{o}");
            }
        }
    }
}
