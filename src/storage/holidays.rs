//! Storage of the national days off (libur nasional and cuti bersama), with effective dates.

use sqlx::QueryBuilder;

use super::regions::ImportReport;
use super::{Db, StorageError, on_tx};
use crate::domain::calendar::DayOff;

/// Writes the days in one transaction, with the audit entry: new days inserted, changed names or
/// effective dates updated, identical ones untouched. Nothing is deleted.
pub async fn import(db: &Db, days: &[DayOff], actor: &str) -> Result<ImportReport, StorageError> {
    let mut tx = db.begin().await?;
    let mut written = 0;
    on_tx!(&mut tx, conn => {
        for chunk in days.chunks(500) {
            let mut q = QueryBuilder::new("INSERT INTO days_off (date, kind, name, effective_from) ");
            q.push_values(chunk, |mut b, d| {
                b.push_bind(d.date).push_bind(d.kind.as_str()).push_bind(&d.name).push_bind(d.effective_from);
            });
            q.push(
                " ON CONFLICT (date, kind) DO UPDATE SET name = excluded.name, \
                 effective_from = excluded.effective_from \
                 WHERE days_off.name IS DISTINCT FROM excluded.name \
                 OR days_off.effective_from IS DISTINCT FROM excluded.effective_from",
            );
            written += q.build().execute(&mut *conn).await?.rows_affected();
        }
        Ok::<(), sqlx::Error>(())
    })?;
    if written > 0 {
        super::catalog::bump_version(&mut tx).await?;
        let details = serde_json::json!({ "written": written, "days": days.len() });
        let entry = super::audit::NewEntry {
            actor,
            action: "holidays.import",
            scope: "national",
            subject: "",
            details,
        };
        super::audit::append(&mut tx, entry).await?;
    }
    tx.commit().await?;
    Ok(ImportReport {
        written,
        unchanged: days.len() as u64 - written,
    })
}
