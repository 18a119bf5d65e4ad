//! The national registry of regions, read from the CSV files of `shared/data/regions/`:
//! `provinces.csv` (`code,name`), `regencies.csv` (`code,province_code,name,kind`) and
//! `districts.csv` (`code,regency_code,name`). Parsing is pure: bytes in, records or every problem
//! (with its line number) out.

use std::collections::HashSet;
use std::fmt;

use super::region::{RegencyKind, RegionCode, RegionLevel};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regency {
    pub code: String,
    pub province_code: String,
    pub name: String,
    pub kind: RegencyKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub code: String,
    pub regency_code: String,
    pub name: String,
}

/// Which of the three files a CSV is, told by its header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionFileKind {
    Provinces,
    Regencies,
    Districts,
}

impl RegionFileKind {
    fn from_header(header: &[&str]) -> Option<RegionFileKind> {
        match header {
            ["code", "name"] => Some(RegionFileKind::Provinces),
            ["code", "province_code", "name", "kind"] => Some(RegionFileKind::Regencies),
            ["code", "regency_code", "name"] => Some(RegionFileKind::Districts),
            _ => None,
        }
    }
}

/// A problem at a line of a named file (line 1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Everything read from one import (one or several files).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegionSet {
    pub provinces: Vec<Province>,
    pub regencies: Vec<Regency>,
    pub districts: Vec<District>,
}

impl RegionSet {
    /// Parses one CSV file and adds its records; problems are collected, not returned early.
    pub fn add_file(&mut self, file: &str, bytes: &[u8], problems: &mut Vec<LineProblem>) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut kind = None;
        for (index, record) in reader.records().enumerate() {
            // The line in the file, which differs from the record number after quoted newlines.
            let position = match &record {
                Ok(r) => r.position().cloned(),
                Err(e) => e.position().cloned(),
            };
            let line = position.map_or(index as u64 + 1, |p| p.line());
            let mut problem = |message: String| {
                problems.push(LineProblem {
                    file: file.to_owned(),
                    line,
                    message,
                });
            };
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problem(format!("unreadable CSV: {e}"));
                    continue;
                }
            };
            let fields: Vec<&str> = record.iter().collect();
            if index == 0 {
                kind = RegionFileKind::from_header(&fields);
                if kind.is_none() {
                    problem(
                        "unknown header: expected `code,name`, `code,province_code,name,kind` or `code,regency_code,name`"
                            .into(),
                    );
                    return;
                }
                continue;
            }
            let Some(kind) = kind else { return };
            let expected = match kind {
                RegionFileKind::Provinces => 2,
                RegionFileKind::Regencies => 4,
                RegionFileKind::Districts => 3,
            };
            if fields.len() != expected {
                problem(format!(
                    "expected {expected} columns, found {}",
                    fields.len()
                ));
                continue;
            }
            let name = fields[match kind {
                RegionFileKind::Regencies | RegionFileKind::Districts => 2,
                RegionFileKind::Provinces => 1,
            }];
            if name.trim().is_empty() || name.trim() != name {
                problem("name is empty or has surrounding spaces".into());
                continue;
            }
            if name.chars().count() > 200 || name.chars().any(char::is_control) {
                problem("name is longer than 200 characters or holds control characters".into());
                continue;
            }
            let level = match kind {
                RegionFileKind::Provinces => RegionLevel::Province,
                RegionFileKind::Regencies => RegionLevel::Regency,
                RegionFileKind::Districts => RegionLevel::District,
            };
            let code = match RegionCode::parse(fields[0]) {
                Ok(code) if code.level() == level => code,
                _ => {
                    problem(format!(
                        "code {:?} is not a valid {} code",
                        fields[0],
                        level_name(level)
                    ));
                    continue;
                }
            };
            match kind {
                RegionFileKind::Provinces => self.provinces.push(Province {
                    code: code.to_string(),
                    name: name.to_owned(),
                }),
                RegionFileKind::Regencies => {
                    if code.parent() != Some(fields[1]) {
                        problem(format!(
                            "province_code {:?} does not match code {}",
                            fields[1], code
                        ));
                        continue;
                    }
                    let Some(kind) = RegencyKind::parse(fields[3]) else {
                        problem(format!("kind {:?} must be kabupaten or kota", fields[3]));
                        continue;
                    };
                    if RegencyKind::from_number(&code) != Some(kind) {
                        problem(format!(
                            "kind {} does not match the regency number of {} (kabupaten 01–69, kota 71–99)",
                            kind.as_str(),
                            code
                        ));
                        continue;
                    }
                    self.regencies.push(Regency {
                        code: code.to_string(),
                        province_code: fields[1].to_owned(),
                        name: name.to_owned(),
                        kind,
                    })
                }
                RegionFileKind::Districts => {
                    if code.parent() != Some(fields[1]) {
                        problem(format!(
                            "regency_code {:?} does not match code {}",
                            fields[1], code
                        ));
                        continue;
                    }
                    self.districts.push(District {
                        code: code.to_string(),
                        regency_code: fields[1].to_owned(),
                        name: name.to_owned(),
                    })
                }
            }
        }
        if kind.is_none() && problems.iter().all(|p| p.file != file) {
            problems.push(LineProblem {
                file: file.to_owned(),
                line: 1,
                message: "the file is empty".into(),
            });
        }
    }

    /// Checks duplicates and that each parent exists in this set or among `known` codes.
    pub fn check_references(&self, known: &dyn Fn(&str) -> bool) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let codes: Vec<&str> = self
            .provinces
            .iter()
            .map(|p| p.code.as_str())
            .chain(self.regencies.iter().map(|r| r.code.as_str()))
            .chain(self.districts.iter().map(|d| d.code.as_str()))
            .collect();
        for code in &codes {
            if !seen.insert(*code) {
                problems.push(format!("code {code} appears more than once"));
            }
        }
        let exists = |code: &str| seen.contains(code) || known(code);
        for r in &self.regencies {
            if !exists(&r.province_code) {
                problems.push(format!(
                    "regency {}: province {} is unknown",
                    r.code, r.province_code
                ));
            }
        }
        for d in &self.districts {
            if !exists(&d.regency_code) {
                problems.push(format!(
                    "district {}: regency {} is unknown",
                    d.code, d.regency_code
                ));
            }
        }
        problems
    }
}

fn level_name(level: RegionLevel) -> &'static str {
    match level {
        RegionLevel::Province => "province (35)",
        RegionLevel::Regency => "kabupaten/kota (35.79)",
        RegionLevel::District => "kecamatan (35.79.01)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_files() {
        let mut set = RegionSet::default();
        let mut problems = Vec::new();
        set.add_file("p.csv", b"code,name\n35,Jawa Timur\n", &mut problems);
        set.add_file(
            "r.csv",
            b"code,province_code,name,kind\n35.79,35,Kota Batu,kota\n",
            &mut problems,
        );
        set.add_file(
            "d.csv",
            b"code,regency_code,name\n35.79.01,35.79,Batu\n",
            &mut problems,
        );
        assert_eq!(problems, vec![]);
        assert_eq!(
            set.provinces.len() + set.regencies.len() + set.districts.len(),
            3
        );
        assert!(set.check_references(&|_| false).is_empty());
    }

    #[test]
    fn reports_every_bad_line() {
        let mut set = RegionSet::default();
        let mut problems = Vec::new();
        let file = "code,province_code,name,kind\n35.79,35,Kota Batu,kota\n35.7,35,X,kota\n35.07,35,Kabupaten Malang,kota\n35.08,36,Y,kabupaten\n35.09,35,,kabupaten\n35.10,35\n";
        set.add_file("r.csv", file.as_bytes(), &mut problems);
        let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        let unknown = set.check_references(&|_| false);
        assert_eq!(
            unknown,
            vec!["regency 35.79: province 35 is unknown".to_owned()]
        );
    }

    #[test]
    fn line_numbers_count_lines_not_records() {
        let mut problems = Vec::new();
        let file = "code,name\n35,\"Jawa\nTimur\"\nXX,Rusak\n36,Ok\u{0}\n";
        RegionSet::default().add_file("p.csv", file.as_bytes(), &mut problems);
        let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 4, 5], "{problems:?}");
    }

    #[test]
    fn refuses_unknown_header_and_empty_file() {
        let mut problems = Vec::new();
        RegionSet::default().add_file("x.csv", b"kode,nama\n35,Jawa Timur\n", &mut problems);
        RegionSet::default().add_file("y.csv", b"", &mut problems);
        assert_eq!(problems.len(), 2);
    }
}
