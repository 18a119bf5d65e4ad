//! `TestApp`: the real server on a real socket, on SQLite (a temporary file) or PostgreSQL
//! (a uniquely named database, dropped afterwards).

use std::path::PathBuf;
use std::time::Duration;

use mpp::server::{self, ServeOptions};
use mpp::storage::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Where the tests find PostgreSQL (trust auth, user postgres), unless `MPP_TEST_PG_URL` says.
fn pg_admin_url() -> String {
    std::env::var("MPP_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// CI must never skip PostgreSQL or the browser; a developer's machine may lack them.
pub fn must_not_skip() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
        || std::env::var("MPP_TEST_REQUIRE_ALL").is_ok()
}

pub fn skip(what: &str, why: &str) {
    if must_not_skip() {
        panic!("{what} is required here (CI or MPP_TEST_REQUIRE_ALL) but unavailable: {why}");
    }
    eprintln!("SKIPPED {what}: {why}");
}

/// The shared reference data (`../shared/data`), present in CI and for developers, absent in a
/// user's clone.
pub fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("regions/provinces.csv").exists() {
        Some(dir)
    } else {
        skip("tests that read ../shared/data", "the directory is absent");
        None
    }
}

pub struct TempDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TempDb {
    /// A new empty, migrated database, or `None` when PostgreSQL is unavailable (and may be skipped).
    pub async fn new(engine: Engine) -> Option<TempDb> {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("mpp.sqlite3").display());
                let db = Db::connect(&url).await.expect("sqlite");
                db.migrate().await.expect("migrate");
                Some(TempDb {
                    db,
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                })
            }
            Engine::Postgres => {
                let admin = pg_admin_url();
                let name = format!("mpp_test_{}", uuid::Uuid::now_v7().simple());
                let conn = match Db::connect(&admin).await {
                    Ok(db) => db,
                    Err(e) => {
                        skip("PostgreSQL tests", &e.to_string());
                        return None;
                    }
                };
                let Db::Postgres(pool) = &conn else {
                    unreachable!("postgres url")
                };
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(pool)
                    .await
                    .expect("create database");
                conn.close().await;
                let url = match admin.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => panic!("MPP_TEST_PG_URL must end with /DATABASE"),
                };
                let db = Db::connect(&url).await.expect("connect test database");
                db.migrate().await.expect("migrate");
                Some(TempDb {
                    db,
                    url,
                    _dir: None,
                    pg_name: Some(name),
                })
            }
        }
    }
}

impl TempDb {
    /// A second handle on a database another `TempDb` owns (and drops).
    pub fn shared(db: Db, url: String) -> TempDb {
        TempDb {
            db,
            url,
            _dir: None,
            pg_name: None,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = pg_admin_url();
            // Drop runs inside the test's runtime: do the async work on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(Db::Postgres(pool)) = Db::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&pool)
                        .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub tmp: TempDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// The server with the demo loaded.
    pub async fn demo(engine: Engine) -> Option<TestApp> {
        Self::spawn(engine, true).await
    }

    pub async fn spawn(engine: Engine, demo: bool) -> Option<TestApp> {
        let tmp = TempDb::new(engine).await?;
        Some(Self::on(tmp, demo).await)
    }

    /// The demo with other settings (a test that signs in many roles from one address raises
    /// the sign-in burst).
    pub async fn demo_with(engine: Engine, settings: mpp::http::Settings) -> Option<TestApp> {
        let tmp = TempDb::new(engine).await?;
        Some(Self::on_with(tmp, true, settings).await)
    }

    /// Serves an existing database (another node on the same database).
    pub async fn on(tmp: TempDb, demo: bool) -> TestApp {
        Self::on_with(tmp, demo, test_settings()).await
    }

    pub async fn on_with(tmp: TempDb, demo: bool, settings: mpp::http::Settings) -> TestApp {
        let catalog = server::prepare(
            &tmp.db,
            &ServeOptions {
                demo,
                migrate: true,
            },
            true,
            &settings.keys,
        )
        .await
        .expect("prepare");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let db = tmp.db.clone();
        let served = catalog;
        tokio::spawn(async move {
            let _ = server::run(
                listener,
                db,
                served,
                settings,
                Duration::from_millis(100),
                async {
                    let _ = rx.await;
                },
            )
            .await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            base,
            http,
            tmp,
            shutdown: Some(tx),
        }
    }

    /// A number from the database (`SELECT COUNT(*) ...`), on either engine.
    pub async fn count(&self, sql: &'static str) -> i64 {
        match self.db() {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("count")
    }

    pub fn db(&self) -> &Db {
        &self.tmp.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let body = response.json().await.expect("json body");
        (status, body)
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("text body"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Development mode (the outbox is readable) with fresh keys for personal data.
pub fn test_settings() -> mpp::http::Settings {
    let key = mpp::privacy::DataKeys::generate_key().expect("key");
    let lookup = mpp::privacy::DataKeys::generate_key().expect("key");
    mpp::http::Settings {
        keys: std::sync::Arc::new(
            mpp::privacy::DataKeys::parse(&format!("k1:{key}"), &lookup).expect("keys"),
        ),
        mode: mpp::config::Mode::Development,
        secure_cookies: false,
        public_url: "http://127.0.0.1".into(),
        sign_in_burst: 10,
        trusted_proxies: std::sync::Arc::new(Vec::new()),
        clock: mpp::http::Clock::System,
        channels: std::sync::Arc::new(mpp::delivery::Channels::development()),
        blobs: mpp::documents::BlobStore::in_temp_dir(),
    }
}

/// Generates `mod $name { sqlite, postgres }` tests calling `$name(Engine)`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Engine::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Engine::Postgres).await
                }
            }
        )*
    };
}

/// A number from a database (`SELECT COUNT(*) ...`), on either engine.
pub async fn count_in(db: &Db, sql: &'static str) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count")
}

/// An S3-compatible server on loopback for the tests of the bucket backend: moto, installed
/// from PyPI by scripts/test.sh into `target/moto` (or `MPP_TEST_MOTO`, the path of its
/// `moto_server`). Started once per test process, on a free port; it stops when the process
/// ends (a shell holds the server and kills it when the process's end closes its input).
struct Moto {
    endpoint: String,
    _server: std::process::Child,
}

static MOTO: std::sync::OnceLock<Result<Moto, String>> = std::sync::OnceLock::new();

fn start_moto() -> Result<Moto, String> {
    let exe = std::env::var("MPP_TEST_MOTO")
        .unwrap_or_else(|_| format!("{}/target/moto/bin/moto_server", env!("CARGO_MANIFEST_DIR")));
    if !std::path::Path::new(&exe).exists() {
        return Err(format!(
            "{exe} is absent (python3 -m venv target/moto && target/moto/bin/pip install 'moto[server]')"
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut server = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            // A background job's input would be /dev/null: the watcher reads the pipe as fd 3.
            r#"exec 3<&0
               "$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & server=$!
               (cat <&3 >/dev/null; kill "$server") &
               wait "$server""#,
        )
        .arg(&exe)
        .arg(port.to_string())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {exe}: {e}"))?;
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.try_wait() {
            return Err(format!("{exe} stopped at start: {status}"));
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("{exe} did not answer on port {port} within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _server: server,
    })
}

/// A new, empty bucket of the loopback S3 server, and a blob store under `prefix` in it.
pub struct S3Bucket {
    pub endpoint: String,
    pub name: String,
    pub prefix: String,
    pub blobs: mpp::documents::BlobStore,
}

impl S3Bucket {
    /// `None` when moto is unavailable (and may be skipped).
    pub async fn new(prefix: &str) -> Option<S3Bucket> {
        let endpoint = match MOTO.get_or_init(start_moto) {
            Ok(moto) => moto.endpoint.clone(),
            Err(why) => {
                skip("S3 tests (moto)", why);
                return None;
            }
        };
        let name = format!("mpp-test-{}", uuid::Uuid::new_v4().simple());
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{name}"))
            .send()
            .await
            .expect("create bucket");
        assert!(created.status().is_success(), "create bucket: {created:?}");
        let blobs = mpp::documents::BlobStore::s3_with(
            &format!("s3://{name}/{prefix}"),
            S3Bucket::access(&endpoint),
        )
        .expect("store");
        Some(S3Bucket {
            endpoint,
            name,
            prefix: prefix.to_owned(),
            blobs,
        })
    }

    /// What a node would read from the `AWS_*` environment, given here instead (tests share
    /// one process's environment).
    pub fn access(endpoint: &str) -> object_store::aws::AmazonS3Builder {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
    }

    /// The stored object of a blob, read from the bucket past the blob store.
    pub async fn object(&self, address: &str) -> Option<Vec<u8>> {
        use object_store::ObjectStoreExt;
        let bucket = S3Bucket::access(&self.endpoint)
            .with_bucket_name(&self.name)
            .build()
            .expect("bucket");
        let key = format!("{}/{}/{address}", self.prefix, &address[..2]);
        match bucket.get(&object_store::path::Path::from(key)).await {
            Ok(found) => Some(found.bytes().await.expect("bytes").to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("get object: {e}"),
        }
    }
}
