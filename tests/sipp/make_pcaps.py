#!/usr/bin/env python3
"""Writes the RTP captures the SIPp scenarios play with `play_pcap_audio`.

SIPp's bundled captures do not fit a PCMU call (g711a.pcap is PCMA at 30 ms) and its DTMF captures
all carry the same RTP timestamp, so a receiver that drops repeated events would hear "55" as "5".
These are made here instead, from a spec on the command line:

    make_pcaps.py OUT.pcap ITEM...      ITEM = digits:0305#  |  wav:FILE.wav  |  silence:MS
                                                 |  codec:pcmu|pcma  |  event_pt:N

Audio is 8 kHz 16-bit mono WAV sent as PCMU (PT 0; `codec:pcma` switches the items after it to
PCMA, PT 8) in 20 ms packets; digits are RFC 4733 events (PT 101, or `event_pt:N`): 100 ms of
event packets every 20 ms, three end packets, then 120 ms of silence. Every
capture continues from a sequence number and timestamp derived from the file name, so captures
played one after another on one call look like one stream with a gap.
"""
import struct
import sys
import wave
import zlib

PTIME = 20
SAMPLES = 8 * PTIME
EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def ulaw(sample):
    """ITU-T G.711 mu-law of one 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = 7
    while exponent > 0 and not magnitude & (0x4000 >> (7 - exponent)):
        exponent -= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def alaw(sample):
    """ITU-T G.711 A-law of one 16-bit sample."""
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


class Writer:
    def __init__(self, name):
        seed = zlib.crc32(name.encode())
        self.seq = seed & 0x7FFF
        self.timestamp = seed & 0x7FFFFFFF
        self.ssrc = 0x4368_6172  # one SSRC for all captures of a call
        self.clock_us = 0
        self.records = []
        self.codec = (0, ulaw)
        self.event_pt = 101

    def packet(self, pt, payload, marker=False, advance=True):
        header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        rtp = header + payload
        udp = struct.pack("!HHHH", 4000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        self.records.append(struct.pack("<IIII", self.clock_us // 1_000_000, self.clock_us % 1_000_000, len(frame), len(frame)) + frame)
        self.seq += 1
        if advance:
            self.clock_us += PTIME * 1000

    def audio(self, samples):
        for start in range(0, len(samples), SAMPLES):
            chunk = samples[start:start + SAMPLES]
            chunk += [0] * (SAMPLES - len(chunk))
            pt, encode = self.codec
            self.packet(pt, bytes(encode(s) for s in chunk))
            self.timestamp += SAMPLES

    def digit(self, event):
        steps = 100 // PTIME
        for step in range(1, steps + 1):
            self.packet(self.event_pt, struct.pack("!BBH", event, 10, step * SAMPLES), marker=step == 1)
        for repeat in range(3):
            self.packet(self.event_pt, struct.pack("!BBH", event, 0x80 | 10, steps * SAMPLES), advance=repeat == 2)
        self.timestamp += steps * SAMPLES
        self.audio([0] * (8 * 120))

    def save(self, path):
        with open(path, "wb") as out:
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            out.writelines(self.records)


def read_wav(path):
    with wave.open(path) as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (8000, 2, 1):
            sys.exit(f"{path}: need 8 kHz 16-bit mono")
        frames = w.readframes(w.getnframes())
    return list(struct.unpack(f"<{len(frames) // 2}h", frames))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    writer = Writer(out.rsplit("/", 1)[-1])
    for item in sys.argv[2:]:
        kind, _, value = item.partition(":")
        if kind == "digits":
            for ch in value:
                writer.digit(EVENTS[ch])
        elif kind == "wav":
            writer.audio(read_wav(value))
        elif kind == "codec" and value in ("pcmu", "pcma"):
            writer.codec = (0, ulaw) if value == "pcmu" else (8, alaw)
        elif kind == "event_pt":
            writer.event_pt = int(value)
        elif kind == "silence":
            writer.audio([0] * (8 * int(value)))
        else:
            sys.exit(f"unknown item {item!r}")
    writer.save(out)


if __name__ == "__main__":
    main()
