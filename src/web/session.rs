//! Logged-in sessions, held in memory (a restart logs everyone out, which is acceptable for a
//! dashboard and keeps tokens out of the database). Time is passed in, so expiry is unit-tested.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::store::users::{Role, User};

pub const COOKIE: &str = "cl_session";
/// Pre-login CSRF cookie for the login form (double-submit).
pub const LOGIN_COOKIE: &str = "cl_login";

/// What a request knows about who is asking.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Names the session to what holds on to it (the live alert streams); not a credential.
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub practitioner: Option<String>,
    /// Per-session CSRF token put in every form.
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

pub struct SessionTable {
    sessions: HashMap<String, Session>,
    idle: Duration,
    max_age: Duration,
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl SessionTable {
    pub fn new(idle: Duration, max_age: Duration) -> Self {
        Self { sessions: HashMap::new(), idle, max_age }
    }

    /// Starts a session for `user`; returns the cookie token.
    pub fn create(&mut self, user: &User, now: DateTime<Utc>) -> String {
        self.sessions.retain(|_, s| now - s.last_seen < self.idle && now - s.created < self.max_age);
        let token = random_token();
        let session = Session {
            id: random_token(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            practitioner: user.practitioner.clone(),
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        self.sessions.insert(token.clone(), session);
        token
    }

    /// The live session for `token`, refreshing its idle timer; an expired one is removed.
    pub fn touch(&mut self, token: &str, now: DateTime<Utc>) -> Option<Session> {
        let session = self.sessions.get_mut(token)?;
        if now - session.last_seen >= self.idle || now - session.created >= self.max_age {
            self.sessions.remove(token);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    pub fn remove(&mut self, token: &str) {
        self.sessions.remove(token);
    }

    /// Whether the session with this `id` is still signed in at `now` (without refreshing it).
    pub fn is_live(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.sessions.values().any(|s| s.id == id && now - s.last_seen < self.idle && now - s.created < self.max_age)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 1,
            username: "drsmith".into(),
            display_name: "Dr Smith".into(),
            role: Role::Provider,
            practitioner: Some("p1".into()),
            password_hash: String::new(),
            totp_secret: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let t0 = Utc::now();
        let mut table = SessionTable::new(Duration::minutes(30), Duration::hours(12));
        let token = table.create(&user(), t0);
        assert_eq!(token.len(), 64);
        let s = table.touch(&token, t0 + Duration::minutes(29)).expect("live");
        assert_eq!(s.csrf.len(), 64);
        assert!(table.touch(&token, t0 + Duration::minutes(58)).is_some(), "activity refreshed the idle timer");
        assert!(table.touch(&token, t0 + Duration::minutes(89)).is_none(), "idle too long");
        assert!(table.is_empty(), "expired session removed");

        let token = table.create(&user(), t0);
        for m in (20..=720).step_by(20) {
            let alive = table.touch(&token, t0 + Duration::minutes(m)).is_some();
            assert_eq!(alive, m < 720, "minute {m}");
        }
        assert!(table.touch("nonsense", t0).is_none());
    }

    #[test]
    fn a_session_is_live_until_it_logs_out_or_expires() {
        let t0 = Utc::now();
        let mut table = SessionTable::new(Duration::minutes(30), Duration::hours(12));
        let token = table.create(&user(), t0);
        let id = table.touch(&token, t0).unwrap().id;
        assert_ne!(id, token, "the id is not the cookie");
        assert!(table.is_live(&id, t0 + Duration::minutes(29)));
        assert!(!table.is_live(&id, t0 + Duration::minutes(31)), "idle: expired even before anyone touches it");
        assert!(table.is_live(&id, t0), "asking does not remove it");
        table.remove(&token);
        assert!(!table.is_live(&id, t0), "logged out");
        assert!(!table.is_live("unknown", t0));
    }

    #[test]
    fn tokens_differ_and_compare() {
        let mut table = SessionTable::new(Duration::minutes(30), Duration::hours(12));
        let a = table.create(&user(), Utc::now());
        let b = table.create(&user(), Utc::now());
        assert_ne!(a, b);
        assert!(crate::crypto::constant_time_eq(&a, &a.clone()));
        assert!(!crate::crypto::constant_time_eq(&a, &b));
        assert!(!crate::crypto::constant_time_eq(&a, &a[..10]));
    }
}
