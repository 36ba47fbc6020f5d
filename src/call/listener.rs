//! The caller's speech on one call: VAD endpointing over the 20 ms frames the media session
//! forwards while listening, and what that means for the dialog. A speech turn yields the
//! utterance to recognize; during the message recording only the end of speech matters
//! (the recording itself is written by the media session).

use std::time::Instant;

use crate::speech::{Endpointer, VadConfig, VadEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    /// A dialog turn that accepts speech.
    Turn,
    /// The caller is leaving the message.
    Message,
}

/// What the listener heard in a frame.
#[derive(Debug, PartialEq)]
pub enum Heard {
    /// The caller started talking (barge-in).
    Started,
    /// A whole utterance of a speech turn, 8 kHz, to recognize.
    Utterance(Vec<i16>),
    /// The caller stopped talking while leaving the message.
    MessageEnded,
}

pub struct Listener {
    endpointer: Endpointer,
    mode: Mode,
}

impl Listener {
    pub fn new(vad: &VadConfig) -> Self {
        Self { endpointer: Endpointer::new(vad), mode: Mode::Off }
    }

    /// Whether the media session should forward audio frames.
    pub fn wants_audio(&self) -> bool {
        self.mode != Mode::Off
    }

    pub fn turn(&mut self) {
        self.set(Mode::Turn);
    }

    pub fn message(&mut self) {
        self.set(Mode::Message);
    }

    pub fn stop(&mut self) {
        self.mode = Mode::Off;
        self.endpointer.stop();
    }

    fn set(&mut self, mode: Mode) {
        if self.mode != mode {
            self.endpointer.stop();
            self.endpointer.listen();
            self.mode = mode;
        }
    }

    pub fn frame(&mut self, frame: &[i16], now: Instant) -> Option<Heard> {
        let event = match self.mode {
            Mode::Off => return None,
            _ => self.endpointer.push(frame, now)?,
        };
        match (event, self.mode) {
            (VadEvent::SpeechStarted, Mode::Turn) => Some(Heard::Started),
            (VadEvent::SpeechStarted, _) => None,
            (VadEvent::Utterance(audio) | VadEvent::MaxLengthReached(audio), Mode::Turn) => {
                // Listening stays on until the dialog says otherwise: the next answer may follow.
                self.endpointer.listen();
                Some(Heard::Utterance(audio))
            }
            (VadEvent::Utterance(_), Mode::Message) => {
                self.stop();
                Some(Heard::MessageEnded)
            }
            // A message longer than one utterance goes on; the dialog's maximum length bounds it.
            (VadEvent::MaxLengthReached(_), _) => {
                self.endpointer.listen();
                None
            }
            (VadEvent::Utterance(_), Mode::Off) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn tone(amplitude: f32, n: usize) -> Vec<i16> {
        (0..160).map(|i| ((((n * 160 + i) as f32) * 0.2).sin() * amplitude + (((n * 160 + i) as f32) * 0.05).sin() * amplitude * 0.5) as i16).collect()
    }

    /// Feeds `ms` of frames and collects what was heard.
    fn feed(listener: &mut Listener, now: &mut Instant, ms: u64, amplitude: f32) -> Vec<Heard> {
        (0..ms / 20)
            .filter_map(|n| {
                *now += Duration::from_millis(20);
                listener.frame(&tone(amplitude, n as usize), *now)
            })
            .collect()
    }

    #[test]
    fn a_turn_yields_one_utterance_and_a_message_its_end() {
        let mut listener = Listener::new(&VadConfig::default());
        let mut now = Instant::now();
        assert!(!listener.wants_audio());
        assert!(feed(&mut listener, &mut now, 1000, 8000.0).is_empty(), "nothing heard while off");

        listener.turn();
        let mut heard = feed(&mut listener, &mut now, 1000, 20.0);
        heard.extend(feed(&mut listener, &mut now, 1200, 8000.0));
        heard.extend(feed(&mut listener, &mut now, 1500, 20.0));
        assert_eq!(heard.first(), Some(&Heard::Started), "{heard:?}");
        assert!(matches!(heard.last(), Some(Heard::Utterance(audio)) if audio.len() >= 8 * 1000), "{heard:?}");
        assert!(listener.wants_audio(), "listening goes on until the dialog stops it");
        let mut again = feed(&mut listener, &mut now, 800, 8000.0);
        again.extend(feed(&mut listener, &mut now, 1500, 20.0));
        assert!(matches!(again.last(), Some(Heard::Utterance(_))), "a second answer in the same turn: {again:?}");

        listener.message();
        let mut heard = feed(&mut listener, &mut now, 1000, 20.0);
        heard.extend(feed(&mut listener, &mut now, 2000, 8000.0));
        heard.extend(feed(&mut listener, &mut now, 1500, 20.0));
        assert_eq!(heard, vec![Heard::MessageEnded]);
    }
}
