//! Documents kept in an S3-compatible bucket (moto on loopback) instead of the local disk: the
//! blob store's promises, the orphan sweep on both engines, a citizen's upload and download
//! through the pages, and a node that refuses to start when its bucket cannot be reached.

use std::process::Command;
use std::time::Duration;

use mpp::documents::{BlobStore, DocumentError, address, sweep_orphans};

use crate::accounts::signed_in;
use crate::applying::{between, hidden, pdf, service_id};
use crate::both_engines;
use crate::support::{Engine, S3Bucket, TestApp, test_settings};

fn keys() -> mpp::privacy::DataKeys {
    mpp::privacy::DataKeys::parse(
        &format!(
            "k1:{}",
            mpp::privacy::DataKeys::generate_key().expect("key")
        ),
        &mpp::privacy::DataKeys::generate_key().expect("key"),
    )
    .expect("keys")
}

/// The bucket's clock dates objects to the second: wait for the next one before asking for
/// blobs older than "now".
async fn a_second_passes() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_sealed_in_the_bucket_and_found_by_address() {
    let Some(bucket) = S3Bucket::new("mpp/documents").await else {
        return;
    };
    let store = &bucket.blobs;
    store.check().await.expect("the bucket answers");
    let keys = keys();
    let plain = b"%PDF-1.4 a scan of a family card";
    let at = store.put(&keys, plain).await.expect("put");
    assert_eq!(at, address(plain));
    let object = bucket
        .object(&at)
        .await
        .expect("stored under mpp/documents/ab/abcdef...");
    assert!(
        !object.windows(10).any(|w| w == &plain[..10]),
        "the object is sealed"
    );
    assert_eq!(store.get(&keys, &at).await.expect("get"), plain);
    assert_eq!(
        store.put(&keys, plain).await.expect("again"),
        at,
        "one address"
    );
    a_second_passes().await;
    assert_eq!(
        store.older_than(Duration::ZERO).await.expect("list"),
        vec![at.clone()],
        "the same bytes are stored once"
    );
    assert!(
        store
            .older_than(Duration::from_secs(3600))
            .await
            .expect("list")
            .is_empty(),
        "nothing is an hour old"
    );
    for missing in [address(b"never stored").as_str(), "../../etc/passwd"] {
        assert!(
            matches!(
                store.get(&keys, missing).await,
                Err(DocumentError::Missing(_))
            ),
            "{missing}"
        );
    }
    store.remove(&at).await.expect("remove");
    store.remove(&at).await.expect("removing twice is no error");
    assert!(matches!(
        store.get(&keys, &at).await,
        Err(DocumentError::Missing(_))
    ));
    assert_eq!(bucket.object(&at).await, None);

    let elsewhere = BlobStore::s3_with(
        "s3://mpp-no-such-bucket",
        S3Bucket::access(&bucket.endpoint),
    )
    .expect("store");
    assert!(
        elsewhere.check().await.is_err(),
        "a bucket that does not exist"
    );
}

both_engines!(a_citizen_uploads_to_the_bucket_and_orphans_are_swept);

/// With `Settings.blobs` in a bucket: a citizen's upload is stored there (sealed) before the
/// page answers, downloads back whole, and survives the orphan sweep, which removes a blob no
/// row names.
async fn a_citizen_uploads_to_the_bucket_and_orphans_are_swept(engine: Engine) {
    let Some(bucket) = S3Bucket::new("kota-batu").await else {
        return;
    };
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        blobs: bucket.blobs.clone(),
        ..test_settings()
    };
    let keys = settings.keys.clone();
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let mut citizen = signed_in(&app, "ibu.ani@contoh.id", "ibu.ani@contoh.id").await;
    let (_, start, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
    let csrf = citizen.csrf();
    let (status, _, here) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &hidden(&start, "key"))],
        )
        .await;
    assert_eq!(status, 303);
    let here = here.expect("the draft");
    let scan = pdf("kartu keluarga, disimpan di bucket");
    let (status, _, _) = citizen
        .post_file(
            &format!("{here}/dokumen"),
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk.pdf",
            scan.clone(),
        )
        .await;
    assert_eq!(status, 303);
    let at = address(&scan);
    let object = bucket.object(&at).await.expect("in the bucket");
    assert!(!object.windows(12).any(|w| w == &scan[..12]), "sealed");

    let (_, page, _) = citizen.get(&here).await;
    let link = format!(
        "{here}/dokumen/{}",
        between(&page, &format!("{here}/dokumen/"), "\"")
    );
    let download = || async {
        let response = app
            .http
            .get(app.url(&link))
            .header("cookie", citizen.cookie_header())
            .send()
            .await
            .expect("download");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("bytes").to_vec()
    };
    assert_eq!(download().await, scan);

    // A blob stored but never recorded (a crash between the two) is an orphan.
    let orphan = bucket
        .blobs
        .put(&keys, &pdf("tidak tercatat"))
        .await
        .expect("put");
    a_second_passes().await;
    assert_eq!(
        sweep_orphans(app.db(), &bucket.blobs, Duration::from_secs(3600))
            .await
            .expect("sweep"),
        0,
        "nothing is an hour old yet"
    );
    assert_eq!(
        sweep_orphans(app.db(), &bucket.blobs, Duration::ZERO)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(bucket.object(&orphan).await, None, "the orphan is gone");
    assert!(bucket.object(&at).await.is_some(), "the recorded one stays");
    assert_eq!(download().await, scan);
}

/// `mpp serve` with `MPP_DOCUMENTS_URL` and the `AWS_*` variables: refused at start, with the
/// reason in the log, when the bucket does not exist; served when it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_checks_its_bucket_at_start() {
    let Some(bucket) = S3Bucket::new("mpp").await else {
        return;
    };
    let serve = |url: String, dir: &std::path::Path, port: u16| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpp"));
        cmd.args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir)
            .env_remove("DATABASE_URL")
            .env_remove("MPP_CONFIG")
            .env("MPP_LOG", "warn")
            .env("MPP_DOCUMENTS_URL", url)
            .env("AWS_ENDPOINT_URL", &bucket.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        cmd
    };
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port()
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let out = serve("s3://mpp-no-such-bucket/mpp".into(), dir.path(), port())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("cannot reach the documents' store s3://mpp-no-such-bucket/mpp"),
        "{log}"
    );
    assert!(log.contains("ERROR"), "logged as an error: {log}");

    let dir = tempfile::tempdir().expect("tempdir");
    let port = port();
    let mut child = serve(format!("s3://{}/mpp", bucket.name), dir.path(), port)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mpp serve");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "the server answers /readyz with its bucket");
    assert!(
        !dir.path().join("documents").exists(),
        "documents are not kept on the local disk"
    );
}

both_engines!(an_unreachable_bucket_is_a_503_and_nothing_is_recorded);

/// When the bucket cannot be reached, an upload is answered "unavailable, try again" (503) on
/// the page and in the API, and no document row names bytes that were never stored.
async fn an_unreachable_bucket_is_a_503_and_nothing_is_recorded(engine: Engine) {
    // Nothing listens on port 9 of the loopback: every request is refused at once.
    let gone =
        BlobStore::s3_with("s3://mpp-gone", S3Bucket::access("http://127.0.0.1:9")).expect("store");
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        blobs: gone,
        ..test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let mut citizen = signed_in(&app, "ibu.ani@contoh.id", "ibu.ani@contoh.id").await;
    let (_, start, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
    let csrf = citizen.csrf();
    let (_, _, here) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &hidden(&start, "key"))],
        )
        .await;
    let here = here.expect("the draft");
    let (status, _, _) = citizen
        .post_file(
            &format!("{here}/dokumen"),
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk.pdf",
            pdf("kk"),
        )
        .await;
    assert_eq!(status, 503);

    let token = crate::queue_api::session_token(&app, "ibu.ani@contoh.id").await;
    let id = here.trim_start_matches("/akun/permohonan/");
    let response = app
        .http
        .put(app.url(&format!(
            "/api/v1/me/applications/{id}/uploads/kartu_keluarga"
        )))
        .bearer_auth(&token)
        .body(pdf("kk"))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["code"], "unavailable");
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 0);
}
