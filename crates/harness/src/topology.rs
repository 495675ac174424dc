//! The machine's CPU topology, read from sysfs: how each pair of CPUs is
//! related (SMT siblings, sharing the last-level cache, across caches, across
//! NUMA nodes), which relations the machine offers, and the CPUs `split` and
//! `same` pin to.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use thiserror::Error;

/// How two distinct CPUs are related, closest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relation {
    /// Hardware threads of one core.
    Smt,
    /// Different cores sharing the last-level cache.
    Llc,
    /// Different last-level caches on one NUMA node.
    CrossLlc,
    /// Different NUMA nodes.
    CrossNuma,
}

impl Relation {
    /// Every relation, closest first.
    pub const ALL: [Relation; 4] = [Self::Smt, Self::Llc, Self::CrossLlc, Self::CrossNuma];

    /// The relation's name as placements and results spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Smt => "smt",
            Self::Llc => "llc",
            Self::CrossLlc => "cross-llc",
            Self::CrossNuma => "cross-numa",
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a sysfs tree could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopologyError {
    /// A file the topology needs is absent or unreadable.
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// A file holds something other than what the kernel writes there.
    #[error("{path} holds {value:?}, not {expected}")]
    Malformed {
        path: PathBuf,
        value: String,
        expected: &'static str,
    },
    /// The tree names fewer than two online CPUs, so no pair exists.
    #[error("only {0} online CPU(s), no pair to place")]
    TooFewCpus(usize),
}

/// What one CPU's sysfs entries say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// The CPU number (`cpuN`).
    pub id: usize,
    /// `physical_package_id`: the socket.
    pub package: i64,
    /// `core_id`, unique within a package.
    pub core: i64,
    /// `thread_siblings_list`: the hardware threads of this CPU's core.
    pub siblings: BTreeSet<usize>,
    /// `shared_cpu_list` of the highest-level cache (the core's own threads
    /// when no cache is described).
    pub llc: BTreeSet<usize>,
    /// The NUMA node holding this CPU (the package when no node is described).
    pub node: i64,
}

/// The CPUs of a relation, chosen deterministically: the lowest pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The relation between the two CPUs.
    pub relation: Relation,
    /// The producer's CPU (the lower one).
    pub first: usize,
    /// The consumer's CPU.
    pub second: usize,
}

/// The machine's topology as far as placements need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The CPUs read, by number (empty after a fallback).
    pub cpus: Vec<Cpu>,
    /// For each relation the machine offers, the lowest pair of CPUs with it,
    /// closest relation first.
    pub pairs: Vec<Pair>,
    /// The CPUs `split` pins producer and consumer to.
    pub split: (usize, usize),
    /// The relation `split` stands for (`None` when it is not known).
    pub split_relation: Option<Relation>,
    /// The CPU `same` pins both roles to.
    pub same: usize,
    /// Why the topology was not used, when `split`/`same` fell back to
    /// cores 0/1 and 0.
    pub fallback: Option<String>,
}

impl Topology {
    /// Today's placements: `split` on cores 0/1, `same` on core 0; `reason`
    /// says why the topology could not tell more.
    pub fn fallback(reason: String) -> Self {
        Self {
            cpus: Vec::new(),
            pairs: Vec::new(),
            split: (0, 1),
            split_relation: None,
            same: 0,
            fallback: Some(reason),
        }
    }

    /// The relations the machine offers, closest first.
    pub fn relations(&self) -> Vec<Relation> {
        self.pairs.iter().map(|p| p.relation).collect()
    }

    /// The lowest pair of CPUs with `relation`, if the machine has one.
    pub fn pair(&self, relation: Relation) -> Option<Pair> {
        self.pairs.iter().copied().find(|p| p.relation == relation)
    }

    /// One line for people: what `split` and `same` stand for.
    pub fn describe(&self) -> String {
        let split = match self.split_relation {
            Some(r) => format!("split = {r} (CPUs {}/{})", self.split.0, self.split.1),
            None => format!("split = CPUs {}/{}", self.split.0, self.split.1),
        };
        let mut line = format!("{split}, same = CPU {}", self.same);
        if !self.pairs.is_empty() {
            let offered: Vec<String> = self
                .pairs
                .iter()
                .map(|p| format!("{} {}/{}", p.relation, p.first, p.second))
                .collect();
            line.push_str(&format!("; relations: {}", offered.join(", ")));
        }
        if let Some(reason) = &self.fallback {
            line.push_str(&format!(
                "; topology unknown ({reason}), cores 0/1 and 0 used"
            ));
        }
        line
    }

    /// The relation between two CPUs of this topology, if both are known.
    pub fn relation(&self, a: usize, b: usize) -> Option<Relation> {
        let find = |id| self.cpus.iter().find(|c| c.id == id);
        Some(relation(find(a)?, find(b)?))
    }
}

/// Reads the topology under `root` (a sysfs mount such as `/sys`); any
/// missing or malformed file falls back to cores 0/1 and 0, saying why.
pub fn detect(root: &Path) -> Topology {
    match read_cpus(root) {
        Ok(cpus) => from_cpus(cpus),
        Err(e) => Topology::fallback(e.to_string()),
    }
}

/// The running machine's topology, read once from `/sys`.
pub fn system() -> &'static Topology {
    static TOPOLOGY: OnceLock<Topology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| detect(Path::new("/sys")))
}

/// Classifies every pair and chooses `split` and `same`.
pub fn from_cpus(cpus: Vec<Cpu>) -> Topology {
    if cpus.len() < 2 {
        return Topology::fallback(TopologyError::TooFewCpus(cpus.len()).to_string());
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for (i, a) in cpus.iter().enumerate() {
        for b in &cpus[i + 1..] {
            let r = relation(a, b);
            if !pairs.iter().any(|p| p.relation == r) {
                pairs.push(Pair {
                    relation: r,
                    first: a.id,
                    second: b.id,
                });
            }
        }
    }
    pairs.sort_by_key(|p| p.relation);
    let same = cpus[0].id;
    match pairs.iter().find(|p| p.relation != Relation::Smt) {
        Some(p) => Topology {
            split: (p.first, p.second),
            split_relation: Some(p.relation),
            same,
            fallback: None,
            cpus,
            pairs,
        },
        None => {
            let mut t = Topology::fallback(
                "no two distinct physical cores (every CPU pair is SMT siblings)".to_owned(),
            );
            t.cpus = cpus;
            t.pairs = pairs;
            t
        }
    }
}

/// The relation between two distinct CPUs.
pub fn relation(a: &Cpu, b: &Cpu) -> Relation {
    if a.siblings.contains(&b.id) || (a.package == b.package && a.core == b.core) {
        Relation::Smt
    } else if a.llc.contains(&b.id) {
        Relation::Llc
    } else if a.node != b.node {
        Relation::CrossNuma
    } else {
        Relation::CrossLlc
    }
}

/// Reads every online CPU's entries under `root`.
pub fn read_cpus(root: &Path) -> Result<Vec<Cpu>, TopologyError> {
    let cpu_dir = root.join("devices/system/cpu");
    let online = parse_list(&cpu_dir.join("online"))?;
    let nodes = read_nodes(&root.join("devices/system/node"))?;
    online
        .iter()
        .map(|&id| read_cpu(&cpu_dir.join(format!("cpu{id}")), id, &nodes))
        .collect()
}

fn read_cpu(dir: &Path, id: usize, nodes: &[(i64, BTreeSet<usize>)]) -> Result<Cpu, TopologyError> {
    let topo = dir.join("topology");
    let package = parse_int(&topo.join("physical_package_id"))?;
    let core = parse_int(&topo.join("core_id"))?;
    let mut siblings = parse_list(&topo.join("thread_siblings_list"))?;
    siblings.insert(id);
    // Without a described cache, a core is assumed to share none.
    let llc = read_llc(&dir.join("cache"))?.unwrap_or_else(|| siblings.clone());
    let node = nodes
        .iter()
        .find(|(_, cpus)| cpus.contains(&id))
        .map_or(package, |(n, _)| *n);
    Ok(Cpu {
        id,
        package,
        core,
        siblings,
        llc,
        node,
    })
}

/// The `shared_cpu_list` of the highest-level cache under `cache`, or `None`
/// when the directory describes no cache.
fn read_llc(cache: &Path) -> Result<Option<BTreeSet<usize>>, TopologyError> {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return Ok(None);
    };
    let mut best: Option<(i64, BTreeSet<usize>)> = None;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index"))
        .collect();
    names.sort();
    for name in names {
        let index = cache.join(&name);
        let level = parse_int(&index.join("level"))?;
        let shared = parse_list(&index.join("shared_cpu_list"))?;
        if best.as_ref().is_none_or(|(l, _)| level > *l) {
            best = Some((level, shared));
        }
    }
    Ok(best.map(|(_, s)| s))
}

/// The NUMA nodes and their CPUs; empty when the tree describes none.
fn read_nodes(dir: &Path) -> Result<Vec<(i64, BTreeSet<usize>)>, TopologyError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut nodes = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        nodes.push((n, parse_list(&e.path().join("cpulist"))?));
    }
    nodes.sort();
    Ok(nodes)
}

fn read(path: &Path) -> Result<String, TopologyError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| TopologyError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

fn parse_int(path: &Path) -> Result<i64, TopologyError> {
    let value = read(path)?;
    value.parse().map_err(|_| TopologyError::Malformed {
        path: path.to_owned(),
        value,
        expected: "an integer",
    })
}

fn parse_list(path: &Path) -> Result<BTreeSet<usize>, TopologyError> {
    let value = read(path)?;
    cpu_list(&value).ok_or_else(|| TopologyError::Malformed {
        path: path.to_owned(),
        value,
        expected: "a CPU list such as 0-3,8",
    })
}

/// Parses the kernel's CPU list format (`0-3,8,10-11`; empty is no CPUs).
pub fn cpu_list(s: &str) -> Option<BTreeSet<usize>> {
    let mut set = BTreeSet::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi): (usize, usize) = (lo.parse().ok()?, hi.parse().ok()?);
                if lo > hi || hi - lo > 65_536 {
                    return None;
                }
                set.extend(lo..=hi);
            }
            None => {
                set.insert(part.parse().ok()?);
            }
        }
    }
    Some(set)
}
