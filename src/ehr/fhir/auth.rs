//! Authorisation against the EHR: none, a static bearer token, or SMART Backend Services
//! (client_credentials grant with a `private_key_jwt` assertion signed RS384/ES384). The token is
//! cached and refreshed shortly before it expires, or at once when the server answers 401.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::super::config::{AuthConfig, AuthMode};
use super::super::error::EhrError;

/// Claims of the client assertion (SMART App Launch 2.x, Backend Services).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

/// The assertion's claims: issued now, valid five minutes (the maximum the spec allows).
pub fn assertion_claims(client_id: &str, token_url: &str, now: DateTime<Utc>, jti: String) -> AssertionClaims {
    AssertionClaims { iss: client_id.to_string(), sub: client_id.to_string(), aud: token_url.to_string(), iat: now.timestamp(), exp: (now + Duration::seconds(300)).timestamp(), jti }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CachedToken {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
}

/// True when there is no token or it expires within `margin`.
pub fn needs_refresh(cached: Option<&CachedToken>, now: DateTime<Utc>, margin: Duration) -> bool {
    cached.is_none_or(|t| t.expires_at - margin <= now)
}

/// `application/x-www-form-urlencoded` encoding of pairs.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

pub enum Auth {
    None,
    Bearer(String),
    Smart(Box<Smart>),
}

pub struct Smart {
    token_url: String,
    client_id: String,
    scope: String,
    key: EncodingKey,
    algorithm: Algorithm,
    key_id: String,
    margin: Duration,
    cache: Mutex<Option<CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl Auth {
    pub fn from_config(config: &AuthConfig) -> Result<Self, EhrError> {
        Ok(match config.mode {
            AuthMode::None => Auth::None,
            AuthMode::Bearer => Auth::Bearer(config.token.clone()),
            AuthMode::Smart => Auth::Smart(Box::new(Smart::from_config(config)?)),
        })
    }

    /// The Authorization header value, fetching or refreshing the token when needed.
    pub async fn header(&self, http: &reqwest::Client, force_refresh: bool) -> Result<Option<String>, EhrError> {
        match self {
            Auth::None => Ok(None),
            Auth::Bearer(token) => Ok(Some(format!("Bearer {token}"))),
            Auth::Smart(smart) => Ok(Some(format!("Bearer {}", smart.token(http, force_refresh).await?))),
        }
    }

    pub fn can_refresh(&self) -> bool {
        matches!(self, Auth::Smart(_))
    }
}

impl Smart {
    fn from_config(config: &AuthConfig) -> Result<Self, EhrError> {
        let path: &Path = &config.private_key_path;
        let pem = std::fs::read(path).map_err(|source| EhrError::Io { path: path.display().to_string(), source })?;
        let algorithm = match config.algorithm.as_str() {
            "RS384" => Algorithm::RS384,
            "ES384" => Algorithm::ES384,
            other => return Err(EhrError::Config { key: "ehr.fhir.auth.algorithm".into(), problem: format!("{other:?} is not RS384 or ES384") }),
        };
        let key = match algorithm {
            Algorithm::RS384 => EncodingKey::from_rsa_pem(&pem),
            _ => EncodingKey::from_ec_pem(&pem),
        }
        .map_err(|e| EhrError::Config {
            key: "ehr.fhir.auth.private_key_path".into(),
            problem: format!("{} is not a PEM {} private key: {e}", path.display(), if algorithm == Algorithm::RS384 { "RSA" } else { "P-384 EC" }),
        })?;
        Ok(Self {
            token_url: config.token_url.clone(),
            client_id: config.client_id.clone(),
            scope: config.scope.clone(),
            key,
            algorithm,
            key_id: config.key_id.clone(),
            margin: Duration::seconds(config.refresh_margin_s as i64),
            cache: Mutex::new(None),
        })
    }

    /// A signed client assertion for `now`.
    pub fn assertion(&self, now: DateTime<Utc>) -> Result<String, EhrError> {
        let mut header = Header::new(self.algorithm);
        header.typ = Some("JWT".into());
        if !self.key_id.is_empty() {
            header.kid = Some(self.key_id.clone());
        }
        let claims = assertion_claims(&self.client_id, &self.token_url, now, uuid::Uuid::new_v4().to_string());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| EhrError::Auth(format!("cannot sign the client assertion: {e}")))
    }

    async fn token(&self, http: &reqwest::Client, force: bool) -> Result<String, EhrError> {
        let mut cache = self.cache.lock().await;
        let now = Utc::now();
        if !force && !needs_refresh(cache.as_ref(), now, self.margin) {
            return Ok(cache.as_ref().map(|t| t.access_token.clone()).unwrap_or_default());
        }
        let assertion = self.assertion(now)?;
        let body = form_encode(&[
            ("grant_type", "client_credentials"),
            ("scope", &self.scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ]);
        let response = http
            .post(&self.token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| EhrError::Network(format!("token endpoint {}: {e}", self.token_url)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            // RFC 6749 §5.2: {"error": "invalid_client", "error_description": "..."}
            let detail = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .map(|v| {
                    let error = v.get("error").and_then(|e| e.as_str()).unwrap_or("error");
                    let description = v.get("error_description").and_then(|e| e.as_str()).unwrap_or("");
                    format!("{error} {description}").trim().to_string()
                })
                .unwrap_or_else(|| text.chars().take(200).collect());
            *cache = None;
            return Err(EhrError::Auth(format!("token endpoint {} refused the client assertion ({status}): {detail}", self.token_url)));
        }
        let token: TokenResponse = serde_json::from_str(&text).map_err(|e| EhrError::Auth(format!("token endpoint {} sent no access_token: {e}", self.token_url)))?;
        let expires_at = now + Duration::seconds(token.expires_in.unwrap_or(300).max(1));
        tracing::debug!(expires_in = token.expires_in, "SMART access token obtained");
        *cache = Some(CachedToken { access_token: token.access_token.clone(), expires_at });
        Ok(token.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_lives_five_minutes_and_names_the_client() {
        let now: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        let c = assertion_claims("chartline", "https://ehr/token", now, "j1".into());
        assert_eq!((c.iss.as_str(), c.sub.as_str(), c.aud.as_str()), ("chartline", "chartline", "https://ehr/token"));
        assert_eq!(c.exp - c.iat, 300);
        assert_eq!(c.iat, now.timestamp());
    }

    #[test]
    fn refresh_before_expiry() {
        let now: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        let margin = Duration::seconds(60);
        assert!(needs_refresh(None, now, margin));
        let t = CachedToken { access_token: "a".into(), expires_at: now + Duration::seconds(120) };
        assert!(!needs_refresh(Some(&t), now, margin));
        assert!(!needs_refresh(Some(&t), now + Duration::seconds(59), margin));
        assert!(needs_refresh(Some(&t), now + Duration::seconds(60), margin));
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode(&[("a b", "x/y=z&"), ("scope", "system/Task.write")]), "a+b=x%2Fy%3Dz%26&scope=system%2FTask.write");
    }
}
