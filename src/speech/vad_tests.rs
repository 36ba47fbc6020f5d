//! Endpointing with simulated time: frames are synthetic (a voiced 140 Hz harmonic "voice", hiss,
//! hum, digital silence); real synthesized speech is measured in tests/speech_vad.rs.

use super::*;

const FRAME_DT: Duration = Duration::from_millis(20);

/// A sound source that produces consecutive 20 ms frames.
struct Source {
    n: usize,
    seed: u32,
}

impl Source {
    fn new() -> Self {
        Self { n: 0, seed: 12345 }
    }
    fn noise(&mut self) -> f32 {
        self.seed = self.seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    }
    /// `voice` amplitude of a 140 Hz voiced sound, plus hiss and 60 Hz hum.
    fn frame(&mut self, voice: f32, hiss: f32, hum: f32) -> Vec<i16> {
        (0..FRAME)
            .map(|_| {
                let t = self.n as f32 / 8000.0;
                self.n += 1;
                let tau = 2.0 * std::f32::consts::PI;
                let voiced: f32 = (1..=8).map(|h| (tau * 140.0 * h as f32 * t).sin() / h as f32).sum::<f32>() * voice;
                let sample = voiced + self.noise() * hiss + (tau * 60.0 * t).sin() * hum;
                sample.clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }
}

struct Run {
    ep: Endpointer,
    src: Source,
    now: Instant,
    events: Vec<(Duration, VadEvent)>,
    start: Instant,
}

impl Run {
    fn new(config: VadConfig) -> Self {
        let now = Instant::now();
        let mut ep = Endpointer::new(&config);
        ep.listen();
        Self { ep, src: Source::new(), now, events: vec![], start: now }
    }
    fn feed(&mut self, ms: u64, voice: f32, hiss: f32, hum: f32) {
        for _ in 0..ms / 20 {
            let frame = self.src.frame(voice, hiss, hum);
            self.now += FRAME_DT;
            if let Some(e) = self.ep.push(&frame, self.now) {
                self.events.push((self.now - self.start, e));
            }
        }
    }
}

fn kinds(events: &[(Duration, VadEvent)]) -> Vec<&'static str> {
    events
        .iter()
        .map(|(_, e)| match e {
            VadEvent::SpeechStarted => "start",
            VadEvent::Utterance(_) => "utterance",
            VadEvent::MaxLengthReached(_) => "max",
        })
        .collect()
}

#[test]
fn silence_hiss_and_hum_emit_nothing() {
    let mut run = Run::new(VadConfig::default());
    run.feed(10_000, 0.0, 0.0, 0.0);
    run.feed(10_000, 0.0, 300.0, 0.0);
    run.feed(10_000, 0.0, 1500.0, 2000.0);
    // A sudden rise in line noise (a noisy line picking up) is not speech either.
    run.feed(10_000, 0.0, 6000.0, 0.0);
    assert!(run.events.is_empty(), "{:?}", kinds(&run.events));
}

#[test]
fn an_utterance_ends_after_the_trailing_silence() {
    let mut run = Run::new(VadConfig::default());
    run.feed(1000, 0.0, 200.0, 0.0);
    run.feed(1500, 3000.0, 200.0, 0.0);
    run.feed(2000, 0.0, 200.0, 0.0);
    assert_eq!(kinds(&run.events), ["start", "utterance"]);
    let (started_at, _) = run.events[0];
    assert!(started_at >= Duration::from_millis(1080) && started_at <= Duration::from_millis(1160), "{started_at:?}");
    let (ended_at, VadEvent::Utterance(audio)) = &run.events[1] else { unreachable!() };
    // Speech ends at 2.5 s; 700 ms of silence later the utterance is out.
    assert!(*ended_at >= Duration::from_millis(3180) && *ended_at <= Duration::from_millis(3260), "{ended_at:?}");
    // Pre-roll + 1.5 s of speech + 200 ms tail.
    let seconds = audio.len() as f32 / 8000.0;
    assert!((1.6..=2.0).contains(&seconds), "{seconds}");
}

#[test]
fn trailing_silence_is_configurable() {
    let mut run = Run::new(VadConfig { trailing_silence_ms: 300, ..VadConfig::default() });
    run.feed(1000, 3000.0, 0.0, 0.0);
    run.feed(1000, 0.0, 0.0, 0.0);
    let (ended_at, _) = run.events[1];
    assert!(ended_at >= Duration::from_millis(1280) && ended_at <= Duration::from_millis(1360), "{ended_at:?}");
}

#[test]
fn short_pauses_inside_speech_do_not_split_it() {
    let mut run = Run::new(VadConfig::default());
    for _ in 0..4 {
        run.feed(600, 3000.0, 100.0, 0.0);
        run.feed(400, 0.0, 100.0, 0.0);
    }
    run.feed(1000, 0.0, 100.0, 0.0);
    assert_eq!(kinds(&run.events), ["start", "utterance"]);
}

#[test]
fn long_speech_is_cut_at_the_maximum() {
    let mut run = Run::new(VadConfig { max_utterance_ms: 5000, ..VadConfig::default() });
    // 12 s of talking with 100 ms breaths.
    for _ in 0..17 {
        run.feed(600, 3000.0, 0.0, 0.0);
        run.feed(100, 0.0, 0.0, 0.0);
    }
    assert_eq!(kinds(&run.events), ["start", "max", "start", "max", "start"]);
    let VadEvent::MaxLengthReached(audio) = &run.events[1].1 else { unreachable!() };
    assert!(audio.len() <= 5000 * 8, "{}", audio.len());
}

#[test]
fn a_click_starts_nothing() {
    let mut run = Run::new(VadConfig::default());
    run.feed(1000, 0.0, 100.0, 0.0);
    run.feed(40, 8000.0, 100.0, 0.0);
    run.feed(2000, 0.0, 100.0, 0.0);
    assert!(run.events.is_empty(), "{:?}", kinds(&run.events));
}

#[test]
fn not_listening_means_no_events_and_listen_arms_barge_in() {
    let mut run = Run::new(VadConfig::default());
    run.ep.stop();
    assert!(!run.ep.is_listening());
    run.feed(2000, 3000.0, 0.0, 0.0);
    run.feed(1000, 0.0, 0.0, 0.0);
    assert!(run.events.is_empty());
    // Listening while a prompt plays: the caller talking over it is a SpeechStarted (barge-in).
    run.ep.listen();
    run.feed(500, 0.0, 0.0, 0.0);
    run.feed(200, 3000.0, 0.0, 0.0);
    assert_eq!(kinds(&run.events), ["start"]);
    assert!(run.ep.in_speech());
}

#[test]
fn config_validation_names_the_key() {
    let bad = VadConfig { trailing_silence_ms: 5, ..VadConfig::default() };
    assert_eq!(bad.validate().unwrap_err().0, "trailing_silence_ms");
    assert!(VadConfig::default().validate().is_ok());
}
