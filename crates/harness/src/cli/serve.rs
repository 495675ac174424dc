//! `ipcbench serve`: the consumer side of runs from another host
//! (`ipcbench run --remote`), see [`crate::remote`].

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address and port to listen on for control connections (port 0: any free port). The
    /// trials' transports listen on the address each client reached.
    #[arg(long, default_value = "0.0.0.0:7878", value_name = "ADDR:PORT")]
    bind: SocketAddr,
}

pub(super) fn run(args: ServeArgs) -> Result<()> {
    let token = transport::peer::random_token().context("making a token")?;
    let exe = std::env::current_exe().context("locating the ipcbench binary")?;
    crate::remote::serve::run(&crate::remote::serve::Config {
        bind: args.bind,
        token,
        exe,
    })
}
