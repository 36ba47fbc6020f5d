//! The recognizer pool: one whisper.cpp model in memory shared by a fixed number of worker threads,
//! each with its own decoding state; a bounded queue in front of them where interactive answers
//! (a caller waiting for the IVR) go before recorded messages. When the queue is full, `submit`
//! fails at once with [`Saturated`] so the dialog can fall back to the keypad instead of waiting.
//!
//! Parameters are tuned for short phone utterances: English, no timestamps, one segment, the
//! encoder context trimmed to the audio (+64 positions) instead of Whisper's fixed 30 s window,
//! an initial prompt with the practice vocabulary plus per-call hints, temperature fallback, blank
//! and non-speech token suppression. Audio that is too quiet to be speech never reaches the model.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use super::SpeechConfig;
use super::dates;
use super::model::{self, ModelError};
use crate::media::resample;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A caller is waiting for the answer.
    Interactive,
    /// A recorded message; may wait behind interactive work.
    Message,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The recognized text, trimmed; empty when nothing was said.
    pub text: String,
    /// Length of the audio.
    pub duration_ms: u64,
    /// Time spent waiting for a worker.
    pub queued_ms: u64,
    /// Time spent recognizing (resampling included).
    pub compute_ms: u64,
    /// False when the audio was too quiet to be speech and the model was not run.
    pub recognized: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error("speech recognition failed: {0}")]
    Whisper(String),
    #[error(transparent)]
    Resample(#[from] resample::ResampleError),
    #[error("the recognizer stopped before answering")]
    Stopped,
}

/// The queue is full: answer with the keypad instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("speech recognizer saturated ({waiting} utterances waiting)")]
pub struct Saturated {
    pub waiting: usize,
}

pub type Reply = oneshot::Receiver<Result<Transcript, AsrError>>;

enum Audio {
    Phone8k(Vec<i16>),
    Wide16k(Vec<f32>),
}

struct Job {
    audio: Audio,
    hints: Vec<String>,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Transcript, AsrError>>,
}

#[derive(Default)]
struct Queues {
    interactive: VecDeque<Job>,
    message: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    capacity: usize,
    threads: usize,
    prompt: String,
    /// Encoder positions beyond the audio on the first try.
    margin: u64,
}

/// Closes the queue when the last pool handle goes away; workers then finish and exit.
struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.queues.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// Cloneable handle to the pool.
#[derive(Clone)]
pub struct AsrPool {
    shared: Arc<Shared>,
    _closer: Arc<Closer>,
    workers: usize,
}

impl AsrPool {
    /// Loads the model once and starts `workers` threads, each with its own whisper state.
    pub fn load(config: &SpeechConfig) -> Result<AsrPool, ModelError> {
        model::check(&config.model_path)?;
        whisper_rs::install_logging_hooks();
        let load_err = |message: String| ModelError::Load { path: config.model_path.clone(), message };
        let context = WhisperContext::new_with_params(&config.model_path, WhisperContextParameters::default()).map_err(|e| load_err(e.to_string()))?;
        let workers = config.worker_count();
        let states = (0..workers).map(|_| context.create_state().map_err(|e| load_err(e.to_string()))).collect::<Result<Vec<_>, _>>()?;
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            ready: Condvar::new(),
            capacity: config.queue,
            threads: config.thread_count(),
            prompt: config.vocabulary.join(", "),
            margin: config.audio_ctx_margin as u64,
        });
        for (i, state) in states.into_iter().enumerate() {
            let shared = shared.clone();
            std::thread::Builder::new().name(format!("asr-{i}")).spawn(move || worker(shared, state)).map_err(|e| load_err(format!("cannot start a worker thread: {e}")))?;
        }
        tracing::info!(model = %config.model_path.display(), workers, threads = shared.threads, queue = config.queue, "speech recognizer ready");
        Ok(AsrPool { _closer: Arc::new(Closer(shared.clone())), shared, workers })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Utterances waiting for a worker now.
    pub fn waiting(&self) -> usize {
        let q = self.shared.queues.lock();
        q.interactive.len() + q.message.len()
    }

    /// Queues 8 kHz call audio. `hints` are words likely in this answer (the caller's medications,
    /// names); they join the practice vocabulary in the initial prompt.
    pub fn submit(&self, audio_8k: Vec<i16>, priority: Priority, hints: &[String]) -> Result<Reply, Saturated> {
        self.enqueue(Audio::Phone8k(audio_8k), priority, hints)
    }

    /// Queues 16 kHz audio (files, wideband sources).
    pub fn submit_16k(&self, audio: Vec<f32>, priority: Priority, hints: &[String]) -> Result<Reply, Saturated> {
        self.enqueue(Audio::Wide16k(audio), priority, hints)
    }

    fn enqueue(&self, audio: Audio, priority: Priority, hints: &[String]) -> Result<Reply, Saturated> {
        let (reply, receiver) = oneshot::channel();
        let job = Job { audio, hints: hints.to_vec(), enqueued: Instant::now(), reply };
        let mut q = self.shared.queues.lock();
        let waiting = q.interactive.len() + q.message.len();
        if waiting >= self.shared.capacity {
            return Err(Saturated { waiting });
        }
        match priority {
            Priority::Interactive => q.interactive.push_back(job),
            Priority::Message => q.message.push_back(job),
        }
        drop(q);
        self.shared.ready.notify_one();
        Ok(receiver)
    }
}

fn worker(shared: Arc<Shared>, mut state: WhisperState) {
    loop {
        let job = {
            let mut q = shared.queues.lock();
            loop {
                if let Some(job) = q.interactive.pop_front().or_else(|| q.message.pop_front()) {
                    break job;
                }
                if q.closed {
                    return;
                }
                shared.ready.wait(&mut q);
            }
        };
        if job.reply.is_closed() {
            continue; // the call hung up meanwhile
        }
        let queued_ms = job.enqueued.elapsed().as_millis() as u64;
        let started = Instant::now();
        let result = recognize(&mut state, &shared, job.audio, &job.hints).map(|(text, duration_ms, recognized)| Transcript {
            text,
            duration_ms,
            queued_ms,
            compute_ms: started.elapsed().as_millis() as u64,
            recognized,
        });
        if let Ok(t) = &result {
            tracing::debug!(text = %t.text, duration_ms = t.duration_ms, queued_ms, compute_ms = t.compute_ms, "utterance recognized");
        }
        let _ = job.reply.send(result);
    }
}

/// Below this level (dBFS RMS) audio is silence or line noise and is not recognized.
const MIN_SPEECH_DBFS: f32 = -50.0;

/// 16 kHz audio long and loud enough to be worth recognizing (0.1 s, `MIN_SPEECH_DBFS`).
pub(super) fn is_speech(samples: &[f32]) -> bool {
    let power = samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32;
    samples.len() >= 1600 && 10.0 * (power + 1e-12).log10() >= MIN_SPEECH_DBFS
}

fn recognize(state: &mut WhisperState, shared: &Shared, audio: Audio, hints: &[String]) -> Result<(String, u64, bool), AsrError> {
    let samples = match audio {
        Audio::Phone8k(pcm) => resample::resample(&resample::i16_to_f32(&pcm), 8000, 16000)?,
        Audio::Wide16k(samples) => samples,
    };
    let duration_ms = samples.len() as u64 * 1000 / 16000;
    if !is_speech(&samples) {
        return Ok((String::new(), duration_ms, false));
    }
    let prompt = initial_prompt(&shared.prompt, hints);
    // Context fallback: a short encoder window is fast but can leave the decoder unable to find the
    // end of speech, and it loops ("yes, yes, yes, …"). A loop is retried with a wider window, the
    // last try with the full 30 s window and temperature fallback.
    let mut text = String::new();
    let margins: &[Option<u64>] = if duration_ms <= 28_000 { &[Some(shared.margin), Some(shared.margin.max(128) * 3), None] } else { &[None] };
    for (i, margin) in margins.iter().enumerate() {
        let last = i + 1 == margins.len();
        let params = params(shared.threads, duration_ms, *margin, last, &prompt);
        state.full(params, &samples).map_err(|e| AsrError::Whisper(e.to_string()))?;
        text.clear();
        for segment in state.as_iter() {
            text.push_str(&segment.to_str_lossy().map_err(|e| AsrError::Whisper(e.to_string()))?);
        }
        text = spaced_digits(&text);
        if state.as_iter().all(|segment| segment.no_speech_probability() > NO_SPEECH) {
            text.clear(); // line noise the power gate let through
            break;
        }
        if !looped(&text) {
            break;
        }
        tracing::debug!(attempt = i + 1, "recognizer looped; widening the audio context");
    }
    // A date of birth is said in a few words: a longer transcript of one is a loop. Any other
    // answer keeps every word up to a fast talker's rate ("... and now I can't breathe" is never cut).
    let words_per_s = if is_dob_turn(hints) { 3 } else { 5 };
    Ok((clean(&cut_loop(&text, duration_ms, words_per_s)), duration_ms, true))
}

/// Digits the model joined with hyphens ("1-0-1-7-2-0") as separate words, so a loop of them is
/// seen and the date reader gets the digit string it reads.
fn spaced_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let between_digits = |i: usize| i > 0 && i + 1 < chars.len() && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit();
    chars.iter().enumerate().map(|(i, &c)| if c == '-' && between_digits(i) { ' ' } else { c }).collect()
}

fn is_dob_turn(hints: &[String]) -> bool {
    hints.iter().map(String::as_str).eq(dates::DOB_HINTS.iter().copied())
}

/// Above this probability of "no speech" (whisper's own estimate, for every segment) the text is
/// dropped: what the model writes for noise ("Thank you.") is no answer.
const NO_SPEECH: f32 = 0.8;

/// The practice vocabulary and the turn's hints; a date-of-birth turn ([`dates::DOB_HINTS`]) gets
/// [`dates::DOB_PROMPT`] alone.
fn initial_prompt(vocabulary: &str, hints: &[String]) -> String {
    if is_dob_turn(hints) {
        return dates::DOB_PROMPT.to_string();
    }
    if hints.is_empty() { vocabulary.to_string() } else { format!("{vocabulary}, {}", hints.join(", ")) }
}

/// Tokens a decode may write for `duration_ms` of audio: people say at most ~4 tokens a second,
/// so a loop stops here instead of filling 224 tokens.
fn max_tokens(duration_ms: u64) -> i32 {
    (12 + duration_ms * 8 / 1000).min(224) as i32
}

/// What every decode here shares (live turns and chart transcripts): transcribe in `language`,
/// each clip on its own, nothing printed, no blank or non-speech tokens, the initial prompt, and the
/// thresholds of temperature fallback — decode again hotter when the result is a repetition (low
/// entropy) or unlikely (low average log-probability); fallback itself is off until the caller
/// sets `temperature_inc`.
pub(super) fn base_params<'a>(strategy: SamplingStrategy, threads: usize, language: &'a str, prompt: &'a str) -> FullParams<'a, 'a> {
    let mut p = FullParams::new(strategy);
    p.set_n_threads(threads as i32);
    p.set_language(Some(language));
    p.set_translate(false);
    p.set_no_context(true);
    p.set_print_special(false);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_timestamps(false);
    p.set_suppress_blank(true);
    p.set_suppress_nst(true);
    p.set_temperature(0.0);
    p.set_temperature_inc(0.0);
    p.set_entropy_thold(2.4);
    p.set_logprob_thold(-1.0);
    if !prompt.is_empty() {
        p.set_initial_prompt(prompt);
    }
    p
}

/// Decoder parameters. `margin`: encoder positions beyond the audio (None = full 30 s window).
fn params(threads: usize, duration_ms: u64, margin: Option<u64>, fallback: bool, prompt: &str) -> FullParams<'_, '_> {
    let mut p = base_params(SamplingStrategy::Greedy { best_of: 3 }, threads, "en", prompt);
    p.set_no_timestamps(true);
    // Temperature fallback on the last try only.
    p.set_temperature_inc(if fallback { 0.2 } else { 0.0 });
    p.set_no_speech_thold(NO_SPEECH);
    p.set_max_tokens(max_tokens(duration_ms));
    if let Some(margin) = margin {
        p.set_single_segment(true);
        p.set_audio_ctx(audio_ctx(duration_ms, margin));
    }
    p
}

/// Encoder positions for `duration_ms` of audio: 50 a second plus `margin`, at most 1500 (30 s).
pub fn audio_ctx(duration_ms: u64, margin: u64) -> i32 {
    ((duration_ms.div_ceil(20) + margin) as i32).min(1500)
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).filter(|w| !w.is_empty()).collect()
}

/// The length of a block of words repeated back to back at the end of the text (a decoder
/// loop): one word four times, two words three times, or a block of 3+ words twice.
fn loop_period(words: &[String]) -> Option<usize> {
    let n = words.len();
    (1..=n / 2).find(|&p| {
        let times = match p {
            1 => 4,
            2 => 3,
            _ => 2,
        };
        p * times <= n && (1..times).all(|k| words[n - p * (k + 1)..n - p * k] == words[n - p..])
    })
}

/// Where a block of 3+ words follows itself at once anywhere in the text ("it's December 24,
/// 1991, it's December 24, 1991, 1994"): the start of the second copy.
fn first_repeat(words: &[String]) -> Option<usize> {
    (3..words.len()).find(|&j| (3..=j.min(words.len() - j)).any(|p| words[j - p..j] == words[j..j + p]))
}

/// A loop cut by the token limit ends in a partial word ("amlodiim, amlodiim, amlo"), so the
/// last word is also tried without.
fn looped(text: &str) -> bool {
    let w = words(text);
    loop_period(&w).is_some() || (w.len() > 1 && loop_period(&w[..w.len() - 1]).is_some()) || first_repeat(&w).is_some()
}

/// Audio up to this long is an answer to a turn; longer audio is a message, whose words are never
/// cut for their number.
const SHORT_ANSWER_MS: u64 = 10_000;

/// The most words a caller says in `duration_ms` at `words_per_s`, and two more.
fn max_words(duration_ms: u64, words_per_s: u64) -> usize {
    (2 + duration_ms * words_per_s / 1000) as usize
}

/// The text without a decoder loop: a trailing loop is cut to one copy of its block; a text too
/// long for its audio is cut where a block first repeats, or else after the words the audio can
/// hold ("So, so, 10 to 5, 9, 6, so 10, 2, 5, 9, 6, so 10, 10, …" for "oh seven two five …").
fn cut_loop(text: &str, duration_ms: u64, words_per_s: u64) -> String {
    let collapsed = collapse_loop(text);
    let all = words(&collapsed);
    let most = max_words(duration_ms, words_per_s);
    if duration_ms > SHORT_ANSWER_MS || all.len() <= most {
        return collapsed;
    }
    keep_words(&collapsed, first_repeat(&all).unwrap_or(most))
}

/// The first `keep` words of `text` as written (punctuation attached).
fn keep_words(text: &str, keep: usize) -> String {
    text.split_whitespace().filter(|w| w.chars().any(|c| c.is_alphanumeric())).take(keep).collect::<Vec<_>>().join(" ")
}

/// Keeps the text up to the first repetition of a trailing loop.
pub(super) fn collapse_loop(text: &str) -> String {
    let mut all = words(text);
    if loop_period(&all).is_none() && all.len() > 1 {
        all.pop();
    }
    let Some(p) = loop_period(&all) else { return text.to_string() };
    // Walk back while the block keeps repeating, keep everything before plus one block.
    let mut start = all.len() - p;
    while start >= p && all[start - p..start] == all[start..start + p] {
        start -= p;
    }
    keep_words(text, start + p)
}

/// Trims, and drops what whisper.cpp prints for non-speech ("[BLANK_AUDIO]", "(silence)").
pub(super) fn clean(text: &str) -> String {
    let text = text.trim();
    let bracketed = |t: &str| (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('(') && t.ends_with(')')) || (t.starts_with('*') && t.ends_with('*'));
    if bracketed(text) { String::new() } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_context_follows_the_utterance() {
        assert_eq!(audio_ctx(3000, 128), 150 + 128);
        assert_eq!(audio_ctx(1, 64), 1 + 64);
        assert_eq!(audio_ctx(40_000, 128), 1500);
    }

    #[test]
    fn decoder_loops_are_found_and_cut() {
        assert!(looped("yes, yes, yes, yes, yes,"));
        assert!(looped("My date of birth is March 5. My date of birth is March 5."));
        assert!(!looped("no no"));
        assert!(!looped("zero one one one"));
        assert!(!looped("I need a refill of my lisinopril prescription."));
        assert!(!looped("one two three four"));
        assert_eq!(collapse_loop("Yes. Yes. Yes. Yes."), "Yes.");
        assert_eq!(collapse_loop("I need a refill. I need a refill. I need a refill."), "I need a refill.");
        assert_eq!(collapse_loop("Hello there, refill please refill please refill please"), "Hello there, refill please");
        assert_eq!(collapse_loop("nothing repeated here"), "nothing repeated here");
        assert!(looped("can you refill my metformin, amlodiim, amlodiim, amlodiim, amlodiim, amlo"));
        assert_eq!(collapse_loop("can you refill my metformin, amlodiim, amlodiim, amlodiim, amlodiim, amlo"), "can you refill my metformin, amlodiim,");
    }

    #[test]
    fn a_block_repeated_inside_the_text_is_a_loop() {
        let loop_text = "it's December 24, 1991, it's December 24, 1991, it's December 24, 1991, 1994, 1991,";
        assert!(looped(loop_text));
        assert_eq!(cut_loop(loop_text, 3600, 3), "it's December 24, 1991,");
        assert_eq!(cut_loop("I was born in 1962 on May 5th, 1962, I was born in 1962 on May 5th, 1962, on May 5th, 1962, I was born in 1962, on", 3000, 3), "I was born in 1962 on May 5th, 1962,");
        let said_twice = "I need a refill I need a refill of my lisinopril please";
        assert!(looped(said_twice), "decoded again in case");
        assert_eq!(cut_loop(said_twice, 4000, 3), said_twice, "as long as the audio allows: kept");
        assert!(!looped("March 5th 1982"));
        let wandering = "So, so, 10 to 5, 9, 6, so 10, 2, 5, 9, 6, so 10, 10, so 10, 2, 5, 9";
        assert_eq!(cut_loop(wandering, 2953, 3), "So, so, 10 to 5, 9, 6, so 10, 2,", "cut after the words 3 s of a date can hold");
        assert_eq!(cut_loop(wandering, 12_000, 3), wandering, "a message keeps its words");
        // Any other answer said fast keeps its last words (piper says ~4 words a second).
        let fast = "I've been a bit short of breath when I run since my cold";
        assert_eq!(cut_loop(fast, 3000, 5), fast);
        assert_eq!(cut_loop(fast, 3000, 3), "I've been a bit short of breath when I run since", "the tight cut of a date turn");
    }

    #[test]
    fn digits_joined_by_hyphens_are_words() {
        assert_eq!(spaced_digits("1-0-1-7-2-0"), "1 0 1 7 2 0");
        assert_eq!(spaced_digits("a follow-up on 3-4 things"), "a follow-up on 3 4 things");
        let looping = spaced_digits("1-0-1-7-2-0-1-0-0-1-0-0-1-0-1-0-1-0-1-0-1-");
        assert!(looped(&looping));
        assert!(words(&cut_loop(&looping, 3000, 3)).len() <= max_words(3000, 3));
    }

    #[test]
    fn a_date_of_birth_turn_prompts_with_its_question_alone() {
        let hints: Vec<String> = dates::DOB_HINTS.iter().map(|h| h.to_string()).collect();
        assert_eq!(initial_prompt("refill, metformin", &hints), dates::DOB_PROMPT);
        assert_eq!(initial_prompt("refill, metformin", &["yes".into(), "no".into()]), "refill, metformin, yes, no");
        assert_eq!(initial_prompt("refill, metformin", &[]), "refill, metformin");
        assert_eq!(max_tokens(3000), 36);
        assert_eq!(max_tokens(60_000), 224);
    }

    #[test]
    fn non_speech_markers_become_empty() {
        assert_eq!(clean(" [BLANK_AUDIO]"), "");
        assert_eq!(clean("(silence)"), "");
        assert_eq!(clean(" I need a refill. "), "I need a refill.");
    }
}
