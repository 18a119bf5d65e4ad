//! The queue and booking API through HTTP, as a citizen's app and a UPP's own system use it.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::Browser;
use crate::both_engines;
use crate::queue::open_hours_clock;
use crate::staff::{DUKCAPIL_ADMIN, POLRES_OFFICER, staff_signed_in};
use crate::support::{Engine, TestApp};

both_engines!(
    an_app_signs_in_books_moves_cancels_and_follows_its_ticket,
    a_upp_system_operates_its_counter_with_a_token,
    a_retry_after_its_slot_filled_still_gets_its_booking
);

/// The first citizen books; four more fill the slot (the demo allows 4 per slot), the last is
/// refused; the first one's retry, after the slot is known full, still gets its booking.
async fn a_retry_after_its_slot_filled_still_gets_its_booking(engine: Engine) {
    use reqwest::Method;
    // Five sign-ins from one address: the burst is raised (its own test keeps 10).
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        clock: open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = ktp_service(&app).await;
    let (_, day) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots?day=2026-12-02"),
        None,
        None,
        None,
    )
    .await;
    let (slot, left) = last_free(&day);
    assert_eq!(left, 4);
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(session_token(&app, &format!("penuh{i}@contoh.id")).await);
    }
    let body = json!({ "slot_id": slot });
    let (status, first) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&tokens[0]),
        Some("first"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 201);
    for token in &tokens[1..4] {
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(token),
            Some("mine"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, problem) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&tokens[4]),
        Some("late"),
        Some(body.clone()),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("slot_full")));
    let (status, again) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&tokens[0]),
        Some("first"),
        Some(body.clone()),
    )
    .await;
    assert_eq!((status, again["id"].as_str()), (201, first["id"].as_str()));
    // Still full for everyone else.
    let (status, problem) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&tokens[4]),
        Some("late-2"),
        Some(body),
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("slot_full")));
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 4);
    // A place given back is offered at once on this node.
    let first_id = first["id"].as_str().expect("id");
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bookings/{first_id}/cancel"),
        Some(&tokens[0]),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, made) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&tokens[4]),
        Some("late-3"),
        Some(json!({ "slot_id": slot })),
    )
    .await;
    assert_eq!(status, 201, "{made}");
}

/// A citizen's session token from the API's sign-in.
pub(crate) async fn session_token(app: &TestApp, who: &str) -> String {
    let before = crate::accounts::latest_code(app, who).await;
    let response = app
        .http
        .post(app.url("/api/v1/session/code"))
        .json(&json!({ "identifier": who }))
        .send()
        .await
        .expect("code");
    assert_eq!(response.status(), 202);
    let sent: Value = response.json().await.expect("json");
    let reference = sent["reference"].as_str().expect("reference").to_owned();
    let code = crate::accounts::code_after(app, who, before.as_deref()).await;
    // A wrong code is refused with the tries left.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let response = app
        .http
        .post(app.url("/api/v1/session"))
        .json(&json!({ "reference": reference, "code": wrong }))
        .send()
        .await
        .expect("session");
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "wrong_code");
    let response = app
        .http
        .post(app.url("/api/v1/session"))
        .json(&json!({ "reference": reference, "code": code }))
        .send()
        .await
        .expect("session");
    assert_eq!(response.status(), 201);
    let session: Value = response.json().await.expect("json");
    assert_eq!(session["token_type"], "Bearer");
    session["token"].as_str().expect("token").to_owned()
}

async fn ktp_service(app: &TestApp) -> String {
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] == "dispendukcapil")
        .expect("KTP-el")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The last slot of the day with a place left (far enough ahead to be cancelled or moved).
fn last_free(slots: &Value) -> (String, i64) {
    let slot = slots["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .rev()
        .find(|s| s["left"].as_i64().unwrap_or(0) > 0)
        .expect("a free slot");
    (
        slot["id"].as_str().expect("id").to_owned(),
        slot["left"].as_i64().expect("left"),
    )
}

fn left_of(slots: &Value, id: &str) -> i64 {
    slots["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|s| s["id"] == id)
        .expect("the slot")["left"]
        .as_i64()
        .expect("left")
}

async fn an_app_signs_in_books_moves_cancels_and_follows_its_ticket(engine: Engine) {
    use reqwest::Method;
    let settings = mpp::http::Settings {
        clock: open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = ktp_service(&app).await;
    let token = session_token(&app, "aplikasi@contoh.id").await;

    // Slots are public, with the places left; today (10:00) offers only later slots.
    let (status, today) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{today}");
    assert_eq!(today["bookable"], true);
    assert_eq!(today["day"], "2026-12-01");
    assert!(
        today["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .all(|s| s["starts"].as_str().expect("starts") > "10:00"),
        "{today}"
    );
    let (status, bad) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots?day=besok"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    let (slot, left) = last_free(&today);

    // Booking needs a session and an idempotency key.
    let booking = json!({ "slot_id": slot });
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        None,
        Some("k1"),
        Some(booking.clone()),
    )
    .await;
    assert_eq!(status, 401);
    let (status, problem) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        None,
        Some(booking.clone()),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["messages"]["en"]
            .as_str()
            .expect("en")
            .contains("Idempotency-Key")
    );
    let (status, made) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        Some("k1"),
        Some(booking.clone()),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["state"], "booked");
    assert_eq!(made["changeable"], true);
    let id = made["id"].as_str().expect("id").to_owned();
    let code = made["code"].as_str().expect("code").to_owned();
    // A retry with the same key returns the same booking and takes no second place.
    let (status, again) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        Some("k1"),
        Some(booking),
    )
    .await;
    assert_eq!((status, again["id"].as_str()), (201, Some(id.as_str())));
    assert_eq!(app.count("SELECT COUNT(*) FROM bookings").await, 1);
    let (_, today) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(left_of(&today, &slot), left - 1);
    // A second booking of the same service on the same day is refused.
    let other_slot = today["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|s| s["id"] != slot.as_str())
        .expect("another")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, problem) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        Some("k2"),
        Some(json!({ "slot_id": other_slot })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("already_booked"))
    );
    // A slot that does not exist, and a body that is not the operation's.
    let (status, problem) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        Some("k3"),
        Some(json!({ "slot_id": Uuid::now_v7() })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("no_such_slot"))
    );
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        Some("k4"),
        Some(json!({ "slot": slot })),
    )
    .await;
    assert_eq!(status, 400);

    // Another citizen neither sees nor changes it.
    let stranger = session_token(&app, "orang.lain@contoh.id").await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/bookings/{id}")),
        (Method::POST, format!("/api/v1/bookings/{id}/cancel")),
    ] {
        let (status, _) = call(&app, method, &path, Some(&stranger), None, None).await;
        assert_eq!(status, 404);
    }
    let (status, mine) = call(
        &app,
        Method::GET,
        "/api/v1/bookings",
        Some(&stranger),
        None,
        None,
    )
    .await;
    assert_eq!((status, mine.as_array().map(Vec::len)), (200, Some(0)));

    // Moved to tomorrow: same code, the place goes back to today's slot.
    let (_, tomorrow) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots?day=2026-12-02"),
        None,
        None,
        None,
    )
    .await;
    let (target, target_left) = last_free(&tomorrow);
    let (status, moved) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bookings/{id}/reschedule"),
        Some(&token),
        None,
        Some(json!({ "slot_id": target })),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (moved["code"].as_str(), moved["day"].as_str()),
        (Some(code.as_str()), Some("2026-12-02"))
    );
    let (_, today) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(left_of(&today, &slot), left);
    let (_, tomorrow) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots?day=2026-12-02"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(left_of(&tomorrow, &target), target_left - 1);
    // Cancelled; twice is refused.
    let (status, cancelled) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bookings/{id}/cancel"),
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("cancelled"))
    );
    let (status, problem) = call(
        &app,
        Method::POST,
        &format!("/api/v1/bookings/{id}/cancel"),
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("not_active"))
    );
    let (_, tomorrow) = call(
        &app,
        Method::GET,
        &format!("/api/v1/services/{service}/slots?day=2026-12-02"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(left_of(&tomorrow, &target), target_left);

    // Booked again for today and checked in at the kiosk: the app follows the ticket.
    let (status, made) = call(
        &app,
        Method::POST,
        "/api/v1/bookings",
        Some(&token),
        Some("k5"),
        Some(json!({ "slot_id": slot })),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();
    let mut kiosk = Browser::new(&app);
    kiosk.get("/kiosk/among-warga-kota-batu").await;
    let csrf = kiosk.csrf();
    let (status, _, _) = kiosk
        .post(
            "/kiosk/among-warga-kota-batu/lapor",
            &[
                ("csrf", csrf.as_str()),
                ("code", made["code"].as_str().expect("code")),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, checked) = call(
        &app,
        Method::GET,
        &format!("/api/v1/bookings/{id}"),
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(checked["state"], "checked_in");
    let ticket = checked["ticket_id"].as_str().expect("a ticket").to_owned();
    let (status, t) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{ticket}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (t["state"].as_str(), t["kind"].as_str()),
        (Some("waiting"), Some("booking"))
    );
    assert_eq!(t["people_ahead"], 0);
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{}", Uuid::now_v7()),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Signing out ends the token.
    let (status, _) = call(
        &app,
        Method::DELETE,
        "/api/v1/session",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/bookings",
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(status, 401);
}

/// A staff API token (scopes include `queue:operate`) made at /staf/token.
async fn staff_token(app: &TestApp, email: &str) -> String {
    let mut staff = staff_signed_in(app, email).await;
    staff.get("/staf/token").await;
    let csrf = staff.csrf();
    let (status, page, _) = staff
        .post(
            "/staf/token",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Sistem antrean"),
                ("days", "30"),
                ("queue_operate", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let at = page.find("id=\"new-token\">").expect("shown once") + "id=\"new-token\">".len();
    page[at..at + page[at..].find('<').expect("end")].to_owned()
}

async fn dukcapil_counter(app: &TestApp) -> Uuid {
    const SQL: &str = "SELECT c.id FROM counters c JOIN tenants t ON t.id = c.tenant_id \
                       WHERE t.slug = 'dispendukcapil' AND c.number = 1";
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
        mpp::storage::Db::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
    }
    .expect("Dispendukcapil's counter 1")
}

async fn a_upp_system_operates_its_counter_with_a_token(engine: Engine) {
    use reqwest::Method;
    let settings = mpp::http::Settings {
        clock: open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let counter = dukcapil_counter(&app).await;
    let token = staff_token(&app, DUKCAPIL_ADMIN).await;
    let outsider = staff_token(&app, POLRES_OFFICER).await;
    let path = format!("/api/v1/counters/{counter}");
    let actions = format!("{path}/actions");

    let (status, _) = call(&app, Method::GET, &path, None, None, None).await;
    assert_eq!(status, 401);
    let (status, problem) = call(&app, Method::GET, &path, Some(&outsider), None, None).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    let (status, problem) = call(
        &app,
        Method::POST,
        &actions,
        Some(&outsider),
        None,
        Some(json!({ "action": "next" })),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    // A citizen's session is not a staff token.
    let citizen = session_token(&app, "warga.api@contoh.id").await;
    let (status, _) = call(&app, Method::GET, &path, Some(&citizen), None, None).await;
    assert_eq!(status, 401);

    // The queue token cannot edit services: that is another scope.
    let response = app
        .http
        .patch(app.url(&format!("/api/v1/services/{}", ktp_service(&app).await)))
        .bearer_auth(&token)
        .json(&json!({ "fee_rupiah": 1 }))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), 403);
    let (status, before) = call(&app, Method::GET, &path, Some(&token), None, None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["state"], "open");
    assert_eq!(before["waiting"], 0);
    let (status, problem) = call(
        &app,
        Method::POST,
        &actions,
        Some(&token),
        None,
        Some(json!({ "action": "next" })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("nobody_waiting"))
    );

    // A walk-in ticket at the kiosk, called through the API.
    let mut kiosk = Browser::new(&app);
    let (_, page, _) = kiosk.get("/kiosk/among-warga-kota-batu").await;
    let button = page.find(">Penerbitan KTP-el Baru<").expect("KTP-el");
    let at = page[..button]
        .rfind("name=\"service\" value=\"")
        .expect("its value")
        + "name=\"service\" value=\"".len();
    let service = page[at..at + 36].to_owned();
    let csrf = kiosk.csrf();
    let (status, _, location) = kiosk
        .post(
            "/kiosk/among-warga-kota-batu/tiket",
            &[("csrf", csrf.as_str()), ("service", service.as_str())],
        )
        .await;
    assert_eq!(status, 303);
    let ticket = location
        .expect("ticket")
        .replace("/antrean/", "")
        .replace("?cetak=1", "");
    let (_, state) = call(&app, Method::GET, &path, Some(&token), None, None).await;
    assert_eq!(state["waiting"], 1);

    let (status, called) = call(
        &app,
        Method::POST,
        &actions,
        Some(&token),
        None,
        Some(json!({ "action": "next" })),
    )
    .await;
    assert_eq!(status, 200, "{called}");
    assert_eq!(called["current"][0]["id"], ticket.as_str());
    assert_eq!(called["current"][0]["state"], "called");
    let (_, t) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{ticket}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(
        (t["state"].as_str(), t["counter_number"].as_i64()),
        (Some("called"), Some(1))
    );
    let (_, board) = call(
        &app,
        Method::GET,
        "/api/v1/mpps/among-warga-kota-batu/board",
        None,
        None,
        None,
    )
    .await;
    assert_eq!(board[0]["code"], "A001");
    assert!(
        board[0]["announcement"]
            .as_str()
            .expect("words")
            .contains("loket satu"),
        "{board}"
    );
    // An illegal step is refused with the reason; the legal ones go through.
    let (status, problem) = call(
        &app,
        Method::POST,
        &actions,
        Some(&token),
        None,
        Some(json!({ "action": "finish", "ticket_id": ticket })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("illegal_transition")),
        "{problem}"
    );
    for action in ["start", "finish"] {
        let (status, answer) = call(
            &app,
            Method::POST,
            &actions,
            Some(&token),
            None,
            Some(json!({ "action": action, "ticket_id": ticket })),
        )
        .await;
        assert_eq!(status, 200, "{action}: {answer}");
    }
    let (_, t) = call(
        &app,
        Method::GET,
        &format!("/api/v1/tickets/{ticket}"),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(t["state"], "done");
    let (status, problem) = call(
        &app,
        Method::POST,
        &actions,
        Some(&token),
        None,
        Some(json!({ "action": "dance" })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    let (status, paused) = call(
        &app,
        Method::POST,
        &actions,
        Some(&token),
        None,
        Some(json!({ "action": "paused" })),
    )
    .await;
    assert_eq!((status, paused["state"].as_str()), (200, Some("paused")));
    // Each action is audited under the token.
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE actor LIKE 'token:%'")
            .await
            >= 4,
        "audited"
    );
}
