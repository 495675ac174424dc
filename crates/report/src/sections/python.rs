//! details/python.md: the Python multiprocessing.Queue baseline on its own.

use crate::sections::*;

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
    for p in py.idx.placements("seed") {
        for codec in py.idx.codecs("seed", &p) {
            let g = group("seed", &p, &codec);
            for tr in py.idx.transports(g) {
                d.h(3, &format!("{tr} · codec {codec} · placement {p}"));
                crate::sections::seed::table(d, &py.idx, g, &tr, None);
            }
        }
    }
}
