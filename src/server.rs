//! `chartline serve`: opens the store, loads prompts, the chart, triage and speech, starts SIP, the
//! dashboard and the metrics endpoint, recovers calls a previous run left open, then hands SIP
//! events to `call::dispatch` until SIGTERM and drains. The order and the data flow of one call
//! are in docs/architecture.md.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::call::{self, CallServices};
use crate::config::{Config, OpenError};
use crate::media::{MediaCounters, PortPool, PromptLibrary};
use crate::metrics::{self, Metrics};
use crate::store::{Store, StoreError};
use crate::triage::hours::HoursError;
use crate::triage::routing::{RouteInput, Router};
use crate::triage::{RequestType, Triage, TriageError};

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("creating {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no prompt audio in {0}")]
    NoPrompts(PathBuf),
    #[error("opening the EHR adapter ([ehr]): {0}")]
    Ehr(#[from] crate::ehr::EhrError),
    #[error("starting SIP on {listen}: {source}")]
    Sip { listen: String, source: std::io::Error },
    #[error("loading triage ([triage]): {0}")]
    Triage(#[from] TriageError),
    #[error("[practice] or [routing]: {0}")]
    Hours(#[from] HoursError),
    #[error("waiting for SIGTERM: {0}")]
    Signal(std::io::Error),
    #[error(
        "[store] backend = \"postgres\": `chartline serve` keeps calls in the local store so far; the shared store serves `chartline outbox` (list, deliver, retry). Use backend = \"sqlite\" to serve"
    )]
    SharedStoreNotServed,
}

/// Serves calls until SIGTERM or Ctrl-C, then lets active calls finish (`[calls]
/// shutdown_grace_s`) and gives the outbox a few seconds to deliver.
pub async fn run(config: Config) -> Result<(), ServerError> {
    if config.store.backend == crate::store::config::Backend::Postgres {
        return Err(ServerError::SharedStoreNotServed);
    }
    let config = Arc::new(config);
    let recordings = config.recordings_dir();
    std::fs::create_dir_all(&recordings).map_err(|source| ServerError::DataDir { path: recordings, source })?;
    let _serving = crate::store::rotate::serve_lock(&config.data_dir)?;
    let store = config.open_store()?;
    let prompts = match PromptLibrary::load(&config.sounds_dir) {
        Ok(library) if !library.is_empty() => library,
        Ok(_) | Err(_) => {
            tracing::error!(dir = %config.sounds_dir.display(), "no prompt audio found: callers would hear silence; run scripts/make-sounds");
            return Err(ServerError::NoPrompts(config.sounds_dir.clone()));
        }
    };
    tracing::info!(prompts = prompts.len(), "prompt audio loaded");
    if let Some(said) = crate::media::prompts::rendered_text(&config.sounds_dir, &config.ivr.practice_prompt)
        && !said.to_lowercase().contains(&config.practice.name.to_lowercase())
    {
        tracing::warn!(clip = %config.ivr.practice_prompt, said = %said, name = %config.practice.name, "the greeting does not say the practice's name: run `scripts/make-sounds --practice CONFIG` or record your own clip");
    }
    let ehr = config.open_ehr()?;
    let _sync = crate::ehr::sync::spawn(store.clone(), ehr.clone(), config.ehr.retry.clone());
    let (flush_store, flush_ehr) = (store.clone(), ehr.clone());
    tracing::info!(ehr = %ehr.name(), "EHR sync worker started");
    let metrics = Arc::new(Metrics::default());
    let media_counters = Arc::new(MediaCounters::default());
    let sip = crate::sip::start_in(&config.sip, &config.data_dir).await.map_err(|source| ServerError::Sip { listen: config.sip.listen.clone(), source })?;
    metrics.attach(sip.live_dialogs.clone(), media_counters.clone());
    metrics.attach_trunk(sip.trunk.clone());
    // Validated with the configuration: an address when not empty.
    if let Ok(addr) = config.metrics.listen.parse() {
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(addr, metrics).await {
                tracing::error!(error = %e, "metrics endpoint failed");
            }
        });
    }
    let (triage, missing) = Triage::from_config(&config.triage)?;
    match missing {
        Some(missing) => tracing::warn!("triage on the rules alone: {missing}"),
        None if triage.has_model() => tracing::info!("triage model loaded"),
        None => tracing::info!("triage on the rules alone ([triage] model is empty)"),
    }
    let triage = Arc::new(triage);
    let hours = crate::triage::hours::PracticeHours::from_practice(&config.practice)?;
    let router = Arc::new(Router::new(&config.routing, hours.clone())?);
    let asr = match crate::speech::AsrPool::load(&config.speech) {
        Ok(pool) => {
            tracing::info!(workers = pool.workers(), "speech recognition ready");
            Some(pool)
        }
        Err(e) => {
            tracing::error!(error = %e, "no speech recognition: calls run on the keypad only. To enable it, run `scripts/setup` then `chartline model import models/ct2-tiny.en`");
            None
        }
    };
    let chart = crate::speech::ChartTranscriber::load(&config.speech, asr.as_ref());
    let live = Arc::new(crate::web::live::Hub::new(config.alerts.push_buffer));
    match crate::web::bind(Arc::new(config.dashboard()), store.clone(), Some(ehr.clone()), live.clone()).await {
        Ok(Some(dashboard)) => {
            tracing::info!(url = %dashboard.url, sha256 = dashboard.fingerprint.as_deref().unwrap_or("-"), "dashboard listening");
            tokio::spawn(async move {
                if let Err(e) = dashboard.run().await {
                    tracing::error!(error = %e, "dashboard stopped");
                }
            });
        }
        Ok(None) => tracing::info!("dashboard disabled (web.listen is empty)"),
        // The phone line matters more than the dashboard: keep answering calls.
        Err(e) => tracing::error!(error = %e, "dashboard not started; calls are still answered"),
    }
    recover_interrupted_calls(&store, &router)?;
    let services = Arc::new(CallServices {
        ehr,
        asr,
        chart,
        triage,
        hours,
        router,
        store,
        prompts: Arc::new(prompts),
        ports: PortPool::new(config.media.rtp_port_min, config.media.rtp_port_max),
        metrics,
        media_counters,
        sip: sip.commands.clone(),
        local_ip: config.sip.advertised().ip(),
        config: Arc::new(config.call()),
        outbound: Default::default(),
        live,
    });
    call::alert::resume_owed(&services);
    tracing::info!(sip = %sip.local_addr, "chartline ready");
    let (drain, draining) = tokio::sync::watch::channel(false);
    let grace = std::time::Duration::from_secs(config.calls.shutdown_grace_s);
    let dispatcher = tokio::spawn(call::dispatch(services, sip.events, draining));
    shutdown_signal().await.map_err(ServerError::Signal)?;
    let _ = drain.send(true);
    match tokio::time::timeout(grace, dispatcher).await {
        Ok(_) => tracing::info!("all calls finished; stopping"),
        Err(_) => tracing::warn!(grace_s = grace.as_secs(), "calls still active after the grace period; stopping"),
    }
    flush_outbox(&flush_store, flush_ehr.name()).await;
    Ok(())
}

/// Calls left in progress by a previous run that died (kill -9, power loss): closed as
/// interrupted with what they captured, routed, and queued for the EHR, before any new call.
fn recover_interrupted_calls(store: &Store, router: &Router) -> Result<(), StoreError> {
    let recovered = store.recover_interrupted(chrono::Utc::now(), |record| {
        let request = record.request.as_ref().and_then(|r| RequestType::from_name(&r.kind)).unwrap_or(RequestType::Provider);
        let input = RouteInput { request, urgent: record.urgent, dialed: &record.to, care_team: None, at: record.started_at };
        let alerted = record.routing.on_call;
        record.routing = router.route(&input);
        record.routing.on_call |= alerted;
    })?;
    if !recovered.is_empty() {
        tracing::warn!(calls = recovered.len(), "recovered calls interrupted by the previous stop");
    }
    Ok(())
}

/// On shutdown, gives the sync worker a few seconds to deliver results queued by the last calls
/// (rows in retry backoff are left for the next start).
async fn flush_outbox(store: &Store, ehr: String) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting = store.with(|conn| crate::store::outbox::fresh_undelivered(conn)).unwrap_or(0);
        if waiting == 0 {
            return tracing::info!(%ehr, "outbox flushed");
        }
        if tokio::time::Instant::now() >= deadline {
            return tracing::warn!(waiting, %ehr, "outbox not empty at shutdown: delivered at the next start");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// SIGTERM (systemd stop) or Ctrl-C.
async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: shutting down"),
    }
    Ok(())
}
