//! The `[ehr]` configuration section: which adapter, how to reach and authorise against a FHIR
//! server, which vendor profile maps call results, and the outbox retry policy.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    /// The local SQLite chart (`data/chart.db`), seeded with the demo practice.
    Embedded,
    /// A FHIR R4 server (or a vendor API, see `profile`).
    Fhir,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EhrConfig {
    pub adapter: AdapterKind,
    /// The embedded chart's database; empty = `<data_dir>/chart.db`.
    pub chart_path: PathBuf,
    /// FHIR bundles loaded into an empty embedded chart at start; empty disables.
    pub demo_dir: PathBuf,
    pub fhir: FhirConfig,
    pub retry: RetryConfig,
}

impl Default for EhrConfig {
    fn default() -> Self {
        Self { adapter: AdapterKind::Embedded, chart_path: PathBuf::new(), demo_dir: PathBuf::from("demo/practice"), fhir: FhirConfig::default(), retry: RetryConfig::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Plain FHIR R4: Communication + Task, conditional create.
    Generic,
    /// Epic: Communication + DocumentReference (no Task writes).
    Epic,
    /// Oracle Health (Cerner) Millennium: Communication to the provider inbox + DocumentReference.
    Cerner,
    /// eClinicalWorks: a telephone-encounter DocumentReference.
    Ecw,
    /// athenahealth: a patient case over athenaOne's REST API (not FHIR).
    Athena,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FhirConfig {
    /// Base URL, e.g. `http://127.0.0.1:8090/fhir` (athena: `https://api.platform.athenahealth.com/v1/PRACTICEID`).
    pub base_url: String,
    pub profile: Profile,
    pub timeout_ms: u64,
    /// Use `If-None-Exist` (the server supports conditional create); false = search before create.
    pub conditional_create: bool,
    /// Attach recordings up to this size inline (base64) to the Communication; larger are referenced by path.
    pub max_inline_audio_bytes: usize,
    /// athena: the department a patient case is filed in.
    pub department_id: String,
    /// PEM file of CA certificates trusted for the server's HTTPS certificate besides the
    /// system's roots (a private CA); empty = system roots only. Certificates are always verified.
    pub ca_file: PathBuf,
    pub auth: AuthConfig,
}

impl Default for FhirConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            profile: Profile::Generic,
            timeout_ms: 10_000,
            conditional_create: true,
            max_inline_audio_bytes: 4 * 1024 * 1024,
            department_id: String::new(),
            ca_file: PathBuf::new(),
            auth: AuthConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    None,
    /// A static bearer token (`token`).
    Bearer,
    /// SMART Backend Services: client_credentials with a signed JWT assertion.
    Smart,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub token: String,
    pub token_url: String,
    pub client_id: String,
    /// PEM private key (PKCS#8; RSA for RS384, P-384 for ES384).
    pub private_key_path: PathBuf,
    /// `RS384` or `ES384`.
    pub algorithm: String,
    /// `kid` header: the key's id in the JWKS registered with the EHR.
    pub key_id: String,
    pub scope: String,
    /// Refresh this many seconds before the token expires.
    pub refresh_margin_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::None,
            token: String::new(),
            token_url: String::new(),
            client_id: String::new(),
            private_key_path: PathBuf::new(),
            algorithm: "RS384".into(),
            key_id: String::new(),
            scope: "system/Patient.read system/Communication.write system/Task.write".into(),
            refresh_margin_s: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// First retry delay; doubles each attempt up to `max_delay_s`.
    pub base_delay_ms: u64,
    pub max_delay_s: u64,
    /// Fraction of the delay randomised (0 to 1).
    pub jitter: f64,
    /// A result not delivered after this long goes to the dead letter (still listed, never dropped).
    pub dead_letter_after_h: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How often the worker looks for due rows when idle.
    pub poll_ms: u64,
    /// A claimed row whose worker died is claimable again after this.
    pub lease_s: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { base_delay_ms: 1000, max_delay_s: 600, jitter: 0.2, dead_letter_after_h: 72, concurrency: 4, poll_ms: 250, lease_s: 60 }
    }
}

impl EhrConfig {
    /// Range and cross-field checks; returns the key (relative to `[ehr]`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: &str| Err((key.to_string(), problem.to_string()));
        if self.adapter == AdapterKind::Fhir {
            let url = &self.fhir.base_url;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad("fhir.base_url", "must be an http(s) URL when adapter = \"fhir\"");
            }
            let auth = &self.fhir.auth;
            match auth.mode {
                AuthMode::Bearer if auth.token.is_empty() => return bad("fhir.auth.token", "is required for mode = \"bearer\""),
                AuthMode::Smart => {
                    if auth.token_url.is_empty() {
                        return bad("fhir.auth.token_url", "is required for mode = \"smart\"");
                    }
                    if auth.client_id.is_empty() {
                        return bad("fhir.auth.client_id", "is required for mode = \"smart\"");
                    }
                    if auth.private_key_path.as_os_str().is_empty() {
                        return bad("fhir.auth.private_key_path", "is required for mode = \"smart\"");
                    }
                    if !matches!(auth.algorithm.as_str(), "RS384" | "ES384") {
                        return bad("fhir.auth.algorithm", "must be \"RS384\" or \"ES384\"");
                    }
                }
                _ => {}
            }
            if self.fhir.profile == Profile::Athena && self.fhir.department_id.is_empty() {
                return bad("fhir.department_id", "is required for profile = \"athena\"");
            }
        }
        if self.fhir.timeout_ms == 0 {
            return bad("fhir.timeout_ms", "must be at least 1");
        }
        let r = &self.retry;
        if r.base_delay_ms == 0 {
            return bad("retry.base_delay_ms", "must be at least 1");
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return bad("retry.jitter", "must be between 0 and 1");
        }
        if r.concurrency == 0 {
            return bad("retry.concurrency", "must be at least 1");
        }
        if r.dead_letter_after_h == 0 {
            return bad("retry.dead_letter_after_h", "must be at least 1");
        }
        if r.lease_s == 0 {
            return bad("retry.lease_s", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> EhrConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_are_embedded_and_valid() {
        let c = EhrConfig::default();
        assert_eq!(c.adapter, AdapterKind::Embedded);
        c.validate().unwrap();
    }

    #[test]
    fn fhir_needs_url_and_smart_needs_key() {
        let c = parse("adapter = \"fhir\"\n");
        assert_eq!(c.validate().unwrap_err().0, "fhir.base_url");
        let c = parse("adapter = \"fhir\"\n[fhir]\nbase_url = \"http://x/fhir\"\n[fhir.auth]\nmode = \"smart\"\ntoken_url = \"http://x/token\"\nclient_id = \"c\"\n");
        assert_eq!(c.validate().unwrap_err().0, "fhir.auth.private_key_path");
        let c =
            parse("adapter = \"fhir\"\n[fhir]\nbase_url = \"http://x/fhir\"\n[fhir.auth]\nmode = \"smart\"\ntoken_url = \"t\"\nclient_id = \"c\"\nprivate_key_path = \"k\"\nalgorithm = \"HS256\"\n");
        assert_eq!(c.validate().unwrap_err().0, "fhir.auth.algorithm");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<EhrConfig>("[retry]\nbase_delay = 5\n").is_err());
        assert!(toml::from_str::<EhrConfig>("adapter = \"hl7v2\"\n").is_err());
    }

    #[test]
    fn retry_ranges() {
        let c = parse("[retry]\njitter = 1.5\n");
        assert_eq!(c.validate().unwrap_err().0, "retry.jitter");
    }
}
