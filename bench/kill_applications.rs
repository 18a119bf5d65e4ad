//! Kill -9 during a burst of submissions (run by hand, not a test):
//!
//!     cargo build --release --bin mpp
//!     cargo bench --bench kill_applications
//!     MPP_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/mpp_kill cargo bench --bench kill_applications
//!
//! It proves that a `kill -9` of the server loses no acknowledged application or document. It
//! builds nothing: it runs the `mpp` binary named by `MPP_BIN` (default `target/release/mpp`,
//! else `target/debug/mpp`) as `mpp serve --demo --migrate` on a fresh data directory, and on
//! SQLite in it, or on the PostgreSQL database named by `MPP_BENCH_DATABASE_URL`, which must be
//! empty (`DROP DATABASE IF EXISTS mpp_kill` then `CREATE DATABASE mpp_kill` first: its
//! personal data is sealed with the keys of the fresh data directory). The server gets
//! `MPP_SIGN_IN_BURST=1000`, as every citizen signs in from 127.0.0.1.
//! 30 citizens sign in by one-time code (read from `/dev/outbox`), then each runs the
//! application journey in a loop, concurrently, through the citizen's pages: open the form of
//! `penerbitan-akta-kelahiran` (Kota Batu), start a draft, upload two documents (a PNG and a
//! PDF whose bytes are unique to the upload), send the answers. Every answer that acknowledges
//! a step (a 303 to the draft, `?pesan=terunggah`, `?pesan=terkirim`) is recorded.
//!
//! 1–3 s (at random) into the burst the server gets SIGKILL. Requests in flight then fail: they
//! were never acknowledged and do not count. The server is started again on the same data
//! directory and database, and everything acknowledged in this and the earlier rounds is
//! checked, in the database and over HTTP with each citizen's session:
//!
//! - each application exists, and its page answers 200;
//! - each sent application is `submitted`, its page says "Diterima, menunggu diperiksa";
//! - each document's row is there and current, its sealed blob is on the disk at
//!   `{data_dir}/documents/{sha[..2]}/{sha}` (not empty), and its download gives back exactly
//!   the bytes uploaded.
//!
//! `MPP_BENCH_ROUNDS` kill cycles (default 5), `MPP_BENCH_CITIZENS` citizens (default 30). Per
//! round it prints what was acknowledged (applications / sent / documents), what was lost
//! (must be 0), the requests that failed by the kill, and what was committed although its answer
//! never arrived; then a summary line. It exits non-zero if anything acknowledged was lost (the
//! data directory is then kept for a look, and its path printed).
//!
//! Record the figures in docs/benchmarks.md with the machine and the date.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use mpp::storage::Db;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const SLUG: &str = "penerbitan-akta-kelahiran";
const SUBMITTED_TEXT: &str = "Diterima, menunggu diperiksa";

/// The `mpp` binary: `MPP_BIN`, else the release build, else the debug build.
fn binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("MPP_BIN") {
        return Ok(PathBuf::from(path));
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    for profile in ["release", "debug"] {
        let path = Path::new(&target).join(profile).join("mpp");
        if path.exists() {
            return Ok(path);
        }
    }
    bail!("no mpp binary: run `cargo build --release --bin mpp` first, or set MPP_BIN")
}

fn env_number(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name} must be a number")),
        Err(_) => Ok(default),
    }
}

/// A running server; ended (SIGKILL) if still running when dropped, as on an error.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The server, as an operator runs it.
struct Server {
    bin: PathBuf,
    data_dir: PathBuf,
    log: PathBuf,
    database_url: Option<String>,
}

impl Server {
    /// Starts `mpp serve` on a free port and waits until `/readyz` answers 200.
    async fn start(&self, http: &reqwest::Client) -> anyhow::Result<(Running, String)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new(&self.bin);
        command
            .args(["serve", "--demo", "--migrate", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("MPP_LOG", "warn")
            .env("MPP_SIGN_IN_BURST", "1000")
            .env_remove("DATABASE_URL")
            .env_remove("MPP_CONFIG")
            .env_remove("MPP_DATA_KEYS")
            .env_remove("MPP_LOOKUP_KEY")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        let mut child = Running(
            command
                .spawn()
                .with_context(|| format!("start {}", self.bin.display()))?,
        );
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Ok((child, base));
            }
            if let Some(status) = child.0.try_wait()? {
                bail!(
                    "mpp serve exited ({status}) before it was ready; see {}",
                    self.log.display()
                );
            }
            if started.elapsed() > Duration::from_secs(180) {
                bail!(
                    "mpp serve not ready after 180 s; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A citizen's cookies (`csrf`, `sesi`), kept as a browser keeps them.
#[derive(Clone, Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all("set-cookie") {
            let Ok(text) = header.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or(text);
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            self.0.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.0.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    fn get(&self, name: &str) -> anyhow::Result<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .with_context(|| format!("no {name} cookie"))
    }
}

fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
}

/// Signs `who` in by one-time code: `/masuk`, the code from `/dev/outbox`, `/masuk/kode`.
/// A 500 to the code request is tried again (up to 5 times) and counted in `retries`.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    who: &str,
    retries: &AtomicUsize,
) -> anyhow::Result<Jar> {
    let mut jar = Jar::default();
    let page = http.get(format!("{base}/masuk")).send().await?;
    jar.remember(&page);
    let csrf = jar.get("csrf")?;
    let mut tries = 0;
    let sent = loop {
        let sent = http
            .post(format!("{base}/masuk"))
            .header("cookie", jar.header())
            .form(&[("csrf", csrf.as_str()), ("identifier", who)])
            .send()
            .await?;
        if sent.status() == 500 && tries < 5 {
            tries += 1;
            retries.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        break sent;
    };
    jar.remember(&sent);
    let reference = location(&sent)
        .and_then(|l| l.strip_prefix("/masuk/kode?ref=").map(str::to_owned))
        .with_context(|| format!("sign-in of {who} answered {}", sent.status()))?;
    let marker = "Kode masuk MPP Digital Anda: ";
    let mut code = None;
    for _ in 0..200 {
        let html = http
            .get(format!("{base}/dev/outbox"))
            .send()
            .await?
            .text()
            .await?;
        if let Some(at) = html.find(who) {
            let rest = &html[at..];
            if let Some(start) = rest.find(marker) {
                code = Some(rest[start + marker.len()..start + marker.len() + 6].to_owned());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = code.with_context(|| format!("no code delivered to {who}"))?;
    let csrf = jar.get("csrf")?;
    let signed = http
        .post(format!("{base}/masuk/kode"))
        .header("cookie", jar.header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("ref", reference.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await?;
    jar.remember(&signed);
    jar.get("sesi")
        .with_context(|| format!("code for {who} answered {}", signed.status()))?;
    Ok(jar)
}

/// One acknowledged document: its field, content address and the bytes sent.
#[derive(Clone)]
struct Doc {
    field: &'static str,
    sha256: String,
    bytes: Vec<u8>,
}

/// An application whose start was acknowledged, with what was acknowledged after.
#[derive(Clone)]
struct Acked {
    citizen: usize,
    round: usize,
    id: Uuid,
    docs: Vec<Doc>,
    submitted: bool,
}

/// What the citizens' loops saw in one burst.
#[derive(Default)]
struct Burst {
    acked: Vec<Acked>,
    requests: usize,
    failed_by_kill: usize,
    /// Answers other than the journey's, or transport errors, before the kill.
    unexpected: Vec<String>,
}

struct Shared {
    base: String,
    service: String,
    round: usize,
    killed: AtomicBool,
    uploads: AtomicUsize,
    burst: Mutex<Burst>,
}

impl Shared {
    fn burst(&self) -> std::sync::MutexGuard<'_, Burst> {
        self.burst.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request's outcome: an answer (status, location, body), or the connection failed.
enum Sent {
    Answer(u16, Option<String>, String),
    Failed(String),
}

async fn send(shared: &Shared, jar: &mut Jar, request: reqwest::RequestBuilder) -> Sent {
    shared.burst().requests += 1;
    let response = match request.header("cookie", jar.header()).send().await {
        Ok(r) => r,
        Err(e) => return Sent::Failed(e.to_string()),
    };
    jar.remember(&response);
    let status = response.status().as_u16();
    let location = location(&response);
    match response.text().await {
        Ok(body) => Sent::Answer(status, location, body),
        Err(e) => Sent::Failed(e.to_string()),
    }
}

/// A step's outcome for the loop: go on with the location, or stop the journey.
enum Step {
    Ok(Option<String>, String),
    /// Not the expected answer: start a new journey.
    Again,
    /// The server is gone: stop.
    Stop,
}

fn judge(shared: &Shared, what: &str, sent: Sent, expected: u16, needle: &str) -> Step {
    match sent {
        Sent::Answer(status, location, body)
            if status == expected
                && (needle.is_empty()
                    || location.as_deref().is_some_and(|l| l.contains(needle))) =>
        {
            Step::Ok(location, body)
        }
        Sent::Answer(status, location, body) => {
            let mut b = shared.burst();
            b.unexpected.push(format!(
                "{what}: {status} {location:?} {}",
                body.chars().take(200).collect::<String>()
            ));
            Step::Again
        }
        Sent::Failed(error) => {
            let mut b = shared.burst();
            if shared.killed.load(Ordering::SeqCst) {
                b.failed_by_kill += 1;
            } else {
                b.unexpected.push(format!("{what}: {error}"));
            }
            Step::Stop
        }
    }
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    Some(html[at..at + html[at..].find('"')?].to_owned())
}

/// A small PNG or PDF whose bytes are unique to upload `n` of round `round`.
fn document(field: &str, round: usize, n: usize) -> (&'static str, Vec<u8>) {
    if field == "surat_kelahiran" {
        let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        b.extend_from_slice(&[0, 0, 0, 0x0D, b'I', b'H', b'D', b'R']);
        b.extend_from_slice(&[0u8; 64]);
        b.extend_from_slice(format!("kill round {round} upload {n}").as_bytes());
        ("surat lahir.png", b)
    } else {
        (
            "kk.pdf",
            format!("%PDF-1.4\n% kartu keluarga, kill round {round} upload {n}\n%%EOF\n")
                .into_bytes(),
        )
    }
}

/// Citizen `i`'s journeys, one after another, until the server is killed.
async fn journeys(http: reqwest::Client, shared: Arc<Shared>, i: usize, mut jar: Jar) {
    let base = &shared.base;
    let start = format!("{base}/layanan/{}/ajukan", shared.service);
    while !shared.killed.load(Ordering::SeqCst) {
        let csrf = match jar.get("csrf") {
            Ok(c) => c,
            Err(_) => return,
        };
        let sent = send(&shared, &mut jar, http.get(&start)).await;
        let form = match judge(&shared, "GET ajukan", sent, 200, "") {
            Step::Ok(_, body) => body,
            Step::Again => continue,
            Step::Stop => return,
        };
        let Some(key) = hidden(&form, "key") else {
            shared.burst().unexpected.push("no key on the form".into());
            continue;
        };
        let sent = send(
            &shared,
            &mut jar,
            http.post(&start)
                .form(&[("csrf", csrf.as_str()), ("key", key.as_str())]),
        )
        .await;
        let here = match judge(&shared, "POST ajukan", sent, 303, "/akun/permohonan/") {
            Step::Ok(Some(location), _) => location,
            Step::Ok(None, _) | Step::Again => continue,
            Step::Stop => return,
        };
        let Ok(id) = Uuid::parse_str(here.trim_start_matches("/akun/permohonan/")) else {
            shared.burst().unexpected.push(format!("draft at {here}"));
            continue;
        };
        let index = {
            let mut b = shared.burst();
            b.acked.push(Acked {
                citizen: i,
                round: shared.round,
                id,
                docs: Vec::new(),
                submitted: false,
            });
            b.acked.len() - 1
        };
        let mut complete = true;
        for field in ["surat_kelahiran", "kartu_keluarga"] {
            let n = shared.uploads.fetch_add(1, Ordering::SeqCst);
            let (name, bytes) = document(field, shared.round, n);
            let form = reqwest::multipart::Form::new()
                .text("csrf", csrf.clone())
                .text("field", field)
                .part(
                    "berkas",
                    reqwest::multipart::Part::bytes(bytes.clone()).file_name(name),
                );
            let sent = send(
                &shared,
                &mut jar,
                http.post(format!("{base}{here}/dokumen")).multipart(form),
            )
            .await;
            match judge(&shared, "upload", sent, 303, "pesan=terunggah") {
                Step::Ok(..) => shared.burst().acked[index].docs.push(Doc {
                    field,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                    bytes,
                }),
                Step::Again => {
                    complete = false;
                    break;
                }
                Step::Stop => return,
            }
        }
        if !complete {
            continue;
        }
        let answers = [
            ("csrf", csrf.as_str()),
            ("nama_anak", "Bima Putra"),
            ("tanggal_lahir", "2026-11-20"),
            ("tempat_lahir", "Kota Batu"),
            ("jenis_kelamin", "l"),
            ("nik_ibu", "3579015501950003"),
            ("orang_tua_menikah", "tidak"),
            ("aksi", "kirim"),
        ];
        let sent = send(
            &shared,
            &mut jar,
            http.post(format!("{base}{here}")).form(&answers),
        )
        .await;
        match judge(&shared, "send", sent, 303, "pesan=terkirim") {
            Step::Ok(..) => shared.burst().acked[index].submitted = true,
            Step::Again => continue,
            Step::Stop => return,
        }
    }
}

/// The service's id, found through the public API.
async fn service_id(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let found: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/services?q=akta+kelahiran&mpp=among-warga-kota-batu"
        ))
        .send()
        .await?
        .json()
        .await?;
    found["items"]
        .as_array()
        .and_then(|items| items.iter().find(|s| s["slug"] == SLUG))
        .and_then(|s| s["id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("{SLUG} in {found}"))
}

/// What the database holds.
struct Stored {
    /// id → state.
    applications: HashMap<Uuid, String>,
    /// sha256 → (document id, application id, field, current).
    documents: HashMap<String, (Uuid, Uuid, String, bool)>,
}

async fn stored(url: &str) -> anyhow::Result<Stored> {
    let db = Db::connect(url).await?;
    let apps_sql = "SELECT id, state FROM applications";
    let docs_sql = "SELECT id, application_id, field_key, sha256, replaced_at FROM documents";
    type DocRow = (Uuid, Uuid, String, String, Option<String>);
    let (apps, docs): (Vec<(Uuid, String)>, Vec<DocRow>) = match &db {
        Db::Sqlite(pool) => (
            sqlx::query_as(apps_sql).fetch_all(pool).await?,
            sqlx::query_as(docs_sql).fetch_all(pool).await?,
        ),
        Db::Postgres(pool) => (
            sqlx::query_as(apps_sql).fetch_all(pool).await?,
            sqlx::query_as(docs_sql).fetch_all(pool).await?,
        ),
    };
    if let Db::Sqlite(pool) = &db {
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(pool)
            .await?;
        if check != "ok" {
            bail!("SQLite integrity check: {check}");
        }
    }
    db.close().await;
    Ok(Stored {
        applications: apps.into_iter().collect(),
        documents: docs
            .into_iter()
            .map(|(id, app, field, sha, replaced)| (sha, (id, app, field, replaced.is_none())))
            .collect(),
    })
}

/// An acknowledged thing: an application, its submission, or a document (by content address).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Thing {
    Application(Uuid),
    Submission(Uuid),
    Document(String),
}

/// What was acknowledged and is not there after the restart: each failed check, with the thing
/// it is about (a thing can fail more than one check).
async fn verify(
    http: &reqwest::Client,
    base: &str,
    data_dir: &Path,
    url: &str,
    acked: &[Acked],
    jars: &[Jar],
) -> anyhow::Result<Vec<(Thing, String)>> {
    let db = stored(url).await?;
    let mut lost = Vec::new();
    for a in acked {
        let tag = format!(
            "round {} citizen {} application {}",
            a.round, a.citizen, a.id
        );
        match db.applications.get(&a.id) {
            None => lost.push((Thing::Application(a.id), format!("{tag}: no row"))),
            Some(state) if a.submitted && state != "submitted" => lost.push((
                Thing::Submission(a.id),
                format!("{tag}: sent, but its state is {state}"),
            )),
            Some(_) => {}
        }
        for d in &a.docs {
            let thing = Thing::Document(d.sha256.clone());
            match db.documents.get(&d.sha256) {
                None => lost.push((
                    thing.clone(),
                    format!("{tag}: no row for {} ({})", d.field, d.sha256),
                )),
                Some((_, app, field, current)) => {
                    if *app != a.id || field != d.field || !current {
                        lost.push((
                            thing.clone(),
                            format!(
                                "{tag}: {} ({}) is on {app} / {field}, current {current}",
                                d.field, d.sha256
                            ),
                        ));
                    }
                }
            }
            let blob = data_dir
                .join("documents")
                .join(&d.sha256[..2])
                .join(&d.sha256);
            match std::fs::metadata(&blob) {
                Ok(m) if m.len() > 0 => {}
                Ok(_) => lost.push((thing, format!("{tag}: blob {} is empty", blob.display()))),
                Err(e) => lost.push((thing, format!("{tag}: blob {}: {e}", blob.display()))),
            }
        }
    }
    // Over HTTP, as the citizen: the page, and each document's bytes.
    let mut checks = Vec::new();
    for a in acked {
        let cookie = jars[a.citizen].header();
        let page = format!("{base}/akun/permohonan/{}", a.id);
        checks.push((a, page, cookie.clone(), None));
        for d in &a.docs {
            if let Some((doc, ..)) = db.documents.get(&d.sha256) {
                let url = format!("{base}/akun/permohonan/{}/dokumen/{doc}", a.id);
                checks.push((a, url, cookie.clone(), Some(d)));
            }
        }
    }
    let found: Vec<Option<(Thing, String)>> = futures_util::stream::iter(checks)
        .map(|(a, url, cookie, doc)| {
            let http = http.clone();
            async move {
                let tag = format!(
                    "round {} citizen {} application {}",
                    a.round, a.citizen, a.id
                );
                let thing = match doc {
                    Some(d) => Thing::Document(d.sha256.clone()),
                    None => Thing::Application(a.id),
                };
                let response = match http.get(&url).header("cookie", cookie).send().await {
                    Ok(r) => r,
                    Err(e) => return Some((thing, format!("{tag}: GET {url}: {e}"))),
                };
                let status = response.status().as_u16();
                let body = match response.bytes().await {
                    Ok(b) => b,
                    Err(e) => return Some((thing, format!("{tag}: GET {url}: {e}"))),
                };
                match doc {
                    _ if status != 200 => {
                        Some((thing, format!("{tag}: GET {url} answered {status}")))
                    }
                    Some(d) if body.as_ref() != d.bytes.as_slice() => Some((
                        thing,
                        format!("{tag}: {} ({}) downloads other bytes", d.field, d.sha256),
                    )),
                    Some(_) => None,
                    None if a.submitted
                        && !String::from_utf8_lossy(&body).contains(SUBMITTED_TEXT) =>
                    {
                        Some((
                            Thing::Submission(a.id),
                            format!("{tag}: sent, but its page does not say so"),
                        ))
                    }
                    None => None,
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    lost.extend(found.into_iter().flatten());
    Ok(lost)
}

/// How many distinct applications, submissions and documents `lost` is about.
fn lost_counts(lost: &[(Thing, String)]) -> (usize, usize, usize) {
    let things: HashSet<&Thing> = lost.iter().map(|(t, _)| t).collect();
    let count = |f: fn(&Thing) -> bool| things.iter().filter(|t| f(t)).count();
    (
        count(|t| matches!(t, Thing::Application(_))),
        count(|t| matches!(t, Thing::Submission(_))),
        count(|t| matches!(t, Thing::Document(_))),
    )
}

/// Temporary files of blobs whose writing was cut short (`.tmp-*` in the blob directories).
fn leftover_temporaries(data_dir: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(data_dir.join("documents")) else {
        return 0;
    };
    dirs.flatten()
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|f| f.file_name().to_string_lossy().starts_with(".tmp-"))
        .count()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("mpp-kill-").tempdir()?;
    match run(dir.path()).await {
        Ok(0) => Ok(()),
        Ok(_) => {
            println!("data and server log kept in {}", dir.keep().display());
            std::process::exit(1);
        }
        Err(e) => {
            println!("data and server log kept in {}", dir.keep().display());
            Err(e)
        }
    }
}

/// The kill cycles; returns how many acknowledged things were lost.
async fn run(dir: &Path) -> anyhow::Result<usize> {
    let rounds = env_number("MPP_BENCH_ROUNDS", 5)?;
    let citizens = env_number("MPP_BENCH_CITIZENS", 30)?;
    let bin = binary()?;
    let data_dir = dir.join("data");
    let pg_url = std::env::var("MPP_BENCH_DATABASE_URL").ok();
    let url = pg_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("mpp.sqlite3").display()));
    let server = Server {
        bin: bin.clone(),
        data_dir: data_dir.clone(),
        log: dir.join("server.log"),
        database_url: pg_url.clone(),
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;

    let (mut child, mut base) = server.start(&http).await?;
    println!(
        "engine: {}, binary: {}, {citizens} citizens, {rounds} rounds",
        if pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        bin.display()
    );
    let service = service_id(&http, &base).await?;
    // Four at a time: each waits for its code in the outbox.
    let retries = AtomicUsize::new(0);
    let jars: Vec<Jar> = futures_util::stream::iter(0..citizens)
        .map(|i| {
            let (http, base, retries) = (&http, &base, &retries);
            async move { sign_in(http, base, &format!("warga.kill.{i}@contoh.id"), retries).await }
        })
        .buffered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    println!(
        "signed in {citizens} citizens ({} code requests answered 500 and were sent again)",
        retries.load(Ordering::SeqCst)
    );
    let before = stored(&url).await?;

    let mut ledger: Vec<Acked> = Vec::new();
    let mut totals = (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut all_lost = Vec::new();
    println!(
        "| round | killed after | requests | acknowledged: applications / sent / documents | failed by the kill \
         | checked so far: applications / sent / documents | lost | committed, never answered (so far) \
         | unexpected answers | ready again |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for round in 1..=rounds {
        let shared = Arc::new(Shared {
            base: base.clone(),
            service: service.clone(),
            round,
            killed: AtomicBool::new(false),
            uploads: AtomicUsize::new(0),
            burst: Mutex::new(Burst::default()),
        });
        let workers: Vec<_> = jars
            .iter()
            .enumerate()
            .map(|(i, jar)| tokio::spawn(journeys(http.clone(), shared.clone(), i, jar.clone())))
            .collect();
        let delay = Duration::from_millis(
            1000 + getrandom::u64().map_err(|e| anyhow::anyhow!("random: {e}"))? % 2001,
        );
        let burst_started = Instant::now();
        tokio::time::sleep(delay).await;
        shared.killed.store(true, Ordering::SeqCst);
        child.0.kill().context("kill -9")?;
        child.0.wait()?;
        let burst_time = burst_started.elapsed();
        for w in workers {
            w.await?;
        }
        let burst = std::mem::take(&mut *shared.burst());
        let apps = burst.acked.len();
        let sent = burst.acked.iter().filter(|a| a.submitted).count();
        let docs: usize = burst.acked.iter().map(|a| a.docs.len()).sum();
        ledger.extend(burst.acked);

        let restarted = Instant::now();
        (child, base) = server.start(&http).await?;
        let ready_in = restarted.elapsed();
        let lost = verify(&http, &base, &data_dir, &url, &ledger, &jars).await?;
        let now = stored(&url).await?;
        let known: HashSet<Uuid> = ledger.iter().map(|a| a.id).collect();
        let known_docs: HashSet<&str> = ledger
            .iter()
            .flat_map(|a| a.docs.iter().map(|d| d.sha256.as_str()))
            .collect();
        let sent_ids: HashSet<Uuid> = ledger
            .iter()
            .filter(|a| a.submitted)
            .map(|a| a.id)
            .collect();
        let extra_apps = now
            .applications
            .keys()
            .filter(|id| !known.contains(id) && !before.applications.contains_key(id))
            .count();
        let extra_sent = now
            .applications
            .iter()
            .filter(|(id, s)| {
                *s == "submitted" && !sent_ids.contains(id) && !before.applications.contains_key(id)
            })
            .count();
        let extra_docs = now
            .documents
            .keys()
            .filter(|sha| {
                !known_docs.contains(sha.as_str()) && !before.documents.contains_key(*sha)
            })
            .count();
        println!(
            "| {round} | {:.2} s | {} | {apps} / {sent} / {docs} | {} | {} / {} / {} | {} | {extra_apps} / {extra_sent} / {extra_docs} | {} | {:.2} s |",
            burst_time.as_secs_f64(),
            burst.requests,
            burst.failed_by_kill,
            ledger.len(),
            sent_ids.len(),
            known_docs.len(),
            {
                let (a, s, d) = lost_counts(&lost);
                format!("{a} / {s} / {d}")
            },
            burst.unexpected.len(),
            ready_in.as_secs_f64(),
        );
        for u in burst.unexpected.iter().take(5) {
            println!("  unexpected: {u}");
        }
        for (_, line) in &lost {
            println!("  LOST: {line}");
        }
        all_lost.extend(lost);
        totals.0 += apps;
        totals.1 += sent;
        totals.2 += docs;
        totals.3 += burst.failed_by_kill;
        totals.4 += burst.requests;
        totals.5 += burst.unexpected.len();
    }
    let temporaries = leftover_temporaries(&data_dir);
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    child.0.wait()?;
    let (a, s, d) = lost_counts(&all_lost);
    println!(
        "summary: {rounds} kills; {} requests, {} failed by the kill, {} unexpected answers; \
         acknowledged {} applications / {} sent / {} documents; LOST {a} / {s} / {d}; \
         blob temporaries left by the kills: {temporaries}",
        totals.4, totals.3, totals.5, totals.0, totals.1, totals.2
    );
    Ok(a + s + d)
}
