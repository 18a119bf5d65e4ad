//! `mpp serve`: open the database, load the catalog, serve HTTP until SIGTERM/SIGINT.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::catalog::{Catalog, SharedCatalog};
use std::sync::Arc;

use crate::config::{Config, Mode};
use crate::documents::BlobStore;
use crate::http::Settings;
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

/// The documents' store: the configured bucket, else `{data_dir}/documents`. It must answer
/// now, so that a node never starts taking uploads it cannot keep.
pub async fn open_blobs(config: &Config) -> anyhow::Result<BlobStore> {
    let (blobs, place) = match &config.documents_url {
        Some(url) => (BlobStore::s3(url)?, url.clone()),
        None => {
            let dir = config.data_dir.join("documents");
            let place = dir.display().to_string();
            (BlobStore::local(dir), place)
        }
    };
    if let Err(e) = blobs.check().await {
        tracing::error!(documents = %place, error = %e, "cannot reach the documents' store");
        // The store's error already tells its causes: one line, not its chain repeated.
        anyhow::bail!("cannot reach the documents' store {place}: {e}");
    }
    tracing::info!(documents = %place, "documents' store reached");
    Ok(blobs)
}

/// Prepares the database and catalog: migrations, optional demo, first snapshot.
pub async fn prepare(
    db: &Db,
    options: &ServeOptions,
    embedded: bool,
    keys: &crate::privacy::DataKeys,
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
    let mut demo_loaded = false;
    if options.demo {
        demo_loaded = demo::load_if_empty(db).await?;
        if demo_loaded {
            tracing::info!("demo catalog loaded");
        } else {
            tracing::info!("database already holds MPPs; demo not loaded");
        }
    }
    let catalog = Catalog::load(db).await?;
    if demo_loaded {
        demo::create_staff(db, &catalog, keys).await?;
        tracing::info!(accounts = demo::STAFF.len(), "demo staff accounts created");
    }
    tracing::info!(
        mpps = catalog.mpps.len(),
        services = catalog.services.len(),
        "catalog loaded"
    );
    Ok(SharedCatalog::new(catalog))
}

pub async fn serve(mut config: Config, options: ServeOptions) -> anyhow::Result<()> {
    if options.demo && config.mode == Mode::Production {
        config.mode = Mode::Demo;
    }
    let blobs = open_blobs(&config).await?;
    let settings = Settings {
        keys: Arc::new(crate::config::data_keys(&config)?),
        mode: config.mode,
        secure_cookies: config.secure_cookies,
        public_url: config.public_url(),
        sign_in_burst: config.sign_in_burst,
        trusted_proxies: Arc::new(config.trusted_proxy_addresses()?),
        clock: http::Clock::System,
        blobs,
        channels: Arc::new(crate::delivery::Channels::new(
            config.smtp_url.as_deref(),
            &config.mail_from,
            config.sms_url.as_deref(),
            config.sms_token.as_deref(),
            config.mode != Mode::Production,
        )?),
    };
    let db = open_db(&config).await?;
    let catalog = prepare(&db, &options, config.is_embedded_sqlite(), &settings.keys).await?;
    if config.mode == Mode::Production && demo::has_demo_staff(&db, &settings.keys).await? {
        anyhow::bail!(
            "this database holds the demo's staff accounts, whose passwords are public: \
             production mode refuses to serve it (use `serve --demo`, or a database made without --demo)"
        );
    }
    let listener = TcpListener::bind(&config.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, engine = db.engine().name(), mode = ?config.mode, "serving");
    run(
        listener,
        db,
        catalog,
        settings,
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
    settings: Settings,
    refresh: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let deliverer = {
        let (db, keys, channels) = (db.clone(), settings.keys.clone(), settings.channels.clone());
        Some(tokio::spawn(crate::delivery::run(
            db,
            keys,
            channels,
            Duration::from_millis(200),
        )))
    };
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
    let sweeper = tokio::spawn(crate::booking_desk::sweep_no_shows(
        db.clone(),
        settings.clock,
        Duration::from_secs(60),
    ));
    let orphans = tokio::spawn(crate::documents::sweep_orphans_forever(
        db.clone(),
        settings.blobs.clone(),
    ));
    let time_limits = tokio::spawn(crate::time_limits::watch(
        db.clone(),
        catalog.clone(),
        settings.keys.clone(),
        settings.public_url.clone(),
        settings.clock,
        Duration::from_secs(300),
    ));
    let app = http::router(db.clone(), catalog, settings);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    refresher.abort();
    sweeper.abort();
    orphans.abort();
    time_limits.abort();
    if let Some(task) = deliverer {
        task.abort();
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The development channel: messages written to the outbox (in the transaction of the change
/// that caused them) are delivered by marking them, after which /dev/outbox shows them. Real
/// e-mail and SMS channels plug in here.
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
