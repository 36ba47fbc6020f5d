//! The twelve request types (docs/architecture.md, seed order, codes A–L).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    Refill,
    Appointment,
    Symptom,
    Results,
    Referral,
    Billing,
    PriorAuth,
    Records,
    Callback,
    Urgent,
    Administrative,
    Provider,
}

impl RequestType {
    pub const ALL: [RequestType; 12] = [
        Self::Refill,
        Self::Appointment,
        Self::Symptom,
        Self::Results,
        Self::Referral,
        Self::Billing,
        Self::PriorAuth,
        Self::Records,
        Self::Callback,
        Self::Urgent,
        Self::Administrative,
        Self::Provider,
    ];

    /// Letter code A–L.
    pub fn code(self) -> char {
        (b'A' + Self::ALL.iter().position(|t| *t == self).unwrap_or(0) as u8) as char
    }

    pub fn from_code(code: char) -> Option<Self> {
        let index = (code.to_ascii_uppercase() as u32).checked_sub('A' as u32)? as usize;
        Self::ALL.get(index).copied()
    }

    /// snake_case name, as in the call record and FHIR category code.
    pub fn name(self) -> &'static str {
        match self {
            Self::Refill => "refill",
            Self::Appointment => "appointment",
            Self::Symptom => "symptom",
            Self::Results => "results",
            Self::Referral => "referral",
            Self::Billing => "billing",
            Self::PriorAuth => "prior_auth",
            Self::Records => "records",
            Self::Callback => "callback",
            Self::Urgent => "urgent",
            Self::Administrative => "administrative",
            Self::Provider => "provider",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Refill => "a prescription refill",
            Self::Appointment => "an appointment",
            Self::Symptom => "a symptom",
            Self::Results => "test results",
            Self::Referral => "a referral",
            Self::Billing => "billing",
            Self::PriorAuth => "a prior authorization",
            Self::Records => "medical records",
            Self::Callback => "a call back",
            Self::Urgent => "an urgent need",
            Self::Administrative => "an office question",
            Self::Provider => "a message for your provider",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_seed_order() {
        let codes: String = RequestType::ALL.iter().map(|t| t.code()).collect();
        assert_eq!(codes, "ABCDEFGHIJKL");
        assert_eq!(RequestType::from_code('g'), Some(RequestType::PriorAuth));
        assert_eq!(RequestType::from_code('M'), None);
        for t in RequestType::ALL {
            assert_eq!(RequestType::from_name(t.name()), Some(t));
        }
    }
}
