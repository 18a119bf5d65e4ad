//! The `mpp` binary as an operator runs it.

use std::process::Command;

use crate::both_engines;
use crate::support::{Engine, TempDb, shared_data};

fn mpp(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpp"));
    cmd.env("DATABASE_URL", url)
        .env_remove("MPP_CONFIG")
        .env("MPP_LOG", "warn");
    cmd
}

both_engines!(import_regions_command, catalog_export_command);

async fn import_regions_command(engine: Engine) {
    let Some(data) = shared_data() else { return };
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let out = mpp(&tmp.url)
        .args(["import", "regions"])
        .arg(data.join("regions"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("38 provinces, 514 kabupaten/kota, 7285 kecamatan"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("provinces.csv");
    std::fs::write(&bad, "code,name\n35,Jawa Timur\nXX,Rusak\n36,\n").expect("write");
    let out = mpp(&tmp.url)
        .args(["import", "regions"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("provinces.csv:3:") && stderr.contains("provinces.csv:4:"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
}

async fn catalog_export_command(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    mpp::demo::load_regions(&tmp.db).await.expect("regions");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("demo.json");
    std::fs::write(&file, mpp::demo::CATALOG).expect("write");
    let out = mpp(&tmp.url)
        .args(["import", "catalog"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 updated, 0 unchanged"));
    let out = mpp(&tmp.url)
        .args(["import", "catalog"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 created, 0 updated"),
        "idempotent"
    );
    let exported = dir.path().join("export.json");
    let out = mpp(&tmp.url)
        .args(["export", "catalog", "-o"])
        .arg(&exported)
        .output()
        .expect("run");
    assert!(out.status.success());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).expect("read")).expect("json");
    assert_eq!(doc["format"], "mpp-catalog");
}

#[test]
fn config_prints_effective_settings_without_secrets() {
    let out = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .arg("config")
        .env("DATABASE_URL", "postgres://mpp:s3cret@db.example:5432/mpp")
        .env("MPP_LISTEN", "0.0.0.0:9999")
        .env_remove("MPP_CONFIG")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("listen = \"0.0.0.0:9999\""), "{text}");
    assert!(
        text.contains("postgres://mpp:***@db.example:5432/mpp"),
        "{text}"
    );
    assert!(!text.contains("s3cret"));
}

#[test]
fn bad_configuration_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mpp.toml");
    std::fs::write(&file, "listen = 5\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .arg("--config")
        .arg(&file)
        .arg("config")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mpp.toml"));
}

/// The README's first command, for real: `mpp serve --demo` on an empty data directory serves the
/// Kota Batu MPP with 26 UPPs and 207 services, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_then_stop_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("MPP_CONFIG")
        .env("MPP_LOG", "warn")
        .spawn()
        .expect("start mpp serve");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the server answers /readyz");
    let html = client
        .get(format!("{base}/mpp/among-warga-kota-batu"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("<strong>26</strong> UPP") && html.contains("<strong>207</strong> layanan")
    );
    assert!(
        dir.path().join("mpp.sqlite3").exists(),
        "one SQLite file in the data directory"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(code) = child.try_wait().expect("wait") {
            exited = Some(code);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let code = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("mpp serve did not stop within 5 s of SIGTERM")
    });
    assert!(code.success(), "clean exit: {code}");
}

both_engines!(audit_verify_detects_an_edited_entry);

/// Imports are audited; `mpp audit verify` accepts the intact chain and names the first entry
/// someone edited in the database.
async fn audit_verify_detects_an_edited_entry(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    assert!(mpp::demo::load_if_empty(&tmp.db).await.expect("demo"));
    let entries = mpp::storage::audit::entries(&tmp.db, None)
        .await
        .expect("entries");
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["regions.import", "catalog.import"]);
    assert!(entries.iter().all(|e| e.actor == "demo"));

    let out = mpp(&tmp.url)
        .args(["audit", "verify"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact: 2 entries"));

    let edit = "UPDATE audit_log SET details = '{\"created\":1}' WHERE seq = 2";
    match &tmp.db {
        mpp::storage::Db::Sqlite(pool) => sqlx::query(edit).execute(pool).await.map(|_| ()),
        mpp::storage::Db::Postgres(pool) => sqlx::query(edit).execute(pool).await.map(|_| ()),
    }
    .expect("tamper");
    let out = mpp(&tmp.url)
        .args(["audit", "verify"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("entry 2 was changed"), "{stderr}");
}

/// Whatever the log level, a citizen's NIK, e-mail address and code never reach the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_personal_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("mpp.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpp"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("DATABASE_URL")
        .env_remove("MPP_CONFIG")
        .env("MPP_LOG", "trace")
        .stderr(log.try_clone().expect("clone"))
        .stdout(log)
        .spawn()
        .expect("start mpp serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for _ in 0..200 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let get = |path: String, cookies: String| {
        let http = http.clone();
        async move {
            http.get(path)
                .header("cookie", cookies)
                .send()
                .await
                .expect("get")
        }
    };
    let first = get(format!("{base}/masuk"), String::new()).await;
    let csrf = cookie_set_by(&first, "csrf");
    let cookies = format!("csrf={csrf}");
    let sent = http
        .post(format!("{base}/masuk"))
        .header("cookie", &cookies)
        .form(&[("csrf", csrf.as_str()), ("identifier", "log.uji@contoh.id")])
        .send()
        .await
        .expect("post");
    let reference = sent.headers()["location"]
        .to_str()
        .expect("location")
        .trim_start_matches("/masuk/kode?ref=")
        .to_owned();
    let mut code = String::new();
    for _ in 0..100 {
        let html = get(format!("{base}/dev/outbox"), String::new())
            .await
            .text()
            .await
            .expect("html");
        if let Some(at) = html.find("Kode masuk MPP Digital Anda: ") {
            code = html[at + 29..at + 35].to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let signed = http
        .post(format!("{base}/masuk/kode"))
        .header("cookie", &cookies)
        .form(&[
            ("csrf", csrf.as_str()),
            ("ref", reference.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("post");
    let session = cookie_set_by(&signed, "sesi");
    let cookies = format!("csrf={csrf}; sesi={session}");
    let saved = http
        .post(format!("{base}/akun/profil"))
        .header("cookie", &cookies)
        .form(&[
            ("csrf", csrf.as_str()),
            ("full_name", "Dewi Lestari"),
            ("nik", "3579015501950003"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(saved.status(), 303);
    let _ = get(format!("{base}/akun/data"), cookies.clone()).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).expect("logs");
    assert!(logs.contains("request"), "the trace level logged requests");
    for secret in ["3579015501950003", "log.uji@contoh.id", "Dewi Lestari"] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
    // A six-digit code can turn up by chance inside a timestamp's microseconds or
    // another number, so it counts only as a number of its own outside the timestamps.
    for line in logs.lines() {
        let message = match line.find('Z') {
            Some(end) if end < 40 => &line[end..],
            _ => line,
        };
        assert!(
            !stands_alone_in(message, &code),
            "the sign-in code {code} appears in the logs: {line}"
        );
    }
}

/// Whether `number` occurs in `text` with no digit right before or after it.
fn stands_alone_in(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// The value of the cookie `name` that a response sets.
fn cookie_set_by(response: &reqwest::Response, name: &str) -> String {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(prefix.as_str())
                .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

both_engines!(first_national_admin_is_invited_from_the_command_line_and_keys_reseal);

/// `mpp admin invite` prints a link that makes the first national admin; `mpp keys reseal`
/// moves every sealed value to a new key, after which the old key can go.
async fn first_national_admin_is_invited_from_the_command_line_and_keys_reseal(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    mpp::demo::load_if_empty(&tmp.db).await.expect("demo");
    let old = mpp::privacy::DataKeys::generate_key().expect("key");
    let new = mpp::privacy::DataKeys::generate_key().expect("key");
    let lookup = mpp::privacy::DataKeys::generate_key().expect("key");
    let with_keys = |keys: &str| {
        let mut cmd = mpp(&tmp.url);
        cmd.env("MPP_DATA_KEYS", keys)
            .env("MPP_LOOKUP_KEY", &lookup)
            .env("MPP_PUBLIC_URL", "https://mpp.contoh.go.id/");
        cmd
    };
    let out = with_keys(&format!("k1:{old}"))
        .args([
            "admin",
            "invite",
            "kepala@menpan.go.id",
            "--role",
            "national_admin",
        ])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("https://mpp.contoh.go.id/staf/tautan/"),
        "{stdout}"
    );
    // A role at the wrong kind of place is refused with what to give instead.
    let out = with_keys(&format!("k1:{old}"))
        .args([
            "admin",
            "invite",
            "x@batukota.go.id",
            "--role",
            "upp_admin",
            "--mpp",
            "among-warga-kota-batu",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --mpp and --tenant"));
    assert_eq!(
        count(
            &tmp.db,
            "SELECT COUNT(*) FROM staff_links WHERE purpose = 'invite' AND role = 'national_admin'"
        )
        .await,
        1
    );

    // Rotation: the new key in front, the old one kept to open; reseal; then the old key goes.
    let out = with_keys(&format!("k2:{new},k1:{old}"))
        .args(["keys", "reseal"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("staff_links.identifier_sealed: 1 re-sealed"),
        "{stdout}"
    );
    let out = with_keys(&format!("k2:{new},k1:{old}"))
        .args(["keys", "reseal"])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("staff_links.identifier_sealed: 0 re-sealed, 1 already current")
    );
    let only_new = mpp::privacy::DataKeys::parse(&format!("k2:{new}"), &lookup).expect("keys");
    let sealed: Vec<u8> = match &tmp.db {
        mpp::storage::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT identifier_sealed FROM staff_links")
                .fetch_one(pool)
                .await
        }
        mpp::storage::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT identifier_sealed FROM staff_links")
                .fetch_one(pool)
                .await
        }
    }
    .expect("sealed");
    assert_eq!(
        only_new
            .open("account.identifier", &sealed)
            .expect("opens with the new key alone"),
        b"kepala@menpan.go.id"
    );
}

async fn count(db: &mpp::storage::Db, sql: &'static str) -> i64 {
    match db {
        mpp::storage::Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        mpp::storage::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("count")
}
