//! `ipcbench serve` and `run --remote` over loopback: a verified run over
//! tcp and quic with one-clock metrics only, a stranger refused and named while a run goes on,
//! and every bad input with its exit code within a deadline (wrong or
//! missing token, unreachable server, version mismatch, server killed
//! mid-run, client killed mid-run, port in use). The two-namespace test with
//! a delay is `.ci/netns-test`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use results::{Metric, Results, Status, Workload};
use support::{finish_within, ipcbench, stderr};

/// A running `ipcbench serve` on a free loopback port, killed on drop.
struct Serve {
    child: Child,
    addr: String,
    token: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start() -> Self {
        let mut child = ipcbench()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut addr, mut token) = (String::new(), String::new());
        for _ in 0..2 {
            let mut line = String::new();
            out.read_line(&mut line).expect("serve's stdout");
            if let Some(a) = line.trim().split("listening on ").nth(1) {
                addr = a.to_owned();
            }
            if let Some(t) = line.trim().strip_prefix("token: ") {
                token = t.to_owned();
            }
        }
        // Keep reading, so serve never writes to a closed pipe.
        thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        assert!(!addr.is_empty() && token.len() == 32, "{addr} {token}");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let err = child.stderr.take().expect("stderr");
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        Self {
            child,
            addr,
            token,
            log,
        }
    }

    /// Waits (up to 20 s) for a log line containing `needle`.
    fn await_log(&self, needle: &str) -> String {
        self.await_any(&[needle])
    }

    /// Waits (up to 20 s) for a log line containing one of `needles`.
    fn await_any(&self, needles: &[&str]) -> String {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(l) = self
                .log
                .lock()
                .expect("log")
                .iter()
                .find(|l| needles.iter().any(|n| l.contains(n)))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < until,
                "serve never logged any of {needles:?}: {:?}",
                self.log.lock().expect("log")
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn remote(&self, extra: &[&str]) -> std::process::Command {
        let mut c = ipcbench();
        c.args([
            "run",
            "--remote",
            &self.addr,
            "--token",
            &self.token,
            "--trials",
            "1",
            "--no-intervals",
            "--no-floors",
            "--quiet",
            "--warmup-ms",
            "0",
            "--messages",
            "50",
            "--sizes",
            "800B",
        ]);
        c.args(extra);
        c
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn code_within(child: Child, limit: Duration) -> (Option<i32>, String) {
    let (code, err, _) = finish_within(child, limit);
    (code, err)
}

fn spawn(mut c: std::process::Command) -> Child {
    c.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start run")
}

#[test]
fn a_remote_run_verifies_and_keeps_only_one_clock_metrics() {
    let serve = Serve::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("remote.json");
    let o = serve
        .remote(&[
            "--stream-min-ms",
            "20",
            "--link",
            "loopback",
            "--delay-not-measured",
            "not asked for",
            "--json",
            json.to_str().expect("utf-8 path"),
        ])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Results =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("results")).expect("parse");
    // Without --transport: every transport that crosses hosts.
    let mut transports: Vec<&str> = r.cells.iter().map(|c| c.transport.as_str()).collect();
    transports.dedup();
    assert_eq!(transports, ["tcp", "quic"]);
    for t in transports {
        let metrics = |w: Workload| -> Vec<Metric> {
            r.cells
                .iter()
                .filter(|c| c.transport == t && c.workload == w && c.status == Status::Ok)
                .map(|c| c.metric)
                .collect()
        };
        assert_eq!(metrics(Workload::Seed), [Metric::Total], "{t}");
        assert_eq!(
            metrics(Workload::Pingpong),
            [Metric::Rtt, Metric::RttBatch],
            "{t}"
        );
        assert_eq!(metrics(Workload::Stream), [Metric::Throughput], "{t}");
    }
    assert!(r.cells.iter().all(|c| {
        c.note
            .as_deref()
            .is_some_and(|n| n.contains("across hosts"))
    }));
    assert!(results::remote::is_remote(&r));
    // What the flags said of the link, for the report's "What leaving the
    // machine costs".
    assert_eq!(results::remote::entry(&r, "link"), Some("loopback"));
    assert_eq!(
        results::remote::entry(&r, "delay_not_measured"),
        Some("not asked for")
    );
    assert_eq!(results::remote::added_delay_us(&r), 0.0);
    serve.await_log("consumer pid");
}

#[test]
fn a_stranger_is_refused_and_named_and_the_run_goes_on() {
    let serve = Serve::start();
    let run = spawn(serve.remote(&["--workload", "stream", "--stream-min-ms", "3000"]));
    serve.await_log("consumer pid");
    // A stranger mid-run: no token, then a wrong one.
    for hello in [
        "GET / HTTP/1.0\r\n\r\n".to_owned(),
        format!(
            "{{\"type\":\"hello\",\"token\":\"{}\",\"version\":\"0.1.0\",\"protocol\":1}}\n",
            "0".repeat(32)
        ),
    ] {
        let mut s = TcpStream::connect(&serve.addr).expect("connect");
        let port = s.local_addr().expect("local").port();
        s.write_all(hello.as_bytes()).expect("write");
        let mut answer = String::new();
        let _ = BufReader::new(&s).read_line(&mut answer);
        assert!(answer.contains("refused"), "{answer}");
        let line = serve.await_log(&format!("refused 127.0.0.1:{port}"));
        assert!(line.contains("pid"), "the stranger is named: {line}");
    }
    let (code, err) = code_within(run, Duration::from_secs(60));
    assert_eq!(code, Some(0), "the run goes on: {err}");
}

#[test]
fn bad_tokens_and_unreachable_servers_have_their_exit_codes() {
    let serve = Serve::start();
    let started = Instant::now();
    let o = ipcbench()
        .args(["run", "--remote", &serve.addr, "--token", &"0".repeat(32)])
        .args(["--workload", "pingpong"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong token"), "{}", stderr(&o));
    serve.await_log("refused 127.0.0.1:");

    let o = ipcbench()
        .args(["run", "--remote", &serve.addr, "--workload", "pingpong"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("needs --token"), "{}", stderr(&o));

    let o = serve.remote(&["--transport", "uds"]).output().expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("tcp, quic"), "{}", stderr(&o));

    // Nothing listens on a port just freed.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let o = ipcbench()
        .args(["run", "--remote", &addr, "--token", &serve.token])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains(&addr), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_version_mismatch_is_exit_5_on_both_sides_of_the_handshake() {
    // The real server refuses a client of another version, and says which.
    let serve = Serve::start();
    let mut s = TcpStream::connect(&serve.addr).expect("connect");
    writeln!(
        s,
        "{{\"type\":\"hello\",\"token\":\"{}\",\"version\":\"0.0.1\",\"protocol\":1,\"schema\":1}}",
        serve.token
    )
    .expect("write");
    let mut answer = String::new();
    BufReader::new(&s).read_line(&mut answer).expect("answer");
    assert!(answer.contains("mismatch"), "{answer}");
    serve.await_log("\"0.0.1\"");

    // The real client, against a server that answers with a mismatch.
    let fake = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = fake.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        if let Ok((s, _)) = fake.accept() {
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let _ = (&s).write_all(
                b"{\"type\":\"mismatch\",\"version\":\"9.9.9\",\"protocol\":7,\"schema\":99}\n",
            );
        }
    });
    let o = ipcbench()
        .args(["run", "--remote", &addr, "--token", "x"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("9.9.9"), "{}", stderr(&o));
}

#[test]
fn a_server_killed_mid_run_is_exit_6_within_seconds() {
    let mut serve = Serve::start();
    let run = spawn(serve.remote(&["--workload", "stream", "--stream-min-ms", "30000"]));
    serve.await_log("consumer pid");
    thread::sleep(Duration::from_millis(300));
    serve.child.kill().expect("kill serve");
    let (code, err) = code_within(run, Duration::from_secs(20));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("lost ipcbench serve"), "{err}");
}

#[test]
fn a_client_killed_mid_run_has_its_consumer_killed() {
    let serve = Serve::start();
    let mut run = spawn(serve.remote(&["--workload", "stream", "--stream-min-ms", "30000"]));
    let started = serve.await_log("consumer pid");
    let pid: u32 = started
        .split("consumer pid ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the consumer's pid");
    run.kill().expect("kill the client");
    let _ = run.wait();
    // Serve kills the consumer when the control connection drops; a
    // consumer that sees its producer vanish first may exit on its own
    // (the stream ends inside a frame). Either way serve reaps it and says
    // so, and nothing is left running.
    serve.await_any(&[
        &format!("killed consumer pid {pid}"),
        &format!("consumer (pid {pid}) exited"),
    ]);
    let until = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < until, "consumer {pid} still runs");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_on_a_port_in_use_is_exit_7() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let o = ipcbench()
        .args(["serve", "--bind", &addr])
        .output()
        .expect("serve");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));
    assert!(stderr(&o).contains(&addr), "{}", stderr(&o));
}
