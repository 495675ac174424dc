//! Admitting only the expected peer: how a connection-based listener tells the
//! process it waits for from anyone else on the machine who connects first.
//!
//! A listening name is public (abstract Unix names appear in /proc/net/unix,
//! loopback ports in /proc/net/tcp), so any local process can connect before
//! the real peer does. Every connection-based listener runs its accepted
//! connections through a [`Gate`]: a Unix socket is judged by its
//! `SO_PEERCRED` (same user as us, and the expected pid once
//! [`Listener::expect_peer`](crate::Listener::expect_peer) named it), a TCP
//! connection by the secret token its endpoint carries (see
//! [`Endpoint::public`](crate::Endpoint::public)). A refused connection is
//! closed and the listener goes back to waiting for the real peer until its
//! deadline; if the deadline passes, [`OpenError::Refused`] names whoever was
//! turned away.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

use crate::{OpenError, wait_readable};

/// Length of a secret token, in hex digits (128 random bits).
pub const TOKEN_LEN: usize = 32;

/// A fresh secret token for an endpoint's private part (after its `#`,
/// see [`Endpoint::public`](crate::Endpoint::public)): 128 bits from the
/// kernel's random source, as hex digits. A backend that anyone can reach
/// by name and that cannot ask the kernel who is on the other end (TCP,
/// UDP, POSIX queues) admits only a connector that sends it.
pub fn random_token() -> Result<[u8; TOKEN_LEN], OpenError> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut raw = [0u8; TOKEN_LEN / 2];
    rustix::rand::getrandom(&mut raw, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| OpenError::io("getrandom", e.into()))?;
    let mut token = [0u8; TOKEN_LEN];
    for (pair, byte) in token.chunks_exact_mut(2).zip(raw) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    Ok(token)
}

/// Whether `got` is `token`, comparing every byte so that the time taken
/// does not tell how long a matching prefix was.
pub fn same_token(got: &[u8], token: &[u8; TOKEN_LEN]) -> bool {
    got.len() == TOKEN_LEN && got.iter().zip(token).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Who is on the other end of a connection, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// The peer's process id (at the time it connected).
    pub pid: u32,
    /// The peer's effective user id.
    pub uid: u32,
}

impl PeerCred {
    /// The `SO_PEERCRED` of a connected Unix-domain socket.
    pub fn of_unix_socket(fd: impl AsFd) -> Result<Self, OpenError> {
        let cred = rustix::net::sockopt::socket_peercred(fd)
            .map_err(|e| OpenError::io("getsockopt SO_PEERCRED", e.into()))?;
        Ok(Self {
            pid: cred.pid.as_raw_nonzero().get().unsigned_abs(),
            uid: cred.uid.as_raw(),
        })
    }

    /// The owner of the loopback TCP socket bound to `addr` (the far end of
    /// a connection we accepted), found through /proc: its uid always, its
    /// pid only if the process is ours to inspect. `None` if no such socket
    /// is listed (it closed in the meantime).
    pub fn of_loopback_tcp(addr: SocketAddrV4) -> Option<(u32, Option<u32>)> {
        Self::of_loopback_socket("/proc/net/tcp", addr)
    }

    /// As [`PeerCred::of_loopback_tcp`], for the UDP socket bound to
    /// `addr` (the sender of a datagram we received).
    pub fn of_loopback_udp(addr: SocketAddrV4) -> Option<(u32, Option<u32>)> {
        Self::of_loopback_socket("/proc/net/udp", addr)
    }

    fn of_loopback_socket(table: &str, addr: SocketAddrV4) -> Option<(u32, Option<u32>)> {
        let table = std::fs::read_to_string(table).ok()?;
        let (uid, inode) = table.lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 9 && parse_proc_addr(f[1])? == addr).then(|| (f[7], f[9]))
        })?;
        let uid = uid.parse().ok()?;
        let link = format!("socket:[{inode}]");
        let pid = std::fs::read_dir("/proc").ok()?.flatten().find_map(|p| {
            let pid: u32 = p.file_name().to_str()?.parse().ok()?;
            let fds = std::fs::read_dir(p.path().join("fd")).ok()?;
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == &*link))
                .then_some(pid)
        });
        Some((uid, pid))
    }
}

/// `0100007F:1F90` (an address as the kernel prints it in /proc/net/tcp:
/// the IPv4 address in host byte order, the port big-endian) to an address.
fn parse_proc_addr(s: &str) -> Option<SocketAddrV4> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port))
}

impl fmt::Display for PeerCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} (uid {})", self.pid, self.uid)
    }
}

/// A connection turned away, kept so that a listener whose deadline then
/// passes can say who it refused and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Who connected: `pid 123 (uid 1000)`, or an address and what is known.
    pub peer: String,
    /// Why it was refused.
    pub why: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.peer, self.why)
    }
}

/// The admission rule of one listener, and the record of whom it refused.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// Empty: any process of our user.
    expected: Vec<u32>,
    refused: Vec<Refusal>,
}

impl Gate {
    /// A gate that admits any process of our own user until
    /// [`Gate::expect`] names the one process to admit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits only process `pid` from now on.
    pub fn expect(&mut self, pid: u32) {
        self.expected = vec![pid];
    }

    /// Admits process `pid` too, besides those expected already: a shared
    /// listener's peer is a group of processes.
    pub fn expect_also(&mut self, pid: u32) {
        if !self.expected.contains(&pid) {
            self.expected.push(pid);
        }
    }

    /// Judges a peer by its credentials: it must run as our user and, once
    /// a pid is expected, be that process. A refusal is recorded.
    pub fn admit(&mut self, peer: PeerCred) -> bool {
        let ours = rustix::process::getuid().as_raw();
        let why = if peer.uid != ours {
            format!("runs as uid {}, not as this process's uid {ours}", peer.uid)
        } else if !self.expected.is_empty() && !self.expected.contains(&peer.pid) {
            match self.expected.as_slice() {
                [want] => format!("is not the expected peer, pid {want}"),
                all => {
                    let pids: Vec<String> = all.iter().map(u32::to_string).collect();
                    format!("is none of the expected peers, pids {}", pids.join(", "))
                }
            }
        } else {
            return true;
        };
        self.refuse(peer.to_string(), why);
        false
    }

    /// Judges a connected Unix socket by its `SO_PEERCRED`.
    pub fn admit_unix(&mut self, fd: impl AsFd) -> Result<bool, OpenError> {
        Ok(self.admit(PeerCred::of_unix_socket(fd)?))
    }

    /// Records a connection refused for a reason the caller judged.
    pub fn refuse(&mut self, peer: String, why: String) {
        self.refused.push(Refusal { peer, why });
    }

    /// Who was refused so far.
    pub fn refused(&self) -> &[Refusal] {
        &self.refused
    }

    /// What a listener returns when its deadline passes: plain
    /// [`OpenError::Timeout`] if nobody else came, else the refusals.
    pub fn deadline_passed(&self) -> OpenError {
        if self.refused.is_empty() {
            return OpenError::Timeout;
        }
        let list: Vec<String> = self.refused.iter().map(Refusal::to_string).collect();
        OpenError::Refused(list.join("; "))
    }

    /// Accepts from a Unix stream listener (blocking or not) until a
    /// connection passes the gate; refused ones are closed. A passed
    /// deadline names them.
    pub fn accept_unix(
        &mut self,
        listener: &UnixListener,
        deadline: Instant,
    ) -> Result<UnixStream, OpenError> {
        loop {
            self.wait(listener, deadline)?;
            // A peer that vanished between poll and accept, on a
            // non-blocking listener, sends us back to waiting.
            match listener.accept() {
                Ok((stream, _)) if self.admit_unix(&stream)? => return Ok(stream),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => return Err(OpenError::io("accept", e)),
            }
        }
    }

    /// [`wait_readable`] on the listening socket, whose timeout names the
    /// refused peers.
    pub fn wait(&self, listener: impl AsFd, deadline: Instant) -> Result<(), OpenError> {
        wait_readable(listener, deadline).map_err(|e| match e {
            OpenError::Timeout => self.deadline_passed(),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_pair_is_our_own_process_and_user() {
        let (a, _b) = UnixStream::pair().expect("socketpair");
        let cred = PeerCred::of_unix_socket(&a).expect("peercred");
        assert_eq!(cred.pid, std::process::id());
        assert_eq!(cred.uid, rustix::process::getuid().as_raw());
        let mut gate = Gate::new();
        assert!(gate.admit(cred));
        assert!(matches!(gate.deadline_passed(), OpenError::Timeout));
    }

    #[test]
    fn another_pid_or_user_is_refused_and_named() {
        let me = PeerCred::of_unix_socket(UnixStream::pair().expect("pair").0).expect("cred");
        let mut gate = Gate::new();
        gate.expect(me.pid + 1);
        assert!(!gate.admit(me));
        assert!(gate.admit(PeerCred {
            pid: me.pid + 1,
            uid: me.uid
        }));
        assert!(!gate.admit(PeerCred {
            pid: me.pid + 1,
            uid: me.uid + 1
        }));
        let err = gate.deadline_passed().to_string();
        assert!(
            err.contains(&format!("pid {} (uid {})", me.pid, me.uid)),
            "{err}"
        );
        assert!(err.contains("not the expected peer"), "{err}");
        assert!(err.contains(&format!("uid {}", me.uid + 1)), "{err}");
    }

    #[test]
    fn a_group_admits_each_member_and_names_them_all() {
        let me = PeerCred::of_unix_socket(UnixStream::pair().expect("pair").0).expect("cred");
        let member = |pid| PeerCred { pid, uid: me.uid };
        let mut gate = Gate::new();
        gate.expect_also(me.pid + 1);
        gate.expect_also(me.pid + 2);
        assert!(gate.admit(member(me.pid + 1)) && gate.admit(member(me.pid + 2)));
        assert!(!gate.admit(me));
        let err = gate.deadline_passed().to_string();
        let want = format!(
            "none of the expected peers, pids {}, {}",
            me.pid + 1,
            me.pid + 2
        );
        assert!(err.contains(&want), "{err}");
        gate.expect(me.pid);
        assert!(gate.admit(me) && !gate.admit(member(me.pid + 1)));
    }

    #[test]
    fn tokens_are_hex_differ_and_compare_whole() {
        let a = random_token().expect("token");
        let b = random_token().expect("token");
        assert_ne!(a, b);
        assert!(a.iter().all(u8::is_ascii_hexdigit));
        assert!(same_token(&a, &a));
        assert!(!same_token(&b, &a));
        assert!(!same_token(&a[..TOKEN_LEN - 1], &a));
        assert!(!same_token(b"", &a));
    }

    #[test]
    fn proc_net_tcp_addresses_parse() {
        assert_eq!(
            parse_proc_addr("0100007F:1F90"),
            Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080))
        );
        assert_eq!(parse_proc_addr("zz:1"), None);
    }

    #[test]
    fn a_loopback_connection_is_traced_to_this_process() {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (_s, from) = l.accept().expect("accept");
        let std::net::SocketAddr::V4(from) = from else {
            panic!("not v4")
        };
        assert_eq!(c.local_addr().expect("addr"), from.into());
        let (uid, pid) = PeerCred::of_loopback_tcp(from).expect("listed in /proc/net/tcp");
        assert_eq!(uid, rustix::process::getuid().as_raw());
        assert_eq!(pid, Some(std::process::id()));
    }
}
