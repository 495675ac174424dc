//! The Rust matrix of each preset: its main `ipcbench run` pass and the
//! extra passes run after it into the same results file.

use super::{Family, Pass, Preset};

/// The notebook's ten sizes, plus 8 B: the targets are stated for an 8-byte
/// ping-pong.
const SIZES: &str = "8B,100,200,400,800,1600,3200,6400,12800,25600,51200";

/// The sizes fanout and fanoutq show their scaling at: three spanning the
/// notebook's range.
const FANOUT_SIZES: &str = "100,6400,51200";

/// The main pass of the default and full runs, less placements, workloads
/// and what they alone add. Ten independent trials of every headline cell
/// (split, raw), three of the rest; the seed keeps the notebook's 1000
/// put/get per size and trial. Pingpong and stream spread little within a
/// trial, so fewer messages buy the trials; fanout shows its scaling at three
/// sizes, in both modes: one channel per worker (fanout) and one shared
/// queue (fanoutq, run only by the transports that can share one).
fn common(placements: &'static str, workloads: &'static str, patterns: [Family; 2]) -> Pass {
    let mut families = vec![
        Family {
            messages: Some(200),
            ..Family::named("pingpong")
        },
        Family {
            messages: Some(100),
            ..Family::named("stream")
        },
        Family {
            messages: Some(200),
            sizes: Some(FANOUT_SIZES),
            ..Family::named("fanout")
        },
        Family {
            messages: Some(200),
            sizes: Some(FANOUT_SIZES),
            ..Family::named("fanoutq")
        },
    ];
    families.extend(patterns);
    Pass {
        sizes: SIZES,
        workloads,
        placements,
        trials: 10,
        secondary_trials: Some(3),
        messages: 1000,
        families,
        stream_min_ms: None,
        warmup_ms: 10,
        codecs: None,
        size_floors_only: false,
        transports: None,
    }
}

/// The patterns (`bcast` = bcast2,bcast4; `gather` = gather2,gather4) in the
/// default run: the notebook's smallest and largest size, 100 lockstep
/// messages (and 400 flooded) per size, on the transports that answer their
/// questions within the patterns' share of the run: the shm ring's adaptive
/// variant (its native broadcast, and one ring per subscriber), iceoryx2's
/// blocking variant (native broadcast, subscribers woken by its events) and
/// uds as a socket baseline; shm-queue (one shared
/// queue, and one queue per producer), the adaptive ring and uds for gather.
/// Spin-only variants (shm-spin, shm-line, iceoryx2) are left out: N
/// processes sharing core 1 hand over once per scheduler timeslice.
fn patterns_default() -> [Family; 2] {
    [
        Family {
            messages: Some(100),
            sizes: Some("100,51200"),
            transports: Some("shm-adaptive:iceoryx2-block:uds"),
            ..Family::named("bcast")
        },
        Family {
            messages: Some(100),
            sizes: Some("100,51200"),
            transports: Some("shm-queue:shm-adaptive:uds"),
            ..Family::named("gather")
        },
    ]
}

/// The patterns in the full run: N = 1, 2, 4 and 8 at every size, on every
/// transport.
fn patterns_full() -> [Family; 2] {
    [
        Family {
            messages: Some(100),
            ..Family::named("bcast")
        },
        Family {
            messages: Some(100),
            ..Family::named("gather")
        },
    ]
}

/// The main pass of `preset`.
pub(super) fn main_pass(preset: Preset) -> Pass {
    match preset {
        // Every headline workload at four sizes, three trials (the fewest an
        // interval is computed from).
        Preset::Quick => Pass {
            sizes: "8B,100,3200,51200",
            workloads: "seed,pingpong,stream",
            placements: "split",
            trials: 3,
            secondary_trials: None,
            messages: 100,
            families: Vec::new(),
            stream_min_ms: Some(20),
            warmup_ms: 5,
            codecs: None,
            size_floors_only: false,
            transports: None,
        },
        Preset::Default => Pass {
            stream_min_ms: Some(40),
            // Backends registered full-only are left to --full.
            transports: Some("default"),
            ..common(
                "split",
                "seed,pingpong,stream,fanout,fanoutq,bcast,gather",
                patterns_default(),
            )
        },
        // Paced loads are fractions of the stream rate: stream keeps its
        // 0.2 s per size so that rate is one the transport can hold.
        Preset::Full => Pass {
            codecs: Some("raw,bincode,msgpack"),
            ..common(
                "split,same,none",
                "seed,pingpong,stream,fanout,fanoutq,paced,\
                 bcast1,bcast2,bcast4,bcast8,gather1,gather2,gather4,gather8",
                patterns_full(),
            )
        },
    }
}

/// Further, smaller passes run after the main one into the same results.
///
/// - `default`: pingpong with both processes on one core, so the default
///   report shows the same-core criticality (and the same-core target)
///   without a full sweep; then the in-place workloads ([`IN_PLACE`]).
/// - `full`: the in-place workloads on every transport, up to 256 MiB.
///
/// The in-place workloads run in a pass of small sizes and then one pass per
/// large size, so each large size gets process pairs of its own: a loaning
/// transport sizes its rings or segments for the largest message of a pair,
/// so the small sizes keep the rings and caches they have in the main pass,
/// and a large size does not run on a ring grown for a larger one, whose
/// pages (not pre-faulted when grown) it would first touch on the clock.
pub(super) fn extra_passes(preset: Preset) -> Vec<Pass> {
    match preset {
        Preset::Default => vec![Pass {
            sizes: "8B,100,6400,51200",
            workloads: "pingpong",
            placements: "same",
            trials: 3,
            secondary_trials: None,
            messages: 200,
            families: Vec::new(),
            stream_min_ms: None,
            warmup_ms: 10,
            codecs: None,
            size_floors_only: false,
            transports: None,
        }]
        .into_iter()
        .chain(in_place_passes(
            IN_PLACE.default_large,
            IN_PLACE.default_trials,
            Some(IN_PLACE_TRANSPORTS),
        ))
        .collect(),
        Preset::Full => in_place_passes(IN_PLACE.full_large, IN_PLACE.full_trials, None).collect(),
        Preset::Quick => Vec::new(),
    }
}

/// The in-place passes: [`IN_PLACE_SMALL`] in one, then each of `large` in
/// its own.
fn in_place_passes(
    large: &'static str,
    trials: u32,
    transports: Option<&'static str>,
) -> impl Iterator<Item = Pass> {
    std::iter::once(IN_PLACE_SMALL)
        .chain(large.split(','))
        .map(move |sizes| in_place(sizes, trials, transports))
}

/// The in-place workloads' small sizes: 8 B (the reference for "does not
/// grow with size"), the seed's smallest and largest.
pub const IN_PLACE_SMALL: &str = "8B,800B,409.6KB";

/// The transports the default run's in-place passes use: one per backend
/// that brings something of its own to large messages. The four that loan
/// (the shm ring in its busy-polling variant, shm-queue, iceoryx2,
/// ipc-channel's shared memory), and one of each kernel path a copying
/// transport takes (a pipe with 1 MiB buffers, a Unix stream socket,
/// loopback TCP). The other backends wrap one of these paths (interprocess
/// and tokio over Unix sockets and pipes, ipc-channel's bytes and typed
/// modes over SOCK_SEQPACKET, shm-crate's one slot per direction) and run in
/// `--full`.
pub const IN_PLACE_TRANSPORTS: &str =
    "pipe-1m,uds,tcp,shm-spin,shm-queue,iceoryx2,ipc-channel-shmem";

/// The in-place passes' settings.
pub struct InPlace {
    /// Large sizes of the default run.
    pub default_large: &'static str,
    /// Large sizes of `--full`.
    pub full_large: &'static str,
    /// Trials per cell in the default run.
    pub default_trials: u32,
    /// Trials per cell in `--full`.
    pub full_trials: u32,
}

/// See [`InPlace`].
pub const IN_PLACE: InPlace = InPlace {
    default_large: "1MiB,4MiB,16MiB,64MiB",
    full_large: "1MiB,4MiB,16MiB,64MiB,256MiB",
    default_trials: 3,
    full_trials: 5,
};

/// One in-place pass: both workloads at `sizes`, `trials` trials, on
/// `transports` (`None`: the main run's). Hand-over sends 200 measured
/// messages per size (fewer from 1 MiB up, as the harness sizes them), the
/// in-place stream floods each size for at least 100 ms; 10 ms of warm-up.
/// The round-trip floors are the main pass's; this pass adds memcpy and
/// fill + verify at its sizes.
fn in_place(sizes: &'static str, trials: u32, transports: Option<&'static str>) -> Pass {
    Pass {
        sizes,
        workloads: "handover,inplace-stream",
        placements: "split",
        trials,
        secondary_trials: None,
        messages: 200,
        families: Vec::new(),
        stream_min_ms: Some(100),
        warmup_ms: 10,
        codecs: None,
        size_floors_only: true,
        transports,
    }
}
