//! The `chartline` command line in the library: `main.rs` parses the arguments ([`Cli`]) and
//! calls [`run`]. `serve` is `server::run`; the other commands read and print what the store, the
//! chart, triage and speech hold (docs/architecture.md lists the output other tools rely on).

mod args;
mod error;

use std::path::PathBuf;
use std::process::ExitCode;

pub use args::*;
pub use error::CliError;
use error::{Context, ensure};

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
        Command::Calls { command: CallsCommand::List { json, limit, config } } => {
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
        Command::Calls { command: CallsCommand::Show { id, json, config } } => {
            let call = load_config(config.as_ref())?.open_store()?.call(&id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&call)?);
            } else {
                print_call(&call);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Triage { text, json, eval, config } => {
            let config = load_config(config.as_ref())?;
            let (triage, missing) = crate::triage::Triage::from_config(&config.triage)?;
            if let Some(missing) = missing {
                eprintln!("warning: rules only: {missing}");
            }
            if !eval.is_empty() {
                for file in eval {
                    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                    let cases = crate::triage::model::data::parse(&text, &file.display().to_string())?;
                    println!("{}:\n{}", file.display(), crate::triage::evaluate::Evaluation::of(&cases, &triage));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let result = triage.classify(&text.join(" "));
            let report = crate::triage::TriageReport::from(&result);
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{} ({}){}", report.kind, report.code, if report.urgent { "  URGENT" } else { "" });
                for flag in &result.red_flags {
                    println!("red flag: {} [{:?}] ({})", flag.label, flag.severity, flag.matched.join(", "));
                }
                for rule in &result.rules {
                    println!("rule: {} -> {} ({})", rule.id, rule.target, rule.matched.join(", "));
                }
                for rule in &result.negated {
                    println!("negated: {} ({})", rule.id, rule.matched.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model { command: ModelCommand::Import { dirs, out, force } } => {
            let options = crate::speech::model::ImportOptions { out_dir: out, force, progress: true };
            let report = crate::speech::model::import(&dirs, &options)?;
            let verb = if report.skipped { "up to date" } else { "written" };
            println!("{} {verb} ({} tensors, sha256 {})", report.path.display(), report.tensors, report.sha256);
            Ok(ExitCode::SUCCESS)
        }
        Command::Model { command: ModelCommand::ImportTriage { dir, out, training, force } } => {
            let report = crate::triage::model::import::import(&dir, &training, &out, force)?;
            let cv = &report.cross_validation;
            println!(
                "{} {} ({} utterances; emergency threshold {:.2}; {}-fold cross-validation: type accuracy {:.1}%, emergency recall {:.1}% of {}, false emergencies {:.1}%)",
                report.out_dir.display(),
                if report.up_to_date { "up to date" } else { "written" },
                report.samples,
                report.thresholds.emergency,
                cv.folds,
                cv.type_accuracy * 100.0,
                cv.emergency_recall * 100.0,
                cv.emergencies,
                cv.false_emergency_rate * 100.0,
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Transcribe { file, config } => {
            let config = load_config(config.as_ref())?;
            let (samples, rate) = if crate::store::recording::is_sealed(&file) {
                let pcm = crate::store::recording::read_pcm(&file, &config.load_keys()?)?;
                (pcm.samples.iter().map(|&s| s as f32 / 32768.0).collect(), pcm.sample_rate)
            } else {
                crate::media::prompts::decode_file(&file)?
            };
            let audio = crate::media::resample::resample(&samples, rate, 16000)?;
            let speech = crate::speech::SpeechConfig { workers: 1, ..config.speech };
            let pool = crate::speech::AsrPool::load(&speech)?;
            let reply = pool.submit_16k(audio, crate::speech::Priority::Interactive, &[])?;
            let transcript = reply.blocking_recv().context("the recognizer stopped")??;
            println!("{}", transcript.text);
            Ok(ExitCode::SUCCESS)
        }
        Command::Dob { text } => {
            let today = chrono::Local::now().date_naive();
            match crate::speech::dates::parse_date(&text, today) {
                Ok(date) => {
                    println!("{date}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("chartline dob: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Outbox { command: None, json, config } => {
            let store = load_config(config.as_ref())?.open_store()?;
            let rows = store.with(|conn| crate::store::outbox::list(conn))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in &rows {
                    println!("{}  {:<12} attempts {:<3} {}", r["call_id"].as_str().unwrap_or(""), r["status"].as_str().unwrap_or(""), r["attempts"], r["last_error"].as_str().unwrap_or(""));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { command: Some(OutboxCommand::Deliver { timeout_s, config }), .. } => {
            let config = load_config(config.as_ref())?;
            init_logging();
            let store = config.open_store()?;
            let ehr = config.open_ehr().context("opening the EHR adapter")?;
            let report = tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(crate::ehr::sync::deliver_until_idle(
                store,
                ehr,
                config.ehr.retry.clone(),
                std::time::Duration::from_secs(timeout_s),
            ))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { command: Some(OutboxCommand::Retry { call_id, all, config }), .. } => {
            ensure(call_id.is_some() || all, || "name a call id or pass --all".to_string())?;
            let store = load_config(config.as_ref())?.open_store()?;
            let n = store.with(|conn| crate::store::outbox::requeue(conn, call_id.as_deref(), chrono::Utc::now()))?;
            println!("{n} result(s) queued again");
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart { command: ChartCommand::Import { paths, config } } => {
            let config = load_config(config.as_ref())?;
            let chart = config.open_chart()?;
            let report = chart.import(&paths)?;
            println!("{}", serde_json::to_string(&report)?);
            ensure(report.errors.is_empty(), || format!("{} file(s) not imported:\n{}", report.errors.len(), report.errors.join("\n")))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart { command: ChartCommand::Patients { json, config } } => {
            let config = load_config(config.as_ref())?;
            let chart = config.open_chart()?;
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            let patients = chart.patients()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&patients)?);
            } else {
                for p in patients {
                    println!("{}  {}  {} {}  {}", p.id, p.birth_date, p.given, p.family, p.phone.unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart { command: ChartCommand::Slots { json, practitioner, from, limit, config } } => {
            let config = load_config(config.as_ref())?;
            chart_slots(&config, practitioner, from, limit, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart { command: ChartCommand::Appointments { patient_id, json, config } } => {
            let config = load_config(config.as_ref())?;
            let ehr = config.open_ehr().context("opening the EHR adapter")?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let upcoming = rt.block_on(ehr.upcoming_appointments(&patient_id, chrono::Utc::now()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&upcoming)?);
            } else {
                for a in upcoming {
                    println!("{}  {}  {}  {}", a.appointment_id, a.start, a.practitioner_name.unwrap_or_default(), a.location_name.unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart { command: ChartCommand::Schedules { seed, config } } => {
            let config = load_config(config.as_ref())?;
            let chart = config.open_chart()?;
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            let report = chart.generate_schedules(seed, chrono::Utc::now())?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command: UserCommand::Add { username, display_name, role, practitioner, password_file, totp, config } } => {
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
        Command::User { command: UserCommand::Pin { username, config } } => {
            let store = load_config(config.as_ref())?.open_store()?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the PIN from stdin")?;
            crate::oncall::pins::set_pin(&store, &username, line.trim()).with_context(|| format!("setting the callback-line PIN of {username}"))?;
            println!("callback-line PIN set for {username}");
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command: UserCommand::List { config } } => {
            let store = load_config(config.as_ref())?.open_store()?;
            println!("{}", serde_json::to_string_pretty(&store.users()?)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Key { command: KeyCommand::Rotate { new_key_file, reencrypt, config } } => {
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
        Command::Recording { command: RecordingCommand::Export { call_id, out, config } } => {
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
        Command::Audit { command: AuditCommand::Verify { config } } => {
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
        Command::Audit { command: AuditCommand::List { limit, object, config } } => {
            let store = load_config(config.as_ref())?.open_store()?;
            println!("{}", serde_json::to_string_pretty(&store.audit_entries(object.as_deref(), limit)?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline chart slots`: free single slots from `from` (local midnight) or now, over the horizon.
fn chart_slots(config: &Config, practitioner: Option<String>, from: Option<chrono::NaiveDate>, limit: usize, json: bool) -> Result<(), CliError> {
    use chrono::TimeZone;
    let tz = config.practice.tz();
    let now = chrono::Utc::now();
    let start = match from {
        Some(date) => tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).context("midnight")?).earliest().context("no local midnight on that date")?.with_timezone(&chrono::Utc).max(now),
        None => now,
    };
    let query = crate::schedule::SlotQuery {
        practitioner_id: practitioner,
        location_id: None,
        from: start,
        until: start + chrono::Duration::days(i64::from(config.scheduling.horizon_days)),
        minutes: 1,
        constraint: Default::default(),
        exclude: Vec::new(),
        limit,
    };
    let ehr = config.open_ehr().context("opening the EHR adapter")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let slots = rt.block_on(ehr.free_slots(&query))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&slots)?);
    } else {
        for s in slots {
            println!("{}  {}  {}  {}  {}", s.id, s.start.with_timezone(&tz).format("%a %Y-%m-%d %H:%M"), s.end.with_timezone(&tz).format("%H:%M"), s.practitioner_name, s.location_name);
        }
    }
    Ok(())
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
