//! What a run executes: the plan of transports, workloads, codecs,
//! placements and sizes, its jobs in run order (transports interleaved
//! innermost, so machine drift hits every transport alike), and how many
//! messages each job sends.

use std::collections::BTreeMap;

use codec::Codec;

use super::adaptive::Adaptive;
use crate::placement::Placement;
use crate::registry::Backend;
use crate::supervisor::Limits;
use crate::workload::Workload;

/// Stream trials send this many times `messages`: each message is cheap, and
/// a throughput figure needs a long enough window.
pub const STREAM_FACTOR: usize = 4;

/// Paced trials send at most this many times `messages` per size; the count
/// itself follows from the rate (see `workload::paced_messages`).
pub const PACED_FACTOR: usize = 100;

/// Measured messages per trial and size (before [`STREAM_FACTOR`]) for a
/// busy-waiting backend whose processes share a core: each handover then
/// waits for a scheduler timeslice (milliseconds), so the full count would
/// take hours and say nothing more.
pub const CROWDED_MESSAGES: usize = 50;

/// Whether this backend busy-waits and this job puts two or more of its
/// processes on one core: `same` always; `split` when several fanout workers
/// share core 1; `none` when there are more processes than cores.
pub fn crowded(backend: &Backend, placement: Placement, workload: Workload) -> bool {
    if (backend.capabilities)().wait != transport::WaitStrategy::Spin {
        return false;
    }
    let consumers = workload.consumers();
    match placement {
        Placement::Same => true,
        Placement::Split => consumers > 1,
        Placement::None => consumers + 1 > crate::env::online_cpus(),
    }
}

/// The note a crowded cell carries in the results.
pub(super) fn crowded_note(messages: usize) -> String {
    format!(
        "at most {messages} messages per trial and size: a busy-waiting backend with \
         processes sharing a core hands over once per scheduler timeslice"
    )
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Backends, in report order.
    pub transports: Vec<&'static Backend>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// Codecs for workloads that use one (others use `raw`).
    pub codecs: Vec<Codec>,
    /// Placements.
    pub placements: Vec<Placement>,
    /// Payload sizes in bytes.
    pub sizes: Vec<u64>,
    /// Independent trials (fresh process pairs) per headline cell.
    pub trials: usize,
    /// Trials of the other cells (other codecs and placements): they are
    /// detail, and fewer keep the run short. At most `trials`.
    pub secondary_trials: usize,
    /// Extra trials for headline cells whose medians are not yet precise.
    pub adaptive: Adaptive,
    /// Measured messages per trial and size.
    pub messages: usize,
    /// Messages and sizes for some workload families instead of the run's.
    pub per_workload: PerWorkload,
    /// Each stream size runs at least this long, milliseconds.
    pub stream_min_ms: u64,
    /// Warm-up per trial and size, milliseconds.
    pub warmup_ms: u64,
    /// Deadlines per pair.
    pub limits: Limits,
    /// Record failures and go on, instead of stopping at the first.
    pub keep_going: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Across hosts (`run --remote`): each trial's consumer runs on the
    /// server of this session, the producer here.
    pub remote: Option<crate::remote::client::Session>,
}

/// Settings of one workload family (`seed`, `pingpong`, `stream`, `fanout`,
/// `paced`) that differ from the run's: a workload whose per-trial spread is
/// small needs fewer messages, and fanout's scaling shows at a few sizes.
#[derive(Debug, Clone, Default)]
pub struct PerWorkload {
    /// Measured messages per trial and size, by family.
    pub messages: BTreeMap<String, usize>,
    /// Payload sizes, by family.
    pub sizes: BTreeMap<String, Vec<u64>>,
}

/// A group of cells: the indices, in the plan, of a job's transport,
/// workload, codec and placement. Ordered the way reports list cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Group {
    pub transport: usize,
    pub workload: usize,
    pub codec: usize,
    pub placement: usize,
}

/// One trial of one group: a pair (or fanout group) of role processes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Job {
    pub trial: usize,
    pub placement: Placement,
    pub workload: Workload,
    pub codec: Codec,
    pub backend: &'static Backend,
}

impl Job {
    pub(super) fn label(&self) -> String {
        format!(
            "{} {} {} {} trial {}",
            self.backend.name,
            self.workload,
            self.codec.name(),
            self.placement,
            self.trial + 1
        )
    }
}

impl Plan {
    /// Whether a job's cells are headline cells (placement `split`, codec
    /// `raw`): the cells the report's answers are made of.
    pub(super) fn is_headline(&self, job: &Job) -> bool {
        job.placement == Placement::Split && job.codec == Codec::Raw
    }

    fn trials_for(&self, job: &Job) -> usize {
        if self.is_headline(job) {
            self.trials
        } else {
            self.secondary_trials.min(self.trials)
        }
    }

    /// Every job in run order: trial by trial, and within a trial the
    /// transports innermost.
    pub(super) fn jobs(&self) -> Vec<Job> {
        // Paced jobs need the stream rate of the same trial: run them last.
        let mut workloads = self.workloads.clone();
        workloads.sort_by_key(|w| w.load().is_some());
        let mut jobs = Vec::new();
        for trial in 0..self.trials {
            for &placement in &self.placements {
                for &workload in &workloads {
                    let codecs = if workload.uses_codec() {
                        self.codecs.clone()
                    } else {
                        vec![Codec::Raw]
                    };
                    for codec in codecs {
                        for &backend in self.transports.iter().filter(|b| runs(b, workload)) {
                            let job = Job {
                                trial,
                                placement,
                                workload,
                                codec,
                                backend,
                            };
                            if trial < self.trials_for(&job) {
                                jobs.push(job);
                            }
                        }
                    }
                }
            }
        }
        jobs
    }

    /// Every size the workload asks for, before any transport's limit.
    pub fn sizes_of(&self, workload: Workload) -> &[u64] {
        self.per_workload
            .sizes
            .get(workload.family())
            .unwrap_or(&self.sizes)
    }

    /// Measured messages per trial and size for the workload.
    pub fn messages_of(&self, workload: Workload) -> usize {
        self.per_workload
            .messages
            .get(workload.family())
            .copied()
            .unwrap_or(self.messages)
    }

    /// The workload's sizes that fit the backend.
    pub(super) fn sizes_for(&self, backend: &Backend, workload: Workload) -> Vec<u64> {
        let max = max_size(backend, workload);
        self.sizes_of(workload)
            .iter()
            .copied()
            .filter(|&s| fits(s, max))
            .collect()
    }

    /// The group a job belongs to.
    pub(super) fn group_of(&self, job: &Job) -> Group {
        let pos = |i: Option<usize>| i.unwrap_or(0);
        Group {
            transport: pos(self
                .transports
                .iter()
                .position(|b| b.name == job.backend.name)),
            workload: pos(self.workloads.iter().position(|w| *w == job.workload)),
            codec: pos(self.codecs.iter().position(|c| *c == job.codec)),
            placement: pos(self.placements.iter().position(|p| *p == job.placement)),
        }
    }

    /// Messages the job sends per size, and whether it is crowded.
    pub(super) fn messages_for(&self, job: &Job) -> (usize, bool) {
        let crowded = crowded(job.backend, job.placement, job.workload);
        let asked = self.messages_of(job.workload);
        let base = if crowded {
            asked.min(CROWDED_MESSAGES)
        } else {
            asked
        };
        let n = match job.workload {
            Workload::Stream | Workload::InplaceStream => base * STREAM_FACTOR,
            // An upper bound: the paced count per size follows from its rate.
            Workload::Paced(_) if crowded => base * STREAM_FACTOR,
            Workload::Paced(_) => base * PACED_FACTOR,
            // Every worker needs at least one task.
            Workload::Fanout(_)
            | Workload::FanoutQ(_)
            | Workload::Bcast(_)
            | Workload::Gather(_) => base.max(job.workload.consumers()),
            Workload::Seed | Workload::Pingpong | Workload::Handover => base,
        };
        (n, crowded)
    }
}

/// Whether the backend runs the workload at all: a shared-queue fanout only
/// where receivers can share an endpoint. Others are not scheduled (not
/// failed): the workload does not exist for them.
pub fn runs(backend: &Backend, workload: Workload) -> bool {
    crate::workload::runs_on(workload, &(backend.capabilities)())
}

/// The largest message the backend carries in this workload: its
/// `max_message_size`; for the in-place workloads, whose producer loans
/// where it can, the larger of that and its `max_loan` (a loan is one
/// region with a limit of its own, above the chunked maximum).
pub fn max_size(backend: &Backend, workload: Workload) -> u64 {
    let caps = (backend.capabilities)();
    let in_place = matches!(workload, Workload::Handover | Workload::InplaceStream);
    let max = if in_place {
        caps.max_message_size.max(caps.max_loan)
    } else {
        caps.max_message_size
    };
    u64::try_from(max).unwrap_or(u64::MAX)
}

/// Whether a payload of `size` bytes, with its header and framing, fits a
/// transport whose largest message is `max` bytes.
pub fn fits(size: u64, max: u64) -> bool {
    size + 64 <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(transports: &[&str], workloads: Vec<Workload>) -> Plan {
        Plan {
            transports: transports
                .iter()
                .map(|n| crate::registry::find(n).expect("registered"))
                .collect(),
            workloads,
            codecs: vec![Codec::Raw],
            placements: vec![Placement::Split],
            sizes: vec![800],
            trials: 2,
            secondary_trials: 2,
            adaptive: Adaptive::OFF,
            messages: 10,
            per_workload: PerWorkload::default(),
            stream_min_ms: 1,
            warmup_ms: 0,
            limits: Limits::default(),
            keep_going: false,
            quiet: true,
            remote: None,
        }
    }

    #[test]
    fn shared_queue_fanout_is_scheduled_only_where_receivers_can_share() {
        let p = plan(
            &["pipe", "shm-queue", "uds"],
            vec![Workload::Fanout(2), Workload::FanoutQ(2)],
        );
        let scheduled: Vec<(&str, String)> = p
            .jobs()
            .iter()
            .filter(|j| j.trial == 0)
            .map(|j| (j.backend.name, j.workload.name()))
            .collect();
        let want = [
            ("pipe", "fanout2"),
            ("shm-queue", "fanout2"),
            ("uds", "fanout2"),
            ("shm-queue", "fanoutq2"),
        ];
        assert_eq!(
            scheduled,
            want.map(|(t, w)| (t, w.to_owned())),
            "pipe and uds cannot share a receiver"
        );
        let pipe = crate::registry::find("pipe").expect("pipe");
        assert!(!runs(pipe, Workload::FanoutQ(1)) && runs(pipe, Workload::Fanout(4)));
        let q = crate::registry::find("shm-queue").expect("shm-queue");
        let most = (q.capabilities)().shared_receivers as u16;
        assert!(runs(q, Workload::FanoutQ(most)) && !runs(q, Workload::FanoutQ(most + 1)));
    }
}
