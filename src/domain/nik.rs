//! NIK (Nomor Induk Kependudukan), the 16-digit national identity number: `PPKKCC DDMMYY SSSS`.
//!
//! The rules (`shared/RULES.md`):
//! - `PP` and `PPKK` are Kemendagri codes (not BPS codes; Papua provinces are 91–96) of a province
//!   and kabupaten/kota that exist. `CC` (kecamatan) is not checked: kecamatan are split and
//!   renumbered, and a NIK keeps the code of the place where the person was first registered.
//! - `DD` is the day of birth, plus 40 for women (41–71); `MM` is 01–12.
//! - `YY` is read in the most recent century (2000s, else 1900s) that gives a real date not in
//!   the future; 29 February must exist in that year (`290200` is 29 Feb 2000).
//! - `SSSS` is 0001–9999.
//!
//! Every refusal says which part is wrong, in Indonesian and English.

use std::fmt;

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

/// A valid NIK. Only [`Nik::parse`] makes one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nik {
    digits: String,
    birth_date: NaiveDate,
    sex: Sex,
}

/// What is wrong with a NIK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NikError {
    /// Not 16 digits long (after removing spaces).
    Length {
        found: usize,
    },
    /// Holds something other than digits and spaces.
    NotDigits,
    UnknownProvince {
        code: String,
    },
    UnknownRegency {
        code: String,
    },
    /// Day part is not 01–31 (men) or 41–71 (women).
    Day {
        value: u32,
    },
    Month {
        value: u32,
    },
    /// The day, month and year make no real date in the past (31 April, 29 Feb 2001, ...).
    ImpossibleDate,
    SerialZero,
}

impl NikError {
    /// The message in Indonesian.
    pub fn message_id(&self) -> String {
        match self {
            NikError::Length { found } => format!("NIK harus 16 angka; yang diisi {found} angka."),
            NikError::NotDigits => "NIK hanya boleh berisi angka.".into(),
            NikError::UnknownProvince { code } => {
                format!("Kode provinsi {code} (angka 1–2 NIK) tidak ada dalam kode wilayah Kemendagri.")
            }
            NikError::UnknownRegency { code } => {
                format!("Kode kabupaten/kota {code} (angka 1–4 NIK) tidak ada dalam kode wilayah Kemendagri.")
            }
            NikError::Day { value } => format!(
                "Tanggal lahir (angka 7–8 NIK) {value:02} tidak mungkin: 01–31 untuk laki-laki, 41–71 untuk perempuan."
            ),
            NikError::Month { value } => {
                format!("Bulan lahir (angka 9–10 NIK) {value:02} tidak mungkin: harus 01–12.")
            }
            NikError::ImpossibleDate => {
                "Tanggal lahir dalam NIK (angka 7–12) bukan tanggal yang ada atau masih di masa depan.".into()
            }
            NikError::SerialZero => "Nomor urut NIK (angka 13–16) tidak boleh 0000.".into(),
        }
    }

    /// The message in English.
    pub fn message_en(&self) -> String {
        match self {
            NikError::Length { found } => format!("A NIK has 16 digits; {found} were given."),
            NikError::NotDigits => "A NIK may contain digits only.".into(),
            NikError::UnknownProvince { code } => {
                format!("Province code {code} (NIK digits 1–2) is not a Kemendagri region code.")
            }
            NikError::UnknownRegency { code } => {
                format!(
                    "Kabupaten/kota code {code} (NIK digits 1–4) is not a Kemendagri region code."
                )
            }
            NikError::Day { value } => format!(
                "Day of birth (NIK digits 7–8) {value:02} is impossible: 01–31 for men, 41–71 for women."
            ),
            NikError::Month { value } => {
                format!(
                    "Month of birth (NIK digits 9–10) {value:02} is impossible: it must be 01–12."
                )
            }
            NikError::ImpossibleDate => {
                "The birth date in the NIK (digits 7–12) is not a real date, or lies in the future."
                    .into()
            }
            NikError::SerialZero => "The NIK serial number (digits 13–16) may not be 0000.".into(),
        }
    }

    /// A stable code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            NikError::Length { .. } => "nik_length",
            NikError::NotDigits => "nik_not_digits",
            NikError::UnknownProvince { .. } => "nik_unknown_province",
            NikError::UnknownRegency { .. } => "nik_unknown_regency",
            NikError::Day { .. } => "nik_day",
            NikError::Month { .. } => "nik_month",
            NikError::ImpossibleDate => "nik_date",
            NikError::SerialZero => "nik_serial",
        }
    }
}

impl fmt::Display for NikError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_en())
    }
}

impl std::error::Error for NikError {}

/// Where the NIK check asks whether a region code exists (`35`, `35.79`).
pub trait RegionRegistry {
    fn has_region(&self, code: &str) -> bool;
}

impl<F: Fn(&str) -> bool> RegionRegistry for F {
    fn has_region(&self, code: &str) -> bool {
        self(code)
    }
}

fn two(digits: &[u8], at: usize) -> u32 {
    u32::from(digits[at] - b'0') * 10 + u32::from(digits[at + 1] - b'0')
}

impl Nik {
    /// Checks a NIK as typed (spaces allowed between digit groups) against the rules and the
    /// region registry, with `today` the date in Indonesia.
    pub fn parse(
        raw: &str,
        today: NaiveDate,
        regions: &dyn RegionRegistry,
    ) -> Result<Nik, NikError> {
        if raw
            .chars()
            .any(|c| !c.is_ascii_digit() && !c.is_whitespace())
        {
            return Err(NikError::NotDigits);
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 16 {
            return Err(NikError::Length {
                found: digits.len(),
            });
        }
        let d = digits.as_bytes();
        let province = &digits[0..2];
        if !regions.has_region(province) {
            return Err(NikError::UnknownProvince {
                code: province.to_owned(),
            });
        }
        let regency = format!("{}.{}", &digits[0..2], &digits[2..4]);
        if !regions.has_region(&regency) {
            return Err(NikError::UnknownRegency { code: regency });
        }
        let day_part = two(d, 6);
        let (day, sex) = match day_part {
            1..=31 => (day_part, Sex::Male),
            41..=71 => (day_part - 40, Sex::Female),
            _ => return Err(NikError::Day { value: day_part }),
        };
        let month = two(d, 8);
        if !(1..=12).contains(&month) {
            return Err(NikError::Month { value: month });
        }
        let yy = two(d, 10) as i32;
        let birth_date = [2000 + yy, 1900 + yy]
            .into_iter()
            .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
            .find(|date| *date <= today)
            .ok_or(NikError::ImpossibleDate)?;
        if &digits[12..16] == "0000" {
            return Err(NikError::SerialZero);
        }
        Ok(Nik {
            digits,
            birth_date,
            sex,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.digits
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    pub fn sex(&self) -> Sex {
        self.sex
    }

    /// The kabupaten/kota of first registration (`35.79`).
    pub fn regency_code(&self) -> String {
        format!("{}.{}", &self.digits[0..2], &self.digits[2..4])
    }

    /// For screens that do not need it whole: `3579**********01`.
    pub fn masked(&self) -> String {
        format!(
            "{}{}{}",
            &self.digits[..4],
            "*".repeat(10),
            &self.digits[14..]
        )
    }

    /// Builds the digits of a NIK from its parts (for tests and demo data).
    pub fn compose(
        regency: &str,
        district: u32,
        birth: NaiveDate,
        sex: Sex,
        serial: u32,
    ) -> String {
        let day = birth.day() + if sex == Sex::Female { 40 } else { 0 };
        format!(
            "{}{:02}{:02}{:02}{:02}{:04}",
            regency.replace('.', ""),
            district,
            day,
            birth.month(),
            birth.year() % 100,
            serial
        )
    }
}

/// Never printed whole by accident: `{:?}` shows the masked form.
impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nik({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("date")
    }

    fn registry(code: &str) -> bool {
        ["35", "35.79", "91", "91.03", "96", "96.71", "11", "11.01"].contains(&code)
    }

    fn parse(raw: &str) -> Result<Nik, NikError> {
        Nik::parse(raw, today(), &registry)
    }

    #[test]
    fn reads_a_valid_nik() {
        let nik = parse("3579010101900001").expect("valid");
        assert_eq!(
            nik.birth_date(),
            NaiveDate::from_ymd_opt(1990, 1, 1).expect("date")
        );
        assert_eq!(nik.sex(), Sex::Male);
        assert_eq!(nik.regency_code(), "35.79");
        assert_eq!(nik.masked(), "3579**********01");
        assert_eq!(format!("{nik:?}"), "Nik(3579**********01)");
        let woman = parse("3579 0145 1285 0002").expect("spaces allowed");
        assert_eq!(woman.sex(), Sex::Female);
        assert_eq!(
            woman.birth_date(),
            NaiveDate::from_ymd_opt(1985, 12, 5).expect("date")
        );
    }

    #[test]
    fn papua_uses_kemendagri_codes() {
        assert!(
            parse("9603011505000001").is_err(),
            "96.03 is not in this registry"
        );
        assert!(
            parse("9671011505000001").is_ok(),
            "96.71 Kota Sorong (Papua Barat Daya)"
        );
        assert!(
            parse("9103011505000001").is_ok(),
            "91.03 Kabupaten Jayapura"
        );
    }

    #[test]
    fn centuries() {
        // 29 Feb 2000 exists.
        assert_eq!(
            parse("3579012902000001").map(|n| n.birth_date().year()),
            Ok(2000)
        );
        // 29 Feb of '01 exists in neither 2001 nor 1901.
        assert_eq!(parse("3579012902010001"), Err(NikError::ImpossibleDate));
        // '26: 2026 when already past, else 1926.
        assert_eq!(
            parse("3579011001260001").map(|n| n.birth_date().year()),
            Ok(2026)
        );
        assert_eq!(
            parse("3579011012260001").map(|n| n.birth_date().year()),
            Ok(1926)
        );
        // '90 would be 2090, in the future: 1990.
        assert_eq!(
            parse("3579010101900001").map(|n| n.birth_date().year()),
            Ok(1990)
        );
    }

    #[test]
    fn each_part_has_its_own_error() {
        assert_eq!(
            parse("357901010190001"),
            Err(NikError::Length { found: 15 })
        );
        assert_eq!(
            parse("35790101019000011"),
            Err(NikError::Length { found: 17 })
        );
        assert_eq!(parse("3579-0101-0190-0001"), Err(NikError::NotDigits));
        assert_eq!(
            parse("3679010101900001"),
            Err(NikError::UnknownProvince { code: "36".into() })
        );
        assert_eq!(
            parse("3578010101900001"),
            Err(NikError::UnknownRegency {
                code: "35.78".into()
            })
        );
        assert_eq!(parse("3579013201900001"), Err(NikError::Day { value: 32 }));
        assert_eq!(parse("3579014001900001"), Err(NikError::Day { value: 40 }));
        assert_eq!(parse("3579017201900001"), Err(NikError::Day { value: 72 }));
        assert_eq!(
            parse("3579010113900001"),
            Err(NikError::Month { value: 13 })
        );
        assert_eq!(
            parse("3579013104900001"),
            Err(NikError::ImpossibleDate),
            "31 April"
        );
        assert_eq!(parse("3579010101900000"), Err(NikError::SerialZero));
        for e in [
            NikError::SerialZero,
            NikError::Length { found: 3 },
            NikError::ImpossibleDate,
        ] {
            assert!(
                !e.message_id().is_empty() && !e.message_en().is_empty() && !e.code().is_empty()
            );
        }
    }

    proptest! {
        /// Any real past birth date, either sex, any serial: composing and parsing agree.
        #[test]
        fn composed_niks_parse_back(
            days_back in 0i64..(100 * 365),
            female in any::<bool>(),
            serial in 1u32..=9999,
            district in 1u32..=99,
        ) {
            let birth = today() - chrono::Duration::days(days_back);
            let sex = if female { Sex::Female } else { Sex::Male };
            let raw = Nik::compose("35.79", district, birth, sex, serial);
            let nik = parse(&raw).expect("valid");
            prop_assert_eq!(nik.birth_date(), birth);
            prop_assert_eq!(nik.sex(), sex);
            prop_assert_eq!(nik.as_str(), raw.as_str());
        }

        /// Whatever is typed, parsing never panics, and a success is always 16 digits.
        #[test]
        fn never_panics(raw in "[0-9 a-z-]{0,20}") {
            if let Ok(nik) = parse(&raw) {
                prop_assert_eq!(nik.as_str().len(), 16);
            }
        }
    }
}
