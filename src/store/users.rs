//! Dashboard accounts (providers and staff with a role) and the failed-login log the lockout
//! policy reads. Passwords are stored only as argon2id PHC strings (hashed by `crypto::password`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS users (
            id            INTEGER PRIMARY KEY,
            username      TEXT NOT NULL UNIQUE,
            display_name  TEXT NOT NULL,
            role          TEXT NOT NULL,
            practitioner  TEXT,
            password_hash TEXT NOT NULL,
            totp_secret   TEXT,
            created_at    TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS login_failures (
            username TEXT NOT NULL,
            at       TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS login_failures_user ON login_failures(username, at);",
    )?;
    Ok(())
}

/// What a person may do on the dashboard (see `web::access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Provider,
    Nurse,
    FrontDesk,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Provider, Role::Nurse, Role::FrontDesk, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Nurse => "nurse",
            Role::FrontDesk => "front_desk",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        let text = text.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL.into_iter().find(|r| r.as_str() == text || (text == "frontdesk" && *r == Role::FrontDesk))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Practitioner id (without `Practitioner/`) for providers.
    pub practitioner: Option<String>,
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// Base32 TOTP secret when the account uses a second factor.
    #[serde(skip_serializing)]
    pub totp_secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub practitioner: Option<String>,
    pub password_hash: String,
    pub totp_secret: Option<String>,
}

fn row_to_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String)> {
    let role: String = row.get(3)?;
    let created: String = row.get(7)?;
    Ok((
        User {
            id: row.get(0)?,
            username: row.get(1)?,
            display_name: row.get(2)?,
            role: Role::Admin,
            practitioner: row.get(4)?,
            password_hash: row.get(5)?,
            totp_secret: row.get(6)?,
            created_at: DateTime::parse_from_rfc3339(&created).map(|t| t.with_timezone(&Utc)).unwrap_or_default(),
        },
        role,
    ))
}

fn finish(pair: (User, String)) -> Result<User, StoreError> {
    let (mut user, role) = pair;
    user.role = Role::parse(&role).ok_or_else(|| StoreError::Invalid(format!("user {} has unknown role {role:?}", user.username)))?;
    Ok(user)
}

const USER_COLUMNS: &str = "id, username, display_name, role, practitioner, password_hash, totp_secret, created_at";

impl Store {
    /// Adds an account; a taken username is an error naming it.
    pub fn add_user(&self, new: &NewUser) -> Result<User, StoreError> {
        if new.username.trim().is_empty() || new.username.chars().any(char::is_whitespace) {
            return Err(StoreError::Invalid(format!("username {:?} must be non-empty without spaces", new.username)));
        }
        if new.role == Role::Provider && new.practitioner.as_deref().is_none_or(|p| p.trim().is_empty()) {
            return Err(StoreError::Invalid("a provider needs a practitioner id".into()));
        }
        let now = Utc::now();
        self.with(|conn| {
            let taken: Option<i64> = conn.query_row("SELECT id FROM users WHERE username = ?1", [&new.username], |r| r.get(0)).optional()?;
            if taken.is_some() {
                return Err(StoreError::Invalid(format!("username {:?} is taken", new.username)));
            }
            let practitioner = new.practitioner.as_deref().map(|p| p.trim().trim_start_matches("Practitioner/").to_string());
            conn.execute(
                "INSERT INTO users (username, display_name, role, practitioner, password_hash, totp_secret, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![new.username, new.display_name, new.role.as_str(), practitioner, new.password_hash, new.totp_secret, now.to_rfc3339()],
            )?;
            Ok(())
        })?;
        self.user(&new.username)?.ok_or_else(|| StoreError::NotFound(new.username.clone()))
    }

    pub fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.with(|conn| {
            let pair = conn.query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"), [username], row_to_user).optional()?;
            pair.map(finish).transpose()
        })
    }

    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))?;
            let rows = stmt.query_map([], row_to_user)?;
            rows.map(|r| finish(r?)).collect()
        })
    }

    pub fn record_login_failure(&self, username: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute("INSERT INTO login_failures (username, at) VALUES (?1, ?2)", params![username, at.to_rfc3339()])?;
            Ok(())
        })
    }

    /// Failed logins for `username` at or after `since`, oldest first.
    pub fn login_failures_since(&self, username: &str, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT at FROM login_failures WHERE username = ?1 AND at >= ?2 ORDER BY at")?;
            let rows = stmt.query_map(params![username, since.to_rfc3339()], |r| r.get::<_, String>(0))?;
            Ok(rows.filter_map(|r| r.ok()).filter_map(|t| DateTime::parse_from_rfc3339(&t).ok().map(|t| t.with_timezone(&Utc))).collect())
        })
    }

    pub fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute("DELETE FROM login_failures WHERE username = ?1", [username])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_user(name: &str, role: Role, practitioner: Option<&str>) -> NewUser {
        NewUser { username: name.into(), display_name: format!("{name} display"), role, practitioner: practitioner.map(Into::into), password_hash: "$argon2id$fake".into(), totp_secret: None }
    }

    #[test]
    fn add_and_read_back() {
        let store = Store::in_memory().unwrap();
        let user = store.add_user(&new_user("drsmith", Role::Provider, Some("Practitioner/p1"))).unwrap();
        assert_eq!(user.role, Role::Provider);
        assert_eq!(user.practitioner.as_deref(), Some("p1"), "prefix stripped");
        assert_eq!(store.user("drsmith").unwrap().unwrap().display_name, "drsmith display");
        assert!(store.user("nobody").unwrap().is_none());
    }

    #[test]
    fn duplicate_and_bad_input_are_named() {
        let store = Store::in_memory().unwrap();
        store.add_user(&new_user("nina", Role::Nurse, None)).unwrap();
        let err = store.add_user(&new_user("nina", Role::Admin, None)).unwrap_err().to_string();
        assert!(err.contains("nina") && err.contains("taken"), "{err}");
        let err = store.add_user(&new_user("doc", Role::Provider, None)).unwrap_err().to_string();
        assert!(err.contains("practitioner"), "{err}");
        assert_eq!(store.users().unwrap().len(), 1, "nothing half-added");
    }

    #[test]
    fn role_names_parse() {
        assert_eq!(Role::parse("front-desk"), Some(Role::FrontDesk));
        assert_eq!(Role::parse("Provider"), Some(Role::Provider));
        assert_eq!(Role::parse("janitor"), None);
    }

    #[test]
    fn login_failures_window() {
        let store = Store::in_memory().unwrap();
        let t0 = Utc::now();
        for minutes in [0, 10, 20] {
            store.record_login_failure("a", t0 + chrono::Duration::minutes(minutes)).unwrap();
        }
        assert_eq!(store.login_failures_since("a", t0 + chrono::Duration::minutes(5)).unwrap().len(), 2);
        store.clear_login_failures("a").unwrap();
        assert!(store.login_failures_since("a", t0).unwrap().is_empty());
    }
}
