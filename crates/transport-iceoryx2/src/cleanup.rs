//! Each connection lives in an iceoryx2 *domain* of its own, so that
//! everything it creates in `/dev/shm` and `/tmp` can be found and removed.
//!
//! # What iceoryx2 creates (0.10, Linux, measured)
//!
//! Under the root path (`/tmp/iceoryx2/` by default): `nodes/<id>/` with
//! `*.node.details`, `*.service_tag` and `*.port_tag` files per node, node
//! monitor lock files `nodes/*.node_monitor*`, and `services/*.service`
//! (static service configs). In `/dev/shm`: per service a `*.dynamic`
//! segment, per publisher `*__mgmt.data` and `*__<n>.data` data segments (one
//! per growth of the segment), per connection a `*.connection` segment, and
//! one domain-wide `*_node.<version>.global_mgmt` counter (16 bytes).
//!
//! Dropping ports and nodes removes all of them except the `global_mgmt`
//! counter (iceoryx2 keeps it for the life of the domain) and the three
//! directories. With the default domain those would be shared with every
//! other iceoryx2 user on the machine, so this crate gives each connection its
//! own: file prefix `iox2ipcb<16 hex>_` and root path `/tmp/iox2ipcb<16 hex>/`.
//!
//! # Removal
//!
//! [`Guard`] runs after both halves of one side have dropped their nodes. It
//! lists the domain's nodes: dead ones (a peer that exited without dropping)
//! have their resources removed through iceoryx2; if no node is alive any more
//! (the peer has left too) it removes the remaining `/dev/shm` files with the
//! domain's prefix and the root directory. Whichever side leaves last does it.
//!
//! A run killed with SIGKILL on both sides cannot clean up; [`sweep_stale`]
//! (run once per process by the first `listen`) removes domains older than a
//! minute in which no node is alive.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use iceoryx2::config::Config;
use iceoryx2::prelude::*;

/// Every service name this crate creates starts with this.
pub const BASE_PREFIX: &str = "ipcbench/";

/// Start of every domain's file prefix and root directory name.
pub const DOMAIN_PREFIX: &str = "iox2ipcb";

const SHM_DIR: &str = "/dev/shm";
const ROOT_PARENT: &str = "/tmp";

/// Domains younger than this are never swept: their creator may not have
/// created its first node yet.
const SWEEP_MIN_AGE: Duration = Duration::from_secs(60);

/// One connection's iceoryx2 domain: a file prefix and a root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain(String);

impl Domain {
    /// A domain for a connection whose tag is `tag`, set up by process `pid`.
    pub fn for_tag(tag: &str, pid: u32) -> Self {
        Self(format!("{DOMAIN_PREFIX}{:016x}", fnv1a(tag, pid)))
    }

    /// Parses the domain id carried in an endpoint.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix(DOMAIN_PREFIX)?;
        (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(s.to_owned()))
    }

    /// The id as it appears in endpoints and file names.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn file_prefix(&self) -> String {
        format!("{}_", self.0)
    }

    fn root(&self) -> PathBuf {
        Path::new(ROOT_PARENT).join(&self.0)
    }

    /// The iceoryx2 configuration that puts every resource in this domain.
    pub fn config(&self) -> Result<Config, String> {
        let mut cfg = Config::default();
        cfg.global.prefix = FileName::new(self.file_prefix().as_bytes())
            .map_err(|e| format!("domain prefix {:?}: {e:?}", self.file_prefix()))?;
        let root = format!("{}/", self.root().display());
        cfg.global.set_root_path(
            &iceoryx2::prelude::Path::new(root.as_bytes())
                .map_err(|e| format!("domain root {root:?}: {e:?}"))?,
        );
        Ok(cfg)
    }

    /// Removes dead nodes' resources; if no node is left alive, removes
    /// everything else of the domain. Returns whether the domain is gone.
    fn clean(&self) -> bool {
        let Ok(cfg) = self.config() else {
            return false;
        };
        let mut others = 0usize;
        let listed = Node::<ipc::Service>::list(&cfg, |state| {
            match state {
                NodeState::Dead(view) => {
                    // A failure leaves it to the file removal below.
                    let _ = view.try_remove_stale_resources();
                }
                NodeState::Alive(_) | NodeState::Inaccessible(_) | NodeState::Undefined(_) => {
                    others += 1
                }
            }
            CallbackProgression::Continue
        });
        // Listing fails when the node directory is missing (nothing alive
        // there); any other failure leaves the domain alone.
        let nodes_dir = self.root().join(cfg.global.node.directory.to_string());
        if others > 0 || (listed.is_err() && nodes_dir.exists()) {
            return false;
        }
        let prefix = self.file_prefix();
        if let Ok(entries) = std::fs::read_dir(SHM_DIR) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(self.root());
        true
    }
}

/// Cleans up one side's share of a connection's domain when dropped.
#[derive(Debug)]
pub struct Guard(Domain);

impl Guard {
    /// Guards `domain` for one side of a connection.
    pub fn new(domain: Domain) -> Self {
        Self(domain)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.clean();
    }
}

/// Removes domains left behind by runs killed before they could clean up:
/// older than a minute and without a live node. Returns how many it removed.
pub fn sweep_stale() -> usize {
    let Ok(entries) = std::fs::read_dir(ROOT_PARENT) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(domain) = name.to_str().and_then(Domain::parse) else {
            continue;
        };
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > SWEEP_MIN_AGE);
        if old && domain.clean() {
            removed += 1;
        }
    }
    removed
}

/// FNV-1a, 64 bit: a stable hash that both processes compute alike.
fn fnv1a(tag: &str, pid: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes().chain(pid.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_round_trip_and_differ() {
        let a = Domain::for_tag("conf-1-2-3", 7);
        assert_eq!(Domain::parse(a.as_str()), Some(a.clone()));
        assert_ne!(a, Domain::for_tag("conf-1-2-4", 7));
        assert_ne!(a, Domain::for_tag("conf-1-2-3", 8));
        assert!(Domain::parse("iox2ipcb123").is_none());
        assert!(Domain::parse("iox2ipcbzzzzzzzzzzzzzzzz").is_none());
        assert!(a.config().is_ok());
    }
}
