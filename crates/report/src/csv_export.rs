//! The run as CSV for spreadsheets and dataframes: one row per cell, every
//! field, numbers in full precision.

use results::schema::{Results, Status};

/// Column names, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "transport",
    "codec",
    "workload",
    "placement",
    "size_bytes",
    "metric",
    "status",
    "error",
    "trials",
    "n",
    "mean_ns",
    "sd_ns",
    "ci95_low_ns",
    "ci95_high_ns",
    "p50_ns",
    "p90_ns",
    "p99_ns",
    "p999_ns",
    "min_ns",
    "max_ns",
    "outliers",
    "trial_means_ns",
    "msgs_per_s",
    "bytes_per_s",
    "cpu_producer_ns",
    "cpu_consumer_ns",
    "workers",
    "offered_msgs_per_s",
    "note",
];

/// One row per cell with a header row. Absent optional values are empty;
/// `trial_means_ns` is `;`-separated; fields are quoted as RFC 4180 asks.
pub fn to_csv(results: &Results) -> String {
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let mut out = String::new();
    push_row(&mut out, CSV_COLUMNS.iter().map(|s| (*s).to_owned()));
    for c in &results.cells {
        let s = &c.summary;
        push_row(
            &mut out,
            [
                c.transport.clone(),
                c.codec.to_string(),
                c.workload.to_string(),
                c.placement.to_string(),
                c.size_bytes.to_string(),
                c.metric.to_string(),
                match c.status {
                    Status::Ok => "ok".to_owned(),
                    Status::Failed => "failed".to_owned(),
                },
                c.error.clone().unwrap_or_default(),
                c.trials.to_string(),
                s.n.to_string(),
                s.mean_ns.to_string(),
                s.sd_ns.to_string(),
                opt(s.ci95_low_ns),
                opt(s.ci95_high_ns),
                s.p50_ns.to_string(),
                s.p90_ns.to_string(),
                s.p99_ns.to_string(),
                s.p999_ns.to_string(),
                s.min_ns.to_string(),
                s.max_ns.to_string(),
                s.outliers.to_string(),
                c.trial_means_ns
                    .iter()
                    .map(f64::to_string)
                    .collect::<Vec<_>>()
                    .join(";"),
                opt(c.msgs_per_s),
                opt(c.bytes_per_s),
                opt(c.cpu_producer_ns),
                opt(c.cpu_consumer_ns),
                c.workers.map(|w| w.to_string()).unwrap_or_default(),
                opt(c.offered_msgs_per_s),
                c.note.clone().unwrap_or_default(),
            ],
        );
    }
    out
}

fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push('\n');
}
