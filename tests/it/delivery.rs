//! Messages leave through real channels: e-mail by SMTP and SMS through an HTTP gateway, both
//! simulated by real servers; failures are retried and recorded without personal data.

use crate::accounts::Browser;
use crate::both_engines;
use crate::support::{Engine, TestApp, test_settings};
use mpp::simulator::{self, Faults};

both_engines!(production_sign_in_codes_go_out_by_smtp_and_sms_with_retries);

async fn production_sign_in_codes_go_out_by_smtp_and_sms_with_retries(engine: Engine) {
    let (smtp, mail) = simulator::start_smtp("127.0.0.1:0", Faults::default())
        .await
        .expect("smtp simulator");
    let (sms, texts) = simulator::start_sms(
        "127.0.0.1:0",
        Some("rahasia-gateway".into()),
        Faults { refuse_first: 1 },
    )
    .await
    .expect("sms simulator");
    let channels = mpp::delivery::Channels::new(
        Some(&format!("smtp://{smtp}")),
        "MPP Digital <no-reply@mpp.contoh.go.id>",
        Some(&format!("http://{sms}/messages")),
        Some("rahasia-gateway"),
        false,
    )
    .expect("channels");
    let settings = mpp::http::Settings {
        mode: mpp::config::Mode::Production,
        channels: std::sync::Arc::new(channels),
        ..test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    // Production: no development outbox.
    let (status, _) = app.get_text("/dev/outbox").await;
    assert_eq!(status, 404);

    // E-mail: the code arrives at the SMTP server.
    let mut b = Browser::new(&app);
    b.get("/masuk").await;
    let csrf = b.csrf();
    let (status, _, location) = b
        .post(
            "/masuk",
            &[("csrf", &csrf), ("identifier", "Warga@Contoh.id")],
        )
        .await;
    assert_eq!(status, 303);
    let reference = location.expect("code page")["/masuk/kode?ref=".len()..].to_owned();
    let mut received = Vec::new();
    for _ in 0..100 {
        received = simulator::messages(&mail);
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let message = received.first().expect("an e-mail arrived");
    assert_eq!(message.to, "warga@contoh.id");
    assert!(
        message
            .text
            .contains("From: \"MPP Digital\" <no-reply@mpp.contoh.go.id>"),
        "{}",
        message.text
    );
    let at = message
        .text
        .find("Kode masuk MPP Digital Anda: ")
        .expect("the code")
        + "Kode masuk MPP Digital Anda: ".len();
    let code = &message.text[at..at + 6];
    let (status, _, location) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", code)],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/akun")));

    // SMS: the gateway refuses the first attempt; the failure is recorded (no number, no text),
    // and the retry delivers.
    let mut phone = Browser::new(&app);
    phone.get("/masuk").await;
    let csrf = phone.csrf();
    let (status, _, _) = phone
        .post(
            "/masuk",
            &[("csrf", &csrf), ("identifier", "0812-3456-7890")],
        )
        .await;
    assert_eq!(status, 303);
    let mut failed = None;
    for _ in 0..100 {
        let states = mpp::storage::accounts::delivery_states(app.db())
            .await
            .expect("states");
        if let Some(s) = states.iter().find(|s| s.last_error.is_some()) {
            failed = Some(s.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failed = failed.expect("the refused attempt is recorded");
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("sms gateway: http 503"));
    assert!(failed.delivered_at.is_none() && failed.failed_at.is_none());
    // Time passes: the retry is due.
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => sqlx::query("UPDATE outbox SET next_attempt_at = NULL")
            .execute(pool)
            .await
            .map(|_| ()),
        mpp::storage::Db::Postgres(pool) => sqlx::query("UPDATE outbox SET next_attempt_at = NULL")
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .expect("advance");
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = simulator::messages(&texts);
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent.len(), 1, "delivered once, on the retry");
    assert_eq!(sent[0].to, "+6281234567890");
    assert!(sent[0].text.contains("Kode masuk MPP Digital Anda: "));
    // The gateway has it; the worker records the delivery right after its answer.
    let mut states = Vec::new();
    for _ in 0..100 {
        states = mpp::storage::accounts::delivery_states(app.db())
            .await
            .expect("states");
        if states.iter().all(|s| s.delivered_at.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        states.iter().all(|s| s.delivered_at.is_some()),
        "{states:?}"
    );
    assert!(states.iter().any(|s| s.attempts == 2));
}
