//! Bad command-line input, flag by flag: every error exits with status 2
//! before anything runs and names the bad value together with the valid
//! range or names; every subcommand's `--help` shows examples. (Transport,
//! codec, workload, placement and size names are covered in cli.rs.)

mod support;

use support::{run, stderr};

/// Runs `ipcbench args`, expects exit status 2 and every needle in stderr.
fn usage_error(args: &[&str], needles: &[&str]) {
    let o = run(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    for n in needles {
        assert!(e.contains(n), "{args:?}: expected {n:?} in: {e}");
    }
}

#[test]
fn run_numbers_name_the_value_and_the_range() {
    for (flag, value, range) in [
        ("--messages", "0", "from 1 to 10000000"),
        ("--messages", "abc", "from 1 to 10000000"),
        ("--messages", "10000001", "from 1 to 10000000"),
        ("--trials", "1001", "from 1 to 1000"),
        ("--warmup-ms", "-5", "from 0 to 60000"),
        ("--warmup-ms", "60001", "from 0 to 60000"),
        ("--stall-timeout", "0", "from 1 to 86400"),
        ("--stall-timeout", "1.5", "from 1 to 86400"),
    ] {
        usage_error(
            &["run", "--transport", "pipe", flag, value],
            &[&format!("{value:?}"), range, flag],
        );
    }
}

#[test]
fn too_few_trials_for_an_interval_name_the_minimum() {
    for trials in ["0", "1", "2"] {
        let needles: &[&str] = if trials == "0" {
            &["\"0\"", "from 1 to 1000"]
        } else {
            &["at least 3", "--no-intervals"]
        };
        usage_error(&["run", "--transport", "pipe", "--trials", trials], needles);
    }
    usage_error(
        &["run", "--transport", "pipe", "--secondary-trials", "2"],
        &["at least 3", "--secondary-trials"],
    );
}

#[test]
fn per_workload_settings_name_the_family_and_the_valid_ones() {
    usage_error(
        &["run", "--transport", "pipe", "--messages-for", "pingpong"],
        &["\"pingpong\"", "FAMILY=VALUE"],
    );
    usage_error(
        &["run", "--transport", "pipe", "--messages-for", "seeds=3"],
        &[
            "\"seeds\"",
            "seed, pingpong, stream, fanout, fanoutq, paced",
        ],
    );
    usage_error(
        &["run", "--transport", "pipe", "--messages-for", "seed=0"],
        &["from 1 to 10000000"],
    );
    usage_error(
        &[
            "run",
            "--transport",
            "pipe",
            "--sizes-for",
            "fanout=12parsecs",
        ],
        &["12parsecs"],
    );
}

#[test]
fn a_value_is_required() {
    usage_error(&["run", "--codec"], &["--codec", "a value is required"]);
    usage_error(&["soak"], &["--minutes"]);
}

#[test]
fn unknown_subcommands_and_flags_are_named() {
    usage_error(&["frobnicate"], &["'frobnicate'"]);
    usage_error(&["run", "--frobnicate"], &["'--frobnicate'"]);
    usage_error(&[], &["Usage"]);
}

#[test]
fn report_and_compare_name_the_file_that_is_not_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().expect("utf-8");
    usage_error(&["report", missing], &[missing, "No such file"]);

    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{\"not\": \"results\"}").expect("write");
    let bogus = bogus.to_str().expect("utf-8");
    usage_error(
        &["compare", bogus, bogus],
        &[bogus, "is not an ipcbench results file"],
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").expect("write");
    let text = text.to_str().expect("utf-8");
    usage_error(
        &["report", text],
        &[text, "is not an ipcbench results file"],
    );

    usage_error(
        &["compare", bogus, bogus, "--threshold", "5000"],
        &["\"5000\"", "between 0 and 1000 percent"],
    );
}

#[test]
fn floors_input_is_validated() {
    usage_error(
        &["floors", "--placement", "everywhere"],
        &["\"everywhere\"", "split, same, none"],
    );
    usage_error(&["floors", "--sizes", "7B"], &["\"7B\"", "multiples of 8"]);
}

#[test]
fn soak_input_is_validated() {
    for bad in ["0", "-1", "abc", "20000"] {
        usage_error(
            &["soak", "--minutes", bad],
            &[&format!("{bad:?}"), "at most 10080 minutes"],
        );
    }
    usage_error(
        &["soak", "--minutes", "1", "--transport", "carrier-pigeon"],
        &["\"carrier-pigeon\"", "valid transports: pipe"],
    );
    usage_error(
        &["soak", "--minutes", "1", "--placement", "x"],
        &["\"x\"", "split, same, none"],
    );
    usage_error(
        &["soak", "--minutes", "1", "--sizes", "12B"],
        &["\"12B\"", "multiples of 8"],
    );
    usage_error(
        &["soak", "--minutes", "1", "--stall-timeout", "0"],
        &["\"0\"", "from 1 to 86400"],
    );
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let top = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(top.contains("Exit codes"), "{top}");
    for sub in ["list", "run", "floors", "report", "compare", "soak"] {
        assert!(top.contains(sub), "--help lacks {sub}");
        let o = run(&[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help");
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        if sub != "list" {
            assert!(
                text.contains("Example") && text.contains(&format!("ipcbench {sub}")),
                "{sub} --help has no example:\n{text}"
            );
        }
    }
}
