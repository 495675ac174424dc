//! A preset's extra passes (`Preset::extra_passes`): each a further `run`
//! into the same results, with the main run's settings that are not the
//! matrix's (transports, stall timeout, failures, output) carried over.

use clap::Parser;

use super::parse::parse_transports;
use super::run::RunArgs;
use crate::preset::Pass;

/// Parses an extra pass's arguments as `run` does.
#[derive(Debug, Parser)]
pub(super) struct ExtraPass {
    #[command(flatten)]
    pub(super) args: RunArgs,
}

/// The pass as `run` arguments, or `None` when it has nothing to run.
///
/// A pass that names its own transports (the in-place passes: one
/// transport per backend) runs those of them the main run includes; none,
/// and the pass is skipped. A pass that names none runs the main run's.
pub(super) fn pass_args(main: &RunArgs, pass: &Pass) -> Option<Vec<String>> {
    let transports = match pass.transports {
        Some(own) => {
            // The main run's transports, as it resolved them: empty means
            // every backend.
            let main_set = parse_transports(&main.transport).ok()?;
            let keep: Vec<&str> = own
                .split(',')
                .filter(|n| main_set.iter().any(|b| b.name == *n))
                .collect();
            if keep.is_empty() {
                return None;
            }
            Some(keep.join(","))
        }
        None if !main.transport.is_empty() => Some(main.transport.join(",")),
        None => None,
    };
    // `--transport` is the last flag a pass spells: set here, it stands
    // where the pass's own would.
    let mut out = Pass {
        transports: None,
        ..pass.clone()
    }
    .args();
    if let Some(t) = transports {
        out.extend(["--transport".to_owned(), t]);
    }
    out.extend(["--stall-timeout".to_owned(), main.stall_timeout.to_string()]);
    for (set, flag) in [
        (main.keep_going, "--keep-going"),
        (main.no_floors, "--no-floors"),
        (main.quiet, "--quiet"),
    ] {
        if set {
            out.push(flag.to_owned());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::preset::{Family, PRESETS, Preset};

    fn main_args(v: &[&str]) -> RunArgs {
        ExtraPass::try_parse_from(std::iter::once("run").chain(v.iter().copied()))
            .expect("parses")
            .args
    }

    /// A small pass of one workload, on the main run's transports.
    fn one_pass(workload: &'static str) -> Pass {
        Pass {
            sizes: "8B",
            workloads: workload,
            placements: "split",
            trials: 1,
            secondary_trials: None,
            messages: 10,
            families: Vec::<Family>::new(),
            stream_min_ms: None,
            warmup_ms: 1,
            codecs: None,
            size_floors_only: false,
            transports: None,
        }
    }

    #[test]
    fn every_preset_and_extra_pass_parses_as_run_arguments() {
        for p in PRESETS {
            let args = p.main_pass().args();
            let main = main_args(&args.iter().map(String::as_str).collect::<Vec<_>>());
            for pass in p.extra_passes() {
                let args = pass_args(&main, &pass).expect("the preset's own transports run it");
                ExtraPass::try_parse_from(std::iter::once("run".to_owned()).chain(args))
                    .unwrap_or_else(|e| panic!("{p} extra pass {pass:?}: {e}"));
            }
        }
    }

    #[test]
    fn a_pass_with_its_own_transports_runs_those_the_main_run_has() {
        let pass = Pass {
            transports: Some("shm-spin,uds,tcp"),
            ..one_pass("handover")
        };
        let main = main_args(&["--transport", "uds,pipe,shm-spin"]);
        let got = pass_args(&main, &pass).expect("two in common");
        let at = got.iter().position(|a| a == "--transport").expect("kept");
        assert_eq!(got[at + 1], "shm-spin,uds");
        assert_eq!(got.iter().filter(|a| *a == "--transport").count(), 1);
        // Nothing in common: the pass is skipped.
        assert_eq!(pass_args(&main_args(&["--transport", "pipe"]), &pass), None);
        // The default group and every backend keep the pass's list.
        for m in [main_args(&["--transport", "default"]), main_args(&[])] {
            let got = pass_args(&m, &pass).expect("all in common");
            assert!(got.contains(&"shm-spin,uds,tcp".to_owned()), "{got:?}");
        }
        // A pass without transports takes the main run's.
        let got = pass_args(&main, &one_pass("pingpong")).expect("runs");
        assert!(got.contains(&"uds,pipe,shm-spin".to_owned()), "{got:?}");
        assert_eq!(Preset::Quick.extra_passes().len(), 0);
    }
}
