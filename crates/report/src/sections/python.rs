//! details/python.md: the Python multiprocessing.Queue baseline on its own.

use crate::sections::*;
use results::schema::Workload;

/// The baseline's own seed tables and how it ran.
pub fn render(d: &mut Doc, py: &Python<'_>) {
    d.h(2, "Python baseline: multiprocessing.Queue");
    let r = py.idx.results;
    let e = &r.environment;
    let mut notes = vec![format!("Command: `{}`", e.command_line)];
    if !e.date.is_empty() {
        notes.push(format!("date {}", e.date));
    }
    notes.push(format!(
        "{} trial{} of {} messages",
        r.config.trials,
        plural(r.config.trials),
        r.config.messages
    ));
    for (k, v) in &e.extra {
        notes.push(format!("{k} = {v}"));
    }
    d.para(&format!(
        "`mp-queue`: producer and consumer in two processes in lockstep, as ipcbench runs \
         its seed workload; `mp-queue-inproc`: put then get in one process, as the seed \
         notebook ran it. Objects are pickled numpy int64 arrays.\n\n{}",
        notes.join("; ")
    ));
    for p in py.idx.placements(Workload::Seed) {
        for codec in py.idx.codecs(Workload::Seed, p) {
            let g = group(Workload::Seed, p, codec);
            for tr in py.idx.transports(g) {
                d.h(3, &format!("{tr} · codec {codec} · placement {p}"));
                crate::sections::seed::table(d, &py.idx, g, &tr, None);
            }
        }
    }
    crate::sections::python_handover::render(d, py);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn the_baseline_alone_has_its_seed_tables_and_how_it_ran() {
        let mut py = results(vec![
            cell("mp-queue", "seed", "split", 800, "put", 4_000.0),
            cell("mp-queue", "seed", "split", 800, "get", 60_000.0),
            cell("mp-queue", "seed", "split", 800, "total", 64_000.0),
        ]);
        py.environment.command_line = "python3 mpqueue_bench.py".into();
        let pyx = Python::new(&py);
        let mut d = Doc::default();
        render(&mut d, &pyx);
        assert!(d.out.contains("`python3 mpqueue_bench.py`"), "{}", d.out);
        assert!(
            d.out.contains("### mp-queue · codec raw · placement split"),
            "{}",
            d.out
        );
        assert!(d.out.contains("|            64.0 |"), "{}", d.out);
    }
}
