//! Where producer and consumer run: `split` (own cores), `same` (one core),
//! `none` (left to the scheduler), and the pinning that makes it so.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use results::vocab::{PLACEMENTS as ALL, Placement};

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

/// The core a role is pinned to under a placement, if any.
pub fn core_for(placement: Placement, role: Role) -> Option<usize> {
    match (placement, role) {
        (Placement::Split, Role::Producer) | (Placement::Same, _) => Some(0),
        (Placement::Split, Role::Consumer) => Some(1),
        (Placement::None, _) => None,
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
            core_for(Placement::Split, Role::Producer),
            core_for(Placement::Split, Role::Consumer)
        );
        assert_eq!(
            core_for(Placement::Same, Role::Producer),
            core_for(Placement::Same, Role::Consumer)
        );
        assert_eq!(core_for(Placement::None, Role::Producer), None);
    }
}
