//! The quota rush (run by hand, not a test):
//!
//!     cargo bench --bench quota_rush
//!     MPP_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/mpp_rush cargo bench --bench quota_rush
//!
//! 20,000 booking attempts for 2,000 places (200 slots of 10) from 200 concurrent clients,
//! over HTTP against the running server (`POST /api/v1/bookings`, or with `MPP_BENCH_PATH=form`
//! the citizen's form `POST /layanan/{id}/pesan`), each by a different signed-in citizen
//! choosing a slot at random. Acknowledged bookings (201 / 303) are committed before the answer. It prints oversold (must be 0, also for direct requests on a
//! full slot afterwards), 5xx errors (must be 0), attempts/s and p50/p99 latency, next to two
//! limits measured in the same run: a bare axum handler's requests/s with the same clients,
//! and the raw rate of the booking transaction on the engine with no HTTP.
//!
//! Record the figures in docs/benchmarks.md with the machine and the date.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mpp::catalog::Catalog;
use mpp::storage::Db;
use mpp::storage::bookings::{self, BookingRule, NewBooking, NewSlot};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

const ATTEMPTS: usize = 20_000;
const SLOTS: usize = 200;
const QUOTA: i32 = 10;
const CLIENTS: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn database() -> anyhow::Result<(Db, Option<tempfile::TempDir>)> {
    match std::env::var("MPP_BENCH_DATABASE_URL") {
        Ok(url) => {
            let db = Db::connect(&url).await?;
            db.migrate().await?;
            Ok((db, None))
        }
        Err(_) => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("rush.sqlite3").display());
            let db = Db::connect(&url).await?;
            db.migrate().await?;
            Ok((db, Some(dir)))
        }
    }
}

/// Citizens with live sessions whose tokens are `token-{i}`, inserted in bulk.
async fn citizens(db: &Db, n: usize, offset: usize) -> anyhow::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let now = Utc::now();
    let created = mpp::storage::accounts::timestamp(now);
    let expires = mpp::storage::accounts::timestamp(now + chrono::Duration::days(1));
    for (chunk_no, chunk) in ids.chunks(500).enumerate() {
        let rows: Vec<(Uuid, Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .enumerate()
            .map(|(j, id)| {
                let i = offset + chunk_no * 500 + j;
                (
                    *id,
                    format!("rush-{i}").into_bytes(),
                    Sha256::digest(format!("token-{i}")).to_vec(),
                )
            })
            .collect();
        macro_rules! insert {
            ($pool:expr) => {{
                let mut q = sqlx::QueryBuilder::new("INSERT INTO accounts (id, kind, identifier_kind, identifier_hash, identifier_sealed, created_at) ");
                q.push_values(&rows, |mut b, (id, hash, _)| {
                    b.push_bind(id).push_bind("citizen").push_bind("email").push_bind(hash).push_bind(b"x".as_slice()).push_bind(&created);
                });
                q.build().execute($pool).await?;
                let mut q = sqlx::QueryBuilder::new("INSERT INTO sessions (token_hash, account_id, created_at, expires_at) ");
                q.push_values(&rows, |mut b, (id, _, token)| {
                    b.push_bind(token).push_bind(id).push_bind(&created).push_bind(&expires);
                });
                q.build().execute($pool).await?;
            }};
        }
        match db {
            Db::Sqlite(pool) => insert!(pool),
            Db::Postgres(pool) => insert!(pool),
        }
    }
    Ok(ids)
}

async fn slots(db: &Db, service: Uuid, day_offset: i64) -> anyhow::Result<Vec<Uuid>> {
    let start = (Utc::now() + chrono::Duration::days(day_offset))
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .expect("time")
        .and_utc();
    let day = start.format("%Y-%m-%d").to_string();
    let new: Vec<NewSlot> = (0..SLOTS)
        .map(|i| NewSlot {
            day: day.clone(),
            starts_at: start + chrono::Duration::minutes(i as i64),
            ends_at: start + chrono::Duration::minutes(i as i64 + 1),
        })
        .collect();
    bookings::ensure_slots(db, service, QUOTA, &new).await?;
    Ok(bookings::slots(db, service, &day)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

const CSRF: &str = "rush-csrf-token-rush-csrf-token-rush";

/// One booking attempt by citizen `i` (session token `token-{i}`): the status answered.
async fn attempt(
    client: &reqwest::Client,
    url: &str,
    form: bool,
    i: usize,
    slot: Uuid,
    key: &str,
) -> reqwest::Result<u16> {
    let request = if form {
        client
            .post(url)
            .header("cookie", format!("csrf={CSRF}; sesi=token-{i}"))
            .form(&[("csrf", CSRF), ("slot", &slot.to_string()), ("key", key)])
    } else {
        client
            .post(url)
            .bearer_auth(format!("token-{i}"))
            .header("idempotency-key", key)
            .json(&serde_json::json!({ "slot_id": slot }))
    };
    Ok(request.send().await?.status().as_u16())
}

/// Requests/s of a bare axum handler with the same client and concurrency.
async fn bare_axum(client: &reqwest::Client) -> anyhow::Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(|| async { (axum::http::StatusCode::SEE_OTHER, [("location", "/x")]) }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/");
    let gate = Arc::new(Semaphore::new(CLIENTS));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(ATTEMPTS);
    for _ in 0..ATTEMPTS {
        let (client, url, gate) = (client.clone(), url.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("gate");
            client
                .post(&url)
                .form(&[("a", "b")])
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(ATTEMPTS as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (db, _dir) = database().await?;
    mpp::demo::load_if_empty(&db).await?;
    let catalog = Catalog::load(&db).await?;
    let mpp_row = catalog.mpp("among-warga-kota-batu").expect("demo MPP");
    let tenant = catalog.tenant(mpp_row, "dispendukcapil").expect("tenant");
    let service = catalog.services[tenant.services[0]].id;
    let raw_service = catalog.services[tenant.services[1]].id;
    bookings::set_rule(
        &db,
        &BookingRule {
            service_id: service,
            slot_minutes: 30,
            quota_per_slot: QUOTA,
            days_ahead: 14,
            release_time: "00:00".into(),
            cancel_cutoff_minutes: 60,
        },
    )
    .await?;
    let http_slots = Arc::new(slots(&db, service, 2).await?);
    citizens(&db, ATTEMPTS, 0).await?;
    println!(
        "engine: {}, {} attempts for {} places ({} slots of {}), {} clients",
        db.engine().name(),
        ATTEMPTS,
        SLOTS * QUOTA as usize,
        SLOTS,
        QUOTA,
        CLIENTS
    );

    // The server, as `serve` runs it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let key = mpp::privacy::DataKeys::generate_key()?;
    let settings = mpp::http::Settings {
        keys: Arc::new(mpp::privacy::DataKeys::parse(&format!("k1:{key}"), &key)?),
        mode: mpp::config::Mode::Production,
        secure_cookies: false,
        public_url: base.clone(),
        sign_in_burst: 10,
        trusted_proxies: Arc::new(Vec::new()),
        channels: Arc::new(mpp::delivery::Channels::development()),
        blobs: mpp::documents::BlobStore::in_temp_dir(),
        clock: mpp::http::Clock::System,
    };
    let shared = mpp::catalog::SharedCatalog::new(catalog);
    let server_db = db.clone();
    tokio::spawn(async move {
        let _ = mpp::server::run(
            listener,
            server_db,
            shared,
            settings,
            Duration::from_secs(5),
            std::future::pending(),
        )
        .await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CLIENTS)
        .build()?;

    // A running server: its pool's connections are open before the release moment (400
    // readiness checks, each a database round trip).
    let warm: Vec<_> = (0..400)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/readyz"));
            tokio::spawn(async move { client.get(&url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for w in warm {
        w.await??;
    }

    // The rush, through the API (default) or the citizen's booking form (`MPP_BENCH_PATH=form`).
    let form = std::env::var("MPP_BENCH_PATH").is_ok_and(|p| p == "form");
    println!(
        "path: {}",
        if form {
            "POST /layanan/{id}/pesan (the booking form)"
        } else {
            "POST /api/v1/bookings (JSON, bearer session token)"
        }
    );
    let gate = Arc::new(Semaphore::new(CLIENTS));
    let url = if form {
        format!("{base}/layanan/{service}/pesan")
    } else {
        format!("{base}/api/v1/bookings")
    };
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(ATTEMPTS);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..ATTEMPTS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let slot = http_slots[(seed % SLOTS as u64) as usize];
        let (client, url, gate) = (client.clone(), url.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("gate");
            let t = Instant::now();
            let status = attempt(&client, &url, form, i, slot, &format!("rush-{i}"))
                .await
                .unwrap_or(0);
            (status, t.elapsed())
        }));
    }
    let (mut booked, mut full, mut server_errors, mut other) = (0usize, 0usize, 0usize, 0usize);
    let mut latencies = Vec::with_capacity(ATTEMPTS);
    for t in tasks {
        let (status, latency) = t.await?;
        latencies.push(latency);
        match status {
            303 | 201 => booked += 1,
            409 => full += 1,
            500..=599 => server_errors += 1,
            _ => other += 1,
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            match &db {
                Db::Sqlite(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
                Db::Postgres(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
            }
        }
    };
    let oversold = count("SELECT COUNT(*) FROM booking_slots WHERE booked > quota").await?
        + count("SELECT COUNT(*) FROM (SELECT slot_id FROM bookings WHERE state = 'booked' GROUP BY slot_id HAVING COUNT(*) > 10) x").await?;
    let stored = count("SELECT COUNT(*) FROM bookings").await?;

    // Direct requests on a full slot, by citizens who have no booking.
    let extra = citizens(&db, 50, ATTEMPTS).await?;
    let _ = extra;
    let full_slot: Uuid = match &db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT id FROM booking_slots WHERE booked = quota LIMIT 1")
                .fetch_one(pool)
                .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT id FROM booking_slots WHERE booked = quota LIMIT 1")
                .fetch_one(pool)
                .await?
        }
    };
    let mut direct_accepted = 0;
    for i in ATTEMPTS..ATTEMPTS + 50 {
        let status = attempt(&client, &url, form, i, full_slot, &format!("direct-{i}")).await?;
        if status == 303 || status == 201 {
            direct_accepted += 1;
        }
    }

    println!(
        "acknowledged bookings: {booked} (stored: {stored}), refused full: {full}, other 4xx: {other}"
    );
    println!("oversold: {}", oversold + direct_accepted);
    println!("5xx errors: {server_errors}");
    println!(
        "attempts/s: {:.0} over HTTP ({:.2} s)",
        ATTEMPTS as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "latency p50 / p99: {:.1} / {:.1} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );

    // Limit 1: a bare axum handler, same clients.
    println!(
        "bare axum handler: {:.0} requests/s",
        bare_axum(&client).await?
    );

    // Limit 2: the booking transaction alone, same concurrency, no HTTP.
    let raw_slots = Arc::new(slots(&db, raw_service, 3).await?);
    let raw_people = Arc::new(citizens(&db, ATTEMPTS, ATTEMPTS + 50).await?);
    let gate = Arc::new(Semaphore::new(CLIENTS));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(ATTEMPTS);
    for i in 0..ATTEMPTS {
        let (db, gate, raw_slots, raw_people) = (
            db.clone(),
            gate.clone(),
            raw_slots.clone(),
            raw_people.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("gate");
            let code = format!("R{i:07}");
            bookings::book(
                &db,
                NewBooking {
                    slot_id: raw_slots[i % SLOTS],
                    account_id: raw_people[i],
                    code: &code,
                    idempotency_key: "raw",
                },
                Utc::now(),
            )
            .await
            .is_ok()
        }));
    }
    let mut raw_ok = 0;
    for t in tasks {
        if t.await? {
            raw_ok += 1;
        }
    }
    println!(
        "booking transaction alone: {:.0} attempts/s ({raw_ok} booked)",
        ATTEMPTS as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}
