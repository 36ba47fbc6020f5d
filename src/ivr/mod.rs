//! Dialogs as pure state machines (`dialog`), driven by the per-call task; their timing, retries
//! and keypad menu are configuration (`[ivr]` in config/chartline.toml). `matching` holds the pure
//! helpers the patient line uses to pick a chart (caller ID, spoken name) and a read-back clip;
//! `dob_search` looks the readings of a spoken date of birth up in the chart, one at a time.
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod dialog;
pub mod dob_search;
pub mod keypad_date;
pub mod matching;

use std::time::Duration;

use serde::Deserialize;

pub use dialog::{Action, CallSetup, Candidate, ClipCheck, DateParser, Dialog, Event, Scheduling};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IvrConfig {
    /// Wait for the first key after a prompt ends.
    pub first_digit_timeout_ms: u64,
    /// Wait between keys of the date of birth.
    pub inter_digit_timeout_ms: u64,
    /// Tries at entering and confirming the date of birth.
    pub dob_attempts: u32,
    /// Re-prompts after silence or a wrong key before moving on.
    pub key_retries: u32,
    pub max_message_s: u64,
    /// Silence that ends the message when speech is on (a breath or a pause to think does not).
    pub message_end_silence_ms: u64,
    pub lookup_timeout_ms: u64,
    /// Wait for the caller to start talking after a prompt ends (speech turns).
    pub speech_timeout_ms: u64,
    /// Wait for the transcript once the caller started talking; then the turn counts as missed.
    pub utterance_timeout_ms: u64,
    /// Tries at saying the request, a name or a follow-up answer before moving on.
    pub speech_attempts: u32,
    /// Where an emergency call is transferred (a SIP URI or extension); unset = the caller hears
    /// the 911 prompt and may leave an urgent message.
    pub emergency_transfer: Option<String>,
    /// How long a transfer may take to be answered (REFER accepted and the new call connected);
    /// then the caller hears the 911 prompt instead.
    pub transfer_timeout_ms: u64,
    /// Prompt naming the practice, played after `greeting`.
    pub practice_prompt: String,
    /// The keypad menu: page, key, request code (A–L) and the prompt naming it.
    pub menu: Vec<MenuEntry>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MenuEntry {
    pub page: u8,
    pub key: char,
    pub code: char,
    pub prompt: String,
}

impl Default for IvrConfig {
    fn default() -> Self {
        let entry = |page, key, code, prompt: &str| MenuEntry { page, key, code, prompt: prompt.into() };
        Self {
            first_digit_timeout_ms: 6000,
            inter_digit_timeout_ms: 4000,
            dob_attempts: 3,
            key_retries: 3,
            max_message_s: 120,
            message_end_silence_ms: 5000,
            lookup_timeout_ms: 3000,
            speech_timeout_ms: 7000,
            utterance_timeout_ms: 15000,
            speech_attempts: 2,
            emergency_transfer: None,
            transfer_timeout_ms: 20_000,
            practice_prompt: "practice-name".into(),
            menu: vec![
                entry(1, '1', 'A', "menu-refill"),
                entry(1, '2', 'B', "menu-appointment"),
                entry(1, '3', 'C', "menu-symptom"),
                entry(1, '4', 'D', "menu-results"),
                entry(1, '5', 'E', "menu-referral"),
                entry(1, '6', 'F', "menu-billing"),
                entry(1, '7', 'G', "menu-prior-auth"),
                entry(1, '8', 'H', "menu-records"),
                entry(1, '9', 'I', "menu-callback"),
                entry(1, '*', 'J', "menu-urgent"),
                entry(2, '1', 'K', "menu-administrative"),
                entry(2, '2', 'L', "menu-provider"),
            ],
        }
    }
}

impl IvrConfig {
    pub fn first_digit_timeout(&self) -> Duration {
        Duration::from_millis(self.first_digit_timeout_ms)
    }

    pub fn inter_digit_timeout(&self) -> Duration {
        Duration::from_millis(self.inter_digit_timeout_ms)
    }

    pub fn speech_timeout(&self) -> Duration {
        Duration::from_millis(self.speech_timeout_ms)
    }

    pub fn utterance_timeout(&self) -> Duration {
        Duration::from_millis(self.utterance_timeout_ms)
    }

    pub fn message_end_silence(&self) -> Duration {
        Duration::from_millis(self.message_end_silence_ms)
    }

    pub fn transfer_timeout(&self) -> Duration {
        Duration::from_millis(self.transfer_timeout_ms)
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.dob_attempts == 0 || self.key_retries == 0 {
            return Err(("dob_attempts".into(), "dob_attempts and key_retries must be at least 1".into()));
        }
        if self.speech_attempts == 0 {
            return Err(("speech_attempts".into(), "must be at least 1".into()));
        }
        for (key, value) in [
            ("speech_timeout_ms", self.speech_timeout_ms),
            ("utterance_timeout_ms", self.utterance_timeout_ms),
            ("first_digit_timeout_ms", self.first_digit_timeout_ms),
            ("message_end_silence_ms", self.message_end_silence_ms),
            ("transfer_timeout_ms", self.transfer_timeout_ms),
            ("max_message_s", self.max_message_s),
        ] {
            if value == 0 {
                return Err((key.into(), "must be more than 0".into()));
            }
        }
        if self.emergency_transfer.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(("emergency_transfer".into(), "is empty: remove the key or name a target".into()));
        }
        for entry in &self.menu {
            if crate::triage::RequestType::from_code(entry.code).is_none() {
                return Err(("menu".into(), format!("code {:?} is not a request code A–L", entry.code)));
            }
            if entry.key == '#' || (entry.key == '0' && entry.page == 1) {
                return Err(("menu".into(), format!("key {:?} on page {} is reserved (# repeats, 0 = more)", entry.key, entry.page)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ivr_config_errors_name_the_key() {
        let parse = |text: &str| toml::from_str::<IvrConfig>(text).map_err(|e| e.to_string()).and_then(|c| c.validate().map_err(|(k, p)| format!("{k}: {p}")));
        assert!(parse("").is_ok());
        assert!(parse("emergency_transfer = \"sip:nurse@10.0.0.5\"\nspeech_timeout_ms = 5000").is_ok());
        assert!(parse("emergency_transfer = \" \"").unwrap_err().starts_with("emergency_transfer"));
        assert!(parse("speech_attempts = 0").unwrap_err().starts_with("speech_attempts"));
        assert!(parse("utterance_timeout_ms = 0").unwrap_err().starts_with("utterance_timeout_ms"));
        assert!(parse("message_end_silence_ms = 0").unwrap_err().starts_with("message_end_silence_ms"));
        assert!(parse("transfer_timeout_ms = 0").unwrap_err().starts_with("transfer_timeout_ms"));
        assert!(parse("speech_timeot_ms = 1").unwrap_err().contains("speech_timeot_ms"), "unknown keys are refused");
    }
}
