//! The environment header of a results file: what machine, kernel, compiler
//! and source tree produced the numbers, read from the system at run time.

use std::process::Command;

use results::Environment;

/// Collects the environment. Anything unreadable is recorded as `unknown`
/// rather than failing the run.
pub fn collect(command_line: String, clock_overhead_ns: f64) -> Environment {
    Environment {
        tool: format!("ipcbench {}", env!("CARGO_PKG_VERSION")),
        cpu_model: cpu_model(),
        cores: online_cpus(),
        kernel: kernel(),
        rustc: option_env!("IPCBENCH_RUSTC")
            .unwrap_or("unknown")
            .to_owned(),
        git_commit: git_commit(),
        date: utc_now(),
        command_line,
        virtualization: virtualization(),
        governor: std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "not exposed (no cpufreq)".to_owned()),
        clock_overhead_ns,
        extra: placements(crate::topology::system()),
        placement_cpus: Some(placement_cpus(crate::topology::system())),
    }
}

/// The CPUs `split` and `same` stand for, as the results record them.
pub fn placement_cpus(t: &crate::topology::Topology) -> results::PlacementCpus {
    results::PlacementCpus {
        split: [t.split.0, t.split.1],
        split_relation: t.split_relation.map(|r| r.name().to_owned()),
        same: t.same,
        fallback: t.fallback.clone(),
    }
}

/// What the placements stand for on this machine, for the environment's
/// extra rows (the report prints them with the machine).
pub fn placements(t: &crate::topology::Topology) -> Vec<(String, String)> {
    let mut rows = vec![
        (
            "placement split".to_owned(),
            match t.split_relation {
                Some(r) => format!("{r}, CPUs {} and {}", t.split.0, t.split.1),
                None => format!("CPUs {} and {} (relation unknown)", t.split.0, t.split.1),
            },
        ),
        ("placement same".to_owned(), format!("CPU {}", t.same)),
    ];
    if !t.pairs.is_empty() {
        let offered: Vec<String> = t
            .pairs
            .iter()
            .map(|p| format!("{} ({}/{})", p.relation, p.first, p.second))
            .collect();
        rows.push(("CPU relations".to_owned(), offered.join(", ")));
    }
    if let Some(reason) = &t.fallback {
        rows.push(("topology fallback".to_owned(), reason.clone()));
    }
    rows
}

/// CPUs online on the machine (not the calling thread's affinity mask).
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn kernel() -> String {
    let u = rustix::system::uname();
    format!(
        "{} {}",
        u.sysname().to_string_lossy(),
        u.release().to_string_lossy()
    )
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn git_commit() -> String {
    match run("git", &["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => {
            let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        None => "unknown".to_owned(),
    }
}

fn virtualization() -> String {
    let machine = run("systemd-detect-virt", &["--vm"])
        .filter(|v| v != "none")
        .map_or_else(hypervisor, |vm| format!("{vm} virtual machine"));
    // A container says nothing of the machine under it: name both.
    match run("systemd-detect-virt", &["--container"]).filter(|c| c != "none") {
        Some(container) if machine == "none detected" => format!("{container} container"),
        Some(container) => format!("{container} container on a {machine}"),
        None => machine,
    }
}

/// The machine's own virtualisation, from the CPU's hypervisor flag and the
/// DMI vendor (a container shares the host's /proc/cpuinfo).
fn hypervisor() -> String {
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hyper = flags
        .lines()
        .any(|l| l.starts_with("flags") && l.contains(" hypervisor"));
    let vendor = std::fs::read_to_string("/sys/class/dmi/id/sys_vendor")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    match (hyper, vendor.is_empty()) {
        (true, false) => format!("virtual machine ({vendor})"),
        (true, true) => "virtual machine".to_owned(),
        (false, _) => "none detected".to_owned(),
    }
}

/// Current UTC time as RFC 3339, without a date crate: civil-from-days.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_796_341_880), "2026-12-03T23:51:20Z");
    }

    #[test]
    fn collects_something() {
        let e = collect("ipcbench test".into(), 25.0);
        assert!(e.cores >= 1);
        assert!(e.kernel.starts_with("Linux"));
        assert_eq!(e.command_line, "ipcbench test");
    }
}
