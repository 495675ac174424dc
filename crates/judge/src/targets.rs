//! The project's performance targets judged against a run's own cells and
//! floors: each is met, not met (with the figures it was judged on), or not
//! measured in this run, never silently dropped. The targets are data (the
//! run's `targets`, see `results::schema::Target`), judged by one function,
//! [`check`], so adding one is one entry; `report` words the outcome.

use results::schema::{Against, Cell, Codec, Floors, Placement, Results, Status, Target, Workload};

use crate::verdict;

/// A figure a target is judged on, in its own unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// A time, ns.
    Time(f64),
    /// A message rate, as a throughput cell holds it: ns per message.
    MessageRate(f64),
    /// Payload bytes per second.
    Bandwidth(f64),
    /// Sizes where the transport won, of the sizes judged.
    Sizes {
        /// Won.
        won: usize,
        /// Judged.
        judged: usize,
    },
}

/// What a target's figure is held against.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// A named figure: a floor ("cache line"), a transport, or the fastest
    /// transport of another workload ("pipe fanout4").
    Named(String, Quantity),
    /// A bare limit.
    Limit(Quantity),
    /// A transport to beat at every size, and the sizes where the target's
    /// transport was not ahead of it.
    Rival {
        /// The transport to beat.
        name: String,
        /// Sizes not won, ascending.
        not_ahead_at: Vec<u64>,
    },
}

/// How the figure compares with the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Score {
    /// Figure ÷ reference for times, reference ÷ figure or figure ÷ limit
    /// for rates: the multiple the target's ratio bounds.
    Multiple(f64),
    /// Figure − reference, ns (negative: below it).
    Excess(f64),
    /// Sizes won of sizes judged.
    Count {
        /// Won.
        won: usize,
        /// Judged.
        judged: usize,
    },
}

/// Why a target could not be judged in this run.
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    /// A Python target, and the run has no Python baseline beside it.
    PythonBaseline,
    /// The target's own cell (its transport at this size).
    Cell {
        /// Transport.
        transport: String,
        /// Size, bytes.
        size: u64,
    },
    /// The floor, limit or transport it is held against.
    Reference(String),
    /// Any cell of the workload whose best rate it is held against.
    BestIn(Workload),
    /// The cell of the transport it is held against.
    Rival(String),
    /// Cells of the transport to beat at every size.
    RivalCells(String),
}

/// The outcome of one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Judged.
    Measured {
        /// The target's own figure.
        figure: Quantity,
        /// What it is held against.
        against: Reference,
        /// How they compare.
        score: Score,
        /// Whether the target is met.
        met: bool,
    },
    /// Not judged in this run.
    NotMeasured(Missing),
}

/// A target's cells: its workload, placement and metric, in its transport's
/// codec (`raw`, or the Python baseline's `pickle`, for the seed workload).
fn matches(c: &Cell, t: &Target, transport: &str) -> bool {
    c.status == Status::Ok
        && results::index::label(c) == transport
        && c.workload == t.workload
        && c.placement == t.placement
        && c.metric == t.metric
        && (c.codec == Codec::Raw || c.codec == Codec::Pickle || t.workload != Workload::Seed)
}

fn cell<'a>(r: &'a Results, t: &Target, transport: &str, size: u64) -> Option<&'a Cell> {
    r.cells
        .iter()
        .find(|c| matches(c, t, transport) && c.size_bytes == size)
}

fn floors(r: &Results, placement: Placement) -> Option<&Floors> {
    r.floors.iter().find(|f| f.placement == placement)
}

/// A rate (a throughput cell's ns per message) held against the best any
/// transport reached in `workload` at the target's placement, size and
/// metric: met when the rate ratio ≥ the target's ratio.
fn best_rate_in(r: &Results, t: &Target, figure: f64, workload: Workload) -> Outcome {
    let best = r
        .cells
        .iter()
        .filter(|c| {
            c.status == Status::Ok
                && c.workload == workload
                && c.placement == t.placement
                && c.metric == t.metric
                && c.size_bytes == t.size_bytes
        })
        .filter(|c| c.median() > 0.0)
        .min_by(|a, b| a.median().total_cmp(&b.median()));
    match best {
        Some(b) => rate_against(t, figure, format!("{} {workload}", b.transport), b.median()),
        None => Outcome::NotMeasured(Missing::BestIn(workload)),
    }
}

/// A rate held against another rate, both as ns per message: the rate
/// ratio is the inverse of the time ratio; met when it is ≥ the target's.
fn rate_against(t: &Target, figure: f64, label: String, reference: f64) -> Outcome {
    let ratio = reference / figure;
    Outcome::Measured {
        figure: Quantity::MessageRate(figure),
        against: Reference::Named(label, Quantity::MessageRate(reference)),
        score: Score::Multiple(ratio),
        met: ratio >= t.ratio,
    }
}

/// A time held against a reference time: met when figure ÷ reference ≤ ratio.
fn time_against(t: &Target, figure: f64, reference: Option<f64>, label: &str) -> Outcome {
    match reference {
        Some(x) if x > 0.0 => {
            let ratio = figure / x;
            Outcome::Measured {
                figure: Quantity::Time(figure),
                against: Reference::Named(label.to_owned(), Quantity::Time(x)),
                score: Score::Multiple(ratio),
                met: ratio <= t.ratio,
            }
        }
        _ => Outcome::NotMeasured(Missing::Reference(label.to_owned())),
    }
}

/// Counts the sizes where `t.transport` beats `other` by a decisive verdict
/// or, with `ties`, where `other` does not beat it by one.
fn beats_at_every_size(r: &Results, t: &Target, other: &str, ties: bool) -> Outcome {
    let mut sizes: Vec<u64> = r
        .cells
        .iter()
        .filter(|c| matches(c, t, &t.transport))
        .map(|c| c.size_bytes)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let (mut won, mut judged, mut not_ahead_at) = (0, 0, Vec::new());
    for &size in &sizes {
        let (Some(a), Some(b)) = (cell(r, t, &t.transport, size), cell(r, t, other, size)) else {
            continue;
        };
        judged += 1;
        // Without an interval (too few trials) neither a win nor a tie is shown.
        let ok = if ties {
            verdict::ratio(b, a).is_some_and(|behind| !behind.decisive())
        } else {
            verdict::ratio(a, b).is_some_and(|ahead| ahead.decisive())
        };
        if ok {
            won += 1;
        } else {
            not_ahead_at.push(size);
        }
    }
    if judged == 0 {
        return Outcome::NotMeasured(Missing::RivalCells(other.to_owned()));
    }
    Outcome::Measured {
        figure: Quantity::Sizes { won, judged },
        against: Reference::Rival {
            name: other.to_owned(),
            not_ahead_at,
        },
        score: Score::Count { won, judged },
        met: won == judged,
    }
}

/// Judges one target against a run and the Python baseline beside it.
pub fn check(rust: &Results, python: Option<&Results>, t: &Target) -> Outcome {
    let r = if t.python { python } else { Some(rust) };
    let Some(r) = r else {
        return Outcome::NotMeasured(Missing::PythonBaseline);
    };
    match &t.against {
        // Judged over every size, not the target's one.
        Against::BeatsAtEverySize(other) => return beats_at_every_size(r, t, other, false),
        Against::NotBehindAtEverySize(other) => return beats_at_every_size(r, t, other, true),
        _ => {}
    }
    let Some(c) = cell(r, t, &t.transport, t.size_bytes) else {
        return Outcome::NotMeasured(Missing::Cell {
            transport: t.transport.clone(),
            size: t.size_bytes,
        });
    };
    let figure = c.median();
    let floor = floors(rust, t.placement);
    match &t.against {
        Against::BeatsAtEverySize(other) => beats_at_every_size(r, t, other, false),
        Against::NotBehindAtEverySize(other) => beats_at_every_size(r, t, other, true),
        Against::SameTransportAt(size) => match cell(r, t, &t.transport, *size) {
            Some(own) => time_against(
                t,
                figure,
                Some(own.median()),
                &format!("{} at {size} B", t.transport),
            ),
            None => Outcome::NotMeasured(Missing::Cell {
                transport: t.transport.clone(),
                size: *size,
            }),
        },
        Against::FillVerifyFloor => {
            match floor.and_then(|f| f.fill_verify.iter().find(|v| v.size_bytes == t.size_bytes)) {
                Some(v) => rate_against(t, figure, "fill + verify".to_owned(), v.floor_ns()),
                None => Outcome::NotMeasured(Missing::Reference("fill + verify floor".to_owned())),
            }
        }
        Against::OwnIn(workload) => {
            let own = Target {
                workload: *workload,
                metric: workload.primary_metric(),
                ..t.clone()
            };
            let name = results::index::unlabel(&t.transport).0;
            time_against(
                t,
                figure,
                cell(r, &own, name, t.size_bytes).map(Cell::median),
                &format!("{name} {workload}"),
            )
        }
        Against::PythonRateOf(other) => {
            match python.and_then(|py| cell(py, t, other, t.size_bytes)) {
                Some(o) => rate_against(t, figure, format!("py {other}"), o.median()),
                None if python.is_none() => Outcome::NotMeasured(Missing::PythonBaseline),
                None => Outcome::NotMeasured(Missing::Rival(format!("py {other}"))),
            }
        }
        Against::CachelineFloor => time_against(
            t,
            figure,
            floor
                .and_then(|f| f.cacheline_rtt.as_ref())
                .map(|s| s.p50_ns),
            "cache line",
        ),
        Against::CachelineBatchFloor => time_against(
            t,
            figure,
            floor.and_then(|f| f.cacheline_rtt_batch_ns),
            "batch-timed cache line",
        ),
        Against::RawPipeFloor => time_against(
            t,
            figure,
            floor
                .and_then(|f| f.raw_pipe_rtt.as_ref())
                .map(|s| s.p50_ns),
            "raw pipe",
        ),
        Against::PlainExample => time_against(
            t,
            figure,
            floor
                .and_then(|f| f.plain_example.as_ref())
                .and_then(|p| p.per_rtt.as_ref())
                .map(|s| s.p50_ns),
            "plain example",
        ),
        Against::Memcpy => {
            // A Python target is held against one copy into the queue's own
            // memory, which the baseline measures beside its cells (its
            // floors): not the run's private-to-private copy.
            let source = if t.python { r } else { rust };
            time_against(
                t,
                figure,
                floors(source, t.placement)
                    .and_then(|f| f.memcpy.iter().find(|m| m.size_bytes == t.size_bytes))
                    .map(|m| m.p50_ns),
                if t.python {
                    "memcpy into the queue's memory"
                } else {
                    "memcpy"
                },
            )
        }
        Against::Transport(other) => time_against(
            t,
            figure,
            cell(r, t, other, t.size_bytes).map(Cell::median),
            other,
        ),
        Against::Nanoseconds(ns) => time_against(t, figure, Some(*ns), "limit"),
        Against::BytesPerSecond(limit) => {
            let bps = 1e9 / figure * t.size_bytes as f64;
            let ratio = bps / limit;
            Outcome::Measured {
                figure: Quantity::Bandwidth(bps),
                against: Reference::Limit(Quantity::Bandwidth(*limit)),
                score: Score::Multiple(ratio),
                met: ratio >= t.ratio,
            }
        }
        Against::RateOf(other) => match cell(r, t, other, t.size_bytes) {
            Some(o) => rate_against(t, figure, other.clone(), o.median()),
            None => Outcome::NotMeasured(Missing::Rival(other.clone())),
        },
        Against::BestRateIn(workload) => best_rate_in(r, t, figure, *workload),
        Against::ExcessOver(other) => match cell(rust, t, other, t.size_bytes) {
            Some(o) => {
                let excess = figure - o.median();
                Outcome::Measured {
                    figure: Quantity::Time(figure),
                    against: Reference::Named(other.clone(), Quantity::Time(o.median())),
                    score: Score::Excess(excess),
                    met: excess <= t.ratio,
                }
            }
            None => Outcome::NotMeasured(Missing::Rival(other.clone())),
        },
    }
}
