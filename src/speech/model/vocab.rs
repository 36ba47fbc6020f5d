//! Whisper's byte-level BPE vocabulary. CTranslate2's `vocabulary.txt` stores each token in GPT-2's
//! printable form (every byte mapped to a visible character, e.g. a space to `Ġ`); whisper.cpp wants
//! the raw bytes, so the mapping is inverted here.

use super::ModelError;

/// GPT-2's table: printable Latin-1 bytes stand for themselves, the other 68 bytes are mapped in
/// order to U+0100 and up. Returns the byte for each character.
fn unicode_to_byte() -> std::collections::HashMap<char, u8> {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    let mut map = std::collections::HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).expect("U+0100..U+0143 are characters");
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

/// Decodes `vocabulary.txt` (one token a line) into raw byte tokens.
pub fn decode(text: &str) -> Result<Vec<Vec<u8>>, ModelError> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    decode_tokens(text.split('\n'))
}

/// Decodes `vocabulary.json` (a JSON array of tokens, as newer CTranslate2 converters write it).
pub fn decode_json(text: &str) -> Result<Vec<Vec<u8>>, ModelError> {
    let tokens: Vec<String> = serde_json::from_str(text).map_err(|e| ModelError::Vocabulary(format!("vocabulary.json is not an array of strings: {e}")))?;
    decode_tokens(tokens.iter().map(String::as_str))
}

fn decode_tokens<'a>(tokens: impl Iterator<Item = &'a str>) -> Result<Vec<Vec<u8>>, ModelError> {
    let table = unicode_to_byte();
    tokens
        .enumerate()
        .map(|(line, token)| token.chars().map(|c| table.get(&c).copied().ok_or_else(|| ModelError::Vocabulary(format!("token {}: {c:?} is not in the byte-level alphabet", line + 1)))).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverts_gpt2_byte_mapping() {
        let tokens = decode("Ġthe\n!\nĊ\nÃ©\n<|endoftext|>\n").unwrap();
        assert_eq!(tokens[0], b" the");
        assert_eq!(tokens[1], b"!");
        assert_eq!(tokens[2], b"\n");
        assert_eq!(tokens[3], "é".as_bytes());
        assert_eq!(tokens[4], b"<|endoftext|>");
        assert_eq!(unicode_to_byte().len(), 256);
    }

    #[test]
    fn rejects_characters_outside_the_alphabet() {
        let err = decode("ok\nbad€\n").unwrap_err().to_string();
        assert!(err.contains("token 2"), "{err}");
    }

    #[test]
    fn json_vocabulary_decodes_like_the_text_one() {
        let json = decode_json(r#"["Ġthe", "!", "Ċ", "Ã©", "<|endoftext|>"]"#).unwrap();
        assert_eq!(json, decode("Ġthe\n!\nĊ\nÃ©\n<|endoftext|>\n").unwrap());
        let err = decode_json(r#"{"the": 1}"#).unwrap_err().to_string();
        assert!(err.contains("not an array"), "{err}");
    }
}
