//! `install` end to end: this test re-runs its own binary as a supervising
//! process with a child and a staging directory, signals it, and checks the
//! exit code, that the child is gone, that the cleanup ran and that the main
//! thread never went on after its child died.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shutdown::{Plan, Signal};

const ROLE: &str = "SHUTDOWN_TEST_SUPERVISOR";

static CHILD: AtomicU32 = AtomicU32::new(0);
static STAGING: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The supervising process: one child, a staging directory, a main thread
/// that would record the child's death if it were not parked.
fn supervisor(dir: &Path) -> ! {
    let staging = dir.join("staging");
    std::fs::create_dir(&staging).expect("staging");
    STAGING.set(staging).expect("once");
    shutdown::install(Plan {
        announce: |sig| eprintln!("test: interrupted ({})", shutdown::signal_name(sig)),
        children: || vec![(CHILD.load(Ordering::SeqCst), Some(Signal::TERM))],
        grace: Duration::from_secs(5),
        cleanup: || {
            if let Some(d) = STAGING.get() {
                let _ = std::fs::remove_dir_all(d);
            }
        },
    })
    .expect("install");
    let mut child = Command::new("sleep").arg("60").spawn().expect("sleep");
    CHILD.store(child.id(), Ordering::SeqCst);
    std::fs::write(dir.join("ready"), child.id().to_string()).expect("ready");
    let _ = child.wait();
    std::fs::write(dir.join("main-went-on"), "").expect("write");
    std::process::exit(0)
}

fn run_and_signal(sig: &str, name: &str, code: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sup = Command::new(std::env::current_exe().expect("exe"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn supervisor");
    let ready = dir.path().join("ready");
    let until = Instant::now() + Duration::from_secs(20);
    let child: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&ready)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < until, "supervisor never became ready");
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &sup.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = {
        use std::io::Read;
        let mut s = String::new();
        let _ = sup.stderr.take().expect("stderr").read_to_string(&mut s);
        s
    };
    let st = sup.wait().expect("wait");
    assert_eq!(st.code(), Some(code), "{out}");
    assert!(
        out.contains(&format!("test: interrupted (SIG{sig})")),
        "{out}"
    );
    assert!(
        !Path::new(&format!("/proc/{child}")).exists(),
        "child {child} left"
    );
    assert!(!dir.path().join("staging").exists(), "staging left");
    assert!(
        !dir.path().join("main-went-on").exists(),
        "main thread not parked"
    );
}

#[test]
fn sigterm_stops_the_child_cleans_up_and_exits_143() {
    if let Some(dir) = std::env::var_os(ROLE) {
        supervisor(Path::new(&dir));
    }
    run_and_signal(
        "TERM",
        "sigterm_stops_the_child_cleans_up_and_exits_143",
        143,
    );
}

#[test]
fn sigint_exits_130() {
    if let Some(dir) = std::env::var_os(ROLE) {
        supervisor(Path::new(&dir));
    }
    run_and_signal("INT", "sigint_exits_130", 130);
}

#[test]
fn sighup_exits_129() {
    if let Some(dir) = std::env::var_os(ROLE) {
        supervisor(Path::new(&dir));
    }
    run_and_signal("HUP", "sighup_exits_129", 129);
}
