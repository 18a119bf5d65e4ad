//! Protection of personal data at rest (UU 27/2022 PDP): authenticated encryption of values such
//! as a NIK or a phone number, and keyed hashes to look them up without decrypting.
//!
//! - **Encryption**: AES-256-GCM with a random 96-bit nonce per value. The sealed bytes name the
//!   key that sealed them (`v1`, key id, nonce, ciphertext and tag), and the *context* (for
//!   example `citizen.nik`) is authenticated as associated data, so a value copied into another
//!   column or row kind does not open.
//! - **Key rotation**: several keys can be configured; the first seals, all open. Rotate by
//!   putting a new key first, re-sealing values whose [`DataKeys::sealed_with_current`] is false,
//!   then removing the old key.
//! - **Lookups**: HMAC-SHA-256 under a separate lookup key, over the context and the value, so
//!   equal values can be found (one account per NIK) while the table holds no value in clear.
//!
//! Used by the accounts issue (citizen NIK and phone); no caller stores personal data yet.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const FORMAT: &[u8; 2] = b"v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrivacyError {
    #[error("data keys must look like ID:BASE64[,ID:BASE64...] with 32-byte keys ({0})")]
    BadKeySpec(String),
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value names key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("the sealed value does not open: wrong key or context, or it was altered")]
    DoesNotOpen,
    #[error("no randomness available: {0}")]
    Random(String),
}

/// The configured keys. Never printed: `{:?}` shows key ids only.
pub struct DataKeys {
    /// (id, cipher), the first one seals.
    sealing: Vec<(String, Aes256Gcm)>,
    lookup: Vec<u8>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.sealing.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "DataKeys {{ ids: {ids:?} }}")
    }
}

fn decode_key(raw: &str) -> Result<Vec<u8>, PrivacyError> {
    let key = BASE64
        .decode(raw.trim())
        .map_err(|e| PrivacyError::BadKeySpec(e.to_string()))?;
    if key.len() != 32 {
        return Err(PrivacyError::BadKeySpec(format!(
            "a key has {} bytes",
            key.len()
        )));
    }
    Ok(key)
}

impl DataKeys {
    /// `sealing`: `k2:BASE64,k1:BASE64` (first seals); `lookup`: one BASE64 key.
    pub fn parse(sealing: &str, lookup: &str) -> Result<DataKeys, PrivacyError> {
        let mut keys = Vec::new();
        for part in sealing.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, key) = part
                .split_once(':')
                .ok_or_else(|| PrivacyError::BadKeySpec("missing ':'".into()))?;
            if id.is_empty()
                || id.len() > 32
                || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(PrivacyError::BadKeySpec(format!("bad key id {id:?}")));
            }
            if keys.iter().any(|(existing, _)| existing == id) {
                return Err(PrivacyError::BadKeySpec(format!("key id {id:?} twice")));
            }
            let cipher = Aes256Gcm::new_from_slice(&decode_key(key)?)
                .map_err(|e| PrivacyError::BadKeySpec(e.to_string()))?;
            keys.push((id.to_owned(), cipher));
        }
        if keys.is_empty() {
            return Err(PrivacyError::BadKeySpec("no key".into()));
        }
        Ok(DataKeys {
            sealing: keys,
            lookup: decode_key(lookup)?,
        })
    }

    /// A fresh key, base64, for `mpp`'s operators and for development data directories.
    pub fn generate_key() -> Result<String, PrivacyError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| PrivacyError::Random(e.to_string()))?;
        Ok(BASE64.encode(key))
    }

    /// Encrypts `plaintext` for `context` with the current key.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, PrivacyError> {
        let (id, cipher) = &self.sealing[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| PrivacyError::Random(e.to_string()))?;
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| PrivacyError::DoesNotOpen)?;
        let mut out = Vec::with_capacity(2 + 1 + id.len() + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(FORMAT);
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    fn split<'a>(
        &self,
        sealed: &'a [u8],
    ) -> Result<(&'a str, [u8; NONCE_LEN], &'a [u8]), PrivacyError> {
        let rest = sealed.strip_prefix(FORMAT).ok_or(PrivacyError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(PrivacyError::Malformed)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + 16 {
            return Err(PrivacyError::Malformed);
        }
        let (id, rest) = rest.split_at(id_len);
        let id = std::str::from_utf8(id).map_err(|_| PrivacyError::Malformed)?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| PrivacyError::Malformed)?;
        Ok((id, nonce, ciphertext))
    }

    /// Decrypts a value sealed for `context` by any configured key.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, PrivacyError> {
        let (id, nonce, ciphertext) = self.split(sealed)?;
        let (_, cipher) = self
            .sealing
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| PrivacyError::UnknownKey(id.to_owned()))?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| PrivacyError::DoesNotOpen)
    }

    /// Whether a value is sealed with the current key (false: re-seal it during a rotation).
    pub fn sealed_with_current(&self, sealed: &[u8]) -> bool {
        self.split(sealed)
            .is_ok_and(|(id, _, _)| id == self.sealing[0].0)
    }

    /// The keyed hash of a value, to find equal values without storing them in clear.
    pub fn lookup_hash(&self, context: &str, value: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup).expect("HMAC takes any key length");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(spec: &str) -> DataKeys {
        DataKeys::parse(spec, &BASE64.encode([7u8; 32])).expect("keys")
    }

    fn k(byte: u8) -> String {
        BASE64.encode([byte; 32])
    }

    #[test]
    fn seals_and_opens_without_leaving_the_value_in_clear() {
        let keys = keys(&format!("k1:{}", k(1)));
        let nik = b"3579010101900001";
        let sealed = keys.seal("citizen.nik", nik).expect("seal");
        assert!(
            !sealed.windows(nik.len()).any(|w| w == nik),
            "no plaintext in the sealed bytes"
        );
        assert_eq!(keys.open("citizen.nik", &sealed).expect("open"), nik);
        assert_ne!(
            keys.seal("citizen.nik", nik).expect("seal"),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn wrong_context_or_altered_bytes_do_not_open() {
        let keys = keys(&format!("k1:{}", k(1)));
        let mut sealed = keys.seal("citizen.nik", b"3579010101900001").expect("seal");
        assert_eq!(
            keys.open("citizen.phone", &sealed),
            Err(PrivacyError::DoesNotOpen)
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            keys.open("citizen.nik", &sealed),
            Err(PrivacyError::DoesNotOpen)
        );
        assert_eq!(
            keys.open("citizen.nik", b"v1"),
            Err(PrivacyError::Malformed)
        );
        assert_eq!(keys.open("citizen.nik", b""), Err(PrivacyError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = keys(&format!("k1:{}", k(1)));
        let sealed = old.seal("citizen.nik", b"x").expect("seal");
        let rotated = keys(&format!("k2:{},k1:{}", k(2), k(1)));
        assert_eq!(rotated.open("citizen.nik", &sealed).expect("open"), b"x");
        assert!(!rotated.sealed_with_current(&sealed), "to be re-sealed");
        assert!(rotated.sealed_with_current(&rotated.seal("citizen.nik", b"x").expect("seal")));
        let without_old = keys(&format!("k2:{}", k(2)));
        assert_eq!(
            without_old.open("citizen.nik", &sealed),
            Err(PrivacyError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn lookup_hashes_are_stable_and_separated_by_context() {
        let keys = keys(&format!("k1:{}", k(1)));
        let a = keys.lookup_hash("citizen.nik", "3579010101900001");
        assert_eq!(a, keys.lookup_hash("citizen.nik", "3579010101900001"));
        assert_ne!(a, keys.lookup_hash("citizen.phone", "3579010101900001"));
        let other_lookup = DataKeys::parse(&format!("k1:{}", k(1)), &k(8)).expect("keys");
        assert_ne!(
            a,
            other_lookup.lookup_hash("citizen.nik", "3579010101900001")
        );
    }

    #[test]
    fn bad_key_specs_are_refused_and_keys_never_print() {
        for spec in [
            "",
            "k1",
            "k1:notbase64!",
            &format!("k1:{}", BASE64.encode([1u8; 16])),
            &format!("k 1:{}", k(1)),
            &format!("k1:{},k1:{}", k(1), k(2)),
        ] {
            assert!(DataKeys::parse(spec, &k(7)).is_err(), "{spec:?}");
        }
        let keys = keys(&format!("k2:{},k1:{}", k(2), k(1)));
        assert_eq!(format!("{keys:?}"), "DataKeys { ids: [\"k2\", \"k1\"] }");
        assert_eq!(
            BASE64
                .decode(DataKeys::generate_key().expect("key"))
                .expect("b64")
                .len(),
            32
        );
    }
}
