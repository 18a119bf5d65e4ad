//! Kemendagri region codes: `35` (provinsi), `35.79` (kabupaten/kota), `35.79.01` (kecamatan).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionLevel {
    Province,
    Regency,
    District,
}

/// A syntactically valid Kemendagri code. Whether the region exists is a question for the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses `PP`, `PP.KK` or `PP.KK.CC` (two digits each part, none `00`).
    pub fn parse(raw: &str) -> Result<RegionCode, RegionCodeError> {
        let parts: Vec<&str> = raw.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(RegionCodeError);
        }
        for part in &parts {
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_digit()) || *part == "00" {
                return Err(RegionCodeError);
            }
        }
        Ok(RegionCode(raw.to_owned()))
    }

    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            2 => RegionLevel::Province,
            5 => RegionLevel::Regency,
            _ => RegionLevel::District,
        }
    }

    /// The province part (`35` of `35.79`).
    pub fn province(&self) -> &str {
        &self.0[..2]
    }

    /// The parent code (`35.79` → `35`), none for a province.
    pub fn parent(&self) -> Option<&str> {
        self.0.rfind('.').map(|i| &self.0[..i])
    }

    /// True when `self` is `other` or lies inside it (`35.79` is within `35`).
    pub fn is_within(&self, other: &RegionCode) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'.'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("region code must look like 35, 35.79 or 35.79.01")]
pub struct RegionCodeError;

/// Kabupaten or kota. Kabupaten have regency numbers 01–69, kota 71–99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegencyKind {
    Kabupaten,
    Kota,
}

impl RegencyKind {
    pub fn parse(raw: &str) -> Option<RegencyKind> {
        match raw {
            "kabupaten" => Some(RegencyKind::Kabupaten),
            "kota" => Some(RegencyKind::Kota),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RegencyKind::Kabupaten => "kabupaten",
            RegencyKind::Kota => "kota",
        }
    }

    /// The kind a regency number implies (`79` → kota).
    pub fn from_number(code: &RegionCode) -> Option<RegencyKind> {
        let number: u8 = code.as_str().get(3..5)?.parse().ok()?;
        match number {
            1..=69 => Some(RegencyKind::Kabupaten),
            71..=99 => Some(RegencyKind::Kota),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels() {
        let p = RegionCode::parse("35").expect("province");
        let r = RegionCode::parse("35.79").expect("regency");
        let d = RegionCode::parse("35.79.01").expect("district");
        assert_eq!(p.level(), RegionLevel::Province);
        assert_eq!(r.level(), RegionLevel::Regency);
        assert_eq!(d.level(), RegionLevel::District);
        assert_eq!(r.parent(), Some("35"));
        assert_eq!(d.parent(), Some("35.79"));
        assert!(r.is_within(&p));
        assert!(d.is_within(&p));
        assert!(!p.is_within(&r));
        let other = RegionCode::parse("36.79").expect("code");
        assert!(!other.is_within(&p));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "3",
            "357",
            "35.",
            "35.7",
            "35.79.1",
            "35.79.01.02",
            "ab",
            "00",
            "35.00",
            "35-79",
        ] {
            assert!(RegionCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kind_from_number() {
        let batu = RegionCode::parse("35.79").expect("code");
        let malang = RegionCode::parse("35.07").expect("code");
        assert_eq!(RegencyKind::from_number(&batu), Some(RegencyKind::Kota));
        assert_eq!(
            RegencyKind::from_number(&malang),
            Some(RegencyKind::Kabupaten)
        );
    }
}
