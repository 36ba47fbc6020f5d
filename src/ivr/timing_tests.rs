//! How long a typical caller spends from answer to a complete request, keypad versus speech, in
//! simulated time with the real prompt lengths (sounds/en, read with hound). Prints the numbers
//! (`cargo test --lib ivr::dialog::timing_tests -- --nocapture`); asserts that both calls reach the
//! message and that every clip they play is rendered.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::tests::{Run, chart, setup};
use super::*;
use crate::media::prompts::{say_date, say_digits, say_number};

/// Caller behaviour assumed (ms): reaction after a prompt, per key, voice activity detector tail,
/// recogniser latency (tiny.en with a trimmed context, TEST-PEERS.md), chart lookup.
const REACT_MS: u64 = 1000;
const KEY_MS: u64 = 350;
const VAD_TAIL_MS: u64 = 600;
const ASR_MS: u64 = 200;
const LOOKUP_MS: u64 = 200;

struct Sim {
    run: Run,
    start: Instant,
    lengths: HashMap<String, u64>,
    /// The current prompt: tag, its clips and when it started.
    playing: Option<(u64, Vec<String>, Instant)>,
    played: Vec<String>,
    request_at: Option<Duration>,
    recording_at: Option<Duration>,
}

fn clip_lengths() -> HashMap<String, u64> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds/en");
    let mut lengths = HashMap::new();
    for entry in std::fs::read_dir(&dir).expect("sounds/en") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wav") {
            let reader = hound::WavReader::open(&path).expect("a WAV prompt");
            let spec = reader.spec();
            let ms = reader.duration() as u64 * 1000 / spec.sample_rate as u64;
            lengths.insert(path.file_stem().unwrap().to_string_lossy().into_owned(), ms);
        }
    }
    lengths
}

impl Sim {
    fn new(speech: bool) -> Self {
        let run = Run::with(IvrConfig::default(), setup(speech));
        let start = run.now;
        let mut sim = Self { run, start, lengths: clip_lengths(), playing: None, played: Vec::new(), request_at: None, recording_at: None };
        let first = sim.run.log.clone();
        sim.absorb(&first);
        sim
    }

    fn absorb(&mut self, actions: &[Action]) {
        for action in actions {
            match action {
                Action::Play { prompts, tag, .. } => {
                    let names: Vec<String> = prompts
                        .iter()
                        .flat_map(|p| match p {
                            PromptItem::Clip(n) => vec![n.clone()],
                            PromptItem::Digits(d) => say_digits(d),
                            PromptItem::Number(n) => say_number(*n),
                            PromptItem::Date(d) => say_date(*d),
                        })
                        .collect();
                    self.played.extend(names.iter().cloned());
                    self.playing = Some((*tag, names, self.run.now));
                }
                Action::Request { .. } => self.request_at = Some(self.run.now - self.start),
                Action::StartRecording => self.recording_at = Some(self.run.now - self.start),
                _ => {}
            }
        }
    }

    fn length(&self, names: &[String]) -> u64 {
        names.iter().map(|n| *self.lengths.get(n).unwrap_or_else(|| panic!("prompt {n} is not rendered: run scripts/make-sounds"))).sum()
    }

    fn event(&mut self, event: Event) {
        self.run.dialog.handle(event, self.run.now);
        let actions = self.run.drain();
        self.absorb(&actions);
    }

    /// The caller listens to the whole prompt.
    fn listen(&mut self) {
        let (tag, names, started) = self.playing.take().expect("a prompt plays");
        self.run.now = started + Duration::from_millis(self.length(&names));
        self.event(Event::PromptFinished { tag, interrupted: false });
    }

    /// The caller listens until `clip` has played, then presses `key` (barge-in).
    fn key_after(&mut self, clip: &str, key: char) {
        let (tag, names, started) = self.playing.clone().expect("a prompt plays");
        let upto = names.iter().position(|n| n == clip).expect("clip in prompt");
        self.run.now = started + Duration::from_millis(self.length(&names[..=upto]) + REACT_MS);
        self.event(Event::Digit(key));
        self.event(Event::PromptFinished { tag, interrupted: true });
    }

    fn keys(&mut self, keys: &str) {
        self.run.now += Duration::from_millis(REACT_MS);
        for k in keys.chars() {
            self.run.now += Duration::from_millis(KEY_MS);
            self.event(Event::Digit(k));
        }
    }

    fn say(&mut self, text: &str, speaking_ms: u64) {
        self.run.now += Duration::from_millis(REACT_MS);
        self.event(Event::SpeechStarted);
        self.run.now += Duration::from_millis(speaking_ms + VAD_TAIL_MS + ASR_MS);
        self.event(Event::Speech { text: text.into() });
    }

    /// The caller answers over the prompt once it reaches `clip` (e.g. "yes" as soon as the date
    /// has been read back): barge-in, the driver stops the prompt.
    fn say_over(&mut self, clip: &str, text: &str, speaking_ms: u64) {
        let (tag, names, started) = self.playing.clone().expect("a prompt plays");
        let upto = names.iter().position(|n| n == clip).expect("clip in prompt");
        self.run.now = started + Duration::from_millis(self.length(&names[..upto]) + 300);
        self.event(Event::SpeechStarted);
        self.event(Event::PromptFinished { tag, interrupted: true });
        self.run.now += Duration::from_millis(speaking_ms + VAD_TAIL_MS + ASR_MS);
        self.event(Event::Speech { text: text.into() });
    }

    /// The chart answers the lookup of 1982-03-05.
    fn lookup(&mut self) {
        self.run.now += Duration::from_millis(LOOKUP_MS);
        self.event(Event::Candidates(vec![chart("p1", "Ann", "Lee", None)]));
    }

    /// The chart summary of the identified patient arrives.
    fn summary(&mut self) {
        self.run.now += Duration::from_millis(LOOKUP_MS);
        self.event(Event::Medications(vec!["lisinopril 10 MG Oral Tablet".into()]));
    }

    fn report(&self, name: &str) -> (Duration, Duration) {
        let request = self.request_at.expect("request chosen");
        let recording = self.recording_at.expect("recording started");
        println!("{name}: answer -> request chosen {:.1} s, -> recording (request and follow-up complete) {:.1} s", request.as_secs_f64(), recording.as_secs_f64());
        (request, recording)
    }
}

#[test]
fn typical_keypad_and_speech_calls_time_to_request() {
    let mut keypad = Sim::new(false);
    keypad.listen(); // greeting
    keypad.listen(); // enter-dob
    keypad.keys("03051982");
    keypad.listen(); // read-back
    keypad.keys("1");
    keypad.lookup();
    keypad.summary();
    keypad.key_after("menu-refill", '1');
    keypad.listen(); // record-after-tone, tone
    let (k_request, k_recording) = keypad.report("keypad call (refill)");

    // A keypad caller whose request is further down the menu (page 2: a message for the provider).
    let mut far = Sim::new(false);
    far.listen();
    far.listen();
    far.keys("03051982");
    far.listen();
    far.keys("1");
    far.lookup();
    far.summary();
    far.key_after("menu-more", '0');
    far.key_after("menu-provider", '2');
    far.listen();
    let (f_request, _) = far.report("keypad call (provider message, menu page 2)");
    assert!(f_request > k_request);

    let mut speech = Sim::new(true);
    speech.listen(); // greeting
    speech.listen(); // dob-ask-speech
    speech.say("March fifth nineteen eighty two", 2200);
    speech.lookup(); // the chart is searched before the read-back
    speech.listen(); // read-back
    speech.say("yes", 500);
    speech.summary();
    speech.listen(); // ask-request
    speech.say("I need a refill on my blood pressure medicine", 2800);
    speech.listen(); // label + is-that-right
    speech.say("yes", 500);
    speech.listen(); // ask-medication
    speech.say("lisinopril", 900);
    speech.listen(); // i-heard, med-lisinopril, is-that-right
    speech.say("yes", 500);
    speech.listen(); // record-after-tone, tone
    let (s_request, s_recording) = speech.report("speech call (refill + medication read-back)");

    // The same call by a caller who answers each read-back as soon as it is read.
    let mut quick = Sim::new(true);
    quick.listen();
    quick.listen();
    quick.say("March fifth nineteen eighty two", 2200);
    quick.lookup();
    quick.say_over("dob-confirm-speech", "yes", 500);
    quick.summary();
    quick.listen();
    quick.say("I need a refill on my blood pressure medicine", 2800);
    quick.say_over("is-that-right", "yes", 500);
    quick.listen();
    quick.say("lisinopril", 900);
    quick.say_over("is-that-right", "yes", 500);
    quick.listen();
    let (q_request, q_recording) = quick.report("speech call, answering over the read-backs");
    assert!(q_request < s_request && q_recording < s_recording, "barge-in saves time");
    println!("assumed: reaction {REACT_MS} ms, {KEY_MS} ms per key, VAD tail {VAD_TAIL_MS} ms, ASR {ASR_MS} ms, lookup {LOOKUP_MS} ms");

    assert!(keypad.played.contains(&"menu-refill".to_string()) && speech.played.contains(&"med-lisinopril".to_string()));
    assert!(k_request < k_recording && s_request < s_recording);
    assert!(speech.run.log.contains(&Action::Request { kind: RequestType::Refill, chosen_by: InputMethod::Speech }));
    assert!(speech.run.log.contains(&Action::Note { key: "medication", value: "lisinopril 10 MG Oral Tablet".into() }));
}
