//! A preset's extra passes (`Preset::extra_passes`): each a further `run`
//! into the same results, with the main run's settings that are not the
//! matrix's (transports, stall timeout, failures, output) carried over.

use clap::Parser;

use super::parse::parse_transports;
use super::run::RunArgs;

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
pub(super) fn pass_args(main: &RunArgs, pass: &[&str]) -> Option<Vec<String>> {
    let own = pass
        .chunks(2)
        .find(|p| p[0] == "--transport")
        .and_then(|p| p.get(1));
    let mut out: Vec<String> = pass.iter().map(|&a| a.to_owned()).collect();
    match own {
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
            let at = out.iter().position(|a| a == "--transport")? + 1;
            out[at] = keep.join(",");
        }
        None if !main.transport.is_empty() => {
            out.extend(["--transport".to_owned(), main.transport.join(",")]);
        }
        None => {}
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
    use crate::preset::{ALL, Preset};

    fn main_args(v: &[&str]) -> RunArgs {
        ExtraPass::try_parse_from(std::iter::once("run").chain(v.iter().copied()))
            .expect("parses")
            .args
    }

    #[test]
    fn every_preset_and_extra_pass_parses_as_run_arguments() {
        for p in ALL {
            let main = main_args(&p.args());
            for pass in p.extra_passes() {
                let args = pass_args(&main, &pass).expect("the preset's own transports run it");
                ExtraPass::try_parse_from(std::iter::once("run".to_owned()).chain(args))
                    .unwrap_or_else(|e| panic!("{p} extra pass {pass:?}: {e}"));
            }
        }
    }

    #[test]
    fn a_pass_with_its_own_transports_runs_those_the_main_run_has() {
        let pass = ["--workload", "handover", "--transport", "shm-spin,uds,tcp"];
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
        let got = pass_args(&main, &["--workload", "pingpong"]).expect("runs");
        assert!(got.contains(&"uds,pipe,shm-spin".to_owned()), "{got:?}");
        assert_eq!(Preset::Quick.extra_passes().len(), 0);
    }
}
