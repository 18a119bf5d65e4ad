//! Storage: one query layer over SQLite (embedded default) and PostgreSQL (production).
//!
//! Every storage function is written once. The statements use `$1, $2` placeholders and SQL that
//! both engines accept; [`on_pool!`] and [`on_tx!`] compile the same body once per engine, so a
//! feature is never written twice. Where the engines truly differ, the difference sits behind one
//! small function with a comment saying why.
//!
//! `sqlx::Any` is not used: it cannot carry UUIDs, dates or JSON.

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod bookings;
pub mod bundles;
pub mod catalog;
pub mod holidays;
pub mod queue;
pub mod regions;
pub mod sealed;
pub mod staff;
pub mod uploads;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

/// The migrations, embedded in the binary. The same files run on both engines.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported DATABASE_URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("the database has {0} pending migration(s): run `mpp migrate` first")]
    PendingMigrations(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A connection pool to one of the two engines.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on one of the two engines. Dropped without `commit`, it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// Runs `$body` with `$pool` bound to the engine's pool; the body is compiled once per engine.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection; compiled once per engine.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::storage::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::storage::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

impl Db {
    /// Connects to `postgres://…` or `sqlite://…` (a file, created when missing).
    pub async fn connect(url: &str) -> Result<Db, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?.application_name("mpp");
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                // A ping before every acquire costs ~11% here; broken connections surface as
                // errors on use and are replaced by the pool.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Self::open_sqlite(Path::new(path)).await
        } else {
            Err(StorageError::UnsupportedUrl)
        }
    }

    /// Opens (creating it if needed) the SQLite file: WAL, foreign keys on, full fsync on commit,
    /// so an acknowledged write survives a kill -9 or a power cut.
    pub async fn open_sqlite(path: &Path) -> Result<Db, StorageError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Db::Sqlite(pool))
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies every pending migration; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StorageError> {
        let before = self.pending_migrations().await?;
        on_pool!(self, pool => MIGRATOR.run(pool).await)?;
        Ok(before)
    }

    /// How many embedded migrations the database has not applied yet.
    pub async fn pending_migrations(&self) -> Result<usize, StorageError> {
        use sqlx::migrate::Migrate;
        let applied = on_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            conn.ensure_migrations_table(&MIGRATOR.table_name).await?;
            conn.list_applied_migrations(&MIGRATOR.table_name).await?
        });
        Ok(MIGRATOR
            .iter()
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .count())
    }

    /// Fails unless the database answers a query.
    pub async fn ping(&self) -> Result<(), StorageError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// A transaction that writes. On SQLite it takes the write lock at its start (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads first and then writes fails at once with
    /// "database is locked" when another writer committed in between (the busy timeout does
    /// not apply to that upgrade), while an immediate one waits its turn.
    pub async fn begin(&self) -> Result<Tx, StorageError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A read-only transaction that sees one consistent state of the database for all its
    /// statements. SQLite in WAL mode gives that to every transaction; PostgreSQL's default
    /// (READ COMMITTED) takes a new snapshot per statement, so ask for REPEATABLE READ.
    pub async fn begin_snapshot(&self) -> Result<Tx, StorageError> {
        Ok(match self {
            // Deferred: a reader takes no write lock.
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                Tx::Postgres(tx)
            }
        })
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StorageError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
