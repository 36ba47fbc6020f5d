//! The `chartline` command line in the library: `main.rs` parses the arguments ([`Cli`]) and
//! calls [`run`]. `serve` is `server::run`; the other commands read and print what the store, the
//! chart, triage and speech hold (docs/architecture.md lists the output other tools rely on).

mod accounts;
mod args;
mod chart;
mod error;
mod records;
mod speech;
mod triage;

use std::path::PathBuf;
use std::process::ExitCode;

pub use args::*;
pub use error::CliError;

use crate::config::Config;

fn load_config(path: Option<&PathBuf>) -> Result<Config, CliError> {
    Ok(match path {
        Some(path) => Config::load(path)?,
        None => Config::embedded()?,
    })
}

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Runs one command; the exit code is 1 when the command's answer is "no" (`dob` understood no
/// date, `audit verify` found a broken chain).
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Serve { config } => {
            let config = load_config(config.as_ref())?;
            init_logging();
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(crate::server::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Calls { command } => records::calls(command),
        Command::Triage { text, json, eval, config } => triage::triage(text, json, eval, config),
        Command::Model { command } => speech::model(command),
        Command::Transcribe { file, config } => speech::transcribe(file, config),
        Command::Dob { text } => speech::dob(text),
        Command::Chart { command } => chart::chart(command),
        Command::User { command } => accounts::user(command),
        Command::Key { command } => accounts::key(command),
        Command::Recording { command } => records::recording(command),
        Command::Audit { command } => records::audit(command),
        Command::Outbox { command, json, config } => records::outbox(command, json, config),
    }
}
