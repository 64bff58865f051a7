//! Session ids that carry their own state, sealed with AES-256-GCM, so any replica can open
//! them with no shared store. The first configured key seals, every key opens (rotation:
//! add the new key first, keep the old one until its sessions expire). An id is
//! `v1.<key index>.<base64url(nonce | ciphertext | tag)>`: visible ASCII, as the spec asks.

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Bytes of a session key.
pub const KEY_LEN: usize = 32;

/// The purpose (AAD) of session ids.
const SESSION: &[u8] = b"llamagate-session-v1";

/// Longest sealed body opened (a request state carries an upstream's own state).
const MAX_TOKEN: usize = 64 * 1024;

/// What a session id carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Negotiated protocol version.
    pub pv: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Which API key opened the session (its name), so another key cannot use it.
    pub key: String,
    /// The endpoint the session belongs to (`/mcp`, `/mcp/<server>`).
    pub view: String,
    /// Unique per session (for DELETE).
    pub sid: String,
    /// The client capabilities declared at `initialize` that the gateway may relay
    /// requests for (`elicitation`, `sampling`, `roots`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// The session's own sessions at upstream servers (server name to `Mcp-Session-Id`),
    /// opened at `initialize` (`owned::open`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub up: BTreeMap<String, String>,
}

/// Seals and opens session ids.
pub struct Sealer {
    keys: Vec<LessSafeKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.keys.len())
    }
}

impl Sealer {
    /// A sealer over `keys` (each [`KEY_LEN`] bytes; checked by the config); a random key
    /// of this process alone when none is configured.
    pub fn new(keys: &[Vec<u8>]) -> Self {
        let random = SystemRandom::new();
        let mut material: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| k.len() == KEY_LEN)
            .cloned()
            .collect();
        if material.is_empty() {
            let mut key = vec![0u8; KEY_LEN];
            random.fill(&mut key).expect("the system's random source");
            material.push(key);
        }
        let keys = material
            .iter()
            .map(|k| LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k).expect("a 32-byte key")))
            .collect();
        Self { keys, random }
    }

    /// A sealed id for `claims`.
    pub fn seal(&self, claims: &Claims) -> String {
        self.seal_as(SESSION, claims)
    }

    /// The claims of `id`, if one of the keys sealed it and it has not expired at `now`.
    pub fn open(&self, id: &str, now: u64) -> Option<Claims> {
        self.open_as::<Claims>(SESSION, id)
            .filter(|claims| claims.exp > now)
    }

    /// `value` sealed for one `purpose` (the AAD): a token of one purpose never opens as
    /// another (a session id is not a request state).
    pub fn seal_as<T: Serialize>(&self, purpose: &[u8], value: &T) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut data = serde_json::to_vec(value).expect("sealed values serialize");
        self.keys[0]
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose),
                &mut data,
            )
            .expect("sealing a small buffer");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("v1.0.{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// What `token` holds, if one of the keys sealed it for `purpose`.
    pub fn open_as<T: DeserializeOwned>(&self, purpose: &[u8], token: &str) -> Option<T> {
        // The key index is a hint only: with rotation, a token sealed by the old first
        // key is opened by trying each.
        let rest = token.strip_prefix("v1.")?;
        let (_, body) = rest.split_once('.')?;
        if body.len() > MAX_TOKEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        for key in &self.keys {
            let mut data = sealed.to_vec();
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(purpose), &mut data) {
                return serde_json::from_slice(plain).ok();
            }
        }
        None
    }
}

/// Decode a configured key: 32 bytes as base64 (standard or URL-safe) or 64 hex digits.
pub fn decode_key(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..32)
            .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok())
            .collect();
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(text).ok())
        .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
        .or_else(|| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text)
                .ok()
        })
        .filter(|k| k.len() == KEY_LEN)
}

/// Claims of a 2025-era session `sid` of key `k` on `/mcp`, declaring `caps`, for tests.
#[cfg(test)]
pub(super) fn test_claims(sid: &str, caps: &[&str]) -> Claims {
    Claims {
        pv: "2025-11-25".into(),
        exp: u64::MAX,
        key: "k".into(),
        view: "/mcp".into(),
        sid: sid.into(),
        caps: caps.iter().map(|c| (*c).to_owned()).collect(),
        up: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            pv: "2025-11-25".into(),
            exp,
            key: "reader".into(),
            view: "/mcp".into(),
            sid: "s1".into(),
            caps: Vec::new(),
            up: BTreeMap::new(),
        }
    }

    #[test]
    fn sealed_ids_open_on_any_sealer_with_the_key_and_rotate() {
        let old = vec![7u8; 32];
        let new = vec![9u8; 32];
        let before = Sealer::new(std::slice::from_ref(&old));
        let id = before.seal(&claims(100));
        assert!(
            id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "visible ASCII: {id}"
        );
        // Another replica with the same key, and one after rotation (new key first).
        assert_eq!(
            Sealer::new(std::slice::from_ref(&old)).open(&id, 50),
            Some(claims(100))
        );
        let rotated = Sealer::new(&[new.clone(), old]);
        assert_eq!(rotated.open(&id, 50), Some(claims(100)));
        assert!(
            Sealer::new(&[new]).open(&id, 50).is_none(),
            "a key that did not seal it"
        );
        assert!(before.open(&id, 100).is_none(), "expired");
    }

    #[test]
    fn tampered_and_hostile_ids_do_not_open() {
        let sealer = Sealer::new(&[vec![1u8; 32]]);
        let id = sealer.seal(&claims(100));
        let mut bytes = id.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        for bad in [
            tampered.as_str(),
            "",
            "v1.",
            "v1.0.",
            "v1.0.!!!",
            "v2.0.abc",
            &"v1.0.A".repeat(2000),
        ] {
            assert!(sealer.open(bad, 0).is_none(), "{bad:.40}");
        }
    }

    #[test]
    fn a_token_opens_only_for_the_purpose_it_was_sealed_for() {
        let sealer = Sealer::new(&[vec![3u8; 32]]);
        let state = sealer.seal_as(b"request-state", &claims(100));
        assert_eq!(
            sealer.open_as::<Claims>(b"request-state", &state),
            Some(claims(100))
        );
        assert!(sealer.open(&state, 0).is_none(), "not a session id");
        let id = sealer.seal(&claims(100));
        assert!(sealer.open_as::<Claims>(b"request-state", &id).is_none());
    }

    #[test]
    fn keys_decode_from_base64_or_hex_and_only_at_32_bytes() {
        let hex = "00".repeat(32);
        assert_eq!(decode_key(&hex), Some(vec![0u8; 32]));
        let b64 = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
        assert_eq!(decode_key(&b64), Some(vec![5u8; 32]));
        assert_eq!(decode_key("c2hvcnQ="), None);
        assert_eq!(decode_key("not a key"), None);
    }
}
