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
);

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
