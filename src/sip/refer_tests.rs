//! The REFER machine on simulated time.

use super::*;
use crate::sip::message;

const TIMEOUT: Duration = Duration::from_secs(20);

fn start(now: Instant) -> (Refer, Vec<u8>) {
    Refer::start("z9hG4bKrefer".into(), b"REFER sip:caller@127.0.0.1 SIP/2.0\r\n\r\n".to_vec(), now, &Timers::default(), false, TIMEOUT)
}

fn notify(cseq: u32, state: &str, frag: &str) -> Message {
    let text = format!(
        "NOTIFY sip:chartline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKn{cseq}\r\nFrom: <sip:caller@127.0.0.1>;tag=remote\r\nTo: <sip:ivr@127.0.0.1>;tag=ours\r\nCall-ID: call-1\r\nCSeq: {cseq} NOTIFY\r\nEvent: refer\r\nSubscription-State: {state}\r\nContent-Type: message/sipfrag\r\nContent-Length: {}\r\n\r\n{frag}",
        frag.len()
    );
    message::parse(text.as_bytes()).expect("a valid NOTIFY")
}

fn updates(refer: &mut Refer) -> Vec<TransferUpdate> {
    std::iter::from_fn(|| refer.poll_update()).collect()
}

#[test]
fn accepted_then_ringing_then_answered_succeeds() {
    let now = Instant::now();
    let (mut refer, first) = start(now);
    assert!(first.starts_with(b"REFER "));
    refer.on_response(202);
    refer.on_notify(&notify(1, "active;expires=60", "SIP/2.0 100 Trying\r\n"));
    refer.on_notify(&notify(2, "active;expires=60", "SIP/2.0 180 Ringing\r\n"));
    assert!(!refer.is_done());
    refer.on_notify(&notify(3, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n"));
    assert_eq!(
        updates(&mut refer),
        [TransferUpdate::Accepted { status: 202 }, TransferUpdate::Progress { status: 100 }, TransferUpdate::Progress { status: 180 }, TransferUpdate::Succeeded { status: 200 }]
    );
    assert!(refer.is_done());
    assert_eq!(refer.poll_timeout(), None, "nothing left to wait for");
}

#[test]
fn a_rejected_refer_fails_at_once() {
    for status in [405, 501, 603] {
        let (mut refer, _) = start(Instant::now());
        refer.on_response(100);
        refer.on_response(status);
        assert_eq!(updates(&mut refer), [TransferUpdate::Failed { reason: TransferFailure::Rejected(status) }]);
        assert!(refer.is_done());
    }
}

#[test]
fn a_failed_new_call_fails_the_transfer() {
    let (mut refer, _) = start(Instant::now());
    refer.on_response(202);
    refer.on_notify(&notify(1, "terminated;reason=noresource", "SIP/2.0 503 Service Unavailable\r\n"));
    assert_eq!(updates(&mut refer), [TransferUpdate::Accepted { status: 202 }, TransferUpdate::Failed { reason: TransferFailure::CallFailed(503) }]);
}

#[test]
fn a_terminated_subscription_without_success_fails() {
    let (mut refer, _) = start(Instant::now());
    refer.on_response(202);
    refer.on_notify(&notify(1, "terminated;reason=timeout", "SIP/2.0 180 Ringing\r\n"));
    assert_eq!(updates(&mut refer).last(), Some(&TransferUpdate::Failed { reason: TransferFailure::Terminated }));
}

#[test]
fn no_final_notify_before_the_deadline_fails() {
    let now = Instant::now();
    let (mut refer, _) = start(now);
    refer.on_response(202);
    refer.on_notify(&notify(1, "active", "SIP/2.0 100 Trying\r\n"));
    let mut at = now;
    while let Some(next) = refer.poll_timeout() {
        assert!(next <= now + TIMEOUT, "no timer beyond the transfer deadline");
        at = next;
        refer.on_timeout(at);
    }
    assert_eq!(at, now + TIMEOUT);
    assert_eq!(updates(&mut refer).last(), Some(&TransferUpdate::Failed { reason: TransferFailure::Timeout(20_000) }));
}

#[test]
fn an_unanswered_refer_is_retransmitted_then_fails() {
    let now = Instant::now();
    let (mut refer, _) = start(now);
    let timers = Timers::default();
    let mut resent = Vec::new();
    while let Some(next) = refer.poll_timeout() {
        refer.on_timeout(next);
        if refer.poll_transmit().is_some() {
            resent.push((next - now).as_millis() as u64);
        }
    }
    assert_eq!(&resent[..4], [500, 1500, 3500, 7500], "T1 doubling");
    assert!(resent.iter().all(|ms| *ms < TIMEOUT.as_millis() as u64));
    // The transfer deadline (20 s) comes before Timer F (32 s).
    assert!(TIMEOUT < timers.giveup());
    assert_eq!(updates(&mut refer), [TransferUpdate::Failed { reason: TransferFailure::Timeout(20_000) }]);
}

#[test]
fn duplicates_are_not_news() {
    let (mut refer, _) = start(Instant::now());
    refer.on_response(202);
    refer.on_response(202);
    let ringing = notify(1, "active", "SIP/2.0 180 Ringing\r\n");
    refer.on_notify(&ringing);
    refer.on_notify(&ringing);
    refer.on_notify(&notify(2, "terminated", "SIP/2.0 200 OK\r\n"));
    refer.on_notify(&notify(2, "terminated", "SIP/2.0 200 OK\r\n"));
    refer.on_notify(&notify(3, "terminated", "SIP/2.0 503 Service Unavailable\r\n"));
    assert_eq!(updates(&mut refer), [TransferUpdate::Accepted { status: 202 }, TransferUpdate::Progress { status: 180 }, TransferUpdate::Succeeded { status: 200 }]);
}

#[test]
fn a_notify_overtaking_the_202_counts_as_accepted() {
    let (mut refer, _) = start(Instant::now());
    refer.on_notify(&notify(1, "active", "SIP/2.0 100 Trying\r\n"));
    refer.on_response(202);
    assert_eq!(updates(&mut refer), [TransferUpdate::Accepted { status: 202 }, TransferUpdate::Progress { status: 100 }]);
}

#[test]
fn refer_to_for_uris_and_extensions() {
    assert_eq!(refer_to_uri("sip:nurse@10.0.0.5", "sip:caller@10.0.0.1:5070"), "sip:nurse@10.0.0.5");
    assert_eq!(refer_to_uri("201", "sip:pbx@10.0.0.1:5070;transport=tcp"), "sip:201@10.0.0.1:5070");
    assert_eq!(refer_to_uri("201", "sip:10.0.0.1"), "sip:201@10.0.0.1");
}
