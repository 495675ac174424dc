//! Declares the `loom` cfg so `--cfg loom` builds (model checking) are not
//! flagged as unexpected configurations.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
