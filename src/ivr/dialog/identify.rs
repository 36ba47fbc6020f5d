//! Who is calling: the date of birth (keypad or speech, read back, confirmed, three tries) and the
//! chart it points to (one candidate; several narrowed by caller ID, then by a spoken name).
//! A typed date is read back, then looked up. A spoken one is looked up first, every reading of
//! it (`dob_search`): the one reading with charts is read back, a near miss that is one patient's
//! is offered ("did you say …?"), and readings of several patients (or several and no chart) are
//! asked again, never guessed.

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use serde_json::json;

use super::{Answer, Candidate, Dialog, Miss, State};
use crate::ivr::dob_search::{ChartSearch, Step};
use crate::ivr::keypad_date::parse_keypad_date;
use crate::ivr::matching::{BirthDateChoice, match_name, same_phone};
use crate::media::PromptItem;
use crate::store::record::{InputMethod, MatchStatus};

/// What the chart said of the date of birth being confirmed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum DobChart {
    /// Typed: looked up once the caller confirms it.
    Later,
    /// Spoken: the reading with charts (or the only reading, none having a chart), read back.
    Found(Vec<Candidate>),
    /// Spoken: a near miss of what was heard, one patient's, offered ("did you say …?").
    Offered(Vec<Candidate>),
}

impl Dialog {
    pub(super) fn dob_prompt(&self) -> &'static str {
        if self.speech { "dob-ask-speech" } else { "enter-dob" }
    }

    pub(super) fn ask_dob(&mut self, attempt: u32) {
        if attempt > self.config.dob_attempts {
            self.log("fallback_staff", json!({ "stage": "dob" }));
            self.actions.push_back(crate::ivr::Action::Patient { birth_date: None, status: MatchStatus::NotGiven, patient_id: None, matched_by: None });
            return self.ask_request(Self::clips(&["dob-giveup"]));
        }
        let prompt = self.dob_prompt();
        self.ask(State::Dob { attempt, digits: String::new() }, Self::clips(&[prompt]));
    }

    pub(super) fn retry_dob(&mut self, attempt: u32, apology: &str) {
        if attempt >= self.config.dob_attempts {
            return self.ask_dob(attempt + 1);
        }
        let prompt = self.dob_prompt();
        self.ask(State::Dob { attempt: attempt + 1, digits: String::new() }, Self::clips(&[apology, prompt]));
    }

    pub(super) fn dob_digit(&mut self, attempt: u32, mut digits: String, digit: char, now: Instant) {
        if digit == '#' || digit == '*' {
            if digits.is_empty() && digit == '*' {
                return self.ask_dob(attempt);
            }
            return self.dob_entered(attempt, &digits);
        }
        digits.push(digit);
        if digits.len() == 8 {
            return self.dob_entered(attempt, &digits);
        }
        self.state = State::Dob { attempt, digits };
        self.deadline = Some(now + self.config.inter_digit_timeout());
    }

    pub(super) fn dob_entered(&mut self, attempt: u32, digits: &str) {
        match parse_keypad_date(digits, self.setup.today) {
            Ok(date) => {
                self.log("dob_entered", json!({ "method": "dtmf", "attempt": attempt }));
                self.confirm_dob(attempt, date, InputMethod::Dtmf);
            }
            Err(problem) => {
                self.log("dob_invalid", json!({ "method": "dtmf", "attempt": attempt, "problem": problem.to_string() }));
                self.retry_dob(attempt, "dob-invalid");
            }
        }
    }

    /// The readings of a spoken date of birth that can be one (1900 to today).
    fn readings(&self, text: &str) -> Vec<NaiveDate> {
        let today = self.setup.today;
        (self.parse_date)(text, today).into_iter().filter(|d| *d <= today && d.year() >= 1900).collect()
    }

    pub(super) fn dob_spoken(&mut self, attempt: u32, text: &str) {
        let readings = self.readings(text);
        if readings.is_empty() {
            self.log("dob_not_understood", json!({ "method": "speech", "attempt": attempt, "empty": text.is_empty() }));
            return self.retry_dob(attempt, if text.is_empty() { "no-input" } else { "not-understood" });
        }
        self.log("dob_entered", json!({ "method": "speech", "attempt": attempt, "readings": readings.len() }));
        self.search_chart(attempt, readings);
    }

    /// Words heard over the greeting: a date of birth is taken at once (its read-back replaces
    /// the rest of the greeting); anything else waits for the question.
    pub(super) fn dob_over_greeting(&mut self, text: &str) {
        let readings = self.readings(text);
        if readings.is_empty() {
            return self.log("greeting_speech_ignored", json!({ "empty": text.is_empty() }));
        }
        self.tag += 1; // the greeting's end no longer matters
        self.log("dob_entered", json!({ "method": "speech", "attempt": 1, "during": "greeting", "readings": readings.len() }));
        self.search_chart(1, readings);
    }

    /// Looks the readings up before anything is read back; each phase (the readings, then their
    /// near misses) has `lookup_timeout_ms`.
    fn search_chart(&mut self, attempt: u32, readings: Vec<NaiveDate>) {
        self.stop_listening();
        let (search, step) = ChartSearch::start(readings, self.setup.today);
        self.state = State::Search { attempt, search };
        self.deadline = self.after(self.lookup_timeout());
        self.search_step(attempt, step);
    }

    fn search_answer(&mut self, attempt: u32, mut search: ChartSearch, charts: Vec<Candidate>) {
        let was_near = search.near();
        let step = search.answer(charts);
        if search.near() != was_near {
            self.deadline = self.after(self.lookup_timeout());
        }
        self.state = State::Search { attempt, search };
        self.search_step(attempt, step);
    }

    pub(super) fn search_timeout(&mut self, attempt: u32, mut search: ChartSearch) {
        self.log("lookup_timeout", json!({ "near_misses": search.near() }));
        let step = search.give_up();
        self.search_step(attempt, step);
    }

    fn search_step(&mut self, attempt: u32, step: Step) {
        let (choice, charts) = match step {
            Step::Lookup(date) => return self.actions.push_back(crate::ivr::Action::Lookup { birth_date: date }),
            Step::Done(choice, charts) => (choice, charts),
        };
        let method = InputMethod::Speech;
        match choice {
            BirthDateChoice::ReadBack(date) => {
                let prompts = Self::dob_readback(date, self.speech);
                self.ask(State::Confirm { attempt, date, method, misses: 0, chart: DobChart::Found(charts) }, prompts);
            }
            BirthDateChoice::Offer(date) => {
                self.log("dob_near_miss", json!({ "attempt": attempt }));
                let chart = DobChart::Offered(charts);
                let prompts = Self::dob_question(date, &chart, self.speech);
                self.ask(State::Confirm { attempt, date, method, misses: 0, chart }, prompts);
            }
            BirthDateChoice::AskAgain => {
                self.log("dob_ambiguous", json!({ "attempt": attempt }));
                self.retry_dob(attempt, "dob-unclear");
            }
        }
    }

    pub(super) fn dob_readback(date: NaiveDate, speech: bool) -> Vec<PromptItem> {
        let mut prompts = Self::clips(&["i-heard"]);
        prompts.push(PromptItem::Date(date));
        prompts.push(PromptItem::Clip(if speech { "dob-confirm-speech" } else { "dob-confirm" }.into()));
        prompts
    }

    /// The read-back, or "did you say …" for a near miss.
    pub(super) fn dob_question(date: NaiveDate, chart: &DobChart, speech: bool) -> Vec<PromptItem> {
        if !matches!(chart, DobChart::Offered(_)) {
            return Self::dob_readback(date, speech);
        }
        let mut prompts = Self::clips(&["dob-did-you-say"]);
        prompts.push(PromptItem::Date(date));
        prompts.push(PromptItem::Clip(if speech { "yes-no-keys" } else { "dob-confirm" }.into()));
        prompts
    }

    fn confirm_dob(&mut self, attempt: u32, date: NaiveDate, method: InputMethod) {
        let prompts = Self::dob_readback(date, self.speech);
        self.ask(State::Confirm { attempt, date, method, misses: 0, chart: DobChart::Later }, prompts);
    }

    pub(super) fn confirm_answer(&mut self, attempt: u32, date: NaiveDate, method: InputMethod, misses: u32, chart: DobChart, answer: Answer) {
        match answer {
            Answer::Yes(by) => {
                self.log("dob_confirmed", json!({ "method": by, "near_miss": matches!(chart, DobChart::Offered(_)) }));
                self.stop_listening();
                self.state = State::Lookup { date, method };
                match chart {
                    DobChart::Later => {
                        self.actions.push_back(crate::ivr::Action::Lookup { birth_date: date });
                        self.deadline = self.after(self.lookup_timeout());
                    }
                    DobChart::Found(charts) | DobChart::Offered(charts) => self.candidates(charts),
                }
            }
            Answer::No(by) => {
                self.log("dob_retry", json!({ "attempt": attempt, "method": by }));
                self.ask_dob(attempt + 1);
            }
            Answer::Unclear(miss) => {
                self.log(miss.kind(), json!({ "stage": "dob_confirm" }));
                if misses + 1 >= self.config.key_retries {
                    return self.ask_dob(attempt + 1);
                }
                let mut prompts = Self::clips(&[miss.clip()]);
                prompts.extend(Self::dob_question(date, &chart, self.speech));
                if !matches!(chart, DobChart::Offered(_)) {
                    prompts.extend(self.yes_no_help());
                }
                self.ask(State::Confirm { attempt, date, method, misses: misses + 1, chart }, prompts);
            }
        }
    }

    /// Charts from the chart: the answer to one lookup of a search, or of the confirmed date.
    pub(super) fn candidates(&mut self, candidates: Vec<Candidate>) {
        match self.state.clone() {
            State::Search { attempt, search } => self.search_answer(attempt, search, candidates),
            State::Lookup { date, method } => self.charts_found(date, method, candidates),
            _ => {}
        }
    }

    /// The charts with the confirmed date (none when the lookup timed out).
    fn charts_found(&mut self, date: NaiveDate, method: InputMethod, candidates: Vec<Candidate>) {
        let total = candidates.len();
        match total {
            0 => return self.settle_patient(date, method, MatchStatus::NotFound, None, 0),
            1 => return self.identified(date, method, &candidates[0], "birth_date", total),
            _ => {}
        }
        let caller = self.setup.caller_phone.clone().unwrap_or_default();
        let by_phone: Vec<Candidate> = candidates.iter().filter(|c| c.phone.as_deref().is_some_and(|p| same_phone(p, &caller))).cloned().collect();
        if by_phone.len() == 1 {
            return self.identified(date, method, &by_phone[0], "phone", total);
        }
        let remaining = if by_phone.is_empty() { candidates } else { by_phone };
        if !self.speech {
            return self.settle_patient(date, method, MatchStatus::Ambiguous, None, total);
        }
        self.log("ask_name", json!({ "candidates": remaining.len() }));
        self.ask(State::Name { date, method, candidates: remaining, misses: 0 }, Self::clips(&["ask-name"]));
    }

    pub(super) fn name_spoken(&mut self, date: NaiveDate, method: InputMethod, candidates: Vec<Candidate>, misses: u32, text: &str) {
        let names: Vec<(&str, &str)> = candidates.iter().map(|c| (c.given.as_str(), c.family.as_str())).collect();
        match match_name(text, &names) {
            Some(i) => {
                let total = candidates.len();
                self.identified(date, method, &candidates[i].clone(), "name", total)
            }
            None => self.name_miss(date, method, candidates, misses, if text.is_empty() { Miss::NoInput } else { Miss::NotUnderstood }),
        }
    }

    pub(super) fn name_miss(&mut self, date: NaiveDate, method: InputMethod, candidates: Vec<Candidate>, misses: u32, miss: Miss) {
        self.log(miss.kind(), json!({ "stage": "name" }));
        if misses + 1 >= self.config.speech_attempts {
            let total = candidates.len();
            return self.settle_patient(date, method, MatchStatus::Ambiguous, None, total);
        }
        self.ask(State::Name { date, method, candidates, misses: misses + 1 }, Self::clips(&[miss.clip(), "ask-name"]));
    }

    fn identified(&mut self, date: NaiveDate, method: InputMethod, candidate: &Candidate, by: &'static str, total: usize) {
        let matched_by = if by == "name" { InputMethod::Speech } else { method };
        self.log("patient_lookup", json!({ "status": MatchStatus::Identified, "candidates": total, "narrowed_by": by, "method": matched_by }));
        self.actions.push_back(crate::ivr::Action::Patient { birth_date: Some(date), status: MatchStatus::Identified, patient_id: Some(candidate.id.clone()), matched_by: Some(matched_by) });
        self.appt.patient = (MatchStatus::Identified, Some(candidate.id.clone()));
        self.actions.push_back(crate::ivr::Action::ChartSummary { patient_id: candidate.id.clone() });
        self.ask_request(vec![]);
    }

    /// Not identified (no chart, or several): the call goes on, the staff sort it out.
    pub(super) fn settle_patient(&mut self, date: NaiveDate, method: InputMethod, status: MatchStatus, patient_id: Option<String>, total: usize) {
        self.log("patient_lookup", json!({ "status": status, "candidates": total }));
        self.appt.patient = (status, patient_id.clone());
        self.actions.push_back(crate::ivr::Action::Patient { birth_date: Some(date), status, patient_id, matched_by: Some(method) });
        self.ask_request(vec![]);
    }

    pub(super) fn lookup_timeout(&self) -> Duration {
        Duration::from_millis(self.config.lookup_timeout_ms)
    }
}
