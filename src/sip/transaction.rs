//! RFC 3261 §17 transactions as pure state machines: they are told what arrived and what time it is,
//! and answer with what to (re)send. Over reliable transports (TCP, TLS) nothing is retransmitted.

use std::time::{Duration, Instant};

/// Timer base values (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl Timers {
    /// Timers B, F, H and J: 64·T1.
    pub fn giveup(&self) -> Duration {
        self.t1 * 64
    }
}

/// A doubling retransmission schedule capped at T2, ending at a deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retransmit {
    pub next: Instant,
    interval: Duration,
    cap: Duration,
    pub deadline: Instant,
}

/// What a timer expiry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    Nothing,
    Resend,
    GiveUp,
}

impl Retransmit {
    /// Starts after a first send at `now`; `reliable` transports only keep the deadline.
    pub fn start(now: Instant, timers: &Timers, reliable: bool) -> Self {
        let next = if reliable { now + timers.giveup() } else { now + timers.t1 };
        Self { next, interval: timers.t1, cap: timers.t2, deadline: now + timers.giveup() }
    }

    pub fn poll_timeout(&self) -> Instant {
        self.next.min(self.deadline)
    }

    pub fn on_timeout(&mut self, now: Instant) -> Tick {
        if now >= self.deadline {
            return Tick::GiveUp;
        }
        if now < self.next {
            return Tick::Nothing;
        }
        self.interval = (self.interval * 2).min(self.cap);
        self.next = now + self.interval;
        Tick::Resend
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteState {
    /// 1xx sent (or nothing yet); the TU decides.
    Proceeding,
    /// Non-2xx final sent, waiting for ACK (Timers G and H).
    Completed,
    /// 2xx sent, the UAS core retransmits until the ACK (§13.3.1.4).
    Accepted,
    /// ACK received (Timer I absorbs its retransmissions), or gave up.
    Confirmed,
    Terminated,
}

/// INVITE server transaction (§17.2.1) together with the UAS core's 2xx retransmission.
#[derive(Debug, Clone)]
pub struct ServerInvite {
    pub branch: String,
    pub state: InviteState,
    last_response: Vec<u8>,
    retransmit: Option<Retransmit>,
    linger_until: Option<Instant>,
    reliable: bool,
    timers: Timers,
}

/// The outcome of feeding an INVITE server transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteOutput {
    None,
    Send(Vec<u8>),
    /// No ACK came in time: for a 2xx the dialog must be ended with a BYE.
    AckTimeout,
}

impl ServerInvite {
    pub fn new(branch: String, timers: Timers, reliable: bool) -> Self {
        Self { branch, state: InviteState::Proceeding, last_response: Vec::new(), retransmit: None, linger_until: None, reliable, timers }
    }

    /// A provisional response sent by the TU.
    pub fn provisional(&mut self, response: Vec<u8>) -> InviteOutput {
        if self.state != InviteState::Proceeding {
            return InviteOutput::None;
        }
        self.last_response = response.clone();
        InviteOutput::Send(response)
    }

    /// A final response sent by the TU (2xx or not).
    pub fn final_response(&mut self, response: Vec<u8>, is_2xx: bool, now: Instant) -> InviteOutput {
        if self.state != InviteState::Proceeding {
            return InviteOutput::None;
        }
        self.state = if is_2xx { InviteState::Accepted } else { InviteState::Completed };
        self.last_response = response.clone();
        self.retransmit = Some(Retransmit::start(now, &self.timers, self.reliable));
        InviteOutput::Send(response)
    }

    /// The same INVITE again: answer with whatever was last sent.
    pub fn retransmitted_request(&self) -> InviteOutput {
        match self.state {
            InviteState::Terminated => InviteOutput::None,
            _ if self.last_response.is_empty() => InviteOutput::None,
            _ => InviteOutput::Send(self.last_response.clone()),
        }
    }

    /// The ACK for our final response.
    pub fn ack(&mut self, now: Instant) {
        if matches!(self.state, InviteState::Completed | InviteState::Accepted) {
            self.state = InviteState::Confirmed;
            self.retransmit = None;
            // Timer I: absorb ACK retransmissions for T4 (zero on reliable transports).
            self.linger_until = Some(now + if self.reliable { Duration::ZERO } else { self.timers.t4 });
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmit.as_ref().map(Retransmit::poll_timeout).or(self.linger_until)
    }

    pub fn on_timeout(&mut self, now: Instant) -> InviteOutput {
        if let Some(until) = self.linger_until {
            if now >= until {
                self.state = InviteState::Terminated;
                self.linger_until = None;
            }
            return InviteOutput::None;
        }
        let Some(retransmit) = self.retransmit.as_mut() else { return InviteOutput::None };
        match retransmit.on_timeout(now) {
            Tick::Nothing => InviteOutput::None,
            Tick::Resend => InviteOutput::Send(self.last_response.clone()),
            Tick::GiveUp => {
                self.retransmit = None;
                self.state = InviteState::Terminated;
                InviteOutput::AckTimeout
            }
        }
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteState::Terminated
    }
}

/// Non-INVITE server transaction (§17.2.2): keeps the final response for Timer J to answer
/// retransmitted requests.
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    pub response: Vec<u8>,
    pub expires: Instant,
}

impl ServerNonInvite {
    pub fn completed(response: Vec<u8>, now: Instant, timers: &Timers, reliable: bool) -> Self {
        Self { response, expires: now + if reliable { Duration::ZERO } else { timers.giveup() } }
    }
}

/// Non-INVITE client transaction (§17.1.2), e.g. our BYE.
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    pub branch: String,
    request: Vec<u8>,
    retransmit: Option<Retransmit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput {
    None,
    Send(Vec<u8>),
    /// Timer F fired: no final response.
    Timeout,
}

impl ClientNonInvite {
    /// Returns the transaction and the first transmission.
    pub fn start(branch: String, request: Vec<u8>, now: Instant, timers: &Timers, reliable: bool) -> (Self, Vec<u8>) {
        let first = request.clone();
        (Self { branch, request, retransmit: Some(Retransmit::start(now, timers, reliable)) }, first)
    }

    /// A response arrived; a final one completes the transaction.
    pub fn response(&mut self, status: u16) -> bool {
        if status >= 200 {
            self.retransmit = None;
            return true;
        }
        false
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmit.as_ref().map(Retransmit::poll_timeout)
    }

    pub fn on_timeout(&mut self, now: Instant) -> ClientOutput {
        let Some(retransmit) = self.retransmit.as_mut() else { return ClientOutput::None };
        match retransmit.on_timeout(now) {
            Tick::Nothing => ClientOutput::None,
            Tick::Resend => ClientOutput::Send(self.request.clone()),
            Tick::GiveUp => {
                self.retransmit = None;
                ClientOutput::Timeout
            }
        }
    }

    pub fn is_done(&self) -> bool {
        self.retransmit.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs a machine's timeouts until `end`, returning the offsets (ms) at which it resent.
    fn resend_offsets(tx: &mut ServerInvite, start: Instant, end: Duration) -> (Vec<u64>, bool) {
        let mut sent = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            if at > start + end {
                break;
            }
            match tx.on_timeout(at) {
                InviteOutput::Send(_) => sent.push((at - start).as_millis() as u64),
                InviteOutput::AckTimeout => return (sent, true),
                InviteOutput::None => {}
            }
        }
        (sent, false)
    }

    #[test]
    fn two_hundred_retransmits_doubling_to_t2_then_gives_up() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new("b".into(), Timers::default(), false);
        assert_eq!(tx.provisional(b"100".to_vec()), InviteOutput::Send(b"100".to_vec()));
        assert!(matches!(tx.final_response(b"200".to_vec(), true, t0), InviteOutput::Send(_)));
        let (sent, gave_up) = resend_offsets(&mut tx, t0, Duration::from_secs(40));
        assert_eq!(&sent[..5], &[500, 1500, 3500, 7500, 11500], "T1, 2T1, 4T1, then capped at T2");
        assert!(gave_up, "Timer H ends it at 64*T1");
        assert_eq!(*sent.last().unwrap(), 31500);
        assert!(tx.is_terminated());
    }

    #[test]
    fn ack_stops_retransmission_and_lingers_for_t4() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new("b".into(), Timers::default(), false);
        tx.final_response(b"486".to_vec(), false, t0);
        assert_eq!(tx.on_timeout(t0 + ms(500)), InviteOutput::Send(b"486".to_vec()));
        tx.ack(t0 + ms(700));
        assert_eq!(tx.state, InviteState::Confirmed);
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(700) + Duration::from_secs(5)));
        assert_eq!(tx.on_timeout(t0 + Duration::from_secs(6)), InviteOutput::None);
        assert!(tx.is_terminated());
    }

    #[test]
    fn retransmitted_invite_gets_last_response() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new("b".into(), Timers::default(), false);
        assert_eq!(tx.retransmitted_request(), InviteOutput::None);
        tx.provisional(b"100".to_vec());
        assert_eq!(tx.retransmitted_request(), InviteOutput::Send(b"100".to_vec()));
        tx.final_response(b"200".to_vec(), true, t0);
        assert_eq!(tx.retransmitted_request(), InviteOutput::Send(b"200".to_vec()));
        assert_eq!(tx.provisional(b"180".to_vec()), InviteOutput::None, "no provisional after final");
    }

    #[test]
    fn reliable_transport_never_resends() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new("b".into(), Timers::default(), true);
        tx.final_response(b"200".to_vec(), true, t0);
        let (sent, gave_up) = resend_offsets(&mut tx, t0, Duration::from_secs(40));
        assert!(sent.is_empty());
        assert!(gave_up);
    }

    #[test]
    fn configurable_timers() {
        let timers = Timers { t1: ms(100), t2: ms(400), t4: ms(500) };
        let t0 = Instant::now();
        let mut tx = ServerInvite::new("b".into(), timers, false);
        tx.final_response(b"200".to_vec(), true, t0);
        let (sent, gave_up) = resend_offsets(&mut tx, t0, Duration::from_secs(10));
        assert_eq!(&sent[..4], &[100, 300, 700, 1100]);
        assert!(gave_up);
    }

    #[test]
    fn client_bye_retransmits_until_final() {
        let t0 = Instant::now();
        let timers = Timers::default();
        let (mut tx, first) = ClientNonInvite::start("b".into(), b"BYE".to_vec(), t0, &timers, false);
        assert_eq!(first, b"BYE");
        assert_eq!(tx.on_timeout(t0 + ms(500)), ClientOutput::Send(b"BYE".to_vec()));
        assert!(!tx.response(100));
        assert!(tx.response(200));
        assert!(tx.is_done());
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn client_times_out_with_timer_f() {
        let t0 = Instant::now();
        let timers = Timers::default();
        let (mut tx, _) = ClientNonInvite::start("b".into(), b"BYE".to_vec(), t0, &timers, false);
        let mut last = ClientOutput::None;
        while let Some(at) = tx.poll_timeout() {
            last = tx.on_timeout(at);
        }
        assert_eq!(last, ClientOutput::Timeout);
    }
}
