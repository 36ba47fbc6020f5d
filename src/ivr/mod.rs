//! Dialogs as pure state machines (`dialog`), driven by the per-call task; their timing, retries
//! and keypad menu are configuration (`[ivr]` in config/chartline.toml).

pub mod dialog;
pub mod keypad_date;

use std::time::Duration;

use serde::Deserialize;

pub use dialog::{Action, Dialog, Event};

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
    pub lookup_timeout_ms: u64,
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
            lookup_timeout_ms: 3000,
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

    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.dob_attempts == 0 || self.key_retries == 0 {
            return Err(("dob_attempts".into(), "dob_attempts and key_retries must be at least 1".into()));
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
