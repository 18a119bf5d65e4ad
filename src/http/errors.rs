//! The one error policy at the edge.
//!
//! - Client errors carry a stable `code` and a message in Indonesian and English. The API answers
//!   `application/problem+json` (RFC 9457); pages answer an HTML page in the reader's language.
//! - Internal errors are logged with their cause chain and an error id; the answer shows only the
//!   id and an opaque message. Nothing a client sends produces a 500.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use super::i18n::{Lang, Texts};

/// An error of the JSON API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub id: String,
    pub en: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Messages {
    /// Bahasa Indonesia.
    pub id: String,
    pub en: String,
}

/// `application/problem+json` body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `not_found`, `invalid_parameter`.
    pub code: String,
    /// The message in Indonesian.
    pub detail: String,
    pub messages: Messages,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        id: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            id: id.into(),
            en: en.into(),
        }
    }

    pub fn not_found(what_id: &str, what_en: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what_id} tidak ditemukan."),
            format!("{what_en} not found."),
        )
    }

    pub fn bad_parameter(id: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", id, en)
    }

    pub fn internal(error: &dyn std::error::Error) -> ApiError {
        let error_id = log_internal(error);
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("Terjadi kesalahan di server. Kode kesalahan: {error_id}."),
            format!("Something went wrong on the server. Error id: {error_id}."),
        )
    }

    pub fn unavailable(error: &dyn std::error::Error) -> ApiError {
        let error_id = log_internal(error);
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("Layanan sedang tidak tersedia. Kode kesalahan: {error_id}."),
            format!("The service is unavailable. Error id: {error_id}."),
        )
    }
}

/// Logs an internal error with its cause chain; returns the id shown to the user.
pub fn log_internal(error: &dyn std::error::Error) -> Uuid {
    let error_id = Uuid::now_v7();
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(%error_id, error = %chain, "internal error");
    error_id
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::BAD_REQUEST => "Permintaan tidak valid",
            StatusCode::NOT_FOUND => "Tidak ditemukan",
            StatusCode::SERVICE_UNAVAILABLE => "Layanan tidak tersedia",
            StatusCode::INTERNAL_SERVER_ERROR => "Kesalahan server",
            other => other.canonical_reason().unwrap_or("Kesalahan"),
        }
        .to_owned();
        let body = Problem {
            kind: format!("urn:mpp:problem:{}", self.code),
            title,
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.id.clone(),
            messages: Messages {
                id: self.id,
                en: self.en,
            },
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}

/// An error on a people's page, rendered in the reader's language.
#[derive(Debug)]
pub struct PageError {
    pub lang: Lang,
    pub status: StatusCode,
    /// (Indonesian, English); none means the standard text for the status.
    pub message: Option<(String, String)>,
    pub error_id: Option<Uuid>,
    pub here: String,
}

impl PageError {
    pub fn not_found(lang: Lang, here: &str) -> PageError {
        PageError {
            lang,
            status: StatusCode::NOT_FOUND,
            message: None,
            error_id: None,
            here: here.to_owned(),
        }
    }

    pub fn bad_request(
        lang: Lang,
        here: &str,
        id: impl Into<String>,
        en: impl Into<String>,
    ) -> PageError {
        PageError {
            lang,
            status: StatusCode::BAD_REQUEST,
            message: Some((id.into(), en.into())),
            error_id: None,
            here: here.to_owned(),
        }
    }

    /// Any other client error, with its message.
    pub fn status(
        lang: Lang,
        status: StatusCode,
        id: impl Into<String>,
        en: impl Into<String>,
    ) -> PageError {
        PageError {
            lang,
            status,
            message: Some((id.into(), en.into())),
            error_id: None,
            here: "/".to_owned(),
        }
    }

    pub fn unavailable(lang: Lang, here: &str) -> PageError {
        PageError {
            lang,
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: None,
            error_id: None,
            here: here.to_owned(),
        }
    }

    pub fn internal(lang: Lang, here: &str, error: &dyn std::error::Error) -> PageError {
        PageError {
            lang,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: None,
            error_id: Some(log_internal(error)),
            here: here.to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: &'a str,
    q: &'a str,
    title: &'a str,
    message: &'a str,
    error_id: Option<Uuid>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let t = self.lang.texts();
        let (title, default_message) = match self.status {
            StatusCode::NOT_FOUND => (t.not_found_title, t.not_found_body),
            StatusCode::BAD_REQUEST => (t.bad_request_title, ""),
            StatusCode::FORBIDDEN => (t.forbidden_title, ""),
            StatusCode::TOO_MANY_REQUESTS => (t.too_many_title, ""),
            StatusCode::SERVICE_UNAVAILABLE => (t.unavailable_title, ""),
            _ => (t.error_title, ""),
        };
        let message = match (&self.message, self.lang) {
            (Some((id, _)), Lang::Id) => id.as_str(),
            (Some((_, en)), Lang::En) => en.as_str(),
            (None, _) => default_message,
        };
        let page = ErrorPage {
            t,
            lang: self.lang,
            here: &self.here,
            q: "",
            title,
            message,
            error_id: self.error_id,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                log_internal(&e);
                (self.status, title.to_owned()).into_response()
            }
        }
    }
}
