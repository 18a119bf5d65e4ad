//! Staff credentials: passwords (argon2id), time-based one-time codes (TOTP, RFC 6238) and
//! random secrets (session, invitation and API tokens). Only hashes of passwords and tokens are
//! ever stored; TOTP secrets are stored sealed (see `privacy`).

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

/// Shortest password accepted (OWASP ASVS 2.1.1 asks for 12).
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;
/// TOTP time step, in seconds.
pub const TOTP_STEP: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no randomness available")]
    Random,
    #[error("password hashing failed")]
    Hash,
}

/// `n` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CredentialError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CredentialError::Random)?;
    Ok(bytes)
}

/// A random token for a URL or a cookie (256 bits, URL-safe).
pub fn random_token() -> Result<String, CredentialError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What is stored of a token: its SHA-256 (the token itself has 256 bits of entropy, so a
/// slow hash adds nothing).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakPassword {
    TooShort,
    TooLong,
    /// Contains the person's e-mail address, or is one character repeated.
    Guessable,
}

impl WeakPassword {
    pub fn message(self) -> (&'static str, &'static str) {
        match self {
            WeakPassword::TooShort => (
                "Kata sandi minimal 12 karakter.",
                "The password needs at least 12 characters.",
            ),
            WeakPassword::TooLong => (
                "Kata sandi paling banyak 128 karakter.",
                "The password can have at most 128 characters.",
            ),
            WeakPassword::Guessable => (
                "Kata sandi terlalu mudah ditebak: jangan memakai alamat e-mail atau satu karakter berulang.",
                "The password is too easy to guess: do not use your e-mail address or one repeated character.",
            ),
        }
    }
}

/// Checks a new password: length (counted in characters, any character allowed) and the two
/// guesses an attacker tries first.
pub fn check_new_password(password: &str, email: &str) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(WeakPassword::TooLong);
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let mut distinct = password.chars().collect::<Vec<_>>();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() == 1 || (local.len() >= 4 && lower.contains(&local)) {
        return Err(WeakPassword::Guessable);
    }
    Ok(())
}

/// The argon2id hash of a password, in PHC string form (parameters and salt included).
pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|_| CredentialError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CredentialError::Hash)
}

/// A hash of a password nobody has, verified when the account does not exist so that the answer
/// takes as long either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password("decoy password that matches nothing").unwrap_or_else(|_| {
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$2RdlHl1D3Fa8oJC5Fx2QIFq7ay3vZbq5wM1wE5VGc0E"
                .to_owned()
        })
    })
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new TOTP secret (160 bits, as RFC 4226 recommends).
pub fn new_totp_secret() -> Result<Vec<u8>, CredentialError> {
    Ok(random_bytes::<20>()?.to_vec())
}

/// The secret in base32, as authenticator apps take it when typed.
pub fn totp_secret_text(secret: &[u8]) -> String {
    match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(text) => text,
        Secret::Raw(_) => String::new(),
    }
}

/// The secret from its base32 text (as typed into an authenticator app).
pub fn totp_secret_from_text(text: &str) -> Option<Vec<u8>> {
    Secret::Encoded(text.trim().replace(' ', "").to_uppercase())
        .to_bytes()
        .ok()
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn totp_url(secret: &[u8], account: &str) -> String {
    let issuer = "MPP Digital";
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={TOTP_STEP}",
        encode(issuer),
        encode(account),
        totp_secret_text(secret),
        encode(issuer)
    )
}

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 1, TOTP_STEP, secret.to_vec()).ok()
}

/// The code for the time step containing `unix_seconds`.
pub fn totp_code(secret: &[u8], unix_seconds: u64) -> Option<String> {
    totp(secret).map(|t| t.generate(unix_seconds))
}

/// The time step a code belongs to, if it is the code of the current step or one step either
/// side (clock drift), and later than `last_used_step` (a code works once).
pub fn check_totp(
    secret: &[u8],
    code: &str,
    unix_seconds: u64,
    last_used_step: u64,
) -> Option<u64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret)?;
    let now = unix_seconds / TOTP_STEP;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|&step| step > last_used_step)
        .find(|&step| {
            let expected = totp.generate(step * TOTP_STEP);
            expected.len() == code.len()
                && expected
                    .bytes()
                    .zip(code.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
}

/// A QR code of `text` as an SVG image in a `data:` address (allowed by the CSP for images).
pub fn qr_svg_data_url(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_salt_and_verify() {
        let a = hash_password("kata sandi panjang sekali").expect("hash");
        let b = hash_password("kata sandi panjang sekali").expect("hash");
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("kata sandi panjang sekali", &a));
        assert!(!verify_password("kata sandi panjang sekalI", &a));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_password("anything", decoy_hash()));
    }

    #[test]
    fn weak_passwords_are_named() {
        assert_eq!(
            check_new_password("pendek", "a@b.id"),
            Err(WeakPassword::TooShort)
        );
        assert_eq!(
            check_new_password("aaaaaaaaaaaaaaa", "a@b.id"),
            Err(WeakPassword::Guessable)
        );
        assert_eq!(
            check_new_password("siti.rahayu2026", "siti.rahayu@batukota.go.id"),
            Err(WeakPassword::Guessable)
        );
        assert_eq!(
            check_new_password(&"x1".repeat(65), "a@b.id"),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(
            check_new_password("kuda liar melompat pagar", "a@b.id"),
            Ok(())
        );
    }

    #[test]
    fn totp_matches_rfc_6238_and_works_once() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 8 digits; ours has 6, the
        // last six digits of the RFC's.
        let secret = b"12345678901234567890";
        assert_eq!(totp_code(secret, 59).as_deref(), Some("287082"));
        assert_eq!(totp_code(secret, 1_111_111_109).as_deref(), Some("081804"));
        assert_eq!(totp_code(secret, 2_000_000_000).as_deref(), Some("279037"));
        let now = 1_111_111_109;
        let step = check_totp(secret, "081804", now, 0).expect("accepted");
        assert_eq!(step, now / TOTP_STEP);
        assert_eq!(check_totp(secret, "081804", now, step), None, "replayed");
        assert_eq!(check_totp(secret, "081805", now, 0), None);
        assert_eq!(check_totp(secret, "08180", now, 0), None);
        // One step of drift either side is accepted; two are not.
        assert!(check_totp(secret, "081804", now + 30, 0).is_some());
        assert!(check_totp(secret, "081804", now + 61, 0).is_none());
    }

    #[test]
    fn totp_urls_carry_the_base32_secret() {
        let url = totp_url(b"12345678901234567890", "siti@batukota.go.id");
        assert_eq!(
            totp_secret_from_text("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").as_deref(),
            Some(&b"12345678901234567890"[..])
        );
        assert!(url.starts_with("otpauth://totp/MPP%20Digital:siti%40batukota.go.id?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(qr_svg_data_url(&url).is_some_and(|d| d.starts_with("data:image/svg+xml;base64,")));
    }
}
