//! People's pages, on both engines: what a person sees, in Indonesian first, without JavaScript.

use crate::both_engines;
use crate::support::{Engine, TestApp};

both_engines!(
    home_lists_mpps_by_province,
    mpp_page_shows_26_upps_and_207_services,
    tenant_and_service_pages,
    search_page_works_without_javascript,
    unknown_pages_are_404_in_indonesian,
    bad_search_parameters_are_400_pages,
    language_switch_is_remembered_and_safe,
);

async fn home_lists_mpps_by_province(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let html = response.text().await.expect("html");
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<html lang=\"id\">"));
    assert!(html.contains("Jawa Timur"));
    assert!(html.contains("href=\"/mpp/among-warga-kota-batu\""));
    assert!(
        html.contains("<label for=\"q\">"),
        "the search box has a label"
    );
    assert!(html.contains("<main"), "landmark");
    assert!(!html.contains("<script"), "no script needed");
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers.contains_key("x-request-id"),
        "every response names its request"
    );
    assert!(
        headers["vary"]
            .to_str()
            .expect("vary")
            .to_ascii_lowercase()
            .contains("cookie")
    );
    assert!(headers.contains_key("referrer-policy"));
    assert!(csp.contains("frame-ancestors 'none'"));
}

async fn mpp_page_shows_26_upps_and_207_services(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (status, html) = app.get_text("/mpp/among-warga-kota-batu").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<strong>26</strong> UPP"),
        "26 UPP on the page"
    );
    assert!(
        html.contains("<strong>207</strong> layanan"),
        "207 services on the page"
    );
    assert_eq!(
        html.matches("href=\"/mpp/among-warga-kota-batu/upp/")
            .count(),
        26
    );
    assert!(html.contains("Senin"), "opening hours per weekday");
    assert!(html.contains("Kota Batu"));
    assert!(html.len() < 40_000, "small page: {} bytes", html.len());
}

async fn tenant_and_service_pages(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (_, mpp) = app.get_text("/mpp/among-warga-kota-batu").await;
    let start = mpp
        .find("href=\"/mpp/among-warga-kota-batu/upp/")
        .expect("a tenant link")
        + 6;
    let end = start + mpp[start..].find('"').expect("end of link");
    let tenant_path = &mpp[start..end];
    let (status, tenant) = app.get_text(tenant_path).await;
    assert_eq!(status, 200, "{tenant_path}");
    let start = tenant.find("href=\"/layanan/").expect("a service link") + 6;
    let end = start + tenant[start..].find('"').expect("end of link");
    let (status, service) = app.get_text(&tenant[start..end]).await;
    assert_eq!(status, 200);
    for heading in [
        "Persyaratan",
        "Sistem, mekanisme, dan prosedur",
        "Jangka waktu penyelesaian",
        "Biaya/tarif",
        "Produk layanan",
        "Penanganan pengaduan, saran, dan masukan",
        "Dasar hukum",
        "Sarana, prasarana, dan/atau fasilitas",
        "Kompetensi pelaksana",
        "Pengawasan internal",
        "Jumlah pelaksana",
        "Jaminan pelayanan",
        "Jaminan keamanan dan keselamatan pelayanan",
        "Evaluasi kinerja pelaksana",
    ] {
        assert!(service.contains(heading), "service page shows {heading}");
    }
    assert!(
        service.contains("type=\"checkbox\""),
        "requirements as a checklist"
    );
    assert!(
        service.contains("<ol class=\"steps\" lang=\"id\">"),
        "procedure as ordered steps"
    );
    assert!(
        service.len() < 30_000,
        "small page: {} bytes",
        service.len()
    );

    let (_, found) = app
        .get_json("/api/v1/services?q=skck&mpp=among-warga-kota-batu")
        .await;
    let skck = &found["items"][0];
    let (_, page) = app.get_text(skck["url"].as_str().expect("url")).await;
    let fee = skck["fee_rupiah"].as_i64().expect("fee");
    let formatted = mpp::domain::catalog::Rupiah(fee).to_string();
    assert!(page.contains(&formatted), "fee shown as {formatted}");

    // A fee that depends on the case is never shown as free.
    let (_, found) = app
        .get_json("/api/v1/services?q=pbg&mpp=among-warga-kota-batu")
        .await;
    let pbg = &found["items"][0];
    assert_eq!(pbg["fee_variable"], true, "{pbg}");
    let (_, page) = app.get_text(pbg["url"].as_str().expect("url")).await;
    assert!(page.contains("Bervariasi, lihat dasar tarif"));
    assert!(!page.contains("<dd>Gratis</dd>"));
}

async fn search_page_works_without_javascript(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (status, html) = app.get_text("/cari?q=ktp").await;
    assert_eq!(status, 200);
    assert!(html.contains("layanan ditemukan"));
    assert!(html.contains("value=\"ktp\""), "the query stays in the box");
    let first = html.find("<ol class=\"results\"").expect("results list");
    let item = &html[first..first + html[first..].find("</li>").expect("first item")];
    assert!(item.contains("KTP"), "first result is about KTP: {item}");
    let (status, filtered) = app.get_text("/cari?q=ktp&wilayah=35.79").await;
    assert_eq!(status, 200);
    assert!(filtered.contains("<option value=\"35.79\" selected>"));
    assert!(
        filtered.contains("name=\"instansi\""),
        "agency filter within a region"
    );
    let (status, none) = app.get_text("/cari?q=zzzzqqqq").await;
    assert_eq!(status, 200);
    assert!(none.contains("Tidak ada layanan yang cocok"));
}

async fn unknown_pages_are_404_in_indonesian(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    for path in [
        "/mpp/tidak-ada",
        "/mpp/among-warga-kota-batu/upp/tidak-ada",
        "/layanan/bukan-uuid",
        "/layanan/0190a1b2-0000-7000-8000-000000000000",
        "/halaman/tidak/ada",
    ] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Halaman tidak ditemukan"), "{path}");
        assert!(html.contains("<html lang=\"id\">"));
    }
    let english = app
        .http
        .get(app.url("/mpp/tidak-ada"))
        .header("cookie", "lang=en")
        .send()
        .await
        .expect("request");
    assert_eq!(english.status(), 404);
    assert!(
        english
            .text()
            .await
            .expect("html")
            .contains("Page not found")
    );
}

async fn bad_search_parameters_are_400_pages(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let long = format!("/cari?q={}", "a".repeat(201));
    for path in [
        "/cari?hal=0",
        "/cari?hal=x",
        "/cari?hal=501",
        "/cari?wilayah=99.99",
        "/cari?mpp=tidak-ada",
        "/cari?instansi=x",
        long.as_str(),
    ] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(html.contains("Permintaan tidak valid"), "{path}");
    }
    // Undecodable paths are pages that do not exist, not server errors.
    for path in [
        "/mpp/%FF%FE",
        "/layanan/%C0",
        "/mpp/%FF/upp/x",
        "/bahasa/%FF",
    ] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Halaman tidak ditemukan"), "{path}");
    }
}

async fn language_switch_is_remembered_and_safe(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let response = app
        .get("/bahasa/en?kembali=/mpp/among-warga-kota-batu")
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/mpp/among-warga-kota-batu");
    let cookie = response.headers()["set-cookie"].to_str().expect("cookie");
    assert!(cookie.starts_with("lang=en;") && cookie.contains("SameSite=Lax"));
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "/%0A",
        "/%0D",
        "/%00",
    ] {
        let response = app.get(&format!("/bahasa/en?kembali={evil}")).await;
        assert_eq!(response.status(), 303, "{evil}");
        assert_eq!(
            response.headers()["location"],
            "/",
            "no open redirect to {evil}"
        );
    }
    // Switching back from a page opened with ?lang=en drops the parameter: the cookie decides.
    let response = app
        .get("/bahasa/id?kembali=/cari%3Fq%3Dktp%26lang%3Den")
        .await;
    assert_eq!(response.headers()["location"], "/cari?q=ktp");
    let english = app
        .http
        .get(app.url("/mpp/among-warga-kota-batu"))
        .header("cookie", "lang=en")
        .send()
        .await
        .expect("request");
    assert!(
        english.headers()["vary"]
            .to_str()
            .expect("vary")
            .to_ascii_lowercase()
            .contains("cookie")
    );
    let english = english.text().await.expect("html");
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Opening hours"));
    assert!(
        english.contains("<h1 lang=\"id\">"),
        "Indonesian catalog text is marked as such"
    );
    let (status, _) = app.get_text("/bahasa/fr").await;
    assert_eq!(status, 404);

    // Service pages are cached per language: each reader gets their own.
    let (_, found) = app.get_json("/api/v1/services?q=ktp").await;
    let url = found["items"][0]["url"].as_str().expect("url").to_owned();
    for (cookie, expect) in [
        ("lang=id", "Persyaratan"),
        ("lang=en", "Requirements"),
        ("lang=id", "Persyaratan"),
    ] {
        let html = app
            .http
            .get(app.url(&url))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("html");
        assert!(html.contains(expect), "{cookie}: {expect}");
    }
}

both_engines!(home_folds_provinces_for_a_national_catalog);

/// With many MPPs (a national deployment) the home page folds each province, so a phone on a
/// slow network gets a short page that still works without JavaScript.
async fn home_folds_provinces_for_a_national_catalog(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mpps: Vec<serde_json::Value> = (0..25)
        .map(|i| {
            serde_json::json!({
                "slug": format!("rencana-{i:02}"), "region": "35.79", "name": format!("MPP Rencana {i:02}"),
                "address": "Jl. Uji", "status": "planned"
            })
        })
        .collect();
    let doc = serde_json::json!({"format": "mpp-catalog", "version": 1, "mpps": mpps});
    mpp::imports::import_catalog(app.db(), doc.to_string().as_bytes(), "test")
        .await
        .expect("import");
    let mut folded = String::new();
    for _ in 0..50 {
        let (_, html) = app.get_text("/").await;
        if html.contains("<details class=\"province\">") {
            folded = html;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        folded.contains("<summary>Jawa Timur"),
        "provinces fold into details/summary"
    );
    assert!(
        folded.contains("href=\"/mpp/rencana-24\""),
        "every MPP is still one click away"
    );
    assert!(folded.contains("href=\"/mpp/among-warga-kota-batu\""));
}

both_engines!(national_service_compares_every_mpp);

/// A national service's page and API list every MPP offering it, with each one's fee and time.
async fn national_service_compares_every_mpp(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (status, list) = app.get_json("/api/v1/templates?per_page=100").await;
    assert_eq!(status, 200);
    assert!(list["total"].as_u64().expect("total") >= 30);
    let (status, ktp) = app.get_json("/api/v1/templates/penerbitan-ktp-el").await;
    assert_eq!(status, 200);
    let services = ktp["services"].as_array().expect("services");
    assert_eq!(ktp["service_count"].as_u64(), Some(services.len() as u64));
    assert!(
        services
            .iter()
            .all(|s| s["template"] == "penerbitan-ktp-el")
    );
    let mpps: std::collections::HashSet<&str> = services
        .iter()
        .map(|s| s["mpp"]["slug"].as_str().expect("slug"))
        .collect();
    assert!(mpps.len() >= 3, "{mpps:?}");
    let (status, _) = app.get_json("/api/v1/templates/tidak-ada").await;
    assert_eq!(status, 404);

    let (status, html) = app.get_text("/layanan-nasional/penerbitan-ktp-el").await;
    assert_eq!(status, 200);
    assert_eq!(
        html.matches("<th scope=\"row\">").count(),
        services.len(),
        "one row per MPP's service"
    );
    assert!(html.contains("MPP Among Warga Kota Batu"));
    let service_url = services[0]["url"].as_str().expect("url");
    let (_, service) = app.get_text(service_url).await;
    assert!(
        service.contains("href=\"/layanan-nasional/penerbitan-ktp-el\""),
        "the service page links to it"
    );
    let (status, html) = app.get_text("/layanan-nasional/tidak-ada").await;
    assert_eq!(status, 404);
    assert!(html.contains("Halaman tidak ditemukan"));
}
