//! The core-to-core map's pair sampling on fake topologies: a 128-CPU
//! two-socket server with SMT and eight-core last-level caches (written to a
//! temporary sysfs tree here) gets a sample that fits 60 s at a plausible
//! per-pair cost, with every relation and every CPU in it; the 2-vCPU VM
//! fixture gets its one pair. Nothing here times a pair.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use harness::floors::map::{DEFAULT_BUDGET_NS, FULL_BUDGET_NS, pair_cost_ns, plan};
use harness::topology::{Topology, detect};

/// 128 CPUs: 2 sockets (NUMA nodes) of 32 cores, 2 threads per core (CPU
/// `c` and `c + 64`), a last-level cache per 8 cores.
fn server(root: &Path) {
    let w = |p: PathBuf, s: String| {
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, s).expect("write");
    };
    let cpu = root.join("devices/system/cpu");
    w(cpu.join("online"), "0-127\n".into());
    for id in 0..128usize {
        let core = id % 64;
        let dir = cpu.join(format!("cpu{id}"));
        w(
            dir.join("topology/physical_package_id"),
            format!("{}\n", core / 32),
        );
        w(dir.join("topology/core_id"), format!("{}\n", core % 32));
        w(
            dir.join("topology/thread_siblings_list"),
            format!("{core},{}\n", core + 64),
        );
        let l = core / 8 * 8;
        w(dir.join("cache/index3/level"), "3\n".into());
        w(
            dir.join("cache/index3/shared_cpu_list"),
            format!("{l}-{},{}-{}\n", l + 7, l + 64, l + 71),
        );
    }
    for node in 0..2usize {
        let lo = node * 32;
        w(
            root.join(format!("devices/system/node/node{node}/cpulist")),
            format!("{lo}-{},{}-{}\n", lo + 31, lo + 64, lo + 95),
        );
    }
}

fn first_pairs(t: &Topology) -> Vec<[usize; 2]> {
    t.pairs.iter().map(|p| [p.first, p.second]).collect()
}

#[test]
fn a_128_cpu_server_gets_a_sample_that_fits_60_s() {
    let dir = tempfile::tempdir().expect("tempdir");
    server(dir.path());
    let t = detect(dir.path());
    assert_eq!(t.fallback, None);
    assert_eq!(t.cpus.len(), 128);
    let names: Vec<&str> = t.pairs.iter().map(|p| p.relation.name()).collect();
    assert_eq!(names, ["smt", "llc", "cross-llc", "cross-numa"]);

    let cpus: Vec<usize> = t.cpus.iter().map(|c| c.id).collect();
    // A cross-socket round trip of ~600 ns: a pair costs ~15 ms.
    let cost = pair_cost_ns(600.0);
    let p = plan(&cpus, &first_pairs(&t), FULL_BUDGET_NS, cost);
    assert_eq!(p.total, 128 * 127 / 2);
    assert!(p.pairs.len() < p.total, "{} pairs", p.pairs.len());
    assert!(
        p.pairs.len() as u64 * cost <= FULL_BUDGET_NS,
        "{} pairs of {cost} ns",
        p.pairs.len()
    );
    assert!(
        p.pairs.len() as u64 * cost > FULL_BUDGET_NS / 2,
        "the budget is used"
    );
    // Every relation the machine has, and every CPU, is in the sample.
    let relations: BTreeSet<_> = p
        .pairs
        .iter()
        .filter_map(|&[a, b]| t.relation(a, b))
        .collect();
    assert_eq!(relations.len(), 4, "{relations:?}");
    let seen: BTreeSet<usize> = p.pairs.iter().flatten().copied().collect();
    assert_eq!(seen.len(), 128);
    // Pairs are distinct, ordered, lower CPU first.
    assert!(p.pairs.windows(2).all(|w| w[0] < w[1]));
    assert!(p.pairs.iter().all(|[a, b]| a < b));

    // The default run's 5 s still covers every relation.
    let small = plan(&cpus, &first_pairs(&t), DEFAULT_BUDGET_NS, cost);
    assert!(small.pairs.len() as u64 * cost <= DEFAULT_BUDGET_NS);
    for first in first_pairs(&t) {
        assert!(small.pairs.contains(&first), "{first:?}");
    }
}

#[test]
fn the_2_vcpu_vm_maps_its_one_pair() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysfs/vm-2vcpu");
    let t = detect(&root);
    let cpus: Vec<usize> = t.cpus.iter().map(|c| c.id).collect();
    let p = plan(
        &cpus,
        &first_pairs(&t),
        DEFAULT_BUDGET_NS,
        pair_cost_ns(250.0),
    );
    assert_eq!((p.pairs, p.total), (vec![[0, 1]], 1));
    // One pair costs a few milliseconds: far inside the default budget.
    assert!(pair_cost_ns(250.0) * 100 < DEFAULT_BUDGET_NS);
}
