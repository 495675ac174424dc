//! Across hosts: `ipcbench serve` runs the consumer side of each trial on one
//! host, `ipcbench run --remote HOST:PORT --token T` runs the producer on
//! another, over the transports that can leave the machine
//! (`Transport::CROSSES_HOSTS`: tcp and quic).
//!
//! A control connection (TCP, one JSON message a line, [`wire`]) carries the
//! token `serve` printed, compared in constant time, and the two sides'
//! versions; then, per trial, the client asks for a fresh, pinned consumer
//! process (the same `__role` path as a local pair), `serve` starts it with
//! the transport listening on the address the client reached and returns
//! its endpoint, and the client starts its local producer against it. The
//! consumer's protocol lines travel back over the control connection, so the
//! client supervises the pair as the local supervisor does. `serve` kills a
//! trial's process when the client disconnects or dies ([`serve`]).
//!
//! Only metrics timed on one clock are kept ([`one_clock`]): the two hosts'
//! clocks are not synchronized, so a one-way latency or seed `get` (send on
//! one clock, receipt on the other) would measure the clocks' offset.
//!
//! Failures have their own exit codes ([`Failure`], [`exit_code`]).

pub mod client;
pub mod serve;
pub mod wire;

use results::Metric;

use crate::role::RoleOutput;
use crate::workload::Workload;

/// The workloads a remote run takes: those with one consumer whose
/// headline metric is timed on one clock.
pub const WORKLOADS: [Workload; 3] = [Workload::Seed, Workload::Pingpong, Workload::Stream];

/// What went wrong between the two hosts, each with its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The server cannot be reached: no such host, nothing listening, no
    /// route, or no answer within the deadline. Exit 3.
    Unreachable,
    /// The server refused the token (wrong or missing). Exit 4.
    Refused,
    /// The two sides are different versions or schemas. Exit 5.
    Mismatch,
    /// The server went away (killed, network lost) during the run. Exit 6.
    Lost,
    /// `serve --bind` names an address already in use. Exit 7.
    AddressInUse,
}

impl Kind {
    /// The process exit code for this failure.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Unreachable => 3,
            Self::Refused => 4,
            Self::Mismatch => 5,
            Self::Lost => 6,
            Self::AddressInUse => 7,
        }
    }
}

/// A failure of the remote machinery, with its kind and a message that
/// names the cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// Which failure, for the exit code.
    pub kind: Kind,
    /// What happened, naming the address and the cause.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// The exit code of an error that is (or wraps) a [`Failure`].
pub fn exit_code(e: &anyhow::Error) -> Option<u8> {
    e.chain()
        .find_map(|c| c.downcast_ref::<Failure>())
        .map(|f| f.kind.exit_code())
}

/// Keeps only what was timed on one clock: the producer's round trips
/// (pingpong `rtt` and `rtt_batch`) and seed `total` (through the
/// acknowledgement, see `RoleSpec::remote`), and the consumer's stream
/// throughput (first to last receive, its own clock). One-way latency, seed
/// `get` and the rate from first send to last receive span both clocks and
/// are dropped; so are seed's `put`, `encode` and `decode`, which are one
/// process's and say nothing about leaving the machine.
pub fn one_clock(producer: &mut RoleOutput, consumers: &mut [RoleOutput]) {
    for s in &mut producer.sizes {
        s.metrics
            .retain(|(m, _)| matches!(m, Metric::Rtt | Metric::RttBatch | Metric::Total));
    }
    for c in consumers {
        for s in &mut c.sizes {
            s.metrics.clear();
            s.sustained_msgs_per_s = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::SizeOutput;
    use crate::stats::Trial;

    #[test]
    fn only_one_clock_metrics_survive() {
        let size = |ms: &[Metric]| SizeOutput {
            metrics: ms.iter().map(|&m| (m, Trial::default())).collect(),
            msgs_per_s: Some(5.0),
            sustained_msgs_per_s: Some(4.0),
            ..SizeOutput::default()
        };
        let mut p = RoleOutput {
            sizes: vec![size(&[
                Metric::Put,
                Metric::Get,
                Metric::Total,
                Metric::Rtt,
            ])],
        };
        let mut c = vec![RoleOutput {
            sizes: vec![size(&[Metric::Oneway, Metric::Decode])],
        }];
        one_clock(&mut p, &mut c);
        let kept: Vec<Metric> = p.sizes[0].metrics.iter().map(|(m, _)| *m).collect();
        assert_eq!(kept, [Metric::Total, Metric::Rtt]);
        assert!(c[0].sizes[0].metrics.is_empty());
        assert_eq!(c[0].sizes[0].msgs_per_s, Some(5.0));
        assert_eq!(c[0].sizes[0].sustained_msgs_per_s, None);
    }

    #[test]
    fn exit_codes_are_distinct_and_found_through_context() {
        let kinds = [
            Kind::Unreachable,
            Kind::Refused,
            Kind::Mismatch,
            Kind::Lost,
            Kind::AddressInUse,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.exit_code()).collect();
        codes.dedup();
        assert_eq!(codes, [3, 4, 5, 6, 7]);
        let e = anyhow::Error::new(Failure::new(Kind::Lost, "gone")).context("trial 3");
        assert_eq!(exit_code(&e), Some(6));
        assert_eq!(exit_code(&anyhow::anyhow!("other")), None);
    }
}
