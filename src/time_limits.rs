//! The time-limit watch: every few minutes, each application whose clock runs is compared with
//! its due date on its UPP's calendar; when it enters its last working day (or the one before)
//! and again when it passes the limit, the UPP's admins and the MPP's managers are told once,
//! through the outbox (the automatic breach detection the national MPP Digital promises). The
//! inbox shows the same flags at every moment.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::NaiveDate;

use crate::catalog::{Catalog, SharedCatalog};
use crate::domain::application::{Standing, standing, warning_due};
use crate::privacy::DataKeys;
use crate::storage::accounts::NewMessage;
use crate::storage::{Db, StorageError, applications as store};

fn flag_of(raw: Option<&str>) -> Option<Standing> {
    match raw {
        Some("soon") => Some(Standing::DueSoon),
        Some("late") => Some(Standing::Late),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
}

/// One pass of the watch at `now`; returns how many warnings it raised.
pub async fn check_once(
    db: &Db,
    catalog: &Catalog,
    keys: &DataKeys,
    public_url: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, WatchError> {
    let mut raised = 0;
    for a in store::watched(db).await? {
        let (Some(mpp), Some(tenant), Ok(due)) = (
            catalog.mpp_by_id(a.mpp_id),
            catalog.tenant_by_id(a.tenant_id),
            NaiveDate::parse_from_str(&a.due_on, "%Y-%m-%d"),
        ) else {
            continue;
        };
        let today = crate::booking_desk::local_now(mpp, now).date();
        let calendar = catalog.calendar(mpp, today, tenant.observes_cuti_bersama);
        let Some(level) = warning_due(
            flag_of(a.sla_flag.as_deref()),
            standing(&calendar, today, due),
        ) else {
            continue;
        };
        let (flag, subject, words) = match level {
            Standing::Late => (
                "late",
                "Permohonan melewati batas waktu / Application past its time limit",
                "melewati batas waktu layanan / is past its time limit",
            ),
            _ => (
                "soon",
                "Permohonan mendekati batas waktu / Application due soon",
                "mendekati batas waktu layanan / is due soon",
            ),
        };
        let service = catalog
            .service(a.service_id)
            .map(|s| s.name.as_str())
            .unwrap_or_default();
        let body = format!(
            "Permohonan {code} ({service}, {tenant}) {words}: {due}.\n{url}/staf/permohonan/{tid}/{id}",
            code = a.tracking_code,
            tenant = tenant.name,
            due = due.format("%d-%m-%Y"),
            url = public_url.trim_end_matches('/'),
            tid = a.tenant_id,
            id = a.id,
        );
        let mut sealed = Vec::new();
        for (kind, identifier) in store::watchers(db, a.tenant_id, a.mpp_id).await? {
            let identifier = keys.open("account.identifier", &identifier)?;
            sealed.push((
                if kind == "email" { "email" } else { "sms" },
                keys.seal("outbox.recipient", &identifier)?,
                keys.seal("outbox.body", body.as_bytes())?,
            ));
        }
        let messages: Vec<NewMessage<'_>> = sealed
            .iter()
            .map(|(channel, recipient, body)| NewMessage {
                channel,
                recipient_sealed: recipient,
                subject,
                body_sealed: body,
            })
            .collect();
        let scope = catalog.place(mpp, Some(tenant)).audit_path();
        if store::raise_flag(db, a.id, &a.due_on, flag, &messages, &scope, now).await? {
            raised += 1;
        }
    }
    Ok(raised)
}

/// Runs the watch every `every` until the server stops.
pub async fn watch(
    db: Db,
    catalog: SharedCatalog,
    keys: Arc<DataKeys>,
    public_url: String,
    clock: crate::http::Clock,
    every: StdDuration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let snapshot = catalog.get();
        match check_once(&db, &snapshot, &keys, &public_url, clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(warnings = n, "time-limit warnings sent"),
            Err(e) => tracing::warn!(error = %e, "time-limit watch failed"),
        }
    }
}
