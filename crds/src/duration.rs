//! Durations in custom resources are strings such as `30s`, `5m` or `1h30m`: readable in YAML,
//! parseable by CEL's `duration()` and by `humantime`.

use std::time::Duration;

/// The schema pattern every duration field carries (a subset of Go's duration syntax that
/// both CEL and humantime accept).
pub(crate) const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h))+$";

/// Parse a duration string of a custom resource field.
pub fn parse(value: &str) -> Result<Duration, String> {
    let invalid = || format!("`{value}` is not a duration; use e.g. `500ms`, `30s`, `5m`, `1h30m`");
    if value.is_empty() {
        return Err(invalid());
    }
    let mut rest = value;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let amount: u32 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let (unit, unit_len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else {
            return Err(invalid());
        };
        total = unit
            .checked_mul(amount)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(invalid)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

pub(crate) fn schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": DURATION_PATTERN,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn accepts_go_style_durations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn rejects_garbage_with_an_example() {
        for bad in ["", "30", "s", "ten seconds", "-5s", "5 s", "1.5s"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("30s"), "{bad}: {err}");
        }
    }
}
