//! The iceoryx2 services of a connection: one publish–subscribe service per
//! direction (plus an event service each for the blocking flavour), their
//! names, who creates and who opens them, and the endpoint that names them.

use iceoryx2::prelude::*;
use iceoryx2::service::port_factory::event::PortFactory as EventFactory;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory as PubSubFactory;
use transport::endpoint::Fields;
use transport::{Endpoint, OpenError, Options};

use crate::cleanup::{self, Domain};
use crate::{MAX_LOAN, MAX_QUEUE_DEPTH, MIN_QUEUE_DEPTH, QUEUE_BYTES};

/// The iceoryx2 flavour: inter-process, single-threaded reference counting.
pub(crate) type Svc = ipc::Service;
pub(crate) type Service = PubSubFactory<Svc, [u8], ()>;
pub(crate) type EventService = EventFactory<Svc>;

pub(crate) fn backend(what: &str, e: impl std::fmt::Debug) -> OpenError {
    OpenError::Backend(format!("iceoryx2: {what}: {e:?}"))
}

pub(crate) fn quiet_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| set_log_level_from_env_or(LogLevel::Error));
}

pub(crate) fn half_node(cfg: &Config) -> Result<Node<Svc>, OpenError> {
    NodeBuilder::new()
        .config(cfg)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Svc>()
        .map_err(|e| backend("creating node", e))
}

fn service_name(s: &str) -> Result<ServiceName, OpenError> {
    ServiceName::new(s).map_err(|e| backend(&format!("service name {s:?}"), e))
}

/// Chunks start at the expected size, so a run that states its largest
/// message never grows its segment (growing costs a new zeroed segment, and a
/// sample in a grown segment is lost if the sender drops before the receiver
/// has taken it; see the crate doc).
pub(crate) fn initial_slice_len(opts: &Options) -> usize {
    opts.expected_max_message.clamp(64, MAX_LOAN)
}

/// Queue depth for a connection: deep for small messages (streams of them
/// gain from it), shallow for large ones, whose segment holds `depth + 2`
/// chunks: [`QUEUE_BYTES`] / expected size, within
/// [`MIN_QUEUE_DEPTH`]..=[`MAX_QUEUE_DEPTH`] (16 up to 512 KiB, 8 at 1 MiB).
pub fn queue_depth(expected_max_message: usize) -> usize {
    (QUEUE_BYTES / expected_max_message.max(1)).clamp(MIN_QUEUE_DEPTH, MAX_QUEUE_DEPTH)
}

/// Which side creates the services.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The listener, which fixes the queue depth.
    Create { depth: usize },
    /// The connector, which takes what the listener fixed.
    Open,
}

pub(crate) fn make_service(
    node: &Node<Svc>,
    name: &ServiceName,
    role: Role,
) -> Result<Service, OpenError> {
    // Opening verifies only the properties set here, so the connector
    // insists on what the contract needs (no overflow, i.e. no silent loss)
    // and takes the rest from the listener.
    let b = node
        .service_builder(name)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false);
    match role {
        Role::Create { depth } => b
            .max_publishers(1)
            .max_subscribers(1)
            .max_nodes(2)
            .history_size(0)
            .subscriber_max_buffer_size(depth)
            .subscriber_max_borrowed_samples(1)
            .create()
            .map_err(|e| backend("creating service", e)),
        Role::Open => b.open().map_err(|e| backend("opening service", e)),
    }
}

pub(crate) fn make_events(
    node: &Node<Svc>,
    name: &ServiceName,
    role: Role,
) -> Result<EventService, OpenError> {
    let b = node.service_builder(name).event();
    match role {
        Role::Create { .. } => b
            .max_notifiers(1)
            .max_listeners(1)
            .max_nodes(2)
            .create()
            .map_err(|e| backend("creating event service", e)),
        Role::Open => b.open().map_err(|e| backend("opening event service", e)),
    }
}

/// Names of one direction's services.
pub(crate) struct Names {
    pub(crate) data: ServiceName,
    /// The event service, for flavours that block.
    pub(crate) events: Option<ServiceName>,
}

/// Service names of the listener-to-connector and connector-to-listener
/// directions.
pub(crate) fn names(base: &str, events: bool) -> Result<(Names, Names), OpenError> {
    let one = |dir: &str| -> Result<Names, OpenError> {
        Ok(Names {
            data: service_name(&format!("{base}/{dir}"))?,
            events: match events {
                true => Some(service_name(&format!("{base}/{dir}-events"))?),
                false => None,
            },
        })
    };
    Ok((one("l2c")?, one("c2l")?))
}

/// Splits `<scheme>:<pid>:<domain>:<base>` into its parts.
pub(crate) fn parse_endpoint<'a>(
    endpoint: &'a Endpoint,
    scheme: &str,
) -> Result<(u32, Domain, &'a str), OpenError> {
    let mut fields = Fields::read(
        endpoint,
        "<iceoryx2 variant>:<pid>:<domain>:ipcbench/<base>",
    );
    fields.scheme(scheme)?;
    let pid = fields.pid()?;
    let domain = fields.next("domain")?;
    let domain = Domain::parse(domain).ok_or_else(|| fields.bad("domain", domain))?;
    let base = fields.rest("base")?;
    fields.check("base", base, base.starts_with(cleanup::BASE_PREFIX))?;
    Ok((pid, domain, base))
}
