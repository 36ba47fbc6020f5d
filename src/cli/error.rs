//! What a command can fail with: the library's own errors as they are, or one of them with what the
//! command was doing (`reading x.tsv`), which `main` prints above its cause.

use std::error::Error;

type Cause = Box<dyn Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What the command was doing, and the error that stopped it (its `source`).
    #[error("{doing}")]
    While { doing: String, source: Cause },
    /// A command that ran but did not do all it was asked (the message says what is left).
    #[error("{0}")]
    Incomplete(String),
    #[error(transparent)]
    Library(Cause),
}

/// Library errors a command passes on as they are.
macro_rules! passed_on {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> Self {
                CliError::Library(Box::new(e))
            }
        }
    )*};
}

passed_on!(
    crate::config::ConfigError,
    crate::config::OpenError,
    crate::server::ServerError,
    crate::store::StoreError,
    crate::store::recording::RecordingError,
    crate::ehr::EhrError,
    crate::triage::TriageError,
    crate::triage::model::ModelError,
    crate::speech::ModelError,
    crate::speech::AsrError,
    crate::speech::Saturated,
    crate::media::prompts::PromptError,
    crate::media::resample::ResampleError,
    crate::crypto::password::PasswordError,
    serde_json::Error,
    std::io::Error,
);

/// `anyhow`-style context on a result or an option, for the commands.
pub trait Context<T> {
    fn context(self, doing: &str) -> Result<T, CliError>;
    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T, CliError>;
}

impl<T, E: Error + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn context(self, doing: &str) -> Result<T, CliError> {
        self.with_context(|| doing.to_string())
    }

    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T, CliError> {
        self.map_err(|e| CliError::While { doing: doing(), source: Box::new(e) })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, doing: &str) -> Result<T, CliError> {
        self.with_context(|| doing.to_string())
    }

    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T, CliError> {
        self.ok_or_else(|| CliError::Incomplete(doing()))
    }
}

/// Fails with `message` unless `done`.
pub fn ensure(done: bool, message: impl FnOnce() -> String) -> Result<(), CliError> {
    if done { Ok(()) } else { Err(CliError::Incomplete(message())) }
}
