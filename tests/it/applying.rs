//! A citizen applies online and an officer works the application, through the server's pages,
//! on both engines: drafts, uploads judged by content, submission, receipt, public tracking,
//! revision, approval, output and its download; and the refusals on the way.

use crate::accounts::signed_in;
use crate::both_engines;
use crate::staff::staff_signed_in;
use crate::support::{Engine, TestApp};

both_engines!(a_citizen_applies_and_an_officer_decides);

/// The smallest PNG header `infer` recognises, and a little more.
pub(crate) fn png() -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    b.extend_from_slice(&[0, 0, 0, 0x0D, b'I', b'H', b'D', b'R']);
    b.extend_from_slice(&[0u8; 64]);
    b
}

pub(crate) fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

/// The id of a Kota Batu service by its slug.
pub(crate) async fn service_id(app: &TestApp, q: &str, slug: &str) -> String {
    let (_, found) = app
        .get_json(&format!("/api/v1/services?q={q}&mpp=among-warga-kota-batu"))
        .await;
    found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} in {found}"))["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').expect("end")].to_owned()
}

pub(crate) fn between<'h>(html: &'h str, start: &str, end: &str) -> &'h str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {html}"))
        + start.len();
    &html[at..at + html[at..].find(end).expect("end")]
}

async fn a_citizen_applies_and_an_officer_decides(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let (_, page) = app.get_text(&format!("/layanan/{service}")).await;
    assert!(
        page.contains(&format!("/layanan/{service}/ajukan")),
        "{page}"
    );

    let mut citizen = signed_in(&app, "ibu.ani@contoh.id", "ibu.ani@contoh.id").await;
    let (status, start, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
    assert_eq!(status, 200);
    assert!(
        start.contains("Surat keterangan kelahiran"),
        "the requirements are listed: {start}"
    );
    let csrf = citizen.csrf();
    let key = hidden(&start, "key");
    let (status, _, location) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &key)],
        )
        .await;
    assert_eq!(status, 303);
    let here = location.expect("location");
    assert!(here.starts_with("/akun/permohonan/"), "{here}");
    // A retried start with the same key opens the same draft.
    let (_, _, again) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &key)],
        )
        .await;
    assert_eq!(again.as_deref(), Some(here.as_str()));
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    let (status, refused, _) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", "pendek")],
        )
        .await;
    assert_eq!(status, 400, "a start without its one-time key");
    assert!(refused.contains("muat ulang halaman"), "{refused}");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);

    // A draft withdrawn before it is sent is gone, documents and all.
    let (_, other_start, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
    let (_, _, other) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &hidden(&other_start, "key"))],
        )
        .await;
    let other = other.expect("a second draft");
    citizen
        .post_file(
            &format!("{other}/dokumen"),
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk.pdf",
            pdf("kk draf"),
        )
        .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 1);
    let (status, _, _) = citizen
        .post(&format!("{other}/tarik"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 0);

    // Someone else's application does not exist for them.
    let mut stranger = signed_in(&app, "orang.lain@contoh.id", "orang.lain@contoh.id").await;
    assert_eq!(stranger.get(&here).await.0, 404);
    let stranger_csrf = stranger.csrf();
    assert_eq!(
        stranger
            .post(&here, &[("csrf", &stranger_csrf), ("nama_anak", "X")])
            .await
            .0,
        404
    );
    assert_eq!(
        stranger
            .post_file(
                &format!("{here}/dokumen"),
                &[("csrf", &stranger_csrf), ("field", "kartu_keluarga")],
                "kk.pdf",
                pdf("kk")
            )
            .await
            .0,
        404
    );

    // A draft is saved half-done; sending it then names each missing field.
    let (status, _, location) = citizen
        .post(
            &here,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Bima Putra"),
                ("aksi", "simpan"),
            ],
        )
        .await;
    assert_eq!(
        (status, location),
        (303, Some(format!("{here}?pesan=tersimpan")))
    );
    let (status, refused, _) = citizen
        .post(
            &here,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Bima Putra"),
                ("nik_ibu", "3579015501950004"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(refused.contains("Isian ini wajib diisi."), "{refused}");
    assert!(refused.contains("Unggah dokumen ini."), "{refused}");
    assert!(refused.contains("value=\"Bima Putra\""), "answers are kept");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE state = 'draft'")
            .await,
        1
    );

    // Uploads: judged by content, not by name; within the field's limit.
    let upload = format!("{here}/dokumen");
    let (status, body, _) = citizen
        .post_file(
            &upload,
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk.pdf",
            b"<html>bukan pdf</html>".to_vec(),
        )
        .await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body.contains("nama berkas tidak menentukan jenisnya"),
        "{body}"
    );
    let (status, body, _) = citizen
        .post_file(
            &upload,
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk.pdf",
            {
                let mut big = pdf("besar");
                big.resize(5 * 1024 * 1024 + 1, b' ');
                big
            },
        )
        .await;
    assert_eq!(status, 413, "{body}");
    let (status, _, _) = citizen
        .post_file(
            &upload,
            &[("csrf", "palsu"), ("field", "kartu_keluarga")],
            "kk.pdf",
            pdf("kk"),
        )
        .await;
    assert_eq!(status, 403, "a forged CSRF token is refused");
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 0);
    for (field, name, bytes) in [
        ("surat_kelahiran", "surat lahir.png", png()),
        ("kartu_keluarga", "kk.pdf", pdf("kartu keluarga")),
    ] {
        let (status, _, location) = citizen
            .post_file(&upload, &[("csrf", &csrf), ("field", field)], name, bytes)
            .await;
        assert_eq!(status, 303, "{field}");
        assert!(location.expect("location").contains("terunggah"));
    }
    let (_, page, _) = citizen.get(&here).await;
    assert!(page.contains("surat lahir.png"), "{page}");

    // Complete: it is sent once.
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
    let (status, _, location) = citizen.post(&here, &answers).await;
    assert_eq!(
        (status, location),
        (303, Some(format!("{here}?pesan=terkirim")))
    );
    let (status, twice, _) = citizen.post(&here, &answers).await;
    assert_eq!(status, 409, "{twice}");
    let (_, page, _) = citizen.get(&here).await;
    let code = between(&page, "<strong id=\"kode\">", "<").to_owned();
    assert!(code.starts_with("PMH-"), "{code}");
    assert!(page.contains("Diterima, menunggu diperiksa"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM applications WHERE state = 'submitted' AND due_on IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE subject LIKE 'Permohonan diterima%'")
            .await,
        1,
        "the citizen is told"
    );
    // The receipt is a PDF.
    let receipt = app
        .http
        .get(app.url(&format!("{here}/tanda-terima")))
        .header("cookie", citizen.cookie_header())
        .send()
        .await
        .expect("receipt");
    assert_eq!(receipt.status(), 200);
    assert_eq!(receipt.headers()["content-type"], "application/pdf");
    let receipt = receipt.bytes().await.expect("bytes");
    assert!(receipt.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&receipt).contains(&code));

    // Public tracking: status without personal data; codes checked.
    let (status, tracked) = app
        .get_text(&format!(
            "/lacak?kode={}",
            code.to_lowercase().replace('-', " ")
        ))
        .await;
    assert_eq!(status, 200, "{tracked}");
    assert!(tracked.contains("Diterima, menunggu diperiksa"));
    assert!(!tracked.contains("Bima") && !tracked.contains("3579015501950003"));
    assert_eq!(app.get_text("/lacak?kode=PMH-0000-0000-0000").await.0, 404);
    assert_eq!(app.get_text("/lacak?kode=abc").await.0, 400);

    // The back office: another UPP's officer may not look.
    let tenant = sqlx_tenant_of(&app).await;
    let mut polres = staff_signed_in(&app, "petugas.polres@demo.mpp.id").await;
    assert_eq!(
        polres.get(&format!("/staf/permohonan/{tenant}")).await.0,
        403
    );
    let mut officer = staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    let (status, inbox, _) = officer.get(&format!("/staf/permohonan/{tenant}")).await;
    assert_eq!(status, 200);
    assert!(inbox.contains(&code), "{inbox}");
    let id = here.trim_start_matches("/akun/permohonan/");
    let item = format!("/staf/permohonan/{tenant}/{id}");
    let (status, page, _) = officer.get(&item).await;
    assert_eq!(status, 200);
    assert!(page.contains("Bima Putra"), "the officer reads the answers");
    let ocsrf = officer.csrf();
    assert_eq!(
        officer
            .post(&item, &[("csrf", &ocsrf), ("aksi", "take")])
            .await
            .0,
        303
    );
    let (status, page, _) = officer
        .post(&item, &[("csrf", &ocsrf), ("aksi", "request_revision")])
        .await;
    assert_eq!(status, 422, "a revision needs a note: {page}");
    assert_eq!(
        officer
            .post(
                &item,
                &[
                    ("csrf", &ocsrf),
                    ("aksi", "request_revision"),
                    (
                        "catatan",
                        "Kartu Keluarga buram; unggah pindaian yang jelas."
                    ),
                ],
            )
            .await
            .0,
        303
    );
    // The citizen sees what to fix, replaces the document and sends again.
    let (_, page, _) = citizen.get(&here).await;
    assert!(page.contains("Kartu Keluarga buram"), "{page}");
    let (status, _, _) = citizen
        .post_file(
            &upload,
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk-jelas.pdf",
            pdf("kartu keluarga yang jelas"),
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = citizen.post(&here, &answers).await;
    assert_eq!(status, 303);
    for action in ["take", "approve"] {
        assert_eq!(
            officer
                .post(&item, &[("csrf", &ocsrf), ("aksi", action)])
                .await
                .0,
            303,
            "{action}"
        );
    }
    // An officer cannot skip the output by a made-up step.
    assert_eq!(
        officer
            .post(&item, &[("csrf", &ocsrf), ("aksi", "attach_output")])
            .await
            .0,
        400
    );
    let output = pdf("Akta kelahiran Bima Putra");
    let (status, _, _) = officer
        .post_file(
            &format!("{item}/hasil"),
            &[("csrf", &ocsrf)],
            "akta-kelahiran.pdf",
            output.clone(),
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = citizen.get(&here).await;
    assert!(page.contains("Hasil siap"), "{page}");
    let link = format!(
        "{here}/dokumen/{}",
        between(&page, &format!("{here}/dokumen/"), "\"")
    );
    let downloaded = app
        .http
        .get(app.url(&link))
        .header("cookie", citizen.cookie_header())
        .send()
        .await
        .expect("download");
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.expect("bytes").to_vec(), output);
    assert_eq!(stranger.get(&link).await.0, 404, "not someone else's");
    let (_, page, _) = citizen.get(&here).await;
    assert!(
        page.contains("Hasil siap"),
        "following a link (a preview, a prefetch) changes nothing: {page}"
    );
    assert_eq!(
        citizen.post(&link, &[("csrf", "palsu")]).await.0,
        403,
        "the button needs the page's token"
    );
    let (status, body, _) = citizen.post(&link, &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    assert_eq!(body.into_bytes(), output);
    let (_, page, _) = citizen.get(&here).await;
    assert!(
        page.contains("Selesai"),
        "the download button collects it: {page}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'application.%'")
            .await,
        8,
        "submit, take, revision, resubmit, take, approve, output, collected"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE replaced_at IS NULL")
            .await,
        3
    );
}

async fn first_application(app: &TestApp) -> uuid::Uuid {
    let sql = "SELECT id FROM applications ORDER BY created_at, id LIMIT 1";
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        mpp::storage::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect("an application")
}

async fn sqlx_tenant_of(app: &TestApp) -> uuid::Uuid {
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT tenant_id FROM applications")
                .fetch_one(pool)
                .await
        }
        mpp::storage::Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT tenant_id FROM applications")
                .fetch_one(pool)
                .await
        }
    }
    .expect("tenant")
}

both_engines!(a_bundle_fans_out_into_one_application_per_upp);

/// The "Kelahiran" bundle: shared fields once, one upload per shared document, and on sending
/// one application in each UPP's inbox, all or none.
async fn a_bundle_fans_out_into_one_application_per_upp(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let (_, mpp_page) = app.get_text("/mpp/among-warga-kota-batu").await;
    let bundle = format!("/paket/{}", between(&mpp_page, "href=\"/paket/", "\""));
    assert!(mpp_page.contains("Kelahiran"));
    let mut citizen = signed_in(&app, "ayah.bima@contoh.id", "ayah.bima@contoh.id").await;
    let (status, page, _) = citizen.get(&bundle).await;
    assert_eq!(status, 200);
    assert!(page.contains("Penerbitan Akta Kelahiran") && page.contains("Bayi Baru Lahir"));
    let csrf = citizen.csrf();
    let key = hidden(&page, "key");
    let start = format!("{bundle}/ajukan");
    let (status, _, location) = citizen
        .post(&start, &[("csrf", &csrf), ("key", &key)])
        .await;
    assert_eq!(status, 303);
    let here = location.expect("location");
    assert!(here.starts_with("/akun/paket/"), "{here}");
    let (_, _, again) = citizen
        .post(&start, &[("csrf", &csrf), ("key", &key)])
        .await;
    assert_eq!(
        again.as_deref(),
        Some(here.as_str()),
        "a retry starts nothing new"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE bundle_application_id IS NOT NULL")
            .await,
        2
    );
    let mut stranger = signed_in(&app, "bukan.ayah@contoh.id", "bukan.ayah@contoh.id").await;
    assert_eq!(stranger.get(&here).await.0, 404);

    // A member draft is never filled, sent or withdrawn alone: its page leads to the bundle's.
    let member = format!("/akun/permohonan/{}", first_application(&app).await);
    let (status, _, location) = citizen.get(&member).await;
    assert_eq!((status, location.as_deref()), (303, Some(here.as_str())));
    for path in [member.clone(), format!("{member}/tarik")] {
        let (status, body, _) = citizen
            .post(&path, &[("csrf", &csrf), ("aksi", "kirim")])
            .await;
        assert_eq!(status, 409, "{path}: {body}");
        assert!(body.contains("bagian dari paket"), "{body}");
    }
    let token = crate::queue_api::session_token(&app, "ayah.bima@contoh.id").await;
    let api = member.replace("/akun/permohonan/", "/api/v1/me/applications/");
    for path in [format!("{api}/submit"), format!("{api}/withdraw")] {
        let response = app
            .http
            .post(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("api");
        assert_eq!(response.status(), 409, "{path}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["code"], "in_bundle");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE state = 'draft'")
            .await,
        2
    );

    // Shared documents: uploaded once, recorded for each application that asks them.
    let upload = format!("{here}/dokumen");
    for (field, name, bytes) in [
        ("surat_kelahiran", "lahir.png", png()),
        ("kartu_keluarga", "kk.pdf", pdf("kk bersama")),
    ] {
        let (status, _, _) = citizen
            .post_file(&upload, &[("csrf", &csrf), ("field", field)], name, bytes)
            .await;
        assert_eq!(status, 303, "{field}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 4);
    let (status, _, _) = citizen
        .post_file(
            &upload,
            &[("csrf", &csrf), ("field", "pas_foto")],
            "x.png",
            png(),
        )
        .await;
    assert_eq!(status, 400, "a field no form of the bundle has");

    // Sending names what either UPP still needs; nothing is sent.
    let mut answers = vec![
        ("csrf", csrf.as_str()),
        ("nama_anak", "Bima Kecil"),
        ("tanggal_lahir", "2026-11-22"),
        ("tempat_lahir", "Kota Batu"),
        ("jenis_kelamin", "l"),
        ("nik_ibu", "3579015501950003"),
        ("orang_tua_menikah", "tidak"),
        ("kelas_rawat", "3"),
        ("aksi", "kirim"),
    ];
    let (status, page, _) = citizen.post(&here, &answers).await;
    assert_eq!(status, 422);
    assert!(page.contains("error-nomor_jkn_ibu"), "{page}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE state = 'draft'")
            .await,
        2
    );
    answers.push(("nomor_jkn_ibu", "0001234567890"));
    let (status, _, location) = citizen.post(&here, &answers).await;
    assert_eq!(
        (status, location),
        (303, Some(format!("{here}?pesan=terkirim")))
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE state = 'submitted'")
            .await,
        2
    );
    assert_eq!(citizen.post(&here, &answers).await.0, 409, "sent once");

    // Each application is in its own UPP's inbox, with its own answers.
    let (_, page, _) = citizen.get(&here).await;
    let codes: Vec<String> = page
        .match_indices("<td>PMH-")
        .map(|(at, _)| page[at + 4..at + 4 + 18].to_owned())
        .collect();
    assert_eq!(codes.len(), 2, "{page}");
    let mut dukcapil = staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    let tenant = tenant_id(&app, "dispendukcapil").await;
    let (_, inbox, _) = dukcapil.get(&format!("/staf/permohonan/{tenant}")).await;
    assert_eq!(
        codes.iter().filter(|c| inbox.contains(c.as_str())).count(),
        1,
        "only Dispendukcapil's own application: {inbox}"
    );

    // A sent bundle is not discarded whole; a bundle still in draft is, documents and all.
    assert_eq!(
        citizen
            .post(&format!("{here}/tarik"), &[("csrf", &csrf)])
            .await
            .0,
        409
    );
    let (_, page, _) = citizen.get(&bundle).await;
    let (_, _, second) = citizen
        .post(&start, &[("csrf", &csrf), ("key", &hidden(&page, "key"))])
        .await;
    let second = second.expect("a second bundle");
    assert_ne!(second, here);
    let (status, _, _) = citizen
        .post_file(
            &format!("{second}/dokumen"),
            &[("csrf", &csrf), ("field", "kartu_keluarga")],
            "kk.pdf",
            pdf("kk kedua"),
        )
        .await;
    assert_eq!(status, 303);
    let before = app.count("SELECT COUNT(*) FROM applications").await;
    let documents = app.count("SELECT COUNT(*) FROM documents").await;
    assert_eq!(
        stranger
            .post(&format!("{second}/tarik"), &[("csrf", &stranger.csrf())])
            .await
            .0,
        404,
        "not someone else's"
    );
    let (status, _, location) = citizen
        .post(&format!("{second}/tarik"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/akun/permohonan"))
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications").await,
        before - 2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents").await,
        documents - 2
    );
    assert_eq!(citizen.get(&second).await.0, 404);
}

async fn tenant_id(app: &TestApp, slug: &'static str) -> uuid::Uuid {
    let sql = "SELECT t.id FROM tenants t JOIN mpps m ON m.id = t.mpp_id \
               WHERE m.slug = 'among-warga-kota-batu' AND t.slug = $1";
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => sqlx::query_scalar(sql).bind(slug).fetch_one(pool).await,
        mpp::storage::Db::Postgres(pool) => {
            sqlx::query_scalar(sql).bind(slug).fetch_one(pool).await
        }
    }
    .expect("tenant")
}

both_engines!(an_mpp_manager_composes_a_bundle);

async fn an_mpp_manager_composes_a_bundle(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let akta = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let bidan = service_id(&app, "sip+bidan", "sip-bidan").await;
    let path = "/staf/mpp/among-warga-kota-batu/paket";
    let mut officer = staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    assert_eq!(officer.get(path).await.0, 403);
    let mut manager = staff_signed_in(&app, "pengelola@demo.mpp.id").await;
    let (status, page, _) = manager.get(path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Kelahiran"), "the demo's bundle is listed");
    let csrf = manager.csrf();
    let (status, page, _) = manager
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("name_id", "Bidan Praktik"),
                ("name_en", "Midwife practice"),
                ("service", &akta),
            ],
        )
        .await;
    assert_eq!(status, 422, "one service is not a bundle: {page}");
    let (status, _, _) = manager
        .post(
            path,
            &[
                ("csrf", &csrf),
                ("name_id", "Bidan Praktik"),
                ("name_en", "Midwife practice"),
                ("service", &akta),
                ("service", &bidan),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM bundles").await, 2);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'bundle.save' AND actor LIKE 'account:%'"
        )
        .await,
        1
    );
    let (_, mpp_page) = app.get_text("/mpp/among-warga-kota-batu").await;
    assert!(mpp_page.contains("Bidan Praktik"));
}

/// A staff API token with the scope `scope` (the form's checkbox name), made at /staf/token.
async fn token_with(app: &TestApp, email: &str, scope: &str) -> String {
    let mut staff = staff_signed_in(app, email).await;
    staff.get("/staf/token").await;
    let csrf = staff.csrf();
    let (status, page, _) = staff
        .post(
            "/staf/token",
            &[
                ("csrf", csrf.as_str()),
                ("name", "SIAK"),
                ("days", "30"),
                (scope, "1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let at = page.find("id=\"new-token\">").expect("shown once") + "id=\"new-token\">".len();
    page[at..at + page[at..].find('<').expect("end")].to_owned()
}

both_engines!(an_agency_system_works_its_inbox_through_the_api);

/// Dispendukcapil's own system pulls its inbox, reads an application with its documents, asks
/// a fix, then approves and puts the output; the public follows it by code. Another UPP's token
/// sees nothing of it.
async fn an_agency_system_works_its_inbox_through_the_api(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let mut citizen = signed_in(&app, "api.ibu@contoh.id", "api.ibu@contoh.id").await;
    let (_, start, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
    let csrf = citizen.csrf();
    let (_, _, here) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &hidden(&start, "key"))],
        )
        .await;
    let here = here.expect("draft");
    for (field, name, bytes) in [
        ("surat_kelahiran", "lahir.png", png()),
        ("kartu_keluarga", "kk.pdf", pdf("kk api")),
    ] {
        citizen
            .post_file(
                &format!("{here}/dokumen"),
                &[("csrf", &csrf), ("field", field)],
                name,
                bytes,
            )
            .await;
    }
    let (status, _, _) = citizen
        .post(
            &here,
            &[
                ("csrf", csrf.as_str()),
                ("nama_anak", "Api Kecil"),
                ("tanggal_lahir", "2026-11-20"),
                ("tempat_lahir", "Kota Batu"),
                ("jenis_kelamin", "p"),
                ("nik_ibu", "3579015501950003"),
                ("orang_tua_menikah", "tidak"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let id = here.trim_start_matches("/akun/permohonan/").to_owned();
    let tenant = tenant_id(&app, "dispendukcapil").await;

    let token = token_with(&app, "admin.dukcapil@demo.mpp.id", "applications_process").await;
    let other = token_with(&app, "admin.polres@demo.mpp.id", "applications_process").await;
    let queue_only = token_with(&app, "admin.dukcapil@demo.mpp.id", "queue_operate").await;
    let call = |method: reqwest::Method, path: String, token: &str| {
        app.http.request(method, app.url(&path)).bearer_auth(token)
    };
    let inbox = format!("/api/v1/tenants/{tenant}/applications");
    let listed: serde_json::Value = call(reqwest::Method::GET, inbox.clone(), &token)
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed["items"].as_array().expect("list").len(),
        1,
        "{listed}"
    );
    assert_eq!(listed["items"][0]["state"], "submitted");
    assert_eq!(
        call(reqwest::Method::GET, inbox.clone(), &other)
            .send()
            .await
            .expect("inbox")
            .status(),
        403,
        "another UPP's token"
    );
    assert_eq!(
        call(reqwest::Method::GET, inbox.clone(), &queue_only)
            .send()
            .await
            .expect("inbox")
            .status(),
        403,
        "a token without the scope"
    );
    let path = format!("/api/v1/applications/{id}");
    assert_eq!(
        call(reqwest::Method::GET, path.clone(), &other)
            .send()
            .await
            .expect("get")
            .status(),
        404,
        "not told to another UPP"
    );
    let detail: serde_json::Value = call(reqwest::Method::GET, path.clone(), &token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["answers"]["nama_anak"], "Api Kecil");
    let documents = detail["documents"].as_array().expect("documents");
    assert_eq!(documents.len(), 2);
    let kk = documents
        .iter()
        .find(|d| d["field"] == "kartu_keluarga")
        .expect("kk");
    let bytes = call(
        reqwest::Method::GET,
        format!("{path}/documents/{}", kk["id"].as_str().expect("id")),
        &token,
    )
    .send()
    .await
    .expect("document")
    .bytes()
    .await
    .expect("bytes");
    assert_eq!(bytes.to_vec(), pdf("kk api"));

    let step = |action: &str, note: Option<&str>| {
        call(reqwest::Method::POST, format!("{path}/steps"), &token)
            .json(&serde_json::json!({ "action": action, "note": note }))
            .send()
    };
    assert_eq!(step("approve", None).await.expect("step").status(), 409);
    assert_eq!(step("take", None).await.expect("step").status(), 200);
    assert_eq!(step("reject", None).await.expect("step").status(), 422);
    assert_eq!(
        step("attach_output", None).await.expect("step").status(),
        400
    );
    assert_eq!(step("approve", None).await.expect("step").status(), 200);
    let output = format!("{path}/output?name=akta.pdf");
    let refused = call(reqwest::Method::PUT, output.clone(), &token)
        .body("<html>bukan pdf</html>")
        .send()
        .await
        .expect("put");
    assert_eq!(refused.status(), 415);
    let ready: serde_json::Value = call(reqwest::Method::PUT, output, &token)
        .body(pdf("akta dari SIAK"))
        .send()
        .await
        .expect("put")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["state"], "ready", "{ready}");

    // Anyone follows it by its code, without personal data.
    let code = ready["tracking_code"].as_str().expect("code").to_owned();
    let (status, tracked) = app
        .get_json(&format!("/api/v1/tracking/{}", code.to_lowercase()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(tracked["state"], "ready");
    assert!(!tracked.to_string().contains("Api Kecil"));
    assert_eq!(app.get_json("/api/v1/tracking/bukan-kode").await.0, 400);
    assert_eq!(
        app.get_json("/api/v1/tracking/PMH-0000-0000-0000").await.0,
        404
    );
    // The citizen downloads what the system put, on the page and in their app.
    let (_, page, _) = citizen.get(&here).await;
    assert!(page.contains("akta.pdf"), "{page}");
    let mine = crate::queue_api::session_token(&app, "api.ibu@contoh.id").await;
    let stranger = crate::queue_api::session_token(&app, "api.orang@contoh.id").await;
    let listed: serde_json::Value = call(
        reqwest::Method::GET,
        "/api/v1/me/applications".into(),
        &mine,
    )
    .send()
    .await
    .expect("list")
    .json()
    .await
    .expect("json");
    assert_eq!(listed.as_array().expect("list").len(), 1);
    let me = format!("/api/v1/me/applications/{id}");
    assert_eq!(
        call(reqwest::Method::GET, me.clone(), &stranger)
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
    let detail: serde_json::Value = call(reqwest::Method::GET, me.clone(), &mine)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["state"], "ready");
    let output = detail["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["kind"] == "output")
        .expect("output")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bytes = call(
        reqwest::Method::GET,
        format!("{me}/documents/{output}"),
        &mine,
    )
    .send()
    .await
    .expect("download")
    .bytes()
    .await
    .expect("bytes");
    assert_eq!(bytes.to_vec(), pdf("akta dari SIAK"));
}

both_engines!(a_upp_admin_defines_a_form_on_the_web);

/// A UPP admin opens online applications for a service by saving a form, row by row; a wrong
/// row is shown with its problem and nothing is saved; another UPP's admin cannot.
async fn a_upp_admin_defines_a_form_on_the_web(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "kia", "penerbitan-kia").await;
    let path = format!("/staf/layanan/{service}/formulir");
    let mut other = staff_signed_in(&app, "admin.polres@demo.mpp.id").await;
    assert_eq!(other.get(&path).await.0, 403);
    let mut admin = staff_signed_in(&app, "admin.dukcapil@demo.mpp.id").await;
    let (status, page, _) = admin.get(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Belum ada formulir"), "{page}");
    let csrf = admin.csrf();
    let row = |i: usize, fields: &[(&str, &str)]| -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(k, v)| (format!("{k}_{i}"), (*v).to_owned()))
            .collect()
    };
    let mut form: Vec<(String, String)> =
        vec![("csrf".into(), csrf.clone()), ("rows".into(), "3".into())];
    form.extend(row(
        0,
        &[
            ("key", "nama_anak"),
            ("label_id", "Nama anak"),
            ("label_en", "Child's name"),
            ("kind", "text"),
            ("required", "always"),
            ("max_length", "100"),
        ],
    ));
    form.extend(row(
        1,
        &[
            ("key", "Akta"),
            ("label_id", "Akta kelahiran"),
            ("label_en", "Birth certificate"),
            ("kind", "document"),
            ("required", "always"),
            ("pdf", "1"),
            ("max_mb", "2"),
            ("requirement", "1"),
        ],
    ));
    form.extend(row(
        2,
        &[
            ("key", "jenis"),
            ("label_id", "Jenis"),
            ("label_en", "Kind"),
            ("kind", "choice"),
            ("required", "always"),
            ("options", "baru | Baru | New\nganti hilang"),
        ],
    ));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, page, _) = admin.post(&path, &pairs).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("nilai | Label Indonesia | Label Inggris"),
        "{page}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_forms").await,
        3,
        "nothing saved beyond the demo's three"
    );
    let fixed: Vec<(String, String)> = form
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "key_1" => (k, "akta".to_owned()),
            "options_2" => (
                k,
                "baru | Baru | New\nganti | Ganti yang hilang | Replace a lost one".to_owned(),
            ),
            _ => (k, v),
        })
        .collect();
    let pairs: Vec<(&str, &str)> = fixed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, location) = admin.post(&path, &pairs).await;
    assert_eq!(
        (status, location),
        (303, Some(format!("{path}?tersimpan=1")))
    );
    let (_, page) = app.get_text(&format!("/layanan/{service}")).await;
    assert!(
        page.contains(&format!("/layanan/{service}/ajukan")),
        "the service now takes applications"
    );
    let (_, page, _) = admin.get(&path).await;
    assert!(
        page.contains("Versi 1") && page.contains("Ganti yang hilang"),
        "{page}"
    );
    // Removing a field saves the next version without it.
    let mut removed = fixed.clone();
    removed.push(("remove_2".into(), "1".into()));
    let pairs: Vec<(&str, &str)> = removed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(admin.post(&path, &pairs).await.0, 303);
    let (_, page, _) = admin.get(&path).await;
    assert!(
        page.contains("Versi 2") && !page.contains("Ganti yang hilang"),
        "{page}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'service.form' AND actor LIKE 'account:%'")
            .await,
        2
    );
}

both_engines!(an_application_keeps_the_form_it_was_sent_with);

/// A UPP admin changes a form while applications are under way: one already sent is shown to
/// the officer and fixed by the citizen with the version it was sent with; a draft moves to the
/// new version and must meet it.
async fn an_application_keeps_the_form_it_was_sent_with(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "kia", "penerbitan-kia").await;
    let service_uuid: uuid::Uuid = service.parse().expect("uuid");
    let text = |key: &str, label: &str, required: &str| {
        serde_json::json!({"key": key, "label_id": label, "label_en": label, "kind": "text",
            "max_length": 100, "required": {"when": required}})
    };
    let v1 = serde_json::json!({"fields": [text("nama_anak", "Nama anak", "always"),
        text("nama_sekolah", "Nama sekolah", "always")]});
    let version =
        mpp::storage::applications::save_form(app.db(), service_uuid, &v1.to_string(), "test", "/")
            .await
            .expect("v1");
    assert_eq!(version, 1);

    let mut citizen = signed_in(&app, "ibu.ani@contoh.id", "ibu.ani@contoh.id").await;
    let csrf = citizen.csrf();
    let mut drafts = Vec::new();
    for _ in 0..2 {
        let (_, page, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
        let (status, _, location) = citizen
            .post(
                &format!("/layanan/{service}/ajukan"),
                &[("csrf", &csrf), ("key", &hidden(&page, "key"))],
            )
            .await;
        assert_eq!(status, 303);
        drafts.push(location.expect("draft"));
    }
    let (sent, draft) = (drafts[0].clone(), drafts[1].clone());
    let (status, _, _) = citizen
        .post(
            &sent,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Sekar"),
                ("nama_sekolah", "SDN Sisir 1"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        citizen
            .post(
                &draft,
                &[("csrf", &csrf), ("nama_anak", "Sekar"), ("aksi", "simpan")]
            )
            .await
            .0,
        303
    );

    // Version 2 drops the school and asks for a new required field.
    let v2 = serde_json::json!({"fields": [text("nama_anak", "Nama anak", "always"),
        text("nama_ayah", "Nama ayah", "always")]});
    let version =
        mpp::storage::applications::save_form(app.db(), service_uuid, &v2.to_string(), "test", "/")
            .await
            .expect("v2");
    assert_eq!(version, 2);

    // The officer still reads the answer the citizen gave to version 1.
    let tenant = tenant_id(&app, "dispendukcapil").await;
    let mut officer = staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    let id = sent.trim_start_matches("/akun/permohonan/");
    let item = format!("/staf/permohonan/{tenant}/{id}");
    let (status, page, _) = officer.get(&item).await;
    assert_eq!(status, 200);
    assert!(page.contains("SDN Sisir 1"), "{page}");
    assert!(!page.contains("Nama ayah"), "{page}");
    let ocsrf = officer.csrf();
    assert_eq!(
        officer
            .post(&item, &[("csrf", &ocsrf), ("aksi", "take")])
            .await
            .0,
        303
    );
    assert_eq!(
        officer
            .post(
                &item,
                &[
                    ("csrf", &ocsrf),
                    ("aksi", "request_revision"),
                    ("catatan", "Tulis nama sekolah lengkap")
                ]
            )
            .await
            .0,
        303
    );
    // The agency API says which version the answers belong to.
    let token = token_with(&app, "admin.dukcapil@demo.mpp.id", "applications_process").await;
    let detail: serde_json::Value = app
        .http
        .get(app.url(&format!("/api/v1/applications/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("detail")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["form_version"], 1, "{detail}");
    let (status, old_form) = app
        .get_json(&format!("/api/v1/services/{service}/form?version=1"))
        .await;
    assert_eq!(status, 200);
    assert!(old_form.to_string().contains("nama_sekolah"), "{old_form}");
    assert_eq!(
        app.get_json(&format!("/api/v1/services/{service}/form?version=99"))
            .await
            .0,
        404
    );
    assert_eq!(detail["answers"]["nama_sekolah"], "SDN Sisir 1");

    // The citizen fixes it against version 1: no new field is asked.
    let (_, page, _) = citizen.get(&sent).await;
    assert!(
        page.contains("Nama sekolah") && !page.contains("Nama ayah"),
        "{page}"
    );
    let (status, body, _) = citizen
        .post(
            &sent,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Sekar"),
                ("nama_sekolah", "SD Negeri Sisir 1 Kota Batu"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");

    // The draft follows version 2: it must answer the new field before it can be sent.
    let (_, page, _) = citizen.get(&draft).await;
    assert!(
        page.contains("Nama ayah") && !page.contains("Nama sekolah"),
        "{page}"
    );
    let (status, body, _) = citizen
        .post(
            &draft,
            &[("csrf", &csrf), ("nama_anak", "Sekar"), ("aksi", "kirim")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _, _) = citizen
        .post(
            &draft,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Sekar"),
                ("nama_ayah", "Budi"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM applications WHERE form_version = 2 AND state = 'submitted'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM applications WHERE form_version = 1 AND state = 'submitted'"
        )
        .await,
        1,
        "the resubmitted one keeps version 1"
    );
}

both_engines!(a_citizen_app_applies_through_the_api);

/// A citizen's app applies with the API alone: reads the form, starts a draft (retried with the
/// same key), answers, uploads two documents, is told what is missing, sends, follows the fix
/// the officer asks for and sends again; the refusals leave nothing half-written.
async fn a_citizen_app_applies_through_the_api(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let (status, form) = app
        .get_json(&format!("/api/v1/services/{service}/form"))
        .await;
    assert_eq!(status, 200, "{form}");
    let keys: Vec<&str> = form["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert!(
        keys.contains(&"nik_ibu") && keys.contains(&"kartu_keluarga"),
        "{form}"
    );
    let kia = service_id(&app, "kia", "penerbitan-kia").await;
    assert_eq!(
        app.get_json(&format!("/api/v1/services/{kia}/form"))
            .await
            .0,
        404
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/services/{service}/form?version=abc"))
            .await
            .0,
        400
    );

    let token = crate::queue_api::session_token(&app, "api.warga@contoh.id").await;
    let call = |method: reqwest::Method, path: &str| {
        app.http.request(method, app.url(path)).bearer_auth(&token)
    };
    let json = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        (status, body)
    };
    // No session: 401; no key: 400.
    let (status, _) = json(
        app.http
            .post(app.url("/api/v1/me/applications"))
            .json(&serde_json::json!({ "service_id": service }))
            .send()
            .await
            .expect("start"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = json(
        call(reqwest::Method::POST, "/api/v1/me/applications")
            .json(&serde_json::json!({ "service_id": service }))
            .send()
            .await
            .expect("start"),
    )
    .await;
    assert_eq!(status, 400);
    let start = || {
        call(reqwest::Method::POST, "/api/v1/me/applications")
            .header("idempotency-key", "aplikasi-1")
            .json(&serde_json::json!({ "service_id": service }))
            .send()
    };
    let (status, draft) = json(start().await.expect("start")).await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["state"], "draft");
    let (_, again) = json(start().await.expect("retry")).await;
    assert_eq!(again["id"], draft["id"], "a retried start makes one draft");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    let id = draft["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/me/applications/{id}");

    // Answers: a key the form lacks is refused, with nothing saved.
    let (status, refused) = json(
        call(reqwest::Method::PUT, &format!("{path}/answers"))
            .json(&serde_json::json!({ "answers": { "nama_anak": "Laras", "hobi": "menari" } }))
            .send()
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["fields"][0]["field"], "hobi", "{refused}");
    let answers = serde_json::json!({ "answers": {
        "nama_anak": "Laras", "tanggal_lahir": "2026-11-21", "tempat_lahir": "Kota Batu",
        "jenis_kelamin": "p", "nik_ibu": "3579015501950003", "orang_tua_menikah": "tidak" } });
    let (status, saved) = json(
        call(reqwest::Method::PUT, &format!("{path}/answers"))
            .json(&answers)
            .send()
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["answers"]["nama_anak"], "Laras");
    // The same key for another service is a mistake, not that draft.
    let bidan = service_id(&app, "bidan", "sip-bidan").await;
    let (status, reused) = json(
        call(reqwest::Method::POST, "/api/v1/me/applications")
            .header("idempotency-key", "aplikasi-1")
            .json(&serde_json::json!({ "service_id": bidan }))
            .send()
            .await
            .expect("start"),
    )
    .await;
    assert_eq!(status, 422, "{reused}");
    assert_eq!(reused["code"], "idempotency_key_reused");

    // The UPP admin adds a field before the draft is sent: it is sent with the new version.
    let service_uuid: uuid::Uuid = service.parse().expect("uuid");
    let (current, version) = mpp::storage::applications::form(app.db(), service_uuid)
        .await
        .expect("form")
        .expect("a form");
    let mut next: serde_json::Value = serde_json::from_str(&current).expect("json");
    next["fields"]
        .as_array_mut()
        .expect("fields")
        .push(serde_json::json!({
        "key": "anak_ke", "label_id": "Anak ke-", "label_en": "Birth order", "kind": "number",
        "min": 1, "max": 30, "required": {"when": "never"}}));
    let next_version = mpp::storage::applications::save_form(
        app.db(),
        service_uuid,
        &next.to_string(),
        "test",
        "/",
    )
    .await
    .expect("next version");
    assert_eq!(next_version, version + 1);

    // Sending without the documents names them.
    let (status, missing) = json(
        call(reqwest::Method::POST, &format!("{path}/submit"))
            .send()
            .await
            .expect("submit"),
    )
    .await;
    assert_eq!(status, 422, "{missing}");
    let named: Vec<&str> = missing["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        named.contains(&"kartu_keluarga") && named.contains(&"surat_kelahiran"),
        "{missing}"
    );
    assert!(
        missing["fields"][0]["messages"]["en"].is_string(),
        "{missing}"
    );

    // Uploads are judged by their bytes.
    let upload = |field: &str, name: &str, bytes: Vec<u8>| {
        call(
            reqwest::Method::PUT,
            &format!("{path}/uploads/{field}?name={name}"),
        )
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
    };
    let (status, wrong) = json(
        upload("kartu_keluarga", "kk.pdf", b"<html>".to_vec())
            .await
            .expect("up"),
    )
    .await;
    assert_eq!(status, 415, "{wrong}");
    assert!(
        wrong["messages"]["id"]
            .as_str()
            .unwrap_or_default()
            .contains("nama berkas"),
        "{wrong}"
    );
    let (status, _) = json(upload("foto_bebas", "x.png", png()).await.expect("up")).await;
    assert_eq!(status, 422, "a field the form lacks");
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 0);
    for (field, name, bytes) in [
        ("surat_kelahiran", "lahir.png", png()),
        ("kartu_keluarga", "kk.pdf", pdf("kk lewat api")),
    ] {
        let (status, body) = json(upload(field, name, bytes).await.expect("up")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, sent) = json(
        call(reqwest::Method::POST, &format!("{path}/submit"))
            .send()
            .await
            .expect("submit"),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["state"], "submitted");
    assert!(sent["due_on"].is_string(), "{sent}");
    assert_eq!(
        sent["form_version"], next_version,
        "a draft is sent with the version it was checked with"
    );
    // Sent twice: 409; changed after sending: 409; nothing changes.
    let (status, _) = json(
        call(reqwest::Method::POST, &format!("{path}/submit"))
            .send()
            .await
            .expect("submit"),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = json(
        call(reqwest::Method::PUT, &format!("{path}/answers"))
            .json(&answers)
            .send()
            .await
            .expect("answers"),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = json(
        upload("kartu_keluarga", "kk2.pdf", pdf("lagi"))
            .await
            .expect("up"),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(app.count("SELECT COUNT(*) FROM documents").await, 2);

    // Someone else's application does not exist for another citizen.
    let other = crate::queue_api::session_token(&app, "api.lain@contoh.id").await;
    for request in [
        app.http.get(app.url(&path)),
        app.http.post(app.url(&format!("{path}/submit"))),
        app.http.post(app.url(&format!("{path}/withdraw"))),
        app.http
            .put(app.url(&format!("{path}/uploads/kartu_keluarga")))
            .body(pdf("x")),
    ] {
        let response = request.bearer_auth(&other).send().await.expect("other");
        assert_eq!(response.status(), 404);
    }

    // The officer asks for a fix; the app fixes the document and sends again.
    let tenant = tenant_id(&app, "dispendukcapil").await;
    let officer = token_with(&app, "admin.dukcapil@demo.mpp.id", "applications_process").await;
    for step in [
        serde_json::json!({ "action": "take" }),
        serde_json::json!({ "action": "request_revision", "note": "KK buram" }),
    ] {
        let response = app
            .http
            .post(app.url(&format!("/api/v1/applications/{id}/steps")))
            .bearer_auth(&officer)
            .json(&step)
            .send()
            .await
            .expect("step");
        assert_eq!(response.status(), 200, "{step} at {tenant}");
    }
    let (_, seen) = json(call(reqwest::Method::GET, &path).send().await.expect("get")).await;
    assert_eq!(seen["state"], "needs_revision");
    assert!(seen.to_string().contains("KK buram"), "{seen}");
    let (status, _) = json(
        upload("kartu_keluarga", "kk-jelas.pdf", pdf("kk jelas"))
            .await
            .expect("up"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, again) = json(
        call(reqwest::Method::POST, &format!("{path}/submit"))
            .send()
            .await
            .expect("resubmit"),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["state"], "submitted");
    assert_eq!(
        again["form_version"], next_version,
        "a fix keeps the version"
    );
    assert!(
        again["history"]
            .as_array()
            .expect("history")
            .iter()
            .any(|h| h["action"] == "resubmit"),
        "{again}"
    );

    // Approved with an output; the app downloads it (nothing changes) and says it has it.
    for step in [
        serde_json::json!({ "action": "take" }),
        serde_json::json!({ "action": "approve" }),
    ] {
        let response = app
            .http
            .post(app.url(&format!("/api/v1/applications/{id}/steps")))
            .bearer_auth(&officer)
            .json(&step)
            .send()
            .await
            .expect("step");
        assert_eq!(response.status(), 200, "{step}");
    }
    let response = app
        .http
        .put(app.url(&format!("/api/v1/applications/{id}/output?name=akta.pdf")))
        .bearer_auth(&officer)
        .body(pdf("akta api"))
        .send()
        .await
        .expect("output");
    assert_eq!(response.status(), 200);
    let (_, ready) = json(call(reqwest::Method::GET, &path).send().await.expect("get")).await;
    let output = ready["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["kind"] == "output")
        .expect("output")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bytes = call(reqwest::Method::GET, &format!("{path}/documents/{output}"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.to_vec(), pdf("akta api"));
    let (_, still) = json(call(reqwest::Method::GET, &path).send().await.expect("get")).await;
    assert_eq!(still["state"], "ready");
    let (status, done) = json(
        call(reqwest::Method::POST, &format!("{path}/collect"))
            .send()
            .await
            .expect("collect"),
    )
    .await;
    assert_eq!(
        (status, done["state"].as_str()),
        (200, Some("collected")),
        "{done}"
    );
    let (status, _) = json(
        call(reqwest::Method::POST, &format!("{path}/collect"))
            .send()
            .await
            .expect("collect"),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = json(
        call(reqwest::Method::POST, &format!("{path}/withdraw"))
            .send()
            .await
            .expect("withdraw"),
    )
    .await;
    assert_eq!(status, 409, "a finished application is not withdrawn");

    // A second draft is withdrawn: deleted, as it was never received.
    let (_, second) = json(
        call(reqwest::Method::POST, "/api/v1/me/applications")
            .header("idempotency-key", "aplikasi-2")
            .json(&serde_json::json!({ "service_id": service }))
            .send()
            .await
            .expect("start"),
    )
    .await;
    let second = second["id"].as_str().expect("id").to_owned();
    let response = call(
        reqwest::Method::POST,
        &format!("/api/v1/me/applications/{second}/withdraw"),
    )
    .send()
    .await
    .expect("withdraw");
    assert_eq!(response.status(), 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
}

both_engines!(a_long_inbox_is_paged_and_counts_every_late_one);

async fn exec(app: &TestApp, sql: &'static str) {
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        mpp::storage::Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .expect("exec");
}

/// A UPP with 120 open applications: the officer's inbox shows them 50 at a time, the earliest
/// due first, and counts the late ones over the whole list; the agency API pages them too.
async fn a_long_inbox_is_paged_and_counts_every_late_one(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service: uuid::Uuid = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran")
        .await
        .parse()
        .expect("uuid");
    let tenant = tenant_id(&app, "dispendukcapil").await;
    let citizen = crate::queue::citizens(app.db(), 1).await[0];
    let mpp_id: uuid::Uuid = {
        let sql = "SELECT id FROM mpps WHERE slug = 'among-warga-kota-batu'";
        match app.db() {
            mpp::storage::Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            mpp::storage::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("mpp")
    };
    for i in 0..120 {
        let code = format!("PMH-P{i:03}");
        let key = format!("paged-{i:03}");
        mpp::storage::applications::create_draft(
            app.db(),
            mpp::storage::applications::NewApplication {
                service_id: service,
                tenant_id: tenant,
                mpp_id,
                account_id: citizen,
                tracking_code: &code,
                answers_sealed: b"x",
                form_version: 1,
                limit_days: Some(14),
                idempotency_key: &key,
            },
            chrono::Utc::now(),
        )
        .await
        .expect("draft");
    }
    // 40 are long past their limit, the others far from it.
    exec(
        &app,
        "UPDATE applications SET state = 'submitted', due_on = CASE WHEN tracking_code < 'PMH-P040' \
         THEN '2020-01-02' ELSE '2099-01-01' END",
    )
    .await;

    let mut officer = staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    let inbox = format!("/staf/permohonan/{tenant}");
    let (status, first, _) = officer.get(&inbox).await;
    assert_eq!(status, 200);
    assert!(first.contains("1–50 dari 120"), "{first}");
    assert!(
        first.contains("40 permohonan melewati batas waktu"),
        "{first}"
    );
    assert!(
        first.contains("PMH-P000") && !first.contains("PMH-P050"),
        "earliest due first"
    );
    assert!(first.contains(&format!("{inbox}?hal=2")), "{first}");
    let (_, last, _) = officer.get(&format!("{inbox}?hal=3")).await;
    assert!(last.contains("101–120 dari 120"), "{last}");
    assert!(
        last.contains("40 permohonan melewati batas waktu"),
        "counted over every page"
    );
    assert!(
        !last.contains("?hal=4") && last.contains("?hal=2"),
        "{last}"
    );

    let token = token_with(&app, "admin.dukcapil@demo.mpp.id", "applications_process").await;
    let page: serde_json::Value = app
        .http
        .get(app.url(&format!(
            "/api/v1/tenants/{tenant}/applications?page=2&per_page=100"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 120, "{page}");
    assert_eq!(page["items"].as_array().expect("items").len(), 20);
    let status = app
        .http
        .get(app.url(&format!(
            "/api/v1/tenants/{tenant}/applications?per_page=1000"
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("inbox")
        .status();
    assert_eq!(status, 400);
}

both_engines!(an_officer_issues_the_services_letter);

/// A service whose output is a standard letter: the officer issues it from the template with
/// the applicant's answers, as the application's output PDF; a service without a template
/// refuses; the template's placeholders are checked when the form is saved.
async fn an_officer_issues_the_services_letter(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "bidan", "sip-bidan").await;
    let token = crate::queue_api::session_token(&app, "bidan.sari@contoh.id").await;
    let call = |method: reqwest::Method, path: &str| {
        app.http.request(method, app.url(path)).bearer_auth(&token)
    };
    // Two applications: the officer issues the first's letter on the page, an agency system
    // the second's through the API.
    let mut ids = Vec::new();
    for key in ["sip-bidan-1", "sip-bidan-2"] {
        let draft: serde_json::Value = call(reqwest::Method::POST, "/api/v1/me/applications")
            .header("idempotency-key", key)
            .json(&serde_json::json!({ "service_id": service }))
            .send()
            .await
            .expect("start")
            .json()
            .await
            .expect("json");
        let id = draft["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/me/applications/{id}");
        let saved = call(reqwest::Method::PUT, &format!("{path}/answers"))
            .json(&serde_json::json!({ "answers": {
                "nik": "3579015501950003", "nomor_str": "STR-BDN-778899",
                "tempat_praktik": "Praktik Mandiri Sari" } }))
            .send()
            .await
            .expect("answers");
        assert_eq!(saved.status(), 200);
        for (field, bytes) in [
            ("str", pdf("str")),
            ("surat_keterangan", pdf("sehat")),
            ("pas_foto", png()),
        ] {
            let up = call(reqwest::Method::PUT, &format!("{path}/uploads/{field}"))
                .body(bytes)
                .send()
                .await
                .expect("upload");
            assert_eq!(up.status(), 200, "{field}");
        }
        let sent = call(reqwest::Method::POST, &format!("{path}/submit"))
            .send()
            .await
            .expect("submit");
        assert_eq!(sent.status(), 200);
        ids.push(id);
    }
    let id = ids[0].clone();
    let path = format!("/api/v1/me/applications/{id}");

    let tenant = tenant_id(&app, "dpmptsp").await;
    let mut officer = staff_signed_in(&app, "petugas.dpmptsp@demo.mpp.id").await;
    let item = format!("/staf/permohonan/{tenant}/{id}");
    let csrf = officer.csrf();
    let (_, page, _) = officer.get(&item).await;
    assert!(!page.contains("Terbitkan surat"), "not before approval");
    let (status, _, _) = officer
        .post(&format!("{item}/surat"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 409, "a letter only for an approved application");
    for action in ["take", "approve"] {
        let (status, _, _) = officer
            .post(&item, &[("csrf", &csrf), ("aksi", action)])
            .await;
        assert_eq!(status, 303, "{action}");
    }
    let (_, page, _) = officer.get(&item).await;
    assert!(page.contains("Terbitkan surat"), "{page}");
    assert_eq!(
        officer
            .post(&format!("{item}/surat"), &[("csrf", "palsu")])
            .await
            .0,
        403
    );
    let (status, _, location) = officer
        .post(&format!("{item}/surat"), &[("csrf", &csrf)])
        .await;
    assert_eq!((status, location.as_deref()), (303, Some(item.as_str())));

    // The citizen has the letter, filled with their answers.
    let detail: serde_json::Value = call(reqwest::Method::GET, &path)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(detail["state"], "ready", "{detail}");
    let output = detail["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["kind"] == "output")
        .expect("an output");
    assert_eq!(output["content_type"], "application/pdf");
    assert_eq!(output["name"], "surat-izin-praktik-bidan.pdf");
    let bytes = call(
        reqwest::Method::GET,
        &format!("{path}/documents/{}", output["id"].as_str().expect("id")),
    )
    .send()
    .await
    .expect("download")
    .bytes()
    .await
    .expect("bytes");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("%PDF-"));
    for expected in [
        "STR-BDN-778899",
        "3579015501950003",
        "SURAT IZIN PRAKTIK BIDAN",
    ] {
        assert!(text.contains(expected), "{expected} in the letter");
    }
    assert!(!text.contains("{nik}"), "every placeholder is filled");
    assert_eq!(
        officer
            .post(&format!("{item}/surat"), &[("csrf", &csrf)])
            .await
            .0,
        409,
        "issued once"
    );

    // An agency system issues the second's letter; a letter is issued once.
    let agency_token =
        token_with(&app, "petugas.dpmptsp@demo.mpp.id", "applications_process").await;
    let second = &ids[1];
    for step in [
        serde_json::json!({ "action": "take" }),
        serde_json::json!({ "action": "approve" }),
    ] {
        let response = app
            .http
            .post(app.url(&format!("/api/v1/applications/{second}/steps")))
            .bearer_auth(&agency_token)
            .json(&step)
            .send()
            .await
            .expect("step");
        assert_eq!(response.status(), 200, "{step}");
    }
    let issue = || {
        app.http
            .post(app.url(&format!("/api/v1/applications/{second}/letter")))
            .bearer_auth(&agency_token)
            .send()
    };
    let issued = issue().await.expect("letter");
    assert_eq!(issued.status(), 200);
    let issued: serde_json::Value = issued.json().await.expect("json");
    assert_eq!(issued["state"], "ready", "{issued}");
    assert_eq!(issue().await.expect("again").status(), 409);

    // The agency API issues letters too; a draft is not the office's to issue anything for.
    let akta = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let agency = token_with(&app, "admin.dukcapil@demo.mpp.id", "applications_process").await;
    let (_, akta_form) = app.get_json(&format!("/api/v1/services/{akta}/form")).await;
    assert!(akta_form.get("letter").is_none());
    let other: serde_json::Value = call(reqwest::Method::POST, "/api/v1/me/applications")
        .header("idempotency-key", "akta-1")
        .json(&serde_json::json!({ "service_id": akta }))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let response = app
        .http
        .post(app.url(&format!(
            "/api/v1/applications/{}/letter",
            other["id"].as_str().expect("id")
        )))
        .bearer_auth(&agency)
        .send()
        .await
        .expect("letter");
    assert_eq!(response.status(), 404, "a draft is not the office's yet");

    // A template naming a field the form lacks is refused when saved.
    let mut admin = staff_signed_in(&app, "admin.dukcapil@demo.mpp.id").await;
    let editor = format!("/staf/layanan/{akta}/formulir");
    let (_, page, _) = admin.get(&editor).await;
    assert!(page.contains("letter_body"), "the editor offers a letter");
    let csrf = admin.csrf();
    let form = |body: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf.as_str()),
            ("rows", "1"),
            ("key_0", "nama_anak"),
            ("label_id_0", "Nama anak"),
            ("label_en_0", "Child's name"),
            ("kind_0", "text"),
            ("required_0", "always"),
            ("max_length_0", "100"),
            ("letter_title", "SURAT KETERANGAN"),
            ("letter_body", body),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };
    let wrong = form("Anak {nama_bayi} lahir.");
    let pairs: Vec<(&str, &str)> = wrong
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let versions = app
        .count("SELECT COUNT(*) FROM application_form_versions")
        .await;
    let (status, page, _) = admin.post(&editor, &pairs).await;
    assert_eq!(status, 422);
    let error = between(&page, "id=\"error-surat\"", "</p>");
    assert!(
        error.contains("{nama_bayi}"),
        "the unknown placeholder is named: {error}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_form_versions")
            .await,
        versions,
        "nothing saved"
    );
    let right = form("Anak {nama_anak} lahir; nomor {kode}.");
    let pairs: Vec<(&str, &str)> = right
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(admin.post(&editor, &pairs).await.0, 303);
    let (_, page, _) = admin.get(&editor).await;
    assert!(
        page.contains("Anak {nama_anak} lahir; nomor {kode}."),
        "{page}"
    );
    let (_, akta_form) = app.get_json(&format!("/api/v1/services/{akta}/form")).await;
    assert_eq!(
        akta_form["letter"]["title"], "SURAT KETERANGAN",
        "{akta_form}"
    );
}

both_engines!(an_address_is_a_kecamatan_of_the_registry);

/// An address field offers the kecamatan of the MPP's kabupaten/kota; a code the registry does
/// not hold is refused next to the field; the officer reads the kecamatan's name.
async fn an_address_is_a_kecamatan_of_the_registry(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "kia", "penerbitan-kia").await;
    let form = serde_json::json!({"fields": [
        {"key": "nama_anak", "label_id": "Nama anak", "label_en": "Child's name", "kind": "text",
         "max_length": 100, "required": {"when": "always"}},
        {"key": "alamat", "label_id": "Kecamatan tempat tinggal", "label_en": "District of residence",
         "kind": "address", "required": {"when": "always"}}]});
    mpp::storage::applications::save_form(
        app.db(),
        service.parse().expect("uuid"),
        &form.to_string(),
        "test",
        "/",
    )
    .await
    .expect("form");

    let mut citizen = signed_in(&app, "warga.bumiaji@contoh.id", "warga.bumiaji@contoh.id").await;
    let csrf = citizen.csrf();
    let (_, start, _) = citizen.get(&format!("/layanan/{service}/ajukan")).await;
    let (_, _, here) = citizen
        .post(
            &format!("/layanan/{service}/ajukan"),
            &[("csrf", &csrf), ("key", &hidden(&start, "key"))],
        )
        .await;
    let here = here.expect("draft");
    let (_, page, _) = citizen.get(&here).await;
    assert!(
        page.contains("<select id=\"isian-alamat\"")
            && page.contains("<option value=\"35.79.02\">Bumiaji</option>"),
        "{page}"
    );
    let (status, page, _) = citizen
        .post(
            &here,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Dewi"),
                ("alamat", "35.79.99"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        between(&page, "id=\"error-alamat\"", "</p>").contains("Pilih kecamatan"),
        "{page}"
    );
    let (status, _, _) = citizen
        .post(
            &here,
            &[
                ("csrf", &csrf),
                ("nama_anak", "Dewi"),
                ("alamat", "35.79.02"),
                ("aksi", "kirim"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let tenant = tenant_id(&app, "dispendukcapil").await;
    let mut officer = staff_signed_in(&app, "petugas.dukcapil@demo.mpp.id").await;
    let id = here.trim_start_matches("/akun/permohonan/");
    let (_, page, _) = officer
        .get(&format!("/staf/permohonan/{tenant}/{id}"))
        .await;
    assert!(page.contains("Bumiaji (35.79.02)"), "{page}");
}

both_engines!(a_document_is_uploaded_in_parts_and_resumed);

/// On a bad network an app sends a 2.5 MB scan in parts: a part sent twice (its answer lost) is
/// refused with the offset to go on from, the app asks where it stands and goes on, and the last
/// part records the document, byte for byte. An upload whose last answer was lost is finished by
/// an empty part; a wrong file is refused whole; someone else's upload does not exist.
async fn a_document_is_uploaded_in_parts_and_resumed(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let keys = settings.keys.clone();
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let service = service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    let token = crate::queue_api::session_token(&app, "sinyal.lemah@contoh.id").await;
    let call = |method: reqwest::Method, path: &str| {
        app.http.request(method, app.url(path)).bearer_auth(&token)
    };
    let draft: serde_json::Value = call(reqwest::Method::POST, "/api/v1/me/applications")
        .header("idempotency-key", "lambat-1")
        .json(&serde_json::json!({ "service_id": service }))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let id = draft["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/me/applications/{id}");

    let mut scan = pdf("kartu keluarga hasil pindai");
    scan.resize(2_500_000, b' ');
    let started = call(
        reqwest::Method::POST,
        &format!("{path}/uploads/kartu_keluarga/resumable"),
    )
    .json(&serde_json::json!({ "size": scan.len(), "name": "kk-besar.pdf" }))
    .send()
    .await
    .expect("start upload");
    assert_eq!(started.status(), 201);
    let started: serde_json::Value = started.json().await.expect("json");
    assert_eq!(started["offset"], 0);
    let part = started["part_limit"].as_u64().expect("limit") as usize;
    let upload = format!(
        "/api/v1/me/uploads/{}",
        started["upload"].as_str().expect("id")
    );
    let send = |offset: usize, bytes: Vec<u8>| {
        call(reqwest::Method::PATCH, &upload)
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes)
            .send()
    };
    let offset_of = |r: &reqwest::Response| -> u64 {
        r.headers()["upload-offset"]
            .to_str()
            .expect("text")
            .parse()
            .expect("number")
    };

    let first = send(0, scan[..part].to_vec()).await.expect("part 1");
    assert_eq!(first.status(), 204);
    assert_eq!(offset_of(&first), part as u64);
    // The answer was lost; the app sends the same part again: refused, nothing doubled.
    let again = send(0, scan[..part].to_vec()).await.expect("part 1 again");
    assert_eq!(again.status(), 409);
    assert_eq!(offset_of(&again), part as u64);
    let gap = send(part + 5, scan[part + 5..2 * part].to_vec())
        .await
        .expect("a gap");
    assert_eq!(gap.status(), 409, "no gap is stored");
    let empty = send(part, Vec::new()).await.expect("an empty part");
    assert_eq!(
        empty.status(),
        400,
        "an empty part only finishes a whole upload"
    );
    let (status, state) = app.get_json(&upload).await;
    assert_eq!(status, 401, "an upload is its owner's: {state}");
    let state: serde_json::Value = call(reqwest::Method::GET, &upload)
        .send()
        .await
        .expect("where")
        .json()
        .await
        .expect("json");
    assert_eq!(state["offset"], part, "{state}");
    let other = crate::queue_api::session_token(&app, "tetangga@contoh.id").await;
    let response = app
        .http
        .get(app.url(&upload))
        .bearer_auth(&other)
        .send()
        .await
        .expect("other");
    assert_eq!(response.status(), 404);

    let second = send(part, scan[part..2 * part].to_vec())
        .await
        .expect("part 2");
    assert_eq!(second.status(), 204);
    let last = send(2 * part, scan[2 * part..].to_vec())
        .await
        .expect("part 3");
    assert_eq!(last.status(), 200);
    let detail: serde_json::Value = last.json().await.expect("json");
    let doc = detail["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["field"] == "kartu_keluarga")
        .expect("recorded")
        .clone();
    assert_eq!(doc["size_bytes"], scan.len());
    assert_eq!(doc["name"], "kk-besar.pdf");
    let bytes = call(
        reqwest::Method::GET,
        &format!("{path}/documents/{}", doc["id"].as_str().expect("id")),
    )
    .send()
    .await
    .expect("download")
    .bytes()
    .await
    .expect("bytes");
    assert!(bytes.to_vec() == scan, "byte for byte");
    assert_eq!(app.count("SELECT COUNT(*) FROM upload_sessions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM upload_parts").await, 0);

    // Announced too large for the field: refused before a byte is sent.
    let big = call(
        reqwest::Method::POST,
        &format!("{path}/uploads/kartu_keluarga/resumable"),
    )
    .json(&serde_json::json!({ "size": 6 * 1024 * 1024 }))
    .send()
    .await
    .expect("start");
    assert_eq!(big.status(), 413);

    // A page renamed to PDF is refused when whole, and its parts are gone.
    let start = |field: &'static str, size: usize| {
        call(
            reqwest::Method::POST,
            &format!("{path}/uploads/{field}/resumable"),
        )
        .json(&serde_json::json!({ "size": size }))
        .send()
    };
    let fake = b"<html>bukan pdf</html>".to_vec();
    let started: serde_json::Value = start("surat_kelahiran", fake.len())
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let fake_upload = format!(
        "/api/v1/me/uploads/{}",
        started["upload"].as_str().expect("id")
    );
    let refused = call(reqwest::Method::PATCH, &fake_upload)
        .header("upload-offset", "0")
        .body(fake)
        .send()
        .await
        .expect("part");
    assert_eq!(refused.status(), 415);
    assert_eq!(app.count("SELECT COUNT(*) FROM upload_sessions").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE field_key = 'surat_kelahiran'")
            .await,
        0
    );

    // The last part was stored but its answer (and the finishing) lost: an empty part at the
    // end finishes it.
    let photo = png();
    let started: serde_json::Value = start("surat_kelahiran", photo.len())
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let upload_id: uuid::Uuid = started["upload"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let account: uuid::Uuid = {
        let sql = "SELECT account_id FROM upload_sessions";
        match app.db() {
            mpp::storage::Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            mpp::storage::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("account")
    };
    let sealed = keys.seal("document.part", &photo).expect("seal");
    let appended = mpp::storage::uploads::append(
        app.db(),
        upload_id,
        account,
        0,
        photo.len() as i64,
        &sealed,
        chrono::Utc::now(),
    )
    .await
    .expect("append");
    assert_eq!(
        appended,
        mpp::storage::uploads::Appended::Received(photo.len() as i64)
    );
    // Another request is finishing it: this one is told to look again, nothing is recorded twice.
    assert!(
        mpp::storage::uploads::claim(app.db(), upload_id, account, chrono::Utc::now())
            .await
            .expect("claim")
    );
    let finish = || {
        call(
            reqwest::Method::PATCH,
            &format!("/api/v1/me/uploads/{upload_id}"),
        )
        .header("upload-offset", photo.len().to_string())
        .send()
    };
    let busy = finish().await.expect("finish");
    assert_eq!(busy.status(), 409);
    mpp::storage::uploads::release(app.db(), upload_id)
        .await
        .expect("release");
    let finished = finish().await.expect("finish");
    assert_eq!(finished.status(), 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM documents WHERE field_key = 'surat_kelahiran'")
            .await,
        1
    );

    // An upload left unfinished is swept once it expires, parts and all.
    let started: serde_json::Value = start("buku_nikah", scan.len())
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let left = format!(
        "/api/v1/me/uploads/{}",
        started["upload"].as_str().expect("id")
    );
    assert_eq!(send_to(&call, &left, 0, scan[..part].to_vec()).await, 204);
    let now = chrono::Utc::now();
    assert_eq!(
        mpp::storage::uploads::sweep_expired(app.db(), now)
            .await
            .expect("sweep"),
        0,
        "not yet"
    );
    let later = now + chrono::Duration::hours(mpp::storage::uploads::LIFETIME_HOURS + 1);
    assert_eq!(
        mpp::storage::uploads::sweep_expired(app.db(), later)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM upload_parts").await, 0);
}

async fn send_to(
    call: &impl Fn(reqwest::Method, &str) -> reqwest::RequestBuilder,
    upload: &str,
    offset: usize,
    bytes: Vec<u8>,
) -> u16 {
    call(reqwest::Method::PATCH, upload)
        .header("upload-offset", offset.to_string())
        .body(bytes)
        .send()
        .await
        .expect("part")
        .status()
        .as_u16()
}
