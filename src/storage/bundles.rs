//! Storage of life-event bundles (paket layanan): which services of an MPP go together. The
//! citizen's side (a bundle application and its drafts) is in `applications`.

use chrono::Utc;
use uuid::Uuid;

use super::accounts::timestamp;
use super::audit::NewEntry;
use super::{Db, StorageError, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BundleRow {
    pub id: Uuid,
    pub mpp_id: Uuid,
    pub slug: String,
    pub name_id: String,
    pub name_en: String,
    pub description_id: String,
    pub description_en: String,
    pub active: bool,
}

pub struct NewBundle<'a> {
    pub mpp_id: Uuid,
    pub slug: &'a str,
    pub name_id: &'a str,
    pub name_en: &'a str,
    pub description_id: &'a str,
    pub description_en: &'a str,
    /// In the order the citizen sees them.
    pub services: &'a [Uuid],
}

/// Creates the bundle `slug` of the MPP, or replaces its names and services (active again);
/// audited. Returns its id.
pub async fn save(
    db: &Db,
    new: NewBundle<'_>,
    actor: &str,
    audit_scope: &str,
) -> Result<Uuid, StorageError> {
    let now = timestamp(Utc::now());
    let mut tx = db.begin().await?;
    let id: Uuid = on_tx!(&mut tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO bundles (id, mpp_id, slug, name_id, name_en, description_id, description_en, active, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8) \
             ON CONFLICT (mpp_id, slug) DO UPDATE SET name_id = excluded.name_id, name_en = excluded.name_en, \
             description_id = excluded.description_id, description_en = excluded.description_en, active = TRUE, \
             updated_at = excluded.updated_at RETURNING id",
        )
        .bind(Uuid::now_v7()).bind(new.mpp_id).bind(new.slug).bind(new.name_id).bind(new.name_en)
        .bind(new.description_id).bind(new.description_en).bind(&now)
        .fetch_one(conn).await
    })?;
    on_tx!(&mut tx, conn => async {
        sqlx::query("DELETE FROM bundle_services WHERE bundle_id = $1").bind(id).execute(&mut *conn).await?;
        for (position, service) in new.services.iter().enumerate() {
            sqlx::query("INSERT INTO bundle_services (bundle_id, service_id, position) VALUES ($1, $2, $3)")
                .bind(id).bind(service).bind(i32::try_from(position).unwrap_or(i32::MAX))
                .execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    }.await)?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "bundle.save",
            scope: audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({ "slug": new.slug, "services": new.services.len() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Stops (or resumes) new applications to a bundle; audited.
pub async fn set_active(
    db: &Db,
    id: Uuid,
    active: bool,
    actor: &str,
    audit_scope: &str,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE bundles SET active = $2, updated_at = $3 WHERE id = $1")
            .bind(id).bind(active).bind(timestamp(Utc::now()))
            .execute(conn).await.map(|r| r.rows_affected())
    })?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: if active {
                "bundle.resume"
            } else {
                "bundle.withdraw"
            },
            scope: audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(n == 1)
}

macro_rules! bundle_columns {
    () => {
        "id, mpp_id, slug, name_id, name_en, description_id, description_en, active"
    };
}

/// An MPP's bundles, by name.
pub async fn of_mpp(db: &Db, mpp_id: Uuid) -> Result<Vec<BundleRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", bundle_columns!(), " FROM bundles WHERE mpp_id = $1 ORDER BY name_id"))
            .bind(mpp_id).fetch_all(pool).await
    })?)
}

/// A bundle and its services in order.
pub async fn bundle(db: &Db, id: Uuid) -> Result<Option<(BundleRow, Vec<Uuid>)>, StorageError> {
    let row: Option<BundleRow> = on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", bundle_columns!(), " FROM bundles WHERE id = $1"))
            .bind(id).fetch_optional(pool).await
    })?;
    let Some(row) = row else {
        return Ok(None);
    };
    let services: Vec<Uuid> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT service_id FROM bundle_services WHERE bundle_id = $1 ORDER BY position")
            .bind(id).fetch_all(pool).await
    })?;
    Ok(Some((row, services)))
}
