//! The machines' API under `/api/v1`, on both engines.

use serde_json::Value;

use crate::both_engines;
use crate::support::{Engine, TestApp};

both_engines!(
    demo_counts_through_the_api,
    search_ranks_the_matching_service_first,
    search_filters_narrow_results,
    bad_parameters_are_400_problems,
    unknown_things_are_404_problems,
    service_detail_carries_the_standar_pelayanan,
    health_and_readiness,
);

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("items array")
}

async fn demo_counts_through_the_api(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (status, mpp) = app.get_json("/api/v1/mpps/among-warga-kota-batu").await;
    assert_eq!(status, 200);
    assert_eq!(mpp["tenant_count"], 26);
    assert_eq!(mpp["service_count"], 207);
    assert_eq!(mpp["region"], "35.79");
    assert_eq!(mpp["status"], "operating");
    assert!(!mpp["opening_hours"].as_array().expect("hours").is_empty());

    let (_, tenants) = app
        .get_json("/api/v1/mpps/among-warga-kota-batu/tenants?per_page=100")
        .await;
    assert_eq!(tenants["total"], 26);
    let sum: u64 = items(&tenants)
        .iter()
        .map(|t| t["service_count"].as_u64().expect("count"))
        .sum();
    assert_eq!(sum, 207);

    let (_, page2) = app
        .get_json("/api/v1/mpps/among-warga-kota-batu/tenants?per_page=10&page=3")
        .await;
    assert_eq!(items(&page2).len(), 6, "26 tenants: pages of 10, 10, 6");
    assert_eq!(page2["page"], 3);

    let (_, mpps) = app.get_json("/api/v1/mpps").await;
    assert!(
        mpps["total"].as_u64().expect("total") >= 5,
        "demo MPPs in several regions: {mpps}"
    );
    let (_, jatim) = app.get_json("/api/v1/mpps?region=35").await;
    assert!(items(&jatim).iter().all(|m| m["province"] == "35"));
    let (_, batu) = app.get_json("/api/v1/mpps?region=35.79").await;
    assert_eq!(batu["total"], 1);

    let (_, regions) = app
        .get_json("/api/v1/regions?level=regency&parent=35")
        .await;
    assert!(
        items(&regions)
            .iter()
            .any(|r| r["code"] == "35.79" && r["kind"] == "kota")
    );
}

/// The top hit's national template for each query a citizen types.
async fn search_ranks_the_matching_service_first(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let cases = [
        ("ktp", "penerbitan-ktp-el"),
        ("e-KTP", "penerbitan-ktp-el"),
        ("bikin sim", "pembuatan-sim-baru"),
        ("akte lahir", "penerbitan-akta-kelahiran"),
        ("skck", "penerbitan-skck"),
        ("surat keterangan catatan kepolisian", "penerbitan-skck"),
        ("izin usaha", "penerbitan-nib"),
        ("bikin paspor baru", "permohonan-paspor-baru"),
        ("imb", "persetujuan-bangunan-gedung"),
        ("pembuatan akta kelahiran", "penerbitan-akta-kelahiran"),
        ("akta kelahran", "penerbitan-akta-kelahiran"),
    ];
    for (q, template) in cases {
        let (status, body) = app
            .get_json(&format!("/api/v1/services?q={}", urlencode(q)))
            .await;
        assert_eq!(status, 200, "{q}");
        let first = &items(&body)[0];
        assert_eq!(
            first["template"], template,
            "query {q:?} ranked first: {}",
            first["name"]
        );
    }
    for (q, word) in [
        ("paspor", "Paspor"),
        ("pasport", "Paspor"),
        ("skck polres", "SKCK"),
        ("kk", "Kartu Keluarga"),
    ] {
        let (_, body) = app
            .get_json(&format!("/api/v1/services?q={}", urlencode(q)))
            .await;
        let name = items(&body)[0]["name"].as_str().expect("name").to_owned();
        assert!(name.contains(word), "query {q:?} ranked first: {name}");
    }
    // In one MPP, "ktp" ranks that MPP's KTP-el service first.
    let (_, body) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    assert_eq!(items(&body)[0]["template"], "penerbitan-ktp-el");
    assert_eq!(items(&body)[0]["mpp"]["slug"], "among-warga-kota-batu");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn search_filters_narrow_results(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (_, all) = app.get_json("/api/v1/services?q=ktp&per_page=100").await;
    let mpps: std::collections::HashSet<&str> = items(&all)
        .iter()
        .map(|s| s["mpp"]["slug"].as_str().expect("slug"))
        .collect();
    assert!(
        mpps.len() >= 3,
        "national search spans several MPPs: {mpps:?}"
    );

    let (_, batu) = app
        .get_json("/api/v1/services?q=ktp&region=35.79&per_page=100")
        .await;
    assert!(!items(&batu).is_empty());
    assert!(items(&batu).iter().all(|s| s["region"] == "35.79"));
    let (_, jatim) = app
        .get_json("/api/v1/services?q=ktp&region=35&per_page=100")
        .await;
    assert!(
        items(&jatim)
            .iter()
            .all(|s| s["region"].as_str().expect("region").starts_with("35."))
    );
    assert!(jatim["total"].as_u64() > batu["total"].as_u64());

    let first_agency = items(&batu)[0]["agency"]["slug"]
        .as_str()
        .expect("agency")
        .to_owned();
    let (_, by_agency) = app
        .get_json(&format!(
            "/api/v1/services?agency={first_agency}&per_page=100"
        ))
        .await;
    assert!(
        items(&by_agency)
            .iter()
            .all(|s| s["agency"]["slug"] == first_agency.as_str())
    );

    let (_, every) = app
        .get_json("/api/v1/services?mpp=among-warga-kota-batu")
        .await;
    assert_eq!(every["total"], 207, "no text: every service of the MPP");
    let (_, last) = app
        .get_json("/api/v1/services?mpp=among-warga-kota-batu&per_page=100&page=3")
        .await;
    assert_eq!(items(&last).len(), 7);
}

async fn bad_parameters_are_400_problems(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    for path in [
        "/api/v1/services?page=0",
        "/api/v1/services?page=abc",
        "/api/v1/services?per_page=1000",
        "/api/v1/services?region=abc",
        "/api/v1/services?region=35.79.01",
        "/api/v1/services?region=99",
        "/api/v1/services?mpp=tidak-ada",
        "/api/v1/services?agency=tidak-ada",
        "/api/v1/mpps?status=open",
        "/api/v1/mpps?region=3",
        "/api/v1/regions?level=village",
        "/api/v1/regions?parent=35.79",
        "/api/v1/services/not-a-uuid",
        "/api/v1/services?page=101",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"].to_str().expect("ct"),
            "application/problem+json",
            "{path}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], 400);
        assert!(
            body["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{path}: {body}"
        );
        assert!(
            body["messages"]["id"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            body["messages"]["en"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let long = "a".repeat(201);
    let (status, _) = app.get_json(&format!("/api/v1/services?q={long}")).await;
    assert_eq!(status, 400);
}

async fn unknown_things_are_404_problems(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    for path in [
        "/api/v1/mpps/tidak-ada",
        "/api/v1/mpps/tidak-ada/tenants",
        "/api/v1/services/0190a1b2-0000-7000-8000-000000000000",
        "/api/v1/tidak-ada",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], "not_found");
    }
}

async fn service_detail_carries_the_standar_pelayanan(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (_, found) = app
        .get_json("/api/v1/services?q=skck&mpp=among-warga-kota-batu")
        .await;
    let id = items(&found)[0]["id"].as_str().expect("id").to_owned();
    let (status, s) = app.get_json(&format!("/api/v1/services/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        !s["requirements"]
            .as_array()
            .expect("requirements")
            .is_empty()
    );
    assert!(!s["procedure"].as_array().expect("procedure").is_empty());
    assert!(
        s["fee_rupiah"].as_i64().expect("fee") > 0,
        "SKCK has a PNBP fee"
    );
    assert!(s["fee_legal_basis"].as_str().is_some());
    for field in [
        "product",
        "complaint_channel",
        "legal_basis",
        "facilities",
        "staff_competence",
        "internal_supervision",
        "staff_count",
        "service_guarantee",
        "security_guarantee",
        "performance_evaluation",
    ] {
        assert!(
            s[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} in {s}"
        );
    }
    assert!(
        ["minutes", "hours", "working_days"]
            .contains(&s["time_limit"]["unit"].as_str().expect("unit"))
    );
}

async fn health_and_readiness(engine: Engine) {
    let Some(app) = TestApp::spawn(engine, false).await else {
        return;
    };
    assert_eq!(app.get_text("/healthz").await, (200, "ok".to_owned()));
    assert_eq!(app.get_text("/readyz").await, (200, "ready".to_owned()));
    app.db().close().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "unavailable");
}

/// The OpenAPI document is generated from the handlers; this snapshot makes every change to the
/// API visible in review. Refresh with `MPP_UPDATE_SNAPSHOTS=1 cargo test openapi`.
#[test]
fn openapi_snapshot() {
    let json = mpp::http::openapi_json();
    let doc: Value = serde_json::from_str(&json).expect("valid json");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/regions",
        "/api/v1/mpps",
        "/api/v1/mpps/{slug}",
        "/api/v1/mpps/{slug}/tenants",
        "/api/v1/services",
        "/api/v1/services/{id}",
        "/api/v1/templates",
        "/api/v1/templates/{slug}",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} in the OpenAPI document"
        );
    }
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json");
    if std::env::var("MPP_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&file, format!("{json}\n")).expect("write snapshot");
    }
    let expected = std::fs::read_to_string(&file)
        .expect("snapshot file; create it with MPP_UPDATE_SNAPSHOTS=1");
    assert_eq!(
        json.trim_end(),
        expected.trim_end(),
        "OpenAPI changed: review, then MPP_UPDATE_SNAPSHOTS=1"
    );
}
