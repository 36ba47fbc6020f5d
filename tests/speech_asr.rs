//! The recognizer on the real model: synthesized phone utterances (piper and espeak-ng voices,
//! 8 kHz μ-law) through the pool; word error rate and key words; spoken dates of birth through the
//! transcript into the date parser; silence and line noise never reach the model; saturation.

mod common;

use std::time::{Duration, Instant};

use chartline::speech::dates::parse_date;
use chartline::speech::{AsrPool, Endpointer, Priority, SpeechConfig, VadConfig, VadEvent};

fn pool(workers: usize, queue: usize) -> AsrPool {
    let config = SpeechConfig { model_path: common::speech_model(), workers, queue, ..SpeechConfig::default() };
    AsrPool::load(&config).expect("load the model")
}

fn load_8k(path: &std::path::Path) -> Vec<i16> {
    chartline::media::prompts::load_8k(path).expect("read utterance").to_vec()
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_string())
        .filter(|w| !w.is_empty())
        .map(|w| if w == "dr" { "doctor".into() } else { w })
        .collect()
}

fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(x != y)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[test]
fn phone_utterances_are_transcribed_with_bounded_word_error() {
    let utterances = common::speech_utterances();
    let pool = pool(2, 200);
    let replies: Vec<_> = utterances.iter().map(|(_, _, _, _, wav)| pool.submit(load_8k(wav), Priority::Interactive, &[]).expect("queue has room")).collect();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let (mut errors, mut reference_words) = ([0usize; 2], [0usize; 2]);
    let (mut dob_right, mut dob_total) = ([0usize; 2], [0usize; 2]);
    let mut missing_keywords = Vec::new();
    for ((id, voice, dob, text, _), reply) in utterances.iter().zip(replies) {
        let transcript = reply.blocking_recv().expect("answer").expect("recognized");
        let v = usize::from(voice == "espeak");
        println!("{id:<24} {:>5} ms  {:>4} ms  {:?}", transcript.duration_ms, transcript.compute_ms, transcript.text);
        assert!(transcript.recognized);
        if let Some(dob) = dob {
            dob_total[v] += 1;
            let parsed = parse_date(&transcript.text, today);
            if parsed.as_ref().map(|d| d.to_string()) == Ok(dob.clone()) {
                dob_right[v] += 1;
            } else {
                println!("    date of birth {dob} not read back: {parsed:?}");
            }
            continue;
        }
        let (reference, heard) = (words(text), words(&transcript.text));
        errors[v] += edit_distance(&reference, &heard);
        reference_words[v] += reference.len();
        // Key words of the request must be heard in the natural voice.
        for key in ["refill", "appointment", "nurse", "results", "referral", "bill", "records", "chest", "cancel", "pharmacy"] {
            if v == 0 && reference.iter().any(|w| w == key) && !heard.iter().any(|w| w == key) {
                missing_keywords.push(format!("{id}: {key}"));
            }
        }
    }
    let wer = |v: usize| errors[v] as f64 / reference_words[v] as f64;
    println!("WER piper {:.3} ({} words), espeak {:.3}; dates piper {}/{}, espeak {}/{}", wer(0), reference_words[0], wer(1), dob_right[0], dob_total[0], dob_right[1], dob_total[1]);
    // Bounds measured on this set with tiny.en (see the final report): piper is a natural voice,
    // espeak-ng's formant voice is much harder for tiny.en. The set is synthesized without random
    // variation or dither, so every machine hears the same audio; on it espeak dates read back 1/10.
    assert!(wer(0) <= 0.12, "piper WER {:.3}", wer(0));
    assert!(wer(1) <= 0.45, "espeak WER {:.3}", wer(1));
    assert!(missing_keywords.is_empty(), "key words not heard: {missing_keywords:?}");
    assert!(dob_right[0] * 10 >= dob_total[0] * 8, "piper dates {}/{}", dob_right[0], dob_total[0]);
    assert!(dob_right[1] * 10 >= dob_total[1], "espeak dates {}/{}", dob_right[1], dob_total[1]);
}

/// Runs 8 kHz audio through the endpointer in 20 ms frames with simulated time, submitting each
/// utterance like the call does; returns the transcripts.
fn through_endpointer(pool: &AsrPool, audio: &[i16]) -> Vec<String> {
    let mut ep = Endpointer::new(&VadConfig::default());
    ep.listen();
    let start = Instant::now();
    let mut replies = Vec::new();
    for (i, frame) in audio.chunks(160).enumerate() {
        if let Some(VadEvent::Utterance(a) | VadEvent::MaxLengthReached(a)) = ep.push(frame, start + Duration::from_millis(20 * (i as u64 + 1))) {
            replies.push(pool.submit(a, Priority::Interactive, &[]).unwrap());
        }
    }
    replies.into_iter().map(|r| r.blocking_recv().unwrap().unwrap().text).collect()
}

fn line_noise(seconds: usize, hiss: f32, hum: f32) -> Vec<i16> {
    let mut seed = 99u32;
    (0..seconds * 8000)
        .map(|n| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = (seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
            let t = n as f32 / 8000.0;
            (white * hiss + (2.0 * std::f32::consts::PI * 60.0 * t).sin() * hum) as i16
        })
        .collect()
}

#[test]
fn silence_and_line_noise_never_reach_the_model() {
    let pool = pool(1, 8);
    assert!(through_endpointer(&pool, &vec![0; 8000 * 20]).is_empty(), "digital silence");
    assert!(through_endpointer(&pool, &line_noise(20, 400.0, 0.0)).is_empty(), "hiss");
    assert!(through_endpointer(&pool, &line_noise(20, 800.0, 3000.0)).is_empty(), "hiss and hum");
    // Silence handed to the pool directly is not decoded either (no "Thank you." hallucination).
    let t = pool.submit(vec![0; 8000 * 3], Priority::Interactive, &[]).unwrap().blocking_recv().unwrap().unwrap();
    assert_eq!(t.text, "");
    assert!(!t.recognized);
    // And speech inside line noise still comes through, once.
    let utterances = common::speech_utterances();
    let refill = utterances.iter().find(|u| u.0 == "piper-refill").unwrap();
    let mut audio = line_noise(2, 150.0, 300.0);
    audio.extend(load_8k(&refill.4).iter().zip(line_noise(10, 150.0, 300.0)).map(|(s, n)| s.saturating_add(n)));
    audio.extend(line_noise(3, 150.0, 300.0));
    let texts = through_endpointer(&pool, &audio);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].to_lowercase().contains("refill"), "{texts:?}");
}

#[test]
fn a_saturated_pool_refuses_at_once_and_serves_interactive_first() {
    let utterances = common::speech_utterances();
    let long = load_8k(&utterances.iter().find(|u| u.0 == "piper-soreness").unwrap().4);
    let short = load_8k(&utterances.iter().find(|u| u.0 == "piper-nurse").unwrap().4);
    let pool = pool(1, 2);
    let busy = pool.submit(long.clone(), Priority::Message, &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.waiting() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let message = pool.submit(long.clone(), Priority::Message, &[]).unwrap();
    let interactive = pool.submit(short, Priority::Interactive, &["nurse".to_string()]).unwrap();
    let asked = Instant::now();
    let refused = pool.submit(long, Priority::Interactive, &[]);
    assert!(asked.elapsed() < Duration::from_millis(50), "submit must not block");
    assert!(matches!(refused, Err(chartline::speech::Saturated { waiting: 2 })), "{refused:?}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (first, _) = rt.block_on(async {
        tokio::select! {
            r = interactive => ("interactive", r),
            r = message => ("message", r),
        }
    });
    assert_eq!(first, "interactive", "the caller's answer goes before the recorded message");
    assert!(!busy.blocking_recv().unwrap().unwrap().text.is_empty());
}
