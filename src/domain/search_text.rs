//! How catalog text and search queries become search terms, in Indonesian.
//!
//! The same [`analyze`] runs on documents (at index time) and on queries, so both sides agree:
//!
//! 1. lowercase; spelling variants of one thing become one token (`e-KTP`, `KTP-el`, `ektp` → `ktp`;
//!    `akte` → `akta`; colloquial `bikin` → `buat`);
//! 2. split into words; drop a short list of function words (`di`, `yang`, `cara`, ...);
//! 3. stem each word with the Nazief–Adriani stemmer (Sastrawi): `pembuatan`, `membuat`, `buat` → `buat`;
//!    abbreviations and words shorter than four letters are kept as they are;
//! 4. documents only ([`analyze_document`]): each abbreviation and its long form are added to each
//!    other (`SKCK` ⇄ `surat keterangan catatan kepolisian`), so a query in either form matches.
//!
//! Small typos are the search engine's job (edit distance on the terms this produces).

use std::borrow::Cow;
use std::sync::OnceLock;

use sastrawi::{Dictionary, Stemmer};

/// Spelling variants, matched on whole words of the lowercased text before tokenizing.
/// Multi-word variants come first so they win over their parts.
const VARIANTS: &[(&str, &str)] = &[
    ("e ktp", "ktp"),
    ("e-ktp", "ktp"),
    ("ktp-el", "ktp"),
    ("ktp el", "ktp"),
    ("ktp elektronik", "ktp"),
    ("e-kia", "kia"),
];

/// Single-word synonyms and common misspellings, applied after tokenizing.
const SYNONYMS: &[(&str, &str)] = &[
    ("ektp", "ktp"),
    ("ktpel", "ktp"),
    ("akte", "akta"),
    ("bikin", "buat"),
    ("ngurus", "urus"),
    ("passport", "paspor"),
    ("pasport", "paspor"),
    ("pasfor", "paspor"),
    ("kawin", "nikah"),
    ("perkawinan", "nikah"),
    ("pernikahan", "nikah"),
    ("menikah", "nikah"),
    ("lahiran", "lahir"),
    ("ijin", "izin"),
    ("perijinan", "izin"),
    ("sertipikat", "sertifikat"),
];

/// Words the dictionary stemmer gets wrong (its dictionary holds some derived forms as roots).
const STEM_OVERRIDES: &[(&str, &str)] = &[
    ("penerbitan", "terbit"),
    ("diterbitkan", "terbit"),
    ("pengesahan", "sah"),
    ("mengemudi", "kemudi"),
    ("pengemudi", "kemudi"),
    ("kendaraan", "kendara"),
];

/// Abbreviations and their long forms. A document holding either gets the other as well.
const ABBREVIATIONS: &[(&str, &[&str])] = &[
    ("ktp", &["kartu tanda penduduk"]),
    ("kk", &["kartu keluarga"]),
    ("kia", &["kartu identitas anak"]),
    ("sim", &["surat izin mengemudi"]),
    ("skck", &["surat keterangan catatan kepolisian"]),
    ("nib", &["nomor induk berusaha"]),
    ("oss", &["online single submission"]),
    ("npwp", &["nomor pokok wajib pajak"]),
    ("pbb", &["pajak bumi dan bangunan"]),
    ("bphtb", &["bea perolehan hak atas tanah dan bangunan"]),
    ("pbg", &["persetujuan bangunan gedung"]),
    ("slf", &["sertifikat laik fungsi"]),
    ("stnk", &["surat tanda nomor kendaraan"]),
    ("bpkb", &["buku pemilik kendaraan bermotor"]),
    ("pkb", &["pajak kendaraan bermotor"]),
    ("sip", &["surat izin praktik"]),
    ("str", &["surat tanda registrasi"]),
    ("kis", &["kartu indonesia sehat"]),
    ("bpjs", &["badan penyelenggara jaminan sosial"]),
    ("pdam", &["air minum"]),
    ("spt", &["surat pemberitahuan tahunan"]),
    ("kir", &["uji berkala kendaraan"]),
    ("iumk", &["izin usaha mikro kecil"]),
];

/// Best bets: what citizens say for a service whose official name differs, pointing at the
/// national template (see `domain::catalog`) of the service they most likely want. Used on queries
/// only: a document about "izin usaha toko swalayan" is not the NIB, but someone asking for
/// "izin usaha" most likely wants the NIB, which replaced the old SIUP and TDP.
const BEST_BETS: &[(&str, &str)] = &[
    ("izin usaha", "penerbitan-nib"),
    ("siup", "penerbitan-nib"),
    ("tdp", "penerbitan-nib"),
    ("izin mendirikan bangunan", "persetujuan-bangunan-gedung"),
    ("imb", "persetujuan-bangunan-gedung"),
];

/// Function words that carry no meaning in a service search.
const STOP_WORDS: &[&str] = &[
    "di",
    "ke",
    "dari",
    "dan",
    "atau",
    "yang",
    "untuk",
    "bagi",
    "dengan",
    "pada",
    "dalam",
    "cara",
    "bagaimana",
    "gimana",
    "saya",
    "aku",
    "mau",
    "ingin",
    "mohon",
    "tolong",
    "apa",
    "syarat",
    "persyaratan",
    "the",
    "a",
    "an",
    "of",
    "to",
    "for",
    "how",
    "yg",
    "utk",
    "dgn",
    "dll",
    "jo",
];

struct Analyzer {
    stemmer: Stemmer<'static>,
    /// Each abbreviation with its long forms already analyzed into terms.
    expansions: Vec<(&'static str, Vec<Vec<String>>)>,
    /// [`BEST_BETS`] with the phrases analyzed into terms.
    best_bets: Vec<(Vec<String>, &'static str)>,
}

fn analyzer() -> &'static Analyzer {
    static DICTIONARY: OnceLock<Dictionary> = OnceLock::new();
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(|| {
        let dict = DICTIONARY.get_or_init(Dictionary::new);
        let mut analyzer = Analyzer {
            stemmer: Stemmer::new(dict),
            expansions: Vec::new(),
            best_bets: Vec::new(),
        };
        let expansions = ABBREVIATIONS
            .iter()
            .map(|(abbr, forms)| (*abbr, forms.iter().map(|f| analyzer.terms(f)).collect()))
            .collect();
        let best_bets = BEST_BETS
            .iter()
            .map(|(phrase, to)| (analyzer.terms(phrase), *to))
            .collect();
        analyzer.expansions = expansions;
        analyzer.best_bets = best_bets;
        analyzer
    })
}

fn is_protected(word: &str) -> bool {
    word.chars().count() < 4
        || word.chars().any(|c| c.is_ascii_digit())
        || ABBREVIATIONS.iter().any(|(abbr, _)| *abbr == word)
        || SYNONYMS.iter().any(|(_, to)| *to == word)
}

/// Replaces whole-word occurrences of `from` in `text` (already lowercase) by `to`.
fn replace_words(text: &str, from: &str, to: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(pos) = rest.find(from) {
        let before_ok = rest[..pos]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
            && (pos > 0 || out.chars().next_back().is_none_or(|c| !c.is_alphanumeric()));
        let after = &rest[pos + from.len()..];
        let after_ok = after.chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            out.push_str(&rest[..pos]);
            out.push_str(to);
            changed = true;
        } else {
            out.push_str(&rest[..pos + from.len()]);
        }
        rest = after;
    }
    if changed {
        out.push_str(rest);
        Some(out)
    } else {
        None
    }
}

impl Analyzer {
    fn terms(&self, text: &str) -> Vec<String> {
        let mut lower: Cow<'_, str> = Cow::Owned(text.to_lowercase());
        for (from, to) in VARIANTS {
            if lower.contains(from)
                && let Some(replaced) = replace_words(&lower, from, to)
            {
                lower = Cow::Owned(replaced);
            }
        }
        let mut out = Vec::new();
        for word in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = SYNONYMS
                .iter()
                .find(|(from, _)| *from == word)
                .map_or(word, |(_, to)| *to);
            if STOP_WORDS.contains(&word) {
                continue;
            }
            if is_protected(word) {
                out.push(word.to_owned());
            } else if let Some((_, stem)) = STEM_OVERRIDES.iter().find(|(from, _)| *from == word) {
                out.push((*stem).to_owned());
            } else {
                let stem = self.stemmer.stem_word(word);
                let stem = SYNONYMS
                    .iter()
                    .find(|(from, _)| *from == stem)
                    .map_or(stem.as_ref(), |(_, to)| *to);
                out.push(stem.to_owned());
            }
        }
        out
    }
}

/// The search terms of a query or a short text.
pub fn analyze(text: &str) -> Vec<String> {
    analyzer().terms(text)
}

/// The search terms of a query, and the national templates it is a best bet for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerms {
    /// [`analyze`] plus the abbreviation of each long form the query contains, so that
    /// "surat keterangan catatan kepolisian" also asks for "skck".
    pub terms: Vec<String>,
    /// Slugs of national templates to rank first among the matches.
    pub best_bets: Vec<&'static str>,
}

pub fn analyze_query(text: &str) -> QueryTerms {
    let a = analyzer();
    let mut terms = a.terms(text);
    let mut extra: Vec<String> = Vec::new();
    for (abbr, forms) in &a.expansions {
        if !terms.iter().any(|t| t == abbr)
            && forms.iter().any(|form| contains_sequence(&terms, form))
        {
            extra.push((*abbr).to_owned());
        }
    }
    let best_bets = a
        .best_bets
        .iter()
        .filter(|(phrase, _)| contains_sequence(&terms, phrase))
        .map(|(_, template)| *template)
        .collect();
    terms.extend(extra);
    QueryTerms { terms, best_bets }
}

/// The search terms of a document, in two parts: the terms of the text itself, and the extra
/// terms that let other spellings find it (each abbreviation's long form and back, and the words
/// as written where they differ from their stems, so that a typo such as "kelahran" is within
/// edit distance of "kelahiran" even where it is not of the stem "lahir").
pub fn analyze_document(text: &str) -> DocumentTerms {
    let a = analyzer();
    let terms = a.terms(text);
    let mut extra: Vec<String> = Vec::new();
    for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
        if word.chars().count() >= 5
            && !terms.iter().any(|t| t == word)
            && !extra.iter().any(|t| t == word)
        {
            extra.push(word.to_owned());
        }
    }
    for (abbr, forms) in &a.expansions {
        let has_abbr = terms.iter().any(|t| t == abbr);
        let has_form = forms.iter().any(|form| contains_sequence(&terms, form));
        if has_abbr {
            for form in forms {
                if !contains_sequence(&terms, form) {
                    extra.extend(form.iter().cloned());
                }
            }
        } else if has_form {
            extra.push((*abbr).to_owned());
        }
    }
    DocumentTerms { terms, extra }
}

/// See [`analyze_document`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentTerms {
    pub terms: Vec<String>,
    pub extra: Vec<String>,
}

impl DocumentTerms {
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.terms.iter().chain(&self.extra)
    }
}

fn contains_sequence(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden word list: what a citizen types and what it must become.
    #[test]
    fn golden_words() {
        let cases: &[(&str, &[&str])] = &[
            ("pembuatan", &["buat"]),
            ("membuat", &["buat"]),
            ("buat", &["buat"]),
            ("bikin", &["buat"]),
            ("penerbitan", &["terbit"]),
            ("perpanjangan", &["panjang"]),
            ("kelahiran", &["lahir"]),
            ("kependudukan", &["duduk"]),
            ("KTP", &["ktp"]),
            ("e-KTP", &["ktp"]),
            ("KTP-el", &["ktp"]),
            ("eKTP", &["ktp"]),
            ("akte", &["akta"]),
            ("SIM", &["sim"]),
            ("SKCK", &["skck"]),
            ("NIB", &["nib"]),
            ("paspor", &["paspor"]),
            ("passport", &["paspor"]),
            ("perizinan berusaha", &["izin", "usaha"]),
            ("cara bikin sim di batu", &["buat", "sim", "batu"]),
            ("Akta Kelahiran", &["akta", "lahir"]),
            ("akte lahir", &["akta", "lahir"]),
        ];
        for (input, expected) in cases {
            assert_eq!(analyze(input), *expected, "analyze({input:?})");
        }
    }

    #[test]
    fn documents_carry_abbreviation_and_long_form() {
        let doc = analyze_document("Penerbitan Surat Keterangan Catatan Kepolisian");
        assert!(doc.extra.contains(&"skck".to_owned()), "{doc:?}");
        let doc = analyze_document("Penerbitan SKCK");
        assert!(doc.extra.contains(&"polisi".to_owned()), "{doc:?}");
        assert_eq!(doc.terms, ["terbit", "skck"]);
        let doc = analyze_document("Penerbitan Nomor Induk Berusaha (NIB) melalui OSS");
        assert!(doc.all().any(|t| t == "usaha"), "{doc:?}");
        let doc = analyze_document("Izin Usaha Toko Swalayan");
        assert!(
            !doc.all().any(|t| t == "nib"),
            "a specific permit is not the NIB: {doc:?}"
        );
        let doc = analyze_document("Akta Kelahiran");
        assert!(
            doc.extra.contains(&"kelahiran".to_owned()),
            "surface form kept for typos: {doc:?}"
        );
    }

    #[test]
    fn queries_gain_the_abbreviation_of_a_long_form() {
        let q = analyze_query("izin usaha");
        assert_eq!(
            (q.terms, q.best_bets),
            (
                vec!["izin".to_owned(), "usaha".to_owned()],
                vec!["penerbitan-nib"]
            )
        );
        let q = analyze_query("surat keterangan catatan kepolisian");
        assert_eq!(q.terms.last().map(String::as_str), Some("skck"));
        assert_eq!(analyze_query("ktp").terms, ["ktp"]);
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(
            replace_words("ktp-el baru", "ktp-el", "ktp").as_deref(),
            Some("ktp baru")
        );
        assert_eq!(replace_words("bktp-el", "ktp-el", "ktp"), None);
        assert_eq!(replace_words("ktp-elx", "ktp-el", "ktp"), None);
    }
}
