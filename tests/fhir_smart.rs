//! SMART Backend Services auth against a token endpoint and a protected FHIR endpoint run by the
//! test (axum): the assertion is verified with the registered public key (signature, aud, iss,
//! ≤5 min lifetime, unique jti); tokens expire, are refreshed before expiry, re-fetched after a
//! 401; a wrong key gives a clear error.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use chartline::config::Config;
use chartline::ehr::{EhrError, PatientQuery};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde_json::json;

struct AuthServer {
    token_url: String,
    alg: Algorithm,
    public_key: DecodingKey,
    expires_in: u64,
    issued: Mutex<HashMap<String, Instant>>,
    jtis: Mutex<HashSet<String>>,
    tokens_issued: AtomicUsize,
    unauthorized: AtomicUsize,
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    iat: i64,
    jti: String,
}

fn refuse(description: String) -> axum::response::Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_client", "error_description": description}))).into_response()
}

async fn token(State(s): State<Arc<AuthServer>>, Form(form): Form<HashMap<String, String>>) -> axum::response::Response {
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_assertion_type").map(String::as_str) != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return refuse("wrong grant or assertion type".into());
    }
    let mut validation = Validation::new(s.alg);
    validation.set_audience(&[&s.token_url]);
    validation.set_issuer(&["chartline-test"]);
    let claims = match jsonwebtoken::decode::<Claims>(form.get("client_assertion").cloned().unwrap_or_default(), &s.public_key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return refuse(format!("assertion rejected: {e}")),
    };
    if claims.sub != claims.iss || claims.exp - claims.iat > 300 {
        return refuse("sub must equal iss and the assertion may live 5 minutes at most".into());
    }
    if !s.jtis.lock().insert(claims.jti) {
        return refuse("jti replayed".into());
    }
    let n = s.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let access = format!("token-{n}");
    s.issued.lock().insert(access.clone(), Instant::now() + Duration::from_secs(s.expires_in));
    Json(json!({"access_token": access, "token_type": "bearer", "expires_in": s.expires_in, "scope": form.get("scope")})).into_response()
}

async fn patients(State(s): State<Arc<AuthServer>>, headers: HeaderMap) -> axum::response::Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    let valid = s.issued.lock().get(bearer).is_some_and(|expiry| *expiry > Instant::now());
    if !valid {
        s.unauthorized.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, Json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login", "diagnostics": "token expired or unknown"}]})))
            .into_response();
    }
    Json(json!({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []})).into_response()
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A private key (PKCS#8 PEM) and its public key, made with openssl.
fn keypair(dir: &Path, name: &str, alg: Algorithm) -> (PathBuf, Vec<u8>) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let p = private.to_str().unwrap();
    match alg {
        Algorithm::RS384 => openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p]),
        _ => openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p]),
    }
    openssl(&["pkey", "-in", p, "-pubout", "-out", public.to_str().unwrap()]);
    (private, std::fs::read(public).unwrap())
}

async fn start(alg: Algorithm, public_pem: &[u8], expires_in: u64) -> (Arc<AuthServer>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let public_key = match alg {
        Algorithm::RS384 => DecodingKey::from_rsa_pem(public_pem).unwrap(),
        _ => DecodingKey::from_ec_pem(public_pem).unwrap(),
    };
    let state = Arc::new(AuthServer {
        token_url: format!("{base}/token"),
        alg,
        public_key,
        expires_in,
        issued: Mutex::new(HashMap::new()),
        jtis: Mutex::new(HashSet::new()),
        tokens_issued: AtomicUsize::new(0),
        unauthorized: AtomicUsize::new(0),
    });
    let app = axum::Router::new().route("/token", post(token)).route("/fhir/Patient", get(patients)).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, base)
}

fn smart_config(base: &str, key: &Path, alg: &str, margin_s: u64) -> Config {
    let text = format!(
        "[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{base}/fhir\"\n[ehr.fhir.auth]\nmode = \"smart\"\ntoken_url = \"{base}/token\"\n\
         client_id = \"chartline-test\"\nprivate_key_path = {key:?}\nalgorithm = \"{alg}\"\nkey_id = \"k1\"\nrefresh_margin_s = {margin_s}\n"
    );
    Config::parse(&text, "test").unwrap()
}

fn query() -> PatientQuery {
    PatientQuery { birth_date: "1980-01-02".parse().unwrap(), phone: None, name: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs384_token_is_cached_refreshed_before_expiry_and_after_401() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "rsa", Algorithm::RS384);
    let (server, base) = start(Algorithm::RS384, &public, 3).await;
    let ehr = smart_config(&base, &key, "RS384", 1).open_ehr().unwrap();

    ehr.find_patients(&query()).await.unwrap();
    ehr.find_patients(&query()).await.unwrap();
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 1, "the token is cached");

    // 3 s tokens with a 1 s margin: after 2.2 s the adapter refreshes before the server would refuse.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    ehr.find_patients(&query()).await.unwrap();
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 2, "refreshed before expiry");
    assert_eq!(server.unauthorized.load(Ordering::SeqCst), 0);

    // The server forgets its tokens (revocation): one 401, a new token, and the request succeeds.
    server.issued.lock().clear();
    ehr.find_patients(&query()).await.unwrap();
    assert_eq!(server.unauthorized.load(Ordering::SeqCst), 1);
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es384_assertions_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "ec", Algorithm::ES384);
    let (server, base) = start(Algorithm::ES384, &public, 60).await;
    let ehr = smart_config(&base, &key, "ES384", 10).open_ehr().unwrap();
    ehr.find_patients(&query()).await.unwrap();
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_and_bad_key_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_registered, public) = keypair(dir.path(), "registered", Algorithm::RS384);
    let (other, _) = keypair(dir.path(), "other", Algorithm::RS384);
    let (server, base) = start(Algorithm::RS384, &public, 60).await;
    let ehr = smart_config(&base, &other, "RS384", 10).open_ehr().unwrap();
    let err = ehr.find_patients(&query()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EhrError::Auth(_)), "{err:?}");
    assert!(text.contains("token endpoint") && text.contains("invalid_client") && text.contains("InvalidSignature"), "{text}");
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 0);

    // An EC key configured for RS384 is refused at start, naming the key.
    let (ec, _) = keypair(dir.path(), "ec", Algorithm::ES384);
    let err = smart_config(&base, &ec, "RS384", 10).open_ehr().err().expect("an EC key is not an RSA key");
    assert!(err.to_string().contains("private_key_path") && err.to_string().contains("ec.pem"), "{err}");
    let err = smart_config(&base, &dir.path().join("missing.pem"), "RS384", 10).open_ehr().err().unwrap();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_bearer_token_is_sent_and_a_refusal_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_key, public) = keypair(dir.path(), "unused", Algorithm::RS384);
    let (server, base) = start(Algorithm::RS384, &public, 60).await;
    server.issued.lock().insert("static-secret".into(), Instant::now() + Duration::from_secs(600));
    let bearer = |token: &str| Config::parse(&format!("[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{base}/fhir\"\n[ehr.fhir.auth]\nmode = \"bearer\"\ntoken = \"{token}\"\n"), "test").unwrap();
    bearer("static-secret").open_ehr().unwrap().find_patients(&query()).await.unwrap();
    let err = bearer("wrong").open_ehr().unwrap().find_patients(&query()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("token expired or unknown"), "{text}");
    // A static token cannot be refreshed: one refused request, no token endpoint traffic.
    assert_eq!(server.unauthorized.load(Ordering::SeqCst), 1);
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 0);
}
