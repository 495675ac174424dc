//! Rough 8-byte ping-pong between two pinned processes, for a quick look at
//! the shared-memory variants next to the machine's cache-line floor (the
//! official numbers come from the harness):
//!
//! ```text
//! cargo run --release -p transport-shm --example pingpong -- VARIANT PLACEMENT [ROUND_TRIPS]
//!   VARIANT   spin | adaptive | block | floor (raw cache-line ping-pong)
//!   PLACEMENT split (cores 0 and 1) | same (both on core 0)
//! ```
//!
//! Each round trip is timed on its own (one `Instant::now()` per iteration, so
//! one clock read's cost is included); median, p99 and mean are printed.

use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use transport::{Endpoint, Listener, Options, Receiver, RecvError, Sender, Transport};
use transport_shm::{ShmAdaptive, ShmBlock, ShmSpin};

const WARMUP: usize = 20_000;

fn pin(core: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(core);
    if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
        eprintln!("cannot pin to core {core}: {e}");
    }
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let n = samples.len();
    let mean = samples.iter().sum::<Duration>() / n as u32;
    println!(
        "{label}: median {:?}  p99 {:?}  mean {:?}  ({n} round trips)",
        samples[n / 2],
        samples[n * 99 / 100],
        mean
    );
}

fn parent<T: Transport>(variant: &str, placement: &str, iters: usize) {
    pin(0);
    let mut opts = Options::unique("pingpong");
    // The ring is sized from this hint (see `ring_size_for`).
    if let Some(n) = std::env::var("PINGPONG_EXPECTED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.expected_max_message = n;
    }
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    let child_core = if placement == "same" { "0" } else { "1" };
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--child", variant, &endpoint.0, child_core])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn child");
    let (mut tx, mut rx) = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    let mut msg = [0u8; 8];
    let mut samples = Vec::with_capacity(iters);
    for i in 0..WARMUP + iters {
        msg.copy_from_slice(&(i as u64).to_le_bytes());
        let t0 = Instant::now();
        tx.send(&msg).expect("send");
        let got = rx.recv().expect("recv");
        let dt = t0.elapsed();
        assert_eq!(got, msg);
        if i >= WARMUP {
            samples.push(dt);
        }
    }
    drop((tx, rx));
    let _ = child.wait();
    report(&format!("shm-{variant} {placement}"), samples);
}

fn child<T: Transport>(endpoint: &str, core: usize) {
    pin(core);
    let (mut tx, mut rx) =
        T::connect(&Endpoint(endpoint.to_owned()), &Options::unique("pingpong")).expect("connect");
    loop {
        match rx.recv() {
            Ok(m) => tx.send(m).expect("echo"),
            Err(RecvError::Disconnected) => return,
            Err(e) => panic!("child recv: {e}"),
        }
    }
}

/// Two 128-byte blocks in a memfd: the parent writes the first, the child
/// the second; each spins on the other's.
fn floor_parent(placement: &str, iters: usize) {
    pin(0);
    let fd = rustix::fs::memfd_create("ipcbench-shm-floor", rustix::fs::MemfdFlags::empty())
        .expect("memfd");
    rustix::fs::ftruncate(&fd, 4096).expect("ftruncate");
    let lines = map_lines(&fd);
    let child_core = if placement == "same" { "0" } else { "1" };
    let path = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--child", "floor", &path, child_core])
        .spawn()
        .expect("spawn child");
    let mut samples = Vec::with_capacity(iters);
    for i in 1..=(WARMUP + iters) as u64 {
        let t0 = Instant::now();
        lines[0].store(i, Ordering::Release);
        while lines[16].load(Ordering::Acquire) != i {
            std::hint::spin_loop();
        }
        if i as usize > WARMUP {
            samples.push(t0.elapsed());
        }
    }
    lines[0].store(u64::MAX, Ordering::Release);
    let _ = child.wait();
    report(&format!("cache-line floor {placement}"), samples);
}

fn floor_child(path: &str, core: usize) {
    pin(core);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open memfd");
    let lines = map_lines(&file);
    let mut last = 0;
    loop {
        let v = lines[0].load(Ordering::Acquire);
        if v == u64::MAX {
            return;
        }
        if v != last {
            last = v;
            lines[16].store(v, Ordering::Release);
        } else {
            std::hint::spin_loop();
        }
    }
}

fn map_lines(fd: &impl std::os::fd::AsFd) -> &'static [AtomicU64] {
    // SAFETY: a fresh shared mapping of one page, leaked for the process's
    // lifetime and only accessed through atomics.
    unsafe {
        let p = rustix::mm::mmap(
            std::ptr::null_mut(),
            4096,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED | rustix::mm::MapFlags::POPULATE,
            fd,
            0,
        )
        .expect("mmap");
        std::slice::from_raw_parts(p.cast::<AtomicU64>(), 512)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let core: usize = args[3].parse().expect("core");
        match args[1].as_str() {
            "spin" => child::<ShmSpin>(&args[2], core),
            "adaptive" => child::<ShmAdaptive>(&args[2], core),
            "block" => child::<ShmBlock>(&args[2], core),
            "floor" => floor_child(&args[2], core),
            other => panic!("unknown variant {other}"),
        }
        return;
    }
    let variant = args.first().map(String::as_str).unwrap_or("spin");
    let placement = args.get(1).map(String::as_str).unwrap_or("split");
    let iters: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    match variant {
        "spin" => parent::<ShmSpin>(variant, placement, iters),
        "adaptive" => parent::<ShmAdaptive>(variant, placement, iters),
        "block" => parent::<ShmBlock>(variant, placement, iters),
        "floor" => floor_parent(placement, iters),
        other => panic!("unknown variant {other}"),
    }
}
