//! A string that must never be shown: API keys, bearer tokens, header values.
//!
//! `Debug`, `Display` and `Serialize` print `[REDACTED]`; the only way to the value is
//! [`Secret::expose`], which makes every use greppable.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret looks like wherever it is printed or serialized.
pub const REDACTED: &str = "[REDACTED]";

/// A secret string (zeroized on drop).
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret value itself. Only call this where the value leaves the process on
    /// purpose (an outgoing header, a hash comparison).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// A URL fit to print: `user:password@` is a credential too.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest
            .split_once('@')
            .filter(|(userinfo, _)| !userinfo.contains('/'))
        {
            Some((_, host)) => format!("{scheme}://{REDACTED}@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed_or_serialized() {
        let secret = Secret::new("sk-very-secret");
        let shown = format!(
            "{secret} {secret:?} {}",
            serde_json::to_string(&secret).unwrap()
        );
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert_eq!(shown.matches(REDACTED).count(), 3);
        assert_eq!(secret.expose(), "sk-very-secret");
    }

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            redact_url("https://bob:hunter2@mcp.example.com/mcp"),
            format!("https://{REDACTED}@mcp.example.com/mcp")
        );
        assert_eq!(
            redact_url("http://127.0.0.1:3001/mcp?x=a@b"),
            "http://127.0.0.1:3001/mcp?x=a@b"
        );
    }

    #[test]
    fn redacted_inside_containers() {
        let map = std::collections::BTreeMap::from([("Authorization", Secret::new("Bearer abc"))]);
        assert!(!format!("{map:?}").contains("abc"));
    }
}
