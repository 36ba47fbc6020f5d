//! `chartline audit verify` on a real store file edited behind Chartline's back with SQLite.

mod common;

use std::process::Command;

use chartline::store::Store;
use chartline::store::audit::AuditEvent;

fn setup(entries: usize) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("chartline.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", data)).unwrap();
    let db = data.join("chartline.db");
    let store = Store::open(&db).unwrap();
    for i in 0..entries {
        let event = AuditEvent {
            who: "drsmith".into(),
            role: "provider".into(),
            action: "view_task".into(),
            patient: "pat-1".into(),
            source: "127.0.0.1".into(),
            object: format!("call-{i}"),
            ..Default::default()
        };
        store.audit(&event, chrono::Utc::now()).unwrap();
    }
    (dir, config, db)
}

fn verify(config: &std::path::Path) -> (bool, String) {
    let out = Command::new(common::BIN).args(["audit", "verify", "--config"]).arg(config).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// What someone with the database file, its key and the sqlite3 shell would do.
fn tamper(db: &std::path::Path, sql: &str) {
    let conn = Store::open_raw(db).unwrap();
    conn.execute_batch(&format!("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; {sql}")).unwrap();
}

#[test]
fn intact_trail_prints_the_count() {
    let (_dir, config, _) = setup(7);
    let (ok, out) = verify(&config);
    assert!(ok, "{out}");
    assert!(out.contains("7 entries"), "{out}");
}

#[test]
fn an_edited_field_is_named() {
    let (_dir, config, db) = setup(6);
    tamper(&db, "UPDATE audit SET patient = 'pat-2' WHERE seq = 4");
    let (ok, out) = verify(&config);
    assert!(!ok, "{out}");
    assert!(out.contains("entry 4") && out.contains("edited"), "{out}");
}

#[test]
fn a_deleted_row_is_named_as_the_gap() {
    let (_dir, config, db) = setup(6);
    tamper(&db, "DELETE FROM audit WHERE seq = 3");
    let (ok, out) = verify(&config);
    assert!(!ok, "{out}");
    assert!(out.contains("entry 3") && out.contains("missing"), "{out}");
}

#[test]
fn the_database_refuses_plain_edits() {
    let (_dir, config, db) = setup(2);
    let conn = Store::open_raw(&db).unwrap();
    assert!(conn.execute("UPDATE audit SET who = 'x' WHERE seq = 1", []).is_err());
    assert!(conn.execute("DELETE FROM audit", []).is_err());
    assert!(verify(&config).0);
}
