//! What the secrets tests share: every log line of the process at `trace`, captured, and
//! secrets as they would look base64-encoded (written out here, so that a test does not use
//! the encoder whose output it searches for).

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

/// Everything the process logs, at every level and for every crate, from [`capture_trace`].
#[derive(Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    /// The log so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log at `trace` for every crate, without colours, into the returned capture: once per
/// test binary (it installs the process's global subscriber).
pub fn capture_trace() -> CapturedLog {
    let log = CapturedLog::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    log
}

/// `value` in standard base64, with padding.
pub fn base64(value: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in value.as_bytes().chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            encoded.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    while !encoded.len().is_multiple_of(4) {
        encoded.push('=');
    }
    encoded
}

/// Fail, naming the secret and the place, when any of `secrets`, plain or base64, appears in
/// the text of any of `places` (`(what the place is, its text)`).
pub fn assert_nowhere(secrets: &[&str], places: &[(&str, &str)]) {
    for secret in secrets {
        for form in [secret.to_string(), base64(secret)] {
            for (place, text) in places {
                assert!(!text.contains(&form), "{form} (of {secret}) in {place}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_as_the_standard_has_it() {
        assert_eq!(super::base64(""), "");
        assert_eq!(super::base64("f"), "Zg==");
        assert_eq!(super::base64("fo"), "Zm8=");
        assert_eq!(super::base64("foo"), "Zm9v");
        assert_eq!(super::base64("late-token"), "bGF0ZS10b2tlbg==");
    }
}
