//! The `chartline` command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use chartline::call::{self, CallServices};
use chartline::config::Config;
use chartline::media::{MediaCounters, PortPool, PromptLibrary};
use chartline::store::Store;
use chartline::web::metrics::{self, Metrics};

#[derive(Parser)]
#[command(name = "chartline", version, about = "A self-hosted phone system for medical practices")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer calls (SIP on UDP, TCP and, when enabled, TLS) until stopped.
    Serve {
        /// Configuration file; without it the embedded defaults (config/chartline.toml) apply.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Stored calls.
    Calls {
        #[command(subcommand)]
        command: CallsCommand,
    },
    /// Classify what a caller said: request type, red flags and the rules that fired.
    Triage {
        /// The transcript (several words are joined with spaces).
        #[arg(required_unless_present = "eval")]
        text: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Measure on labelled files (type<TAB>severity<TAB>text a line) instead: confusion
        /// matrix, emergency recall, false emergencies.
        #[arg(long, num_args = 1.., conflicts_with = "text")]
        eval: Vec<PathBuf>,
        /// Configuration file whose `[triage]` names the rules file and the model.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The speech model.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Prints what the speech recognizer hears in an audio file (WAV, MP3 or OGG, any rate).
    Transcribe {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Reads a spoken date of birth and prints it as YYYY-MM-DD (exit 1 when not understood).
    Dob { text: String },
    /// EHR outbox rows and their delivery state (including the dead letter).
    Outbox {
        #[command(subcommand)]
        command: Option<OutboxCommand>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Dashboard accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The hash-chained audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The embedded chart.
    Chart {
        #[command(subcommand)]
        command: ChartCommand,
    },
    /// Encryption keys (master key and data keys).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Call recordings (encrypted at rest).
    Recording {
        #[command(subcommand)]
        command: RecordingCommand,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// New master key, keyring rewrapped. With --reencrypt also new data keys: the store, the
    /// chart and every recording are re-encrypted (stop the server first).
    Rotate {
        /// Read the new master key (64 hex digits) from this file; with the master key in
        /// CHARTLINE_MASTER_KEY, the new key is written here when the file does not exist.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
        #[arg(long)]
        reencrypt: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RecordingCommand {
    /// Decrypts a call's recording into a WAV file (a recording cut short by a crash gives every
    /// complete second).
    Export {
        /// Call id or reference number.
        call_id: String,
        out: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Adds an account; the password is read from stdin (first line) or --password-file.
    Add {
        username: String,
        #[arg(long = "name")]
        display_name: String,
        /// provider, nurse, front_desk or admin.
        #[arg(long)]
        role: String,
        /// Practitioner id (required for providers).
        #[arg(long)]
        practitioner: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Also require an authenticator code (TOTP); prints the secret to enrol.
        #[arg(long)]
        totp: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Sets a provider's callback-line PIN (4-8 digits), read from stdin (first line).
    Pin {
        username: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Lists accounts (no secrets).
    List {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Delivers queued call results through the configured EHR until none is left (or --timeout-s).
    Deliver {
        #[arg(long, default_value_t = 300)]
        timeout_s: u64,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Sends dead-lettered results again (one call, or all with --all).
    Retry {
        call_id: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walks the chain: exit 0 with the entry count, or exit 1 naming the first edited or missing entry.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Recent entries, newest first, as JSON.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only entries about this object (a call id).
        #[arg(long)]
        object: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ChartCommand {
    /// Loads FHIR R4 bundles (files or directories of .json) into the embedded chart.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Patients in the embedded chart (loads the demo practice when it is empty).
    Patients {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Free slots of the configured chart, earliest first (one slot each).
    Slots {
        #[arg(long)]
        json: bool,
        /// Only this practitioner's slots.
        #[arg(long)]
        practitioner: Option<String>,
        /// First local date (YYYY-MM-DD); default now.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// A patient's upcoming appointments in the configured chart.
    Appointments {
        patient_id: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// (Re)generates the embedded chart's demo schedules; slots held by appointments stay.
    Schedules {
        #[arg(long, default_value_t = chartline::ehr::embedded::slots::DEMO_SEED)]
        seed: u64,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Converts a CTranslate2 Whisper model (a folder, or several holding model.bin.partN files,
    /// concatenated in order) into a whisper.cpp file under --out. Skips when already done.
    Import {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Convert again even when the output matches its recorded checksum.
        #[arg(long)]
        force: bool,
    },
    /// Imports the triage sentence encoder (the folder scripts/setup extracts from PyPI) into
    /// --out and trains the triage heads on --training. Skips when already done.
    ImportTriage {
        dir: PathBuf,
        #[arg(long, default_value = chartline::triage::DEFAULT_MODEL_DIR)]
        out: PathBuf,
        #[arg(long, default_value = "config/triage-train.tsv")]
        training: PathBuf,
        /// Train again even when encoder and training file are unchanged.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum CallsCommand {
    /// Recent calls, newest first.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// One call by id or reference number.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    Ok(match path {
        Some(path) => Config::load(path)?,
        None => Config::embedded()?,
    })
}

fn open_store(config: &Config) -> Result<Store> {
    Store::open_with(&config.store_path(), Arc::new(load_keys(config)?)).with_context(|| format!("opening the store {}", config.store_path().display()))
}

fn load_keys(config: &Config) -> Result<chartline::store::Keys> {
    chartline::store::Keys::load_or_create(&config.key_paths()).context("loading the encryption keys ([security])")
}

fn open_chart(config: &Config) -> Result<chartline::ehr::embedded::EmbeddedChart> {
    let path = chartline::ehr::chart_path(config);
    let chart = chartline::ehr::embedded::EmbeddedChart::open_with(&path, &load_keys(config)?).with_context(|| format!("opening the chart {}", path.display()))?;
    Ok(chart.with_scheduling(chartline::ehr::practice_tz(config), config.scheduling.horizon_days))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = load_config(config.as_ref())?;
            init_logging();
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve(config))
        }
        Command::Calls { command: CallsCommand::List { json, limit, config } } => {
            let calls = open_store(&load_config(config.as_ref())?)?.list_calls(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&calls)?);
            } else {
                for c in calls {
                    let request = c.request.as_ref().map(|r| r.kind.as_str()).unwrap_or("-");
                    println!("{}  {}  {:<14} {:?}  {}", c.started_at.format("%Y-%m-%d %H:%M:%S"), c.call_id, request, c.patient.status, if c.urgent { "URGENT" } else { "" });
                }
            }
            Ok(())
        }
        Command::Calls { command: CallsCommand::Show { id, json, config } } => {
            let call = open_store(&load_config(config.as_ref())?)?.call(&id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&call)?);
            } else {
                print_call(&call);
            }
            Ok(())
        }
        Command::Triage { text, json, eval, config } => {
            let config = load_config(config.as_ref())?;
            let (triage, missing) = chartline::triage::Triage::from_config(&config.triage)?;
            if let Some(missing) = missing {
                eprintln!("warning: rules only: {missing}");
            }
            if !eval.is_empty() {
                for file in eval {
                    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                    let cases = chartline::triage::model::data::parse(&text, &file.display().to_string())?;
                    println!("{}:\n{}", file.display(), chartline::triage::evaluate::Evaluation::of(&cases, &triage));
                }
                return Ok(());
            }
            let result = triage.classify(&text.join(" "));
            let report = chartline::triage::TriageReport::from(&result);
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
            Ok(())
        }
        Command::Model { command: ModelCommand::Import { dirs, out, force } } => {
            let options = chartline::speech::model::ImportOptions { out_dir: out, force, progress: true };
            let report = chartline::speech::model::import(&dirs, &options)?;
            let verb = if report.skipped { "up to date" } else { "written" };
            println!("{} {verb} ({} tensors, sha256 {})", report.path.display(), report.tensors, report.sha256);
            Ok(())
        }
        Command::Model { command: ModelCommand::ImportTriage { dir, out, training, force } } => {
            let report = chartline::triage::model::import::import(&dir, &training, &out, force)?;
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
            Ok(())
        }
        Command::Transcribe { file, config } => {
            let config = load_config(config.as_ref())?;
            let (samples, rate) = if chartline::store::recording::is_sealed(&file) {
                let pcm = chartline::store::recording::read_pcm(&file, &load_keys(&config)?)?;
                (pcm.samples.iter().map(|&s| s as f32 / 32768.0).collect(), pcm.sample_rate)
            } else {
                chartline::media::prompts::decode_file(&file)?
            };
            let audio = chartline::media::resample::resample(&samples, rate, 16000)?;
            let speech = chartline::speech::SpeechConfig { workers: 1, ..config.speech };
            let pool = chartline::speech::AsrPool::load(&speech)?;
            let reply = pool.submit_16k(audio, chartline::speech::Priority::Interactive, &[])?;
            let transcript = reply.blocking_recv().context("the recognizer stopped")??;
            println!("{}", transcript.text);
            Ok(())
        }
        Command::Dob { text } => {
            let today = chrono::Local::now().date_naive();
            match chartline::speech::dates::parse_date(&text, today) {
                Ok(date) => {
                    println!("{date}");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("chartline dob: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Outbox { command: None, json, config } => {
            let store = open_store(&load_config(config.as_ref())?)?;
            let rows = store.with(|conn| chartline::store::outbox::list(conn))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in &rows {
                    println!("{}  {:<12} attempts {:<3} {}", r["call_id"].as_str().unwrap_or(""), r["status"].as_str().unwrap_or(""), r["attempts"], r["last_error"].as_str().unwrap_or(""));
                }
            }
            Ok(())
        }
        Command::Outbox { command: Some(OutboxCommand::Deliver { timeout_s, config }), .. } => {
            let config = load_config(config.as_ref())?;
            init_logging();
            let store = open_store(&config)?;
            let ehr = chartline::ehr::open(&config).context("opening the EHR adapter")?;
            let report = tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(chartline::ehr::sync::deliver_until_idle(
                store,
                ehr,
                config.ehr.retry.clone(),
                std::time::Duration::from_secs(timeout_s),
            ))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Outbox { command: Some(OutboxCommand::Retry { call_id, all, config }), .. } => {
            anyhow::ensure!(call_id.is_some() || all, "name a call id or pass --all");
            let store = open_store(&load_config(config.as_ref())?)?;
            let n = store.with(|conn| chartline::store::outbox::requeue(conn, call_id.as_deref(), chrono::Utc::now()))?;
            println!("{n} result(s) queued again");
            Ok(())
        }
        Command::Chart { command: ChartCommand::Import { paths, config } } => {
            let config = load_config(config.as_ref())?;
            let chart = open_chart(&config)?;
            let report = chart.import(&paths)?;
            println!("{}", serde_json::to_string(&report)?);
            anyhow::ensure!(report.errors.is_empty(), "{} file(s) not imported:\n{}", report.errors.len(), report.errors.join("\n"));
            Ok(())
        }
        Command::Chart { command: ChartCommand::Patients { json, config } } => {
            let config = load_config(config.as_ref())?;
            let chart = open_chart(&config)?;
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            let patients = chart.patients()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&patients)?);
            } else {
                for p in patients {
                    println!("{}  {}  {} {}  {}", p.id, p.birth_date, p.given, p.family, p.phone.unwrap_or_default());
                }
            }
            Ok(())
        }
        Command::Chart { command: ChartCommand::Slots { json, practitioner, from, limit, config } } => {
            let config = load_config(config.as_ref())?;
            chart_slots(&config, practitioner, from, limit, json)
        }
        Command::Chart { command: ChartCommand::Appointments { patient_id, json, config } } => {
            let config = load_config(config.as_ref())?;
            let ehr = chartline::ehr::open(&config).context("opening the EHR adapter")?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let upcoming = rt.block_on(ehr.upcoming_appointments(&patient_id, chrono::Utc::now()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&upcoming)?);
            } else {
                for a in upcoming {
                    println!("{}  {}  {}  {}", a.appointment_id, a.start, a.practitioner_name.unwrap_or_default(), a.location_name.unwrap_or_default());
                }
            }
            Ok(())
        }
        Command::Chart { command: ChartCommand::Schedules { seed, config } } => {
            let config = load_config(config.as_ref())?;
            let chart = open_chart(&config)?;
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            let report = chart.generate_schedules(seed, chrono::Utc::now())?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::User { command: UserCommand::Add { username, display_name, role, practitioner, password_file, totp, config } } => {
            let store = open_store(&load_config(config.as_ref())?)?;
            let role = chartline::store::users::Role::parse(&role).with_context(|| format!("unknown role {role:?}: use provider, nurse, front_desk or admin"))?;
            let password = match password_file {
                Some(path) => std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
                    line
                }
            };
            let password_hash = chartline::web::password::hash(password.trim_end_matches(['\n', '\r']))?;
            let totp_secret = totp.then(chartline::web::totp::new_secret);
            let user = store.add_user(&chartline::store::users::NewUser { username, display_name, role, practitioner, password_hash, totp_secret: totp_secret.clone() })?;
            println!("added {} ({})", user.username, user.role.as_str());
            if let Some(secret) = totp_secret {
                println!("authenticator secret: {secret}");
                println!("{}", chartline::web::totp::otpauth_uri("Chartline", &user.username, &secret));
            }
            Ok(())
        }
        Command::User { command: UserCommand::Pin { username, config } } => {
            let store = open_store(&load_config(config.as_ref())?)?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the PIN from stdin")?;
            chartline::oncall::pins::set_pin(&store, &username, line.trim()).with_context(|| format!("setting the callback-line PIN of {username}"))?;
            println!("callback-line PIN set for {username}");
            Ok(())
        }
        Command::User { command: UserCommand::List { config } } => {
            let store = open_store(&load_config(config.as_ref())?)?;
            println!("{}", serde_json::to_string_pretty(&store.users()?)?);
            Ok(())
        }
        Command::Key { command: KeyCommand::Rotate { new_key_file, reencrypt, config } } => {
            let config = load_config(config.as_ref())?;
            init_logging();
            let targets = chartline::store::rotate::Targets {
                data_dir: config.data_dir.clone(),
                databases: vec![(chartline::store::keys::Purpose::Store, config.store_path()), (chartline::store::keys::Purpose::Chart, chartline::ehr::chart_path(&config))],
                recordings_dir: config.recordings_dir(),
            };
            let options = chartline::store::rotate::RotateOptions { new_key_file, reencrypt };
            let report = chartline::store::rotate::rotate(&config.key_paths(), &targets, &options)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if report.update_environment {
                eprintln!("set {} to the contents of {} before the next start", chartline::store::keys::MASTER_KEY_ENV, report.key_file.display());
            }
            anyhow::ensure!(report.recordings_failed.is_empty(), "{} recording(s) not re-encrypted (their old key is kept)", report.recordings_failed.len());
            Ok(())
        }
        Command::Recording { command: RecordingCommand::Export { call_id, out, config } } => {
            let config = load_config(config.as_ref())?;
            let store = open_store(&config)?;
            let call = store.call(&call_id)?;
            let relative = call.recording.with_context(|| format!("call {call_id} has no recording"))?;
            let pcm = chartline::store::recording::read_pcm(&config.data_dir.join(&relative), &store.keys())?;
            std::fs::write(&out, pcm.to_wav()).with_context(|| format!("writing {}", out.display()))?;
            let state = if pcm.complete { "complete" } else { "cut short (interrupted call): every complete second kept" };
            println!("{} written: {:.1} s, {state}", out.display(), pcm.duration_ms() as f64 / 1000.0);
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { config } } => {
            let store = open_store(&load_config(config.as_ref())?)?;
            match store.verify_audit()? {
                chartline::store::audit::Verification::Intact { count } => {
                    println!("audit trail intact: {count} entries");
                    Ok(())
                }
                chartline::store::audit::Verification::Broken { seq, problem } => {
                    eprintln!("audit trail broken at entry {seq}: {problem}");
                    std::process::exit(1);
                }
            }
        }
        Command::Audit { command: AuditCommand::List { limit, object, config } } => {
            let store = open_store(&load_config(config.as_ref())?)?;
            println!("{}", serde_json::to_string_pretty(&store.audit_entries(object.as_deref(), limit)?)?);
            Ok(())
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn serve(config: Config) -> Result<()> {
    let config = Arc::new(config);
    std::fs::create_dir_all(config.recordings_dir()).with_context(|| format!("creating {}", config.recordings_dir().display()))?;
    let _serving = chartline::store::rotate::serve_lock(&config.data_dir)?;
    let store = open_store(&config)?;
    let prompts = match PromptLibrary::load(&config.sounds_dir) {
        Ok(library) if !library.is_empty() => library,
        Ok(_) | Err(_) => {
            tracing::error!(dir = %config.sounds_dir.display(), "no prompt audio found: callers would hear silence; run scripts/make-sounds");
            anyhow::bail!("no prompt audio in {}", config.sounds_dir.display());
        }
    };
    tracing::info!(prompts = prompts.len(), "prompt audio loaded");
    if let Some(said) = chartline::media::prompts::rendered_text(&config.sounds_dir, &config.ivr.practice_prompt)
        && !said.to_lowercase().contains(&config.practice.name.to_lowercase())
    {
        tracing::warn!(clip = %config.ivr.practice_prompt, said = %said, name = %config.practice.name, "the greeting does not say the practice's name: run `scripts/make-sounds --practice CONFIG` or record your own clip");
    }
    let ehr = chartline::ehr::open(&config).context("opening the EHR adapter ([ehr])")?;
    let _sync = chartline::ehr::sync::spawn(store.clone(), ehr.clone(), config.ehr.retry.clone());
    let (flush_store, flush_ehr) = (store.clone(), ehr.clone());
    tracing::info!(ehr = %ehr.name(), "EHR sync worker started");
    let metrics = Arc::new(Metrics::default());
    let media_counters = Arc::new(MediaCounters::default());
    let sip = chartline::sip::start_in(&config.sip, &config.data_dir).await.with_context(|| format!("starting SIP on {}", config.sip.listen))?;
    metrics.attach(sip.live_dialogs.clone(), media_counters.clone());
    metrics.attach_trunk(sip.trunk.clone());
    if !config.metrics.listen.is_empty() {
        let addr = config.metrics.listen.parse()?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(addr, metrics).await {
                tracing::error!(error = %e, "metrics endpoint failed");
            }
        });
    }
    let (triage, missing) = chartline::triage::Triage::from_config(&config.triage).context("loading triage ([triage])")?;
    match missing {
        Some(missing) => tracing::warn!("triage on the rules alone: {missing}"),
        None if triage.has_model() => tracing::info!("triage model loaded"),
        None => tracing::info!("triage on the rules alone ([triage] model is empty)"),
    }
    let triage = Arc::new(triage);
    let hours = chartline::triage::hours::PracticeHours::from_practice(&config.practice)?;
    let router = Arc::new(chartline::triage::routing::Router::new(&config.routing, hours.clone())?);
    let asr = match chartline::speech::AsrPool::load(&config.speech) {
        Ok(pool) => {
            tracing::info!(workers = pool.workers(), "speech recognition ready");
            Some(pool)
        }
        Err(e) => {
            tracing::error!(error = %e, "no speech recognition: calls run on the keypad only. To enable it, run `scripts/setup` then `chartline model import models/ct2-tiny.en`");
            None
        }
    };
    let chart = chartline::speech::ChartTranscriber::load(&config.speech, asr.as_ref());
    let live = Arc::new(chartline::web::live::Hub::new(config.alerts.push_buffer));
    match chartline::web::bind(config.clone(), store.clone(), Some(ehr.clone()), live.clone()).await {
        Ok(Some(dashboard)) => {
            tracing::info!(url = %dashboard.url, sha256 = dashboard.fingerprint.as_deref().unwrap_or("-"), "dashboard listening");
            tokio::spawn(async move {
                if let Err(e) = dashboard.run().await {
                    tracing::error!(error = %e, "dashboard stopped");
                }
            });
        }
        Ok(None) => tracing::info!("dashboard disabled (web.listen is empty)"),
        // The phone line matters more than the dashboard: keep answering calls.
        Err(e) => tracing::error!(error = %e, "dashboard not started; calls are still answered"),
    }
    recover_interrupted_calls(&store, &router)?;
    let services = Arc::new(CallServices {
        ehr,
        asr,
        chart,
        triage,
        hours,
        router,
        store,
        prompts: Arc::new(prompts),
        ports: PortPool::new(config.media.rtp_port_min, config.media.rtp_port_max),
        metrics,
        media_counters,
        sip: sip.commands.clone(),
        local_ip: config.sip.advertised().ip(),
        config: config.clone(),
        outbound: Default::default(),
        live,
    });
    call::alert::resume_owed(&services);
    tracing::info!(sip = %sip.local_addr, "chartline ready");
    let (drain, draining) = tokio::sync::watch::channel(false);
    let grace = std::time::Duration::from_secs(config.calls.shutdown_grace_s);
    let dispatcher = tokio::spawn(call::dispatch(services, sip.events, draining));
    shutdown_signal().await?;
    let _ = drain.send(true);
    match tokio::time::timeout(grace, dispatcher).await {
        Ok(_) => tracing::info!("all calls finished; stopping"),
        Err(_) => tracing::warn!(grace_s = grace.as_secs(), "calls still active after the grace period; stopping"),
    }
    flush_outbox(&flush_store, flush_ehr.name()).await;
    Ok(())
}

/// Calls left in progress by a previous run that died (kill -9, power loss): closed as
/// interrupted with what they captured, routed, and queued for the EHR, before any new call.
fn recover_interrupted_calls(store: &Store, router: &chartline::triage::routing::Router) -> Result<()> {
    use chartline::triage::RequestType;
    let recovered = store.recover_interrupted(chrono::Utc::now(), |record| {
        let request = record.request.as_ref().and_then(|r| RequestType::from_name(&r.kind)).unwrap_or(RequestType::Provider);
        let input = chartline::triage::routing::RouteInput { request, urgent: record.urgent, dialed: &record.to, care_team: None, at: record.started_at };
        let alerted = record.routing.on_call;
        record.routing = router.route(&input);
        record.routing.on_call |= alerted;
    })?;
    if !recovered.is_empty() {
        tracing::warn!(calls = recovered.len(), "recovered calls interrupted by the previous stop");
    }
    Ok(())
}

/// On shutdown, gives the sync worker a few seconds to deliver results queued by the last calls
/// (rows in retry backoff are left for the next start).
async fn flush_outbox(store: &Store, ehr: String) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting = store.with(|conn| chartline::store::outbox::fresh_undelivered(conn)).unwrap_or(0);
        if waiting == 0 {
            return tracing::info!(%ehr, "outbox flushed");
        }
        if tokio::time::Instant::now() >= deadline {
            return tracing::warn!(waiting, %ehr, "outbox not empty at shutdown: delivered at the next start");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// SIGTERM (systemd stop) or Ctrl-C.
async fn shutdown_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
    }
    Ok(())
}

/// `chartline chart slots`: free single slots from `from` (local midnight) or now, over the horizon.
fn chart_slots(config: &Config, practitioner: Option<String>, from: Option<chrono::NaiveDate>, limit: usize, json: bool) -> Result<()> {
    use chrono::TimeZone;
    let tz = chartline::ehr::practice_tz(config);
    let now = chrono::Utc::now();
    let start = match from {
        Some(date) => tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).context("midnight")?).earliest().context("no local midnight on that date")?.with_timezone(&chrono::Utc).max(now),
        None => now,
    };
    let query = chartline::schedule::SlotQuery {
        practitioner_id: practitioner,
        location_id: None,
        from: start,
        until: start + chrono::Duration::days(i64::from(config.scheduling.horizon_days)),
        minutes: 1,
        constraint: Default::default(),
        exclude: Vec::new(),
        limit,
    };
    let ehr = chartline::ehr::open(config).context("opening the EHR adapter")?;
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
fn print_call(c: &chartline::store::CallRecord) {
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
