//! Every decision of the call reducer on simulated time: the answer phase (no port, no common
//! codec, ringing, CANCEL, offerless), hang-up in each phase, RTP timeout, maximum duration,
//! hold and renegotiation, the transfer's outcomes, the recognizer saturated, chart errors, the
//! chart summary's provider in routing, and the message screened after the call. The harness
//! plays the driver: it answers the commands a driver answers at once and records the rest.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::TimeZone;

use super::*;
use crate::ehr::{Medication, Practitioner};
use crate::sip::refer::TransferFailure;
use crate::triage::Triage;
use crate::triage::hours::PracticeConfig;
use crate::triage::routing::RoutingConfig;

const OFFER: &str =
    "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
const CHEST: &str = "my chest hurts and my left arm is numb";

fn triage() -> Arc<Triage> {
    static TRIAGE: OnceLock<Arc<Triage>> = OnceLock::new();
    TRIAGE.get_or_init(|| Arc::new(Triage::embedded().expect("embedded rules"))).clone()
}

/// The call's settings, changed from the defaults by each test.
struct Setup {
    config: CallConfig,
    offer: Option<Sdp>,
    speech: bool,
    transcripts: bool,
    /// The wall clock when the INVITE came: a Wednesday, 10:00 in Chicago (business hours).
    wall: DateTime<Utc>,
}

impl Default for Setup {
    fn default() -> Self {
        let config = CallConfig { data_dir: "/tmp".into(), ..Default::default() };
        Self { config, offer: Some(Sdp::parse(OFFER).unwrap()), speech: false, transcripts: false, wall: Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap() }
    }
}

/// The driver's side: what it answers at once, and everything the machine asked for.
struct Call {
    machine: CallMachine,
    now: Instant,
    log: Vec<Command>,
    /// `Input::MediaBound` carries a port (else: none free).
    port_free: bool,
    /// The store answers `BeginCall` with this reference (else: it failed).
    reference: Option<String>,
    /// The recognizer accepts utterances (else: its queue is full).
    asr_accepts: bool,
    /// The recorded message `ReadMessage` reads.
    message: Result<Vec<i16>, String>,
}

impl Call {
    fn start(setup: Setup) -> Self {
        let ivr = setup.config.ivr.clone();
        let hours = PracticeHours::from_practice(&PracticeConfig::default()).unwrap();
        let rules =
            CallRules { config: Arc::new(setup.config), router: Arc::new(Router::new(&RoutingConfig::default(), hours.clone()).unwrap()), hours, speech: setup.speech, transcripts: setup.transcripts };
        let start = CallStart {
            call_id: "call-1".into(),
            sip_call: CallId("sip-1".into()),
            from: "sip:+15551461616@pbx".into(),
            to: "sip:+15550102000@pbx".into(),
            offer: setup.offer,
            fallback_reference: "999999".into(),
            dialog: Box::new(move |setup, _| Dialog::new(ivr, setup, triage(), |text, today| crate::speech::dates::parse_dates(text, today).unwrap_or_default())),
        };
        let now = Instant::now();
        Call { machine: CallMachine::new(rules, start, now, setup.wall), now, log: Vec::new(), port_free: true, reference: Some("100042".into()), asr_accepts: true, message: Ok(vec![1000; 8000 * 5]) }
    }

    /// A call answered and past its greeting, the keypad asking for the birth date.
    fn answered(setup: Setup) -> Self {
        let mut call = Call::start(setup);
        call.drain();
        call.finish_prompt();
        call
    }

    /// Takes every command, answering those a driver answers at once; returns them.
    fn drain(&mut self) -> Vec<Command> {
        let mut taken = Vec::new();
        while let Some(command) = self.machine.poll_command() {
            let answer = match &command {
                Command::BindMedia => Some(Input::MediaBound(self.port_free.then(|| LocalMedia { addr: "10.0.0.2:30000".parse().unwrap(), srtp_master: [7; MASTER_LEN], session_id: 5 }))),
                Command::BeginCall => Some(Input::CallBegun { reference: self.reference.clone() }),
                Command::StopRecording => Some(Input::RecordingStopped { duration_ms: 5000, rms: 900.0 }),
                Command::Recognize { .. } => Some(Input::RecognitionQueued { accepted: self.asr_accepts }),
                Command::CloseMedia => Some(Input::MediaClosed(MediaStats { packets_in: 250, packets_out: 240, ..Default::default() })),
                Command::ReadMessage => Some(Input::MessageRead(self.message.clone())),
                Command::Screen { text } => Some(Input::Screened(Some(triage().classify(text)))),
                _ => None,
            };
            taken.push(command);
            if let Some(input) = answer {
                self.machine.handle(input, self.now);
            }
        }
        self.log.extend(taken.iter().map(clone_command));
        taken
    }

    fn input(&mut self, input: Input) -> Vec<Command> {
        self.machine.handle(input, self.now);
        self.drain()
    }

    fn sip(&mut self, event: UaEvent) -> Vec<Command> {
        self.input(Input::Sip(event))
    }

    /// Lets `by` pass, firing what falls due on the way.
    fn wait(&mut self, by: Duration) -> Vec<Command> {
        let end = self.now + by;
        let mut taken = Vec::new();
        while let Some(at) = self.machine.poll_timeout().filter(|at| *at <= end) {
            self.now = at.max(self.now);
            self.machine.handle_timeout(self.now);
            taken.extend(self.drain());
        }
        self.now = end;
        taken
    }

    fn finish_prompt(&mut self) -> Vec<Command> {
        let tag = self.log.iter().rev().find_map(|c| if let Command::Play { tag, .. } = c { Some(*tag) } else { None }).expect("a prompt played");
        self.input(Input::Media(MediaEvent::PlaybackFinished { tag, interrupted: false }))
    }

    fn keys(&mut self, keys: &str) -> Vec<Command> {
        let mut taken = Vec::new();
        for digit in keys.chars() {
            self.now += Duration::from_millis(300);
            taken.extend(self.input(Input::Media(MediaEvent::Digit { digit, method: crate::media::dtmf::DtmfMethod::Rfc4733 })));
        }
        taken
    }

    /// Birth date on the keypad, confirmed, and the chart's answer to the lookup.
    fn identify(&mut self, found: Result<Vec<PatientSummary>, String>) -> Vec<Command> {
        self.keys("03051982");
        let asked = self.keys("1");
        assert!(asked.iter().any(|c| matches!(c, Command::Lookup { .. })), "{asked:?}");
        self.input(Input::Candidates(found))
    }

    /// Identified, refill chosen, the message recorded and the goodbye played: the dialog is done.
    fn refill_message(&mut self) -> Vec<Command> {
        self.identify(Ok(vec![ann()]));
        self.keys("1");
        let started = self.finish_prompt();
        assert!(started.iter().any(|c| matches!(c, Command::StartRecording)), "{started:?}");
        self.keys("#");
        self.finish_prompt()
    }

    fn events(&self) -> Vec<&str> {
        self.machine.record().events.iter().map(|e| e.kind.as_str()).collect()
    }

    fn event(&self, kind: &str) -> &serde_json::Map<String, serde_json::Value> {
        &self.machine.record().events.iter().find(|e| e.kind == kind).unwrap_or_else(|| panic!("no {kind} in {:?}", self.events())).detail
    }

    /// The SIP commands sent so far.
    fn sent(&self) -> Vec<&UaCommand> {
        self.log.iter().filter_map(|c| if let Command::Sip(c) = c { Some(c) } else { None }).collect()
    }

    fn hangups(&self) -> usize {
        self.sent().iter().filter(|c| matches!(c, UaCommand::Hangup { .. })).count()
    }

    fn raised(&self) -> Vec<Recipients> {
        self.log.iter().filter_map(|c| if let Command::RaiseAlerts { to, .. } = c { Some(*to) } else { None }).collect()
    }
}

/// Commands are not `Clone` (an utterance's audio moves); the log keeps what the tests look at.
fn clone_command(command: &Command) -> Command {
    match command {
        Command::Sip(c) => Command::Sip(c.clone()),
        Command::StartMedia { params, srtp } => Command::StartMedia { params: *params, srtp: *srtp },
        Command::Play { prompts, tag, barge_in } => Command::Play { prompts: prompts.clone(), tag: *tag, barge_in: *barge_in },
        Command::Listen(on) => Command::Listen(*on),
        Command::SetHold(on) => Command::SetHold(*on),
        Command::Renegotiate { params, srtp } => Command::Renegotiate { params: *params, srtp: *srtp },
        Command::SipInfoDigit(d) => Command::SipInfoDigit(*d),
        Command::Audit { event, at } => Command::Audit { event: event.clone(), at: *at },
        Command::RaiseAlerts { record, to } => Command::RaiseAlerts { record: record.clone(), to: *to },
        Command::Lookup { birth_date } => Command::Lookup { birth_date: *birth_date },
        Command::ChartSummary { patient_id } => Command::ChartSummary { patient_id: patient_id.clone() },
        Command::Screen { text } => Command::Screen { text: text.clone() },
        Command::Recognize { hints, .. } => Command::Recognize { audio: Vec::new(), hints: hints.clone() },
        Command::Transcribe { hints, .. } => Command::Transcribe { audio: Vec::new(), hints: hints.clone() },
        Command::BindMedia => Command::BindMedia,
        Command::BeginCall => Command::BeginCall,
        Command::StopPlayback => Command::StopPlayback,
        Command::StartRecording => Command::StartRecording,
        Command::StopRecording => Command::StopRecording,
        Command::Schedule(_) => Command::SaveProgress,
        Command::SaveProgress => Command::SaveProgress,
        Command::CloseMedia => Command::CloseMedia,
        Command::ReadMessage => Command::ReadMessage,
        Command::FinishCall => Command::FinishCall,
    }
}

fn ann() -> PatientSummary {
    PatientSummary { id: "p1".into(), given: "Ann".into(), family: "Lee".into(), birth_date: chrono::NaiveDate::from_ymd_opt(1982, 3, 5).unwrap(), phone: None }
}

fn sip_call() -> CallId {
    CallId("sip-1".into())
}

fn is_stored(commands: &[Command]) -> bool {
    commands.iter().any(|c| matches!(c, Command::FinishCall))
}

// The answer phase.

#[test]
fn no_free_rtp_port_is_a_503_with_retry_after() {
    let mut call = Call::start(Setup::default());
    call.port_free = false;
    call.drain();
    assert!(matches!(call.sent()[..], [UaCommand::Reject { status: 503, retry_after: Some(5), .. }]), "{:?}", call.sent());
    assert_eq!(call.machine.finished(), Some(CallOutcome::Rejected));
}

#[test]
fn an_offer_without_a_common_codec_is_a_488_saying_what_is_needed() {
    let offer = OFFER.replace("RTP/AVP 0 101", "RTP/AVP 18 101").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000");
    let mut call = Call::start(Setup { offer: Some(Sdp::parse(&offer).unwrap()), ..Setup::default() });
    call.drain();
    let [UaCommand::Reject { status: 488, warning: Some(warning), .. }] = &call.sent()[..] else { panic!("{:?}", call.sent()) };
    assert!(warning.contains("PCMU or PCMA"), "{warning}");
    assert_eq!(call.machine.finished(), Some(CallOutcome::Rejected));
    assert!(!call.log.iter().any(|c| matches!(c, Command::BeginCall)), "a rejected call is not stored");
}

#[test]
fn an_offer_without_audio_is_a_488_with_the_reason() {
    let offer = OFFER.replace("m=audio 40000 RTP/AVP 0 101", "m=video 40000 RTP/AVP 96");
    let mut call = Call::start(Setup { offer: Some(Sdp::parse(&offer).unwrap()), ..Setup::default() });
    call.drain();
    assert!(matches!(&call.sent()[..], [UaCommand::Reject { status: 488, warning: Some(_), .. }]), "{:?}", call.sent());
}

#[test]
fn an_answered_call_is_stored_and_its_media_started_before_the_greeting() {
    let mut call = Call::start(Setup::default());
    let commands = call.drain();
    let order: Vec<&str> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Sip(UaCommand::Answer { offerless: false, .. }) => Some("answer"),
            Command::BeginCall => Some("stored"),
            Command::StartMedia { .. } => Some("media"),
            Command::Play { .. } => Some("greeting"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["answer", "stored", "media", "greeting"]);
    let Some(Command::StartMedia { params, srtp: None }) = commands.iter().find(|c| matches!(c, Command::StartMedia { .. })) else { panic!() };
    assert_eq!((params.remote, params.codec, params.dtmf_pt), ("10.0.0.9:40000".parse().unwrap(), crate::sip::sdp::Codec::Pcmu, Some(101)));
    assert_eq!(call.event("answered")["rfc4733"], true);
    assert!(!call.machine.record().after_hours, "Wednesday 10:00 in Chicago");
    assert_eq!(call.machine.finished(), None);
}

#[test]
fn the_call_goes_on_when_the_store_cannot_begin_it() {
    let mut call = Call::start(Setup::default());
    call.reference = None;
    call.drain();
    call.finish_prompt();
    call.refill_message();
    let reference = call.log.iter().any(|c| matches!(c, Command::Play { prompts, .. } if prompts.contains(&PromptItem::Digits("999999".into()))));
    assert!(reference, "the caller hears the fallback reference");
    assert!(call.log.iter().any(|c| matches!(c, Command::FinishCall)), "and the record is stored at the end");
}

#[test]
fn ringing_answers_after_ring_ms_and_a_cancel_while_ringing_ends_the_call() {
    let mut config = Setup::default().config;
    config.calls.ring_ms = 2000;
    let mut call = Call::start(Setup { config: config.clone(), ..Setup::default() });
    call.drain();
    assert!(matches!(call.sent()[..], [UaCommand::Ringing { .. }]));
    assert!(call.wait(Duration::from_millis(1999)).is_empty());
    let answered = call.wait(Duration::from_millis(1));
    assert!(answered.iter().any(|c| matches!(c, Command::Sip(UaCommand::Answer { .. }))), "{answered:?}");

    let mut cancelled = Call::start(Setup { config, ..Setup::default() });
    cancelled.drain();
    cancelled.wait(Duration::from_millis(500));
    assert!(cancelled.input(Input::SipClosed).is_empty());
    assert_eq!(cancelled.machine.finished(), Some(CallOutcome::Cancelled));
    assert!(!cancelled.sent().iter().any(|c| matches!(c, UaCommand::Answer { .. })));
}

#[test]
fn a_cancel_while_the_port_is_bound_is_never_answered() {
    let mut call = Call::start(Setup::default());
    assert!(matches!(call.machine.poll_command(), Some(Command::BindMedia)));
    call.machine.handle(Input::SipClosed, call.now);
    call.input(Input::MediaBound(Some(LocalMedia { addr: "10.0.0.2:30000".parse().unwrap(), srtp_master: [7; MASTER_LEN], session_id: 5 })));
    assert!(call.sent().is_empty(), "{:?}", call.sent());
    assert_eq!(call.machine.finished(), Some(CallOutcome::Cancelled));
}

#[test]
fn an_offerless_invite_gets_our_offer_and_runs_on_the_answer_in_the_ack() {
    let mut call = Call::start(Setup { offer: None, ..Setup::default() });
    call.drain();
    let [UaCommand::Answer { sdp, offerless: true, .. }] = &call.sent()[..] else { panic!("{:?}", call.sent()) };
    assert!(!sdp.media.is_empty());
    assert!(!call.log.iter().any(|c| matches!(c, Command::StartMedia { .. })), "no media before the answer");
    let started = call.sip(UaEvent::CallAcked { call: sip_call(), answer: Some(Sdp::parse(OFFER).unwrap()) });
    assert!(started.iter().any(|c| matches!(c, Command::StartMedia { .. })), "{started:?}");
}

#[test]
fn an_offerless_invite_without_an_answer_is_hung_up() {
    // No ACK at all: given up after 64·T1.
    let mut call = Call::start(Setup { offer: None, ..Setup::default() });
    call.drain();
    assert!(call.wait(Duration::from_secs(31)).is_empty());
    call.wait(Duration::from_secs(1));
    assert_eq!((call.hangups(), call.machine.finished()), (1, Some(CallOutcome::Failed)));

    // An ACK without SDP, and the caller gone before it.
    for event in [UaEvent::CallAcked { call: sip_call(), answer: None }, UaEvent::RemoteHangup { call: sip_call() }] {
        let mut call = Call::start(Setup { offer: None, ..Setup::default() });
        call.drain();
        call.sip(event);
        assert_eq!((call.hangups(), call.machine.finished()), (1, Some(CallOutcome::Failed)));
    }
    let mut call = Call::start(Setup { offer: None, ..Setup::default() });
    call.drain();
    call.input(Input::SipClosed);
    assert_eq!((call.hangups(), call.machine.finished()), (1, Some(CallOutcome::Failed)));
}

#[test]
fn sip_events_of_another_leg_are_not_this_calls() {
    let mut call = Call::answered(Setup::default());
    call.sip(UaEvent::RemoteHangup { call: CallId("someone-else".into()) });
    assert_eq!(call.machine.finished(), None);
    assert!(!call.events().contains(&"ended"));
}

// The end of the call.

#[test]
fn the_caller_hanging_up_ends_the_dialog_then_closes_media_and_stores_the_record() {
    let mut call = Call::answered(Setup::default());
    let ended = call.sip(UaEvent::RemoteHangup { call: sip_call() });
    let close = ended.iter().position(|c| matches!(c, Command::CloseMedia)).expect("media closed");
    let stored = ended.iter().position(|c| matches!(c, Command::FinishCall)).expect("record stored");
    assert!(close < stored);
    assert_eq!(call.hangups(), 0, "the caller's BYE ended the dialog already");
    assert_eq!(call.machine.finished(), Some(CallOutcome::CallerHungUp));
    assert_eq!(call.event("ended")["rtp_in"], 250);
    assert!(call.machine.record().ended_at.is_some());

    // The dispatcher dropping the call's events is the same.
    let mut call = Call::answered(Setup::default());
    call.input(Input::SipClosed);
    assert_eq!(call.machine.finished(), Some(CallOutcome::CallerHungUp));
}

#[test]
fn a_hangup_during_the_message_keeps_the_recording() {
    let mut call = speech_call();
    call.input(Input::Recognized(Some(("March fifth nineteen eighty two".into(), 200))));
    call.input(Input::Candidates(Ok(vec![ann()])));
    call.input(Input::Recognized(Some(("yes".into(), 200))));
    call.keys("3");
    call.input(Input::Recognized(Some(("it's itchy and red since Monday".into(), 200))));
    let started = call.finish_prompt();
    assert!(started.iter().any(|c| matches!(c, Command::StartRecording)), "{started:?}");
    let ended = call.sip(UaEvent::RemoteHangup { call: sip_call() });
    // The dialog's last action stops the recording; its answer still reaches the dialog.
    let stop = ended.iter().position(|c| matches!(c, Command::StopRecording)).expect("recording stopped");
    let close = ended.iter().position(|c| matches!(c, Command::CloseMedia)).unwrap();
    assert!(stop < close, "{ended:?}");
    assert_eq!(call.machine.record().recording.as_deref(), Some("recordings/call-1.clrec"));
    assert_eq!(call.machine.finished(), Some(CallOutcome::CallerHungUp));
}

#[test]
fn a_dialog_that_says_goodbye_completes_the_call() {
    let mut call = Call::answered(Setup::default());
    let done = call.refill_message();
    assert!(done.iter().any(|c| matches!(c, Command::Sip(UaCommand::Hangup { .. }))), "{done:?}");
    assert!(is_stored(&done));
    assert_eq!(call.machine.finished(), Some(CallOutcome::Completed));
    let record = call.machine.record();
    assert_eq!(record.request.as_ref().map(|r| r.kind.as_str()), Some("refill"));
    assert_eq!(record.patient.status, MatchStatus::Identified);
    assert_eq!(record.routing.department.as_deref(), Some("nurse_pool"));
}

#[test]
fn a_failed_sip_dialog_is_a_failed_call() {
    let mut call = Call::answered(Setup::default());
    call.sip(UaEvent::CallFailed { call: sip_call(), reason: "no ACK".into() });
    assert_eq!(call.event("sip_failure")["reason"], "no ACK");
    assert_eq!((call.hangups(), call.machine.finished()), (0, Some(CallOutcome::Failed)));
}

#[test]
fn rtp_silence_from_the_network_hangs_up_and_fails_the_call() {
    let mut call = Call::answered(Setup::default());
    let ended = call.input(Input::Media(MediaEvent::InactivityTimeout));
    let hangup = ended.iter().position(|c| matches!(c, Command::Sip(UaCommand::Hangup { .. }))).expect("BYE");
    assert!(hangup < ended.iter().position(|c| matches!(c, Command::CloseMedia)).unwrap());
    assert!(call.events().contains(&"rtp_timeout"));
    assert_eq!(call.machine.finished(), Some(CallOutcome::Failed));
}

#[test]
fn a_call_longer_than_max_duration_is_ended() {
    let mut config = Setup::default().config;
    config.calls.max_duration_s = 30;
    let mut call = Call::answered(Setup { config, ..Setup::default() });
    call.keys("0305");
    call.wait(Duration::from_secs(27));
    assert!(!call.events().contains(&"max_duration"), "{:?}", call.events());
    call.wait(Duration::from_secs(3));
    assert!(call.events().contains(&"max_duration"));
    assert_eq!((call.hangups(), call.machine.finished()), (1, Some(CallOutcome::Failed)));
}

#[test]
fn inputs_after_the_call_ended_change_nothing() {
    let mut call = Call::answered(Setup::default());
    call.sip(UaEvent::RemoteHangup { call: sip_call() });
    let events = call.events().len();
    assert!(call.input(Input::Media(MediaEvent::Digit { digit: '1', method: crate::media::dtmf::DtmfMethod::Rfc4733 })).is_empty());
    assert!(call.input(Input::Candidates(Err("late".into()))).is_empty());
    assert!(call.sip(UaEvent::RemoteHangup { call: sip_call() }).is_empty());
    assert_eq!(call.events().len(), events);
}

// During the call.

#[test]
fn hold_unhold_and_a_renegotiated_codec_reach_the_media_session() {
    let mut call = Call::answered(Setup::default());
    assert!(matches!(call.sip(UaEvent::MediaChanged { call: sip_call(), on_hold: true, media: None })[..], [Command::SetHold(true)]));
    let offer = Sdp::parse(&OFFER.replace("RTP/AVP 0 101", "RTP/AVP 8 101").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000").replace("40000", "41000")).unwrap();
    let caps = MediaCaps::default();
    let n = sdp::negotiate(&offer, &caps, "10.0.0.2:30000".parse().unwrap(), 5).unwrap();
    let changed = call.sip(UaEvent::MediaChanged { call: sip_call(), on_hold: false, media: Some(Box::new(n)) });
    let [Command::SetHold(false), Command::Renegotiate { params, .. }] = &changed[..] else { panic!("{changed:?}") };
    assert_eq!((params.codec, params.remote.port()), (crate::sip::sdp::Codec::Pcma, 41000));
    let kinds = call.events();
    assert!(kinds.ends_with(&["hold", "unhold", "media_renegotiated"]), "{kinds:?}");
    assert_eq!(call.event("media_renegotiated")["codec"], "Pcma");
}

#[test]
fn a_digit_by_sip_info_goes_to_the_media_session_for_de_duplication() {
    let mut call = Call::answered(Setup::default());
    assert!(matches!(call.sip(UaEvent::DtmfInfo { call: sip_call(), digit: '5', duration_ms: 160 })[..], [Command::SipInfoDigit('5')]));
}

#[test]
fn a_failed_chart_lookup_goes_on_unidentified_and_is_on_the_record() {
    let mut call = Call::answered(Setup::default());
    call.identify(Err("connection refused".into()));
    assert_eq!(call.event("ehr_error")["during"], "lookup");
    assert_ne!(call.machine.record().patient.status, MatchStatus::Identified);
    assert_eq!(call.machine.finished(), None, "the call goes on");
}

#[test]
fn the_chart_summarys_own_provider_routes_the_call_and_its_failure_is_recorded() {
    let mut call = Call::answered(Setup::default());
    let asked = call.identify(Ok(vec![ann()]));
    assert!(asked.iter().any(|c| matches!(c, Command::ChartSummary { patient_id } if patient_id == "p1")), "{asked:?}");
    let pcp = Practitioner { id: "dr-okafor".into(), name: "Dr Okafor".into(), npi: None, specialty: None };
    let medication = Medication { id: "m1".into(), name: "lisinopril".into(), rxnorm: None, last_filled: None };
    call.input(Input::Chart(Ok(ChartSummary { pcp: Some(pcp), medications: vec![medication], ..Default::default() })));
    call.keys("1");
    call.finish_prompt();
    call.keys("#");
    call.finish_prompt();
    assert_eq!(call.machine.record().routing.practitioner.as_deref(), Some("Practitioner/dr-okafor"), "a refill goes to the patient's own provider");

    let mut call = Call::answered(Setup::default());
    call.identify(Ok(vec![ann()]));
    call.input(Input::Chart(Err("timeout".into())));
    assert_eq!(call.event("ehr_error")["during"], "chart_summary");
    call.keys("1");
    call.finish_prompt();
    call.keys("#");
    call.finish_prompt();
    assert_eq!(call.machine.record().routing.practitioner, None);
}

#[test]
fn every_dialog_step_is_checkpointed() {
    let mut call = Call::answered(Setup::default());
    let after = call.keys("03051982");
    assert!(matches!(after.last(), Some(Command::SaveProgress)), "{after:?}");
}

// Speech.

/// A speech call that has heard the greeting: listening for the birth date.
fn speech_call() -> Call {
    let call = Call::answered(Setup { speech: true, ..Setup::default() });
    assert!(call.log.iter().any(|c| matches!(c, Command::Listen(true))), "{:?}", call.log);
    call
}

/// `ms` of 20 ms frames at `amplitude`.
fn talk(call: &mut Call, ms: u64, amplitude: f32) -> Vec<Command> {
    let mut taken = Vec::new();
    for n in 0..ms / 20 {
        call.now += Duration::from_millis(20);
        let frame: Vec<i16> = (0..160).map(|i| ((((n * 160 + i) as f32) * 0.2).sin() * amplitude + (((n * 160 + i) as f32) * 0.05).sin() * amplitude * 0.5) as i16).collect();
        taken.extend(call.input(Input::Media(MediaEvent::Audio(frame.into()))));
    }
    taken
}

#[test]
fn an_utterance_goes_to_the_recognizer_and_its_text_to_the_dialog() {
    let mut call = speech_call();
    let mut heard = talk(&mut call, 400, 20.0);
    heard.extend(talk(&mut call, 1200, 8000.0));
    heard.extend(talk(&mut call, 1500, 20.0));
    assert!(heard.iter().any(|c| matches!(c, Command::Recognize { .. })), "{heard:?}");
    let lookup = call.input(Input::Recognized(Some(("March fifth nineteen eighty two".into(), 240))));
    assert!(lookup.iter().any(|c| matches!(c, Command::Lookup { birth_date } if *birth_date == ann().birth_date)), "{lookup:?}");
    let trailing = call.machine.rules.config.speech.vad.trailing_silence_ms;
    assert_eq!(call.event("utterance_recognized")["after_end_ms"], trailing + 240);
}

#[test]
fn a_saturated_recognizer_moves_the_caller_to_the_keypad() {
    let mut call = speech_call();
    call.asr_accepts = false;
    talk(&mut call, 400, 20.0);
    talk(&mut call, 1200, 8000.0);
    talk(&mut call, 1500, 20.0);
    assert!(call.events().contains(&"asr_saturated"), "{:?}", call.events());
    assert!(call.log.iter().any(|c| matches!(c, Command::Listen(false))), "listening stops");
}

#[test]
fn the_callers_voice_interrupts_a_barge_in_prompt() {
    let mut call = speech_call();
    assert!(call.log.iter().rev().find_map(|c| if let Command::Play { barge_in, .. } = c { Some(*barge_in) } else { None }).unwrap());
    let mut heard = talk(&mut call, 400, 20.0);
    heard.extend(talk(&mut call, 600, 8000.0));
    assert!(heard.iter().any(|c| matches!(c, Command::StopPlayback)), "{heard:?}");
}

// The emergency transfer.

fn transfer_call() -> Call {
    let mut setup = Setup { speech: true, ..Setup::default() };
    setup.config.ivr.emergency_transfer = Some("sip:nurse@10.0.0.5".into());
    let mut call = Call::answered(setup);
    let asked = call.input(Input::Recognized(Some(("I'm having chest pain right now".into(), 300))));
    assert!(asked.iter().any(|c| matches!(c, Command::Sip(UaCommand::Transfer { target, .. }) if target == "sip:nurse@10.0.0.5")), "{asked:?}");
    call
}

fn audit(call: &Call) -> &AuditEvent {
    call.log.iter().find_map(|c| if let Command::Audit { event, .. } = c { Some(event) } else { None }).expect("audited")
}

#[test]
fn a_connected_transfer_is_on_the_record_and_the_audit_trail() {
    let mut call = transfer_call();
    call.sip(UaEvent::Transfer { call: sip_call(), update: TransferUpdate::Accepted { status: 202 } });
    call.sip(UaEvent::Transfer { call: sip_call(), update: TransferUpdate::Progress { status: 180 } });
    call.sip(UaEvent::Transfer { call: sip_call(), update: TransferUpdate::Succeeded { status: 200 } });
    let kinds = call.events();
    let at = kinds.iter().position(|k| *k == "transfer_accepted").expect("accepted");
    assert_eq!(kinds[at..at + 3], ["transfer_accepted", "transfer_progress", "transfer_connected"]);
    assert_eq!(call.machine.record().outcome, Some(record::CallOutcome::Transferred));
    let audit = audit(&call);
    assert_eq!((audit.action.as_str(), audit.outcome, audit.detail.as_str()), ("emergency_transfer", Some(Outcome::Success), "to sip:nurse@10.0.0.5: connected"));
}

#[test]
fn a_failed_or_timed_out_transfer_is_audited_as_a_failure_and_the_caller_hears_the_911_prompt() {
    for reason in [TransferFailure::Rejected(403), TransferFailure::Timeout(20_000)] {
        let mut call = transfer_call();
        let after = call.sip(UaEvent::Transfer { call: sip_call(), update: TransferUpdate::Failed { reason: reason.clone() } });
        let audit = audit(&call);
        assert_eq!((audit.outcome, audit.detail.clone()), (Some(Outcome::Failure), format!("to sip:nurse@10.0.0.5: {reason}")));
        assert_eq!(call.machine.record().outcome, None);
        assert!(after.iter().any(|c| matches!(c, Command::Play { .. })), "the caller hears what comes next: {after:?}");
        assert_eq!(call.machine.finished(), None);
    }
}

// Alerts and the message after the call.

#[test]
fn an_emergency_in_business_hours_alerts_during_the_call_and_not_again_at_its_end() {
    let mut call = transfer_call();
    let raised = call.raised();
    assert_eq!(raised.len(), 1, "{:?}", call.events());
    assert!(raised[0].dashboard);
    assert!(call.events().contains(&"alerts_raised"));
    call.sip(UaEvent::RemoteHangup { call: sip_call() });
    assert_eq!(call.raised().len(), 1, "raised once");
    assert!(call.machine.record().routing.on_call);
}

#[test]
fn a_routine_call_raises_no_alert() {
    let mut call = Call::answered(Setup::default());
    call.refill_message();
    assert!(call.raised().is_empty());
}

#[test]
fn a_message_describing_an_emergency_makes_the_call_urgent_and_alerts() {
    let mut call = Call::answered(Setup { transcripts: true, ..Setup::default() });
    let done = call.refill_message();
    let transcribe = done.iter().position(|c| matches!(c, Command::Transcribe { .. })).expect("the message is transcribed");
    assert!(!is_stored(&done), "stored once the transcript is in");
    assert_eq!(call.machine.finished(), None);
    assert!(done[..transcribe].iter().all(|c| !matches!(c, Command::RaiseAlerts { .. })), "nothing owed before the transcript");

    call.now += Duration::from_secs(4);
    let transcript = ChartTranscript { text: CHEST.into(), model: "whisper-base".into(), language: "en".into(), compute_ms: 3900 };
    let stored = call.input(Input::Transcribed(Ok(transcript)));
    assert!(is_stored(&stored), "{stored:?}");
    let record = call.machine.record();
    assert!(record.urgent);
    assert!(!record.red_flags.is_empty());
    assert_eq!(record.transcript.as_deref(), Some(CHEST));
    assert_eq!(record.transcript_model.as_deref(), Some("whisper-base"));
    assert!(call.events().contains(&"message_emergency") || call.events().contains(&"message_urgent"), "{:?}", call.events());
    assert_eq!(call.event("message_transcribed")["ms"], 4000);
    let raised = call.raised();
    assert_eq!(raised.len(), 1);
    assert!(raised[0].dashboard);
    assert_eq!(call.machine.finished(), Some(CallOutcome::Completed));
}

#[test]
fn a_routine_message_is_transcribed_and_stored_without_an_alert() {
    let mut call = Call::answered(Setup { transcripts: true, ..Setup::default() });
    call.refill_message();
    let transcript = ChartTranscript { text: "I need a refill of my lisinopril".into(), model: "whisper-base".into(), language: "en".into(), compute_ms: 900 };
    call.input(Input::Transcribed(Ok(transcript)));
    assert!(!call.machine.record().urgent);
    assert!(call.raised().is_empty());
    assert_eq!(call.machine.finished(), Some(CallOutcome::Completed));
}

#[test]
fn a_message_transcription_that_fails_or_never_comes_still_stores_the_call() {
    let mut call = Call::answered(Setup { transcripts: true, ..Setup::default() });
    call.refill_message();
    let stored = call.input(Input::Transcribed(Err(ChartError::Saturated(crate::speech::asr::Saturated { waiting: 9 }))));
    assert!(is_stored(&stored));
    assert_eq!(call.event("transcription_failed")["reason"], "saturated");

    let mut call = Call::answered(Setup { transcripts: true, ..Setup::default() });
    call.refill_message();
    assert!(call.wait(Duration::from_secs(299)).is_empty());
    assert!(is_stored(&call.wait(Duration::from_secs(1))));
    assert!(call.events().contains(&"transcription_failed"));
    assert!(call.input(Input::Transcribed(Ok(ChartTranscript { text: CHEST.into(), model: "m".into(), language: "en".into(), compute_ms: 1 }))).is_empty(), "a late transcript is dropped");
    assert!(!call.machine.record().urgent);
}

#[test]
fn a_message_too_short_or_unreadable_is_not_transcribed() {
    for message in [Ok(vec![0; 3999]), Err("bad seal".to_string())] {
        let mut call = Call::answered(Setup { transcripts: true, ..Setup::default() });
        call.message = message;
        let done = call.refill_message();
        assert!(is_stored(&done) && !done.iter().any(|c| matches!(c, Command::Transcribe { .. })), "{done:?}");
        assert_eq!(call.machine.finished(), Some(CallOutcome::Completed));
    }
}
