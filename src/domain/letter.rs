//! Letters from a template: the output of a service that is a standard letter (a *surat
//! keterangan*) is written once by the UPP admin, with `{placeholders}` for the applicant's
//! answers and a few facts of the application, and filled for each approved application.
//!
//! `{key}` is the answer to the form's field `key` (a choice shows its Indonesian label);
//! `{kode}`, `{layanan}`, `{upp}`, `{mpp}` and `{tanggal}` (the day it is issued) are the facts.
//! `{{` and `}}` write a brace.

use serde::{Deserialize, Serialize};

/// The facts every letter may name, besides the answers.
pub const FACTS: &[&str] = &["kode", "layanan", "upp", "mpp", "tanggal"];

/// The longest title and body, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 10_000;

/// A service's letter template (part of its form, versioned with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterDef {
    /// The letter's title, e.g. "SURAT KETERANGAN KELAHIRAN".
    pub title: String,
    /// Paragraphs separated by blank lines, with placeholders.
    pub body: String,
}

/// A piece of a template: text, or a placeholder's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'t> {
    Text(String),
    Slot(&'t str),
}

/// The template cut into text and placeholders, or what is wrong with it.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' if rest.starts_with("{{") => {
                text.push('{');
                rest = &rest[2..];
            }
            '}' if rest.starts_with("}}") => {
                text.push('}');
                rest = &rest[2..];
            }
            '{' => {
                let Some(end) = rest.find('}') else {
                    return Err("a { is never closed (write {{ for a brace)".into());
                };
                let name = &rest[1..end];
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(format!("{{{name}}} is not a placeholder"));
                }
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Slot(name));
                rest = &rest[end + 1..];
            }
            '}' => return Err("a } was never opened (write }} for a brace)".into()),
            c => {
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// The placeholders a template names, in order, or what is wrong with its braces.
pub fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Slot(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect())
}

/// The template with each placeholder replaced by its value (an unanswered one by "-").
pub fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    for piece in pieces(template)? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Slot(name) => match value(name) {
                Some(v) if !v.trim().is_empty() => out.push_str(v.trim()),
                _ => out.push('-'),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn placeholders_are_named_and_braces_escaped() {
        assert_eq!(
            placeholders("Nama {nama_anak}, lahir {tanggal_lahir} ({{catatan}})"),
            Ok(vec!["nama_anak", "tanggal_lahir"])
        );
        assert!(placeholders("Nama {nama_anak").is_err());
        assert!(placeholders("Nama }").is_err());
        assert!(placeholders("Nama {Nama Anak}").is_err());
        assert!(placeholders("{}").is_err());
    }

    #[test]
    fn a_letter_is_filled_with_answers_and_facts() {
        let filled = fill(
            "Menerangkan bahwa {nama_anak} lahir di {tempat_lahir}. Kode {kode}. {{ok}} {catatan}",
            |k| match k {
                "nama_anak" => Some("Laras".into()),
                "tempat_lahir" => Some("Kota Batu".into()),
                "kode" => Some("PMH-ABCD-EFGH-JKMN".into()),
                _ => None,
            },
        );
        assert_eq!(
            filled.as_deref(),
            Ok("Menerangkan bahwa Laras lahir di Kota Batu. Kode PMH-ABCD-EFGH-JKMN. {ok} -")
        );
    }

    proptest! {
        /// Text without braces comes out as it went in; a value never opens a placeholder.
        #[test]
        fn text_and_values_pass_through(text in "[^{}]{0,80}", value in "\\PC{0,40}") {
            prop_assert_eq!(fill(&text, |_| None).expect("plain"), text.clone());
            let filled = fill(&format!("{text}{{x}}"), |_| Some(value.clone())).expect("filled");
            let shown = if value.trim().is_empty() { "-".to_owned() } else { value.trim().to_owned() };
            prop_assert_eq!(filled, format!("{text}{shown}"));
        }
    }
}
