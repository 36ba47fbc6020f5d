//! Certificate files for a TLS listener (the dashboard, SIP over TLS): the configured PEM pair, or a
//! self-signed one generated at first start under a data directory (`<data_dir>/web/`,
//! `<data_dir>/sip/`; kept, so peers that accepted it keep accepting it) whose SHA-256 fingerprint
//! is logged for people to compare.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: String },
}

/// Certificate and key files to serve, and the certificate's fingerprint.
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub fingerprint: String,
    pub generated: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io { path: path.display().to_string(), source }
}

/// SHA-256 over the DER of the first certificate in a PEM file, as colon-separated hex.
pub fn fingerprint(cert_pem: &str, path: &Path) -> Result<String, TlsError> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = cert_pem.find(begin).ok_or_else(|| TlsError::NoCertificate { path: path.display().to_string() })? + begin.len();
    let end = cert_pem[start..].find("-----END").ok_or_else(|| TlsError::NoCertificate { path: path.display().to_string() })? + start;
    let b64: String = cert_pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| TlsError::NoCertificate { path: path.display().to_string() })?;
    Ok(Sha256::digest(&der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}

/// The configured pair, or the generated one (created when missing).
pub fn ensure(cert: &Path, key: &Path, data_dir: &Path) -> Result<CertFiles, TlsError> {
    ensure_in(cert, key, &data_dir.join("web"))
}

/// As [`ensure`], with the generated pair kept in `dir` (the SIP listener keeps its own).
pub fn ensure_in(cert: &Path, key: &Path, dir: &Path) -> Result<CertFiles, TlsError> {
    if !cert.as_os_str().is_empty() {
        let pem = std::fs::read_to_string(cert).map_err(io(cert))?;
        std::fs::metadata(key).map_err(io(key))?;
        return Ok(CertFiles { fingerprint: fingerprint(&pem, cert)?, cert: cert.into(), key: key.into(), generated: false });
    }
    let dir = dir.to_path_buf();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut generated = false;
    if !cert.exists() || !key.exists() {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        if !host.is_empty() {
            names.push(host);
        }
        let pair = rcgen::generate_simple_self_signed(names)?;
        write_private(&key, pair.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, pair.cert.pem()).map_err(io(&cert))?;
        generated = true;
    }
    let pem = std::fs::read_to_string(&cert).map_err(io(&cert))?;
    Ok(CertFiles { fingerprint: fingerprint(&pem, &cert)?, cert, key, generated })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))
}

/// The roots a TLS client trusts: the system's, plus the CAs of `ca_file` (PEM) when it is not
/// empty. The error says what is wrong with the file.
pub fn client_roots(ca_file: &Path) -> Result<rustls::RootCertStore, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if !ca_file.as_os_str().is_empty() {
        let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file).map_err(|e| e.to_string())?.collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        if cas.is_empty() {
            return Err("holds no PEM certificate".into());
        }
        for ca in cas {
            roots.add(ca).map_err(|e| e.to_string())?;
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_keeps_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(Path::new(""), Path::new(""), dir.path()).unwrap();
        assert!(first.generated);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let again = ensure(Path::new(""), Path::new(""), dir.path()).unwrap();
        assert!(!again.generated);
        assert_eq!(first.fingerprint, again.fingerprint);
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&first.key).unwrap().permissions());
        assert_eq!(mode & 0o077, 0, "private key readable by owner only");
    }
}
