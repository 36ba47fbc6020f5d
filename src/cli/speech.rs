//! The commands of the models: importing them, transcribing a file, reading a spoken date of birth.

use std::path::PathBuf;
use std::process::ExitCode;

use super::error::Context;
use super::*;

/// `chartline model`: the speech model and the triage encoder.
pub(super) fn model(command: ModelCommand) -> Result<ExitCode, CliError> {
    match command {
        ModelCommand::Import { dirs, out, force } => {
            let options = crate::speech::model::ImportOptions { out_dir: out, force, progress: true };
            let report = crate::speech::model::import(&dirs, &options)?;
            let verb = if report.skipped { "up to date" } else { "written" };
            println!("{} {verb} ({} tensors, sha256 {})", report.path.display(), report.tensors, report.sha256);
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::ImportTriage { dir, out, training, force } => {
            let report = crate::triage::model::import::import(&dir, &training, &out, force)?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `chartline transcribe`: what the recognizer hears in an audio file or a sealed recording.
pub(super) fn transcribe(file: PathBuf, config: Option<PathBuf>) -> Result<ExitCode, CliError> {
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

/// `chartline dob`: a spoken date of birth as YYYY-MM-DD; exit 1 when none is understood.
pub(super) fn dob(text: String) -> Result<ExitCode, CliError> {
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
