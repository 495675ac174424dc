//! The Python baseline's matrix of each preset (baselines/python's
//! mpqueue_bench.py), and the one place that spells it as the script's
//! arguments.

use super::Preset;

/// The notebook's ten sizes (int64 elements).
const SIZES: &str = "100,200,400,800,1600,3200,6400,12800,25600,51200";

/// Every alternative of issue 13 whose package installs, two processes
/// each, plus the notebook's own one-process loop for mp.Queue and
/// ipcbench.Queue.
const MODES: &str = "mp-queue,mp-queue-inproc,simple-queue,pipe,faster-fifo,zmq,\
shared-memory,ipcbench,ipcbench-inproc";

/// The baseline's fanout: one producer, N worker processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFanout {
    /// Queues (`all`, or a list), Ray added where the matrix has it.
    pub modes: &'static str,
    /// Sizes (elements).
    pub sizes: &'static str,
    /// Messages per trial and size.
    pub messages: u32,
}

/// Seed and fanout also at large sizes (issue 23), messages per trial
/// chosen by size in the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyLarge {
    /// Sizes (elements).
    pub sizes: &'static str,
    /// Queues.
    pub modes: &'static str,
}

/// N processes putting into one queue (issue 24), the counterpart of the
/// Rust gather.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyGather {
    /// Queues (`all`, or a list).
    pub modes: &'static str,
    /// Producer counts, comma-separated.
    pub producers: &'static str,
    /// Sizes (elements).
    pub sizes: &'static str,
    /// Messages per trial and size.
    pub messages: u32,
}

/// The lockstep hand-over of every queue (issue 23), its memcpy floor and
/// sum check with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyHandover {
    /// Sizes (elements).
    pub sizes: &'static str,
    /// Queues (`all`, or a list), torch added where the matrix has it.
    pub modes: &'static str,
}

/// What the Python baseline runs in one preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonMatrix {
    /// Seed sizes (elements).
    pub sizes: &'static str,
    /// Seed messages per trial and size (the notebook's 1000).
    pub messages: u32,
    /// Placements, as the Rust main pass's.
    pub placements: &'static str,
    /// Workloads, comma-separated.
    pub workloads: &'static str,
    /// Trials per cell (Python cells are not headline cells; three give an
    /// interval).
    pub trials: u32,
    /// Queues of the seed.
    pub modes: &'static str,
    /// Ray too (seed and fanout); its package is installed for this only.
    pub ray: bool,
    /// torch too (hand-over); its package is installed for this only.
    pub torch: bool,
    /// Fanout settings, where the matrix sets them.
    pub fanout: Option<PyFanout>,
    /// Large sizes, where the matrix runs them.
    pub large: Option<PyLarge>,
    /// Gather settings, where the matrix sets them.
    pub gather: Option<PyGather>,
    /// Hand-over settings, where the matrix sets them.
    pub handover: Option<PyHandover>,
}

impl PythonMatrix {
    /// The script's arguments (before `--json`), each flag followed by its
    /// one value.
    pub fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        let mut flag = |name: &str, value: String| {
            a.push(name.to_owned());
            a.push(value);
        };
        let ray = |modes: &str| {
            if self.ray {
                format!("{modes},ray")
            } else {
                modes.to_owned()
            }
        };
        flag("--sizes", self.sizes.to_owned());
        flag("--messages", self.messages.to_string());
        flag("--placement", self.placements.to_owned());
        flag("--workloads", self.workloads.to_owned());
        flag("--trials", self.trials.to_string());
        flag("--modes", ray(self.modes));
        if let Some(f) = &self.fanout {
            flag("--fanout-modes", ray(f.modes));
            flag("--fanout-sizes", f.sizes.to_owned());
            flag("--fanout-messages", f.messages.to_string());
        }
        if let Some(l) = &self.large {
            flag("--large-sizes", l.sizes.to_owned());
            flag("--large-modes", l.modes.to_owned());
        }
        if let Some(g) = &self.gather {
            flag("--gather-modes", g.modes.to_owned());
            flag("--producers", g.producers.to_owned());
            flag("--gather-sizes", g.sizes.to_owned());
            flag("--gather-messages", g.messages.to_string());
        }
        if let Some(h) = &self.handover {
            flag("--handover-sizes", h.sizes.to_owned());
            let modes = if self.torch {
                format!("{},torch", h.modes)
            } else {
                h.modes.to_owned()
            };
            flag("--handover-modes", modes);
        }
        a
    }

    /// Whether the matrix runs the workload `name`.
    pub fn runs(&self, name: &str) -> bool {
        self.workloads.split(',').any(|w| w == name)
    }
}

/// The Python matrix of `preset`.
pub(super) fn matrix(preset: Preset) -> PythonMatrix {
    let full = preset == Preset::Full;
    if preset == Preset::Quick {
        return PythonMatrix {
            sizes: "100,3200,51200",
            messages: 100,
            placements: "split",
            workloads: "seed",
            trials: 3,
            modes: "mp-queue,ipcbench",
            ray: false,
            torch: false,
            fanout: None,
            large: None,
            gather: None,
            handover: None,
        };
    }
    PythonMatrix {
        sizes: SIZES,
        messages: 1000,
        placements: if full { "split,same,none" } else { "split" },
        workloads: "seed,fanout,handover,gather",
        // Three trials each to stay in budget.
        trials: 3,
        modes: MODES,
        // Ray and torch are installed for --full only (Ray takes seconds
        // per trial to start and stop).
        ray: full,
        torch: full,
        fanout: Some(PyFanout {
            modes: "all",
            sizes: "100,6400,51200",
            messages: 200,
        }),
        // Seed and fanout of mp.Queue and ipcbench.Queue also at 4 and
        // 64 MiB (int64 elements).
        large: Some(PyLarge {
            sizes: "524288,8388608",
            modes: "mp-queue,ipcbench",
        }),
        // --full: every queue that can, at every size, N = 1, 2, 4, 8 as
        // the Rust side.
        gather: Some(if full {
            PyGather {
                modes: "all",
                producers: "1,2,4,8",
                sizes: SIZES,
                messages: 400,
            }
        } else {
            PyGather {
                modes: "mp-queue,faster-fifo,ipcbench",
                producers: "2,4",
                sizes: "100,51200",
                messages: 400,
            }
        }),
        // 4 and 64 MiB, and 800 B so small messages can be read beside them.
        handover: Some(PyHandover {
            sizes: "100,524288,8388608",
            modes: "all",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::flag_values;
    use crate::vocab::PRESETS;

    #[test]
    fn only_full_runs_measure_ray_and_torch() {
        for p in PRESETS {
            let full = p == Preset::Full;
            let a = p.python().args();
            let has = |flag: &str, mode: &str| {
                flag_values(&a, flag)
                    .iter()
                    .any(|v| v.split(',').any(|m| m == mode))
            };
            assert_eq!(has("--modes", "ray"), full, "{p}");
            assert_eq!(has("--fanout-modes", "ray"), full && p != Preset::Quick);
            assert_eq!(has("--handover-modes", "torch"), full, "{p}");
        }
    }

    #[test]
    fn the_default_and_full_runs_hand_over_in_python() {
        for p in PRESETS {
            let m = p.python();
            assert_eq!(m.runs("handover"), p != Preset::Quick, "{}", m.workloads);
            if p != Preset::Quick {
                assert_eq!(
                    flag_values(&m.args(), "--handover-sizes"),
                    ["100,524288,8388608"]
                );
            }
        }
    }

    #[test]
    fn the_baseline_runs_the_rust_main_pass_placements() {
        for p in PRESETS {
            assert_eq!(p.python().placements, p.main_pass().placements, "{p}");
            // Every flag takes one value: the pairs line up.
            let a = p.python().args();
            assert!(
                a.chunks(2)
                    .all(|w| w[0].starts_with("--") && !w[1].starts_with("--"))
            );
        }
    }
}
