//! The benchmark matrices `cargo xtask bench-all` runs, as `ipcbench run
//! --preset default|quick|full`: each preset is the exact list of `run`
//! arguments it stands for, plus an optional extra pass run into the same
//! results file. docs/methodology.md quotes the table a test derives from here.

use std::fmt;
use std::str::FromStr;

/// A named benchmark matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Ten trials of every headline cell (split, raw), every workload but
    /// paced; plus pingpong with both processes on one core.
    Default,
    /// A low-precision smoke run: 4 sizes, 3 trials, 100 messages.
    Quick,
    /// Every placement, codec and workload (paced included).
    Full,
}

/// Every preset, in the order docs/methodology.md lists them.
pub const ALL: [Preset; 3] = [Preset::Default, Preset::Quick, Preset::Full];

/// The notebook's ten sizes, plus 8 B: the targets are stated for an 8-byte
/// ping-pong.
const SIZES: &str = "8B,100,200,400,800,1600,3200,6400,12800,25600,51200";

/// Ten independent trials of every headline cell (split, raw), three of the
/// rest; the seed keeps the notebook's 1000 put/get per size and trial.
/// Pingpong and stream spread little within a trial, so fewer messages buy
/// the trials; fanout shows its scaling at three sizes spanning the
/// notebook's range, in both modes: one channel per worker (fanout) and one
/// shared queue (fanoutq, run only by the transports that can share one).
const COMMON: [&str; 22] = [
    "--sizes",
    SIZES,
    "--trials",
    "10",
    "--secondary-trials",
    "3",
    "--messages",
    "1000",
    "--messages-for",
    "pingpong=200",
    "--messages-for",
    "stream=100",
    "--messages-for",
    "fanout=200",
    "--sizes-for",
    "fanout=100,6400,51200",
    "--messages-for",
    "fanoutq=200",
    "--sizes-for",
    "fanoutq=100,6400,51200",
    "--warmup-ms",
    "10",
];

/// The patterns (`bcast` = bcast2,bcast4; `gather` = gather2,gather4) in the
/// default run: the notebook's smallest and largest size, 100 lockstep
/// messages (and 400 flooded) per size, on the transports that answer their
/// questions within the patterns' share of the run: the shm ring's adaptive
/// variant (its native broadcast, and one ring per subscriber), iceoryx2's
/// native broadcast and uds as a socket baseline; shm-queue (one shared
/// queue, and one queue per producer), the adaptive ring and uds for gather.
/// Spin-only variants (shm-spin, shm-line) are left out: N processes
/// sharing core 1 hand over once per scheduler timeslice.
const PATTERNS_DEFAULT: [&str; 12] = [
    "--messages-for",
    "bcast=100",
    "--sizes-for",
    "bcast=100,51200",
    "--transports-for",
    "bcast=shm-adaptive:iceoryx2:uds",
    "--messages-for",
    "gather=100",
    "--sizes-for",
    "gather=100,51200",
    "--transports-for",
    "gather=shm-queue:shm-adaptive:uds",
];

/// The patterns in the full run: N = 1, 2, 4 and 8 at every size, on every
/// transport.
const PATTERNS_FULL: [&str; 4] = [
    "--messages-for",
    "bcast=100",
    "--messages-for",
    "gather=100",
];

impl Preset {
    /// The name `--preset` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }

    /// How bench-all's flags name the matrix (`default`, `--quick`,
    /// `--full`), as the recorded wall time says it.
    pub fn bench_all_mode(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Quick => "--quick",
            Self::Full => "--full",
        }
    }

    /// The `ipcbench run` arguments the preset stands for.
    pub fn args(self) -> Vec<&'static str> {
        match self {
            // Every headline workload at four sizes, three trials (the
            // fewest an interval is computed from).
            Self::Quick => vec![
                "--sizes",
                "8B,100,3200,51200",
                "--trials",
                "3",
                "--messages",
                "100",
                "--warmup-ms",
                "5",
                "--stream-min-ms",
                "20",
                "--workload",
                "seed,pingpong,stream",
                "--placement",
                "split",
            ],
            Self::Default => {
                let mut a = COMMON.to_vec();
                a.extend([
                    "--placement",
                    "split",
                    "--workload",
                    "seed,pingpong,stream,fanout,fanoutq,bcast,gather",
                    "--stream-min-ms",
                    "80",
                    // Backends registered full-only are left to --full.
                    "--transport",
                    "default",
                ]);
                a.extend(PATTERNS_DEFAULT);
                a
            }
            // Paced loads are fractions of the stream rate: stream keeps its
            // 0.2 s per size so that rate is one the transport can hold.
            Self::Full => {
                let mut a = COMMON.to_vec();
                a.extend([
                    "--placement",
                    "split,same,none",
                    "--workload",
                    "seed,pingpong,stream,fanout,fanoutq,paced,\
                     bcast1,bcast2,bcast4,bcast8,gather1,gather2,gather4,gather8",
                    "--codec",
                    "raw,bincode,msgpack",
                ]);
                a.extend(PATTERNS_FULL);
                a
            }
        }
    }

    /// Further, smaller passes run after the first into the same results.
    ///
    /// - `default`: pingpong with both processes on one core, so the default
    ///   report shows the same-core criticality (and the same-core target)
    ///   without a full sweep; then the in-place workloads ([`IN_PLACE`]).
    /// - `full`: the in-place workloads on every transport, up to 256 MiB.
    ///
    /// The in-place workloads run in two passes, small sizes and large, so
    /// the large sizes get process pairs of their own: a loaning transport
    /// sizes its rings or segments for the largest message of a pair, and
    /// the small sizes keep the rings and caches they have in the main pass.
    pub fn extra_passes(self) -> Vec<Vec<&'static str>> {
        match self {
            Self::Default => vec![
                vec![
                    "--sizes",
                    "8B,100,6400,51200",
                    "--workload",
                    "pingpong",
                    "--placement",
                    "same",
                    "--trials",
                    "3",
                    "--messages",
                    "200",
                    "--warmup-ms",
                    "10",
                ],
                in_place(
                    IN_PLACE_SMALL,
                    IN_PLACE.default_trials,
                    Some(IN_PLACE_TRANSPORTS),
                ),
                in_place(
                    IN_PLACE.default_large,
                    IN_PLACE.default_trials,
                    Some(IN_PLACE_TRANSPORTS),
                ),
            ],
            Self::Full => vec![
                in_place(IN_PLACE_SMALL, IN_PLACE.full_trials, None),
                in_place(IN_PLACE.full_large, IN_PLACE.full_trials, None),
            ],
            Self::Quick => Vec::new(),
        }
    }
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
    pub default_trials: &'static str,
    /// Trials per cell in `--full`.
    pub full_trials: &'static str,
}

/// See [`InPlace`].
pub const IN_PLACE: InPlace = InPlace {
    default_large: "1MiB,4MiB,16MiB,64MiB",
    full_large: "1MiB,4MiB,16MiB,64MiB,256MiB",
    default_trials: "3",
    full_trials: "5",
};

/// One in-place pass: both workloads at `sizes`, `trials` trials, on
/// `transports` (`None`: the main run's). Hand-over sends 200 measured
/// messages per size (fewer from 1 MiB up: `workload::by_size`), the
/// in-place stream floods each size for at least 100 ms; 10 ms of warm-up.
fn in_place(
    sizes: &'static str,
    trials: &'static str,
    transports: Option<&'static str>,
) -> Vec<&'static str> {
    let mut a = vec![
        "--sizes",
        sizes,
        "--workload",
        "handover,inplace-stream",
        "--placement",
        "split",
        "--trials",
        trials,
        "--messages",
        "200",
        "--stream-min-ms",
        "100",
        "--warmup-ms",
        "10",
        // The round-trip floors are the main pass's; this pass adds memcpy
        // and fill + verify at its sizes.
        "--floors",
        "sizes",
    ];
    if let Some(t) = transports {
        a.extend(["--transport", t]);
    }
    a
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown preset {s:?}; valid presets: default, quick, full"))
    }
}

/// The long flags (`--name`, or `--name=value`) among `args`.
fn flags_in<'a>(args: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    args.into_iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split_once('=').map_or(a, |(name, _)| name))
        .collect()
}

/// The preset's arguments without the flags `given` sets itself: a flag
/// given alongside a preset replaces every value the preset gives it
/// (`--messages-for` included). Every preset flag takes one value.
pub fn without_overridden<'a>(preset: &[&'a str], given: &[String]) -> Vec<&'a str> {
    let given = flags_in(given.iter().map(String::as_str));
    preset
        .chunks(2)
        .filter(|pair| !given.contains(&pair[0]))
        .flatten()
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values given to `flag` in a preset's arguments (repeatable flags
    /// give several).
    fn flag_values<'a>(args: &[&'a str], flag: &str) -> Vec<&'a str> {
        args.chunks(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1])
            .collect()
    }

    /// The table of what each preset runs, as docs/methodology.md quotes it
    /// (a test keeps the two equal, so the document states what runs).
    fn matrix_doc() -> String {
        let mut out = String::from(
            "| bench-all | headline trials | other trials | seed messages | pingpong messages | stream messages (×4 sent; min time per size) | fanout messages (sizes) | fanoutq messages (sizes) | warm-up per size |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for p in ALL {
            let a = &p.args();
            let one = |flag: &str| flag_values(a, flag).first().copied().unwrap_or("–");
            let per = |family: &str| {
                flag_values(a, "--messages-for")
                    .iter()
                    .chain(&flag_values(a, "--sizes-for"))
                    .find_map(|v| v.strip_prefix(family)?.strip_prefix('='))
                    .unwrap_or_else(|| one("--messages"))
                    .to_owned()
            };
            // "N (sizes)" of a family the run includes, else "not run".
            let family = |f: &str| {
                let setting = |flag: &str, default: &str| {
                    flag_values(a, flag)
                        .iter()
                        .find_map(|v| v.strip_prefix(f)?.strip_prefix('='))
                        .unwrap_or(default)
                        .to_owned()
                };
                if one("--workload").split(',').any(|w| w == f) {
                    format!(
                        "{} ({})",
                        setting("--messages-for", one("--messages")),
                        setting("--sizes-for", one("--sizes"))
                    )
                } else {
                    "not run".to_owned()
                }
            };
            let (fanout, fanoutq) = (family("fanout"), family("fanoutq"));
            let secondary = flag_values(a, "--secondary-trials");
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} ({} ms) | {fanout} | {fanoutq} | {} ms |\n",
                p.bench_all_mode(),
                one("--trials"),
                secondary.first().copied().unwrap_or(one("--trials")),
                one("--messages"),
                per("pingpong"),
                per("stream"),
                flag_values(a, "--stream-min-ms")
                    .first()
                    .copied()
                    .unwrap_or("200"),
                one("--warmup-ms"),
            ));
        }
        out
    }

    #[test]
    fn methodology_states_the_matrix_that_runs() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/methodology.md");
        let doc = std::fs::read_to_string(path).expect("docs/methodology.md");
        let table = matrix_doc();
        assert!(
            doc.contains(&table),
            "docs/methodology.md must quote the presets' matrix exactly; paste this table:\n{table}"
        );
    }

    #[test]
    fn presets_expand_to_the_documented_matrices() {
        let d = Preset::Default.args();
        assert_eq!(flag_values(&d, "--trials"), ["10"]);
        assert_eq!(flag_values(&d, "--messages"), ["1000"]);
        assert_eq!(flag_values(&d, "--placement"), ["split"]);
        assert_eq!(
            flag_values(&d, "--workload"),
            ["seed,pingpong,stream,fanout,fanoutq,bcast,gather"]
        );
        assert_eq!(
            flag_values(&d, "--messages-for"),
            [
                "pingpong=200",
                "stream=100",
                "fanout=200",
                "fanoutq=200",
                "bcast=100",
                "gather=100"
            ]
        );
        // The patterns: two sizes, a few transports each (issue 24).
        assert_eq!(
            flag_values(&d, "--transports-for"),
            [
                "bcast=shm-adaptive:iceoryx2:uds",
                "gather=shm-queue:shm-adaptive:uds"
            ]
        );
        let f = Preset::Full.args();
        assert_eq!(flag_values(&f, "--placement"), ["split,same,none"]);
        assert_eq!(
            flag_values(&f, "--workload"),
            ["seed,pingpong,stream,fanout,fanoutq,paced,\
                 bcast1,bcast2,bcast4,bcast8,gather1,gather2,gather4,gather8"]
        );
        assert!(flag_values(&f, "--transports-for").is_empty());
        assert_eq!(flag_values(&f, "--codec"), ["raw,bincode,msgpack"]);
        assert!(flag_values(&f, "--stream-min-ms").is_empty());
        let q = Preset::Quick.args();
        assert_eq!(flag_values(&q, "--sizes"), ["8B,100,3200,51200"]);
        assert_eq!(flag_values(&q, "--trials"), ["3"]);
        // Every flag takes one value: the pairs line up.
        for p in ALL {
            let a = p.args();
            assert_eq!(a.len() % 2, 0, "{p}");
            assert!(
                a.chunks(2)
                    .all(|w| w[0].starts_with("--") && !w[1].starts_with("--"))
            );
        }
    }

    #[test]
    fn only_the_default_preset_adds_the_same_core_pingpong() {
        let extra = &Preset::Default.extra_passes()[0];
        assert_eq!(flag_values(extra, "--placement"), ["same"]);
        assert_eq!(flag_values(extra, "--workload"), ["pingpong"]);
        assert!(Preset::Quick.extra_passes().is_empty());
        // --full runs every placement in its main pass.
        assert!(
            Preset::Full
                .extra_passes()
                .iter()
                .all(|a| flag_values(a, "--placement") == ["split"])
        );
    }

    #[test]
    fn in_place_workloads_run_small_and_large_sizes_in_pairs_of_their_own() {
        let max = crate::sizes::machine_max().max(256 << 20);
        for p in [Preset::Default, Preset::Full] {
            let passes: Vec<_> = p
                .extra_passes()
                .into_iter()
                .filter(|a| flag_values(a, "--workload") == ["handover,inplace-stream"])
                .collect();
            assert_eq!(passes.len(), 2, "{p}");
            let sizes: Vec<Vec<u64>> = passes
                .iter()
                .map(|a| {
                    crate::sizes::parse_list(flag_values(a, "--sizes")[0], max).expect("sizes")
                })
                .collect();
            assert_eq!(sizes[0], [8, 800, 409_600]);
            // The large pass holds only sizes from which counts follow the
            // size, so no small size shares a pair (and its rings) with them.
            assert!(
                sizes[1]
                    .iter()
                    .all(|&s| s >= crate::workload::by_size::LARGE_FROM),
                "{p}: {:?}",
                sizes[1]
            );
            assert_eq!(
                sizes[1].last().copied(),
                Some(if p == Preset::Full {
                    256 << 20
                } else {
                    64 << 20
                })
            );
            // The main pass leaves them out: its matrix is unchanged.
            assert!(!flag_values(&p.args(), "--workload")[0].contains("handover"));
        }
        // The default run's in-place transports are registered, one per backend.
        let names: Vec<&str> = IN_PLACE_TRANSPORTS.split(',').collect();
        let backends: Vec<&str> = names
            .iter()
            .map(|n| crate::registry::find(n).expect("registered").backend)
            .collect();
        let mut unique = backends.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), backends.len(), "{names:?}");
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for p in ALL {
            assert_eq!(p.to_string().parse::<Preset>(), Ok(p));
        }
        let e = "fast".parse::<Preset>().expect_err("unknown");
        assert!(
            e.contains("\"fast\"") && e.contains("default, quick, full"),
            "{e}"
        );
    }

    #[test]
    fn flags_given_alongside_replace_the_presets() {
        let given = [
            "--trials=4".to_owned(),
            "--messages-for".to_owned(),
            "seed=5".to_owned(),
        ];
        let a = without_overridden(&Preset::Default.args(), &given);
        assert!(flag_values(&a, "--trials").is_empty());
        assert!(flag_values(&a, "--messages-for").is_empty());
        assert_eq!(flag_values(&a, "--secondary-trials"), ["3"]);
        assert_eq!(flag_values(&a, "--sizes"), [SIZES]);
    }
}
