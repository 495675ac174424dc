//! The `ipcbench` binary: see `ipcbench --help`.

fn main() -> std::process::ExitCode {
    harness::cli::main()
}
