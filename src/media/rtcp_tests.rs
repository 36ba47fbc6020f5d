use std::time::{Duration, Instant, UNIX_EPOCH};

use super::*;

fn block() -> ReportBlock {
    ReportBlock { ssrc: 0xdead_beef, fraction_lost: 25, cumulative_lost: -3, highest_seq: 0x0001_0010, jitter: 77, last_sr: 0x1234_5678, delay_since_last_sr: 0x0000_8000 }
}

#[test]
fn our_report_is_an_sr_with_one_block_then_sdes_and_parses_back() {
    let ntp = ntp_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let bytes = sender_report(0x0102_0304, ntp, 160, 50, 8000, Some(block()), "chartline@example");
    assert_eq!(&bytes[..8], &[0x81, 200, 0, 12, 1, 2, 3, 4], "V=2, RC=1, SR, 12 words after the header");
    assert_eq!(bytes.len() % 4, 0);
    let packets = parse_compound(&bytes).unwrap();
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[0], Packet::SenderReport { ssrc: 0x0102_0304, ntp, rtp_timestamp: 160, packets: 50, octets: 8000, reports: vec![block()] });
    assert_eq!(packets[1], Packet::Other { packet_type: 202 });
    // The SDES chunk: our SSRC, CNAME (type 1) with its length, the text, then a null item.
    let sdes = &bytes[52..];
    assert_eq!(&sdes[..2], &[0x81, 202]);
    assert_eq!(&sdes[4..10], &[1, 2, 3, 4, 1, 17]);
    assert_eq!(&sdes[10..27], b"chartline@example");
    assert_eq!(sdes[27], 0);
    // Before the caller has been heard: no block.
    let bare = sender_report(7, ntp, 0, 0, 0, None, "c");
    assert_eq!(&bare[..4], &[0x80, 200, 0, 6]);
    assert!(matches!(&parse_compound(&bare).unwrap()[0], Packet::SenderReport { reports, .. } if reports.is_empty()));
}

#[test]
fn a_receiver_report_written_by_hand_reads_field_by_field() {
    #[rustfmt::skip]
    let bytes = [
        0x81, 201, 0, 7,             // RR, one block, 7 words follow
        0, 0, 0, 9,                  // sender SSRC
        0xca, 0xfe, 0xba, 0xbe,      // block about SSRC cafebabe
        0x40, 0xff, 0xff, 0xfe,      // fraction 64/256, cumulative lost -2
        0, 2, 0x01, 0x00,            // 2 cycles, highest seq 256
        0, 0, 0, 40,                 // jitter 40
        0xaa, 0xbb, 0xcc, 0xdd,      // LSR
        0, 1, 0, 0,                  // DLSR 1 s
        0x81, 203, 0, 1, 0, 0, 0, 9, // BYE from 9
    ];
    let packets = parse_compound(&bytes).unwrap();
    let Packet::ReceiverReport { ssrc: 9, reports } = &packets[0] else { panic!("{packets:?}") };
    assert_eq!(reports[0], ReportBlock { ssrc: 0xcafe_babe, fraction_lost: 64, cumulative_lost: -2, highest_seq: 0x0002_0100, jitter: 40, last_sr: 0xaabb_ccdd, delay_since_last_sr: 0x0001_0000 });
    assert_eq!(packets[1], Packet::Bye { ssrcs: vec![9] });
}

#[test]
fn invalid_compounds_are_refused() {
    let good = sender_report(1, 0, 0, 0, 0, Some(block()), "c");
    assert_eq!(parse_compound(&[]), Err(RtcpError::TooShort));
    assert_eq!(parse_compound(&good[..3]), Err(RtcpError::TooShort));
    let mut v1 = good.clone();
    v1[0] = (v1[0] & 0x3f) | 0x40;
    assert_eq!(parse_compound(&v1), Err(RtcpError::Version(1)));
    assert_eq!(parse_compound(&good[52..]), Err(RtcpError::FirstNotReport(202)), "SDES alone");
    assert_eq!(parse_compound(&good[..good.len() - 4]), Err(RtcpError::Length), "cut short");
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0x80]);
    assert_eq!(parse_compound(&trailing), Err(RtcpError::TooShort));
    let mut padded_first = good.clone();
    padded_first[0] |= 0x20;
    assert_eq!(parse_compound(&padded_first), Err(RtcpError::Padding));
    let mut too_many = good[..52].to_vec();
    too_many[0] = 0x82; // RC=2 in a packet with room for one
    assert_eq!(parse_compound(&too_many), Err(RtcpError::ReportCount));
    // Padding on the last packet is fine when it fits.
    let mut rr = vec![0xa0, 201, 0, 1, 0, 0, 0, 5];
    rr[3] = 2;
    rr.extend_from_slice(&[0, 0, 0, 4]);
    assert_eq!(parse_compound(&rr).unwrap(), vec![Packet::ReceiverReport { ssrc: 5, reports: vec![] }]);
    rr[11] = 9;
    assert_eq!(parse_compound(&rr), Err(RtcpError::Length), "more padding than the packet");
}

#[test]
fn reception_counts_loss_per_interval_and_since_the_start() {
    let now = Instant::now();
    let mut r = Reception::default();
    assert!(r.report_block(now).is_none(), "nothing heard yet");
    for seq in 100..200u16 {
        r.on_packet(42, seq, None);
    }
    let first = r.report_block(now).unwrap();
    assert_eq!((first.ssrc, first.fraction_lost, first.cumulative_lost, first.highest_seq), (42, 0, 0, 199));
    // The next interval: 30 of 120 lost.
    for seq in 200..320u16 {
        if seq % 4 != 0 {
            r.on_packet(42, seq, None);
        }
    }
    let second = r.report_block(now).unwrap();
    assert_eq!(second.cumulative_lost, 30);
    assert_eq!(second.fraction_lost, 64, "30/120 of 256");
    assert_eq!(r.lost(), 30);
    // A duplicate makes the count negative for the interval: reported as 0.
    r.on_packet(42, 319, None);
    assert_eq!(r.report_block(now).unwrap().fraction_lost, 0);
}

#[test]
fn reception_follows_wraps_and_confirmed_restarts() {
    let now = Instant::now();
    let mut r = Reception::default();
    for i in 0..20u16 {
        r.on_packet(1, 65_530u16.wrapping_add(i), None);
    }
    let b = r.report_block(now).unwrap();
    assert_eq!(b.highest_seq, (1 << 16) + 13, "one cycle, then seq 13");
    assert_eq!(b.cumulative_lost, 0);
    // One stray packet far away is not counted and changes nothing...
    r.on_packet(1, 40_000, None);
    assert_eq!(r.report_block(now).unwrap().highest_seq, (1 << 16) + 13);
    r.on_packet(1, 14, None);
    // ...but two in a row there are a restart (a PBX switching sources under one SSRC).
    r.on_packet(1, 30_000, None);
    r.on_packet(1, 30_001, None);
    let after = r.report_block(now).unwrap();
    assert_eq!((after.highest_seq, after.cumulative_lost), (30_001, 0));
    // A new SSRC starts afresh too; the call's total keeps what every stream lost.
    r.on_packet(1, 30_005, None);
    assert_eq!(r.lost(), 3);
    r.on_packet(2, 7, None);
    assert_eq!(r.report_block(now).unwrap().ssrc, 2);
    r.on_packet(2, 9, None);
    assert_eq!((r.lost(), r.total_lost()), (1, 4));
}

#[test]
fn interarrival_jitter_follows_rfc3550_a8() {
    let mut steady = Reception::default();
    for i in 0..100u32 {
        steady.on_packet(1, i as u16, Some((i * 160, 5_000 + i * 160)));
    }
    assert_eq!(steady.jitter(), 0, "constant transit");
    let mut wobbly = Reception::default();
    for i in 0..400u32 {
        let wobble = if i % 2 == 0 { 0 } else { 80 };
        wobbly.on_packet(1, i as u16, Some((i * 160, 5_000 + i * 160 + wobble)));
    }
    // |D| is 80 every packet: J converges to 80 timestamp units (10 ms at 8 kHz).
    assert!((78..=80).contains(&wobbly.jitter()), "{}", wobbly.jitter());
    // Timestamps that wrap do not look like a huge transit jump.
    let mut wrapping = Reception::default();
    for i in 0..50u32 {
        let ts = (u32::MAX - 1000).wrapping_add(i * 160);
        wrapping.on_packet(1, i as u16, Some((ts, ts.wrapping_add(3))));
    }
    assert_eq!(wrapping.jitter(), 0);
}

#[test]
fn our_block_echoes_the_callers_sender_report() {
    let heard = Instant::now();
    let mut r = Reception::default();
    r.on_packet(5, 1, None);
    let ntp = 0x0000_1234_5678_0000u64;
    r.on_sender_report(99, ntp, heard);
    assert_eq!(r.report_block(heard).unwrap().last_sr, 0, "a report from another source is not the caller's");
    r.on_sender_report(5, ntp, heard);
    let b = r.report_block(heard + Duration::from_millis(500)).unwrap();
    assert_eq!(b.last_sr, 0x1234_5678);
    assert_eq!(b.delay_since_last_sr, 32_768, "0.5 s in 1/65536 s");
}

#[test]
fn far_end_reports_give_the_round_trip_time() {
    let sent = ntp_time(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let mut far = FarEnd::default();
    let about_us = ReportBlock { ssrc: 77, fraction_lost: 3, cumulative_lost: 12, jitter: 24, last_sr: ntp_middle(sent), delay_since_last_sr: 65_536 / 2, ..Default::default() };
    // It arrives 530 ms after our SR; the far end held it 500 ms: 30 ms there and back.
    let arrived = ntp_time(UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(530));
    far.on_block(&about_us, 77, arrived);
    let rtt = far.rtt.unwrap().as_secs_f64() * 1000.0;
    assert!((rtt - 30.0).abs() < 0.1, "{rtt}");
    assert_eq!((far.reports, far.fraction_lost, far.cumulative_lost, far.jitter), (1, 3, 12, 24));
    far.on_block(&ReportBlock { ssrc: 78, ..about_us }, 77, arrived);
    assert_eq!(far.reports, 1, "a block about someone else");
    far.on_block(&ReportBlock { last_sr: 0, ..about_us }, 77, arrived);
    assert_eq!((far.reports, far.rtt_max), (2, far.rtt), "no SR seen yet by them: no new RTT");
    // A delay a hair longer than the time since our report (their rounding): 0, not 18 hours.
    let mut near = FarEnd::default();
    near.on_block(&ReportBlock { delay_since_last_sr: 65_536 * 53 / 100 + 3, ..about_us }, 77, arrived);
    assert_eq!(near.rtt, Some(Duration::ZERO));
    // One far off is a bogus report: no RTT from it.
    near.on_block(&ReportBlock { delay_since_last_sr: 65_536 * 2, ..about_us }, 77, arrived);
    assert_eq!((near.reports, near.rtt_max), (2, Some(Duration::ZERO)));
}
