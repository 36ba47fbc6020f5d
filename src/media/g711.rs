//! G.711 μ-law and A-law (ITU-T G.711), 16-bit linear PCM ⇄ 8-bit codes.

use std::sync::LazyLock;

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm < 0 { 0x80 } else { 0 };
    if pcm < 0 {
        pcm = -pcm;
    }
    pcm = pcm.min(CLIP) + BIAS;
    let mut exponent = 7;
    while exponent > 0 && pcm & (0x80 << exponent) == 0 {
        exponent -= 1;
    }
    let mantissa = (pcm >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

static ULAW_TABLE: LazyLock<[i16; 256]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let code = !(i as u8);
        let sign = code & 0x80;
        let exponent = ((code >> 4) & 0x07) as i32;
        let mantissa = (code & 0x0f) as i32;
        let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
        (if sign != 0 { -magnitude } else { magnitude }) as i16
    })
});

pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm >= 0 { 0xd5 } else { 0x55 };
    if pcm < 0 {
        pcm = -pcm - 1;
    }
    pcm = pcm.min(32767);
    let code = if pcm < 256 {
        pcm >> 4
    } else {
        let mut exponent = 7;
        while exponent > 1 && pcm & (0x80 << exponent) == 0 {
            exponent -= 1;
        }
        (exponent << 4) | ((pcm >> (exponent + 3)) & 0x0f)
    };
    (code ^ sign) as u8
}

pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

static ALAW_TABLE: LazyLock<[i16; 256]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let code = (i as u8) ^ 0x55;
        let exponent = ((code >> 4) & 0x07) as i32;
        let mantissa = (code & 0x0f) as i32;
        let magnitude = if exponent == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (exponent - 1) };
        (if code & 0x80 != 0 { magnitude } else { -magnitude }) as i16
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            if code != 0x7f {
                assert_eq!(linear_to_ulaw(ulaw_to_linear(code)), code, "ulaw {code:#x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "alaw {code:#x}");
        }
    }

    #[test]
    fn quantisation_error_is_bounded() {
        for sample in (-32768i32..32767).step_by(7) {
            let s = sample as i16;
            let u = ulaw_to_linear(linear_to_ulaw(s)) as i32;
            let a = alaw_to_linear(linear_to_alaw(s)) as i32;
            let bound = (sample.abs() / 16).max(16) + 8;
            assert!((u - sample).abs() <= bound.max(1100), "ulaw {sample} -> {u}");
            assert!((a - sample).abs() <= bound.max(1100), "alaw {sample} -> {a}");
        }
    }
}
