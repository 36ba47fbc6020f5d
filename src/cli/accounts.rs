//! The commands on who may do what: dashboard accounts, callback-line PINs, encryption keys.

use std::process::ExitCode;

use super::error::{Context, ensure};
use super::*;

/// `chartline user`: dashboard accounts and callback-line PINs.
pub(super) fn user(command: UserCommand) -> Result<ExitCode, CliError> {
    match command {
        UserCommand::Add { username, display_name, role, practitioner, password_file, totp, config } => {
            let store = load_config(config.as_ref())?.open_store()?;
            let role = crate::store::users::Role::parse(&role).with_context(|| format!("unknown role {role:?}: use provider, nurse, front_desk or admin"))?;
            let password = match password_file {
                Some(path) => std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
                    line
                }
            };
            let password_hash = crate::crypto::password::hash(password.trim_end_matches(['\n', '\r']))?;
            let totp_secret = totp.then(crate::web::totp::new_secret);
            let user = store.add_user(&crate::store::users::NewUser { username, display_name, role, practitioner, password_hash, totp_secret: totp_secret.clone() })?;
            println!("added {} ({})", user.username, user.role.as_str());
            if let Some(secret) = totp_secret {
                println!("authenticator secret: {secret}");
                println!("{}", crate::web::totp::otpauth_uri("Chartline", &user.username, &secret));
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Pin { username, config } => {
            let store = load_config(config.as_ref())?.open_store()?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the PIN from stdin")?;
            crate::oncall::pins::set_pin(&store, &username, line.trim()).with_context(|| format!("setting the callback-line PIN of {username}"))?;
            println!("callback-line PIN set for {username}");
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { config } => {
            let store = load_config(config.as_ref())?.open_store()?;
            println!("{}", serde_json::to_string_pretty(&store.users()?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline key`: the master key and the data keys.
pub(super) fn key(command: KeyCommand) -> Result<ExitCode, CliError> {
    match command {
        KeyCommand::Rotate { new_key_file, reencrypt, config } => {
            let config = load_config(config.as_ref())?;
            init_logging();
            let targets = crate::store::rotate::Targets {
                data_dir: config.data_dir.clone(),
                databases: vec![(crate::store::keys::Purpose::Store, config.store_path()), (crate::store::keys::Purpose::Chart, config.chart_path())],
                recordings_dir: config.recordings_dir(),
            };
            let options = crate::store::rotate::RotateOptions { new_key_file, reencrypt };
            let report = crate::store::rotate::rotate(&config.key_paths(), &targets, &options)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if report.update_environment {
                eprintln!("set {} to the contents of {} before the next start", crate::store::keys::MASTER_KEY_ENV, report.key_file.display());
            }
            ensure(report.recordings_failed.is_empty(), || format!("{} recording(s) not re-encrypted (their old key is kept)", report.recordings_failed.len()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
