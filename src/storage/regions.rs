//! Storage of the national registry (provinsi, kabupaten/kota, kecamatan).

use std::collections::HashSet;

use sqlx::QueryBuilder;

use super::{Db, StorageError, on_pool, on_tx};
use crate::domain::registry::RegionSet;

/// Rows per multi-row INSERT: well under both engines' limits on bound parameters.
const CHUNK: usize = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Records new or different from what the database held.
    pub written: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProvinceRow {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DistrictRow {
    pub code: String,
    pub regency_code: String,
    pub name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegencyRow {
    pub code: String,
    pub province_code: String,
    pub name: String,
    pub kind: String,
}

/// Every province and kabupaten/kota code the registry holds.
pub async fn known_codes(db: &Db) -> Result<HashSet<String>, StorageError> {
    let codes: Vec<String> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT code FROM provinces UNION ALL SELECT code FROM regencies")
            .fetch_all(pool)
            .await
    })?;
    Ok(codes.into_iter().collect())
}

pub async fn provinces(db: &Db) -> Result<Vec<ProvinceRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT code, name FROM provinces ORDER BY code").fetch_all(pool).await
    })?)
}

pub async fn regencies(db: &Db) -> Result<Vec<RegencyRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT code, province_code, name, kind FROM regencies ORDER BY code")
            .fetch_all(pool)
            .await
    })?)
}

pub async fn counts(db: &Db) -> Result<(i64, i64, i64), StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM provinces), (SELECT COUNT(*) FROM regencies), \
             (SELECT COUNT(*) FROM districts)",
        )
        .fetch_one(pool)
        .await
    })?)
}

/// Writes the whole set in one transaction: new codes are inserted, changed names and kinds are
/// updated, identical records are left untouched (so re-importing a file writes nothing).
pub async fn import(db: &Db, set: &RegionSet, actor: &str) -> Result<ImportReport, StorageError> {
    let mut tx = db.begin().await?;
    let mut written = 0;
    on_tx!(&mut tx, conn => {
        for chunk in set.provinces.chunks(CHUNK) {
            let mut q = QueryBuilder::new("INSERT INTO provinces (code, name) ");
            q.push_values(chunk, |mut b, p| {
                b.push_bind(&p.code).push_bind(&p.name);
            });
            q.push(
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name \
                 WHERE provinces.name IS DISTINCT FROM excluded.name",
            );
            written += q.build().execute(&mut *conn).await?.rows_affected();
        }
        for chunk in set.regencies.chunks(CHUNK) {
            let mut q = QueryBuilder::new("INSERT INTO regencies (code, province_code, name, kind) ");
            q.push_values(chunk, |mut b, r| {
                b.push_bind(&r.code).push_bind(&r.province_code).push_bind(&r.name).push_bind(r.kind.as_str());
            });
            q.push(
                " ON CONFLICT (code) DO UPDATE SET province_code = excluded.province_code, \
                 name = excluded.name, kind = excluded.kind \
                 WHERE regencies.name IS DISTINCT FROM excluded.name \
                 OR regencies.kind IS DISTINCT FROM excluded.kind \
                 OR regencies.province_code IS DISTINCT FROM excluded.province_code",
            );
            written += q.build().execute(&mut *conn).await?.rows_affected();
        }
        for chunk in set.districts.chunks(CHUNK) {
            let mut q = QueryBuilder::new("INSERT INTO districts (code, regency_code, name) ");
            q.push_values(chunk, |mut b, d| {
                b.push_bind(&d.code).push_bind(&d.regency_code).push_bind(&d.name);
            });
            q.push(
                " ON CONFLICT (code) DO UPDATE SET regency_code = excluded.regency_code, \
                 name = excluded.name \
                 WHERE districts.name IS DISTINCT FROM excluded.name \
                 OR districts.regency_code IS DISTINCT FROM excluded.regency_code",
            );
            written += q.build().execute(&mut *conn).await?.rows_affected();
        }
        Ok::<(), sqlx::Error>(())
    })?;
    if written > 0 {
        super::catalog::bump_version(&mut tx).await?;
        let details = serde_json::json!({
            "written": written, "provinces": set.provinces.len(),
            "regencies": set.regencies.len(), "districts": set.districts.len(),
        });
        let entry = super::audit::NewEntry {
            actor,
            action: "regions.import",
            scope: "national",
            subject: "",
            details,
        };
        super::audit::append(&mut tx, entry).await?;
    }
    tx.commit().await?;
    let total = (set.provinces.len() + set.regencies.len() + set.districts.len()) as u64;
    Ok(ImportReport {
        written,
        unchanged: total - written,
    })
}
