//! The UPP admin's editor of a service's application form (`/staf/layanan/{id}/formulir`):
//! one row per field (key, labels in both languages, kind and its settings, when required),
//! blank rows to add fields, a box to remove one. What is saved is checked whole by
//! `domain::form::FormDef::problems` first; each problem is shown on its row and nothing is
//! written until the whole form is right. Every saved version is audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::AppState;
use super::account::{PairsForm, checked_form, csrf, render};
use super::applications::form_of;
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::catalog::Service;
use crate::domain::form::{Choice, DocumentType, Field, FieldKind, FormDef, Required};
use crate::domain::letter::LetterDef;
use crate::domain::roles::Action;

/// Blank rows offered for new fields.
const BLANK_ROWS: usize = 3;
const MAX_ROWS: usize = crate::domain::form::MAX_FIELDS;

/// One row of the editor, as text (what was typed is shown back as typed).
#[derive(Default, Clone)]
struct Row {
    key: String,
    label_id: String,
    label_en: String,
    kind: String,
    required: String,
    if_field: String,
    if_value: String,
    max_length: String,
    min: String,
    max: String,
    /// Choice options, one per line: `value | Label ID | Label EN`.
    options: String,
    pdf: bool,
    jpeg: bool,
    png: bool,
    max_mb: String,
    /// The Standar Pelayanan requirement's number (1-based), or empty.
    requirement: String,
    error: Option<String>,
}

impl Row {
    fn of(f: &Field) -> Row {
        let mut row = Row {
            key: f.key.clone(),
            label_id: f.label_id.clone(),
            label_en: f.label_en.clone(),
            ..Row::default()
        };
        row.required = match &f.required {
            Required::Always => "always".into(),
            Required::Never => "never".into(),
            Required::If { field, equals } => {
                row.if_field = field.clone();
                row.if_value = equals.clone();
                "if".into()
            }
        };
        row.kind = match &f.kind {
            FieldKind::Text { max_length } => {
                row.max_length = max_length.to_string();
                "text"
            }
            FieldKind::Number { min, max } => {
                row.min = min.to_string();
                row.max = max.to_string();
                "number"
            }
            FieldKind::Date => "date",
            FieldKind::Choice { options } => {
                row.options = options
                    .iter()
                    .map(|o| format!("{} | {} | {}", o.value, o.label_id, o.label_en))
                    .collect::<Vec<_>>()
                    .join("\n");
                "choice"
            }
            FieldKind::Nik => "nik",
            FieldKind::Address => "address",
            FieldKind::Document {
                types,
                max_bytes,
                requirement,
            } => {
                row.pdf = types.contains(&DocumentType::Pdf);
                row.jpeg = types.contains(&DocumentType::Jpeg);
                row.png = types.contains(&DocumentType::Png);
                row.max_mb = format!(
                    "{}",
                    (*max_bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
                );
                row.requirement = requirement.map(|r| (r + 1).to_string()).unwrap_or_default();
                "document"
            }
        }
        .into();
        row
    }

    fn blank() -> Row {
        Row {
            kind: "text".into(),
            required: "always".into(),
            max_length: "200".into(),
            pdf: true,
            jpeg: true,
            png: true,
            max_mb: "5".into(),
            ..Row::default()
        }
    }

    fn is_blank(&self) -> bool {
        self.key.trim().is_empty()
            && self.label_id.trim().is_empty()
            && self.label_en.trim().is_empty()
    }

    /// The field this row describes, or what is wrong with it (both languages).
    fn field(&self) -> Result<Field, (String, String)> {
        let number = |raw: &str, what_id: &str, what_en: &str| {
            raw.trim().parse::<i64>().map_err(|_| {
                (
                    format!("{what_id} harus bilangan bulat."),
                    format!("{what_en} must be a whole number."),
                )
            })
        };
        let kind = match self.kind.as_str() {
            "text" => FieldKind::Text {
                max_length: u32::try_from(number(&self.max_length, "Panjang", "The length")?)
                    .unwrap_or(0),
            },
            "number" => FieldKind::Number {
                min: number(&self.min, "Batas bawah", "The minimum")?,
                max: number(&self.max, "Batas atas", "The maximum")?,
            },
            "date" => FieldKind::Date,
            "nik" => FieldKind::Nik,
            "address" => FieldKind::Address,
            "choice" => {
                let mut options = Vec::new();
                for line in self.options.lines().filter(|l| !l.trim().is_empty()) {
                    let parts: Vec<&str> = line.split('|').map(str::trim).collect();
                    let [value, label_id, label_en] = parts[..] else {
                        return Err((
                            "Tulis tiap pilihan sebagai: nilai | Label Indonesia | Label Inggris."
                                .into(),
                            "Write each option as: value | Indonesian label | English label."
                                .into(),
                        ));
                    };
                    options.push(Choice {
                        value: value.into(),
                        label_id: label_id.into(),
                        label_en: label_en.into(),
                    });
                }
                FieldKind::Choice { options }
            }
            "document" => {
                let types = [
                    (self.pdf, DocumentType::Pdf),
                    (self.jpeg, DocumentType::Jpeg),
                    (self.png, DocumentType::Png),
                ]
                .into_iter()
                .filter_map(|(on, t)| on.then_some(t))
                .collect();
                let mb: f64 = self.max_mb.trim().replace(',', ".").parse().map_err(|_| {
                    (
                        "Ukuran paling besar ditulis dalam MB, misalnya 5.".to_owned(),
                        "Write the largest size in MB, such as 5.".to_owned(),
                    )
                })?;
                let requirement = match self.requirement.trim() {
                    "" => None,
                    n => Some(
                        n.parse::<usize>()
                            .ok()
                            .and_then(|n| n.checked_sub(1))
                            .ok_or_else(|| {
                                (
                                    "Nomor persyaratan tidak dikenal.".to_owned(),
                                    "Unknown requirement number.".to_owned(),
                                )
                            })?,
                    ),
                };
                FieldKind::Document {
                    types,
                    max_bytes: (mb.max(0.0) * 1024.0 * 1024.0).round() as u64,
                    requirement,
                }
            }
            _ => {
                return Err((
                    "Pilih jenis isian.".into(),
                    "Choose the field's kind.".into(),
                ));
            }
        };
        let required = match self.required.as_str() {
            "never" => Required::Never,
            "if" => Required::If {
                field: self.if_field.trim().into(),
                equals: self.if_value.trim().into(),
            },
            _ => Required::Always,
        };
        Ok(Field {
            key: self.key.trim().into(),
            label_id: self.label_id.trim().into(),
            label_en: self.label_en.trim().into(),
            kind,
            required,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_form.html")]
struct EditorPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    service_id: Uuid,
    service: String,
    tenant: String,
    version: Option<i32>,
    rows: Vec<Row>,
    /// The Standar Pelayanan's requirements, numbered from 1.
    requirements: Vec<String>,
    kinds: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    saved: bool,
    letter: LetterText,
}

/// The letter template as typed, with its problem.
#[derive(Default)]
struct LetterText {
    title: String,
    body: String,
    error: Option<String>,
}

impl LetterText {
    fn of(def: Option<&LetterDef>) -> LetterText {
        def.map(|l| LetterText {
            title: l.title.clone(),
            body: l.body.clone(),
            error: None,
        })
        .unwrap_or_default()
    }

    /// None when both are blank (the service issues no letter).
    fn def(&self) -> Option<LetterDef> {
        (!self.title.trim().is_empty() || !self.body.trim().is_empty()).then(|| LetterDef {
            title: self.title.trim().to_owned(),
            body: self.body.trim().to_owned(),
        })
    }
}

fn kinds(lang: Lang) -> Vec<(&'static str, &'static str)> {
    vec![
        ("text", lang.pick("Teks", "Text")),
        ("number", lang.pick("Angka", "Number")),
        ("date", lang.pick("Tanggal", "Date")),
        ("choice", lang.pick("Pilihan", "Choice")),
        ("nik", "NIK"),
        ("address", lang.pick("Wilayah (kode)", "Region (code)")),
        (
            "document",
            lang.pick("Dokumen (unggahan)", "Document (upload)"),
        ),
    ]
}

/// The service, if this staff member may edit it.
fn editable<'c>(
    catalog: &'c crate::catalog::Catalog,
    staff: &super::staff::Staff,
    lang: Lang,
    here: &str,
    id: &str,
) -> Result<&'c Service, PageError> {
    let service = Uuid::parse_str(id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, here))?;
    let place = catalog.place(
        &catalog.mpps[service.mpp],
        Some(&catalog.tenants[service.tenant]),
    );
    if !staff.may(Action::EditService, &place) {
        return Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Anda tidak berwenang mengubah formulir layanan ini.",
            "You may not change this service's form.",
        ));
    }
    Ok(service)
}

#[allow(clippy::too_many_arguments)]
fn editor(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    catalog: &crate::catalog::Catalog,
    service: &Service,
    version: Option<i32>,
    rows: Vec<Row>,
    letter: LetterText,
    error: Option<String>,
    saved: bool,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (token, fresh) = csrf(headers)?;
    let page = EditorPage {
        t: lang.texts(),
        lang,
        here: format!("/staf/layanan/{}/formulir", service.id),
        csrf: &token,
        service_id: service.id,
        service: service.name.clone(),
        tenant: catalog.tenants[service.tenant].name.clone(),
        version,
        rows,
        requirements: service
            .requirements
            .iter()
            .map(|r| r.text.clone())
            .collect(),
        kinds: kinds(lang),
        error,
        saved,
        letter,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

pub async fn edit(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Result<Response, PageError> {
    let here = format!("/staf/layanan/{id}/formulir");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let service = editable(&catalog, &staff, lang, &here, &id)?;
    let current = form_of(&app, service.id).await?;
    let version = current.as_ref().map(|(_, v)| *v);
    let letter = LetterText::of(current.as_ref().and_then(|(f, _)| f.letter.as_ref()));
    let mut rows: Vec<Row> = current
        .map(|(f, _)| f.fields.iter().map(Row::of).collect())
        .unwrap_or_default();
    rows.extend(std::iter::repeat_with(Row::blank).take(BLANK_ROWS));
    let saved = uri.query() == Some("tersimpan=1");
    editor(
        &app,
        lang,
        &headers,
        &catalog,
        service,
        version,
        rows,
        letter,
        None,
        saved,
        StatusCode::OK,
    )
}

/// Saves the whole form as its next version, or shows each row's problem (nothing written).
pub async fn save(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PairsForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/layanan/{id}/formulir");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let service = editable(&catalog, &staff, lang, &here, &id)?;
    let form = checked_form(form, &headers, lang, &here)?;
    let count = form
        .first("rows")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_ROWS);
    let text = |name: &str, i: usize| {
        form.first(&format!("{name}_{i}"))
            .unwrap_or_default()
            .chars()
            .take(crate::domain::form::MAX_LABEL_CHARS)
            .collect::<String>()
    };
    let mut rows: Vec<Row> = (0..count)
        .filter(|i| form.first(&format!("remove_{i}")).is_none())
        .map(|i| Row {
            key: text("key", i),
            label_id: text("label_id", i),
            label_en: text("label_en", i),
            kind: text("kind", i),
            required: text("required", i),
            if_field: text("if_field", i),
            if_value: text("if_value", i),
            max_length: text("max_length", i),
            min: text("min", i),
            max: text("max", i),
            options: text("options", i),
            pdf: form.first(&format!("pdf_{i}")).is_some(),
            jpeg: form.first(&format!("jpeg_{i}")).is_some(),
            png: form.first(&format!("png_{i}")).is_some(),
            max_mb: text("max_mb", i),
            requirement: text("requirement", i),
            error: None,
        })
        .filter(|r| !r.is_blank())
        .collect();
    let mut fields = Vec::new();
    let mut wrong = false;
    for row in &mut rows {
        match row.field() {
            Ok(f) => fields.push(f),
            Err((id_text, en)) => {
                row.error = Some(lang.pick(&id_text, &en).to_owned());
                wrong = true;
            }
        }
    }
    let mut letter = LetterText {
        title: form
            .first("letter_title")
            .unwrap_or_default()
            .chars()
            .take(crate::domain::letter::MAX_TITLE_CHARS + 1)
            .collect(),
        body: form
            .first("letter_body")
            .unwrap_or_default()
            .chars()
            .take(crate::domain::letter::MAX_BODY_CHARS + 1)
            .collect(),
        error: None,
    };
    let definition = FormDef {
        fields,
        letter: letter.def(),
    };
    let empty = rows.is_empty();
    if !wrong {
        for p in definition.problems(service.requirements.len()) {
            if p.key == "letter" {
                let message = lang.pick(&p.id, &p.en).to_owned();
                letter.error = Some(match letter.error.take() {
                    Some(before) => format!("{before} {message}"),
                    None => message,
                });
                wrong = true;
            } else if let Some(row) = rows.iter_mut().find(|r| r.key.trim() == p.key) {
                let message = lang.pick(&p.id, &p.en).to_owned();
                row.error = Some(match row.error.take() {
                    Some(before) => format!("{before} {message}"),
                    None => message,
                });
                wrong = true;
            }
        }
    }
    if wrong || empty {
        let version = form_of(&app, service.id).await?.map(|(_, v)| v);
        rows.extend(std::iter::repeat_with(Row::blank).take(BLANK_ROWS));
        return editor(
            &app,
            lang,
            &headers,
            &catalog,
            service,
            version,
            rows,
            letter,
            Some(
                if empty {
                    lang.pick(
                        "Formulir perlu sedikitnya satu isian.",
                        "A form needs at least one field.",
                    )
                } else {
                    lang.pick(
                        "Formulir belum disimpan: perbaiki baris yang ditandai.",
                        "The form was not saved: fix the marked rows.",
                    )
                }
                .to_owned(),
            ),
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let json =
        serde_json::to_string(&definition).map_err(|e| PageError::internal(lang, &here, &e))?;
    let scope = catalog
        .place(
            &catalog.mpps[service.mpp],
            Some(&catalog.tenants[service.tenant]),
        )
        .audit_path();
    crate::storage::applications::save_form(&app.db, service.id, &json, &staff.actor(), &scope)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    app.forms.forget();
    Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response())
}
