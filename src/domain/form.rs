//! Application forms: the fields a service asks for, defined by its UPP admin, and the check of
//! a citizen's answers against them, with a message per field in Indonesian and English.
//!
//! A field has a key (unique in the form), labels in both languages, a kind, and when it is
//! required: always, never, or when an earlier choice field has a given value ("required if").
//! Document fields name the requirement of the Standar Pelayanan they carry, the types allowed
//! and a size limit; the file's type is judged by its content where it is uploaded, and here
//! only whether a required document is there.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::nik::{Nik, RegionRegistry};

/// Types a document may have (judged by content, not by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentType {
    Pdf,
    Jpeg,
    Png,
}

/// The largest document a form may accept.
pub const MAX_DOCUMENT_BYTES: u64 = 10 * 1024 * 1024;
const MAX_TEXT: u32 = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label_id: String,
    pub label_en: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    Text {
        max_length: u32,
    },
    Number {
        min: i64,
        max: i64,
    },
    Date,
    Choice {
        options: Vec<Choice>,
    },
    Nik,
    /// A region code (`PP.KK.CC`) of the registry.
    Address,
    Document {
        types: Vec<DocumentType>,
        max_bytes: u64,
        /// The index of the Standar Pelayanan requirement it carries, if any.
        requirement: Option<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum Required {
    Always,
    Never,
    /// When the choice field `field` (earlier in the form) has the value `equals`.
    If {
        field: String,
        equals: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    pub label_id: String,
    pub label_en: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    pub required: Required,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormDef {
    pub fields: Vec<Field>,
    /// The letter an officer can issue as the output (`domain::letter`), if the service's
    /// output is a standard letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter: Option<super::letter::LetterDef>,
}

/// A message about one field (of a definition, or of an answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub key: String,
    pub id: String,
    pub en: String,
}

fn problem(key: &str, id: impl Into<String>, en: impl Into<String>) -> FieldProblem {
    FieldProblem {
        key: key.to_owned(),
        id: id.into(),
        en: en.into(),
    }
}

/// What is wrong with a letter template, under the key `letter`: a title and a body within
/// their lengths, whose placeholders name the form's answer fields or the facts.
fn letter_problems(
    letter: &super::letter::LetterDef,
    fields: &BTreeMap<&str, &FieldKind>,
) -> Vec<FieldProblem> {
    use super::letter::{FACTS, MAX_BODY_CHARS, MAX_TITLE_CHARS, placeholders};
    let mut out = Vec::new();
    for key in fields.keys() {
        if FACTS.contains(key) {
            out.push(problem(
                key,
                format!("Kunci isian {key} sama dengan {{{key}}} yang diisi sistem pada surat; ganti kuncinya."),
                format!("The field key {key} is the same as {{{key}}}, which the system fills in the letter; rename the field."),
            ));
        }
    }
    let title = letter.title.trim().chars().count();
    let body = letter.body.trim().chars().count();
    if title == 0 || title > MAX_TITLE_CHARS || body == 0 || body > MAX_BODY_CHARS {
        out.push(problem(
            "letter",
            format!(
                "Surat perlu judul (paling panjang {MAX_TITLE_CHARS}) dan isi (paling panjang {MAX_BODY_CHARS} karakter)."
            ),
            format!(
                "A letter needs a title (at most {MAX_TITLE_CHARS}) and a body (at most {MAX_BODY_CHARS} characters)."
            ),
        ));
    }
    for text in [&letter.title, &letter.body] {
        match placeholders(text) {
            Err(why) => out.push(problem(
                "letter",
                format!("Kurung kurawal pada surat tidak sesuai: {why}."),
                format!("The letter's braces do not match: {why}."),
            )),
            Ok(names) => {
                for name in names {
                    let answer = matches!(fields.get(name), Some(k) if !matches!(k, FieldKind::Document { .. }));
                    if !answer && !FACTS.contains(&name) {
                        out.push(problem(
                            "letter",
                            format!(
                                "{{{name}}} pada surat bukan isian formulir (selain dokumen) atau salah satu dari {{kode}}, {{layanan}}, {{upp}}, {{mpp}}, {{tanggal}}."
                            ),
                            format!(
                                "{{{name}}} in the letter is neither a (non-document) field of the form nor one of {{kode}}, {{layanan}}, {{upp}}, {{mpp}}, {{tanggal}}."
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Names the application pages use for their own form fields (and the officer's output): a
/// field may not take them, or its answer would be read as the page's own.
pub const RESERVED_KEYS: &[&str] = &["csrf", "aksi", "field", "berkas", "key", "rows", "output"];

fn valid_key(key: &str) -> bool {
    !RESERVED_KEYS.contains(&key)
        && !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The most fields a form has (the web editor offers as many rows).
pub const MAX_FIELDS: usize = 60;

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 2000;

impl FormDef {
    /// The types and largest size a document field `key` accepts; none if `key` is not one.
    pub fn document_field(&self, key: &str) -> Option<(Vec<DocumentType>, u64)> {
        self.fields.iter().find_map(|f| match &f.kind {
            FieldKind::Document {
                types, max_bytes, ..
            } if f.key == key => Some((types.clone(), *max_bytes)),
            _ => None,
        })
    }

    /// What is wrong with the definition (empty when it can be used).
    pub fn problems(&self, requirements: usize) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        if self.fields.len() > MAX_FIELDS {
            out.push(problem(
                "",
                format!("Formulir paling banyak {MAX_FIELDS} isian."),
                format!("A form has at most {MAX_FIELDS} fields."),
            ));
        }
        let mut earlier: BTreeMap<&str, &FieldKind> = BTreeMap::new();
        for f in &self.fields {
            let key = f.key.as_str();
            if f.label_id.chars().count() > MAX_LABEL_CHARS
                || f.label_en.chars().count() > MAX_LABEL_CHARS
            {
                out.push(problem(
                    key,
                    format!("Label paling panjang {MAX_LABEL_CHARS} karakter."),
                    format!("A label is at most {MAX_LABEL_CHARS} characters."),
                ));
            }
            if !valid_key(key) {
                out.push(problem(
                    key,
                    "Kunci isian hanya huruf kecil, angka dan garis bawah, paling panjang 40, dan bukan csrf, aksi, field, berkas, key, rows atau output.",
                    "A field key is lowercase letters, digits and underscores, at most 40, and not csrf, aksi, field, berkas, key, rows or output.",
                ));
            }
            if earlier.contains_key(key) {
                out.push(problem(
                    key,
                    "Kunci isian dipakai dua kali.",
                    "The field key is used twice.",
                ));
            }
            if f.label_id.trim().is_empty() || f.label_en.trim().is_empty() {
                out.push(problem(
                    key,
                    "Isian perlu label dalam bahasa Indonesia dan Inggris.",
                    "A field needs a label in Indonesian and in English.",
                ));
            }
            match &f.kind {
                FieldKind::Text { max_length } if *max_length == 0 || *max_length > MAX_TEXT => out
                    .push(problem(
                        key,
                        format!("Panjang teks 1 sampai {MAX_TEXT}."),
                        format!("Text length is 1 to {MAX_TEXT}."),
                    )),
                FieldKind::Number { min, max } if min > max => out.push(problem(
                    key,
                    "Batas bawah angka melebihi batas atas.",
                    "The number's minimum is above its maximum.",
                )),
                FieldKind::Choice { options } => {
                    let values: BTreeSet<&str> = options.iter().map(|o| o.value.as_str()).collect();
                    if options.is_empty() || values.len() != options.len() {
                        out.push(problem(
                            key,
                            "Pilihan perlu sedikitnya satu nilai, tanpa nilai ganda.",
                            "A choice needs at least one value, none twice.",
                        ));
                    }
                }
                FieldKind::Document {
                    types,
                    max_bytes,
                    requirement,
                } => {
                    if types.is_empty() || *max_bytes == 0 || *max_bytes > MAX_DOCUMENT_BYTES {
                        out.push(problem(
                            key,
                            "Dokumen perlu jenis yang diterima dan batas ukuran 1 bita sampai 10 MB.",
                            "A document needs accepted types and a size limit of 1 byte to 10 MB.",
                        ));
                    }
                    if requirement.is_some_and(|r| r >= requirements) {
                        out.push(problem(
                            key,
                            "Persyaratan yang dirujuk tidak ada di Standar Pelayanan.",
                            "The requirement referred to is not in the Standar Pelayanan.",
                        ));
                    }
                }
                _ => {}
            }
            if let Required::If { field, equals } = &f.required {
                let ok = matches!(earlier.get(field.as_str()), Some(FieldKind::Choice { options }) if options.iter().any(|o| &o.value == equals));
                if !ok {
                    out.push(problem(
                        key,
                        "Syarat \"wajib jika\" harus merujuk nilai dari isian pilihan sebelumnya.",
                        "A \"required if\" must refer to a value of an earlier choice field.",
                    ));
                }
            }
            earlier.insert(key, &f.kind);
        }
        if let Some(letter) = &self.letter {
            out.extend(letter_problems(letter, &earlier));
        }
        out
    }

    /// Whether `field` must be answered, given the answers so far.
    pub fn is_required(&self, field: &Field, answers: &BTreeMap<String, String>) -> bool {
        match &field.required {
            Required::Always => true,
            Required::Never => false,
            Required::If { field, equals } => answers.get(field).is_some_and(|v| v == equals),
        }
    }

    /// The problems of a citizen's answers (text fields by key) and uploaded documents (keys of
    /// document fields that have one). Empty when the application can be submitted.
    pub fn check(
        &self,
        answers: &BTreeMap<String, String>,
        documents: &BTreeSet<String>,
        today: NaiveDate,
        regions: &dyn RegionRegistry,
    ) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        for f in &self.fields {
            let key = f.key.as_str();
            if let FieldKind::Document { .. } = f.kind {
                if self.is_required(f, answers) && !documents.contains(key) {
                    out.push(problem(key, "Unggah dokumen ini.", "Upload this document."));
                }
                continue;
            }
            let value = answers.get(key).map(|v| v.trim()).unwrap_or("");
            if value.is_empty() {
                if self.is_required(f, answers) {
                    out.push(problem(
                        key,
                        "Isian ini wajib diisi.",
                        "This field is required.",
                    ));
                }
                continue;
            }
            match &f.kind {
                FieldKind::Text { max_length } => {
                    if value.chars().count() > *max_length as usize {
                        out.push(problem(
                            key,
                            format!("Paling banyak {max_length} karakter."),
                            format!("At most {max_length} characters."),
                        ));
                    }
                }
                FieldKind::Number { min, max } => match value.parse::<i64>() {
                    Ok(n) if (*min..=*max).contains(&n) => {}
                    _ => out.push(problem(
                        key,
                        format!("Isi bilangan bulat {min} sampai {max}."),
                        format!("Enter a whole number from {min} to {max}."),
                    )),
                },
                FieldKind::Date => {
                    if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
                        out.push(problem(
                            key,
                            "Isi tanggal dengan bentuk TTTT-BB-HH.",
                            "Enter a date as YYYY-MM-DD.",
                        ));
                    }
                }
                FieldKind::Choice { options } => {
                    if !options.iter().any(|o| o.value == value) {
                        out.push(problem(
                            key,
                            "Pilih salah satu pilihan.",
                            "Choose one of the options.",
                        ));
                    }
                }
                FieldKind::Nik => {
                    if let Err(e) = Nik::parse(value, today, regions) {
                        out.push(problem(key, e.message_id(), e.message_en()));
                    }
                }
                FieldKind::Address => {
                    let district = value.split('.').count() == 3;
                    if !district || !regions.has_region(value) {
                        out.push(problem(
                            key,
                            "Pilih kecamatan yang terdaftar.",
                            "Choose a registered district (kecamatan).",
                        ));
                    }
                }
                FieldKind::Document { .. } => {}
            }
        }
        for key in answers.keys() {
            if !self.fields.iter().any(|f| &f.key == key) {
                out.push(problem(
                    key,
                    "Isian ini tidak ada di formulir.",
                    "This field is not in the form.",
                ));
            }
        }
        out
    }
}

/// One form for several (a life-event bundle): every field of every form once, in order of
/// first appearance; a key in several forms is asked once. Such a key must be the same kind in
/// each; it is required if any form requires it always; a document accepts only the types all
/// accept, up to the smallest limit. `Err` names the keys that cannot be shared.
pub fn merge(forms: &[&FormDef]) -> Result<FormDef, Vec<String>> {
    let mut out: Vec<Field> = Vec::new();
    let mut conflicts = Vec::new();
    for form in forms {
        for f in &form.fields {
            let Some(seen) = out.iter_mut().find(|o| o.key == f.key) else {
                out.push(f.clone());
                continue;
            };
            match (&mut seen.kind, &f.kind) {
                (
                    FieldKind::Document {
                        types, max_bytes, ..
                    },
                    FieldKind::Document {
                        types: other,
                        max_bytes: other_max,
                        ..
                    },
                ) => {
                    types.retain(|t| other.contains(t));
                    *max_bytes = (*max_bytes).min(*other_max);
                    if types.is_empty() {
                        conflicts.push(f.key.clone());
                    }
                }
                (mine, theirs)
                    if std::mem::discriminant(mine) == std::mem::discriminant(theirs) =>
                {
                    if let (FieldKind::Choice { options: a }, FieldKind::Choice { options: b }) =
                        (&*mine, theirs)
                        && a != b
                    {
                        conflicts.push(f.key.clone());
                    }
                }
                _ => conflicts.push(f.key.clone()),
            }
            if f.required == Required::Always {
                seen.required = Required::Always;
            }
        }
    }
    if conflicts.is_empty() {
        Ok(FormDef {
            fields: out,
            letter: None,
        })
    } else {
        conflicts.dedup();
        Err(conflicts)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_letter_names_answers_and_facts_only() {
        let mut form = FormDef {
            fields: vec![Field {
                key: "nama".into(),
                label_id: "Nama".into(),
                label_en: "Name".into(),
                kind: FieldKind::Text { max_length: 100 },
                required: Required::Always,
            }],
            letter: Some(crate::domain::letter::LetterDef {
                title: "SURAT".into(),
                body: "Nama {nama}, nomor {kode}.".into(),
            }),
        };
        assert!(form.problems(0).is_empty(), "{:?}", form.problems(0));
        form.fields[0].key = "tanggal".into();
        let problems = form.problems(0);
        assert!(
            problems.iter().any(|p| p.key == "tanggal"),
            "a field may not shadow a fact"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.key == "letter" && p.en.contains("{nama}"))
        );
    }

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn regions(code: &str) -> bool {
        matches!(code, "35" | "35.79" | "35.79.01")
    }

    fn field(key: &str, kind: FieldKind, required: Required) -> Field {
        Field {
            key: key.into(),
            label_id: format!("Label {key}"),
            label_en: format!("Label {key}"),
            kind,
            required,
        }
    }

    fn birth_form() -> FormDef {
        FormDef {
            letter: None,
            fields: vec![
                field(
                    "nama_anak",
                    FieldKind::Text { max_length: 80 },
                    Required::Always,
                ),
                field(
                    "tempat",
                    FieldKind::Choice {
                        options: vec![
                            Choice {
                                value: "rs".into(),
                                label_id: "Rumah sakit".into(),
                                label_en: "Hospital".into(),
                            },
                            Choice {
                                value: "rumah".into(),
                                label_id: "Rumah".into(),
                                label_en: "Home".into(),
                            },
                        ],
                    },
                    Required::Always,
                ),
                field(
                    "surat_rs",
                    FieldKind::Document {
                        types: vec![DocumentType::Pdf],
                        max_bytes: 2_000_000,
                        requirement: Some(0),
                    },
                    Required::If {
                        field: "tempat".into(),
                        equals: "rs".into(),
                    },
                ),
                field("nik_ibu", FieldKind::Nik, Required::Always),
                field("alamat", FieldKind::Address, Required::Always),
                field(
                    "anak_ke",
                    FieldKind::Number { min: 1, max: 20 },
                    Required::Never,
                ),
                field("tanggal_lahir", FieldKind::Date, Required::Always),
            ],
        }
    }

    fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn a_good_definition_has_no_problems_and_bad_ones_say_why() {
        assert!(birth_form().problems(1).is_empty());
        assert_eq!(
            birth_form().problems(0).len(),
            1,
            "requirement 0 does not exist"
        );
        let mut bad = birth_form();
        bad.fields[0].key = "Nama Anak".into();
        bad.fields[3].key = "tempat".into();
        bad.fields[2].required = Required::If {
            field: "nama_anak".into(),
            equals: "x".into(),
        };
        let keys: Vec<String> = bad.problems(1).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, vec!["Nama Anak", "surat_rs", "tempat"]);
        // A definition survives its JSON form (the catalog import/export carries it).
        let json = serde_json::to_string(&birth_form()).expect("json");
        assert_eq!(
            serde_json::from_str::<FormDef>(&json).expect("back"),
            birth_form()
        );
    }

    #[test]
    fn answers_are_checked_field_by_field() {
        let form = birth_form();
        let today = d(2026, 12, 1);
        let good = answers(&[
            ("nama_anak", "Ayu"),
            ("tempat", "rs"),
            ("nik_ibu", "3579014101900001"),
            ("alamat", "35.79.01"),
            ("tanggal_lahir", "2026-11-20"),
        ]);
        let docs: BTreeSet<String> = ["surat_rs".to_owned()].into();
        assert!(form.check(&good, &docs, today, &regions).is_empty());
        // The hospital letter is required only when born in a hospital.
        let problems = form.check(&good, &BTreeSet::new(), today, &regions);
        assert_eq!(
            problems.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            vec!["surat_rs"]
        );
        let mut home = good.clone();
        home.insert("tempat".into(), "rumah".into());
        assert!(
            form.check(&home, &BTreeSet::new(), today, &regions)
                .is_empty()
        );

        let bad = answers(&[
            ("nama_anak", ""),
            ("tempat", "pasar"),
            ("nik_ibu", "3579014101900000"),
            ("alamat", "35.79"),
            ("anak_ke", "0"),
            ("tanggal_lahir", "20-11-2026"),
            ("lain", "x"),
        ]);
        let problems = form.check(&bad, &BTreeSet::new(), today, &regions);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "nama_anak",
                "tempat",
                "nik_ibu",
                "alamat",
                "anak_ke",
                "tanggal_lahir",
                "lain"
            ]
        );
        assert!(
            problems
                .iter()
                .all(|p| !p.id.is_empty() && !p.en.is_empty())
        );
        assert!(problems[2].en.contains("serial"), "{:?}", problems[2]);
    }

    #[test]
    fn forms_merge_with_shared_keys_asked_once() {
        let doc = |key: &str, types: Vec<DocumentType>, max: u64, required: Required| Field {
            key: key.into(),
            label_id: key.into(),
            label_en: key.into(),
            kind: FieldKind::Document {
                types,
                max_bytes: max,
                requirement: None,
            },
            required,
        };
        let text = |key: &str, required: Required| Field {
            key: key.into(),
            label_id: key.into(),
            label_en: key.into(),
            kind: FieldKind::Text { max_length: 50 },
            required,
        };
        let birth = FormDef {
            letter: None,
            fields: vec![
                text("nama_anak", Required::Always),
                doc(
                    "kk",
                    vec![DocumentType::Pdf, DocumentType::Png],
                    5_000_000,
                    Required::Never,
                ),
            ],
        };
        let insurance = FormDef {
            letter: None,
            fields: vec![
                text("nama_anak", Required::Never),
                text("kelas", Required::Always),
                doc("kk", vec![DocumentType::Pdf], 2_000_000, Required::Always),
            ],
        };
        let merged = merge(&[&birth, &insurance]).expect("merge");
        let keys: Vec<&str> = merged.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, vec!["nama_anak", "kk", "kelas"]);
        assert_eq!(merged.fields[1].required, Required::Always);
        assert_eq!(
            merged.fields[1].kind,
            FieldKind::Document {
                types: vec![DocumentType::Pdf],
                max_bytes: 2_000_000,
                requirement: None
            }
        );
        let clash = FormDef {
            letter: None,
            fields: vec![Field {
                kind: FieldKind::Date,
                ..text("nama_anak", Required::Always)
            }],
        };
        assert_eq!(merge(&[&birth, &clash]), Err(vec!["nama_anak".to_owned()]));
    }

    #[test]
    fn the_pages_own_field_names_are_not_keys() {
        for key in RESERVED_KEYS {
            let form = FormDef {
                letter: None,
                fields: vec![Field {
                    key: (*key).into(),
                    label_id: "x".into(),
                    label_en: "x".into(),
                    kind: FieldKind::Date,
                    required: Required::Never,
                }],
            };
            assert_eq!(form.problems(0).len(), 1, "{key}");
        }
    }
}
