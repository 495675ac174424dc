//! Adaptive stopping: extra trials for headline groups whose medians are not
//! yet precise, and why each group stopped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::fold::CellKey;
use super::plan::{Group, Job};
use super::run::Runner;

/// The adaptive stopping rule: after the planned trials, a headline group
/// (transport, workload, codec, placement) gets more trials, one round at a
/// time and interleaved across groups, until the 95% interval of every size's
/// median is within `precision` of the median, the group has `max_trials`, or
/// the run has spent `budget` on extra trials (checked before each, so the
/// rule overruns it by at most one trial).
#[derive(Debug, Clone, Copy)]
pub struct Adaptive {
    /// Trial cap; at most `trials` turns the rule off.
    pub max_trials: usize,
    /// Goal for the interval's half-width, as a fraction of the median.
    pub precision: f64,
    /// Wall time the extra rounds may take in all.
    pub budget: Duration,
}

impl Adaptive {
    /// No extra trials.
    pub const OFF: Self = Self {
        max_trials: 0,
        precision: 0.05,
        budget: Duration::ZERO,
    };
}

impl Runner<'_> {
    /// Trials folded so far for a group, and whether every size's median
    /// interval is within the precision goal.
    fn precision(&self, group: Group) -> (usize, bool) {
        let goal = self.plan.adaptive.precision;
        let mut trials = usize::MAX;
        let mut precise = true;
        for (key, acc) in self.accs.range(CellKey::first_of(group)..) {
            if key.group != group {
                break;
            }
            let values: Vec<f64> = if acc.rates.is_empty() {
                acc.trials.iter().map(|t| t.quantile(0.5)).collect()
            } else {
                acc.rates.iter().map(|r| 1e9 / r).collect()
            };
            trials = trials.min(values.len());
            precise &= within_goal(&values, goal);
        }
        (if trials == usize::MAX { 0 } else { trials }, precise)
    }

    /// Extra rounds of trials, interleaved across the headline groups whose
    /// median intervals are wider than the goal, until each is precise, hits
    /// the trial cap, or the run's extra-time budget is spent. Returns why
    /// each group stopped.
    pub(super) fn adapt(&mut self) -> Result<BTreeMap<Group, StopReason>> {
        let plan = self.plan;
        let groups: Vec<Job> = plan.jobs().into_iter().filter(|j| j.trial == 0).collect();
        let mut stops: BTreeMap<Group, StopReason> = BTreeMap::new();
        let budget_start = Instant::now();
        loop {
            let mut round = Vec::new();
            for g in &groups {
                let group = plan.group_of(g);
                if stops.contains_key(&group) || self.failed.contains_key(&group) {
                    continue;
                }
                let (trials, precise) = self.precision(group);
                let eligible = plan.is_headline(g) && g.workload.load().is_none();
                if !eligible || plan.adaptive.max_trials <= plan.trials {
                    stops.insert(group, StopReason::Planned);
                } else if precise {
                    stops.insert(group, StopReason::Precision);
                } else if trials >= plan.adaptive.max_trials {
                    stops.insert(group, StopReason::TrialCap);
                } else if budget_start.elapsed() >= plan.adaptive.budget {
                    stops.insert(group, StopReason::TimeCap);
                } else {
                    round.push(Job {
                        trial: trials,
                        ..*g
                    });
                }
            }
            if round.is_empty() {
                return Ok(stops);
            }
            self.total += round.len();
            self.bar.set_length(self.total as u64);
            // The budget is checked before every extra trial, not only at a
            // round's start: a round of every imprecise group can take most
            // of a minute. Groups left out of a cut round stop for `TimeCap`
            // on the next pass.
            for (i, job) in round.iter().enumerate() {
                if budget_start.elapsed() >= plan.adaptive.budget {
                    self.total -= round.len() - i;
                    self.bar.set_length(self.total as u64);
                    break;
                }
                self.job(job)?;
            }
        }
    }
}

/// Whether the 95% interval of the median of `trial_values` is within
/// `goal` (a fraction) of the median on either side; never with too few
/// trials for an interval.
fn within_goal(trial_values: &[f64], goal: f64) -> bool {
    results::bootstrap::median(trial_values)
        .zip(results::bootstrap::median_interval(trial_values))
        .map(|(m, (lo, hi))| (hi - lo) / 2.0 / m)
        .is_some_and(|h| h <= goal)
}

/// Why a group of cells got no more trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Exactly the planned trials (adaptive trials off, or not a headline cell).
    Planned,
    /// Every size's median interval is within the precision goal.
    Precision,
    /// The adaptive trial cap was reached first.
    TrialCap,
    /// The run's extra-time budget was spent first.
    TimeCap,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Planned => "planned",
            Self::Precision => "precision",
            Self::TrialCap => "trial cap",
            Self::TimeCap => "time cap",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_is_the_median_intervals_half_width_against_the_goal() {
        let tight = [100.0, 101.0, 99.0, 100.0, 100.5];
        assert!(within_goal(&tight, 0.05));
        assert!(!within_goal(&tight, 0.0));
        let wide = [100.0, 300.0, 50.0, 100.0, 400.0];
        assert!(!within_goal(&wide, 0.05));
        assert!(within_goal(&wide, 10.0));
        // Two trials give no interval: never precise, whatever the goal.
        assert!(!within_goal(&[100.0, 100.0], 10.0));
    }
}
