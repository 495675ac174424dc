//! `ipcbench run --preset NAME` on the harness's side: a preset's passes
//! (typed in `results::preset`, which owns both the Rust matrix and the
//! Python baseline's) as `run` arguments, the flags given alongside
//! replacing the preset's. docs/methodology.md quotes the table a test
//! derives from the presets.

pub use results::preset::{Pass, Preset};

/// The long flags (`--name`, or `--name=value`) among `args`.
fn flags_in<'a>(args: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    args.into_iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split_once('=').map_or(a, |(name, _)| name))
        .collect()
}

/// The pass's arguments without the flags `given` sets itself: a flag given
/// alongside a preset replaces every value the preset gives it
/// (`--messages-for` included). Every preset flag takes one value.
pub fn without_overridden(pass: &Pass, given: &[String]) -> Vec<String> {
    let given = flags_in(given.iter().map(String::as_str));
    pass.args()
        .chunks(2)
        .filter(|pair| !given.contains(&pair[0].as_str()))
        .flatten()
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::preset::{IN_PLACE_TRANSPORTS, PRESETS, flag_values};

    /// The table of what each preset runs, as docs/methodology.md quotes it
    /// (a test keeps the two equal, so the document states what runs).
    fn matrix_doc() -> String {
        let mut out = String::from(
            "| bench-all | headline trials | other trials | seed messages | pingpong messages | stream messages (×4 sent; min time per size) | fanout messages (sizes) | fanoutq messages (sizes) | warm-up per size |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for p in PRESETS {
            let a = p.main_pass();
            // "N (sizes)" of a family the run includes, else "not run".
            let family = |f: &str| {
                if a.runs(f) {
                    format!("{} ({})", a.messages_for(f), a.sizes_for(f))
                } else {
                    "not run".to_owned()
                }
            };
            let (fanout, fanoutq) = (family("fanout"), family("fanoutq"));
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} ({} ms) | {fanout} | {fanoutq} | {} ms |\n",
                p.bench_all_mode(),
                a.trials,
                a.secondary_trials.unwrap_or(a.trials),
                a.messages,
                a.messages_for("pingpong"),
                a.messages_for("stream"),
                a.stream_min_ms.unwrap_or(200),
                a.warmup_ms,
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
        let d = Preset::Default.main_pass().args();
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
                "bcast=shm-adaptive:iceoryx2-block:uds",
                "gather=shm-queue:shm-adaptive:uds"
            ]
        );
        let f = Preset::Full.main_pass().args();
        assert_eq!(flag_values(&f, "--placement"), ["split,same,none"]);
        assert_eq!(
            flag_values(&f, "--workload"),
            ["seed,pingpong,stream,fanout,fanoutq,paced,\
                 bcast1,bcast2,bcast4,bcast8,gather1,gather2,gather4,gather8"]
        );
        assert!(flag_values(&f, "--transports-for").is_empty());
        assert_eq!(flag_values(&f, "--codec"), ["raw,bincode,msgpack"]);
        assert!(flag_values(&f, "--stream-min-ms").is_empty());
        let q = Preset::Quick.main_pass().args();
        assert_eq!(flag_values(&q, "--sizes"), ["8B,100,3200,51200"]);
        assert_eq!(flag_values(&q, "--trials"), ["3"]);
        // Every flag takes one value: the pairs line up.
        for p in PRESETS {
            for pass in std::iter::once(p.main_pass()).chain(p.extra_passes()) {
                let a = pass.args();
                assert_eq!(a.len() % 2, 0, "{p}");
                assert!(
                    a.chunks(2)
                        .all(|w| w[0].starts_with("--") && !w[1].starts_with("--"))
                );
            }
        }
    }

    #[test]
    fn only_the_default_preset_adds_the_same_core_pingpong() {
        let extra = &Preset::Default.extra_passes()[0];
        assert_eq!(extra.placements, "same");
        assert_eq!(extra.workloads, "pingpong");
        assert!(Preset::Quick.extra_passes().is_empty());
        // --full runs every placement in its main pass.
        assert!(
            Preset::Full
                .extra_passes()
                .iter()
                .all(|a| a.placements == "split")
        );
    }

    #[test]
    fn in_place_workloads_run_small_sizes_together_and_each_large_size_alone() {
        let max = crate::sizes::machine_max().max(256 << 20);
        for p in [Preset::Default, Preset::Full] {
            let passes: Vec<_> = p
                .extra_passes()
                .into_iter()
                .filter(|a| a.workloads == "handover,inplace-stream")
                .collect();
            let sizes: Vec<Vec<u64>> = passes
                .iter()
                .map(|a| crate::sizes::parse_list(a.sizes, max).expect("sizes"))
                .collect();
            assert_eq!(sizes[0], [8, 800, 409_600]);
            // Each large size (one from which counts follow the size) has a
            // pass, and so pairs and rings, of its own.
            let large: Vec<u64> = sizes[1..]
                .iter()
                .map(|pass| match pass[..] {
                    [one] if one >= crate::workload::by_size::LARGE_FROM => one,
                    _ => panic!("{p}: a large pass of {pass:?}"),
                })
                .collect();
            let top = if p == Preset::Full { 256 } else { 64 };
            let want: Vec<u64> = [1, 4, 16, 64, 256]
                .into_iter()
                .filter(|&m| m <= top)
                .map(|m| m << 20)
                .collect();
            assert_eq!(large, want, "{p}");
            // The main pass leaves them out: its matrix is unchanged.
            assert!(!p.main_pass().workloads.contains("handover"));
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
    fn flags_given_alongside_replace_the_presets() {
        let given = [
            "--trials=4".to_owned(),
            "--messages-for".to_owned(),
            "seed=5".to_owned(),
        ];
        let a = without_overridden(&Preset::Default.main_pass(), &given);
        assert!(flag_values(&a, "--trials").is_empty());
        assert!(flag_values(&a, "--messages-for").is_empty());
        assert_eq!(flag_values(&a, "--secondary-trials"), ["3"]);
        assert_eq!(
            flag_values(&a, "--sizes"),
            [Preset::Default.main_pass().sizes]
        );
    }
}
