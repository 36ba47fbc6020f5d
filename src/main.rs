//! The `chartline` binary: parses the command line and runs the command in the library
//! (`chartline::cli`; `serve` is `chartline::server::run`). See docs/architecture.md.

use std::process::ExitCode;

use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    Ok(chartline::cli::run(chartline::cli::Cli::parse())?)
}
