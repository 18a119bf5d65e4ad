//! The queue's invariants, each under concurrency on both engines: N tasks released together
//! behind a barrier.

use std::sync::Arc;

use chrono::Utc;
use mpp::catalog::Catalog;
use mpp::domain::queue::TicketAction;
use mpp::storage::Db;
use mpp::storage::queue::{self, NewTicket, QueueError};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::both_engines;
use crate::support::{Engine, TempDb};

both_engines!(
    kiosks_at_the_same_moment_get_distinct_consecutive_numbers,
    officers_calling_at_once_never_get_the_same_ticket,
    recall_creates_nothing_and_cancelled_tickets_are_never_called,
    lanes_take_turns_and_unanswered_tickets_become_no_shows,
);

/// Three regular tickets, then three priority ones: with the default rule (one priority ticket
/// after each regular one) the calls alternate, priority first. With two regular after each
/// priority, the pattern follows. A ticket recalled three times becomes a no-show at the fourth.
async fn lanes_take_turns_and_unanswered_tickets_become_no_shows(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = demo(&tmp).await;
    let counter = open_counter(&tmp.db, &place, 1).await;
    let base = Utc::now() - chrono::Duration::minutes(30);
    let issue = |priority: bool, minute: i64| {
        let (db, mut ticket) = (tmp.db.clone(), walk_in(&place, place.services[0], priority));
        ticket.due_at = base + chrono::Duration::minutes(minute);
        async move {
            queue::issue_ticket(&db, ticket, Utc::now())
                .await
                .expect("ticket")
        }
    };
    let lanes_called = |n: usize| {
        let db = tmp.db.clone();
        async move {
            let mut lanes = Vec::new();
            for _ in 0..n {
                let t = queue::call_next(&db, counter, "test", "/", Utc::now())
                    .await
                    .expect("call")
                    .expect("someone");
                lanes.push(if t.priority { 'P' } else { 'R' });
                for action in [TicketAction::Start, TicketAction::Finish] {
                    queue::act(
                        &db,
                        t.id,
                        action,
                        Some(counter),
                        None,
                        "test",
                        "/",
                        Utc::now(),
                    )
                    .await
                    .expect("act");
                }
            }
            lanes.into_iter().collect::<String>()
        }
    };
    for m in 0..3 {
        issue(false, m).await;
    }
    for m in 3..6 {
        issue(true, m).await;
    }
    assert_eq!(lanes_called(6).await, "PRPRPR");

    queue::set_settings(
        &tmp.db,
        place.tenant,
        queue::QueueSettings {
            priority_every: 2,
            max_recalls: 3,
        },
        "test",
        "/",
    )
    .await
    .expect("settings");
    for m in 10..15 {
        issue(false, m).await;
    }
    for m in 15..18 {
        issue(true, m).await;
    }
    // The last call was regular (one since the last priority): one more regular, then priority.
    assert_eq!(lanes_called(8).await, "RPRRPRRP");

    let t = issue(false, 20).await;
    let called = queue::call_next(&tmp.db, counter, "test", "/", Utc::now())
        .await
        .expect("call")
        .expect("it");
    assert_eq!(called.id, t.id);
    for recalls in 1..=3 {
        let r = queue::act(
            &tmp.db,
            t.id,
            TicketAction::Recall,
            Some(counter),
            None,
            "test",
            "/",
            Utc::now(),
        )
        .await
        .expect("recall");
        assert_eq!((r.state.as_str(), r.recalls), ("called", recalls));
    }
    let r = queue::act(
        &tmp.db,
        t.id,
        TicketAction::Recall,
        Some(counter),
        None,
        "test",
        "/",
        Utc::now(),
    )
    .await
    .expect("the fourth");
    assert_eq!(r.state, "no_show");
}

/// The demo's Disdukcapil tenant of MPP Among Warga and two of its services.
struct Place {
    mpp: Uuid,
    tenant: Uuid,
    services: Vec<Uuid>,
}

async fn demo(tmp: &TempDb) -> Place {
    mpp::demo::load_if_empty(&tmp.db).await.expect("demo");
    let catalog = Catalog::load(&tmp.db).await.expect("catalog");
    let m = catalog.mpp("among-warga-kota-batu").expect("mpp");
    let t = catalog.tenant(m, "dispendukcapil").expect("tenant");
    Place {
        mpp: m.id,
        tenant: t.id,
        services: t.services.iter().map(|&s| catalog.services[s].id).collect(),
    }
}

fn walk_in(place: &Place, service: Uuid, priority: bool) -> NewTicket {
    NewTicket {
        mpp_id: place.mpp,
        tenant_id: place.tenant,
        service_id: service,
        day: "2026-12-01".into(),
        priority,
        kind: "walk_in",
        due_at: Utc::now(),
    }
}

async fn open_counter(db: &Db, place: &Place, number: i32) -> Uuid {
    let id = queue::create_counter(
        db,
        place.mpp,
        place.tenant,
        number,
        &format!("Loket {number}"),
        &place.services,
        "test",
        "/",
    )
    .await
    .expect("counter");
    assert!(
        queue::set_counter_state(db, id, "open", "test", "/")
            .await
            .expect("open")
    );
    id
}

async fn kiosks_at_the_same_moment_get_distinct_consecutive_numbers(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = Arc::new(demo(&tmp).await);
    let n = 24;
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (db, place, barrier) = (tmp.db.clone(), place.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            queue::issue_ticket(&db, walk_in(&place, place.services[0], false), Utc::now())
                .await
                .expect("ticket")
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.expect("task").number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=n as i32).collect::<Vec<_>>());
    let ticket = queue::issue_ticket(
        &tmp.db,
        walk_in(&place, place.services[0], false),
        Utc::now(),
    )
    .await
    .expect("ticket");
    assert_eq!(
        ticket.code, "A025",
        "the tenant got the first prefix, numbers go on"
    );
    // Another day starts again at 1.
    let mut tomorrow = walk_in(&place, place.services[0], false);
    tomorrow.day = "2026-12-02".into();
    let first = queue::issue_ticket(&tmp.db, tomorrow, Utc::now())
        .await
        .expect("ticket");
    assert_eq!(first.code, "A001");
}

async fn officers_calling_at_once_never_get_the_same_ticket(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = Arc::new(demo(&tmp).await);
    let tickets = 30;
    for i in 0..tickets {
        queue::issue_ticket(
            &tmp.db,
            walk_in(&place, place.services[i % 2], false),
            Utc::now(),
        )
        .await
        .expect("ticket");
    }
    let officers = 5;
    let mut counters = Vec::new();
    for i in 0..officers {
        counters.push(open_counter(&tmp.db, &place, 10 + i as i32).await);
    }
    let barrier = Arc::new(Barrier::new(officers));
    let mut tasks = Vec::new();
    for counter in counters {
        let (db, barrier) = (tmp.db.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut served = Vec::new();
            barrier.wait().await;
            while let Some(ticket) = queue::call_next(&db, counter, "test", "/", Utc::now())
                .await
                .expect("call")
            {
                served.push(ticket.id);
                queue::act(
                    &db,
                    ticket.id,
                    TicketAction::Start,
                    Some(counter),
                    None,
                    "test",
                    "/",
                    Utc::now(),
                )
                .await
                .expect("start");
                queue::act(
                    &db,
                    ticket.id,
                    TicketAction::Finish,
                    Some(counter),
                    None,
                    "test",
                    "/",
                    Utc::now(),
                )
                .await
                .expect("finish");
            }
            served
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "no ticket was called twice");
    assert_eq!(count, tickets, "every ticket was called");
}

async fn recall_creates_nothing_and_cancelled_tickets_are_never_called(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = demo(&tmp).await;
    let first = queue::issue_ticket(
        &tmp.db,
        walk_in(&place, place.services[0], false),
        Utc::now(),
    )
    .await
    .expect("t");
    let cancelled = queue::issue_ticket(
        &tmp.db,
        walk_in(&place, place.services[0], false),
        Utc::now(),
    )
    .await
    .expect("t");
    let third = queue::issue_ticket(
        &tmp.db,
        walk_in(&place, place.services[0], false),
        Utc::now(),
    )
    .await
    .expect("t");
    let counter = open_counter(&tmp.db, &place, 1).await;
    queue::act(
        &tmp.db,
        cancelled.id,
        TicketAction::Cancel,
        None,
        None,
        "citizen",
        "/",
        Utc::now(),
    )
    .await
    .expect("cancel");
    let called = queue::call_next(&tmp.db, counter, "test", "/", Utc::now())
        .await
        .expect("call")
        .expect("one");
    assert_eq!(called.id, first.id);
    // Calling again while one is called is refused.
    assert!(matches!(
        queue::call_next(&tmp.db, counter, "test", "/", Utc::now()).await,
        Err(QueueError::CounterBusy)
    ));
    let waiting_before: Vec<Uuid> = queue::waiting(&tmp.db, place.tenant, "2026-12-01")
        .await
        .expect("w")
        .iter()
        .map(|t| t.id)
        .collect();
    let count_before = crate::support::count_in(&tmp.db, "SELECT COUNT(*) FROM tickets").await;
    for _ in 0..3 {
        let t = queue::act(
            &tmp.db,
            first.id,
            TicketAction::Recall,
            Some(counter),
            None,
            "test",
            "/",
            Utc::now(),
        )
        .await
        .expect("recall");
        assert_eq!(t.state, "called");
    }
    let waiting_after: Vec<Uuid> = queue::waiting(&tmp.db, place.tenant, "2026-12-01")
        .await
        .expect("w")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(waiting_before, waiting_after, "recall moves nobody");
    assert_eq!(
        crate::support::count_in(&tmp.db, "SELECT COUNT(*) FROM tickets").await,
        count_before
    );
    let events = queue::events_after(&tmp.db, place.mpp, 0, 100)
        .await
        .expect("events");
    assert_eq!(events.len(), 4, "one call and three recalls announced");
    assert_eq!(events[3].action, "recall");
    assert_eq!(
        events[0].announcement,
        "Nomor antrean A nol nol satu, silakan ke loket satu"
    );
    // An illegal action is refused by the state machine.
    assert!(matches!(
        queue::act(
            &tmp.db,
            first.id,
            TicketAction::Finish,
            Some(counter),
            None,
            "test",
            "/",
            Utc::now()
        )
        .await,
        Err(QueueError::Illegal(_))
    ));
    queue::act(
        &tmp.db,
        first.id,
        TicketAction::NoShow,
        Some(counter),
        None,
        "test",
        "/",
        Utc::now(),
    )
    .await
    .expect("no-show");
    let next = queue::call_next(&tmp.db, counter, "test", "/", Utc::now())
        .await
        .expect("call")
        .expect("one");
    assert_eq!(next.id, third.id, "the cancelled ticket is skipped");
    queue::act(
        &tmp.db,
        third.id,
        TicketAction::NoShow,
        Some(counter),
        None,
        "test",
        "/",
        Utc::now(),
    )
    .await
    .expect("no-show");
    assert!(
        queue::call_next(&tmp.db, counter, "test", "/", Utc::now())
            .await
            .expect("call")
            .is_none()
    );
}

both_engines!(a_walk_in_is_called_at_the_console_and_the_board_hears_it);

/// Tuesday 1 December 2026, 10:00 in Kota Batu (WIB): the MPP is open.
pub(crate) fn open_hours_clock() -> mpp::http::Clock {
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T03:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    mpp::http::Clock::StartingAt(at, std::time::Instant::now())
}

/// Kiosk → ticket page → the officer calls it → the board's feed and the ticket page show the
/// counter → served and finished. The feed is read from a second node on the same database.
async fn a_walk_in_is_called_at_the_console_and_the_board_hears_it(engine: Engine) {
    use crate::accounts::Browser;
    use crate::support::TestApp;
    let settings = mpp::http::Settings {
        clock: open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings.clone()).await else {
        return;
    };
    // At night the kiosk gives no tickets (a second node with the real clock would, by day; this
    // one is fixed at 22:00 WIB).
    let night = chrono::DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let node2 = TestApp::on_with(
        TempDb::shared(app.db().clone(), app.tmp.url.clone()),
        false,
        mpp::http::Settings {
            clock: mpp::http::Clock::StartingAt(night, std::time::Instant::now()),
            ..settings
        },
    )
    .await;

    let mut kiosk = Browser::new(&app);
    let (status, page, _) = kiosk.get("/kiosk/among-warga-kota-batu").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Penerbitan KTP-el Baru"),
        "the services are offered"
    );
    // The KTP-el service of Dispendukcapil: the service value just before its button.
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
            &[("csrf", &csrf), ("service", &service)],
        )
        .await;
    assert_eq!(status, 303);
    let ticket_page = location.expect("the ticket").replace("?cetak=1", "");
    let (_, page, _) = kiosk.get(&ticket_page).await;
    assert!(page.contains("A001"), "{page}");
    assert!(page.contains("Anda berikutnya"), "{page}");
    assert!(
        page.contains("data:image/svg+xml;base64,"),
        "a QR code to follow it"
    );

    // A second ticket, cancelled by its holder; cancelling twice is refused.
    let (_, _, location) = kiosk
        .post(
            "/kiosk/among-warga-kota-batu/tiket",
            &[("csrf", &csrf), ("service", &service)],
        )
        .await;
    let second = location.expect("ticket").replace("?cetak=1", "");
    let (status, _, _) = kiosk
        .post(&format!("{second}/batal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = kiosk.get(&second).await;
    assert!(page.contains("Dibatalkan"), "{page}");
    let (status, page, _) = kiosk
        .post(&format!("{second}/batal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 409);
    assert!(page.contains("dibatalkan"), "{page}");
    // The night node refuses new tickets, with the reason.
    let mut late = Browser::new(&node2);
    late.get("/kiosk/among-warga-kota-batu").await;
    let csrf2 = late.csrf();
    let (status, page, _) = late
        .post(
            "/kiosk/among-warga-kota-batu/tiket",
            &[("csrf", &csrf2), ("service", &service)],
        )
        .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("MPP sedang tutup"));

    // The board's feed on node 2, from the beginning.
    let feed = node2
        .http
        .get(node2.url("/papan/among-warga-kota-batu/peristiwa"))
        .send()
        .await
        .expect("feed");
    assert_eq!(feed.status(), 200);
    assert!(
        feed.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );

    // The officer of Dispendukcapil calls next at loket 1.
    let mut officer = crate::staff::staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    let (_, home, _) = officer.get("/staf").await;
    let at = home.find("/staf/loket/").expect("a console link");
    let console = home[at..at + "/staf/loket/".len() + 36].to_owned();
    let (status, page, _) = officer.get(&console).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("A001"), "the ticket waits: {page}");
    let csrf = officer.csrf();
    let (status, _, _) = officer
        .post(&console, &[("csrf", &csrf), ("action", "next")])
        .await;
    assert_eq!(status, 303);

    // The board hears the call, with its words.
    let mut feed = feed;
    let mut text = String::new();
    for _ in 0..40 {
        match tokio::time::timeout(std::time::Duration::from_millis(250), feed.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if text.contains("A001") {
                    break;
                }
            }
            _ => continue,
        }
    }
    assert!(text.contains("id: 1"), "{text}");
    assert!(
        text.contains("Nomor antrean A nol nol satu, silakan ke loket satu"),
        "{text}"
    );
    let (_, page, _) = kiosk.get(&ticket_page).await;
    assert!(
        page.contains("Loket 1"),
        "the ticket page shows the counter: {page}"
    );

    // Served and finished; the page says so and stops refreshing.
    let (_, page, _) = officer.get(&console).await;
    let at = page
        .find("name=\"ticket\" value=\"")
        .expect("current ticket")
        + "name=\"ticket\" value=\"".len();
    let ticket = page[at..at + 36].to_owned();
    for action in ["start", "finish"] {
        let (status, _, _) = officer
            .post(
                &console,
                &[("csrf", &csrf), ("action", action), ("ticket", &ticket)],
            )
            .await;
        assert_eq!(status, 303, "{action}");
    }
    let (_, page, _) = kiosk.get(&ticket_page).await;
    assert!(page.contains("Selesai"), "{page}");
    assert!(
        page.contains("data-live=\"false\""),
        "a final ticket stops updating"
    );
    // An officer of another UPP cannot work this counter.
    let mut other = crate::staff::staff_signed_in(&app, "petugas.polres@demo.mpp.id").await;
    let (status, _, _) = other.get(&console).await;
    assert_eq!(status, 403);
    // The day's statistics: the manager sees Dispendukcapil's figures and downloads them.
    let mut manager = crate::staff::staff_signed_in(&app, crate::staff::MANAGER).await;
    let (status, page, _) = manager
        .get("/staf/statistik/among-warga-kota-batu?hari=2026-12-01")
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Dispendukcapil Kota Batu"), "{page}");
    let (status, page, _) = manager
        .get("/staf/statistik/among-warga-kota-batu?hari=kemarin")
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("TTTT-BB-HH"), "{page}");
    let (status, csv, _) = manager
        .get("/staf/statistik-csv/among-warga-kota-batu?hari=2026-12-01")
        .await;
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("day,group,name,tickets,done,no_shows,cancelled,"),
        "{csv}"
    );
    assert!(
        csv.contains("2026-12-01,upp,Dispendukcapil Kota Batu,2,1,0,1,"),
        "{csv}"
    );
    // The officer may not.
    let (status, _, _) = other.get("/staf/statistik/among-warga-kota-batu").await;
    assert_eq!(status, 403);
    // The UPP admin adds a counter and a booking rule; bad numbers are refused with the reason.
    let mut admin = crate::staff::staff_signed_in(&app, "admin.dukcapil@demo.mpp.id").await;
    let (_, home, _) = admin.get("/staf").await;
    let at = home.find("/staf/antrean/").expect("setup link");
    let setup = home[at..at + "/staf/antrean/".len() + 36].to_owned();
    let acsrf = admin.csrf();
    let (status, page, _) = admin
        .post(
            &setup,
            &[("csrf", &acsrf), ("what", "counter"), ("number", "1")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("sudah dipakai"), "{page}");
    let (status, _, _) = admin
        .post(
            &setup,
            &[
                ("csrf", &acsrf),
                ("what", "counter"),
                ("number", "40"),
                ("name", "Loket Prioritas"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = admin
        .post(
            &setup,
            &[
                ("csrf", &acsrf),
                ("what", "rule"),
                ("service", &service),
                ("slot_minutes", "20"),
                ("quota", "2"),
                ("days_ahead", "7"),
                ("release_time", "07:00"),
                ("cutoff", "30"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = admin.get(&setup).await;
    assert!(
        page.contains("Loket Prioritas (40)") && page.contains("20 menit × 2 orang"),
        "{page}"
    );
    // The new counter serves only the KTP-el service; then it is removed (it never served).
    let at = page.find("Loket Prioritas (40)").expect("the counter");
    let at = page[at..].find("/loket/").expect("its forms") + at;
    let counter_form = format!("{setup}{}", &page[at..at + "/loket/".len() + 36]);
    let (status, page, _) = admin
        .post(&counter_form, &[("csrf", &acsrf), ("what", "services")])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("Pilih sedikitnya satu layanan"), "{page}");
    let (status, _, _) = admin
        .post(
            &counter_form,
            &[
                ("csrf", &acsrf),
                ("what", "services"),
                ("service", &service),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = admin.get(&setup).await;
    let at = page.find("Loket Prioritas (40)").expect("the counter");
    let end = page[at..].find("</details>").expect("its end") + at;
    assert_eq!(page[at..end].matches(" checked").count(), 1, "one service");
    let (status, _, _) = admin
        .post(&counter_form, &[("csrf", &acsrf), ("what", "remove")])
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = admin.get(&setup).await;
    assert!(!page.contains("Loket Prioritas (40)"), "removed");
    // A counter that served keeps its history: it can be closed, not removed.
    let at = page.find("Loket 1 (1)").expect("counter 1");
    let at = page[at..].find("/loket/").expect("its forms") + at;
    let used = format!("{setup}{}", &page[at..at + "/loket/".len() + 36]);
    let (status, page, _) = admin
        .post(&used, &[("csrf", &acsrf), ("what", "remove")])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("riwayatnya disimpan"), "{page}");
    assert_eq!(
        crate::support::count_in(
            app.db(),
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('counter.services', 'counter.remove')"
        )
        .await,
        2
    );
    let (status, _, _) = other.get(&setup).await;
    assert_eq!(status, 403, "an officer of another UPP");
    // Each console action is audited.
    assert_eq!(
        crate::support::count_in(app.db(), "SELECT COUNT(*) FROM audit_log WHERE action IN ('ticket.call', 'ticket.start', 'ticket.finish')").await,
        3
    );
}

both_engines!(
    no_slot_is_ever_booked_beyond_its_quota,
    bookings_are_idempotent_one_per_day_and_check_in_once,
    moves_never_overfill_a_slot_and_no_shows_are_released,
    the_server_s_booking_path_never_oversells_and_keeps_retries_to_one,
);

/// The path the server books through (SQLite: the group writer, one transaction for many
/// bookings; PostgreSQL: one transaction each): 60 citizens, each sending their request twice
/// with one key, for 10 places at once. Exactly 10 bookings exist, each answered to both of its
/// requests, and no one is answered a booking that is not stored.
async fn the_server_s_booking_path_never_oversells_and_keeps_retries_to_one(engine: Engine) {
    use mpp::storage::bookings::{self, BookError, GroupCommit, NewBooking};
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = demo(&tmp).await;
    let slot = one_slot(&tmp.db, place.services[0], 10).await;
    let people = citizens(&tmp.db, 60).await;
    let group = GroupCommit::start(&tmp.db);
    assert_eq!(group.is_some(), engine == Engine::Sqlite);
    let barrier = Arc::new(Barrier::new(people.len() * 2));
    let mut tasks = Vec::new();
    for (i, person) in people.into_iter().enumerate() {
        for j in 0..2 {
            let (db, barrier, group) = (tmp.db.clone(), barrier.clone(), group.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let code = format!("G{i:03}{j}");
                let new = NewBooking {
                    slot_id: slot,
                    account_id: person,
                    code: &code,
                    idempotency_key: "same-key",
                };
                let made = match &group {
                    Some(g) => g.book(&db, new, Utc::now()).await,
                    None => bookings::book(&db, new, Utc::now()).await,
                };
                (person, made)
            }));
        }
    }
    let mut answered = std::collections::HashMap::new();
    let mut full = 0;
    for t in tasks {
        match t.await.expect("task") {
            (person, Ok(b)) => {
                assert_eq!(b.account_id, person);
                let first = answered.entry(person).or_insert(b.id);
                assert_eq!(*first, b.id, "both requests of one citizen get one booking");
            }
            (_, Err(BookError::Full)) => full += 1,
            (_, Err(e)) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(answered.len(), 10, "{full} refused");
    assert_eq!(
        crate::support::count_in(&tmp.db, "SELECT COUNT(*) FROM bookings").await,
        10
    );
    let s = bookings::slot(&tmp.db, slot).await.expect("s").expect("s");
    assert_eq!(s.booked, 10);
}

/// `n` citizens' accounts, made directly.
pub(crate) async fn citizens(db: &Db, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        let hash = format!("hash-{id}-{i}");
        let sql = "INSERT INTO accounts (id, kind, identifier_kind, identifier_hash, identifier_sealed, created_at) \
                   VALUES ($1, 'citizen', 'email', $2, $3, '2026-11-29T00:00:00Z')";
        match db {
            Db::Sqlite(pool) => sqlx::query(sql)
                .bind(id)
                .bind(hash.as_bytes())
                .bind(b"x".as_slice())
                .execute(pool)
                .await
                .map(|_| ()),
            Db::Postgres(pool) => sqlx::query(sql)
                .bind(id)
                .bind(hash.as_bytes())
                .bind(b"x".as_slice())
                .execute(pool)
                .await
                .map(|_| ()),
        }
        .expect("account");
        ids.push(id);
    }
    ids
}

async fn one_slot(db: &Db, service: Uuid, quota: i32) -> Uuid {
    use mpp::storage::bookings::{self, NewSlot};
    let starts = chrono::DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
        .expect("t")
        .with_timezone(&Utc);
    bookings::ensure_slots(
        db,
        service,
        quota,
        &[NewSlot {
            day: "2026-12-01".into(),
            starts_at: starts,
            ends_at: starts + chrono::Duration::minutes(30),
        }],
    )
    .await
    .expect("slot");
    bookings::slots(db, service, "2026-12-01")
        .await
        .expect("slots")[0]
        .id
}

async fn slot_at(db: &Db, service: Uuid, starts: &str, quota: i32) -> Uuid {
    use mpp::storage::bookings::{self, NewSlot};
    let starts = chrono::DateTime::parse_from_rfc3339(starts)
        .expect("t")
        .with_timezone(&Utc);
    bookings::ensure_slots(
        db,
        service,
        quota,
        &[NewSlot {
            day: "2026-12-01".into(),
            starts_at: starts,
            ends_at: starts + chrono::Duration::minutes(30),
        }],
    )
    .await
    .expect("slot");
    bookings::slots(db, service, "2026-12-01")
        .await
        .expect("slots")
        .into_iter()
        .find(|s| s.starts_at == mpp::storage::accounts::timestamp(starts))
        .expect("the slot")
        .id
}

/// 12 holders of slot A move to slot B (5 places) at the same moment: exactly 5 move, and the
/// counts of A and B still add up to 12. Then the sweep marks A's bookings as no-shows once
/// their grace has passed, which frees their holders to book again; a check-in beyond the
/// grace is refused.
async fn moves_never_overfill_a_slot_and_no_shows_are_released(engine: Engine) {
    use mpp::storage::bookings::{self, BookError, CheckInError, NewBooking};
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = Arc::new(demo(&tmp).await);
    let service = place.services[0];
    let a = slot_at(&tmp.db, service, "2026-12-01T02:00:00Z", 20).await;
    let b = slot_at(&tmp.db, service, "2026-12-01T04:00:00Z", 5).await;
    let people = citizens(&tmp.db, 12).await;
    let mut held = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let code = format!("M{i:07}");
        let booking = bookings::book(
            &tmp.db,
            NewBooking {
                slot_id: a,
                account_id: *person,
                code: &code,
                idempotency_key: "k",
            },
            Utc::now(),
        )
        .await
        .expect("booked");
        held.push((booking.id, *person));
    }
    let barrier = Arc::new(Barrier::new(held.len()));
    let mut tasks = Vec::new();
    for (id, person) in held.clone() {
        let (db, barrier) = (tmp.db.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            bookings::reschedule(&db, id, person, b).await
        }));
    }
    let (mut moved, mut full) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(booking) => {
                assert_eq!(booking.slot_id, b);
                moved += 1;
            }
            Err(BookError::Full) => full += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((moved, full), (5, 7));
    let count = |id| {
        let db = tmp.db.clone();
        async move { bookings::slot(&db, id).await.expect("s").expect("s").booked }
    };
    assert_eq!((count(a).await, count(b).await), (7, 5));
    // Someone else's booking cannot be moved.
    let (id, _) = held[0];
    assert!(matches!(
        bookings::reschedule(&tmp.db, id, Uuid::now_v7(), a).await,
        Err(BookError::NoBooking)
    ));

    // 20 minutes after A started, its 7 bookings become no-shows; B's do not.
    let a_start = chrono::DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
        .expect("t")
        .with_timezone(&Utc);
    let swept = bookings::mark_no_shows(&tmp.db, a_start + chrono::Duration::minutes(5))
        .await
        .expect("sweep");
    assert_eq!(swept, 7);
    assert_eq!(
        crate::support::count_in(
            &tmp.db,
            "SELECT COUNT(*) FROM bookings WHERE state = 'no_show'"
        )
        .await,
        7
    );
    // A no-show's holder may book again that day.
    let no_show: Uuid = match &tmp.db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT account_id FROM bookings WHERE state = 'no_show' LIMIT 1")
                .fetch_one(pool)
                .await
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT account_id FROM bookings WHERE state = 'no_show' LIMIT 1")
                .fetch_one(pool)
                .await
        }
    }
    .expect("a no-show");
    bookings::book(
        &tmp.db,
        NewBooking {
            slot_id: a,
            account_id: no_show,
            code: "AGAIN234",
            idempotency_key: "again",
        },
        Utc::now(),
    )
    .await
    .expect("booked again");
    // A check-in 20 minutes after B's start is refused; 10 minutes after is accepted.
    let code: String = match &tmp.db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT code FROM bookings WHERE state = 'booked' AND slot_id = $1 LIMIT 1",
            )
            .bind(b)
            .fetch_one(pool)
            .await
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT code FROM bookings WHERE state = 'booked' AND slot_id = $1 LIMIT 1",
            )
            .bind(b)
            .fetch_one(pool)
            .await
        }
    }
    .expect("a booking in B");
    let b_start = chrono::DateTime::parse_from_rfc3339("2026-12-01T04:00:00Z")
        .expect("t")
        .with_timezone(&Utc);
    let ticket = |booking: &bookings::BookingRow, _: &bookings::SlotRow| NewTicket {
        mpp_id: place.mpp,
        tenant_id: place.tenant,
        service_id: booking.service_id,
        day: "2026-12-01".into(),
        priority: false,
        kind: "booking",
        due_at: b_start,
    };
    assert!(matches!(
        bookings::check_in(
            &tmp.db,
            &code,
            "2026-12-01",
            ticket,
            b_start + chrono::Duration::minutes(20)
        )
        .await,
        Err(CheckInError::Late)
    ));
    bookings::check_in(
        &tmp.db,
        &code,
        "2026-12-01",
        ticket,
        b_start + chrono::Duration::minutes(10),
    )
    .await
    .expect("in time");
}

async fn no_slot_is_ever_booked_beyond_its_quota(engine: Engine) {
    use mpp::storage::bookings::{self, BookError, NewBooking};
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = demo(&tmp).await;
    let slot = one_slot(&tmp.db, place.services[0], 10).await;
    let people = citizens(&tmp.db, 60).await;
    let barrier = Arc::new(Barrier::new(people.len()));
    let mut tasks = Vec::new();
    for (i, person) in people.into_iter().enumerate() {
        let (db, barrier) = (tmp.db.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let code = format!("C{i:07}");
            bookings::book(
                &db,
                NewBooking {
                    slot_id: slot,
                    account_id: person,
                    code: &code,
                    idempotency_key: "k",
                },
                Utc::now(),
            )
            .await
        }));
    }
    let (mut ok, mut full) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(BookError::Full) => full += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((ok, full), (10, 50));
    let s = bookings::slot(&tmp.db, slot)
        .await
        .expect("slot")
        .expect("exists");
    assert_eq!(s.booked, 10);
    assert_eq!(
        crate::support::count_in(&tmp.db, "SELECT COUNT(*) FROM bookings").await,
        10
    );
}

async fn bookings_are_idempotent_one_per_day_and_check_in_once(engine: Engine) {
    use mpp::storage::bookings::{self, BookError, NewBooking};
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = Arc::new(demo(&tmp).await);
    let slot = one_slot(&tmp.db, place.services[0], 5).await;
    let person = citizens(&tmp.db, 1).await[0];
    let first = bookings::book(
        &tmp.db,
        NewBooking {
            slot_id: slot,
            account_id: person,
            code: "ABCD2345",
            idempotency_key: "form-1",
        },
        Utc::now(),
    )
    .await
    .expect("booked");
    let retried = bookings::book(
        &tmp.db,
        NewBooking {
            slot_id: slot,
            account_id: person,
            code: "ZZZZ9999",
            idempotency_key: "form-1",
        },
        Utc::now(),
    )
    .await
    .expect("the same booking");
    assert_eq!(first.id, retried.id);
    assert!(matches!(
        bookings::book(&tmp.db, NewBooking { slot_id: slot, account_id: person, code: "YYYY8888", idempotency_key: "form-2" }, Utc::now()).await,
        Err(BookError::AlreadyBooked(id)) if id == first.id
    ));
    assert_eq!(
        bookings::slot(&tmp.db, slot)
            .await
            .expect("s")
            .expect("s")
            .booked,
        1,
        "refusals left the count alone"
    );

    // Two kiosks scan the same code at once: one ticket.
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (db, barrier, place) = (tmp.db.clone(), barrier.clone(), place.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            bookings::check_in(
                &db,
                "ABCD2345",
                "2026-12-01",
                |b, _| NewTicket {
                    mpp_id: place.mpp,
                    tenant_id: place.tenant,
                    service_id: b.service_id,
                    day: "2026-12-01".into(),
                    priority: false,
                    kind: "booking",
                    due_at: Utc::now(),
                },
                Utc::now(),
            )
            .await
            .expect("checked in")
        }));
    }
    let a = tasks.remove(0).await.expect("task");
    let b = tasks.remove(0).await.expect("task");
    assert_eq!(a.id, b.id, "one ticket");
    assert_eq!(
        crate::support::count_in(&tmp.db, "SELECT COUNT(*) FROM tickets").await,
        1
    );
    // Cancelling is no longer possible once checked in.
    assert!(
        !bookings::cancel(&tmp.db, first.id, person)
            .await
            .expect("cancel")
    );
}

both_engines!(
    a_citizen_books_a_slot_and_checks_in_at_the_kiosk,
    a_citizen_moves_a_booking_from_its_page
);

/// The value of the first `name="…" value="…"` input at or after `from` in `page`.
fn input_value(page: &str, name: &str, from: usize) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page[from..].find(&marker).expect(name) + from + marker.len();
    page[at..at + page[at..].find('"').expect("end")].to_owned()
}

/// Book tomorrow, move to the day after from the booking's page: same code, the new time.
async fn a_citizen_moves_a_booking_from_its_page(engine: Engine) {
    use crate::accounts::signed_in;
    use crate::support::TestApp;
    let settings = mpp::http::Settings {
        clock: open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    let service = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] == "dispendukcapil")
        .expect("KTP-el")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Only services that take bookings offer the link.
    let (_, page) = app.get_text(&format!("/layanan/{service}")).await;
    assert!(page.contains("Pesan jadwal kedatangan"), "{page}");
    let (_, all) = app
        .get_json("/api/v1/services?mpp=among-warga-kota-batu&per_page=100")
        .await;
    let other = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] != "dispendukcapil")
        .expect("a service of another UPP")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, page) = app.get_text(&format!("/layanan/{other}")).await;
    assert!(!page.contains("Pesan jadwal kedatangan"), "{page}");
    let mut citizen = signed_in(&app, "pindah@contoh.id", "pindah@contoh.id").await;
    let (_, page, _) = citizen
        .get(&format!("/layanan/{service}/pesan?hari=2026-12-02"))
        .await;
    let (slot, key) = (input_value(&page, "slot", 0), input_value(&page, "key", 0));
    let csrf = citizen.csrf();
    let (status, _, location) = citizen
        .post(
            &format!("/layanan/{service}/pesan"),
            &[
                ("csrf", csrf.as_str()),
                ("slot", slot.as_str()),
                ("key", key.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let booking = location.expect("the booking");
    let id = booking.trim_start_matches("/akun/pesanan/").to_owned();
    let (_, page, _) = citizen.get(&booking).await;
    assert!(page.contains("02-12-2026 08:00"), "{page}");
    let move_link = format!("/layanan/{service}/pesan?pindah={id}");
    assert!(page.contains(&move_link), "{page}");
    let (_, page, _) = citizen.get(&format!("{move_link}&hari=2026-12-03")).await;
    assert!(page.contains("Pindah jadwal kedatangan"), "{page}");
    let form = page
        .find(&format!("action=\"/akun/pesanan/{id}/pindah\""))
        .expect("the form moves the booking");
    // The third slot of the day: 09:00–09:30.
    let first = page[form..].find("name=\"slot\"").expect("slots") + form;
    let second = page[first + 1..].find("name=\"slot\"").expect("2") + first + 1;
    let third = page[second + 1..].find("name=\"slot\"").expect("3") + second + 1;
    let target = input_value(&page, "slot", third - 1);
    let (status, _, location) = citizen
        .post(
            &format!("/akun/pesanan/{id}/pindah"),
            &[
                ("csrf", csrf.as_str()),
                ("slot", target.as_str()),
                ("key", ""),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = citizen.get(&location.expect("moved")).await;
    assert!(page.contains("Jadwal pesanan sudah dipindah"), "{page}");
    assert!(page.contains("03-12-2026 09:00"), "{page}");
    // Someone else cannot move it.
    let mut other = signed_in(&app, "bukan.pemilik@contoh.id", "bukan.pemilik@contoh.id").await;
    other.get("/").await;
    let ocsrf = other.csrf();
    let (status, _, _) = other
        .post(
            &format!("/akun/pesanan/{id}/pindah"),
            &[
                ("csrf", ocsrf.as_str()),
                ("slot", slot.as_str()),
                ("key", ""),
            ],
        )
        .await;
    assert_eq!(status, 404);
}

async fn a_citizen_books_a_slot_and_checks_in_at_the_kiosk(engine: Engine) {
    use crate::accounts::{Browser, signed_in};
    use crate::support::TestApp;
    let settings = mpp::http::Settings {
        clock: open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    let service = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] == "dispendukcapil")
        .expect("KTP-el")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Anonymous visitors are sent to sign in.
    let mut anonymous = Browser::new(&app);
    let (status, _, location) = anonymous.get(&format!("/layanan/{service}/pesan")).await;
    assert_eq!((status, location.as_deref()), (303, Some("/masuk")));

    let mut citizen = signed_in(&app, "pemesan@contoh.id", "pemesan@contoh.id").await;
    let (status, page, _) = citizen.get(&format!("/layanan/{service}/pesan")).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("10:30–11:00"),
        "today's slots from now on: {page}"
    );
    assert!(
        !page.contains("10:00–10:30"),
        "a slot already begun is not offered"
    );
    assert!(
        !page.contains("08:00–08:30"),
        "slots already begun are not offered"
    );
    assert!(page.contains("sisa 4"));
    let at = page.find("name=\"slot\" value=\"").expect("a slot") + "name=\"slot\" value=\"".len();
    let slot = page[at..at + 36].to_owned();
    let at = page.find("name=\"key\" value=\"").expect("a key") + "name=\"key\" value=\"".len();
    let key = page[at..at + page[at..].find('"').expect("end")].to_owned();
    let csrf = citizen.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("slot", slot.as_str()),
        ("key", key.as_str()),
    ];
    let (status, _, location) = citizen
        .post(&format!("/layanan/{service}/pesan"), &form)
        .await;
    assert_eq!(status, 303);
    let booking_page = location.expect("the booking");
    // A double submit (the same form sent twice) makes one booking.
    let (_, _, again) = citizen
        .post(&format!("/layanan/{service}/pesan"), &form)
        .await;
    assert_eq!(again.as_deref(), Some(booking_page.as_str()));
    assert_eq!(
        crate::support::count_in(app.db(), "SELECT COUNT(*) FROM bookings").await,
        1
    );
    let (_, page, _) = citizen.get(&booking_page).await;
    let at =
        page.find("class=\"ticket-code\">").expect("the code") + "class=\"ticket-code\">".len();
    let code = page[at..at + 8].to_owned();
    assert!(page.contains("data:image/svg+xml;base64,"), "a QR code");
    // Another citizen cannot see it.
    let mut other = signed_in(&app, "lain@contoh.id", "lain@contoh.id").await;
    let (status, _, _) = other.get(&booking_page).await;
    assert_eq!(status, 404);

    // Too close to the slot (30 minutes, the cut-off is 60): cancelling is refused.
    let (status, page, _) = citizen
        .post(&format!("{booking_page}/batal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 409);
    assert!(
        page.contains("Batas waktu untuk membatalkan atau memindahkan pesanan ini sudah lewat"),
        "{page}"
    );
    // The other citizen books tomorrow and cancels: the place goes back.
    let tomorrow = format!("/layanan/{service}/pesan?hari=2026-12-02");
    let (_, page, _) = other.get(&tomorrow).await;
    let at = page.find("name=\"slot\" value=\"").expect("a slot") + "name=\"slot\" value=\"".len();
    let other_slot = page[at..at + 36].to_owned();
    let at = page.find("name=\"key\" value=\"").expect("a key") + "name=\"key\" value=\"".len();
    let other_key = page[at..at + page[at..].find('"').expect("end")].to_owned();
    let ocsrf = other.csrf();
    let (status, _, location) = other
        .post(
            &format!("/layanan/{service}/pesan"),
            &[
                ("csrf", ocsrf.as_str()),
                ("slot", other_slot.as_str()),
                ("key", other_key.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let other_booking = location.expect("booking");
    let (_, page, _) = other.get(&tomorrow).await;
    assert!(page.contains("sisa 3"), "one place taken: {page}");
    let (status, _, _) = citizen
        .post(&format!("{other_booking}/batal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 404, "nobody cancels someone else's booking");
    let (status, _, _) = other
        .post(&format!("{other_booking}/batal"), &[("csrf", &ocsrf)])
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = other.get(&other_booking).await;
    assert!(page.contains("Dibatalkan"), "{page}");
    let (_, page, _) = other.get(&tomorrow).await;
    assert!(
        !page.contains("sisa 3"),
        "the cancelled place is free again: {page}"
    );
    // At the kiosk: a wrong code is refused; the right one gives a ticket, once.
    let mut kiosk = Browser::new(&app);
    kiosk.get("/kiosk/among-warga-kota-batu").await;
    let kcsrf = kiosk.csrf();
    let (status, _, _) = kiosk
        .post(
            "/kiosk/among-warga-kota-batu/lapor",
            &[("csrf", &kcsrf), ("code", "ZZZZZZZZ")],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, location) = kiosk
        .post(
            "/kiosk/among-warga-kota-batu/lapor",
            &[("csrf", &kcsrf), ("code", &code.to_lowercase())],
        )
        .await;
    assert_eq!(status, 303);
    let ticket = location.expect("ticket");
    let (_, _, again) = kiosk
        .post(
            "/kiosk/among-warga-kota-batu/lapor",
            &[("csrf", &kcsrf), ("code", &code)],
        )
        .await;
    assert_eq!(again, Some(ticket.clone()), "the same ticket");
    let (_, page, _) = kiosk.get(&ticket.replace("?cetak=1", "")).await;
    assert!(page.contains("A001"), "{page}");
    let (_, page, _) = citizen.get(&booking_page).await;
    assert!(page.contains("Sudah lapor di kios"), "{page}");
    assert!(
        !page.contains("Batalkan pesanan"),
        "checked in: no cancelling"
    );
}

both_engines!(a_restart_keeps_every_ticket_and_its_state);

/// Tickets, their states and the board's events live in the database: after the pool is
/// closed and the database opened again (a restart), each ticket is as it was and the next
/// number follows on.
async fn a_restart_keeps_every_ticket_and_its_state(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let place = demo(&tmp).await;
    let waiting = queue::issue_ticket(
        &tmp.db,
        walk_in(&place, place.services[0], false),
        Utc::now(),
    )
    .await
    .expect("t");
    let called = queue::issue_ticket(
        &tmp.db,
        walk_in(&place, place.services[0], true),
        Utc::now(),
    )
    .await
    .expect("t");
    let counter = open_counter(&tmp.db, &place, 1).await;
    let first = queue::call_next(&tmp.db, counter, "test", "/", Utc::now())
        .await
        .expect("call")
        .expect("one");
    assert_eq!(first.id, called.id, "the priority lane first");
    tmp.db.close().await;
    let db = Db::connect(&tmp.url).await.expect("open again");
    let again = queue::ticket(&db, called.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        (again.state.as_str(), again.counter_id),
        ("called", Some(counter))
    );
    let again = queue::ticket(&db, waiting.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(again.state, "waiting");
    let next = queue::issue_ticket(&db, walk_in(&place, place.services[0], false), Utc::now())
        .await
        .expect("t");
    assert_eq!(next.code, "A003");
    assert_eq!(
        queue::events_after(&db, place.mpp, 0, 10)
            .await
            .expect("events")
            .len(),
        1
    );
    db.close().await;
}
