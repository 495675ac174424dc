//! Topology detection on fake sysfs trees (tests/fixtures/sysfs): the
//! relations each machine offers, the CPUs chosen for each, what `split` and
//! `same` stand for, and the fallback on a broken tree.

use std::path::PathBuf;

use harness::topology::{Relation, Topology, cpu_list, detect};

fn tree(name: &str) -> Topology {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysfs")
        .join(name);
    detect(&root)
}

/// The offered relations as (name, first CPU, second CPU), closest first.
fn pairs(t: &Topology) -> Vec<(&'static str, usize, usize)> {
    t.pairs
        .iter()
        .map(|p| (p.relation.name(), p.first, p.second))
        .collect()
}

#[test]
fn smt_desktop_splits_across_cores_not_siblings() {
    let t = tree("smt-desktop");
    assert_eq!(t.fallback, None);
    assert_eq!(t.cpus.len(), 8);
    assert_eq!(pairs(&t), [("smt", 0, 1), ("llc", 0, 2)]);
    assert_eq!(t.split, (0, 2));
    assert_eq!(t.split_relation, Some(Relation::Llc));
    assert_eq!(t.same, 0);
}

#[test]
fn two_socket_offers_cross_numa() {
    let t = tree("two-socket");
    assert_eq!(t.fallback, None);
    assert_eq!(t.cpus.len(), 16);
    assert_eq!(
        pairs(&t),
        [("smt", 0, 8), ("llc", 0, 1), ("cross-numa", 0, 4)]
    );
    assert_eq!(t.pair(Relation::CrossLlc), None);
    assert_eq!((t.split, t.split_relation), ((0, 1), Some(Relation::Llc)));
    assert_eq!(t.relation(3, 12), Some(Relation::CrossNuma));
    assert_eq!(t.relation(5, 13), Some(Relation::Smt));
}

#[test]
fn chiplet_offers_cross_llc_on_one_node() {
    let t = tree("chiplet");
    assert_eq!(t.fallback, None);
    assert_eq!(
        pairs(&t),
        [("smt", 0, 8), ("llc", 0, 1), ("cross-llc", 0, 4)]
    );
    assert_eq!(t.pair(Relation::CrossNuma), None);
    assert_eq!(t.relation(11, 12), Some(Relation::CrossLlc));
    assert_eq!(t.relation(9, 3), Some(Relation::Llc));
    assert_eq!((t.split, t.split_relation), ((0, 1), Some(Relation::Llc)));
}

#[test]
fn this_vm_keeps_todays_cores_and_names_llc() {
    let t = tree("vm-2vcpu");
    assert_eq!(t.fallback, None);
    assert_eq!(pairs(&t), [("llc", 0, 1)]);
    assert_eq!(t.relations(), [Relation::Llc]);
    assert_eq!((t.split, t.same), ((0, 1), 0));
    assert_eq!(t.split_relation, Some(Relation::Llc));
    assert!(
        t.describe()
            .starts_with("split = llc (CPUs 0/1), same = CPU 0")
    );
}

#[test]
fn malformed_tree_falls_back_and_names_the_file() {
    let t = tree("malformed");
    assert_eq!((t.split, t.same, t.split_relation), ((0, 1), 0, None));
    let reason = t.fallback.as_deref().expect("a fallback reason");
    assert!(reason.contains("cpu1/topology/core_id"), "{reason}");
    assert!(reason.contains("\"zero\""), "{reason}");
    assert!(t.describe().contains("topology unknown"));
}

#[test]
fn missing_tree_falls_back() {
    let t = tree("no-such-machine");
    assert_eq!((t.split, t.same), ((0, 1), 0));
    let reason = t.fallback.as_deref().expect("a fallback reason");
    assert!(reason.contains("devices/system/cpu/online"), "{reason}");
}

#[test]
fn parses_cpu_lists() {
    let l = cpu_list("0-2,8,10-11\n").expect("valid");
    assert_eq!(l.into_iter().collect::<Vec<_>>(), [0, 1, 2, 8, 10, 11]);
    assert_eq!(cpu_list("").map(|l| l.len()), Some(0));
    assert_eq!(cpu_list("3-1"), None);
    assert_eq!(cpu_list("a"), None);
}

#[test]
fn this_machine_is_detected_or_says_why() {
    let t = harness::topology::system();
    assert_ne!(t.split.0, t.split.1);
    assert!(t.fallback.is_some() || t.split_relation.is_some());
}

/// `ipcbench list --placement-cpus` prints what the results record (scripts
/// such as xtask's hand-off to the Python baseline read it): this machine's
/// `split` pair, two distinct CPUs, and the `same` CPU.
#[test]
fn list_prints_the_placement_cpus_as_the_results_record_them() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ipcbench"))
        .args(["list", "--placement-cpus"])
        .output()
        .expect("run ipcbench list");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let cpus: results::PlacementCpus = serde_json::from_str(text.trim()).expect(&text);
    let system = harness::topology::system();
    assert_eq!(cpus.split, [system.split.0, system.split.1], "{text}");
    assert_ne!(cpus.split[0], cpus.split[1], "{text}");
    assert_eq!(cpus.same, system.same, "{text}");
}
