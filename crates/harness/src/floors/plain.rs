//! The shm-crate backend's plain example (`transport_shm_crate::plain`: a
//! `shared_memory` segment, one `raw_sync` busy event and an 8-byte buffer
//! per direction, nothing else) timed as the probes are, in its own forked
//! pair: the round trip the common approach costs when everything a
//! transport must do is left out. The shm-crate backend's 8 B pingpong is
//! held against it (a target of issue 22).

use anyhow::bail;
use results::ProbeFloor;
use transport_shm_crate::plain::Plain;

use super::{Counts, Probed, Rounds, Timed, fork_pair};
use crate::placement::Placement;

/// The shape name the results file records for the example.
pub const SHAPE: &str = "shm-crate-plain";

/// As the probes' cap: a machine too busy to finish keeps what it measured.
const CAP_NS: u64 = 1_500_000_000;

/// Times the example's round trip at `placement` (split only: its waits spin
/// for ever, so two processes that may share a core hand over once per
/// scheduler timeslice).
pub fn measure(placement: Placement, counts: Counts) -> ProbeFloor {
    let outcome = match placement {
        Placement::Split => run(placement, counts),
        Placement::Same | Placement::None => Err("raw_sync's busy events spin for ever: with \
                                                  both processes on one core they hand over \
                                                  once per scheduler timeslice"
            .into()),
    };
    let (per_rtt, batch_ns, not_measured) = match outcome {
        Ok(t) => (Some(t.per_rtt), Some(t.batch_ns), None),
        Err(why) => (None, None, Some(why)),
    };
    ProbeFloor {
        shape: SHAPE.to_owned(),
        pause: false,
        per_rtt,
        batch_ns,
        not_measured,
    }
}

fn run(placement: Placement, counts: Counts) -> Probed<Timed> {
    let plain = Plain::new().map_err(|e| e.to_string())?;
    let plan = Rounds::new(counts.rtt_rounds, counts.batch_rounds, CAP_NS);
    fork_pair(
        placement,
        || plain.answer_forever(),
        || {
            plan.time(|i| {
                // The answer is checked in the loop: one compare, as the
                // probes' own spin condition.
                if plain.request(i) != i.wrapping_add(1) {
                    bail!("plain example: round trip {i} got a wrong answer");
                }
                Ok(())
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_timed_at_split_and_refused_on_one_core() {
        let small = Counts {
            rtt_rounds: 1000,
            batch_rounds: 900,
        };
        let p = measure(Placement::Split, small);
        assert_eq!(p.shape, SHAPE);
        let s = p.per_rtt.as_ref().unwrap_or_else(|| panic!("{p:?}"));
        assert!(s.n > 0 && s.p50_ns > 0.0, "{s:?}");
        assert!(p.batch_ns.is_some_and(|b| b > 0.0), "{p:?}");
        let same = measure(Placement::Same, small);
        assert!(same.per_rtt.is_none());
        assert!(
            same.not_measured
                .as_deref()
                .is_some_and(|w| w.contains("timeslice")),
            "{same:?}"
        );
    }
}
