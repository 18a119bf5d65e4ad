//! Every column holding sealed personal data, in one list, and re-sealing them with the current
//! key after a rotation (`mpp keys reseal`).

use uuid::Uuid;

use super::{Db, StorageError, on_pool};

/// A sealed column: its table, the table's key column, the column, and the sealing context.
pub struct SealedColumn {
    pub table: &'static str,
    pub key: &'static str,
    pub column: &'static str,
    pub context: &'static str,
}

/// Every sealed column. A migration that adds one adds it here (a test opens each of them).
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "accounts",
        key: "id",
        column: "identifier_sealed",
        context: "account.identifier",
    },
    SealedColumn {
        table: "accounts",
        key: "id",
        column: "full_name_sealed",
        context: "account.full_name",
    },
    SealedColumn {
        table: "accounts",
        key: "id",
        column: "nik_sealed",
        context: "account.nik",
    },
    SealedColumn {
        table: "login_codes",
        key: "id",
        column: "identifier_sealed",
        context: "account.identifier",
    },
    SealedColumn {
        table: "outbox",
        key: "id",
        column: "recipient_sealed",
        context: "outbox.recipient",
    },
    SealedColumn {
        table: "outbox",
        key: "id",
        column: "body_sealed",
        context: "outbox.body",
    },
    SealedColumn {
        table: "staff_credentials",
        key: "account_id",
        column: "totp_secret_sealed",
        context: "staff.totp",
    },
    SealedColumn {
        table: "staff_links",
        key: "id",
        column: "identifier_sealed",
        context: "account.identifier",
    },
    SealedColumn {
        table: "applications",
        key: "id",
        column: "answers_sealed",
        context: "application.answers",
    },
    SealedColumn {
        table: "application_events",
        key: "id",
        column: "note_sealed",
        context: "application.note",
    },
    SealedColumn {
        table: "documents",
        key: "id",
        column: "name_sealed",
        context: "document.name",
    },
    SealedColumn {
        table: "upload_sessions",
        key: "id",
        column: "name_sealed",
        context: "document.name",
    },
    // upload_parts.part_sealed (context `document.part`) is left out: parts live a day at most,
    // a rotation keeps the old key for opening, and re-sealing would hold megabytes at once.
];

/// What a re-seal did to one column.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResealReport {
    pub resealed: u64,
    pub current: u64,
}

/// Re-seals the values of one column that `is_current` says are not sealed with the current key,
/// with `reseal` (open with any key, seal with the current one). Each row is updated only if it
/// still holds the value read (a concurrent change wins), so this can run while serving.
pub async fn reseal_column(
    db: &Db,
    column: &SealedColumn,
    is_current: impl Fn(&[u8]) -> bool,
    reseal: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<ResealReport, StorageError> {
    // The names come from SEALED_COLUMNS, never from input.
    let select = format!(
        "SELECT {key}, {col} FROM {table} WHERE {col} IS NOT NULL",
        key = column.key,
        col = column.column,
        table = column.table
    );
    let update = format!(
        "UPDATE {table} SET {col} = $1 WHERE {key} = $2 AND {col} = $3",
        key = column.key,
        col = column.column,
        table = column.table
    );
    let rows: Vec<(Uuid, Vec<u8>)> = on_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(select.clone())).fetch_all(pool).await
    })?;
    let mut report = ResealReport::default();
    for (id, value) in rows {
        if is_current(&value) {
            report.current += 1;
            continue;
        }
        let Some(new) = reseal(&value) else {
            continue;
        };
        let done = on_pool!(db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(&new).bind(id).bind(&value)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        report.resealed += done;
    }
    Ok(report)
}
