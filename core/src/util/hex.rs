//! Hex through the `hex` crate, and a decoder whose errors never echo the input (it may
//! be a key; `hex`'s own errors name the character).

pub(crate) use hex::encode;

/// Decodes exactly `out.len()` bytes (either case). The error names the problem and a
/// position, never the characters.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<(), String> {
    hex::decode_to_slice(text, out).map_err(|err| match err {
        hex::FromHexError::InvalidHexCharacter { index, .. } => format!("not a hex digit at position {index}"),
        hex::FromHexError::OddLength | hex::FromHexError::InvalidStringLength => {
            format!("expected {} hex characters, got {}", out.len() * 2, text.chars().count())
        }
    })
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
