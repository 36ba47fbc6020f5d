//! The speech subcommands as scripts call them: `chartline dob` and `chartline transcribe`.

mod common;

use std::process::Command;

fn chartline(args: &[&str]) -> std::process::Output {
    Command::new(common::BIN).args(args).current_dir(common::repo_root()).output().unwrap()
}

#[test]
fn dob_prints_the_date_or_fails_with_a_message() {
    for (text, want) in [
        ("March fifth nineteen eighty two", "1982-03-05"),
        ("the fifth of March 82", "1982-03-05"),
        ("oh three oh five eighty two", "1982-03-05"),
        ("3/5/1982", "1982-03-05"),
        ("seven four two thousand one", "2001-07-04"),
    ] {
        let out = chartline(&["dob", text]);
        assert!(out.status.success(), "{text}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{text}");
    }
    for (text, says) in [("I need a refill", "no date of birth understood"), ("February thirtieth nineteen eighty", "not a calendar date"), ("one one two eighty", "ambiguous")] {
        let out = chartline(&["dob", text]);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{text}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn transcribe_reads_a_phone_recording() {
    common::speech_model();
    let utterances = common::speech_utterances();
    let wav = &utterances.iter().find(|u| u.0 == "piper-cancel").unwrap().4;
    let out = chartline(&["transcribe", wav.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("cancel") && text.contains("appointment"), "{text}");
    // A file that is not audio is a clear error.
    let out = chartline(&["transcribe", "Cargo.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cargo.toml"), "{}", String::from_utf8_lossy(&out.stderr));
}
