//! POSIX message queue backend (`mq_open`): one queue per direction,
//! messages larger than a queue's record cut into records, and the
//! connection set up through a third queue, the listener's door.
//!
//! - **Set-up.** `listen` creates the door, `/ipcbench-mq-<pid>-<tag>-door`
//!   (small records, mode 0600), and names it in the endpoint
//!   `mq:<listener pid>:<door>#<token>`, the token a secret (see
//!   [`transport::Endpoint::public`]). `connect` creates the connector's two
//!   queues, `...-up` and `...-down`, and posts a hello on the door: its pid,
//!   the token and the queues' base name; then it returns. `accept` reads
//!   hellos: one without the token, or from a pid other than the expected
//!   peer's, is refused (a refused record on its queue, its queues removed,
//!   the refusal named if the deadline passes), as TCP refuses a connection
//!   without its token. Anyone of our user can open the door by its public
//!   name, so `connect` always reaches the listener, which is what lets it
//!   name an intruder. The admitted peer's queues are opened, unlinked and
//!   greeted with a welcome record; the door goes with the listener.
//! - **Sizes.** A queue holds at most `msg_max` records of `msgsize_max`
//!   bytes (/proc/sys/fs/mqueue); a message is a first record with an
//!   8-byte length and up to `msgsize_max - 8` bytes, then as many raw
//!   records as the rest needs. A full queue is back-pressure: `send` waits
//!   for room, never drops.
//! - **Ends.** A queue has no end of file and no count of openers. A dropped
//!   sender posts a goodbye record (the peer's `recv` returns
//!   `Disconnected` after everything before it, and the peer's `send` from
//!   then on); a dead process is seen by its pidfd
//!   ([`transport::process::PeerProcess`]), polled with the queue.
//! - **Quota.** Every queue is charged to the user's `RLIMIT_MSGQUEUE`;
//!   [`Capabilities::max_concurrent`] says how many connections fit, and an
//!   `mq_open` refused for it names the limit. Queues a SIGKILLed process
//!   created before anyone unlinked them are swept by the next `listen`
//!   (names carry their creator's pid).

mod halves;
mod queue;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use transport::endpoint::Fields;
use transport::peer::{Gate, PeerCred, TOKEN_LEN, random_token, same_token};
use transport::process::{PeerProcess, running};
use transport::{Capabilities, Endpoint, OpenError, Options, mqueue_names, shm_names};

use halves::{HEADER, Link, REFUSED, WELCOME};
pub use halves::{MqReceiver, MqSender};
pub use queue::Limits;
use queue::{Mode, Queue, unlink};

/// The POSIX message queue transport.
#[derive(Debug)]
pub struct Mq;

/// Every queue's name starts with this, then the creator's pid.
const PREFIX: &str = "ipcbench-mq-";
/// A door record: `HELO`, pid, token, queue base name.
const DOOR_RECORD: usize = 512;
const MAGIC: &[u8; 4] = b"HELO";
/// How long `connect` waits for room on a full door.
const DOOR_WAIT: Duration = Duration::from_secs(10);
/// The largest message: records are reassembled, so only memory bounds it.
const MAX: usize = transport::DEFAULT_MAX_MESSAGE_SIZE;

/// The shape of the data queues: as deep and as wide as this user may make
/// them.
fn shape() -> (usize, usize) {
    let l = Limits::read();
    (l.msg_max.max(1), l.msgsize_max.max(HEADER + 1))
}

/// What one connection charges to `RLIMIT_MSGQUEUE`: two data queues and
/// the door.
fn connection_charge() -> u64 {
    let (depth, size) = shape();
    2 * Limits::charge(depth, size) + Limits::charge(depth, DOOR_RECORD)
}

/// The listening side: the door, the token and whom it refused.
#[derive(Debug)]
pub struct MqListener {
    door: Queue,
    door_name: String,
    token: [u8; TOKEN_LEN],
    gate: Gate,
}

impl Drop for MqListener {
    fn drop(&mut self) {
        unlink(&self.door_name);
    }
}

/// A connector's hello.
struct Hello<'a> {
    pid: u32,
    token: &'a [u8],
    base: &'a str,
}

impl<'a> Hello<'a> {
    fn parse(rec: &'a [u8]) -> Option<Self> {
        let rest = rec.strip_prefix(MAGIC)?;
        let pid = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        let token = rest.get(4..4 + TOKEN_LEN)?;
        let base = std::str::from_utf8(rest.get(4 + TOKEN_LEN..)?).ok()?;
        let ours = base.strip_prefix('/')?.starts_with(PREFIX)
            && base[1..].chars().all(shm_names::is_safe);
        ours.then_some(Self { pid, token, base })
    }

    fn encode(pid: u32, token: &[u8], base: &str) -> Vec<u8> {
        let mut rec = MAGIC.to_vec();
        rec.extend_from_slice(&pid.to_le_bytes());
        rec.extend_from_slice(token);
        rec.extend_from_slice(base.as_bytes());
        rec
    }
}

fn up(base: &str) -> String {
    format!("{base}-up")
}

fn down(base: &str) -> String {
    format!("{base}-down")
}

/// Tells a refused connector so (best effort) and removes its queues.
fn turn_away(base: &str) {
    if let Ok(q) = Queue::open(&down(base), Mode::Write) {
        let _ = q.send(&REFUSED.to_le_bytes());
    }
    unlink(&up(base));
    unlink(&down(base));
}

impl MqListener {
    /// Admits or refuses one hello; the halves if admitted.
    fn judge(&mut self, hello: &Hello<'_>) -> Result<Option<(MqSender, MqReceiver)>, OpenError> {
        let who = PeerCred {
            pid: hello.pid,
            uid: rustix::process::getuid().as_raw(),
        };
        if !same_token(hello.token, &self.token) {
            let why = "did not send the endpoint's secret token".to_owned();
            self.gate.refuse(who.to_string(), why);
            turn_away(hello.base);
            return Ok(None);
        }
        if !self.gate.admit(who) {
            turn_away(hello.base);
            return Ok(None);
        }
        // A peer that sent and already exited still gets its messages
        // read: it then reads as dead, and recv ends after them.
        let peer = PeerProcess::open_or_pid(hello.pid);
        let (rx, tx) = (
            Queue::open(&up(hello.base), Mode::Read),
            Queue::open(&down(hello.base), Mode::Write),
        );
        unlink(&up(hello.base));
        unlink(&down(hello.base));
        let link = Link::new(peer);
        let mut tx = MqSender::new(tx?, link.clone(), MAX);
        tx.control(WELCOME)
            .map_err(|e| OpenError::Backend(format!("greeting the peer: {e}")))?;
        Ok(Some((tx, MqReceiver::new(rx?, link, MAX, Vec::new()))))
    }
}

impl transport::Listener for MqListener {
    type Sender = MqSender;
    type Receiver = MqReceiver;

    fn expect_peer(&mut self, pid: u32) -> bool {
        self.gate.expect(pid);
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<(MqSender, MqReceiver), OpenError> {
        let mut rec = vec![0u8; self.door.size];
        loop {
            self.gate.wait(&self.door, deadline)?;
            let n = match self.door.receive(&mut rec) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(OpenError::io("mq_receive on the door", e)),
            };
            let Some(hello) = Hello::parse(&rec[..n]) else {
                let why = format!("posted a record of {n} bytes that is no hello");
                self.gate.refuse("a process of this user".into(), why);
                continue;
            };
            if let Some(halves) = self.judge(&hello)? {
                return Ok(halves);
            }
        }
    }
}

/// The listener's pid, its door and the token (absent from a public
/// endpoint).
fn parse(endpoint: &Endpoint) -> Result<(u32, &str, Option<&str>), OpenError> {
    let mut fields = Fields::read_with_token(endpoint, FORM, TOKEN_LEN)?;
    fields.scheme("mq")?;
    let pid = fields.pid()?;
    let door = fields.rest("door")?;
    let ok = door.strip_prefix('/').is_some_and(|n| {
        n.starts_with(PREFIX) && n.len() < 250 && n.chars().all(shm_names::is_safe)
    });
    fields.check("door", door, ok)?;
    Ok((pid, door, fields.token()))
}

/// The form of an endpoint, for errors.
const FORM: &str = "mq:<pid>:/ipcbench-mq-<name>[#<token>]";

/// Posts `rec` on the door, waiting for room while the listener lives.
fn knock(door: &str, rec: &[u8], listener: &PeerProcess) -> Result<(), OpenError> {
    let q = Queue::open(door, Mode::Write)?;
    let until = Instant::now() + DOOR_WAIT;
    loop {
        match q.send(rec) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(OpenError::io(format!("mq_send on {door}"), e)),
        }
        if !listener.alive() {
            return Err(OpenError::Backend(format!(
                "the listener, pid {}, is gone",
                listener.pid()
            )));
        }
        if Instant::now() >= until {
            return Err(OpenError::Backend(format!(
                "the door {door} stayed full for {DOOR_WAIT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl transport::Transport for Mq {
    const NAME: &'static str = "mq";
    const DESCRIPTION: &'static str = "POSIX message queues, one per direction, messages cut into \
         records of msgsize_max bytes; a door queue and a token admit the peer";
    type Sender = MqSender;
    type Receiver = MqReceiver;
    type Listener = MqListener;

    fn listen(opts: &Options) -> Result<(MqListener, Endpoint), OpenError> {
        mqueue_names::sweep_stale(PREFIX, |_, pid| !running(pid));
        let me = std::process::id();
        let door_name = format!("/{PREFIX}{me}-{}-door", shm_names::sanitize(&opts.tag, 150));
        let (depth, _) = shape();
        let door = Queue::open(
            &door_name,
            Mode::Create {
                depth,
                size: DOOR_RECORD,
            },
        )?;
        let token = random_token()?;
        let endpoint = Endpoint(format!(
            "mq:{me}:{door_name}#{}",
            String::from_utf8_lossy(&token)
        ));
        let listener = MqListener {
            door,
            door_name,
            token,
            gate: Gate::new(),
        };
        Ok((listener, endpoint))
    }

    /// Creates this side's queues and posts a hello; a public endpoint
    /// (no token) still reaches the listener, which refuses it.
    fn connect(endpoint: &Endpoint, opts: &Options) -> Result<(MqSender, MqReceiver), OpenError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let (pid, door, token) = parse(endpoint)?;
        let listener = PeerProcess::open(pid).map_err(|e| {
            OpenError::Backend(format!(
                "the listener, pid {pid}, of {}: {e}",
                endpoint.public()
            ))
        })?;
        let base = format!(
            "/{PREFIX}{}-{}-{}",
            std::process::id(),
            shm_names::sanitize(&opts.tag, 150),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let (depth, size) = shape();
        let link = Link::new(listener);
        let names = vec![up(&base), down(&base)];
        let rx = Queue::open(&names[1], Mode::Create { depth, size })?;
        // From here on the receiver removes both names if anything fails.
        let rx = MqReceiver::new(rx, link.clone(), MAX, names.clone());
        let tx = Queue::open(&names[0], Mode::Create { depth, size })?;
        let proof = token.map_or([b'-'; TOKEN_LEN].as_slice(), str::as_bytes);
        knock(
            door,
            &Hello::encode(std::process::id(), proof, &base),
            &link.peer,
        )?;
        Ok((MqSender::new(tx, link, MAX), rx))
    }

    fn capabilities() -> Capabilities {
        let l = Limits::read();
        let fit = l.rlimit_bytes / connection_charge().max(1);
        Capabilities {
            max_concurrent: usize::try_from(fit).unwrap_or(usize::MAX).max(1),
            ..Capabilities::default()
        }
    }
}

#[cfg(test)]
mod tests;
