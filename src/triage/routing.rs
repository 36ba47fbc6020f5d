//! Routing a call's work item (pure): who owns it, which department's queue, which location, and
//! whether the on-call provider is paged. Maps onto [`crate::store::record::Routing`].
//!
//! - In hours: the patient's own provider (PCP from the care team) for clinical request types
//!   (`provider_types`), the department configured for the request type.
//! - After hours (see [`PracticeHours`]): emergencies and the `on_call_types` go to the on-call
//!   provider with `on_call: true`; everything else waits in its department's queue for the morning.
//! - The dialed number (SIP To) picks the location.
//! - On call: a dated entry (`from`/`until`, local time) wins over a weekly one (`days`); a night
//!   belongs to the day it started, up to `handover` the next morning.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Utc};
use serde::Deserialize;

use super::RequestType;
use super::hours::{HoursError, PracticeHours, parse_time};
use crate::store::record::Routing;

/// `[routing]` in chartline.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Request type name → department queue.
    pub departments: BTreeMap<String, String>,
    /// Department for types not listed.
    pub default_department: String,
    /// Types whose work item is owned by the patient's own provider.
    pub provider_types: Vec<String>,
    /// Types that page the on-call provider after hours (emergencies always do).
    pub on_call_types: Vec<String>,
    /// Dialed number → location.
    pub locations: Vec<LocationRule>,
    /// Location when the dialed number is not listed; empty = none.
    pub default_location: String,
    pub on_call: Vec<OnCallEntry>,
    /// Local time when the night's on-call hands over to the next day's ("08:00").
    pub handover: String,
    /// Provider on call when no entry covers the moment; empty = none.
    pub on_call_fallback: String,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let departments = [
            ("refill", "nurse_pool"),
            ("symptom", "nurse_pool"),
            ("urgent", "nurse_pool"),
            ("results", "nurse_pool"),
            ("appointment", "scheduling"),
            ("callback", "front_desk"),
            ("referral", "referrals"),
            ("prior_auth", "referrals"),
            ("billing", "billing"),
            ("records", "records"),
            ("administrative", "front_desk"),
            ("provider", "provider_inbox"),
        ];
        Self {
            departments: departments.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            default_department: "front_desk".into(),
            provider_types: names(&["refill", "symptom", "results", "referral", "prior_auth", "provider", "urgent"]),
            on_call_types: names(&["symptom", "urgent"]),
            locations: vec![],
            default_location: String::new(),
            on_call: vec![],
            handover: "08:00".into(),
            on_call_fallback: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationRule {
    /// The dialed number, any format ("+1 555-010-2000", "5550102000", "sip:+15550102000@pbx").
    pub number: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallEntry {
    /// Practitioner reference or name.
    pub provider: String,
    /// Weekly: the days whose evening and following night this provider covers ("mon", …).
    #[serde(default)]
    pub days: Vec<String>,
    /// Dated: local "YYYY-MM-DDTHH:MM" from (inclusive) and until (exclusive).
    pub from: Option<String>,
    pub until: Option<String>,
}

enum Cover {
    Weekly(Vec<u32>),
    Dated(NaiveDateTime, NaiveDateTime),
}

/// What the router needs to know about one call.
#[derive(Debug, Clone)]
pub struct RouteInput<'a> {
    pub request: RequestType,
    /// An emergency (or caller-declared urgent) call.
    pub urgent: bool,
    /// The dialed number or To URI.
    pub dialed: &'a str,
    /// The patient's PCP from the care team, if the patient was identified.
    pub care_team: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Compiled routing rules.
pub struct Router {
    hours: PracticeHours,
    departments: HashMap<RequestType, String>,
    default_department: String,
    provider_types: Vec<RequestType>,
    on_call_types: Vec<RequestType>,
    locations: Vec<(String, String)>,
    default_location: Option<String>,
    on_call: Vec<(String, Cover)>,
    handover: NaiveTime,
    fallback: Option<String>,
}

fn weekday_index(name: &str) -> Option<u32> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|d| *d == name.to_lowercase()).map(|i| i as u32)
}

impl Router {
    /// Compiles the config; errors name the key relative to `[routing]`.
    pub fn new(config: &RoutingConfig, hours: PracticeHours) -> Result<Self, HoursError> {
        let bad = |key: &str, problem: String| HoursError { key: key.to_string(), problem };
        let types = |key: &str, list: &[String]| -> Result<Vec<RequestType>, HoursError> {
            list.iter().map(|n| RequestType::from_name(n).ok_or_else(|| bad(key, format!("has {n:?}, not a request type")))).collect()
        };
        let mut departments = HashMap::new();
        for (name, department) in &config.departments {
            let kind = RequestType::from_name(name).ok_or_else(|| bad(&format!("departments.{name}"), "is not a request type".into()))?;
            departments.insert(kind, department.clone());
        }
        let mut locations = Vec::new();
        for rule in &config.locations {
            let number = crate::phone::national(&rule.number);
            if number.is_empty() {
                return Err(bad("locations", format!("number {:?} has no digits", rule.number)));
            }
            locations.push((number, rule.location.clone()));
        }
        let handover = parse_time(&config.handover).ok_or_else(|| bad("handover", "expects \"HH:MM\"".into()))?;
        let mut on_call = Vec::new();
        for (i, entry) in config.on_call.iter().enumerate() {
            let key = format!("on_call[{i}]");
            let stamp = |s: &Option<String>| s.as_deref().and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok());
            let cover = match (&entry.days.is_empty(), &entry.from, &entry.until) {
                (false, None, None) => Cover::Weekly(entry.days.iter().map(|d| weekday_index(d).ok_or_else(|| bad(&key, format!("day {d:?} is not mon..sun")))).collect::<Result<_, _>>()?),
                (true, Some(_), Some(_)) => match (stamp(&entry.from), stamp(&entry.until)) {
                    (Some(from), Some(until)) if from < until => Cover::Dated(from, until),
                    _ => return Err(bad(&key, "needs from < until as \"YYYY-MM-DDTHH:MM\"".into())),
                },
                _ => return Err(bad(&key, "needs either `days` or both `from` and `until`".into())),
            };
            on_call.push((entry.provider.clone(), cover));
        }
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(Self {
            hours,
            departments,
            default_department: config.default_department.clone(),
            provider_types: types("provider_types", &config.provider_types)?,
            on_call_types: types("on_call_types", &config.on_call_types)?,
            locations,
            default_location: non_empty(&config.default_location),
            on_call,
            handover,
            fallback: non_empty(&config.on_call_fallback),
        })
    }

    pub fn hours(&self) -> &PracticeHours {
        &self.hours
    }

    pub fn is_after_hours(&self, at: DateTime<Utc>) -> bool {
        self.hours.is_after_hours(at)
    }

    /// The location for a dialed number or To URI.
    pub fn location(&self, dialed: &str) -> Option<String> {
        let number = crate::phone::national(dialed);
        self.locations.iter().find(|(n, _)| *n == number).map(|(_, l)| l.clone()).or_else(|| self.default_location.clone())
    }

    /// Who is on call at `at`.
    pub fn on_call_provider(&self, at: DateTime<Utc>) -> Option<String> {
        let local = at.with_timezone(&self.hours.time_zone()).naive_local();
        if let Some((p, _)) = self.on_call.iter().find(|(_, c)| matches!(c, Cover::Dated(f, u) if *f <= local && local < *u)) {
            return Some(p.clone());
        }
        let duty_day = if local.time() < self.handover { local.date() - Duration::days(1) } else { local.date() };
        let weekday = duty_day.weekday().num_days_from_monday();
        self.on_call.iter().find(|(_, c)| matches!(c, Cover::Weekly(days) if days.contains(&weekday))).map(|(p, _)| p.clone()).or_else(|| self.fallback.clone())
    }

    pub fn route(&self, input: &RouteInput) -> Routing {
        let department = self.departments.get(&input.request).cloned().unwrap_or_else(|| self.default_department.clone());
        let location = self.location(input.dialed);
        let page = self.is_after_hours(input.at) && (input.urgent || self.on_call_types.contains(&input.request));
        if page && let Some(provider) = self.on_call_provider(input.at) {
            return Routing { practitioner: Some(provider), department: Some(department), location, on_call: true };
        }
        let practitioner = if self.provider_types.contains(&input.request) { input.care_team.map(str::to_string) } else { None };
        Routing { practitioner, department: Some(department), location, on_call: false }
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
