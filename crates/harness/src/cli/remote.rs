//! `run --remote HOST:PORT --token T`: the arguments, checked against the
//! run's transports and workloads before anything starts, and the session
//! with `ipcbench serve` they open (see [`crate::remote`]).

use anyhow::{Result, bail};
use clap::Args;

use super::Usage;
use crate::registry::Backend;
use crate::remote::WORKLOADS;
use crate::remote::client::Session;
use crate::workload::Workload;

#[derive(Debug, Clone, Default, Args)]
pub(super) struct RemoteArgs {
    /// Run each trial's consumer on another host, where `ipcbench serve` listens at
    /// HOST:PORT; the producer runs here. Takes the transports that cross hosts (tcp, quic)
    /// and the workloads seed, pingpong and stream; only metrics timed on one clock are
    /// reported (docs/methodology.md, "Across hosts").
    #[arg(long, value_name = "HOST:PORT")]
    remote: Option<String>,
    /// The token `ipcbench serve` printed (with --remote).
    #[arg(long, value_name = "TOKEN", requires = "remote")]
    token: Option<String>,
    /// How the two hosts are joined, in words, recorded in the results (with --remote).
    /// Example: --link "veth pair between two network namespaces"
    #[arg(long, value_name = "TEXT", requires = "remote")]
    link: Option<String>,
    /// The delay added on each end of the link (netem), in microseconds, recorded in the
    /// results: the report shows such a run beside the undelayed one (with --remote).
    #[arg(long, value_name = "MICROSECONDS", requires = "remote", value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    added_delay_us: Option<u32>,
    /// Why no run with an added delay accompanies this one, recorded in the results and
    /// shown in the report's delayed columns (with --remote).
    #[arg(long, value_name = "REASON", requires = "remote")]
    delay_not_measured: Option<String>,
}

/// The session, when `--remote` is given: the run's transports and
/// workloads checked (bad ones are a usage error naming the valid ones),
/// then connected and admitted.
/// Without `--transport`, a remote run takes every transport that crosses
/// hosts (`transports` is then narrowed to them).
pub(super) fn open(
    args: &RemoteArgs,
    transports: &mut Vec<&'static Backend>,
    transport_given: bool,
    workloads: &[Workload],
) -> Result<Option<Session>> {
    let Some(server) = &args.remote else {
        return Ok(None);
    };
    if !transport_given {
        transports.retain(|b| b.crosses_hosts);
    }
    let Some(token) = &args.token else {
        bail!(Usage(format!(
            "--remote {server} needs --token: the token `ipcbench serve` printed when it started"
        )));
    };
    let valid: Vec<&str> = crate::registry::BACKENDS
        .iter()
        .filter(|b| b.crosses_hosts)
        .map(|b| b.name)
        .collect();
    for b in transports {
        if !b.crosses_hosts {
            bail!(Usage(format!(
                "transport {} cannot cross hosts; with --remote pass --transport with: {}",
                b.name,
                valid.join(", ")
            )));
        }
    }
    for w in workloads {
        if !WORKLOADS.contains(w) {
            let names: Vec<String> = WORKLOADS.iter().map(ToString::to_string).collect();
            bail!(Usage(format!(
                "workload {w} does not run across hosts; with --remote pass --workload with: {}",
                names.join(", ")
            )));
        }
    }
    Session::open(server, token).map(Some)
}

/// The environment entries a remote run's results carry: where the
/// consumers ran, and what the flags said of the link
/// (`results::remote`'s keys).
pub(super) fn environment_entries(args: &RemoteArgs, s: &Session) -> Vec<(String, String)> {
    let mut v = vec![remote_entry(s)];
    let link = [
        (results::remote::LINK, args.link.clone()),
        (
            results::remote::ADDED_DELAY_US,
            args.added_delay_us.map(|d| d.to_string()),
        ),
        (
            results::remote::DELAY_NOT_MEASURED,
            args.delay_not_measured.clone(),
        ),
    ];
    v.extend(
        link.into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?))),
    );
    v
}

fn remote_entry(s: &Session) -> (String, String) {
    (
        results::remote::REMOTE.to_owned(),
        format!(
            "consumers on {} (ipcbench serve {} at {}); producers on this host; only metrics \
             timed on one clock: pingpong rtt, stream throughput, seed total through the \
             acknowledgement",
            s.host, s.version, s.server
        ),
    )
}
