//! The `mpp` command: serve, migrate, import, export, config.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mpp::config::{Config, LogFormat, Overrides};
use mpp::server::{self, ServeOptions};
use mpp::{imports, storage};

#[derive(Parser)]
#[command(
    name = "mpp",
    version,
    about = "MPP Digital: the platform of Indonesia's public service malls"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, env = "MPP_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// sqlite://FILE or postgres://USER@HOST/DB (default: SQLite in the data directory).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "MPP_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, env = "MPP_LOG_FORMAT", global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web pages and the API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "MPP_LISTEN")]
        listen: Option<String>,
        /// Load the demo (MPP Among Warga, Kota Batu, and others) into an empty database.
        #[arg(long)]
        demo: bool,
        /// Apply pending migrations before serving (always done for the embedded SQLite).
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Import data.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export data.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Print the effective configuration (secrets redacted).
    Config,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        what: AuditWhat,
    },
    /// Staff accounts (the first national admin; anyone, by hand).
    Admin {
        #[command(subcommand)]
        what: AdminWhat,
    },
    /// Run simulators of the SMTP server and the SMS gateway (for a developer's machine):
    /// point `smtp_url` and `sms_url` at them; what they receive is printed.
    Simulate {
        /// Address of the SMTP simulator.
        #[arg(long, default_value = "127.0.0.1:2525")]
        smtp: String,
        /// Address of the SMS gateway simulator (`POST /messages`).
        #[arg(long, default_value = "127.0.0.1:9025")]
        sms: String,
        /// Bearer token the SMS simulator requires.
        #[arg(long)]
        sms_token: Option<String>,
    },
    /// The keys sealing personal data.
    Keys {
        #[command(subcommand)]
        what: KeysWhat,
    },
}

#[derive(Subcommand)]
enum AdminWhat {
    /// Invite someone to a role; prints the link to hand over (valid 7 days). With no scope the
    /// role is national (national_admin, analyst).
    Invite {
        /// Their work e-mail address.
        email: String,
        /// officer, upp_admin, mpp_manager, regional_admin, national_admin or analyst.
        #[arg(long)]
        role: String,
        /// A province or kabupaten/kota code (regional_admin).
        #[arg(long)]
        region: Option<String>,
        /// An MPP slug (mpp_manager; with --tenant for officer and upp_admin).
        #[arg(long)]
        mpp: Option<String>,
        /// A UPP (tenant) slug within --mpp.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysWhat {
    /// Re-seal every sealed value with the current (first) key, after adding a new key in front.
    Reseal,
    /// Print a new random key (for `data_keys` or `lookup_key`).
    Generate,
}

#[derive(Subcommand)]
enum AuditWhat {
    /// Check the hash chain of the whole log; name the first broken entry.
    Verify,
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Regions from CSV: a file, or a directory with provinces.csv, regencies.csv, districts.csv.
    Regions { path: PathBuf },
    /// A catalog JSON document (see docs/catalog-format.md).
    Catalog { file: PathBuf },
    /// National holidays and cuti bersama: CSV `date,name,kind[,effective_from]`.
    Holidays { file: PathBuf },
}

#[derive(Subcommand)]
enum ExportWhat {
    /// The whole catalog as JSON, in the import format.
    Catalog {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MPP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tantivy=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => std::env::var("MPP_LISTEN").ok(),
    };
    let overrides = Overrides {
        listen,
        database_url: cli.database_url.clone(),
        data_dir: cli.data_dir.clone(),
        log_format: cli.log_format,
    };
    let config = match Config::load(cli.config.as_deref(), overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mpp: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(config.log_format);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo, migrate, .. } => {
            server::serve(config, ServeOptions { demo, migrate }).await
        }
        Command::Audit {
            what: AuditWhat::Verify,
        } => {
            let db = ready_db(&config).await?;
            match storage::audit::verify(&db).await? {
                Ok(count) => {
                    println!("audit log intact: {count} entries, every hash matches.");
                    Ok(())
                }
                Err(broken) => Err(anyhow::anyhow!("audit log broken: {broken}")),
            }
        }
        Command::Admin {
            what:
                AdminWhat::Invite {
                    email,
                    role,
                    region,
                    mpp,
                    tenant,
                },
        } => {
            let db = ready_db(&config).await?;
            let keys = mpp::config::data_keys(&config)?;
            let spec = mpp::admin::ScopeSpec {
                region,
                mpp,
                tenant,
            };
            let link =
                mpp::admin::invite(&db, &keys, &config.public_url(), &email, &role, &spec).await?;
            println!(
                "invitation for {role} created; hand this link to {email} (valid {} days):\n{link}",
                mpp::admin::CLI_INVITE_DAYS
            );
            Ok(())
        }
        Command::Simulate {
            smtp,
            sms,
            sms_token,
        } => {
            let faults = mpp::simulator::Faults::default();
            let (smtp_addr, mail) = mpp::simulator::start_smtp(&smtp, faults).await?;
            let (sms_addr, texts) = mpp::simulator::start_sms(&sms, sms_token, faults).await?;
            println!("SMTP simulator on {smtp_addr}: set smtp_url = \"smtp://{smtp_addr}\"");
            println!("SMS simulator on {sms_addr}: set sms_url = \"http://{sms_addr}/messages\"");
            let (mut seen_mail, mut seen_texts) = (0, 0);
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                }
                for m in mpp::simulator::messages(&mail).into_iter().skip(seen_mail) {
                    seen_mail += 1;
                    println!("--- e-mail to {}\n{}", m.to, m.text);
                }
                for m in mpp::simulator::messages(&texts)
                    .into_iter()
                    .skip(seen_texts)
                {
                    seen_texts += 1;
                    println!("--- SMS to {}: {}", m.to, m.text);
                }
            }
        }
        Command::Keys {
            what: KeysWhat::Generate,
        } => {
            println!("{}", mpp::privacy::DataKeys::generate_key()?);
            Ok(())
        }
        Command::Keys {
            what: KeysWhat::Reseal,
        } => {
            let db = ready_db(&config).await?;
            let keys = mpp::config::data_keys(&config)?;
            for (column, report) in mpp::admin::reseal(&db, &keys).await? {
                println!(
                    "{column}: {} re-sealed, {} already current",
                    report.resealed, report.current
                );
            }
            Ok(())
        }
        Command::Config => {
            print!("{}", config.redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            let db = server::open_db(&config).await?;
            let ran = db.migrate().await?;
            println!("{ran} migration(s) applied; the database is up to date.");
            Ok(())
        }
        Command::Import { what } => {
            let db = ready_db(&config).await?;
            match what {
                ImportWhat::Regions { path } => {
                    let report = imports::import_regions(&db, &path, "cli").await?;
                    let (p, r, d) = storage::regions::counts(&db).await?;
                    println!(
                        "regions imported: {} new or changed, {} unchanged; the registry holds {p} provinces, {r} kabupaten/kota, {d} kecamatan.",
                        report.written, report.unchanged
                    );
                }
                ImportWhat::Holidays { file } => {
                    let report = imports::import_holidays(&db, &file, "cli").await?;
                    println!(
                        "days off imported: {} new or changed, {} unchanged.",
                        report.written, report.unchanged
                    );
                }
                ImportWhat::Catalog { file } => {
                    let bytes = std::fs::read(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                    let report = imports::import_catalog(&db, &bytes, "cli").await?;
                    println!(
                        "catalog imported: {} created, {} updated, {} unchanged; {} new form versions.",
                        report.created, report.updated, report.unchanged, report.form_versions
                    );
                }
            }
            Ok(())
        }
        Command::Export {
            what: ExportWhat::Catalog { output },
        } => {
            let db = ready_db(&config).await?;
            let json = imports::export_catalog(&db).await?;
            match output {
                Some(path) => std::fs::write(&path, json)?,
                None => std::io::stdout().write_all(json.as_bytes())?,
            }
            Ok(())
        }
    }
}

/// The database for a one-off command: the embedded SQLite is migrated, PostgreSQL must be.
async fn ready_db(config: &Config) -> anyhow::Result<storage::Db> {
    let db = server::open_db(config).await?;
    if config.is_embedded_sqlite() {
        db.migrate().await?;
    } else {
        let pending = db.pending_migrations().await?;
        if pending > 0 {
            return Err(storage::StorageError::PendingMigrations(pending).into());
        }
    }
    Ok(db)
}
