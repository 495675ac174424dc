//! iceoryx2 opens its files, shared memory and event sockets without
//! `O_CLOEXEC`, so every child process started later would inherit them (the
//! conformance suite's descriptor check names them). After each set-up step
//! the backend marks every descriptor of its domain close-on-exec: files and
//! shared memory by path, event sockets by the inode /proc/net/unix lists for
//! their path, and unnamed sockets (the sending side of an event, which
//! /proc cannot tie to a domain; nothing in ipcbench hands a socket to a
//! child by inheritance). A descriptor iceoryx2 opens later (a data segment
//! grown for a larger message) is marked at the next set-up step only.

use std::collections::HashSet;
use std::os::fd::BorrowedFd;

use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};

use crate::cleanup::Domain;

/// Marks every descriptor of this process that belongs to `domain`
/// close-on-exec.
pub(crate) fn mark_domain(domain: &Domain) {
    let id = domain.as_str();
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let mut named = HashSet::new();
    let mut ours = HashSet::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 7 {
            let inode = format!("socket:[{}]", f[6]);
            if f[7].contains(id) {
                ours.insert(inode.clone());
            }
            named.insert(inode);
        }
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let unnamed_socket = target.starts_with("socket:") && !named.contains(target.as_ref());
        if fd <= 2 || !(target.contains(id) || ours.contains(target.as_ref()) || unnamed_socket) {
            continue;
        }
        // SAFETY: `fd` was open when listed and only its descriptor flags are
        // read and set; if iceoryx2 closed it meanwhile and the number was
        // reused, the new descriptor is marked close-on-exec, which no code
        // here relies on being otherwise.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Ok(flags) = fcntl_getfd(fd) {
            let _ = fcntl_setfd(fd, flags | FdFlags::CLOEXEC);
        }
    }
}
