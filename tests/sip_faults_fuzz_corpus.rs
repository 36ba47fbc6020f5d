//! Replays the fuzzing corpus and every past crash through the fuzz entry points, without the
//! fuzzer: each file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through
//! the same function the cargo-fuzz target calls (fuzz/entries.rs). A panic fails the test and
//! names the file. How to fuzz: fuzz/README.md.

#[path = "../fuzz/entries.rs"]
mod entries;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_file_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    for (target, entry) in entries::TARGETS {
        let corpus = files(&root.join("corpus").join(target));
        assert!(corpus.len() >= 4, "fuzz/corpus/{target} has {} seed files", corpus.len());
        let regressions = files(&root.join("regressions").join(target));
        for file in corpus.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| entry(&data)) {
                let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                failures.push(format!("{}: {message}", file.display()));
            }
        }
        eprintln!("{target}: {} corpus + {} regression files", corpus.len(), regressions.len());
    }
    assert!(failures.is_empty(), "inputs that fail:\n{}", failures.join("\n"));
}

/// The entry points are not vacuous: the seeds reach the interesting paths (a parsed INVITE, a
/// negotiated offer, an RTP packet, an RTCP report, a date, a red flag).
#[test]
fn seeds_reach_the_parsers() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let invite = std::fs::read(corpus.join("sip_message/invite")).unwrap();
    assert!(chartline::sip::message::parse(&invite).is_ok());
    let offer = std::fs::read_to_string(corpus.join("sdp/offer")).unwrap();
    let offer = chartline::sip::Sdp::parse(&offer).unwrap();
    assert!(chartline::sip::sdp::negotiate(&offer, &Default::default(), "127.0.0.1:2000".parse().unwrap(), 1).is_ok());
    let packet = std::fs::read(corpus.join("rtp/event")).unwrap();
    assert_eq!(chartline::media::session::parse_rtp(&packet).unwrap().header.payload_type, 101);
    let report = std::fs::read(corpus.join("rtcp/rr_two_blocks_bye")).unwrap();
    let report = chartline::media::rtcp::parse_compound(&report).unwrap();
    assert!(matches!(&report[0], chartline::media::rtcp::Packet::ReceiverReport { reports, .. } if reports.len() == 2), "{report:?}");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let said = std::fs::read_to_string(corpus.join("spoken_date/00")).unwrap();
    assert_eq!(chartline::speech::dates::parse_date(&said, today).unwrap().to_string(), "1982-03-05");
    let triage = chartline::triage::Triage::embedded().unwrap();
    assert!(triage.classify(&std::fs::read_to_string(corpus.join("triage/01")).unwrap()).is_emergency());
}
