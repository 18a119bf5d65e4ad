//! `mpp serve`: open the database, load the catalog, serve HTTP until SIGTERM/SIGINT.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::catalog::{Catalog, SharedCatalog};
use crate::config::Config;
use crate::storage::{Db, StorageError};
use crate::{demo, http};

pub struct ServeOptions {
    pub demo: bool,
    /// Apply pending migrations on start (always done for the embedded SQLite).
    pub migrate: bool,
}

/// Opens the configured database, creating the data directory for the embedded SQLite.
pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    if config.is_embedded_sqlite() && config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    Ok(Db::connect(&config.database_url()).await?)
}

/// Prepares the database and catalog: migrations, optional demo, first snapshot.
pub async fn prepare(
    db: &Db,
    options: &ServeOptions,
    embedded: bool,
) -> anyhow::Result<SharedCatalog> {
    if embedded || options.migrate {
        let ran = db.migrate().await?;
        if ran > 0 {
            tracing::info!(migrations = ran, "database migrated");
        }
    } else {
        let pending = db.pending_migrations().await?;
        if pending > 0 {
            return Err(StorageError::PendingMigrations(pending).into());
        }
    }
    if options.demo {
        if demo::load_if_empty(db).await? {
            tracing::info!("demo catalog loaded");
        } else {
            tracing::info!("database already holds MPPs; demo not loaded");
        }
    }
    let catalog = Catalog::load(db).await?;
    tracing::info!(
        mpps = catalog.mpps.len(),
        services = catalog.services.len(),
        "catalog loaded"
    );
    Ok(SharedCatalog::new(catalog))
}

pub async fn serve(config: Config, options: ServeOptions) -> anyhow::Result<()> {
    let db = open_db(&config).await?;
    let catalog = prepare(&db, &options, config.is_embedded_sqlite()).await?;
    let listener = TcpListener::bind(&config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, engine = db.engine().name(), "serving");
    run(
        listener,
        db,
        catalog,
        Duration::from_secs(config.catalog_refresh_secs.max(1)),
        shutdown_signal(),
    )
    .await
}

/// Serves on `listener` until `shutdown` completes; refreshes the catalog snapshot every `refresh`.
pub async fn run(
    listener: TcpListener,
    db: Db,
    catalog: SharedCatalog,
    refresh: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let refresher = {
        let db = db.clone();
        let catalog = catalog.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(refresh);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match catalog.refresh(&db).await {
                    Ok(true) => {
                        tracing::info!("catalog changed in the database; snapshot reloaded")
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "catalog refresh failed"),
                }
            }
        })
    };
    let app = http::router(db.clone(), catalog);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    refresher.abort();
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
