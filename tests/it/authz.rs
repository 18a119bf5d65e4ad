//! The authorization matrix: every route of the router, for every role, allowed or denied as its
//! registration says. A route cannot be registered without its access (`http::Access`), and an
//! API path missing from `http::API_ACCESS` fails here.

use mpp::http::Access;

use mpp::domain::roles::Action;
use mpp::domain::roles::Action::{
    EditMpp, EditService, EnterStaffArea, ManageOwnTokens, OperateCounter, ProcessApplications,
    ViewAudit, ViewStatistics,
};
use mpp::http::INVITE;

use crate::accounts::{Browser, signed_in};
use crate::both_engines;
use crate::staff::staff_signed_in;
use crate::support::{Engine, TestApp};

both_engines!(every_route_for_every_role);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    Citizen,
    /// A demo staff account, by e-mail.
    Staff(&'static str),
}

/// The demo's staff, and what each may do at the concrete places the matrix uses (a Disdukcapil
/// service of MPP Among Warga, the MPP itself): the matrix's expectations, written out.
const STAFF: &[(&str, &[Action])] = &[
    (
        "petugas.dukcapil@demo.mpp.id",
        &[
            EnterStaffArea,
            ManageOwnTokens,
            OperateCounter,
            ProcessApplications,
        ],
    ),
    (
        "petugas.polres@demo.mpp.id",
        &[EnterStaffArea, ManageOwnTokens],
    ),
    // Another UPP's officer: its applications only.
    (
        "petugas.bpjs@demo.mpp.id",
        &[EnterStaffArea, ManageOwnTokens],
    ),
    (
        "petugas.dpmptsp@demo.mpp.id",
        &[EnterStaffArea, ManageOwnTokens],
    ),
    (
        "admin.dukcapil@demo.mpp.id",
        &[
            EnterStaffArea,
            ManageOwnTokens,
            EditService,
            ViewAudit,
            INVITE,
            OperateCounter,
            ProcessApplications,
            ViewStatistics,
        ],
    ),
    // The same role at another UPP: denied by scope, not by role (its statistics page shows
    // only its own UPP's rows).
    (
        "admin.polres@demo.mpp.id",
        &[
            EnterStaffArea,
            ManageOwnTokens,
            ViewAudit,
            INVITE,
            ViewStatistics,
        ],
    ),
    (
        "pengelola@demo.mpp.id",
        &[
            EnterStaffArea,
            ManageOwnTokens,
            EditMpp,
            ViewAudit,
            INVITE,
            ViewStatistics,
        ],
    ),
    (
        "admin.batu@demo.mpp.id",
        &[
            EnterStaffArea,
            ManageOwnTokens,
            ViewAudit,
            INVITE,
            ViewStatistics,
        ],
    ),
    (
        "admin.nasional@demo.mpp.id",
        &[
            EnterStaffArea,
            ManageOwnTokens,
            ViewAudit,
            INVITE,
            ViewStatistics,
        ],
    ),
    (
        "analis@demo.mpp.id",
        &[EnterStaffArea, ManageOwnTokens, ViewStatistics],
    ),
];

async fn every_route_for_every_role(engine: Engine) {
    // Nine roles sign in from one address: the sign-in burst is raised (its own test keeps 10).
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    assert_eq!(
        STAFF.len(),
        mpp::demo::STAFF.len(),
        "every demo role is in the matrix"
    );
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    let service = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] == "dispendukcapil")
        .expect("a Disdukcapil service")
        .clone();
    // Dispendukcapil's first counter (the demo makes loket 1 and 2 for it).
    let counter: uuid::Uuid = match app.db() {
        mpp::storage::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT id FROM counters WHERE number = 1")
                .fetch_one(pool)
                .await
        }
        mpp::storage::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT id FROM counters WHERE number = 1")
                .fetch_one(pool)
                .await
        }
    }
    .expect("a demo counter");
    let tenant: uuid::Uuid = match app.db() {
        mpp::storage::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT tenant_id FROM counters WHERE number = 1")
                .fetch_one(pool)
                .await
        }
        mpp::storage::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT tenant_id FROM counters WHERE number = 1")
                .fetch_one(pool)
                .await
        }
    }
    .expect("Dispendukcapil");
    let concrete = |path: &str| {
        path.replace("/staf/loket/{id}", &format!("/staf/loket/{counter}"))
            .replace("/staf/antrean/{tenant}", &format!("/staf/antrean/{tenant}"))
            .replace(
                "/staf/permohonan/{tenant}",
                &format!("/staf/permohonan/{tenant}"),
            )
            .replace("{application}", "0190a1b2-0000-7000-8000-000000000001")
            .replace("{doc}", "0190a1b2-0000-7000-8000-000000000002")
            .replace("{counter}", &counter.to_string())
            .replace(
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
            .replace(
                "/staf/token/{id}",
                "/staf/token/0190a1b2-0000-7000-8000-000000000000",
            )
            .replace("{id}", service["id"].as_str().expect("id"))
            .replace("{code}", "en")
            .replace("{token}", "tautan-yang-tidak-ada")
            .replace(
                "/masuk/kode",
                "/masuk/kode?ref=0190a1b2-0000-7000-8000-000000000000",
            )
    };

    let mut roles = vec![Role::Anonymous, Role::Citizen];
    roles.extend(STAFF.iter().map(|(email, _)| Role::Staff(email)));
    let mut browsers = Vec::new();
    for role in &roles {
        let browser = match role {
            Role::Anonymous => {
                let mut b = Browser::new(&app);
                b.get("/masuk").await;
                b
            }
            Role::Citizen => signed_in(&app, "matriks@contoh.id", "matriks@contoh.id").await,
            Role::Staff(email) => staff_signed_in(&app, email).await,
        };
        browsers.push(browser);
    }

    let mut table = mpp::http::page_route_table();
    // Signing out ends the session: check it last.
    table.sort_by_key(|r| r.path == "/keluar");
    let mut checked = 0;
    for route in &table {
        for (role, browser) in roles.iter().zip(browsers.iter_mut()) {
            let path = concrete(route.path);
            let csrf = browser.csrf();
            let (status, _, location) = match route.method {
                // A live feed never ends: only its answer's status is read.
                "GET" if path.ends_with("/peristiwa") => {
                    let response = app.http.get(app.url(&path)).send().await.expect("feed");
                    (response.status().as_u16(), String::new(), None)
                }
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
                || (status == 303
                    && matches!(location.as_deref(), Some("/masuk") | Some("/staf/masuk")));
            let expected_allowed = match route.access {
                Access::Public => true,
                // Staff are people with an account too.
                Access::Citizen => !matches!(role, Role::Anonymous),
                // The tests run in development mode.
                Access::Development => true,
                // Nobody in the matrix is half-way through signing in.
                Access::SecondFactor => false,
                Access::Staff(action) => match role {
                    Role::Staff(email) => STAFF
                        .iter()
                        .any(|(e, actions)| e == email && actions.contains(&action)),
                    _ => false,
                },
                Access::Token(..) => panic!("{}: tokens are for the API", route.path),
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
    assert!(checked >= roles.len() * 35, "{checked} checks");

    // The API: every documented operation has an access entry; public ones answer anyone, token
    // ones refuse a request without a token.
    let doc: serde_json::Value = serde_json::from_str(&mpp::http::openapi_json()).expect("openapi");
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path, _) in mpp::http::API_ACCESS {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "API_ACCESS lists {method} {path} which the API does not have"
        );
    }
    for (path, item) in paths {
        for method in item.as_object().expect("operations").keys() {
            let access = mpp::http::API_ACCESS
                .iter()
                .find(|(m, p, _)| p == path && m == method)
                .map(|(_, _, a)| *a)
                .unwrap_or_else(|| panic!("{method} {path} has no entry in http::API_ACCESS"));
            let url = app.url(&concrete(path));
            let response = match method.as_str() {
                "get" => app.http.get(&url).send().await,
                "put" => app.http.put(&url).body("x").send().await,
                "patch" => {
                    app.http
                        .patch(&url)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                }
                "post" => {
                    app.http
                        .post(&url)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                }
                "delete" => app.http.delete(&url).send().await,
                other => panic!("unexpected method {other}"),
            }
            .expect("request");
            let status = response.status().as_u16();
            match access {
                Access::Public => assert!(
                    status != 401 && status != 403 && status < 500,
                    "{method} {path}: {status}"
                ),
                Access::Token(..) => assert_eq!(status, 401, "{method} {path} without a token"),
                Access::Citizen => {
                    assert_eq!(status, 401, "{method} {path} without a session token")
                }
                other => panic!("{method} {path}: {other:?} is not an API access"),
            }
        }
    }
}
