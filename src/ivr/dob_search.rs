//! The chart search behind a spoken date of birth: every reading of the transcript is looked up,
//! one lookup at a time; when none has a chart, the near misses of the readings are looked up
//! too (day and month swapped, one digit off). [`matching::choose_reading`] and
//! [`matching::choose_near_miss`] then decide: read back, offer a near miss, or ask again. Pure:
//! the dialog sends each lookup and hands back the charts the lookup found.
//!
//! [`matching::choose_reading`]: crate::ivr::matching::choose_reading
//! [`matching::choose_near_miss`]: crate::ivr::matching::choose_near_miss

use std::collections::VecDeque;

use chrono::NaiveDate;

use super::Candidate;
use super::matching::{BirthDateChoice, choose_near_miss, choose_reading, near_misses};

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSearch {
    readings: Vec<NaiveDate>,
    today: NaiveDate,
    /// Dates of the current phase still to look up; the front one is being looked up.
    pending: VecDeque<NaiveDate>,
    found: Vec<(NaiveDate, Vec<Candidate>)>,
    /// Looking up near misses (no reading had a chart).
    near: bool,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Look this date up, then call [`ChartSearch::answer`].
    Lookup(NaiveDate),
    /// The search is over: the choice and the charts of the chosen date.
    Done(BirthDateChoice, Vec<Candidate>),
}

impl ChartSearch {
    /// Starts with the first reading; `readings` must not be empty.
    pub fn start(readings: Vec<NaiveDate>, today: NaiveDate) -> (ChartSearch, Step) {
        let pending = readings.iter().copied().collect();
        let mut search = ChartSearch { readings, today, pending, found: Vec::new(), near: false };
        let step = search.next();
        (search, step)
    }

    /// Whether the near misses are being looked up (no reading had a chart).
    pub fn near(&self) -> bool {
        self.near
    }

    /// The charts the current lookup found.
    pub fn answer(&mut self, charts: Vec<Candidate>) -> Step {
        if let Some(date) = self.pending.pop_front() {
            self.found.push((date, charts));
        }
        self.next()
    }

    /// The lookups take too long: decide on what was found (dates not looked up count as
    /// without a chart; the caller still confirms what is read back or offered).
    pub fn give_up(&mut self) -> Step {
        self.pending.clear();
        if self.near { self.decide_near() } else { self.decide() }
    }

    fn next(&mut self) -> Step {
        match self.pending.front() {
            Some(date) => Step::Lookup(*date),
            None if self.near => self.decide_near(),
            None => self.decide(),
        }
    }

    fn counts(&self, dates: &[NaiveDate]) -> Vec<(NaiveDate, usize)> {
        dates.iter().map(|d| (*d, self.charts(*d).len())).collect()
    }

    fn charts(&self, date: NaiveDate) -> Vec<Candidate> {
        self.found.iter().find(|(d, _)| *d == date).map(|(_, c)| c.clone()).unwrap_or_default()
    }

    fn done(&self, choice: BirthDateChoice) -> Step {
        let charts = match choice {
            BirthDateChoice::ReadBack(date) | BirthDateChoice::Offer(date) => self.charts(date),
            BirthDateChoice::AskAgain => Vec::new(),
        };
        Step::Done(choice, charts)
    }

    /// After the readings: one with charts is read back, several are asked again, none turns
    /// to the near misses.
    fn decide(&mut self) -> Step {
        if let Some(choice) = choose_reading(&self.counts(&self.readings)) {
            return self.done(choice);
        }
        self.near = true;
        self.pending = near_misses(&self.readings, self.today).into();
        self.next()
    }

    fn decide_near(&self) -> Step {
        let looked_up: Vec<NaiveDate> = self.found.iter().map(|(d, _)| *d).filter(|d| !self.readings.contains(d)).collect();
        self.done(choose_near_miss(&self.readings, &self.counts(&looked_up)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn patient(id: &str) -> Candidate {
        Candidate { id: id.into(), given: "Ann".into(), family: "Lee".into(), phone: None }
    }

    /// Runs a search against a chart of (birth date, patient id); returns the dates looked up and
    /// the end.
    fn search(readings: &[NaiveDate], chart: &[(NaiveDate, &str)]) -> (Vec<NaiveDate>, BirthDateChoice, Vec<Candidate>) {
        let (mut s, mut step) = ChartSearch::start(readings.to_vec(), ymd(2026, 11, 25));
        let mut asked = Vec::new();
        loop {
            match step {
                Step::Lookup(date) => {
                    asked.push(date);
                    step = s.answer(chart.iter().filter(|(d, _)| *d == date).map(|(_, id)| patient(id)).collect());
                }
                Step::Done(choice, charts) => return (asked, choice, charts),
            }
        }
    }

    #[test]
    fn one_reading_with_a_chart_is_read_back_with_its_charts() {
        let (jan, nov) = (ymd(1970, 1, 19), ymd(1970, 11, 9));
        let (asked, choice, charts) = search(&[jan, nov], &[(nov, "p1"), (nov, "p2")]);
        assert_eq!(asked, [jan, nov], "the readings only");
        assert_eq!(choice, BirthDateChoice::ReadBack(nov));
        assert_eq!(charts, [patient("p1"), patient("p2")], "twins: the name decides later");
    }

    #[test]
    fn two_readings_of_two_patients_are_asked_again() {
        let (jan, nov) = (ymd(1970, 1, 19), ymd(1970, 11, 9));
        let (asked, choice, _) = search(&[jan, nov], &[(jan, "p1"), (nov, "p2")]);
        assert_eq!(asked.len(), 2);
        assert_eq!(choice, BirthDateChoice::AskAgain);
    }

    #[test]
    fn a_near_miss_of_one_patient_is_offered() {
        let said = ymd(1982, 5, 3);
        let (asked, choice, charts) = search(&[said], &[(ymd(1982, 3, 5), "p1"), (ymd(1950, 1, 1), "p2")]);
        assert_eq!(asked[0], said);
        assert!(asked.len() > 20, "the near misses were looked up: {}", asked.len());
        assert_eq!(choice, BirthDateChoice::Offer(ymd(1982, 3, 5)));
        assert_eq!(charts, [patient("p1")]);
    }

    #[test]
    fn near_misses_of_two_patients_or_none() {
        let said = ymd(1982, 5, 3);
        let (_, choice, charts) = search(&[said], &[]);
        assert_eq!((choice, charts), (BirthDateChoice::ReadBack(said), vec![]), "a new patient's only reading is read back");
        let (_, choice, charts) = search(&[said], &[(ymd(1982, 3, 5), "p1"), (ymd(1983, 5, 3), "p2")]);
        assert_eq!((choice, charts), (BirthDateChoice::ReadBack(said), vec![]), "two near misses: neither is offered, what was heard is read back");
        let (_, choice, _) = search(&[ymd(1970, 1, 19), ymd(1970, 11, 9)], &[]);
        assert_eq!(choice, BirthDateChoice::AskAgain, "two readings, no chart");
    }

    #[test]
    fn giving_up_decides_on_what_was_found() {
        let (jan, nov) = (ymd(1970, 1, 19), ymd(1970, 11, 9));
        let (mut s, step) = ChartSearch::start(vec![jan, nov], ymd(2026, 11, 25));
        assert_eq!(step, Step::Lookup(jan));
        assert_eq!(s.answer(vec![patient("p1")]), Step::Lookup(nov));
        assert_eq!(s.give_up(), Step::Done(BirthDateChoice::ReadBack(jan), vec![patient("p1")]));
        let (mut s, _) = ChartSearch::start(vec![jan], ymd(2026, 11, 25));
        assert!(matches!(s.answer(vec![]), Step::Lookup(_)) && s.near());
        assert_eq!(s.give_up(), Step::Done(BirthDateChoice::ReadBack(jan), vec![]));
    }
}
