//! Imports and exports an operator runs: the region registry from CSV, the catalog from and to JSON.
//! Each import is validated whole first and written in one transaction, or not at all, together
//! with its entry in the audit log (`actor` says who: `cli`, `demo`, later a user or token).

use std::collections::HashSet;
use std::path::Path;

use crate::domain::catalog::{CatalogDoc, Known, Problem};
use crate::domain::registry::{LineProblem, RegionSet};
use crate::storage::{self, Db, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no provinces.csv, regencies.csv or districts.csv")]
    NoRegionFiles { path: String },
    #[error("the file was refused, nothing was changed:\n{}", list(.0))]
    Regions(Vec<String>),
    #[error(
        "the catalog file is not valid JSON of the catalog format (line {line}, column {column}): {message}"
    )]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the catalog was refused, nothing was changed ({} problem(s)):\n{}", .0.len(), list(.0))]
    Catalog(Vec<Problem>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a region CSV file, or the `provinces.csv`, `regencies.csv` and `districts.csv` of a
/// directory, and writes them in one transaction.
pub async fn import_regions(
    db: &Db,
    path: &Path,
    actor: &str,
) -> Result<storage::regions::ImportReport, ImportError> {
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let found: Vec<_> = ["provinces.csv", "regencies.csv", "districts.csv"]
            .iter()
            .map(|name| path.join(name))
            .filter(|p| p.exists())
            .collect();
        if found.is_empty() {
            return Err(ImportError::NoRegionFiles {
                path: path.display().to_string(),
            });
        }
        found
    } else {
        vec![path.to_path_buf()]
    };
    let mut contents = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|source| ImportError::Read {
            path: file.display().to_string(),
            source,
        })?;
        contents.push((file.display().to_string(), bytes));
    }
    let named: Vec<(&str, &[u8])> = contents
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    import_region_bytes(db, &named, actor).await
}

/// Imports region CSV contents given as (file name, bytes).
pub async fn import_region_bytes(
    db: &Db,
    files: &[(&str, &[u8])],
    actor: &str,
) -> Result<storage::regions::ImportReport, ImportError> {
    let mut set = RegionSet::default();
    let mut problems: Vec<LineProblem> = Vec::new();
    for (name, bytes) in files {
        set.add_file(name, bytes, &mut problems);
    }
    if !problems.is_empty() {
        return Err(ImportError::Regions(
            problems.iter().map(ToString::to_string).collect(),
        ));
    }
    let known = storage::regions::known_codes(db).await?;
    let unresolved = set.check_references(&|code| known.contains(code));
    if !unresolved.is_empty() {
        return Err(ImportError::Regions(unresolved));
    }
    Ok(storage::regions::import(db, &set, actor).await?)
}

/// Reads a holidays CSV (`date,name,kind[,effective_from]`, the format of
/// `shared/data/holidays/`) and writes it in one transaction.
pub async fn import_holidays(
    db: &Db,
    path: &Path,
    actor: &str,
) -> Result<storage::regions::ImportReport, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let days = crate::domain::calendar::parse_days_off(&bytes).map_err(|problems| {
        ImportError::Regions(
            problems
                .iter()
                .map(|p| format!("{}:{p}", path.display()))
                .collect(),
        )
    })?;
    Ok(storage::holidays::import(db, &days, actor).await?)
}

/// Parses, validates and imports a catalog document.
pub async fn import_catalog(
    db: &Db,
    json: &[u8],
    actor: &str,
) -> Result<storage::catalog::ImportReport, ImportError> {
    let mut doc: CatalogDoc = serde_json::from_slice(json).map_err(|e| ImportError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    doc.normalize();
    let regions = storage::regions::known_codes(db).await?;
    let rows = storage::catalog::load(db).await?;
    let agencies: HashSet<String> = rows.agencies.iter().map(|a| a.slug.clone()).collect();
    let templates: HashSet<String> = rows.templates.iter().map(|t| t.slug.clone()).collect();
    let regency = |code: &str| code.len() == 5 && regions.contains(code);
    let problems = doc.validate(&Known {
        regency: &regency,
        agencies: &agencies,
        templates: &templates,
    });
    if !problems.is_empty() {
        return Err(ImportError::Catalog(problems));
    }
    let forms = doc.take_forms();
    Ok(storage::catalog::import(db, &doc, &forms, actor).await?)
}

/// The whole catalog as a JSON document in the import format.
pub async fn export_catalog(db: &Db) -> Result<String, ImportError> {
    let rows = storage::catalog::load(db).await?;
    let forms = storage::applications::current_forms(db).await?;
    let mut json = serde_json::to_string_pretty(&rows.to_doc_with_forms(&forms)).map_err(|e| {
        ImportError::Json {
            line: 0,
            column: 0,
            message: e.to_string(),
        }
    })?;
    json.push('\n');
    Ok(json)
}
