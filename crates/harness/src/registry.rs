//! The registry: the one place that names concrete backends. Adding a backend
//! to ipcbench is one line in [`BACKENDS`] (plus its crate in Cargo.toml).

use anyhow::Result;
use transport::{Capabilities, Transport};

use crate::role::{self, Control, RoleOutput, RoleSpec};

/// A backend with its type erased: the hot loops inside `run_role` are still
/// monomorphised for the concrete transport.
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    /// Name users type and reports print.
    pub name: &'static str,
    /// The backend it is a variant of (see `Transport::BACKEND`).
    pub backend: &'static str,
    /// One line for `ipcbench list`.
    pub description: &'static str,
    /// The backend's declared capabilities.
    pub capabilities: fn() -> Capabilities,
    /// Runs one role of a pair over this transport.
    pub run_role: fn(&RoleSpec, &mut Control) -> Result<RoleOutput>,
    /// Part of the default run (`--transport default`, which the default
    /// preset gives); false: only in runs that name it or take every
    /// transport (`--full`, `--quick`), which keeps the default run's time.
    pub in_default: bool,
    /// Can link processes on two hosts (`Transport::CROSSES_HOSTS`): what
    /// `run --remote` takes.
    pub crosses_hosts: bool,
}

const fn entry<T: Transport>() -> Backend {
    Backend {
        name: T::NAME,
        backend: T::BACKEND,
        description: T::DESCRIPTION,
        capabilities: T::capabilities,
        run_role: role::run::<T>,
        in_default: true,
        crosses_hosts: T::CROSSES_HOSTS,
    }
}

/// A backend outside the default run (see [`Backend::in_default`]).
const fn full_only<T: Transport>() -> Backend {
    Backend {
        in_default: false,
        ..entry::<T>()
    }
}

/// The name `--transport` takes for every backend of the default run.
pub const DEFAULT_GROUP: &str = "default";

/// Every backend, in report order: by family (kernel byte streams, sockets
/// and the network protocols over them, kernel message queues, shared
/// memory, libraries, async runtimes).
pub const BACKENDS: &[Backend] = &[
    entry::<transport_pipe::PipeDefault>(),
    entry::<transport_pipe::Pipe1M>(),
    entry::<transport_uds::Uds>(),
    entry::<transport_seqpacket::SeqPacket>(),
    full_only::<transport_unix_dgram::UnixDgram>(),
    entry::<transport_interprocess::Interprocess>(),
    entry::<transport_tcp::Tcp>(),
    full_only::<transport_udp::Udp>(),
    full_only::<transport_quic::Quic>(),
    full_only::<transport_mq::Mq>(),
    entry::<transport_shm::ShmSpin>(),
    entry::<transport_shm::ShmAdaptive>(),
    entry::<transport_shm::ShmBlock>(),
    entry::<transport_shm::ShmLine>(),
    entry::<shm_queue::ShmQueue>(),
    entry::<transport_shm_crate::ShmCrate>(),
    entry::<transport_iceoryx2::Iceoryx2>(),
    entry::<transport_iceoryx2::Iceoryx2Block>(),
    entry::<transport_ipc_channel::IpcChannelBytes>(),
    entry::<transport_ipc_channel::IpcChannelTyped>(),
    entry::<transport_ipc_channel::IpcChannelShmem>(),
    entry::<transport_tokio::TokioUds>(),
    full_only::<transport_tokio::TokioUdsMt>(),
    entry::<transport_tokio::TokioPipe>(),
    full_only::<transport_tokio::TokioPipeMt>(),
];

/// Looks a backend up by name.
pub fn find(name: &str) -> Option<&'static Backend> {
    BACKENDS.iter().find(|b| b.name == name)
}

/// What the results file records of each transport in a run.
pub fn describe(backends: &[&Backend]) -> Vec<results::TransportInfo> {
    backends
        .iter()
        .map(|b| {
            let caps = (b.capabilities)();
            results::TransportInfo {
                name: b.name.to_owned(),
                backend: b.backend.to_owned(),
                description: b.description.to_owned(),
                wait: wait_name(caps.wait),
                max_message_size: u64::try_from(caps.max_message_size).unwrap_or(u64::MAX),
                zero_copy_recv: caps.zero_copy_recv,
                max_loan: Some(u64::try_from(caps.max_loan).unwrap_or(u64::MAX)),
            }
        })
        .collect()
}

/// The backends of the default run.
pub fn default_run() -> Vec<&'static Backend> {
    BACKENDS.iter().filter(|b| b.in_default).collect()
}

/// All names, for error messages.
pub fn names() -> Vec<&'static str> {
    BACKENDS.iter().map(|b| b.name).collect()
}

/// The results' name of a backend's wait strategy.
fn wait_name(w: transport::WaitStrategy) -> results::WaitStrategy {
    match w {
        transport::WaitStrategy::Block => results::WaitStrategy::Block,
        transport::WaitStrategy::Spin => results::WaitStrategy::Spin,
        transport::WaitStrategy::Adaptive => results::WaitStrategy::Adaptive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report marks loaning transports by what a run records, and by
    /// `results::loans::LOANING` for files that predate the record: the
    /// list must name exactly the registry's loaning transports.
    #[test]
    fn the_list_of_loaning_transports_is_the_registrys() {
        let mut declared: Vec<&str> = BACKENDS
            .iter()
            .filter(|b| (b.capabilities)().max_loan > 0)
            .map(|b| b.name)
            .collect();
        let mut listed = results::loans::LOANING.to_vec();
        declared.sort_unstable();
        listed.sort_unstable();
        assert_eq!(declared, listed);
    }

    #[test]
    fn names_are_unique_and_nonempty() {
        let mut names = names();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate backend names");
        assert!(
            BACKENDS
                .iter()
                .all(|b| !b.name.is_empty() && !b.description.is_empty())
        );
        assert!(find("pipe").is_some());
        assert!(find("carrier-pigeon").is_none());
    }

    #[test]
    fn the_default_run_leaves_out_only_the_full_only_backends() {
        let default: Vec<&str> = default_run().iter().map(|b| b.name).collect();
        assert!(default.contains(&"pipe") && default.contains(&"shm-spin"));
        assert!(default.contains(&"tokio-uds") && default.contains(&"tokio-pipe"));
        for full in [
            "mq",
            "unix-dgram",
            "udp",
            "quic",
            "tokio-uds-mt",
            "tokio-pipe-mt",
        ] {
            assert!(!default.contains(&full), "{full} is in the default run");
        }
        assert!(find("mq").is_some_and(|b| !b.in_default));
        assert!(
            !names().contains(&DEFAULT_GROUP),
            "a backend may not be called {DEFAULT_GROUP}"
        );
    }

    #[test]
    fn families_are_contiguous() {
        // The report lists backends in this order: each family in one run.
        let family = |name: &str| match name {
            n if n.starts_with("pipe") => 0,
            "uds" | "uds-seqpacket" | "unix-dgram" | "interprocess" | "tcp" | "udp" | "quic" => 1,
            "mq" => 2,
            n if n.starts_with("shm") => 3,
            n if n.starts_with("iceoryx2") || n.starts_with("ipc-channel") => 4,
            n if n.starts_with("tokio") => 5,
            other => panic!("{other}: say which family it belongs to"),
        };
        let order: Vec<u8> = BACKENDS.iter().map(|b| family(b.name)).collect();
        assert!(order.is_sorted(), "{:?}", names());
    }

    #[test]
    fn variants_of_one_backend_are_named_after_it() {
        // The report groups variants by backend, so a backend's name must
        // be a prefix of each variant's: a reader sees the grouping.
        for b in BACKENDS {
            assert!(
                b.name.starts_with(b.backend),
                "{} is in {}",
                b.name,
                b.backend
            );
        }
        let shm: Vec<&str> = BACKENDS
            .iter()
            .filter(|b| b.backend == "shm")
            .map(|b| b.name)
            .collect();
        assert_eq!(shm, ["shm-spin", "shm-adaptive", "shm-block", "shm-line"]);
        let info = describe(&[find("shm-spin").expect("shm-spin")]);
        assert_eq!(info[0].backend, "shm");
        assert_eq!(info[0].wait, results::WaitStrategy::Spin);
    }
}
