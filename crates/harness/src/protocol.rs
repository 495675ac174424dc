//! The role line protocol, one typed line per message between the supervisor
//! and a role process (see [`crate::role`] for when each is sent). Written
//! with `Display`, read with `FromStr`, so both ends share one spelling.

use std::fmt;
use std::str::FromStr;

/// One line of the role protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Role to supervisor, consumer only, once listening: the endpoint's
    /// public part and, after `#`, its secret (see `Endpoint::public`).
    Endpoint(String),
    /// Role to supervisor: this many sizes are finished.
    Progress(usize),
    /// Role to supervisor, last: the measurements as JSON (`RoleOutput`).
    Result(String),
    /// Supervisor to consumer, on its stdin once the producer runs: the only
    /// process the consumer's listener admits.
    Peer(u32),
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Endpoint(ep) => write!(f, "ENDPOINT {ep}"),
            Self::Progress(n) => write!(f, "PROGRESS {n}"),
            Self::Result(json) => write!(f, "RESULT {json}"),
            Self::Peer(pid) => write!(f, "PEER {pid}"),
        }
    }
}

/// A line that is not one of the protocol's, quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a role protocol line (ENDPOINT, PROGRESS, RESULT or PEER): {0:?}")]
pub struct BadLine(pub String);

impl FromStr for Line {
    type Err = BadLine;

    fn from_str(line: &str) -> Result<Self, BadLine> {
        let bad = || BadLine(line.to_owned());
        let (word, rest) = line.split_once(' ').ok_or_else(bad)?;
        match word {
            "ENDPOINT" if !rest.is_empty() => Ok(Self::Endpoint(rest.to_owned())),
            "PROGRESS" => rest.parse().map(Self::Progress).map_err(|_| bad()),
            "RESULT" if !rest.is_empty() => Ok(Self::Result(rest.to_owned())),
            "PEER" => rest.parse().map(Self::Peer).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_round_trips() {
        for line in [
            Line::Endpoint("tcp:127.0.0.1:4242".into()),
            Line::Endpoint("uds:@ipcbench-x y".into()),
            Line::Progress(0),
            Line::Progress(17),
            Line::Result(r#"{"sizes":[]}"#.into()),
            Line::Peer(4242),
        ] {
            assert_eq!(line.to_string().parse::<Line>(), Ok(line.clone()), "{line}");
        }
    }

    #[test]
    fn other_lines_are_refused_and_quoted() {
        for bad in [
            "",
            "ENDPOINT",
            "ENDPOINT ",
            "PROGRESS x",
            "PROGRESS -1",
            "RESULT ",
            "PEER 1.5",
            "HELLO 1",
            "running 1 test",
        ] {
            let err = bad.parse::<Line>().expect_err(bad);
            assert_eq!(err, BadLine(bad.to_owned()));
            assert!(err.to_string().contains(&format!("{bad:?}")));
        }
    }
}
