//! `[scheduling]`: what callers may book by phone.

use serde::Deserialize;

use super::VisitType;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulingConfig {
    /// Offer slots up to this many days ahead.
    pub horizon_days: u32,
    /// No slot starting sooner than this many minutes from now (no same-hour bookings).
    pub min_lead_minutes: u32,
    /// Slots read per offer.
    pub offers: usize,
    /// Visit length in minutes per type.
    pub follow_up_minutes: u32,
    pub sick_visit_minutes: u32,
    pub annual_physical_minutes: u32,
    pub new_patient_minutes: u32,
    /// Visit types a caller without a chart (not found) may book.
    pub new_patient_types: Vec<VisitType>,
    /// Symptoms triage marks urgent are not booked later than this many days out: they go to the
    /// triage path instead.
    pub urgent_max_days: u32,
}

impl Default for SchedulingConfig {
    fn default() -> Self {
        Self {
            horizon_days: 60,
            min_lead_minutes: 60,
            offers: 3,
            follow_up_minutes: 15,
            sick_visit_minutes: 20,
            annual_physical_minutes: 30,
            new_patient_minutes: 30,
            new_patient_types: vec![VisitType::NewPatient],
            urgent_max_days: 1,
        }
    }
}

impl SchedulingConfig {
    pub fn minutes(&self, visit: VisitType) -> u32 {
        match visit {
            VisitType::FollowUp => self.follow_up_minutes,
            VisitType::SickVisit => self.sick_visit_minutes,
            VisitType::AnnualPhysical => self.annual_physical_minutes,
            VisitType::NewPatient => self.new_patient_minutes,
        }
    }

    /// Range checks; returns the key (relative to `scheduling.`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: &str| Err((key.to_string(), problem.to_string()));
        if self.horizon_days == 0 || self.horizon_days > 366 {
            return bad("horizon_days", "must be 1-366");
        }
        if !(1..=9).contains(&self.offers) {
            return bad("offers", "must be 1-9 (one key per offer)");
        }
        for visit in VisitType::ALL {
            let minutes = self.minutes(visit);
            if minutes == 0 || minutes > 240 {
                return bad(&format!("{}_minutes", visit.as_str()), "must be 1-240");
            }
        }
        Ok(())
    }
}
