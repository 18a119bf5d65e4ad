//! Delivering the outbox: e-mail by SMTP (lettre), SMS through an HTTP gateway, and in
//! development and demo mode the development outbox (`/dev/outbox`).
//!
//! Messages are written to the outbox in the transaction that causes them; this worker picks
//! them up, claims each for one attempt (so two nodes never send the same message at once),
//! and records the outcome: delivered, or a failed attempt retried after a growing wait, given
//! up after [`MAX_ATTEMPTS`]. Failures are recorded without personal data.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::privacy::DataKeys;
use crate::storage::{Db, accounts};

/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long one attempt holds its claim.
const CLAIM_SECONDS: i64 = 120;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("invalid smtp_url: {0}")]
    SmtpUrl(String),
    #[error("invalid mail_from address: {0}")]
    MailFrom(String),
    #[error("invalid sms_url: {0}")]
    SmsUrl(String),
}

/// E-mail through an SMTP server.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// SMS through an HTTP gateway: `POST {url}` with `{"to": "+62…", "text": "…"}` and
/// `Authorization: Bearer {token}`; any 2xx answer means accepted.
pub struct SmsChannel {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
}

/// The channels configured on this node.
pub struct Channels {
    pub email: Option<EmailChannel>,
    pub sms: Option<SmsChannel>,
    /// Messages without a configured channel go to the development outbox (never in production).
    pub dev_outbox: bool,
}

impl Channels {
    /// No channel: in development, every message lands in the development outbox.
    pub fn development() -> Channels {
        Channels {
            email: None,
            sms: None,
            dev_outbox: true,
        }
    }

    pub fn new(
        smtp_url: Option<&str>,
        mail_from: &str,
        sms_url: Option<&str>,
        sms_token: Option<&str>,
        dev_outbox: bool,
    ) -> Result<Channels, ChannelError> {
        let email = match smtp_url {
            Some(url) => Some(EmailChannel {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| ChannelError::SmtpUrl(e.to_string()))?
                    .timeout(Some(StdDuration::from_secs(20)))
                    .build(),
                from: mail_from
                    .parse()
                    .map_err(|e: lettre::address::AddressError| {
                        ChannelError::MailFrom(e.to_string())
                    })?,
            }),
            None => None,
        };
        let sms = match sms_url {
            Some(url) => {
                reqwest::Url::parse(url).map_err(|e| ChannelError::SmsUrl(e.to_string()))?;
                Some(SmsChannel {
                    client: reqwest::Client::builder()
                        .timeout(StdDuration::from_secs(20))
                        .build()
                        .map_err(|e| ChannelError::SmsUrl(e.to_string()))?,
                    url: url.to_owned(),
                    token: sms_token.map(str::to_owned),
                })
            }
            None => None,
        };
        Ok(Channels {
            email,
            sms,
            dev_outbox,
        })
    }

    /// Whether a message on `channel` (`email`, `sms`) can reach a person.
    pub fn can_deliver(&self, channel: &str) -> bool {
        self.dev_outbox
            || match channel {
                "email" => self.email.is_some(),
                "sms" => self.sms.is_some(),
                _ => false,
            }
    }
}

/// What became of one attempt.
enum Outcome {
    Delivered,
    /// Retry later; the reason names no person.
    Failed(String),
    /// No channel for it on this node (and no development outbox): leave it for a node that has one.
    NoChannel,
}

async fn send(channels: &Channels, channel: &str, to: &str, subject: &str, body: &str) -> Outcome {
    match (channel, &channels.email, &channels.sms) {
        ("email", Some(email), _) => {
            let to: Mailbox = match to.parse() {
                Ok(to) => to,
                Err(_) => return Outcome::Failed("email: recipient address refused".into()),
            };
            let message = Message::builder()
                .from(email.from.clone())
                .to(to)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(body.to_owned());
            let message = match message {
                Ok(m) => m,
                Err(_) => return Outcome::Failed("email: message could not be built".into()),
            };
            match email.transport.send(message).await {
                Ok(_) => Outcome::Delivered,
                // The server's code only: its text may repeat the address.
                Err(e) => Outcome::Failed(match e.status() {
                    Some(code) => format!("smtp: {code}"),
                    None if e.is_timeout() => "smtp: timeout".into(),
                    None => "smtp: connection or protocol error".into(),
                }),
            }
        }
        ("sms", _, Some(sms)) => {
            let mut request = sms
                .client
                .post(&sms.url)
                .json(&serde_json::json!({ "to": to, "text": body }));
            if let Some(token) = &sms.token {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => Outcome::Delivered,
                Ok(r) => Outcome::Failed(format!("sms gateway: http {}", r.status().as_u16())),
                Err(e) if e.is_timeout() => Outcome::Failed("sms gateway: timeout".into()),
                Err(_) => Outcome::Failed("sms gateway: connection error".into()),
            }
        }
        _ if channels.dev_outbox => Outcome::Delivered,
        _ => Outcome::NoChannel,
    }
}

/// The wait before attempt `n + 1`: 10 s, 20 s, 40 s … capped at an hour.
pub fn retry_after(attempts_so_far: i32) -> Duration {
    let doublings = u32::try_from(attempts_so_far.clamp(0, 9)).unwrap_or(0);
    Duration::seconds((10i64 << doublings).min(3600))
}

/// One pass over the due messages; returns how many were delivered.
pub async fn deliver_due(db: &Db, keys: &DataKeys, channels: &Channels) -> usize {
    let now = Utc::now();
    let due = match accounts::pending_messages(db, 100, now).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "outbox: cannot read due messages");
            return 0;
        }
    };
    let mut delivered = 0;
    for message in due {
        match accounts::claim_message(db, message.id, Utc::now(), Duration::seconds(CLAIM_SECONDS))
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(id = %message.id, error = %e, "outbox: cannot claim");
                continue;
            }
        }
        let open = |context: &str, sealed: &[u8]| {
            keys.open(context, sealed)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        };
        let outcome = match (
            open("outbox.recipient", &message.recipient_sealed),
            open("outbox.body", &message.body_sealed),
        ) {
            (Some(to), Some(body)) => {
                send(channels, &message.channel, &to, &message.subject, &body).await
            }
            _ => Outcome::Failed("sealed message cannot be opened with the configured keys".into()),
        };
        let attempts = accounts::delivery_attempts(db, message.id)
            .await
            .unwrap_or(0);
        let result = match outcome {
            Outcome::Delivered => accounts::mark_delivered(db, message.id, Utc::now()).await.map(|_| {
                delivered += 1;
                tracing::debug!(id = %message.id, channel = %message.channel, "outbox: delivered");
            }),
            Outcome::Failed(reason) => {
                tracing::warn!(id = %message.id, channel = %message.channel, reason = %reason, attempt = attempts + 1, "outbox: delivery failed");
                accounts::mark_failed_attempt(db, message.id, &reason, Utc::now(), retry_after(attempts), MAX_ATTEMPTS)
                    .await
            }
            Outcome::NoChannel => accounts::release_claim(db, message.id).await,
        };
        if let Err(e) = result {
            tracing::warn!(id = %message.id, error = %e, "outbox: cannot record the outcome");
        }
    }
    delivered
}

/// Delivers due messages every `every`, until the task is dropped.
pub async fn run(db: Db, keys: Arc<DataKeys>, channels: Arc<Channels>, every: StdDuration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        deliver_due(&db, &keys, &channels).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(0), Duration::seconds(10));
        assert_eq!(retry_after(1), Duration::seconds(20));
        assert_eq!(retry_after(5), Duration::seconds(320));
        assert_eq!(retry_after(20), Duration::seconds(3600));
    }

    #[test]
    fn bad_channel_settings_are_refused() {
        assert!(Channels::new(Some("ftp://x"), "a@b.id", None, None, false).is_err());
        assert!(Channels::new(None, "a@b.id", Some("not a url"), None, false).is_err());
        let none = Channels::new(None, "a@b.id", None, None, false).expect("channels");
        assert!(!none.can_deliver("email") && !none.can_deliver("sms"));
        assert!(Channels::development().can_deliver("sms"));
    }
}
