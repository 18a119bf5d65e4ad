//! Simulators of the gateways outside our reach, as real servers our code talks to over the
//! network: an SMTP server that keeps what it receives, and an HTTP SMS gateway. Used by the
//! tests and by `mpp simulate` for a developer's machine. Never part of `serve`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as a gateway received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Received {
    pub to: String,
    /// The e-mail's raw data (headers and body) or the SMS text.
    pub text: String,
}

pub type Inbox = Arc<Mutex<Vec<Received>>>;

fn push(inbox: &Inbox, message: Received) {
    match inbox.lock() {
        Ok(mut v) => v.push(message),
        Err(poisoned) => poisoned.into_inner().push(message),
    }
}

pub fn messages(inbox: &Inbox) -> Vec<Received> {
    match inbox.lock() {
        Ok(v) => v.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Behaviour of a simulated gateway, to exercise retries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Refuse this many messages first (SMTP 451, HTTP 503), then accept.
    pub refuse_first: usize,
}

/// Starts an SMTP server (plain, no TLS) on `addr`; returns its address and what it receives.
pub async fn start_smtp(addr: &str, faults: Faults) -> std::io::Result<(SocketAddr, Inbox)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let inbox: Inbox = Arc::default();
    let refused = Arc::new(Mutex::new(0usize));
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (inbox, refused) = (kept.clone(), refused.clone());
            tokio::spawn(async move {
                let _ = smtp_session(stream, inbox, refused, faults).await;
            });
        }
    });
    Ok((local, inbox))
}

/// One SMTP conversation (RFC 5321, the commands a client needs to send mail).
async fn smtp_session(
    stream: tokio::net::TcpStream,
    inbox: Inbox,
    refused: Arc<Mutex<usize>>,
    faults: Faults,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 simulator.mpp ESMTP\r\n").await?;
    let mut to: Vec<String> = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write
                .write_all(b"250-simulator.mpp\r\n250 8BITMIME\r\n")
                .await?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("MAIL FROM") || upper.starts_with("RSET") {
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO") {
            let address = line
                .split_once(':')
                .map(|(_, a)| {
                    a.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
                .unwrap_or_default();
            to.push(address);
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("DATA") {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            let refuse = {
                let mut n = refused.lock().unwrap_or_else(|p| p.into_inner());
                let refuse = *n < faults.refuse_first;
                if refuse {
                    *n += 1;
                }
                refuse
            };
            if refuse {
                write.write_all(b"451 4.3.0 Try again later\r\n").await?;
            } else {
                for address in to.drain(..) {
                    push(
                        &inbox,
                        Received {
                            to: address,
                            text: data.clone(),
                        },
                    );
                }
                write.write_all(b"250 OK queued\r\n").await?;
            }
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 Bye\r\n").await?;
            break;
        } else {
            write.write_all(b"502 Command not implemented\r\n").await?;
        }
    }
    Ok(())
}

#[derive(Clone)]
struct SmsState {
    inbox: Inbox,
    token: Option<String>,
    refused: Arc<Mutex<usize>>,
    faults: Faults,
}

#[derive(Deserialize)]
struct SmsRequest {
    to: String,
    text: String,
}

async fn receive_sms(
    State(state): State<SmsState>,
    headers: HeaderMap,
    Json(request): Json<SmsRequest>,
) -> (StatusCode, Json<serde_json::Value>) {
    if let Some(token) = &state.token {
        let sent = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(token.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({"error": "bad token"})),
            );
        }
    }
    if !request.to.starts_with("+62") || request.to.len() < 10 {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": "not an Indonesian number"})),
        );
    }
    {
        let mut n = state.refused.lock().unwrap_or_else(|p| p.into_inner());
        if *n < state.faults.refuse_first {
            *n += 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"error": "try again"})),
            );
        }
    }
    push(
        &state.inbox,
        Received {
            to: request.to,
            text: request.text,
        },
    );
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"status": "queued"})),
    )
}

async fn list_sms(State(state): State<SmsState>) -> Json<Vec<Received>> {
    Json(messages(&state.inbox))
}

/// Starts an HTTP SMS gateway on `addr` (`POST /messages`, `GET /messages`); returns its
/// address and what it receives.
pub async fn start_sms(
    addr: &str,
    token: Option<String>,
    faults: Faults,
) -> std::io::Result<(SocketAddr, Inbox)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let inbox: Inbox = Arc::default();
    let state = SmsState {
        inbox: inbox.clone(),
        token,
        refused: Arc::default(),
        faults,
    };
    let app = Router::new()
        .route("/messages", post(receive_sms).get(list_sms))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((local, inbox))
}
