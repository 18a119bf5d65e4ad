//! Applications in storage: every step decided by the domain's state machine inside the step's
//! transaction, on both engines.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use mpp::catalog::Catalog;
use mpp::domain::application::{ApplicationAction as A, Entered, due_date};
use mpp::domain::calendar::{CalendarRules, WorkingCalendar};
use mpp::storage::applications::{self, NewApplication, Step, StepError};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::both_engines;
use crate::support::{Engine, TempDb};

both_engines!(an_application_moves_only_by_legal_steps_and_keeps_its_history);

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

async fn an_application_moves_only_by_legal_steps_and_keeps_its_history(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    mpp::demo::load_if_empty(&tmp.db).await.expect("demo");
    let catalog = Catalog::load(&tmp.db).await.expect("catalog");
    let m = catalog.mpp("among-warga-kota-batu").expect("mpp");
    let t = catalog.tenant(m, "dispendukcapil").expect("tenant");
    let service = &catalog.services[t.services[0]];
    let citizen = crate::queue::citizens(&tmp.db, 1).await[0];
    let officers = crate::queue::citizens(&tmp.db, 2).await;

    let version = applications::save_form(&tmp.db, service.id, r#"{"fields":[]}"#, "test", "/")
        .await
        .expect("form");
    assert_eq!(version, 1);
    let new = || NewApplication {
        service_id: service.id,
        tenant_id: t.id,
        mpp_id: m.id,
        account_id: citizen,
        tracking_code: "MPP-TEST-0001",
        answers_sealed: b"sealed answers",
        form_version: version,
        limit_days: Some(5),
        idempotency_key: "draft-1",
    };
    let draft = applications::create_draft(&tmp.db, new(), Utc::now())
        .await
        .expect("draft");
    let again = applications::create_draft(&tmp.db, new(), Utc::now())
        .await
        .expect("same");
    assert_eq!(draft.id, again.id, "a retried start makes one draft");
    assert!(
        applications::save_answers(&tmp.db, citizen, &[answers(draft.id, b"more")], Utc::now())
            .await
            .expect("save")
    );
    assert!(
        !applications::save_answers(
            &tmp.db,
            Uuid::now_v7(),
            &[answers(draft.id, b"x")],
            Utc::now()
        )
        .await
        .expect("save"),
        "someone else's draft is not changed"
    );

    let calendar = WorkingCalendar::new(
        &[],
        CalendarRules {
            as_of: d(2026, 11, 30),
            observe_cuti_bersama: true,
            local_closures: &[],
        },
    );
    // The storage reads the history inside the step's transaction and asks this for the due date.
    let due = move |history: &[Entered]| due_date(&calendar, 5, history);
    let due = Arc::new(due);
    let take = |action: A, day: NaiveDate, assignee: Option<Uuid>| {
        let db = tmp.db.clone();
        let id = draft.id;
        let due = due.clone();
        async move {
            applications::step(
                &db,
                id,
                Step {
                    action,
                    actor: "test",
                    owner: None,
                    assignee,
                    note_sealed: None,
                    day,
                    due: due.as_ref(),
                    document: None,
                    notice: None,
                    audit_scope: "/",
                    checked: None,
                },
                Utc::now(),
            )
            .await
        }
    };
    // Approving a draft is refused and changes nothing.
    let refused = take(A::Approve, d(2026, 11, 30), None).await;
    assert!(matches!(refused, Err(StepError::Illegal(_))));
    let submitted = take(A::Submit, d(2026, 11, 30), None)
        .await
        .expect("submit");
    assert_eq!(
        (submitted.state.as_str(), submitted.due_on.as_deref()),
        ("submitted", Some("2026-12-07"))
    );

    // Two officers take it at the same moment: one gets it.
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for officer in officers.clone() {
        let (db, barrier, id) = (tmp.db.clone(), barrier.clone(), draft.id);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            applications::step(
                &db,
                id,
                Step {
                    action: A::Take,
                    actor: "officer",
                    owner: None,
                    assignee: Some(officer),
                    note_sealed: None,
                    day: d(2026, 12, 1),
                    due: &|_: &[Entered]| Some(d(2026, 12, 7)),
                    document: None,
                    notice: None,
                    audit_scope: "/",
                    checked: None,
                },
                Utc::now(),
            )
            .await
        }));
    }
    let mut took = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(row) => {
                took += 1;
                assert!(officers.contains(&row.assignee_id.expect("assignee")));
            }
            Err(StepError::Illegal(_)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(took, 1);

    // A revision from Tuesday to Thursday moves the limit two working days.
    take(A::RequestRevision, d(2026, 12, 1), None)
        .await
        .expect("revision");
    assert!(matches!(
        take(A::Approve, d(2026, 12, 2), None).await,
        Err(StepError::Illegal(_))
    ));
    let back = take(A::Resubmit, d(2026, 12, 3), None)
        .await
        .expect("resubmit");
    assert_eq!(back.due_on.as_deref(), Some("2026-12-09"));
    for action in [A::Take, A::Approve, A::AttachOutput, A::MarkCollected] {
        take(action, d(2026, 12, 4), officers.first().copied())
            .await
            .expect("step");
    }
    // Final: nothing more.
    for action in A::ALL {
        assert!(matches!(
            take(action, d(2026, 12, 5), None).await,
            Err(StepError::Illegal(_))
        ));
    }
    let history = applications::history(&tmp.db, draft.id)
        .await
        .expect("history");
    let steps: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        steps,
        vec![
            "submit",
            "take",
            "request_revision",
            "resubmit",
            "take",
            "approve",
            "attach_output",
            "mark_collected"
        ]
    );
    let row = applications::application(&tmp.db, draft.id)
        .await
        .expect("a")
        .expect("a");
    assert_eq!(row.state, "collected");
    assert_eq!(
        crate::support::count_in(
            &tmp.db,
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'application.%'"
        )
        .await,
        8
    );
}

both_engines!(the_watch_tells_upp_admins_and_managers_once_per_level);

/// An application nearing its limit and one past it: the UPP's admin and the MPP's manager
/// are told once for each level, however often the watch runs.
async fn the_watch_tells_upp_admins_and_managers_once_per_level(engine: Engine) {
    let settings = crate::support::test_settings();
    let keys = settings.keys.clone();
    let Some(app) = crate::support::TestApp::demo_with(engine, settings).await else {
        return;
    };
    let db = app.db().clone();
    let catalog = Catalog::load(&db).await.expect("catalog");
    let m = catalog.mpp("among-warga-kota-batu").expect("mpp");
    let t = catalog.tenant(m, "dispendukcapil").expect("tenant");
    let service = &catalog.services[t.services[0]];
    let citizen = crate::queue::citizens(&db, 1).await[0];
    let mut ids = Vec::new();
    for (key, due) in [("soon", d(2026, 12, 2)), ("late", d(2026, 11, 27))] {
        let draft = applications::create_draft(
            &db,
            NewApplication {
                service_id: service.id,
                tenant_id: t.id,
                mpp_id: m.id,
                account_id: citizen,
                tracking_code: &format!("PMH-TEST-0000-{key}"),
                answers_sealed: b"x",
                form_version: 1,
                limit_days: Some(1),
                idempotency_key: key,
            },
            Utc::now(),
        )
        .await
        .expect("draft");
        applications::step(
            &db,
            draft.id,
            Step {
                action: A::Submit,
                actor: "test",
                owner: None,
                assignee: None,
                note_sealed: None,
                day: d(2026, 11, 26),
                due: &move |_: &[Entered]| Some(due),
                document: None,
                notice: None,
                audit_scope: "/",
                checked: None,
            },
            Utc::now(),
        )
        .await
        .expect("submit");
        ids.push(draft.id);
    }
    // Tuesday 1 December 2026, 10:00 WIB.
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T03:00:00Z")
        .expect("instant")
        .with_timezone(&Utc);
    let outbox = "SELECT COUNT(*) FROM outbox WHERE subject LIKE '%batas waktu%'";
    let raised = mpp::time_limits::check_once(&db, &catalog, &keys, "http://mpp.test", now)
        .await
        .expect("watch");
    assert_eq!(raised, 2);
    // One Dispendukcapil admin and one MPP manager in the demo, for each application.
    assert_eq!(crate::support::count_in(&db, outbox).await, 4);
    assert_eq!(
        crate::support::count_in(
            &db,
            "SELECT COUNT(*) FROM applications WHERE sla_flag IS NOT NULL"
        )
        .await,
        2
    );
    let again = mpp::time_limits::check_once(&db, &catalog, &keys, "http://mpp.test", now)
        .await
        .expect("watch");
    assert_eq!(again, 0, "each level once");
    assert_eq!(crate::support::count_in(&db, outbox).await, 4);
    // On its last day it is still only due; the day after, it is past its limit: one more
    // warning for it.
    let last_day = now + chrono::Duration::days(1);
    assert_eq!(
        mpp::time_limits::check_once(&db, &catalog, &keys, "http://mpp.test", last_day)
            .await
            .expect("watch"),
        0
    );
    let later = now + chrono::Duration::days(2);
    let raised = mpp::time_limits::check_once(&db, &catalog, &keys, "http://mpp.test", later)
        .await
        .expect("watch");
    assert_eq!(raised, 1);
    assert_eq!(crate::support::count_in(&db, outbox).await, 6);
}

fn answers(id: Uuid, sealed: &[u8]) -> applications::Answers<'_> {
    applications::Answers {
        id,
        sealed,
        form_version: 1,
    }
}
