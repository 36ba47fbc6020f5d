//! A blind transfer we ask of the far end (RFC 3515) as a pure state machine: our REFER's
//! transaction, its answer, the implicit subscription's NOTIFYs with `message/sipfrag` bodies and an
//! overall deadline, all on the time it is told. The outcome is one [`TransferUpdate`] stream:
//! accepted, progress (1xx in the sipfrag), then exactly one of succeeded or failed. What the
//! caller hears meanwhile and after is the dialog's business, not this machine's.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::message::Message;
use super::transaction::{ClientNonInvite, ClientOutput, Timers};

/// What a transfer did, as the application is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferUpdate {
    /// The far end took the REFER (202, or a NOTIFY came first).
    Accepted { status: u16 },
    /// A provisional status of the new call (`SIP/2.0 180 Ringing` in a NOTIFY).
    Progress { status: u16 },
    /// The new call was answered (`SIP/2.0 2xx`): the transferred leg is ours to end.
    Succeeded { status: u16 },
    /// The transfer did not happen; the caller is still with us.
    Failed { reason: TransferFailure },
}

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferFailure {
    #[error("REFER rejected with {0}")]
    Rejected(u16),
    #[error("no answer to the REFER")]
    NoAnswer,
    #[error("the new call failed with {0}")]
    CallFailed(u16),
    #[error("the subscription ended without the new call answered")]
    Terminated,
    #[error("no final NOTIFY within {0} ms")]
    Timeout(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// REFER sent, no final answer yet.
    Requested,
    /// 202: waiting for the NOTIFY that says how the new call went.
    Accepted,
    Done,
}

pub struct Refer {
    tx: ClientNonInvite,
    phase: Phase,
    deadline: Instant,
    timeout: Duration,
    /// CSeq of the last NOTIFY taken (a repeat with another branch is not news).
    last_notify: Option<u32>,
    transmits: VecDeque<Vec<u8>>,
    updates: VecDeque<TransferUpdate>,
}

impl Refer {
    /// Starts with the REFER `request` (Via branch `branch`) just built; returns the machine and
    /// the first transmission. `timeout` bounds the whole transfer, from now to the final NOTIFY.
    pub fn start(branch: String, request: Vec<u8>, now: Instant, timers: &Timers, reliable: bool, timeout: Duration) -> (Self, Vec<u8>) {
        let (tx, first) = ClientNonInvite::start(branch, request, now, timers, reliable);
        let refer = Self { tx, phase: Phase::Requested, deadline: now + timeout, timeout, last_notify: None, transmits: VecDeque::new(), updates: VecDeque::new() };
        (refer, first)
    }

    pub fn branch(&self) -> &str {
        &self.tx.branch
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_update(&mut self) -> Option<TransferUpdate> {
        self.updates.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Done {
            return None;
        }
        Some(self.tx.poll_timeout().map_or(self.deadline, |t| t.min(self.deadline)))
    }

    /// A response to our REFER (retransmitted finals are ignored).
    pub fn on_response(&mut self, status: u16) {
        if !self.tx.response(status) || self.phase != Phase::Requested {
            return;
        }
        if (200..300).contains(&status) {
            self.accept(status);
        } else {
            self.finish(TransferUpdate::Failed { reason: TransferFailure::Rejected(status) });
        }
    }

    /// A NOTIFY in the dialog for our REFER (already answered 200 by the endpoint).
    pub fn on_notify(&mut self, notify: &Message) {
        if self.phase == Phase::Done || self.last_notify.is_some_and(|seen| notify.cseq <= seen) {
            return;
        }
        self.last_notify = Some(notify.cseq);
        if self.phase == Phase::Requested {
            // The NOTIFY may overtake the 202 (RFC 3515 §2.4.4): the REFER was taken.
            self.accept(202);
        }
        let terminated = notify.header("Subscription-State").is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"));
        match sipfrag_status(&notify.body) {
            Some(status) if (200..300).contains(&status) => self.finish(TransferUpdate::Succeeded { status }),
            Some(status) if status >= 300 => self.finish(TransferUpdate::Failed { reason: TransferFailure::CallFailed(status) }),
            _ if terminated => self.finish(TransferUpdate::Failed { reason: TransferFailure::Terminated }),
            Some(status) => self.updates.push_back(TransferUpdate::Progress { status }),
            None => {}
        }
    }

    pub fn on_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Done {
            return;
        }
        if now >= self.deadline {
            return self.finish(TransferUpdate::Failed { reason: TransferFailure::Timeout(self.timeout.as_millis() as u64) });
        }
        if self.tx.poll_timeout().is_some_and(|t| t <= now) {
            match self.tx.on_timeout(now) {
                ClientOutput::Send(bytes) => self.transmits.push_back(bytes),
                ClientOutput::Timeout if self.phase == Phase::Requested => self.finish(TransferUpdate::Failed { reason: TransferFailure::NoAnswer }),
                _ => {}
            }
        }
    }

    fn accept(&mut self, status: u16) {
        self.phase = Phase::Accepted;
        self.updates.push_back(TransferUpdate::Accepted { status });
    }

    fn finish(&mut self, update: TransferUpdate) {
        self.phase = Phase::Done;
        self.updates.push_back(update);
    }
}

/// The status code of a `message/sipfrag` body's status line (`SIP/2.0 200 OK`).
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0 ")?;
    rest.split_whitespace().next()?.parse().ok().filter(|s| (100..700).contains(s))
}

/// The Refer-To URI for a configured target: a SIP URI as given, or an extension on the far
/// end's host (`201` toward `sip:pbx@10.0.0.5:5060` is `sip:201@10.0.0.5:5060`).
pub fn refer_to_uri(target: &str, remote_target: &str) -> String {
    if target.contains(':') {
        return target.to_string();
    }
    let host = remote_target.split_once(':').map_or(remote_target, |(_, rest)| rest);
    let host = host.rsplit('@').next().unwrap_or(host).split(';').next().unwrap_or_default();
    format!("sip:{target}@{host}")
}

#[cfg(test)]
#[path = "refer_tests.rs"]
mod tests;
