//! Citizens sign up and sign in by one-time code, on both engines.

use crate::both_engines;
use crate::support::{Engine, TestApp};

both_engines!(
    citizen_signs_up_reads_the_code_and_signs_out,
    forms_without_the_csrf_token_are_refused,
    bad_identifiers_and_codes_get_clear_errors,
    no_enumeration_and_codes_are_rate_limited,
    personal_data_is_not_stored_in_clear,
);

pub(crate) struct Browser<'a> {
    app: &'a TestApp,
    cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            cookies: Vec::new(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all("set-cookie") {
            let text = header.to_str().expect("cookie");
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let response = self
            .app
            .http
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("get");
        self.remember(&response);
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("location").to_owned());
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
            location,
        )
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let response = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("post");
        self.remember(&response);
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("location").to_owned());
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
            location,
        )
    }

    /// Posts a multipart form with one file (`berkas`) as a browser's upload does.
    pub(crate) async fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        bytes: Vec<u8>,
    ) -> (u16, String, Option<String>) {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part(
            "berkas",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
        let response = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .multipart(form)
            .send()
            .await
            .expect("post");
        self.remember(&response);
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("location").to_owned());
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
            location,
        )
    }

    pub(crate) fn csrf(&self) -> String {
        self.cookies
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.clone())
            .expect("csrf cookie")
    }
}

/// The code sent to `who`, read from the development outbox once delivered.
pub(crate) async fn code_for(app: &TestApp, who: &str) -> String {
    code_after(app, who, None).await
}

/// The newest sign-in code delivered to `who` so far, if any (without waiting).
pub(crate) async fn latest_code(app: &TestApp, who: &str) -> Option<String> {
    const CODE: &str = "Kode masuk MPP Digital Anda: ";
    let (_, html) = app.get_text("/dev/outbox").await;
    html.split("<li class=\"card\">")
        .filter(|m| m.contains(who))
        .find_map(|m| {
            m.find(CODE)
                .map(|at| m[at + CODE.len()..at + CODE.len() + 6].to_owned())
        })
}

/// The newest sign-in code delivered to `who` (messages are listed newest first), other than
/// `used`: a later sign-in of the same person waits for its own code.
pub(crate) async fn code_after(app: &TestApp, who: &str, used: Option<&str>) -> String {
    const CODE: &str = "Kode masuk MPP Digital Anda: ";
    for _ in 0..100 {
        let (_, html) = app.get_text("/dev/outbox").await;
        let newest = html
            .split("<li class=\"card\">")
            .filter(|m| m.contains(who))
            .find_map(|m| {
                m.find(CODE)
                    .map(|at| m[at + CODE.len()..at + CODE.len() + 6].to_owned())
            });
        if let Some(code) = newest
            && Some(code.as_str()) != used
        {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no code delivered to {who}");
}

async fn request_code(b: &mut Browser<'_>, who: &str) -> String {
    b.get("/masuk").await;
    let csrf = b.csrf();
    let (status, _, location) = b
        .post("/masuk", &[("csrf", &csrf), ("identifier", who)])
        .await;
    assert_eq!(status, 303, "{who}");
    let location = location.expect("to the code page");
    assert!(location.starts_with("/masuk/kode?ref="), "{location}");
    location["/masuk/kode?ref=".len()..].to_owned()
}

async fn citizen_signs_up_reads_the_code_and_signs_out(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut b = Browser::new(&app);
    let (status, _, location) = b.get("/akun").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/masuk")),
        "signed out: to the sign-in page"
    );

    let reference = request_code(&mut b, "Warga.Batu@Contoh.ID").await;
    let (status, html, _) = b.get(&format!("/masuk/kode?ref={reference}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("href=\"/dev/outbox\""),
        "development mode points to the outbox"
    );
    let code = code_for(&app, "warga.batu@contoh.id").await;
    let csrf = b.csrf();
    let response = app
        .http
        .post(app.url("/masuk/kode"))
        .header("cookie", b.cookie_header())
        .form(&[
            ("csrf", csrf.as_str()),
            ("ref", reference.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/akun");
    let session_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().expect("cookie").to_owned())
        .find(|c| c.starts_with("sesi="))
        .expect("session cookie");
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    b.remember(&response);

    let (status, html, _) = b.get("/akun").await;
    assert_eq!(status, 200);
    assert!(html.contains("w***@contoh.id"), "masked on screen");
    assert!(!html.contains("warga.batu@contoh.id"));

    // The same code does not work twice.
    let (status, html, _) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", &code)],
        )
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("sudah tidak berlaku"));

    let (status, _, location) = b.post("/keluar", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let (_, _, location) = b.get("/akun").await;
    assert_eq!(location.as_deref(), Some("/masuk"), "signed out");

    // Signing in again finds the same account (the address typed differently).
    let reference = request_code(&mut b, "warga.batu@contoh.id").await;
    let code2 = code_for_nth(&app, "warga.batu@contoh.id", 2).await;
    let (status, _, _) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", &code2)],
        )
        .await;
    assert_eq!(status, 303);
    let accounts = app.count("SELECT COUNT(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = a.id)").await;
    assert_eq!(accounts, 1);
    // Signing out everywhere ends every session of the account.
    let (status, _, _) = b
        .post("/keluar", &[("csrf", &csrf), ("everywhere", "1")])
        .await;
    assert_eq!(status, 303);
}

/// The `n`-th code sent to `who` (the outbox lists newest first).
async fn code_for_nth(app: &TestApp, who: &str, n: usize) -> String {
    for _ in 0..100 {
        let (_, html) = app.get_text("/dev/outbox").await;
        if html.matches(who).count() >= n {
            return code_for(app, who).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} codes for {who}");
}

async fn forms_without_the_csrf_token_are_refused(engine: Engine) {
    let Some(app) = TestApp::spawn(engine, false).await else {
        return;
    };
    let mut b = Browser::new(&app);
    b.get("/masuk").await;
    for (path, form) in [
        ("/masuk", vec![("identifier", "a@contoh.id")]),
        (
            "/masuk",
            vec![
                ("identifier", "a@contoh.id"),
                ("csrf", "salah-salah-salah-salah-salah-salah"),
            ],
        ),
        (
            "/masuk/kode",
            vec![
                ("ref", "0190a1b2-0000-7000-8000-000000000000"),
                ("code", "123456"),
            ],
        ),
        ("/keluar", vec![]),
    ] {
        let (status, html, _) = b.post(path, &form).await;
        assert_eq!(status, 403, "{path} {form:?}");
        assert!(html.contains("Formulir kedaluwarsa"), "{path}");
    }
}

async fn bad_identifiers_and_codes_get_clear_errors(engine: Engine) {
    let Some(app) = TestApp::spawn(engine, false).await else {
        return;
    };
    let mut b = Browser::new(&app);
    b.get("/masuk").await;
    let csrf = b.csrf();
    for (who, message) in [
        ("", "Isi alamat surel"),
        ("warga@", "Alamat surel tidak valid"),
        ("0341 512345", "Nomor ponsel tidak valid"),
    ] {
        let (status, html, _) = b
            .post("/masuk", &[("csrf", &csrf), ("identifier", who)])
            .await;
        assert_eq!(status, 400, "{who:?}");
        assert!(html.contains(message), "{who:?}");
        assert!(html.contains("aria-invalid=\"true\""));
    }
    let reference = request_code(&mut b, "0812 3456 7890").await;
    let (status, html, _) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", "12ab")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("6 angka"));
    // Five wrong tries kill the code, even the right one after them.
    let right = code_for(&app, "+6281234567890").await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (1..5).rev() {
        let (_, html, _) = b
            .post(
                "/masuk/kode",
                &[("csrf", &csrf), ("ref", &reference), ("code", wrong)],
            )
            .await;
        assert!(html.contains(&format!("sisa percobaan: {left}")), "{left}");
    }
    let (_, html, _) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", wrong)],
        )
        .await;
    assert!(html.contains("sudah tidak berlaku"));
    let (status, html, _) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", &right)],
        )
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("sudah tidak berlaku"));
}

async fn no_enumeration_and_codes_are_rate_limited(engine: Engine) {
    let Some(app) = TestApp::spawn(engine, false).await else {
        return;
    };
    let mut b = Browser::new(&app);
    // An existing account and a new address get the same kind of answer.
    let reference = request_code(&mut b, "lama@contoh.id").await;
    let code = code_for(&app, "lama@contoh.id").await;
    let csrf = b.csrf();
    b.post(
        "/masuk/kode",
        &[("csrf", &csrf), ("ref", &reference), ("code", &code)],
    )
    .await;
    let mut fresh = Browser::new(&app);
    fresh.get("/masuk").await;
    let csrf = fresh.csrf();
    let existing = fresh
        .post(
            "/masuk",
            &[("csrf", &csrf), ("identifier", "lama@contoh.id")],
        )
        .await;
    let new = fresh
        .post(
            "/masuk",
            &[("csrf", &csrf), ("identifier", "baru@contoh.id")],
        )
        .await;
    assert_eq!((existing.0, new.0), (303, 303));
    assert_eq!(existing.1, new.1, "same body");
    assert!(
        existing
            .2
            .expect("location")
            .starts_with("/masuk/kode?ref=")
            && new.2.expect("location").starts_with("/masuk/kode?ref=")
    );
    // Five codes per address per 15 minutes (one was asked above).
    for _ in 0..4 {
        let (status, _, _) = fresh
            .post(
                "/masuk",
                &[("csrf", &csrf), ("identifier", "baru@contoh.id")],
            )
            .await;
        assert_eq!(status, 303);
    }
    let (status, html, _) = fresh
        .post(
            "/masuk",
            &[("csrf", &csrf), ("identifier", "BARU@contoh.id")],
        )
        .await;
    assert_eq!(status, 429);
    assert!(html.contains("Terlalu banyak permintaan kode"));
}

async fn personal_data_is_not_stored_in_clear(engine: Engine) {
    let Some(app) = TestApp::spawn(engine, false).await else {
        return;
    };
    let mut b = Browser::new(&app);
    let reference = request_code(&mut b, "rahasia.sekali@contoh.id").await;
    let code = code_for(&app, "rahasia.sekali@contoh.id").await;
    let csrf = b.csrf();
    b.post(
        "/masuk/kode",
        &[("csrf", &csrf), ("ref", &reference), ("code", &code)],
    )
    .await;
    let needle = b"rahasia.sekali";
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .expect("checkpoint");
            let path = app.tmp.url.trim_start_matches("sqlite://");
            for file in [path.to_owned(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "{file} holds the address in clear"
                    );
                    assert!(
                        !bytes.windows(code.len()).any(|w| w == code.as_bytes()) || code.len() < 6,
                        "code in clear"
                    );
                }
            }
        }
        mpp::storage::Db::Postgres(pool) => {
            let rows: Vec<(Vec<u8>, Vec<u8>)> =
                sqlx::query_as("SELECT identifier_sealed, identifier_hash FROM accounts")
                    .fetch_all(pool)
                    .await
                    .expect("rows");
            assert_eq!(rows.len(), 1);
            for (sealed, hash) in rows {
                assert!(!sealed.windows(needle.len()).any(|w| w == needle));
                assert!(!hash.windows(needle.len()).any(|w| w == needle));
            }
            let bodies: Vec<Vec<u8>> = sqlx::query_scalar("SELECT body_sealed FROM outbox")
                .fetch_all(pool)
                .await
                .expect("rows");
            assert!(
                bodies
                    .iter()
                    .all(|b| !b.windows(code.len()).any(|w| w == code.as_bytes()))
            );
        }
    }
}

/// A browser signed in as `who`.
pub(crate) async fn signed_in<'a>(app: &'a TestApp, who: &str, normalized: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    let reference = request_code(&mut b, who).await;
    let code = code_for(app, normalized).await;
    let csrf = b.csrf();
    let (status, _, location) = b
        .post(
            "/masuk/kode",
            &[("csrf", &csrf), ("ref", &reference), ("code", &code)],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/akun")));
    b
}

both_engines!(citizen_adds_a_valid_nik_and_is_told_what_is_wrong_with_an_invalid_one);

async fn citizen_adds_a_valid_nik_and_is_told_what_is_wrong_with_an_invalid_one(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut b = signed_in(&app, "nik.uji@contoh.id", "nik.uji@contoh.id").await;
    let csrf = b.csrf();
    for (nik, reason) in [
        (
            "3579013201900001",
            "Tanggal lahir (angka 7–8 NIK) 32 tidak mungkin",
        ),
        ("357901010190001", "NIK harus 16 angka; yang diisi 15 angka"),
        (
            "3579010113900001",
            "Bulan lahir (angka 9–10 NIK) 13 tidak mungkin",
        ),
        ("3679010101900001", "Kode provinsi 36"),
        (
            "3579010101900000",
            "Nomor urut NIK (angka 13–16) tidak boleh 0000",
        ),
    ] {
        let (status, html, _) = b
            .post(
                "/akun/profil",
                &[("csrf", &csrf), ("full_name", "Siti Rahayu"), ("nik", nik)],
            )
            .await;
        assert_eq!(status, 400, "{nik}");
        assert!(html.contains(reason), "{nik}: {reason}");
        assert!(
            html.contains("value=\"Siti Rahayu\""),
            "what was typed stays"
        );
    }
    let (status, _, location) = b
        .post(
            "/akun/profil",
            &[
                ("csrf", &csrf),
                ("full_name", "  Siti   Rahayu "),
                ("nik", "3579 0145 1285 0002"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/akun?tersimpan=1"))
    );
    let (_, html, _) = b.get("/akun?tersimpan=1").await;
    assert!(html.contains("Data diri tersimpan"));
    assert!(html.contains("value=\"Siti Rahayu\""));
    assert!(html.contains("3579**********02"), "masked NIK");
    assert!(!html.contains("3579014512850002"));

    // Another account cannot claim the same NIK.
    let mut other = signed_in(&app, "0813 2222 3333", "+6281322223333").await;
    let csrf2 = other.csrf();
    let (status, html, _) = other
        .post(
            "/akun/profil",
            &[
                ("csrf", &csrf2),
                ("full_name", "Orang Lain"),
                ("nik", "3579014512850002"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(html.contains("sudah terhubung dengan akun lain"));

    // The NIK is nowhere in the database in clear, and the change is audited.
    let needle = b"3579014512850002";
    match app.db() {
        mpp::storage::Db::Sqlite(pool) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .expect("checkpoint");
            let path = app.tmp.url.trim_start_matches("sqlite://");
            let bytes = std::fs::read(path).expect("database file");
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "NIK in clear in the SQLite file"
            );
        }
        mpp::storage::Db::Postgres(pool) => {
            let dump: Vec<String> = sqlx::query_scalar(
                "SELECT CONCAT(encode(nik_sealed, 'escape'), encode(nik_hash, 'escape'), encode(full_name_sealed, 'escape')) FROM accounts WHERE nik_sealed IS NOT NULL",
            )
            .fetch_all(pool)
            .await
            .expect("rows");
            assert_eq!(dump.len(), 1);
            assert!(!dump[0].contains("3579014512850002"));
        }
    }
    let entries = mpp::storage::audit::entries(app.db(), Some("citizen"))
        .await
        .expect("audit");
    assert!(
        entries
            .iter()
            .any(|e| e.action == "account.profile.update" && !e.details.contains("3579"))
    );
    assert!(
        mpp::storage::audit::verify(app.db())
            .await
            .expect("verify")
            .is_ok()
    );
}

both_engines!(citizen_downloads_their_data_and_deletes_the_account);

async fn citizen_downloads_their_data_and_deletes_the_account(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut b = signed_in(&app, "hapus.saya@contoh.id", "hapus.saya@contoh.id").await;
    let csrf = b.csrf();
    let (status, _, _) = b
        .post(
            "/akun/profil",
            &[
                ("csrf", &csrf),
                ("full_name", "Budi Santoso"),
                ("nik", "3579010101900001"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let response = app
        .http
        .get(app.url("/akun/data"))
        .header("cookie", b.cookie_header())
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .expect("cd")
            .starts_with("attachment")
    );
    let data: serde_json::Value = response.json().await.expect("json");
    assert_eq!(data["format"], "mpp-personal-data");
    assert_eq!(
        data["account"]["sign_in_with"]["value"],
        "hapus.saya@contoh.id"
    );
    assert_eq!(data["account"]["full_name"], "Budi Santoso");
    assert_eq!(data["account"]["nik"], "3579010101900001");
    let (status, _, location) = Browser::new(&app).get("/akun/data").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/masuk")),
        "only for the signed-in citizen"
    );

    let (status, html, _) = b.post("/akun/hapus", &[("csrf", &csrf)]).await;
    assert_eq!(status, 400, "deletion needs the confirmation");
    assert!(html.contains("Centang konfirmasi"));
    let (status, _, location) = b
        .post("/akun/hapus", &[("csrf", &csrf), ("confirm", "1")])
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let (_, _, location) = b.get("/akun").await;
    assert_eq!(
        location.as_deref(),
        Some("/masuk"),
        "signed out: the account is gone"
    );
    let remaining = app.count("SELECT COUNT(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = a.id)").await;
    assert_eq!(remaining, 0);
    let entries = mpp::storage::audit::entries(app.db(), Some("citizen"))
        .await
        .expect("audit");
    assert!(entries.iter().any(|e| e.action == "account.delete"));
    assert!(
        mpp::storage::audit::verify(app.db())
            .await
            .expect("verify")
            .is_ok()
    );
}

both_engines!(sign_in_attempts_are_limited_per_network_address);

/// However many addresses are tried, one network address gets ten sign-in attempts in a burst.
async fn sign_in_attempts_are_limited_per_network_address(engine: Engine) {
    let Some(app) = TestApp::spawn(engine, false).await else {
        return;
    };
    let mut b = Browser::new(&app);
    b.get("/masuk").await;
    let csrf = b.csrf();
    for i in 0..10 {
        let (status, _, _) = b
            .post(
                "/masuk",
                &[
                    ("csrf", &csrf),
                    ("identifier", &format!("bukan-alamat-{i}")),
                ],
            )
            .await;
        assert_eq!(status, 400, "attempt {i} is answered");
    }
    let (status, html, _) = b
        .post("/masuk", &[("csrf", &csrf), ("identifier", "lagi")])
        .await;
    assert_eq!(status, 429);
    assert!(html.contains("Terlalu banyak percobaan dari alamat jaringan ini"));
    let (status, _, _) = b.get("/masuk").await;
    assert_eq!(status, 200, "reading the form is not limited");
}

both_engines!(citizens_may_add_a_password_and_sign_in_with_it);

async fn citizens_may_add_a_password_and_sign_in_with_it(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut b = signed_in(&app, "sandi@contoh.id", "sandi@contoh.id").await;
    let csrf = b.csrf();
    let (status, page, _) = b
        .post(
            "/akun/sandi",
            &[
                ("csrf", &csrf),
                ("password", "pendek"),
                ("password_again", "pendek"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("minimal 12 karakter"), "{page}");
    let password = "sepeda ke alun-alun batu";
    let (status, _, location) = b
        .post(
            "/akun/sandi",
            &[
                ("csrf", &csrf),
                ("password", password),
                ("password_again", password),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/akun?tersimpan=1"))
    );
    b.post("/keluar", &[("csrf", &csrf)]).await;

    let mut other = Browser::new(&app);
    other.get("/masuk").await;
    let csrf = other.csrf();
    let answer = |page: &str| {
        let at = page.find("id=\"password-error\"").expect("an error");
        page[at..at + 120].to_owned()
    };
    let (status, wrong, _) = other
        .post(
            "/masuk/sandi",
            &[
                ("csrf", &csrf),
                ("identifier", "sandi@contoh.id"),
                ("password", "salah salah salah"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (status, unknown, _) = other
        .post(
            "/masuk/sandi",
            &[
                ("csrf", &csrf),
                ("identifier", "tidak.ada@contoh.id"),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer(&wrong), answer(&unknown), "no enumeration");
    let (status, _, location) = other
        .post(
            "/masuk/sandi",
            &[
                ("csrf", &csrf),
                ("identifier", "Sandi@Contoh.id"),
                ("password", password),
            ],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/akun")));
    let (status, _, _) = other.get("/akun").await;
    assert_eq!(status, 200);
    // Five wrong passwords lock password sign-in; the right one is then refused too.
    for _ in 0..5 {
        other
            .post(
                "/masuk/sandi",
                &[
                    ("csrf", &csrf),
                    ("identifier", "sandi@contoh.id"),
                    ("password", "masih salah terus"),
                ],
            )
            .await;
    }
    let (status, _, _) = other
        .post(
            "/masuk/sandi",
            &[
                ("csrf", &csrf),
                ("identifier", "sandi@contoh.id"),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(status, 400, "locked");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'account.password.set'")
            .await,
        1
    );
    // The password is stored as an argon2id hash only.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM accounts WHERE password_hash LIKE '$argon2id$%'")
            .await,
        1
    );
}

both_engines!(concurrent_sign_ins_all_get_their_code);

/// Many people asking for a code at the same moment each get one: on SQLite a writing
/// transaction waits for the write lock instead of failing with "database is locked".
async fn concurrent_sign_ins_all_get_their_code(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 1000,
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(24));
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (http, url, barrier) = (
            app.http.clone(),
            app.url("/api/v1/session/code"),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            http.post(url)
                .json(&serde_json::json!({ "identifier": format!("serentak{i}@contoh.id") }))
                .send()
                .await
                .expect("code")
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 202);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM login_codes").await, 24);
}
