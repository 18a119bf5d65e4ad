//! Slugs: the human-readable keys of public catalog records (`among-warga-kota-batu`).

use std::fmt;

/// A lowercase `[a-z0-9-]` identifier, 2..=80 characters, not starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Slug, &'static str> {
        let len = raw.chars().count();
        if !(2..=80).contains(&len) {
            return Err("slug must be 2 to 80 characters");
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("slug may contain only a-z, 0-9 and '-'");
        }
        if raw.starts_with('-') || raw.ends_with('-') || raw.contains("--") {
            return Err("slug may not start or end with '-' or contain '--'");
        }
        Ok(Slug(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A slug made from a name: `Kantor Imigrasi Kelas I Malang` → `kantor-imigrasi-kelas-i-malang`.
    /// None when the name has fewer than two letters or digits.
    pub fn from_name(name: &str) -> Option<Slug> {
        let mut out = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed: String = out.trim_end_matches('-').chars().take(80).collect();
        Slug::parse(trimmed.trim_end_matches('-')).ok()
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_names() {
        assert_eq!(
            Slug::from_name("Kantor Imigrasi Kelas I — Malang").map(|s| s.0),
            Some("kantor-imigrasi-kelas-i-malang".into())
        );
        assert_eq!(
            Slug::from_name("BPJS (Kesehatan)").map(|s| s.0),
            Some("bpjs-kesehatan".into())
        );
        assert_eq!(Slug::from_name("—"), None);
    }

    #[test]
    fn accepts_and_refuses() {
        assert!(Slug::parse("among-warga-kota-batu").is_ok());
        assert!(Slug::parse("ktp2").is_ok());
        for bad in ["", "a", "Among", "a b", "-ab", "ab-", "a--b", "ktp_el", "é"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
