//! `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as a wait from now.

use std::time::{Duration, SystemTime};

/// The wait a `Retry-After` value asks for; a date in the past asks for none. `None`
/// for a value that is neither form. Dates in all three of RFC 9110's forms are read.
pub(crate) fn parse(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(parse(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO), "a past date waits not at all");
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), Some(Duration::ZERO), "RFC 850");
        assert_eq!(parse("Sun Nov  6 08:49:37 1994"), Some(Duration::ZERO), "asctime");
        let formatted = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = parse(&formatted).unwrap();
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28), "{formatted}: {wait:?}");
    }

    #[test]
    fn garbage_is_none() {
        for value in ["", "soon", "-1", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT"] {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }
}
