//! Lower-case hex encoding and a decoder that never echoes its input (it may be a key).

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    encode_into(bytes, &mut out);
    // Only hex digits were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the hex of `bytes` into `out`, which holds exactly twice as many bytes.
pub(crate) fn encode_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (&b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
}

/// Decodes exactly `out.len()` bytes (either case). The error names the
/// problem and a position, never the characters.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<(), String> {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return Err(format!(
            "expected {} hex characters, got {}",
            out.len() * 2,
            text.chars().count()
        ));
    }
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let high = nibble(pair[0]).ok_or_else(|| not_hex(2 * i))?;
        let low = nibble(pair[1]).ok_or_else(|| not_hex(2 * i + 1))?;
        out[i] = (high << 4) | low;
    }
    Ok(())
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn not_hex(position: usize) -> String {
    format!("not a hex digit at position {position}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let mut out = [0u8; 3];
        decode_into("00aBff", &mut out).unwrap();
        assert_eq!(out, [0x00, 0xab, 0xff]);
        assert_eq!(encode(&out), "00abff");
        assert_eq!(decode_into("00ab", &mut out).unwrap_err(), "expected 6 hex characters, got 4");
        assert_eq!(decode_into("00abfg", &mut out).unwrap_err(), "not a hex digit at position 5");
    }
}
