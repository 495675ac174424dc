//! Which transports lend a producer their memory (a loan: the producer
//! fills it and publishes it, no copy), written once for the report and the
//! judge. Runs record it per transport (`TransportInfo::max_loan`); this
//! list answers for files that do not, and for the Python baseline's queues.

/// Transports whose senders can loan (`Capabilities::max_loan > 0`), as the
/// harness registry declares them; the registry's tests keep the two equal.
pub const LOANING: &[&str] = &[
    "shm-spin",
    "shm-adaptive",
    "shm-block",
    "shm-queue",
    "iceoryx2",
    "iceoryx2-block",
    "ipc-channel-shmem",
];

/// The Python baseline's hand-over queues whose producer fills memory the
/// queue lends: `ipcbench.Queue.array` (`ipcbench-loan`) and a torch tensor
/// in shared memory moved by handle (`torch`).
pub const LOANING_PYTHON: &[&str] = &["ipcbench-loan", "torch"];

/// Whether `transport` loans, by name: [`LOANING`] or [`LOANING_PYTHON`].
pub fn loans(transport: &str) -> bool {
    LOANING.contains(&transport) || LOANING_PYTHON.contains(&transport)
}

#[cfg(test)]
mod tests {
    use crate::schema::{Results, TransportInfo};

    #[test]
    fn a_recorded_loan_limit_wins_over_the_list() {
        let mut r: Results = serde_json::from_str(
            r#"{"schema_version":2,"environment":{"tool":"","cpu_model":"","cores":2,"kernel":"",
            "rustc":"","git_commit":"","date":"","command_line":"","virtualization":"",
            "governor":"","clock_overhead_ns":0.0,"extra":[]},
            "config":{"trials":1,"messages":1,"warmup_ms":0,"placements":["split"]},"cells":[]}"#,
        )
        .expect("a minimal file");
        assert!(r.loans("shm-spin") && r.loans("ipcbench-loan"));
        assert!(!r.loans("pipe") && !r.loans("ipcbench"));
        r.transports = vec![
            TransportInfo {
                name: "shm-spin".into(),
                max_loan: Some(0),
                ..TransportInfo::default()
            },
            TransportInfo {
                name: "pipe".into(),
                max_loan: Some(1 << 20),
                ..TransportInfo::default()
            },
            // Recorded without the field: the list decides.
            TransportInfo {
                name: "iceoryx2".into(),
                ..TransportInfo::default()
            },
        ];
        assert!(!r.loans("shm-spin"));
        assert!(r.loans("pipe"));
        assert!(r.loans("iceoryx2"));
    }
}
