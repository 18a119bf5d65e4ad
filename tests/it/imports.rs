//! The registry and catalog imports and exports, on both engines.

use mpp::imports::{self, ImportError};
use mpp::storage;

use crate::both_engines;
use crate::support::{Engine, TempDb, TestApp, shared_data};

both_engines!(
    regions_import_loads_the_national_registry,
    malformed_region_file_is_refused_whole,
    catalog_export_imports_into_an_empty_database_unchanged,
    invalid_catalog_is_refused_with_paths_and_writes_nothing,
    catalog_change_reaches_every_node,
    forms_travel_in_the_catalog_format,
);

async fn regions_import_loads_the_national_registry(engine: Engine) {
    let Some(data) = shared_data() else { return };
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    let report = imports::import_regions(&tmp.db, &data.join("regions"), "test")
        .await
        .expect("import");
    assert_eq!(report.unchanged, 0);
    assert_eq!(
        storage::regions::counts(&tmp.db).await.expect("counts"),
        (38, 514, 7285)
    );
    let again = imports::import_regions(&tmp.db, &data.join("regions"), "test")
        .await
        .expect("re-import");
    assert_eq!(
        again.written, 0,
        "re-importing the same files changes nothing"
    );
    assert_eq!(again.unchanged, 38 + 514 + 7285);
    // Papua provinces carry Kemendagri codes 91–96.
    let provinces = storage::regions::provinces(&tmp.db)
        .await
        .expect("provinces");
    assert!(
        provinces
            .iter()
            .any(|p| p.code == "96" && p.name == "Papua Barat Daya")
    );
}

async fn malformed_region_file_is_refused_whole(engine: Engine) {
    let Some(data) = shared_data() else { return };
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    imports::import_regions(&tmp.db, &data.join("regions/provinces.csv"), "test")
        .await
        .expect("provinces");
    let good = std::fs::read_to_string(data.join("regions/regencies.csv")).expect("read");
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines[9] = "35.7,35,Kota Rusak,kota".into(); // line 10
    lines[19] = "35.08,35,Kabupaten Salah Jenis,kota".into(); // line 20
    lines[29] = "11.99,11".into(); // line 30
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("regencies.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let before = storage::regions::counts(&tmp.db).await.expect("counts");
    let err = imports::import_regions(&tmp.db, &bad, "test")
        .await
        .expect_err("refused");
    let ImportError::Regions(problems) = &err else {
        panic!("unexpected {err}")
    };
    let text = err.to_string();
    assert_eq!(problems.len(), 3, "{text}");
    for line in [":10:", ":20:", ":30:"] {
        assert!(text.contains(line), "{line} named in {text}");
    }
    assert_eq!(
        storage::regions::counts(&tmp.db).await.expect("counts"),
        before,
        "nothing changed"
    );
}

async fn catalog_export_imports_into_an_empty_database_unchanged(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let first = imports::export_catalog(app.db()).await.expect("export");
    let version = storage::catalog::version(app.db()).await.expect("version");
    let again = imports::import_catalog(app.db(), first.as_bytes(), "test")
        .await
        .expect("re-import");
    assert_eq!(
        (again.created, again.updated),
        (0, 0),
        "re-importing changes nothing: {again:?}"
    );
    assert_eq!(
        storage::catalog::version(app.db()).await.expect("version"),
        version,
        "no reload"
    );

    let Some(empty) = TempDb::new(engine).await else {
        return;
    };
    mpp::demo::load_regions(&empty.db).await.expect("regions");
    let report = imports::import_catalog(&empty.db, first.as_bytes(), "test")
        .await
        .expect("import");
    assert_eq!(report.updated + report.unchanged, 0);
    let second = imports::export_catalog(&empty.db).await.expect("export");
    assert_eq!(first, second, "export → import → export is the identity");

    // A changed fee is an update of one service, visible in the next export.
    let changed = first
        .replacen("\"rupiah\": 0", "\"rupiah\": 5000", 1)
        .replacen("\"legal_basis\": null", "\"legal_basis\": \"Perda uji\"", 1);
    let report = imports::import_catalog(&empty.db, changed.as_bytes(), "test")
        .await
        .expect("import");
    assert_eq!(report.updated, 1, "{report:?}");
    let third = imports::export_catalog(&empty.db).await.expect("export");
    assert!(
        third.contains("\"rupiah\": 5000"),
        "the change is in the next export"
    );
}

/// An export from SQLite imports into PostgreSQL and exports the same bytes, and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_moves_between_engines_unchanged() {
    let Some(lite) = TestApp::demo(Engine::Sqlite).await else {
        return;
    };
    let Some(pg) = TempDb::new(Engine::Postgres).await else {
        return;
    };
    let from_sqlite = imports::export_catalog(lite.db()).await.expect("export");
    mpp::demo::load_regions(&pg.db).await.expect("regions");
    imports::import_catalog(&pg.db, from_sqlite.as_bytes(), "test")
        .await
        .expect("import into postgres");
    let from_pg = imports::export_catalog(&pg.db).await.expect("export");
    assert_eq!(from_sqlite, from_pg, "same document from both engines");
    let Some(lite2) = TempDb::new(Engine::Sqlite).await else {
        return;
    };
    mpp::demo::load_regions(&lite2.db).await.expect("regions");
    imports::import_catalog(&lite2.db, from_pg.as_bytes(), "test")
        .await
        .expect("import into sqlite");
    assert_eq!(
        imports::export_catalog(&lite2.db).await.expect("export"),
        from_sqlite
    );
}

both_engines!(concurrent_imports_are_serialized);

/// Two imports at the same moment, each a whole document changing a different service: both
/// succeed, one after the other, and the catalog ends as exactly one of the two documents.
async fn concurrent_imports_are_serialized(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let base: serde_json::Value =
        serde_json::from_str(&imports::export_catalog(app.db()).await.expect("export"))
            .expect("json");
    let mut a = base.clone();
    a["mpps"][0]["tenants"][0]["services"][0]["name"] = "Perubahan Pertama Uji Bersamaan".into();
    let mut b = base;
    b["mpps"][0]["tenants"][1]["services"][0]["name"] = "Perubahan Kedua Uji Bersamaan".into();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for doc in [a, b] {
        let db = app.db().clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            imports::import_catalog(&db, doc.to_string().as_bytes(), "test").await
        }));
    }
    for task in tasks {
        let report = task.await.expect("task").expect("both imports succeed");
        assert!(report.updated >= 1, "{report:?}");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&imports::export_catalog(app.db()).await.expect("export"))
            .expect("json");
    let first = &doc["mpps"][0]["tenants"][0]["services"][0]["name"];
    let second = &doc["mpps"][0]["tenants"][1]["services"][0]["name"];
    assert!(
        (first == "Perubahan Pertama Uji Bersamaan") != (second == "Perubahan Kedua Uji Bersamaan"),
        "the catalog is one import's document, not a mix: {first} / {second}"
    );
}

async fn invalid_catalog_is_refused_with_paths_and_writes_nothing(engine: Engine) {
    let Some(tmp) = TempDb::new(engine).await else {
        return;
    };
    mpp::demo::load_regions(&tmp.db).await.expect("regions");
    let mut doc: serde_json::Value = serde_json::from_slice(mpp::demo::CATALOG).expect("demo json");
    doc["mpps"][0]["region"] = "35.99".into();
    doc["mpps"][0]["tenants"][1]["services"][2]["fee"]["rupiah"] = (-1).into();
    doc["mpps"][0]["tenants"][2]["agency"] = "tidak-ada".into();
    let err = imports::import_catalog(&tmp.db, doc.to_string().as_bytes(), "test")
        .await
        .expect_err("refused");
    let ImportError::Catalog(problems) = &err else {
        panic!("unexpected {err}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"mpps[0].region"), "{paths:?}");
    assert!(
        paths.contains(&"mpps[0].tenants[1].services[2].fee.rupiah"),
        "{paths:?}"
    );
    assert!(paths.contains(&"mpps[0].tenants[2].agency"), "{paths:?}");
    assert_eq!(
        storage::catalog::mpp_count(&tmp.db).await.expect("count"),
        0
    );
    assert_eq!(
        storage::catalog::load(&tmp.db)
            .await
            .expect("load")
            .agencies
            .len(),
        0,
        "all or nothing"
    );

    let err = imports::import_catalog(
        &tmp.db,
        b"{\"format\": \"mpp-catalog\", \"version\": 1, \"mpps\": [}",
        "test",
    )
    .await
    .expect_err("not json");
    assert!(matches!(err, ImportError::Json { line: 1, .. }), "{err}");
    let err = imports::import_catalog(
        &tmp.db,
        b"{\"format\": \"mpp-catalog\", \"version\": 1, \"extra\": 1}",
        "test",
    )
    .await
    .expect_err("unknown field");
    assert!(err.to_string().contains("extra"), "{err}");
}

async fn catalog_change_reaches_every_node(engine: Engine) {
    let Some(node1) = TestApp::demo(engine).await else {
        return;
    };
    // A second node on the same database.
    let db2 = mpp::storage::Db::connect(&node1.tmp.url)
        .await
        .expect("connect");
    let other = TempDb::shared(db2, node1.tmp.url.clone());
    let node2 = TestApp::on(other, false).await;
    let mut doc: serde_json::Value =
        serde_json::from_str(&imports::export_catalog(node1.db()).await.expect("export"))
            .expect("json");
    let service = &mut doc["mpps"][0]["tenants"][0]["services"][0];
    service["name"] = "Layanan Berganti Nama Untuk Uji".into();
    let report = imports::import_catalog(node1.db(), doc.to_string().as_bytes(), "test")
        .await
        .expect("import");
    assert_eq!(report.updated, 1);
    let mut seen = false;
    for _ in 0..50 {
        let (_, body) = node2
            .get_json("/api/v1/services?q=berganti%20nama%20uji")
            .await;
        if body["items"][0]["name"] == "Layanan Berganti Nama Untuk Uji" {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "node 2 reloads the catalog after node 1's change");
}

both_engines!(holidays_and_closures_reach_the_mpp_page);

/// National days off (from the shared data) and an MPP's own closure show on its page and in the
/// API; re-importing the holidays changes nothing.
async fn holidays_and_closures_reach_the_mpp_page(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let today = chrono::Utc::now().date_naive();
    if let Some(data) = shared_data() {
        let file = data.join("holidays/id-holidays.csv");
        let report = imports::import_holidays(app.db(), &file, "test")
            .await
            .expect("holidays");
        assert_eq!(report.written, 155);
        let again = imports::import_holidays(app.db(), &file, "test")
            .await
            .expect("again");
        assert_eq!((again.written, again.unchanged), (0, 155));
    }
    let mut doc: serde_json::Value =
        serde_json::from_str(&imports::export_catalog(app.db()).await.expect("export"))
            .expect("json");
    let batu = doc["mpps"]
        .as_array_mut()
        .expect("mpps")
        .iter_mut()
        .find(|m| m["slug"] == "among-warga-kota-batu");
    let batu = batu.expect("Kota Batu");
    let closure = (today + chrono::Days::new(3))
        .format("%Y-%m-%d")
        .to_string();
    batu["closures"] =
        serde_json::json!([{"date": closure, "reason": "Penutupan uji untuk renovasi aula"}]);
    let report = imports::import_catalog(app.db(), doc.to_string().as_bytes(), "test")
        .await
        .expect("import");
    assert_eq!(report.updated, 1, "only the MPP changed: {report:?}");

    let mut seen = false;
    for _ in 0..50 {
        let (_, mpp) = app.get_json("/api/v1/mpps/among-warga-kota-batu").await;
        let days = mpp["upcoming_days_off"].as_array().expect("days").clone();
        if days
            .iter()
            .any(|d| d["kind"] == "closure" && d["date"] == closure.as_str())
        {
            assert_eq!(mpp["time_zone"], "WIB");
            assert!(mpp["open_now"].is_boolean());
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "the closure reaches the API after the snapshot reloads"
    );
    let (_, html) = app.get_text("/mpp/among-warga-kota-batu").await;
    assert!(html.contains("Penutupan uji untuk renovasi aula"));
    assert!(
        html.contains("Buka sekarang") || html.contains("Tutup sekarang"),
        "the state now is shown"
    );
    assert!(html.contains("Jam layanan (WIB)"));

    let (_, denpasar) = app
        .get_json("/api/v1/mpps/sewaka-dharma-kota-denpasar")
        .await;
    assert_eq!(denpasar["time_zone"], "WITA");
}

/// The service in a catalog document (as JSON) by its MPP, tenant and service slugs.
fn service_in<'d>(
    doc: &'d mut serde_json::Value,
    mpp: &str,
    tenant: &str,
    service: &str,
) -> &'d mut serde_json::Value {
    let find = |list: &'d mut serde_json::Value, slug: &str| -> &'d mut serde_json::Value {
        list.as_array_mut()
            .expect("list")
            .iter_mut()
            .find(|x| x["slug"] == slug)
            .unwrap_or_else(|| panic!("{slug}"))
    };
    let m = find(&mut doc["mpps"], mpp);
    let t = find(&mut m["tenants"], tenant);
    find(&mut t["services"], service)
}

/// Application forms are part of the catalog document: exported with their services, imported
/// as each service's next version when they differ, checked like the web editor checks them.
async fn forms_travel_in_the_catalog_format(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let exported = imports::export_catalog(app.db()).await.expect("export");
    let mut doc: serde_json::Value = serde_json::from_str(&exported).expect("json");
    let akta = service_in(
        &mut doc,
        "among-warga-kota-batu",
        "dispendukcapil",
        "penerbitan-akta-kelahiran",
    );
    let fields = akta["form"]["fields"]
        .as_array_mut()
        .expect("the demo's form is exported");
    assert!(fields.iter().any(|f| f["key"] == "nik_ibu"), "{fields:?}");
    fields.push(
        serde_json::json!({"key": "anak_ke", "label_id": "Anak ke-", "label_en": "Birth order",
        "kind": "number", "min": 1, "max": 30, "required": {"when": "never"}}),
    );
    let kia = service_in(
        &mut doc,
        "among-warga-kota-batu",
        "dispendukcapil",
        "penerbitan-kia",
    );
    assert!(
        kia.get("form").is_none(),
        "a service without a form has none in the export"
    );
    kia["form"] = serde_json::json!({"fields": [{"key": "nama_anak", "label_id": "Nama anak",
        "label_en": "Child's name", "kind": "text", "max_length": 100, "required": {"when": "always"}}]});
    let report = imports::import_catalog(app.db(), doc.to_string().as_bytes(), "test")
        .await
        .expect("import");
    assert_eq!(
        (report.created, report.updated, report.form_versions),
        (0, 0, 2),
        "{report:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_form_versions")
            .await,
        3 + 2,
        "the demo's three and two new versions"
    );
    let again = imports::import_catalog(app.db(), doc.to_string().as_bytes(), "test")
        .await
        .expect("re-import");
    assert_eq!(
        (again.created, again.updated, again.form_versions),
        (0, 0, 0),
        "{again:?}"
    );
    let second = imports::export_catalog(app.db()).await.expect("export");
    assert!(second.contains("\"anak_ke\""), "the new field is exported");

    // A wrong form is refused with its path, like any other problem; nothing is written.
    let mut bad = doc.clone();
    let kia = service_in(
        &mut bad,
        "among-warga-kota-batu",
        "dispendukcapil",
        "penerbitan-kia",
    );
    kia["form"]["fields"][0]["key"] = "csrf".into();
    let akta = service_in(
        &mut bad,
        "among-warga-kota-batu",
        "dispendukcapil",
        "penerbitan-akta-kelahiran",
    );
    akta["form"] = serde_json::json!({"fields": []});
    let err = imports::import_catalog(app.db(), bad.to_string().as_bytes(), "test")
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains(".form.csrf"), "{text}");
    assert!(text.contains("needs at least one field"), "{text}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_form_versions")
            .await,
        5,
        "nothing written"
    );
}
