//! Staff: password and TOTP sign-in, lockout, editing within one's scope only, invitations,
//! password resets without enumeration, API tokens, and the audit log of one's scope.

use crate::accounts::Browser;
use crate::both_engines;
use crate::support::{Engine, TestApp};

both_engines!(
    staff_sign_in_needs_the_password_and_a_fresh_totp_code,
    wrong_passwords_lock_the_account_and_answers_do_not_enumerate,
    upp_admins_edit_their_own_services_and_nobody_else_can,
    managers_edit_their_mpp_and_invite_officers_who_enrol_totp,
    password_resets_do_not_enumerate_and_replace_the_password,
    api_tokens_edit_within_scope_and_die_when_revoked,
);

pub(crate) const DUKCAPIL_ADMIN: &str = "admin.dukcapil@demo.mpp.id";
pub(crate) const POLRES_OFFICER: &str = "petugas.polres@demo.mpp.id";
pub(crate) const MANAGER: &str = "pengelola@demo.mpp.id";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Codes to try for `secret`, the current step's first, then the next (a code works once, so a
/// second sign-in within one step uses the next step's code, which the server accepts as drift).
fn codes(secret: &[u8]) -> Vec<String> {
    let t = now();
    [t, t + 30]
        .into_iter()
        .map(|s| mpp::credentials::totp_code(secret, s).expect("code"))
        .collect()
}

/// Signs in with password and TOTP; returns the browser at /staf.
pub(crate) async fn staff_signed_in<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    password_step(&mut b, email, mpp::demo::STAFF_PASSWORD).await;
    totp_step(&mut b, mpp::demo::STAFF_TOTP_SECRET).await;
    b
}

async fn password_step(b: &mut Browser<'_>, email: &str, password: &str) {
    b.get("/staf/masuk").await;
    let csrf = b.csrf();
    let (status, body, location) = b
        .post(
            "/staf/masuk",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staf/verifikasi")),
        "{email}: {body}"
    );
}

async fn totp_step(b: &mut Browser<'_>, secret: &[u8]) {
    let csrf = b.csrf();
    for code in codes(secret) {
        let (status, _, location) = b
            .post("/staf/verifikasi", &[("csrf", &csrf), ("code", &code)])
            .await;
        if status == 303 {
            assert_eq!(location.as_deref(), Some("/staf"));
            return;
        }
    }
    panic!("no TOTP code accepted");
}

async fn staff_sign_in_needs_the_password_and_a_fresh_totp_code(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut b = Browser::new(&app);
    password_step(&mut b, DUKCAPIL_ADMIN, mpp::demo::STAFF_PASSWORD).await;
    // The password alone opens nothing: not the staff area, not a citizen's page.
    let (status, _, location) = b.get("/staf").await;
    assert_eq!((status, location.as_deref()), (303, Some("/staf/masuk")));
    let (status, _, location) = b.get("/akun").await;
    assert_eq!((status, location.as_deref()), (303, Some("/masuk")));
    // The TOTP page asks for a code, without showing the key again (it is already set up).
    let (status, page, _) = b.get("/staf/verifikasi").await;
    assert_eq!(status, 200);
    assert!(
        !page.contains("class=\"secret\""),
        "the key is not shown twice"
    );
    let csrf = b.csrf();
    let (status, page, _) = b
        .post("/staf/verifikasi", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("Kode salah atau sudah dipakai"), "{page}");
    let code = codes(mpp::demo::STAFF_TOTP_SECRET).remove(0);
    let (status, _, location) = b
        .post("/staf/verifikasi", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/staf")));
    let (status, home, _) = b.get("/staf").await;
    assert_eq!(status, 200);
    assert!(home.contains("Admin UPP"), "{home}");
    assert!(
        home.contains("Penerbitan KTP-el"),
        "the tenant's services are listed"
    );

    // The same code again, from another browser: refused (a code works once).
    let mut other = Browser::new(&app);
    password_step(&mut other, DUKCAPIL_ADMIN, mpp::demo::STAFF_PASSWORD).await;
    let csrf = other.csrf();
    let (status, _, _) = other
        .post("/staf/verifikasi", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(status, 400, "a replayed code is refused");
    // The sign-in is audited.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.sign_in'")
            .await,
        1
    );
}

async fn wrong_passwords_lock_the_account_and_answers_do_not_enumerate(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut b = Browser::new(&app);
    b.get("/staf/masuk").await;
    let csrf = b.csrf();
    let mut answers = Vec::new();
    for email in [MANAGER, "tidak.ada@demo.mpp.id", "bukan-email"] {
        let (status, page, _) = b
            .post(
                "/staf/masuk",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", "salah sekali ini"),
                ],
            )
            .await;
        assert_eq!(status, 400, "{email}");
        let start = page.find("id=\"signin-error\"").expect("error shown");
        answers.push(page[start..start + 200].to_owned());
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "the same answer whether the account exists or not: {answers:?}"
    );
    // Four more wrong passwords (five in all) lock the account: the right one is refused too.
    for _ in 0..4 {
        b.post(
            "/staf/masuk",
            &[
                ("csrf", &csrf),
                ("email", MANAGER),
                ("password", "salah lagi dan lagi"),
            ],
        )
        .await;
    }
    let (status, page, _) = b
        .post(
            "/staf/masuk",
            &[
                ("csrf", &csrf),
                ("email", MANAGER),
                ("password", mpp::demo::STAFF_PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 400, "locked");
    assert!(page.contains("dikunci sementara"));
    // Another staff member is not affected.
    staff_signed_in(&app, DUKCAPIL_ADMIN).await;
}

/// A Disdukcapil service and a Polres service of the demo MPP.
async fn demo_services(app: &TestApp) -> (String, String) {
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    let ktp = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] == "dispendukcapil")
        .expect("a Disdukcapil service")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, found) = app
        .get_json("/api/v1/services?q=skck&mpp=among-warga-kota-batu")
        .await;
    let skck = found["items"][0]["id"].as_str().expect("id").to_owned();
    (ktp, skck)
}

async fn fee_form(b: &mut Browser<'_>, id: &str) -> Vec<(String, String)> {
    let (status, page, _) = b.get(&format!("/staf/layanan/{id}")).await;
    assert_eq!(status, 200, "{page}");
    // Read back the form's current values (inputs and textareas), as the browser would send them.
    let mut fields = Vec::new();
    for name in [
        "name",
        "fee_rupiah",
        "fee_legal_basis",
        "time_value",
        "product",
        "complaint_channel",
    ] {
        let marker = format!("name=\"{name}\" type=\"text\"");
        let at = page
            .find(&marker)
            .or_else(|| page.find(&format!("name=\"{name}\"")))
            .unwrap_or_else(|| panic!("{name}"));
        let rest = &page[at..];
        let value = rest
            .find("value=\"")
            .map(|v| {
                let v = &rest[v + 7..];
                v[..v.find('"').expect("end")].to_owned()
            })
            .unwrap_or_default();
        fields.push((name.to_owned(), html_unescape(&value)));
    }
    for name in ["requirements", "procedure", "legal_basis", "description"] {
        let open = format!("name=\"{name}\"");
        let at = page.find(&open).expect(name);
        let rest = &page[at..];
        let start = rest.find('>').expect(">") + 1;
        let end = rest.find("</textarea>").expect("</textarea>");
        fields.push((name.to_owned(), html_unescape(&rest[start..end])));
    }
    let unit_at = page.find("selected>").expect("selected unit");
    let before = &page[..unit_at];
    let value_at = before.rfind("value=\"").expect("unit value") + 7;
    let unit = &before[value_at..value_at + before[value_at..].find('"').expect("end")];
    fields.push(("time_unit".into(), unit.to_owned()));
    fields
}

fn html_unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn with(fields: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    out.extend(
        changes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    out
}

async fn post_fields(
    b: &mut Browser<'_>,
    path: &str,
    fields: &[(String, String)],
) -> (u16, String, Option<String>) {
    let csrf = b.csrf();
    let mut form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.push(("csrf", &csrf));
    b.post(path, &form).await
}

/// Waits until the public API shows the fee (the editing node reloads its snapshot at once).
async fn public_fee(app: &TestApp, id: &str, expected: i64) {
    for _ in 0..100 {
        let (_, service) = app.get_json(&format!("/api/v1/services/{id}")).await;
        if service["fee_rupiah"] == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, service) = app.get_json(&format!("/api/v1/services/{id}")).await;
    panic!("fee never became {expected}: {}", service["fee_rupiah"]);
}

async fn upp_admins_edit_their_own_services_and_nobody_else_can(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (ktp, skck) = demo_services(&app).await;
    let mut admin = staff_signed_in(&app, DUKCAPIL_ADMIN).await;
    let fields = fee_form(&mut admin, &ktp).await;

    // Bad input: a fee in words, then a fee without its legal basis; nothing is written.
    let edits_before = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'service.update'")
        .await;
    let (status, page, _) = post_fields(
        &mut admin,
        &format!("/staf/layanan/{ktp}"),
        &with(&fields, &[("fee_rupiah", "tiga puluh ribu")]),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("Tarif harus berupa angka rupiah"), "{page}");
    let (status, page, _) = post_fields(
        &mut admin,
        &format!("/staf/layanan/{ktp}"),
        &with(
            &fields,
            &[("fee_rupiah", "25.000"), ("fee_legal_basis", "")],
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Tarif berbayar harus disertai dasar hukumnya"),
        "{page}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'service.update'")
            .await,
        edits_before
    );

    // A good edit: saved, audited under the tenant's scope path, shown on the public page.
    let (status, _, location) = post_fields(
        &mut admin,
        &format!("/staf/layanan/{ktp}"),
        &with(
            &fields,
            &[
                ("fee_rupiah", "Rp 25.000"),
                ("fee_legal_basis", "Perda Kota Batu Nomor 1 Tahun 2026"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location, Some(format!("/staf/layanan/{ktp}?tersimpan=1")));
    public_fee(&app, &ktp, 25_000).await;
    let (_, page) = app.get_text(&format!("/layanan/{ktp}")).await;
    assert!(
        page.contains("Rp25.000"),
        "the public page shows the new fee"
    );
    let entries = mpp::storage::audit::entries(app.db(), None)
        .await
        .expect("audit");
    let edit = entries
        .iter()
        .rev()
        .find(|e| e.action == "service.update")
        .expect("audited");
    assert!(edit.actor.starts_with("account:"));
    assert!(edit.scope.starts_with("/35/35.79/"), "{}", edit.scope);
    assert!(edit.details.contains("fee"), "{}", edit.details);
    assert!(
        mpp::storage::audit::verify(app.db())
            .await
            .expect("verify")
            .is_ok()
    );

    // The same admin cannot open or post another UPP's service.
    let (status, _, _) = admin.get(&format!("/staf/layanan/{skck}")).await;
    assert_eq!(status, 403);
    let (status, _, _) = post_fields(&mut admin, &format!("/staf/layanan/{skck}"), &fields).await;
    assert_eq!(status, 403);
    // An officer of another UPP (Polres) cannot edit Disdukcapil's service, nor even their own.
    let mut officer = staff_signed_in(&app, POLRES_OFFICER).await;
    let (status, _, _) = officer.get(&format!("/staf/layanan/{ktp}")).await;
    assert_eq!(status, 403);
    let (status, _, _) = post_fields(
        &mut officer,
        &format!("/staf/layanan/{ktp}"),
        &with(&fields, &[("fee_rupiah", "1")]),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = officer.get(&format!("/staf/layanan/{skck}")).await;
    assert_eq!(status, 403);
    public_fee(&app, &ktp, 25_000).await;

    // The admin browses the audit log of the tenant and finds the edit; the officer may not.
    let (status, log, _) = admin.get("/staf/audit").await;
    assert_eq!(status, 200);
    assert!(log.contains("service.update"), "{log}");
    assert!(
        !log.contains("staff.create"),
        "national entries stay out of a tenant's log"
    );
    let (status, _, _) = officer.get("/staf/audit").await;
    assert_eq!(status, 403);
}

/// The link in the latest message to `who`.
async fn link_for(app: &TestApp, who: &str) -> String {
    for _ in 0..100 {
        let (_, html) = app.get_text("/dev/outbox").await;
        if let Some(at) = html.find(who) {
            let rest = &html[at..];
            if let Some(start) = rest.find("/staf/tautan/") {
                let token: String = rest[start + "/staf/tautan/".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                return format!("/staf/tautan/{token}");
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no link delivered to {who}");
}

async fn managers_edit_their_mpp_and_invite_officers_who_enrol_totp(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let mut manager = staff_signed_in(&app, MANAGER).await;

    // Editing the MPP: a bad interval is refused with its reason, a good edit shows publicly.
    let (status, page, _) = manager.get("/staf/mpp/among-warga-kota-batu").await;
    assert_eq!(status, 200, "{page}");
    let csrf = manager.csrf();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("status", "operating"),
        ("address", "Jl. Panglima Sudirman No. 507, Kota Batu"),
        ("phone", "(0341) 599999"),
        ("email", "mpp@batukota.go.id"),
        ("website", ""),
        ("hours_1", "15:00-08:00"),
    ];
    let (status, page, _) = manager.post("/staf/mpp/among-warga-kota-batu", &form).await;
    assert_eq!(status, 422);
    assert!(page.contains("Jam buka harus sebelum jam tutup"), "{page}");
    form.pop();
    form.extend([
        ("hours_1", "08:00-15:00"),
        ("hours_2", "08:00-15:00"),
        ("hours_3", "08:00-15:00"),
        ("hours_4", "08:00-15:00"),
        ("hours_5", "08:00-11:00, 13:00-15:00"),
        ("hours_6", "08:00-12:00"),
    ]);
    let (status, _, _) = manager.post("/staf/mpp/among-warga-kota-batu", &form).await;
    assert_eq!(status, 303);
    for _ in 0..100 {
        let (_, mpp) = app.get_json("/api/v1/mpps/among-warga-kota-batu").await;
        if mpp["phone"] == "(0341) 599999" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, mpp) = app.get_json("/api/v1/mpps/among-warga-kota-batu").await;
    assert_eq!(mpp["phone"], "(0341) 599999");
    // Adding a UPP: without an agency it is refused; with one it appears in the public API.
    let csrf = manager.csrf();
    let (status, page, _) = manager
        .post(
            "/staf/mpp/among-warga-kota-batu/upp/baru",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Bank Jatim Kantor Kas Batu"),
                ("agency", ""),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Pilih instansi"), "{page}");
    let (status, _, location) = manager
        .post(
            "/staf/mpp/among-warga-kota-batu/upp/baru",
            &[
                ("csrf", csrf.as_str()),
                ("name", "Bank Jatim Kantor Kas Batu"),
                ("agency", "bank-jatim"),
                ("location", "Lantai 1"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some("/staf/mpp/among-warga-kota-batu/upp/bank-jatim-kantor-kas-batu?tersimpan=1")
    );
    let mut listed = false;
    for _ in 0..100 {
        let (_, tenants) = app
            .get_json("/api/v1/mpps/among-warga-kota-batu/tenants")
            .await;
        if tenants.to_string().contains("Bank Jatim Kantor Kas Batu") {
            listed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(listed, "the new UPP is public");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.create'")
            .await,
        1
    );
    // The UPP admin may not edit the MPP.
    let mut admin = staff_signed_in(&app, DUKCAPIL_ADMIN).await;
    let (status, _, _) = admin.get("/staf/mpp/among-warga-kota-batu").await;
    assert_eq!(status, 403);

    // Inviting: the manager sees the staff of the MPP (an audited view of personal data) and
    // invites a new officer to Disdukcapil.
    let (status, page, _) = manager.get("/staf/undang").await;
    assert_eq!(status, 200);
    assert!(page.contains(DUKCAPIL_ADMIN), "colleagues are listed");
    assert!(
        !page.contains("admin.nasional@demo.mpp.id"),
        "only within the manager's scope"
    );
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'personal_data.view'")
            .await
            >= 1
    );
    // Disdukcapil's option, found by its label.
    let label_at = page
        .find(">Dispendukcapil Kota Batu —")
        .expect("Disdukcapil option");
    let value_at = page[..label_at]
        .rfind("value=\"tenant:")
        .expect("its value")
        + 7;
    let dukcapil = page[value_at..value_at + page[value_at..].find('"').expect("end")].to_owned();
    let csrf = manager.csrf();
    // A manager cannot make a regional admin.
    let (status, page, _) = manager
        .post(
            "/staf/undang",
            &[
                ("csrf", &csrf),
                ("email", "baru@batukota.go.id"),
                ("role", "regional_admin"),
                ("scope", "region:35.79"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("tidak berwenang mengundang"), "{page}");
    let (status, _, location) = manager
        .post(
            "/staf/undang",
            &[
                ("csrf", &csrf),
                ("email", "Petugas.Baru@BatuKota.go.id"),
                ("role", "officer"),
                ("scope", &dukcapil),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staf/undang?terkirim=1"))
    );
    let link = link_for(&app, "petugas.baru@batukota.go.id").await;

    // Accepting: a weak password is refused with the reason; then a good one.
    let mut newcomer = Browser::new(&app);
    let (status, page, _) = newcomer.get(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Petugas loket"), "{page}");
    let csrf = newcomer.csrf();
    let (status, page, _) = newcomer
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", "pendek"),
                ("password_again", "pendek"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("minimal 12 karakter"));
    let password = "kopi apel batu dingin";
    let (status, _, location) = newcomer
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", password),
                ("password_again", password),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staf/masuk?selesai=1"))
    );
    // The link works once.
    let (status, _, _) = newcomer
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", password),
                ("password_again", password),
            ],
        )
        .await;
    assert_eq!(status, 404);

    // First sign-in: the TOTP key is shown once, with a QR code; a code from it signs in.
    password_step(&mut newcomer, "petugas.baru@batukota.go.id", password).await;
    let (status, page, _) = newcomer.get("/staf/verifikasi").await;
    assert_eq!(status, 200);
    assert!(page.contains("data:image/svg+xml;base64,"), "a QR code");
    let at = page.find("class=\"secret\">").expect("the key") + "class=\"secret\">".len();
    let key = &page[at..at + page[at..].find('<').expect("end")];
    let secret = mpp::credentials::totp_secret_from_text(key).expect("base32");
    totp_step(&mut newcomer, &secret).await;
    let (status, home, _) = newcomer.get("/staf").await;
    assert_eq!(status, 200);
    assert!(home.contains("Petugas loket"), "{home}");
    // An officer invites nobody.
    let (status, _, _) = newcomer.get("/staf/undang").await;
    assert_eq!(status, 403);

    // The manager revokes the newcomer's role: the staff area closes to them at once. The UPP
    // admin cannot revoke the manager (above their authority).
    let (_, page, _) = manager.get("/staf/undang").await;
    let line = page
        .lines()
        .find(|l| l.contains("petugas.baru@batukota.go.id"))
        .expect("the newcomer is listed");
    let at = line.find("/staf/peran/").expect("a revoke button") + "/staf/peran/".len();
    let grant = &line[at..at + 36];
    let csrf = manager.csrf();
    let (status, _, _) = manager
        .post(&format!("/staf/peran/{grant}/cabut"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = newcomer.get("/staf").await;
    assert_eq!(status, 403);
    // Invited again: the account keeps its password; the link asks for it instead of a new one.
    let (status, _, _) = manager
        .post(
            "/staf/undang",
            &[
                ("csrf", &csrf),
                ("email", "petugas.baru@batukota.go.id"),
                ("role", "officer"),
                ("scope", &dukcapil),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let again = loop {
        let next = link_for(&app, "petugas.baru@batukota.go.id").await;
        if next != link {
            break next;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut returning = Browser::new(&app);
    let (_, page, _) = returning.get(&again).await;
    assert!(page.contains("sudah punya kata sandi"), "{page}");
    let rcsrf = returning.csrf();
    let (status, page, _) = returning
        .post(
            &again,
            &[("csrf", &rcsrf), ("password", "bukan sandinya sama sekali")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("Kata sandi salah"), "{page}");
    let (status, _, location) = returning
        .post(&again, &[("csrf", &rcsrf), ("password", password)])
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/staf/masuk?selesai=1"))
    );
    password_step(&mut returning, "petugas.baru@batukota.go.id", password).await;
    let (_, page, _) = manager.get("/staf/undang").await;
    let own = page
        .lines()
        .find(|l| l.contains(MANAGER))
        .expect("the manager is listed");
    assert!(
        !own.contains("/staf/peran/"),
        "nobody revokes their own role"
    );
    let (_, admin_page, _) = admin.get("/staf/undang").await;
    assert!(
        !admin_page.contains(MANAGER),
        "an admin of one UPP does not see the manager"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.revoke'")
            .await,
        1
    );
}

async fn password_resets_do_not_enumerate_and_replace_the_password(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    // The manager has an API token before the reset.
    let mut before = staff_signed_in(&app, MANAGER).await;
    before.get("/staf/token").await;
    let tcsrf = before.csrf();
    let (_, page, _) = before
        .post(
            "/staf/token",
            &[
                ("csrf", &tcsrf),
                ("name", "uji"),
                ("days", "30"),
                ("catalog_write", "1"),
            ],
        )
        .await;
    let at = page.find("id=\"new-token\">").expect("token") + "id=\"new-token\">".len();
    let token = page[at..at + page[at..].find('<').expect("end")].to_owned();
    let (ktp, _) = demo_services(&app).await;
    let patch = || {
        app.http
            .patch(app.url(&format!("/api/v1/services/{ktp}")))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "fee_rupiah": 1 }))
            .send()
    };
    assert_eq!(
        patch().await.expect("patch").status(),
        403,
        "live, but not a UPP admin"
    );
    let mut b = Browser::new(&app);
    b.get("/staf/lupa").await;
    let csrf = b.csrf();
    let outbox_before = app.count("SELECT COUNT(*) FROM outbox").await;
    let mut answers = Vec::new();
    for email in ["tidak.ada@demo.mpp.id", MANAGER] {
        let (status, _, location) = b
            .post("/staf/lupa", &[("csrf", &csrf), ("email", email)])
            .await;
        answers.push((status, location));
    }
    assert_eq!(answers[0], answers[1], "the same answer for both");
    assert_eq!(answers[0], (303, Some("/staf/lupa?terkirim=1".to_owned())));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox").await,
        outbox_before + 1,
        "only the real account gets a message"
    );
    let link = link_for(&app, MANAGER).await;
    let mut owner = Browser::new(&app);
    owner.get(&link).await;
    let csrf = owner.csrf();
    let new_password = "gunung panderman pagi hari";
    let (status, _, _) = owner
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("password", new_password),
                ("password_again", new_password),
            ],
        )
        .await;
    assert_eq!(status, 303);
    // The old password no longer works; the new one does.
    let (status, _, _) = owner
        .post(
            "/staf/masuk",
            &[
                ("csrf", &csrf),
                ("email", MANAGER),
                ("password", mpp::demo::STAFF_PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 400);
    password_step(&mut owner, MANAGER, new_password).await;
    // The reset revoked the token and ended the old session.
    assert_eq!(patch().await.expect("patch").status(), 401);
    let (status, _, _) = before.get("/staf").await;
    assert_eq!(status, 303);
}

async fn api_tokens_edit_within_scope_and_die_when_revoked(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let (ktp, skck) = demo_services(&app).await;
    let mut admin = staff_signed_in(&app, DUKCAPIL_ADMIN).await;
    admin.get("/staf/token").await;
    let csrf = admin.csrf();
    let admin_csrf = csrf.clone();
    let (status, page, _) = admin
        .post(
            "/staf/token",
            &[
                ("csrf", &csrf),
                ("name", "SIAK Kota Batu"),
                ("days", "30"),
                ("catalog_write", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let at = page.find("id=\"new-token\">").expect("shown once") + "id=\"new-token\">".len();
    let token = page[at..at + page[at..].find('<').expect("end")].to_owned();
    assert!(token.starts_with("mpp_"));
    // A token with no scope is refused: each carries only what its system needs.
    let (status, page, _) = admin
        .post(
            "/staf/token",
            &[("csrf", &csrf), ("name", "Tanpa cakupan"), ("days", "30")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("sedikitnya satu cakupan"), "{page}");
    let (_, again, _) = admin.get("/staf/token").await;
    assert!(!again.contains(&token), "the token is shown only once");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_tokens WHERE scopes LIKE '%catalog:write%'")
            .await,
        1
    );

    let patch = |id: &str, token: Option<&str>, body: serde_json::Value| {
        let mut request = app
            .http
            .patch(app.url(&format!("/api/v1/services/{id}")))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let body =
        serde_json::json!({ "fee_rupiah": 15000, "fee_legal_basis": "Perda Kota Batu 1/2026" });
    let response = patch(&ktp, None, body.clone()).await.expect("patch");
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = patch(&ktp, Some("mpp_forged"), body.clone())
        .await
        .expect("patch");
    assert_eq!(response.status(), 401);
    let response = patch(&skck, Some(&token), body.clone())
        .await
        .expect("patch");
    assert_eq!(response.status(), 403, "another UPP's service");
    let response = patch(&ktp, Some(&token), serde_json::json!({ "fee_rupiah": -5 }))
        .await
        .expect("patch");
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.expect("problem");
    assert!(
        problem["messages"]["id"]
            .as_str()
            .expect("id")
            .contains("fee.rupiah"),
        "{problem}"
    );
    let response = patch(&ktp, Some(&token), serde_json::json!({ "fee": 1 }))
        .await
        .expect("patch");
    assert_eq!(response.status(), 400, "unknown fields are refused");
    let response = patch(&ktp, Some(&token), body.clone())
        .await
        .expect("patch");
    assert_eq!(response.status(), 200);
    let result: serde_json::Value = response.json().await.expect("result");
    assert_eq!(result["changed"], serde_json::json!(["fee"]));
    public_fee(&app, &ktp, 15_000).await;
    let entries = mpp::storage::audit::entries(app.db(), None)
        .await
        .expect("audit");
    assert!(
        entries
            .iter()
            .any(|e| e.action == "service.update" && e.actor.starts_with("token:"))
    );

    let id_at = again.find("/staf/token/").expect("revoke form") + "/staf/token/".len();
    let token_id = &again[id_at..id_at + 36];
    // Someone else cannot revoke a token that is not theirs (it still works afterwards).
    let mut officer = staff_signed_in(&app, POLRES_OFFICER).await;
    officer.get("/staf/token").await;
    let csrf = officer.csrf();
    let (status, _, _) = officer
        .post(&format!("/staf/token/{token_id}/cabut"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 404);
    let response = patch(
        &ktp,
        Some(&token),
        serde_json::json!({ "fee_rupiah": 15000 }),
    )
    .await
    .expect("patch");
    assert_eq!(response.status(), 200, "still live");
    // Revoked: the token stops working at once.
    let (status, _, _) = admin
        .post(
            &format!("/staf/token/{token_id}/cabut"),
            &[("csrf", &admin_csrf)],
        )
        .await;
    assert_eq!(status, 303);
    let response = patch(&ktp, Some(&token), body).await.expect("patch");
    assert_eq!(response.status(), 401);
}

both_engines!(behind_a_trusted_proxy_each_client_has_its_own_sign_in_burst);

/// With the proxy trusted, the burst counts per forwarded client address; a forged address on
/// the left of the header does not give a fresh burst.
async fn behind_a_trusted_proxy_each_client_has_its_own_sign_in_burst(engine: Engine) {
    let settings = mpp::http::Settings {
        sign_in_burst: 2,
        trusted_proxies: std::sync::Arc::new(vec!["127.0.0.1".parse().expect("ip")]),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let post = |forwarded: &'static str| {
        app.http
            .post(app.url("/staf/masuk"))
            .header("x-forwarded-for", forwarded)
            .form(&[("email", "a@b.id"), ("password", "x")])
            .send()
    };
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(post("36.85.1.2").await.expect("post").status().as_u16());
    }
    assert_eq!(first[2], 429, "{first:?}");
    assert_ne!(first[0], 429);
    // Another client behind the same proxy still has its burst.
    assert_ne!(
        post("36.85.9.9").await.expect("post").status().as_u16(),
        429
    );
    // Forging a left-hand address does not help the first client.
    assert_eq!(
        post("9.9.9.9, 36.85.1.2")
            .await
            .expect("post")
            .status()
            .as_u16(),
        429
    );
}
