//! The provider-facing HTTP side: the dashboard (login, queue, call detail, one-tap actions,
//! practice plots, live alerts) over HTTPS, and the Prometheus metrics endpoint.

pub mod access;
pub mod actions;
pub mod app;
pub mod audio;
pub mod audit_page;
pub mod chart;
pub mod config;
pub mod detail;
pub mod html;
pub mod live;
pub mod lockout;
pub mod login;
pub mod metrics;
pub mod password;
pub mod plots;
pub mod practice;
pub mod queue;
pub mod range;
pub mod session;
pub mod tls;
pub mod totp;

use std::net::SocketAddr;
use std::sync::Arc;

pub use app::{App, AppState};
pub use config::WebConfig;

use crate::config::Config;
use crate::store::Store;

/// What the dashboard reads and writes the chart through; `None` runs it on the local store only.
pub type Chart = Option<Arc<dyn crate::ehr::Ehr>>;

#[derive(Debug, thiserror::Error)]
pub enum WebStartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("cannot load the certificate: {0}")]
    Rustls(std::io::Error),
}

/// A bound dashboard: `run` serves it until the task is dropped.
pub struct Dashboard {
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: App,
    pub url: String,
    pub fingerprint: Option<String>,
}

/// Binds `[web] listen` and loads (or generates) the certificate, so that start-up errors are
/// reported before the server says it is ready.
pub async fn bind(config: Arc<Config>, store: Store, chart: Chart, live: Arc<live::Hub>) -> Result<Option<Dashboard>, WebStartError> {
    let web = &config.web;
    if web.listen.is_empty() {
        return Ok(None);
    }
    let listener = std::net::TcpListener::bind(&web.listen).map_err(|source| WebStartError::Bind { addr: web.listen.clone(), source })?;
    let local = listener.local_addr().map_err(|source| WebStartError::Bind { addr: web.listen.clone(), source })?;
    let (tls, fingerprint) = if web.tls {
        let files = tls::ensure(&web.tls_cert, &web.tls_key, &config.data_dir)?;
        if files.generated {
            tracing::info!(cert = %files.cert.display(), "generated a self-signed dashboard certificate");
        }
        let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await.map_err(WebStartError::Rustls)?;
        (Some(rustls), Some(files.fingerprint))
    } else {
        (None, None)
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let app = AppState::new(store, config.clone(), chart, live);
    Ok(Some(Dashboard { listener, tls, app, url: format!("{scheme}://{local}/"), fingerprint }))
}

impl Dashboard {
    pub async fn run(self) -> std::io::Result<()> {
        let service = app::router(self.app).into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            Some(tls) => axum_server::from_tcp_rustls(self.listener, tls)?.serve(service).await,
            None => axum_server::from_tcp(self.listener)?.serve(service).await,
        }
    }
}
