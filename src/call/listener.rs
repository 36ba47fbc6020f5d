//! The caller's speech on one call: VAD endpointing over the 20 ms frames the media session
//! forwards while listening. A dialog turn and the message alike yield each utterance to
//! recognize (in the message, to screen it for red flags as it is said); how long a silence ends
//! the message is the dialog's decision, not the endpointer's.

use std::time::Instant;

use crate::speech::{Endpointer, VadConfig, VadEvent};

/// What the listener heard in a frame.
#[derive(Debug, PartialEq)]
pub enum Heard {
    /// The caller started talking (barge-in).
    Started,
    /// A whole utterance, 8 kHz, to recognize: the caller stopped talking.
    Utterance(Vec<i16>),
}

pub struct Listener {
    endpointer: Endpointer,
    on: bool,
}

impl Listener {
    pub fn new(vad: &VadConfig) -> Self {
        Self { endpointer: Endpointer::new(vad), on: false }
    }

    /// Whether the media session should forward audio frames.
    pub fn wants_audio(&self) -> bool {
        self.on
    }

    /// Listens (a speech turn or the message); an utterance in progress carries on.
    pub fn listen(&mut self) {
        if !self.on {
            self.endpointer.listen();
            self.on = true;
        }
    }

    pub fn stop(&mut self) {
        self.on = false;
        self.endpointer.stop();
    }

    pub fn frame(&mut self, frame: &[i16], now: Instant) -> Option<Heard> {
        if !self.on {
            return None;
        }
        match self.endpointer.push(frame, now)? {
            VadEvent::SpeechStarted => Some(Heard::Started),
            VadEvent::Utterance(audio) | VadEvent::MaxLengthReached(audio) => {
                // Listening stays on until the dialog says otherwise: the next sentence may follow.
                self.endpointer.listen();
                Some(Heard::Utterance(audio))
            }
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
    fn each_utterance_is_yielded_and_listening_goes_on() {
        let mut listener = Listener::new(&VadConfig::default());
        let mut now = Instant::now();
        assert!(!listener.wants_audio());
        assert!(feed(&mut listener, &mut now, 1000, 8000.0).is_empty(), "nothing heard while off");

        listener.listen();
        let mut heard = feed(&mut listener, &mut now, 1000, 20.0);
        heard.extend(feed(&mut listener, &mut now, 1200, 8000.0));
        heard.extend(feed(&mut listener, &mut now, 1500, 20.0));
        assert_eq!(heard.first(), Some(&Heard::Started), "{heard:?}");
        assert!(matches!(heard.last(), Some(Heard::Utterance(audio)) if audio.len() >= 8 * 1000), "{heard:?}");
        assert!(listener.wants_audio(), "listening goes on until the dialog stops it");
        let mut again = feed(&mut listener, &mut now, 800, 8000.0);
        again.extend(feed(&mut listener, &mut now, 1500, 20.0));
        assert!(matches!(again.last(), Some(Heard::Utterance(_))), "a second answer in the same turn: {again:?}");

        listener.stop();
        assert!(feed(&mut listener, &mut now, 1000, 8000.0).is_empty(), "nothing heard once stopped");
    }
}
