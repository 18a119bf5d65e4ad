//! The demo: MPP "Among Warga" of Kota Batu (26 UPPs, 207 services) and a handful of MPPs in other
//! regions, loaded by `mpp serve --demo` into an empty database through the ordinary imports.

use crate::imports::{self, ImportError};
use crate::storage::{self, Db};

const PROVINCES: &[u8] = include_bytes!("demo/provinces.csv");
const REGENCIES: &[u8] = include_bytes!("demo/regencies.csv");
pub const CATALOG: &[u8] = include_bytes!("demo/catalog.json");

/// Loads the demo when the database holds no MPP yet; returns whether it did.
pub async fn load_if_empty(db: &Db) -> Result<bool, ImportError> {
    if storage::catalog::mpp_count(db).await? > 0 {
        return Ok(false);
    }
    load_regions(db).await?;
    imports::import_catalog(db, CATALOG, "demo").await?;
    Ok(true)
}

/// The provinces and kabupaten/kota the demo MPPs sit in (the full registry comes from
/// `mpp import regions`).
pub async fn load_regions(db: &Db) -> Result<(), ImportError> {
    imports::import_region_bytes(
        db,
        &[
            ("demo/provinces.csv", PROVINCES),
            ("demo/regencies.csv", REGENCIES),
        ],
        "demo",
    )
    .await?;
    Ok(())
}
