//! End to end in real headless Chromium: what a person does and sees.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::both_engines;
use crate::support::{Engine, TestApp, skip};

struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Browser> {
        let driver_path =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        if !std::path::Path::new(&driver_path).exists() || !std::path::Path::new(&chromium).exists()
        {
            skip(
                "browser tests",
                "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=412,915",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..50 {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Some(Browser {
                        client,
                        driver,
                        _profile: profile,
                    });
                }
                Err(e) => {
                    last_error = e.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

both_engines!(citizen_searches_ktp_and_reads_the_service_standard);

/// Home → search "ktp" → the KTP-el service page, on a phone-sized window, without JavaScript
/// of ours.
async fn citizen_searches_ktp_and_reads_the_service_standard(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    c.goto(&app.url("/")).await.expect("home");
    assert_eq!(
        c.find(Locator::Css("h1"))
            .await
            .expect("h1")
            .text()
            .await
            .expect("text"),
        "MPP Digital"
    );
    let box_ = c.find(Locator::Css("input#q")).await.expect("search box");
    box_.send_keys("ktp").await.expect("type");
    c.find(Locator::Css("form.search button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    c.wait()
        .for_element(Locator::Css("ol.results"))
        .await
        .expect("results");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .as_str()
            .contains("/cari?q=ktp")
    );
    let count = c
        .find(Locator::Id("results-heading"))
        .await
        .expect("count")
        .text()
        .await
        .expect("text");
    assert!(count.contains("layanan ditemukan"), "{count}");
    let first = c
        .find(Locator::Css("ol.results li a"))
        .await
        .expect("first result");
    let title = first.text().await.expect("text");
    assert!(title.contains("KTP"), "first result: {title}");
    first.click().await.expect("open service");
    c.wait()
        .for_element(Locator::Css("fieldset.checklist"))
        .await
        .expect("service page");
    let h1 = c
        .find(Locator::Css("h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("text");
    assert_eq!(h1, title, "the service page of the clicked result");
    let body = main_text(c).await;
    for seen in [
        "Persyaratan",
        "Biaya/tarif",
        "Jangka waktu penyelesaian",
        "Produk layanan",
        "Dasar hukum",
    ] {
        assert!(body.contains(seen), "a person sees {seen}");
    }
    // The requirement checklist can be ticked with a click on its label.
    let label = c
        .find(Locator::Css("fieldset.checklist label"))
        .await
        .expect("label");
    label.click().await.expect("tick");
    let checked = c
        .find(Locator::Css("fieldset.checklist input"))
        .await
        .expect("checkbox")
        .prop("checked")
        .await
        .expect("prop");
    assert_eq!(checked.as_deref(), Some("true"));
    // Switch to English and stay on the same page.
    c.find(Locator::Css("header nav a[hreflang]"))
        .await
        .expect("switch")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("html[lang=en]"))
        .await
        .expect("english");
    let body = main_text(c).await;
    assert!(body.contains("Requirements"), "English page");
    browser.close().await;
}

/// The text a person reads in the page's main landmark.
async fn main_text(c: &Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text")
}

/// The path of axe-core's browser build, installed by scripts/test.sh from the npm registry.
fn axe_source() -> Option<String> {
    let path = std::env::var("AXE_CORE_JS").unwrap_or_else(|_| {
        format!(
            "{}/target/npm/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            skip(
                "accessibility checks",
                &format!("{path}: {e} (npm install --prefix target/npm axe-core)"),
            );
            None
        }
    }
}

both_engines!(pages_pass_automated_accessibility_checks);

/// Runs axe-core's WCAG 2.1 A and AA rules on the current page; the violations, with up to three
/// offending elements each.
async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(&format!("{axe}\nreturn true;"), vec![])
        .await
        .expect("load axe");
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' +
                    v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))))
                .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe");
    serde_json::from_value(result).expect("list")
}

/// Every kind of people's page passes axe-core's WCAG 2.1 A and AA rules, in both languages.
async fn pages_pass_automated_accessibility_checks(engine: Engine) {
    let Some(axe) = axe_source() else { return };
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    let (_, found) = app
        .get_json("/api/v1/services?q=akta%20kelahiran&mpp=among-warga-kota-batu")
        .await;
    let service = found["items"][0]["url"]
        .as_str()
        .expect("service url")
        .to_owned();
    let tenant = format!(
        "/mpp/among-warga-kota-batu/upp/{}",
        found["items"][0]["tenant"]["slug"]
            .as_str()
            .expect("tenant")
    );
    let pages = [
        "/".to_owned(),
        "/cari?q=ktp&wilayah=35".to_owned(),
        "/cari?q=zzzz".to_owned(),
        "/mpp/among-warga-kota-batu".to_owned(),
        tenant,
        service.clone(),
        "/mpp/tidak-ada".to_owned(),
        "/layanan-nasional/penerbitan-ktp-el".to_owned(),
        "/masuk".to_owned(),
        "/masuk/kode?ref=0190a1b2-0000-7000-8000-000000000000".to_owned(),
        "/dev/outbox".to_owned(),
        format!("{service}?lang=en"),
        "/lacak".to_owned(),
        "/lacak?kode=abc".to_owned(),
        "/lacak?kode=PMH-0000-0000-0000".to_owned(),
    ];
    for path in &pages {
        c.goto(&app.url(path)).await.expect("page");
        let violations = axe_violations(c, &axe).await;
        assert!(violations.is_empty(), "{path}: {violations:#?}");
    }
    // The folded home page of a national deployment passes too.
    let mpps: Vec<serde_json::Value> = (0..25)
        .map(|i| {
            serde_json::json!({"slug": format!("rencana-{i:02}"), "region": "35.79",
            "name": format!("MPP Rencana {i:02}"), "address": "Jl. Uji", "status": "planned"})
        })
        .collect();
    let doc = serde_json::json!({"format": "mpp-catalog", "version": 1, "mpps": mpps});
    mpp::imports::import_catalog(app.db(), doc.to_string().as_bytes(), "test")
        .await
        .expect("import");
    for _ in 0..50 {
        if app.get_text("/").await.1.contains("<details") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.goto(&app.url("/")).await.expect("home");
    let violations = axe_violations(c, &axe).await;
    assert!(violations.is_empty(), "folded home: {violations:?}");
    c.find(Locator::Css("details.province summary"))
        .await
        .expect("summary")
        .click()
        .await
        .expect("unfold");
    assert!(
        c.find(Locator::Css("details.province[open] a"))
            .await
            .is_ok(),
        "a click unfolds a province"
    );

    // Keyboard: the first Tab reaches the skip link; following it lands in the main content.
    c.goto(&app.url("/")).await.expect("home");
    let tab = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Tab.into(),
        })
        .then(KeyAction::Up {
            value: Key::Tab.into(),
        });
    c.perform_actions(tab).await.expect("tab");
    let focused = c.active_element().await.expect("focused element");
    assert_eq!(focused.text().await.expect("text"), "Langsung ke isi");
    focused.click().await.expect("follow the skip link");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .as_str()
            .ends_with("#isi")
    );
    browser.close().await;
}

both_engines!(citizen_signs_up_with_a_code_from_the_outbox);

/// Sign-up as a person does it in the demo: ask for a code, read it at /dev/outbox, enter it.
async fn citizen_signs_up_with_a_code_from_the_outbox(engine: Engine) {
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    c.goto(&app.url("/")).await.expect("home");
    c.find(Locator::Css("header a.account"))
        .await
        .expect("account link")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("input#identifier"))
        .await
        .expect("sign-in page");
    c.find(Locator::Css("input#identifier"))
        .await
        .expect("field")
        .send_keys("0812-1111-2222")
        .await
        .expect("type");
    c.find(Locator::Css("form.stack button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("send");
    c.wait()
        .for_element(Locator::Css("input#code"))
        .await
        .expect("code page");
    let code_page = c.current_url().await.expect("url");
    let mut code = String::new();
    for _ in 0..50 {
        c.goto(&app.url("/dev/outbox")).await.expect("outbox");
        let text = main_text(c).await;
        if let Some(at) = text.find("Kode masuk MPP Digital Anda: ") {
            let start = at + "Kode masuk MPP Digital Anda: ".len();
            code = text[start..start + 6].to_owned();
            assert!(text.contains("+6281211112222"), "the number was normalized");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code.len(), 6, "a code reached the outbox");
    c.goto(code_page.as_str())
        .await
        .expect("back to the code page");
    c.find(Locator::Css("input#code"))
        .await
        .expect("field")
        .send_keys(&code)
        .await
        .expect("type");
    c.find(Locator::Css("form.stack button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("sign in");
    c.wait()
        .for_element(Locator::Css("form[action='/keluar']"))
        .await
        .expect("account page");
    let main = main_text(c).await;
    assert!(main.contains("+62812******22"), "masked number: {main}");
    c.find(Locator::Css("form[action='/keluar'] button"))
        .await
        .expect("sign out")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("input#q"))
        .await
        .expect("home again");
    browser.close().await;
}

both_engines!(upp_admin_edits_a_fee_and_an_officer_of_another_upp_cannot);

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn submit(c: &Client, form: &str) {
    c.find(Locator::Css(&format!("{form} button[type=submit]")))
        .await
        .expect("submit button")
        .click()
        .await
        .expect("submit");
}

/// Signs in at /staf/masuk with the demo password and the current TOTP code.
async fn staff_sign_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.url("/staf/masuk")).await.expect("sign-in page");
    fill(c, "input#email", email).await;
    fill(c, "input#password", mpp::demo::STAFF_PASSWORD).await;
    submit(c, "form[action='/staf/masuk']").await;
    c.wait()
        .for_element(Locator::Css("input#code"))
        .await
        .expect("TOTP page");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let code = mpp::credentials::totp_code(mpp::demo::STAFF_TOTP_SECRET, now).expect("code");
    fill(c, "input#code", &code).await;
    submit(c, "form[action='/staf/verifikasi']").await;
    c.wait()
        .for_element(Locator::Css("ul.menu"))
        .await
        .expect("the staff area");
}

/// The journey: the Disdukcapil UPP admin changes a fee on the web and the public page
/// shows it; an officer of Polres cannot open that service's form. Staff pages pass axe too.
async fn upp_admin_edits_a_fee_and_an_officer_of_another_upp_cannot(engine: Engine) {
    let axe = axe_source();
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    if let Some(axe) = &axe {
        c.goto(&app.url("/staf/masuk")).await.expect("page");
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "/staf/masuk: {violations:#?}");
    }
    staff_sign_in(c, &app, "admin.dukcapil@demo.mpp.id").await;
    c.find(Locator::LinkText("Penerbitan KTP-el Baru"))
        .await
        .expect("the service in the admin's list")
        .click()
        .await
        .expect("open the form");
    c.wait()
        .for_element(Locator::Css("input#fee_rupiah"))
        .await
        .expect("edit form");
    let edit_url = c.current_url().await.expect("url").to_string();
    fill(c, "input#fee_rupiah", "45.000").await;
    fill(
        c,
        "input#fee_legal_basis",
        "Perda Kota Batu Nomor 1 Tahun 2026",
    )
    .await;
    submit(c, "form.stack").await;
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("saved");
    if let Some(axe) = &axe {
        for path in [
            "/staf",
            "/staf/audit",
            "/staf/undang",
            "/staf/token",
            "/staf/mpp/among-warga-kota-batu",
        ] {
            c.goto(&app.url(path)).await.expect("page");
            let violations = axe_violations(c, axe).await;
            // The MPP form is the manager's: the admin gets the refusal page, which passes too.
            assert!(violations.is_empty(), "{path}: {violations:#?}");
        }
        c.goto(&edit_url).await.expect("edit page");
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "{edit_url}: {violations:#?}");
        // The service's application form editor, and the UPP's inbox.
        let form_url = edit_url.replace("?tersimpan=1", "/formulir");
        c.goto(&form_url).await.expect("form editor");
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "{form_url}: {violations:#?}");
        c.goto(&app.url("/staf")).await.expect("staff area");
        c.find(Locator::LinkText("Kotak masuk permohonan"))
            .await
            .expect("inbox link")
            .click()
            .await
            .expect("open");
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "inbox: {violations:#?}");
    }
    let public = edit_url
        .replace("/staf/layanan/", "/layanan/")
        .replace("?tersimpan=1", "");
    let mut shown = String::new();
    for _ in 0..50 {
        c.goto(&public).await.expect("public page");
        shown = main_text(c).await;
        if shown.contains("Rp45.000") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        shown.contains("Rp45.000"),
        "the public page shows the new fee: {shown}"
    );
    c.goto(&app.url("/staf")).await.expect("staff area");
    submit(c, "form[action='/keluar']").await;
    c.wait()
        .for_element(Locator::Css("input#q"))
        .await
        .expect("signed out");

    // An officer of another UPP: the form is refused, and nothing changed.
    staff_sign_in(c, &app, "petugas.polres@demo.mpp.id").await;
    let home = main_text(c).await;
    assert!(!home.contains("Penerbitan KTP-el"), "{home}");
    c.goto(&edit_url.replace("?tersimpan=1", ""))
        .await
        .expect("the form's address");
    let refused = main_text(c).await;
    assert!(refused.contains("tidak berwenang"), "{refused}");
    assert!(c.find(Locator::Css("input#fee_rupiah")).await.is_err());
    browser.close().await;
}

both_engines!(booked_citizen_checks_in_is_called_on_the_board_and_served);

/// The queue's journey across four pages in Chromium: a citizen books a slot online, checks in
/// at the kiosk with the booking code, the hall board shows the call live, the ticket page on
/// the phone shows the counter, and the officer serves and finishes.
async fn booked_citizen_checks_in_is_called_on_the_board_and_served(engine: Engine) {
    let axe = axe_source();
    let settings = mpp::http::Settings {
        clock: crate::queue::open_hours_clock(),
        ..crate::support::test_settings()
    };
    let Some(app) = TestApp::demo_with(engine, settings).await else {
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    // Sign up with a code from the development outbox.
    c.goto(&app.url("/masuk")).await.expect("sign-in");
    fill(c, "input#identifier", "antre@contoh.id").await;
    submit(c, "form[action='/masuk']").await;
    c.wait()
        .for_element(Locator::Css("input#code"))
        .await
        .expect("code page");
    let code_page = c.current_url().await.expect("url");
    let mut code = String::new();
    for _ in 0..50 {
        let (_, html) = app.get_text("/dev/outbox").await;
        if let Some(at) = html.find("Kode masuk MPP Digital Anda: ") {
            code = html[at + "Kode masuk MPP Digital Anda: ".len()..][..6].to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.goto(code_page.as_str()).await.expect("code page");
    fill(c, "input#code", &code).await;
    submit(c, "form[action='/masuk/kode']").await;
    c.wait()
        .for_element(Locator::Css("form[action='/keluar']"))
        .await
        .expect("signed in");

    // Book: from the service page, the first free slot.
    let (_, found) = app
        .get_json("/api/v1/services?q=ktp&mpp=among-warga-kota-batu")
        .await;
    let service = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["tenant"]["slug"] == "dispendukcapil")
        .expect("KTP-el")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    c.goto(&app.url(&format!("/layanan/{service}")))
        .await
        .expect("service page");
    c.find(Locator::LinkText("Pesan jadwal kedatangan"))
        .await
        .expect("book link")
        .click()
        .await
        .expect("click");
    c.wait()
        .for_element(Locator::Css("input[name=slot]"))
        .await
        .expect("slots");
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "booking page: {violations:#?}");
    }
    c.find(Locator::Css("input[name=slot]:not([disabled])"))
        .await
        .expect("a free slot")
        .click()
        .await
        .expect("choose");
    submit(c, "form[action$='/pesan']").await;
    c.wait()
        .for_element(Locator::Css("h1.ticket-code"))
        .await
        .expect("booking page");
    let booking_code = c
        .find(Locator::Css("h1.ticket-code"))
        .await
        .expect("code")
        .text()
        .await
        .expect("text");
    assert_eq!(booking_code.len(), 8);

    // The hall board, open before the call (a second window of the same browser).
    let board_window = c.new_window(true).await.expect("window").handle;
    let citizen_window = c.window().await.expect("window");
    c.switch_to_window(board_window.clone())
        .await
        .expect("switch");
    c.goto(&app.url("/papan/among-warga-kota-batu"))
        .await
        .expect("board");
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "board: {violations:#?}");
    }

    // The kiosk: check in with the code.
    c.switch_to_window(citizen_window.clone())
        .await
        .expect("switch");
    c.goto(&app.url("/kiosk/among-warga-kota-batu"))
        .await
        .expect("kiosk");
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "kiosk: {violations:#?}");
    }
    fill(c, "input#code", &booking_code).await;
    submit(c, "form[action$='/lapor']").await;
    c.wait()
        .for_element(Locator::Css(".ticket-code"))
        .await
        .expect("ticket");
    let ticket_url = c
        .current_url()
        .await
        .expect("url")
        .as_str()
        .replace("?cetak=1", "");
    let ticket_code = c
        .find(Locator::Css(".ticket-code"))
        .await
        .expect("code")
        .text()
        .await
        .expect("text");
    assert_eq!(ticket_code, "A001");
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "ticket: {violations:#?}");
    }

    // The officer calls next at loket 1.
    staff_sign_in(c, &app, "petugas.dukcapil@demo.mpp.id").await;
    c.find(Locator::LinkText("Konsol Loket 1"))
        .await
        .expect("console link")
        .click()
        .await
        .expect("open");
    c.wait()
        .for_element(Locator::Css("button.big"))
        .await
        .expect("console");
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "console: {violations:#?}");
    }
    c.find(Locator::Css("button.big"))
        .await
        .expect("call next")
        .click()
        .await
        .expect("call");
    c.wait()
        .for_element(Locator::Css("p.ticket-code"))
        .await
        .expect("called");

    // The board shows it without a reload.
    c.switch_to_window(board_window).await.expect("switch");
    let mut shown = String::new();
    for _ in 0..100 {
        // The list is empty until the feed brings the call.
        if let Ok(latest) = c.find(Locator::Css("#calls li.latest")).await {
            shown = latest.text().await.expect("text");
        }
        if shown.contains("A001") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        shown.contains("A001") && shown.contains("Loket 1"),
        "board: {shown}"
    );

    // The phone's ticket page names the counter.
    c.switch_to_window(citizen_window).await.expect("switch");
    let console_url = c.current_url().await.expect("url").to_string();
    c.goto(&ticket_url).await.expect("ticket page");
    let text = main_text(c).await;
    assert!(text.contains("Loket 1"), "{text}");

    // Served and finished.
    c.goto(&console_url).await.expect("console");
    c.find(Locator::Css("form input[value=start] ~ button"))
        .await
        .expect("start")
        .click()
        .await
        .expect("start");
    c.wait()
        .for_element(Locator::Css("form input[value=finish] ~ button"))
        .await
        .expect("serving");
    c.find(Locator::Css("form input[value=finish] ~ button"))
        .await
        .expect("finish")
        .click()
        .await
        .expect("finish");
    c.wait()
        .for_element(Locator::Css("button.big"))
        .await
        .expect("free again");
    c.goto(&ticket_url).await.expect("ticket page");
    assert!(main_text(c).await.contains("Selesai"));
    browser.close().await;
}

both_engines!(citizen_applies_officer_asks_a_fix_approves_and_the_citizen_downloads);

/// Signs a citizen up in the browser with a code from the development outbox.
async fn citizen_sign_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.url("/masuk")).await.expect("sign-in");
    fill(c, "input#identifier", email).await;
    submit(c, "form[action='/masuk']").await;
    c.wait()
        .for_element(Locator::Css("input#code"))
        .await
        .expect("code page");
    let mut code = String::new();
    for _ in 0..50 {
        let (_, html) = app.get_text("/dev/outbox").await;
        if let Some(at) = html.find(email)
            && let Some(k) = html[at..].find("Kode masuk MPP Digital Anda: ")
        {
            let start = at + k + "Kode masuk MPP Digital Anda: ".len();
            code = html[start..start + 6].to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code.len(), 6, "a code reached the outbox");
    fill(c, "input#code", &code).await;
    submit(c, "form[action='/masuk/kode']").await;
    c.wait()
        .for_element(Locator::Css("form[action='/keluar']"))
        .await
        .expect("signed in");
}

/// Chooses a file for the upload form of document field `key` and sends it.
async fn upload(c: &Client, key: &str, path: &std::path::Path) {
    c.find(Locator::Css(&format!("input#berkas-{key}")))
        .await
        .expect("file input")
        .send_keys(path.to_str().expect("path"))
        .await
        .expect("choose file");
    let page = c.find(Locator::Css("html")).await.expect("page");
    submit(c, &format!("form#isian-{key}")).await;
    left(page).await;
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("saved");
}

/// Clicks the button `text` of a form and waits until the next page has replaced this one (so
/// that no later lookup finds an element of the page being left).
async fn click_button(c: &Client, text: &str) {
    let page = c.find(Locator::Css("html")).await.expect("page");
    c.find(Locator::XPath(&format!(
        "//button[normalize-space()='{text}']"
    )))
    .await
    .unwrap_or_else(|_| panic!("button {text}"))
    .click()
    .await
    .expect("click");
    left(page).await;
}

/// Follows a link and waits until its page has replaced this one.
async fn click_link(c: &Client, link: Locator<'_>, what: &str) {
    let page = c.find(Locator::Css("html")).await.expect("page");
    c.find(link)
        .await
        .unwrap_or_else(|_| panic!("{what}"))
        .click()
        .await
        .expect("click");
    left(page).await;
}

/// Waits until `page` (the `html` element of a page) is gone, replaced by the next page.
async fn left(page: fantoccini::elements::Element) {
    for _ in 0..200 {
        if page.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the page did not change");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .text()
        .await
        .expect("text")
}

/// The applications journey in two browsers: a citizen applies for a Disdukcapil birth
/// certificate with two documents, the officer asks for a fix, the citizen fixes and resends,
/// the officer approves and attaches the output, and the citizen downloads it.
async fn citizen_applies_officer_asks_a_fix_approves_and_the_citizen_downloads(engine: Engine) {
    let axe = axe_source();
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let Some(citizen) = Browser::start().await else {
        return;
    };
    let Some(officer) = Browser::start().await else {
        return;
    };
    let files = tempfile::tempdir().expect("files");
    let write = |name: &str, bytes: &[u8]| {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).expect("file");
        path
    };
    let birth = write("surat-lahir.png", &crate::applying::png());
    let family = write("kk.pdf", &crate::applying::pdf("kartu keluarga"));
    let family_clear = write(
        "kk-jelas.pdf",
        &crate::applying::pdf("kartu keluarga jelas"),
    );
    let output = write("akta.pdf", &crate::applying::pdf("akta kelahiran"));

    let c = &citizen.client;
    citizen_sign_in(c, &app, "ibu.budi@contoh.id").await;
    let service =
        crate::applying::service_id(&app, "akta+kelahiran", "penerbitan-akta-kelahiran").await;
    c.goto(&app.url(&format!("/layanan/{service}")))
        .await
        .expect("service page");
    click_link(
        c,
        Locator::LinkText("Ajukan permohonan daring"),
        "apply link",
    )
    .await;
    click_button(c, "Mulai mengisi").await;
    c.wait()
        .for_element(Locator::Css("form#isian-surat_kelahiran"))
        .await
        .expect("the application page");
    upload(c, "surat_kelahiran", &birth).await;
    upload(c, "kartu_keluarga", &family).await;
    fill(c, "input#isian-nama_anak", "Budi Kecil").await;
    fill(c, "input#isian-tempat_lahir", "Kota Batu").await;
    // A date input takes the digits in the browser's order; the value is what is sent.
    c.execute(
        "document.getElementById('isian-tanggal_lahir').value = '2026-11-21';",
        vec![],
    )
    .await
    .expect("date");
    c.find(Locator::Css("input#jenis_kelamin-p"))
        .await
        .expect("radio")
        .click()
        .await
        .expect("choose");
    fill(c, "input#isian-nik_ibu", "3579015501950003").await;
    c.find(Locator::Css("input#orang_tua_menikah-tidak"))
        .await
        .expect("radio")
        .click()
        .await
        .expect("choose");
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "application form: {violations:#?}");
    }
    click_button(c, "Kirim permohonan").await;
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("sent");
    let code = text_of(c, "#kode").await;
    assert!(code.starts_with("PMH-"), "{code}");
    assert_eq!(text_of(c, "#status").await, "Diterima, menunggu diperiksa");
    let application_url = c.current_url().await.expect("url").to_string();

    // The officer takes it from the inbox and asks for a clearer family card.
    let o = &officer.client;
    staff_sign_in(o, &app, "petugas.dukcapil@demo.mpp.id").await;
    click_link(o, Locator::LinkText("Kotak masuk permohonan"), "inbox link").await;
    click_link(o, Locator::LinkText(&code), "the application in the inbox").await;
    if let Some(axe) = &axe {
        let violations = axe_violations(o, axe).await;
        assert!(violations.is_empty(), "inbox item: {violations:#?}");
    }
    click_button(o, "Ambil dan periksa").await;
    o.wait()
        .for_element(Locator::Css("textarea#catatan"))
        .await
        .expect("checking");
    fill(o, "textarea#catatan", "Pindaian Kartu Keluarga buram.").await;
    click_button(o, "Minta perbaikan").await;
    o.wait()
        .for_element(Locator::XPath(
            "//dd[@id='status' and contains(., 'Perlu diperbaiki')]",
        ))
        .await
        .expect("sent back");

    // The citizen sees what to fix, replaces the card and sends again.
    c.goto(&application_url).await.expect("reload");
    assert!(
        main_text(c)
            .await
            .contains("Pindaian Kartu Keluarga buram.")
    );
    upload(c, "kartu_keluarga", &family_clear).await;
    click_button(c, "Kirim perbaikan").await;
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("resent");

    // The officer approves and attaches the output.
    let item = o.current_url().await.expect("url").to_string();
    o.goto(&item).await.expect("reload");
    click_button(o, "Ambil dan periksa").await;
    o.wait()
        .for_element(Locator::XPath("//button[normalize-space()='Setujui']"))
        .await
        .expect("checking again");
    click_button(o, "Setujui").await;
    o.wait()
        .for_element(Locator::Css("input#berkas"))
        .await
        .expect("the output form");
    o.find(Locator::Css("input#berkas"))
        .await
        .expect("file input")
        .send_keys(output.to_str().expect("path"))
        .await
        .expect("choose");
    click_button(o, "Lampirkan dan beri tahu pemohon").await;
    o.wait()
        .for_element(Locator::XPath(
            "//dd[@id='status' and contains(., 'Hasil siap')]",
        ))
        .await
        .expect("ready");

    // The citizen downloads the output with their own session.
    c.goto(&application_url).await.expect("reload");
    let downloaded = download_output(&app, c).await;
    assert_eq!(downloaded, crate::applying::pdf("akta kelahiran"));
    c.goto(&application_url).await.expect("reload");
    assert_eq!(text_of(c, "#status").await, "Selesai");
    citizen.close().await;
    officer.close().await;
}

both_engines!(citizen_applies_for_a_bundle_and_two_upps_each_deliver);

/// The officer signed in as `email` (signing in first when `sign_in`) takes the application
/// `code` from their inbox and approves it with `output` attached.
/// Sends the output's download button of the page `c` shows, with the browser's session and
/// the form's token, as the browser would; returns the bytes.
async fn download_output(app: &TestApp, c: &Client) -> Vec<u8> {
    let form = c
        .find(Locator::Css("section[aria-labelledby=output-heading] form"))
        .await
        .expect("output's download button");
    let action = form.attr("action").await.expect("action").expect("action");
    let token = form
        .find(Locator::Css("input[name=csrf]"))
        .await
        .expect("token")
        .attr("value")
        .await
        .expect("value")
        .expect("value");
    let mut cookies = Vec::new();
    for cookie in c.get_all_cookies().await.expect("cookies") {
        cookies.push(format!("{}={}", cookie.name(), cookie.value()));
    }
    let downloaded = app
        .http
        .post(app.url(&action))
        .header("cookie", cookies.join("; "))
        .form(&[("csrf", token)])
        .send()
        .await
        .expect("download");
    assert_eq!(downloaded.status(), 200);
    downloaded.bytes().await.expect("bytes").to_vec()
}

async fn officer_works(
    c: &Client,
    app: &TestApp,
    (email, sign_in): (&str, bool),
    code: &str,
    output: &std::path::Path,
) {
    if sign_in {
        // A TOTP code works once: another account signs in with its own.
        c.delete_all_cookies().await.expect("sign out");
        staff_sign_in(c, app, email).await;
    }
    c.goto(&app.url("/staf")).await.expect("staff area");
    click_link(c, Locator::LinkText("Kotak masuk permohonan"), "inbox link").await;
    click_link(
        c,
        Locator::LinkText(code),
        "the application in this UPP's inbox",
    )
    .await;
    click_button(c, "Ambil dan periksa").await;
    c.wait()
        .for_element(Locator::XPath("//button[normalize-space()='Setujui']"))
        .await
        .expect("checking");
    click_button(c, "Setujui").await;
    c.wait()
        .for_element(Locator::Css("input#berkas"))
        .await
        .expect("the output form");
    c.find(Locator::Css("input#berkas"))
        .await
        .expect("file input")
        .send_keys(output.to_str().expect("path"))
        .await
        .expect("choose");
    click_button(c, "Lampirkan dan beri tahu pemohon").await;
    c.wait()
        .for_element(Locator::XPath(
            "//dd[@id='status' and contains(., 'Hasil siap')]",
        ))
        .await
        .expect("ready");
}

/// The bundle's journey: a citizen applies for "Kelahiran" (Dispendukcapil and BPJS Kesehatan)
/// with one form and shared documents; Dispendukcapil asks a fix, which the citizen sends from
/// the bundle's page; each UPP's officer approves and attaches its output from its own inbox;
/// the citizen follows both on one page and downloads both.
async fn citizen_applies_for_a_bundle_and_two_upps_each_deliver(engine: Engine) {
    let axe = axe_source();
    let Some(app) = TestApp::demo(engine).await else {
        return;
    };
    let Some(citizen) = Browser::start().await else {
        return;
    };
    let Some(officer) = Browser::start().await else {
        return;
    };
    let files = tempfile::tempdir().expect("files");
    let write = |name: &str, bytes: &[u8]| {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).expect("file");
        path
    };
    let birth = write("surat-lahir.png", &crate::applying::png());
    let family = write("kk.pdf", &crate::applying::pdf("kartu keluarga"));
    let family_clear = write("kk-jelas.pdf", &crate::applying::pdf("kk jelas"));
    let certificate = write("akta.pdf", &crate::applying::pdf("akta"));
    let card = write("kartu-jkn.pdf", &crate::applying::pdf("kartu jkn bayi"));

    let c = &citizen.client;
    citizen_sign_in(c, &app, "keluarga.baru@contoh.id").await;
    c.goto(&app.url("/mpp/among-warga-kota-batu"))
        .await
        .expect("MPP page");
    click_link(c, Locator::LinkText("Kelahiran"), "bundle link").await;
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "bundle page: {violations:#?}");
    }
    click_button(c, "Ajukan paket ini").await;
    c.wait()
        .for_element(Locator::Css("form#isian-surat_kelahiran"))
        .await
        .expect("the shared form");
    upload(c, "surat_kelahiran", &birth).await;
    upload(c, "kartu_keluarga", &family).await;
    fill(c, "input#isian-nama_anak", "Sekar Ayu").await;
    fill(c, "input#isian-tempat_lahir", "Kota Batu").await;
    c.execute(
        "document.getElementById('isian-tanggal_lahir').value = '2026-11-23';",
        vec![],
    )
    .await
    .expect("date");
    for radio in [
        "input#jenis_kelamin-p",
        "input#orang_tua_menikah-tidak",
        "input#kelas_rawat-3",
    ] {
        c.find(Locator::Css(radio))
            .await
            .expect(radio)
            .click()
            .await
            .expect("choose");
    }
    fill(c, "input#isian-nik_ibu", "3579015501950003").await;
    fill(c, "input#isian-nomor_jkn_ibu", "0001234567890").await;
    if let Some(axe) = &axe {
        let violations = axe_violations(c, axe).await;
        assert!(violations.is_empty(), "shared form: {violations:#?}");
    }
    click_button(c, "Kirim semua permohonan").await;
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("sent");
    let bundle_url = c.current_url().await.expect("url").to_string();
    let states = c
        .find_all(Locator::Css("td.member-state"))
        .await
        .expect("states");
    assert_eq!(states.len(), 2);
    let mut codes = Vec::new();
    for row in c.find_all(Locator::Css("tbody tr")).await.expect("rows") {
        let text = row.text().await.expect("text");
        assert!(text.contains("Diterima, menunggu diperiksa"), "{text}");
        let at = text.find("PMH-").expect("code");
        codes.push(text[at..at + 18].to_owned());
    }
    // The first row is Dispendukcapil's (the bundle's order), the second BPJS Kesehatan's.
    let (dukcapil_code, bpjs_code) = (codes[0].clone(), codes[1].clone());

    // Dispendukcapil asks for a clearer family card.
    let o = &officer.client;
    staff_sign_in(o, &app, "petugas.dukcapil@demo.mpp.id").await;
    click_link(o, Locator::LinkText("Kotak masuk permohonan"), "inbox").await;
    assert!(
        o.find(Locator::LinkText(&bpjs_code)).await.is_err(),
        "another UPP's application is not in this inbox"
    );
    click_link(o, Locator::LinkText(&dukcapil_code), "own application").await;
    click_button(o, "Ambil dan periksa").await;
    o.wait()
        .for_element(Locator::Css("textarea#catatan"))
        .await
        .expect("checking");
    fill(o, "textarea#catatan", "Kartu Keluarga terpotong.").await;
    click_button(o, "Minta perbaikan").await;
    o.wait()
        .for_element(Locator::XPath(
            "//dd[@id='status' and contains(., 'Perlu diperbaiki')]",
        ))
        .await
        .expect("sent back");

    // The citizen sees it on the bundle's page and fixes it on that application's page.
    c.goto(&bundle_url).await.expect("bundle page");
    assert!(main_text(c).await.contains("Perlu diperbaiki pemohon"));
    click_link(
        c,
        Locator::LinkText("Penerbitan Akta Kelahiran"),
        "member link",
    )
    .await;
    assert!(main_text(c).await.contains("Kartu Keluarga terpotong."));
    upload(c, "kartu_keluarga", &family_clear).await;
    click_button(c, "Kirim perbaikan").await;
    c.wait()
        .for_element(Locator::Css("p.notice"))
        .await
        .expect("resent");

    // Each UPP delivers from its own inbox.
    officer_works(
        o,
        &app,
        ("petugas.dukcapil@demo.mpp.id", false),
        &dukcapil_code,
        &certificate,
    )
    .await;
    officer_works(
        o,
        &app,
        ("petugas.bpjs@demo.mpp.id", true),
        &bpjs_code,
        &card,
    )
    .await;

    // Both outputs are ready on the bundle's page; the citizen downloads each.
    c.goto(&bundle_url).await.expect("bundle page");
    let text = main_text(c).await;
    assert_eq!(text.matches("Hasil siap").count(), 2, "{text}");
    for (member, expected) in [
        ("Penerbitan Akta Kelahiran", crate::applying::pdf("akta")),
        ("Bayi Baru Lahir", crate::applying::pdf("kartu jkn bayi")),
    ] {
        c.goto(&bundle_url).await.expect("bundle page");
        click_link(
            c,
            Locator::XPath(&format!("//a[contains(., '{member}')]")),
            "member link",
        )
        .await;
        assert_eq!(download_output(&app, c).await, expected);
    }
    c.goto(&bundle_url).await.expect("bundle page");
    assert_eq!(main_text(c).await.matches("Selesai").count(), 2);
    citizen.close().await;
    officer.close().await;
}
