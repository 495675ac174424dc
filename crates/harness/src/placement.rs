//! Where producer and consumer run: `split` (own cores), `same` (one core),
//! `none` (left to the scheduler), and the pinning that makes it so.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A placement of the two processes on CPU cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Producer on core 0, consumer on core 1.
    Split,
    /// Both on core 0.
    Same,
    /// Not pinned.
    None,
}

/// Every placement, in report order.
pub const ALL: [Placement; 3] = [Placement::Split, Placement::Same, Placement::None];

/// The two processes of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sends the workload's messages; connects to the consumer's endpoint.
    Producer,
    /// Receives them; creates the transport.
    Consumer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        })
    }
}

impl Placement {
    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Split => "split",
            Self::Same => "same",
            Self::None => "none",
        }
    }

    /// The core a role is pinned to, if any.
    pub fn core_for(self, role: Role) -> Option<usize> {
        match (self, role) {
            (Self::Split, Role::Producer) | (Self::Same, _) => Some(0),
            (Self::Split, Role::Consumer) => Some(1),
            (Self::None, _) => None,
        }
    }

    /// Whether this machine has the cores the placement needs.
    pub fn supported(self, cores: usize) -> bool {
        match self {
            Self::Split => cores >= 2,
            Self::Same | Self::None => cores >= 1,
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown placement {s:?}; valid placements: split, same, none"))
    }
}

/// Pins the calling thread (and the threads it creates later) to `core`.
pub fn pin_current(core: usize) -> anyhow::Result<()> {
    let id = core_affinity::CoreId { id: core };
    anyhow::ensure!(
        core_affinity::set_for_current(id),
        "could not pin to core {core}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("split".parse::<Placement>(), Ok(Placement::Split));
        let err = "both".parse::<Placement>().expect_err("invalid");
        assert!(err.contains("both") && err.contains("split, same, none"));
    }

    #[test]
    fn split_uses_two_cores() {
        assert_ne!(
            Placement::Split.core_for(Role::Producer),
            Placement::Split.core_for(Role::Consumer)
        );
        assert_eq!(
            Placement::Same.core_for(Role::Producer),
            Placement::Same.core_for(Role::Consumer)
        );
    }
}
