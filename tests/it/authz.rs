//! The authorization matrix: every route of the router, for every role, allowed or denied as its
//! registration says. A route cannot be registered without its access (`http::Access`), and an
//! API path missing from `http::API_ACCESS` fails here.

use mpp::http::Access;

use crate::accounts::{Browser, signed_in};
use crate::both_engines;
use crate::support::{Engine, TestApp};

both_engines!(every_route_for_every_role);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Citizen,
}

async fn every_route_for_every_role(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    let service = &found["items"][0];
    let concrete = |path: &str| {
        path.replace(
            "/layanan-nasional/{slug}",
            "/layanan-nasional/penerbitan-ktp-el",
        )
        .replace(
            "/api/v1/templates/{slug}",
            "/api/v1/templates/penerbitan-ktp-el",
        )
        .replace("{slug}", "among-warga-kota-batu")
        .replace(
            "{tenant}",
            service["tenant"]["slug"].as_str().expect("tenant"),
        )
        .replace("{id}", service["id"].as_str().expect("id"))
        .replace("{code}", "en")
        .replace(
            "/masuk/kode",
            "/masuk/kode?ref=0190a1b2-0000-7000-8000-000000000000",
        )
    };

    let mut anonymous = Browser::new(&app);
    anonymous.get("/masuk").await;
    let mut citizen = signed_in(&app, "matriks@contoh.id", "matriks@contoh.id").await;

    let mut table = mpp::http::page_route_table();
    // Signing out ends the citizen's session: check it last.
    table.sort_by_key(|r| r.path == "/keluar");
    let mut checked = 0;
    for route in &table {
        for role in [Role::Anonymous, Role::Citizen] {
            let browser = if role == Role::Anonymous {
                &mut anonymous
            } else {
                &mut citizen
            };
            let path = concrete(route.path);
            let csrf = browser.csrf();
            let (status, _, location) = match route.method {
                "GET" => browser.get(&path).await,
                "POST" => {
                    let path = path.split('?').next().unwrap_or_default().to_owned();
                    browser
                        .post(
                            &path,
                            &[
                                ("csrf", &csrf),
                                ("ref", "0190a1b2-0000-7000-8000-000000000000"),
                            ],
                        )
                        .await
                }
                other => panic!("unexpected method {other}"),
            };
            let denied = status == 401
                || status == 403
                || (status == 303 && location.as_deref() == Some("/masuk"));
            let expected_allowed = match route.access {
                Access::Public => true,
                Access::Citizen => role == Role::Citizen,
                // The tests run in development mode.
                Access::Development => true,
            };
            assert_eq!(
                !denied, expected_allowed,
                "{} {path} as {role:?}: status {status}, location {location:?}",
                route.method
            );
            assert!(
                status < 500,
                "{} {path} as {role:?}: {status}",
                route.method
            );
            checked += 1;
        }
    }
    assert!(checked >= 2 * 19, "{checked} checks");

    // The API: every documented path has an access entry, and public ones answer anyone.
    let doc: serde_json::Value = serde_json::from_str(&mpp::http::openapi_json()).expect("openapi");
    let paths = doc["paths"].as_object().expect("paths");
    for entry in mpp::http::API_ACCESS {
        assert!(
            paths.contains_key(entry.0),
            "API_ACCESS lists {} which the API does not have",
            entry.0
        );
    }
    for (path, item) in paths {
        let access = mpp::http::API_ACCESS
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("{path} has no entry in http::API_ACCESS"));
        for method in item.as_object().expect("operations").keys() {
            assert_eq!(method, "get", "{path}: only reads exist so far");
            let response = app.get(&concrete(path)).await;
            let status = response.status().as_u16();
            assert_eq!(access, Access::Public);
            assert!(
                status != 401 && status != 403 && status < 500,
                "{path}: {status}"
            );
        }
    }
}
