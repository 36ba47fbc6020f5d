//! The dashboard over real HTTPS against `chartline serve`: login, sessions, roles, CSRF, lockout,
//! TOTP, the recording with ranges, the refill action and the audit trail it leaves.

mod common;
mod web_support;

use web_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_without_login() {
    let (server, base) = start();
    let id = seed_call(&server, "refill", false, None, 10);
    let mut b = Browser::new(&base);
    for path in ["/", "/practice", &format!("/tasks/{id}"), &format!("/tasks/{id}/recording")] {
        let page = b.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/login"), "{path}");
        assert!(!page.body.contains("lisinopril"), "{path} leaked content");
    }
    let page = b.post(&format!("/tasks/{id}/done"), &[("csrf", "x")]).await;
    assert_eq!(page.status, 303, "a POST without a session goes to login too");
    assert!(!server.cli_json(&["audit", "list"]).as_array().unwrap().iter().any(|e| e["action"] == "mark_done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_cookie_and_the_queue_puts_urgent_first() {
    let (server, base) = start();
    add_user(&server, "drsmith", "provider", Some("p1"), &[]);
    let old = seed_call(&server, "refill", false, None, 120);
    let urgent = seed_call(&server, "symptom", true, None, 5);
    let mine = seed_call(&server, "refill", false, Some("p1"), 30);
    let mut b = Browser::new(&base);
    let page = b.login("drsmith", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let cookie = page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("cl_session=")).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    let queue = b.get("/").await;
    assert_eq!(queue.status, 200);
    let positions: Vec<usize> = [&urgent, &old, &mine].iter().map(|id| queue.body.find(&format!("/tasks/{id}")).unwrap_or_else(|| panic!("{id} not in queue"))).collect();
    assert!(positions[0] < positions[1] && positions[1] < positions[2], "urgent, then oldest first: {positions:?}");
    assert!(queue.body.contains("<b>3</b>open"), "counts at a glance");
    assert!(queue.body.len() < 100_000);
    assert!(queue.headers.get("server-timing").is_some());

    let mine_only = b.get("/?filter=mine").await;
    assert!(mine_only.body.contains(&mine) && !mine_only.body.contains(&old), "mine = routed to me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_providers_task_is_not_visible() {
    let (server, base) = start();
    add_user(&server, "drsmith", "provider", Some("p1"), &[]);
    add_user(&server, "nina", "nurse", None, &[]);
    add_user(&server, "desk", "front_desk", None, &[]);
    let theirs = seed_call(&server, "refill", false, Some("p2"), 10);
    let mut smith = Browser::new(&base);
    assert_eq!(smith.login("drsmith", PASSWORD).await.status, 303);
    assert!(!smith.get("/").await.body.contains(&theirs));
    assert_eq!(smith.get(&format!("/tasks/{theirs}")).await.status, 404);
    assert_eq!(smith.get(&format!("/tasks/{theirs}/recording")).await.status, 404);
    let page = smith.get("/").await;
    let csrf = Browser::csrf(&page);
    assert_eq!(smith.post(&format!("/tasks/{theirs}/done"), &[("csrf", &csrf)]).await.status, 404);

    let mut desk = Browser::new(&base);
    assert_eq!(desk.login("desk", PASSWORD).await.status, 303);
    assert_eq!(desk.get(&format!("/tasks/{theirs}")).await.status, 404, "front desk sees no clinical task");

    let mut nina = Browser::new(&base);
    assert_eq!(nina.login("nina", PASSWORD).await.status, 303);
    assert_eq!(nina.get(&format!("/tasks/{theirs}")).await.status, 200, "nurses see every task");

    let audit = server.cli_json(&["audit", "list", "--object", &theirs]);
    let denied = audit.as_array().unwrap().iter().filter(|e| e["outcome"] == "denied" && e["who"] == "drsmith").count();
    assert!(denied >= 3, "refusals are audited: {audit:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_the_sessions_csrf_token() {
    let (server, base) = start();
    add_user(&server, "nina", "nurse", None, &[]);
    let id = seed_call(&server, "billing", false, None, 10);
    let mut b = Browser::new(&base);
    // The login form itself: no token, no login.
    b.get("/login").await;
    let page = b.post("/login", &[("username", "nina"), ("password", PASSWORD)]).await;
    assert_eq!(page.status, 403);
    assert_eq!(b.login("nina", PASSWORD).await.status, 303);
    let detail = b.get(&format!("/tasks/{id}")).await;
    let csrf = Browser::csrf(&detail);
    assert_eq!(b.post(&format!("/tasks/{id}/done"), &[]).await.status, 403, "no token");
    assert_eq!(b.post(&format!("/tasks/{id}/done"), &[("csrf", &"0".repeat(64))]).await.status, 403, "wrong token");
    assert_eq!(b.post(&format!("/tasks/{id}/reply"), &[("text", "hello")]).await.status, 403);
    assert!(!b.get("/").await.body.contains("<b>0</b>open"), "still open after refused POSTs");
    let page = b.post(&format!("/tasks/{id}/done"), &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 303);
    assert!(b.get("/").await.body.contains("<b>0</b>open"), "done with the right token");
    let audit = server.cli_json(&["audit", "list"]);
    assert!(audit.as_array().unwrap().iter().filter(|e| e["action"] == "csrf_rejected").count() >= 4, "{audit:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_the_account() {
    let (server, base) = start();
    add_user(&server, "drsmith", "provider", Some("p1"), &[]);
    let mut b = Browser::new(&base);
    for attempt in 0..5 {
        let page = b.login("drsmith", "wrong password!").await;
        assert_eq!(page.status, 401, "attempt {attempt}");
        assert!(page.body.contains("Wrong username, password or code"));
    }
    let page = b.login("drsmith", PASSWORD).await;
    assert_eq!(page.status, 429, "locked even with the right password");
    assert!(page.body.contains("locked until"), "{}", page.body);
    assert!(!b.cookies.contains_key("cl_session"));
    // Another account is not affected.
    add_user(&server, "nina", "nurse", None, &[]);
    assert_eq!(Browser::new(&base).login("nina", PASSWORD).await.status, 303);
    let audit = server.cli_json(&["audit", "list"]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "login" && e["outcome"] == "denied" && e["detail"] == "locked out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_with_totp_needs_the_code() {
    let (server, base) = start();
    let out = add_user(&server, "root", "admin", None, &["--totp"]);
    let secret = out.lines().find_map(|l| l.strip_prefix("authenticator secret: ")).expect("secret printed").trim().to_string();
    assert!(out.contains("otpauth://totp/Chartline:root?secret="), "{out}");
    let mut b = Browser::new(&base);
    assert_eq!(b.login("root", PASSWORD).await.status, 401, "password alone is not enough");
    let key = chartline::web::totp::base32_decode(&secret).unwrap();
    let code = format!("{:06}", chartline::web::totp::code_at(&key, chrono::Utc::now().timestamp()));
    let form = b.get("/login").await;
    let csrf = Browser::csrf(&form);
    let page = b.post("/login", &[("username", "root"), ("password", PASSWORD), ("code", &code), ("csrf", &csrf)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_streams_with_ranges() {
    let (server, base) = start();
    add_user(&server, "nina", "nurse", None, &[]);
    let id = seed_call(&server, "refill", false, None, 10);
    let mut b = Browser::new(&base);
    assert_eq!(b.login("nina", PASSWORD).await.status, 303);
    let full = b.get(&format!("/tasks/{id}/recording")).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.headers["content-type"], "audio/wav");
    assert_eq!(full.headers["accept-ranges"], "bytes");
    let size = std::fs::metadata(server.data_dir().join(format!("recordings/{id}.wav"))).unwrap().len();
    assert_eq!(full.headers["content-length"].to_str().unwrap().parse::<u64>().unwrap(), size);
    let part = b.get_with(&format!("/tasks/{id}/recording"), ("range", "bytes=0-3")).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, "RIFF");
    assert_eq!(part.headers["content-range"].to_str().unwrap(), format!("bytes 0-3/{size}"));
    let past = b.get_with(&format!("/tasks/{id}/recording"), ("range", &format!("bytes={size}-"))).await;
    assert_eq!(past.status, 416);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_approves_a_refill_and_the_audit_chain_holds() {
    let (server, base) = start();
    add_user(&server, "drsmith", "provider", Some("p1"), &[]);
    add_user(&server, "nina", "nurse", None, &[]);
    let id = seed_call(&server, "refill", false, Some("p1"), 10);

    let mut nina = Browser::new(&base);
    assert_eq!(nina.login("nina", PASSWORD).await.status, 303);
    let page = nina.get(&format!("/tasks/{id}")).await;
    assert!(!page.body.contains("Approve refill"), "nurses see no refill buttons");
    let csrf = Browser::csrf(&page);
    let refused = nina.post(&format!("/tasks/{id}/refill"), &[("csrf", &csrf), ("decision", "approve"), ("medication", "lisinopril")]).await;
    assert_eq!(refused.status, 403);

    let mut smith = Browser::new(&base);
    assert_eq!(smith.login("drsmith", PASSWORD).await.status, 303);
    let page = smith.get(&format!("/tasks/{id}")).await;
    assert!(page.body.contains("Approve refill"), "{}", page.body);
    assert!(page.body.contains("lisinopril"), "transcript shown");
    assert!(page.body.contains("<audio"));
    let csrf = Browser::csrf(&page);
    let bad = smith.post(&format!("/tasks/{id}/refill"), &[("csrf", &csrf), ("decision", "maybe"), ("medication", "lisinopril")]).await;
    assert_eq!(bad.status, 400, "unknown decision");
    let done = smith.post(&format!("/tasks/{id}/refill"), &[("csrf", &csrf), ("decision", "approve"), ("medication", "lisinopril 10 mg")]).await;
    assert_eq!(done.status, 303);
    let after = smith.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Refill approved: lisinopril 10 mg"), "{}", after.body);
    let again = smith.post(&format!("/tasks/{id}/refill"), &[("csrf", &csrf), ("decision", "deny"), ("medication", "x")]).await;
    assert_eq!(again.status, 400, "decided once");

    let store = chartline::store::Store::open(&server.data_dir().join("chartline.db")).unwrap();
    let decisions = store.refill_decisions(&id).unwrap();
    assert_eq!(decisions.len(), 1);
    assert!(decisions[0].approved && decisions[0].decided_by == "drsmith");
    assert!(store.task_state(&id).unwrap().done);

    let audit = server.cli_json(&["audit", "list", "--object", &id]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["view_task", "refill_approve", "refill_decision"] {
        assert!(actions.contains(&action), "{action} not audited: {actions:?}");
    }
    let out = std::process::Command::new(common::BIN).args(["audit", "verify", "--config"]).arg(&server.config_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn practice_view_draws_svg_plots() {
    let (server, base) = start();
    add_user(&server, "nina", "nurse", None, &[]);
    seed_call(&server, "refill", false, None, 60);
    seed_call(&server, "billing", false, None, 60 * 30);
    let mut b = Browser::new(&base);
    assert_eq!(b.login("nina", PASSWORD).await.status, 303);
    let page = b.get("/practice").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<svg").count(), 3);
    assert!(page.body.contains("<b>2</b>calls"), "{}", page.body);
    assert!(page.body.len() < 100_000, "{} bytes", page.body.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_page_is_for_admins() {
    let (server, base) = start();
    add_user(&server, "nina", "nurse", None, &[]);
    add_user(&server, "boss", "admin", None, &[]);
    let mut nina = Browser::new(&base);
    assert_eq!(nina.login("nina", PASSWORD).await.status, 303);
    assert_eq!(nina.get("/audit").await.status, 403);
    let mut boss = Browser::new(&base);
    assert_eq!(boss.login("boss", PASSWORD).await.status, 303);
    let page = boss.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Chain intact"), "{}", page.body);
    assert!(page.body.contains("view_audit") && page.body.contains("denied"), "nina's refusal is listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_becomes_a_communication_in_the_chart() {
    let (server, base) = start();
    let chart = chartline::ehr::embedded::EmbeddedChart::open(&server.data_dir().join("chart.db")).unwrap();
    let patient = chart.patients().unwrap().into_iter().next().expect("demo chart loaded");
    let id = seed_call_for(&server, &patient.id, patient.birth_date, "results", false, None, 15);
    tokio::task::block_in_place(|| wait_delivered(&server, &id, std::time::Duration::from_secs(30)));
    add_user(&server, "nina", "nurse", None, &[]);
    let mut b = Browser::new(&base);
    assert_eq!(b.login("nina", PASSWORD).await.status, 303);
    let page = b.get(&format!("/tasks/{id}")).await;
    assert!(page.body.contains(&patient.family), "chart name shown");
    let csrf = Browser::csrf(&page);
    let sent = b.post(&format!("/tasks/{id}/reply"), &[("csrf", &csrf), ("text", "Your results are normal.")]).await;
    assert_eq!(sent.status, 303);
    let thread = b.get(&format!("/tasks/{id}")).await;
    assert!(thread.body.contains("Your results are normal."));
    let communications = chart.communications(&id).unwrap();
    assert!(communications.iter().any(|c| c.to_string().contains("Your results are normal.")), "{communications:#?}");
    let empty = b.post(&format!("/tasks/{id}/reply"), &[("csrf", &csrf), ("text", "   ")]).await;
    assert_eq!(empty.status, 400, "an empty reply is refused");
}
