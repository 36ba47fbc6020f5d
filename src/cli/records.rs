//! The commands on what the store holds: call records, the EHR outbox, the audit trail, recordings.

use std::path::PathBuf;
use std::process::ExitCode;

use super::error::{Context, ensure};
use super::*;

/// `chartline calls`: stored call records.
pub(super) fn calls(command: CallsCommand) -> Result<ExitCode, CliError> {
    match command {
        CallsCommand::List { json, limit, config } => {
            let calls = load_config(config.as_ref())?.open_store()?.list_calls(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&calls)?);
            } else {
                for c in calls {
                    let request = c.request.as_ref().map(|r| r.kind.as_str()).unwrap_or("-");
                    println!("{}  {}  {:<14} {:?}  {}", c.started_at.format("%Y-%m-%d %H:%M:%S"), c.call_id, request, c.patient.status, if c.urgent { "URGENT" } else { "" });
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CallsCommand::Show { id, json, config } => {
            let call = load_config(config.as_ref())?.open_store()?.call(&id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&call)?);
            } else {
                print_call(&call);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline outbox`: EHR delivery rows, delivering and re-queueing them (on the outbox of
/// `[store] backend`: the local store's or the shared PostgreSQL one).
pub(super) fn outbox(command: Option<OutboxCommand>, json: bool, config: Option<PathBuf>) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
        None => {
            let rows = runtime.block_on(async { load_config(config.as_ref())?.open_outbox().await?.list().await.map_err(CliError::from) })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in &rows {
                    println!("{}  {:<12} attempts {:<3} {}", r["call_id"].as_str().unwrap_or(""), r["status"].as_str().unwrap_or(""), r["attempts"], r["last_error"].as_str().unwrap_or(""));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(OutboxCommand::Deliver { timeout_s, config }) => {
            let config = load_config(config.as_ref())?;
            init_logging();
            let ehr = config.open_ehr().context("opening the EHR adapter")?;
            let report = runtime.block_on(async {
                let outbox = config.open_outbox().await?;
                crate::ehr::sync::deliver_until_idle(outbox, ehr, config.ehr.retry.clone(), std::time::Duration::from_secs(timeout_s)).await.map_err(CliError::from)
            })?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(OutboxCommand::Retry { call_id, all, config }) => {
            ensure(call_id.is_some() || all, || "name a call id or pass --all".to_string())?;
            let n = runtime.block_on(async { load_config(config.as_ref())?.open_outbox().await?.requeue(call_id.as_deref()).await.map_err(CliError::from) })?;
            println!("{n} result(s) queued again");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline audit`: the hash-chained audit trail.
pub(super) fn audit(command: AuditCommand) -> Result<ExitCode, CliError> {
    match command {
        AuditCommand::Verify { config } => {
            let store = load_config(config.as_ref())?.open_store()?;
            match store.verify_audit()? {
                crate::store::audit::Verification::Intact { count } => {
                    println!("audit trail intact: {count} entries");
                    Ok(ExitCode::SUCCESS)
                }
                crate::store::audit::Verification::Broken { seq, problem } => {
                    eprintln!("audit trail broken at entry {seq}: {problem}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::List { limit, object, config } => {
            let store = load_config(config.as_ref())?.open_store()?;
            println!("{}", serde_json::to_string_pretty(&store.audit_entries(object.as_deref(), limit)?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline recording`: sealed call recordings.
pub(super) fn recording(command: RecordingCommand) -> Result<ExitCode, CliError> {
    match command {
        RecordingCommand::Export { call_id, out, config } => {
            let config = load_config(config.as_ref())?;
            let store = config.open_store()?;
            let call = store.call(&call_id)?;
            let relative = call.recording.with_context(|| format!("call {call_id} has no recording"))?;
            let pcm = crate::store::recording::read_pcm(&config.data_dir.join(&relative), &store.keys())?;
            std::fs::write(&out, pcm.to_wav()).with_context(|| format!("writing {}", out.display()))?;
            let state = if pcm.complete { "complete" } else { "cut short (interrupted call): every complete second kept" };
            println!("{} written: {:.1} s, {state}", out.display(), pcm.duration_ms() as f64 / 1000.0);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `calls show` for a person: the record's fields a line each, then its timeline.
fn print_call(c: &crate::store::CallRecord) {
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    let request = c.request.as_ref().map(|r| format!("{} ({}, by {:?})", r.kind, r.code, r.chosen_by));
    let patient = format!("{:?}{}", c.patient.status, c.patient.id.as_deref().map(|id| format!(" {id}")).unwrap_or_default());
    let routing = [c.routing.practitioner.as_deref(), c.routing.department.as_deref(), c.routing.location.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
    let rows = [
        ("call", c.call_id.clone()),
        ("started", time(c.started_at)),
        ("ended", c.ended_at.map(time).unwrap_or_else(|| "-".into())),
        ("outcome", c.outcome.map(|o| format!("{o:?}")).unwrap_or_else(|| "completed".into())),
        ("from", c.from.clone()),
        ("after hours", c.after_hours.to_string()),
        ("patient", patient),
        ("request", or_dash(request.as_deref())),
        ("urgent", if c.red_flags.is_empty() { c.urgent.to_string() } else { format!("{} ({})", c.urgent, c.red_flags.join(", ")) }),
        ("routing", format!("{}{}", if routing.is_empty() { "practice pool" } else { &routing }, if c.routing.on_call { ", on call" } else { "" })),
        ("ehr", format!("{:?} {}", c.ehr.status, c.ehr.refs.join(" "))),
        ("recording", or_dash(c.recording.as_deref())),
        ("transcript", or_dash(c.transcript.as_deref())),
    ];
    for (name, value) in rows {
        println!("{name:<12} {value}");
    }
    for event in &c.events {
        println!("  {}  {}", event.at.format("%H:%M:%S%.3f"), event.kind);
    }
}
