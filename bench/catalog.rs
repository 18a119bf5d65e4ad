//! Catalog benchmark (run by hand, not a test):
//!
//!     cargo bench --bench catalog                # 600 MPPs, ~200k services, SQLite
//!     MPP_BENCH_MPPS=100 cargo bench --bench catalog
//!     MPP_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/mpp_bench cargo bench --bench catalog
//!
//! It generates a national catalog from the Kota Batu demo design (every MPP gets its own
//! agencies, the same national templates, and about 333 services), imports it through the
//! ordinary import, loads the snapshot, then prints:
//! - import and snapshot-load times;
//! - search latency p50/p99 in process and over HTTP (`/api/v1/services?q=...`);
//! - requests/s of the service page (`/layanan/{id}`) next to a bare axum handler serving a
//!   page of the same size, both loaded with `wrk` (Debian package) in the same run.
//!
//! Record the figures in docs/benchmarks.md with the machine and the date.

use std::process::Command;
use std::time::{Duration, Instant};

use mpp::catalog::search::SearchRequest;
use mpp::catalog::{Catalog, SharedCatalog};
use mpp::domain::catalog::{CatalogDoc, MppDoc};
use mpp::storage::Db;

const QUERIES: &[&str] = &[
    "ktp",
    "bikin sim",
    "akte lahir",
    "skck",
    "izin usaha",
    "paspor",
    "npwp",
    "pajak kendaraan",
    "kartu keluarga",
    "bpjs kesehatan",
    "sertifikat tanah",
    "pbb",
    "akta kematian",
    "nikah",
    "perpanjangan sim",
    "kia",
    "pindah domisili",
    "legalisir",
    "e-ktp hilang",
    "pbg",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A deterministic pseudo-random sequence (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn regencies() -> Vec<(String, String, String, String)> {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/regions/regencies.csv");
    let text = std::fs::read_to_string(&shared)
        .unwrap_or_else(|_| include_str!("../src/demo/regencies.csv").to_owned());
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == 4).then(|| {
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].to_owned(),
                    f[3].to_owned(),
                )
            })
        })
        .collect()
}

fn generate(mpp_count: usize, per_mpp: usize) -> (CatalogDoc, String, String) {
    let demo: CatalogDoc = serde_json::from_slice(mpp::demo::CATALOG).expect("demo catalog");
    let design: MppDoc = demo
        .mpps
        .iter()
        .find(|m| m.slug == "among-warga-kota-batu")
        .expect("Kota Batu in the demo")
        .clone();
    let regencies = regencies();
    let mut doc = CatalogDoc {
        format: demo.format.clone(),
        version: demo.version,
        agencies: Vec::new(),
        templates: demo.templates.clone(),
        mpps: Vec::new(),
    };
    let demo_agencies: std::collections::HashMap<&str, _> =
        demo.agencies.iter().map(|a| (a.slug.as_str(), a)).collect();
    let mut provinces_csv = String::from("code,name\n");
    let mut regencies_csv = String::from("code,province_code,name,kind\n");
    let mut seen_provinces = std::collections::HashSet::new();
    let suffixes = ["", " (Layanan Keliling)", " (Daring)", " (Jemput Bola)"];
    for i in 0..mpp_count {
        let (code, province, name, kind) = &regencies[i % regencies.len()];
        if seen_provinces.insert(province.clone()) {
            provinces_csv.push_str(&format!("{province},Provinsi {province}\n"));
        }
        if i < regencies.len() {
            regencies_csv.push_str(&format!("{code},{province},{name},{kind}\n"));
        }
        let mut m = design.clone();
        m.slug = format!("mpp-{i:04}");
        m.name = format!("MPP {name} {i}");
        m.region = code.clone();
        let mut produced = 0;
        let total_design: usize = design.tenants.iter().map(|t| t.services.len()).sum();
        for (ti, tenant) in m.tenants.iter_mut().enumerate() {
            let base = demo_agencies[tenant.agency.as_str()];
            let mut agency = base.clone();
            agency.slug = format!("{}-{i:04}", base.slug);
            agency.name = format!("{} {name}", base.name);
            tenant.agency = agency.slug.clone();
            doc.agencies.push(agency);
            let original = tenant.services.clone();
            tenant.services.clear();
            // Spread per_mpp services over the tenants in the design's proportions.
            let want = (original.len() * per_mpp).div_ceil(total_design).max(1);
            for k in 0..want {
                if produced >= per_mpp && ti + 1 < design.tenants.len() {
                    break;
                }
                let mut s = original[k % original.len()].clone();
                let round = k / original.len();
                if round > 0 {
                    s.slug = format!("{}-{round}", s.slug);
                    s.name = format!("{}{}", s.name, suffixes[round % suffixes.len()]);
                    if round >= suffixes.len() {
                        s.name = format!("{} {round}", s.name);
                    }
                }
                tenant.services.push(s);
                produced += 1;
            }
        }
        doc.mpps.push(m);
    }
    (doc, provinces_csv, regencies_csv)
}

fn wrk(url: &str, script: Option<&str>, seconds: u32) -> Option<(f64, String)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"]);
    if let Some(s) = script {
        cmd.args(["-s", s]);
    }
    let out = cmd.arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_default();
    Some((rps, p99))
}

/// Resident set size of this process in MB (Linux), 0 elsewhere.
fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn bench_settings() -> mpp::http::Settings {
    let key = mpp::privacy::DataKeys::generate_key().expect("key");
    let lookup = mpp::privacy::DataKeys::generate_key().expect("key");
    mpp::http::Settings {
        keys: std::sync::Arc::new(
            mpp::privacy::DataKeys::parse(&format!("k1:{key}"), &lookup).expect("keys"),
        ),
        mode: mpp::config::Mode::Production,
        secure_cookies: false,
        public_url: "http://127.0.0.1".into(),
        sign_in_burst: 10,
        trusted_proxies: std::sync::Arc::new(Vec::new()),
        clock: mpp::http::Clock::System,
        channels: std::sync::Arc::new(mpp::delivery::Channels::development()),
        blobs: mpp::documents::BlobStore::in_temp_dir(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mpp_count: usize = std::env::var("MPP_BENCH_MPPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let per_mpp: usize = std::env::var("MPP_BENCH_SERVICES_PER_MPP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(333);
    let seconds: u32 = std::env::var("MPP_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);

    let started = Instant::now();
    let (doc, provinces_csv, regencies_csv) = generate(mpp_count, per_mpp);
    let services: usize = doc
        .mpps
        .iter()
        .flat_map(|m| &m.tenants)
        .map(|t| t.services.len())
        .sum();
    println!(
        "generated: {} MPPs, {} agencies, {services} services in {:.1}s",
        doc.mpps.len(),
        doc.agencies.len(),
        started.elapsed().as_secs_f64()
    );
    let json = serde_json::to_vec(&doc)?;
    println!("catalog document: {:.1} MB", json.len() as f64 / 1e6);

    let dir = tempfile::tempdir()?;
    let url = std::env::var("MPP_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.sqlite3").display()));
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    println!("engine: {}", db.engine().name());
    mpp::imports::import_region_bytes(
        &db,
        &[
            ("provinces.csv", provinces_csv.as_bytes()),
            ("regencies.csv", regencies_csv.as_bytes()),
        ],
        "bench",
    )
    .await?;
    let t = Instant::now();
    let report = mpp::imports::import_catalog(&db, &json, "bench").await?;
    println!(
        "import: {:.1}s ({} created)",
        t.elapsed().as_secs_f64(),
        report.created
    );
    drop(json);
    drop(doc);
    let rss_before = resident_mb();
    let t = Instant::now();
    let catalog = Catalog::load(&db).await?;
    println!(
        "resident memory: {rss_before:.0} MB before the snapshot, {:.0} MB with it",
        resident_mb()
    );
    println!(
        "snapshot load + index: {:.1}s ({} services)",
        t.elapsed().as_secs_f64(),
        catalog.services.len()
    );

    // Search in process.
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let regions: Vec<String> = catalog.mpps.iter().map(|m| m.region_code.clone()).collect();
    let mut times = Vec::new();
    let mut empty = 0;
    for i in 0..4000 {
        let q = *rng.pick(QUERIES);
        let region = (i % 4 == 1).then(|| rng.pick(&regions).clone());
        let province = (i % 4 == 2).then(|| rng.pick(&regions)[..2].to_owned());
        let request = SearchRequest {
            text: q,
            region: region.as_deref().or(province.as_deref()),
            mpp: None,
            agency: None,
            offset: 0,
            limit: 20,
        };
        let t = Instant::now();
        let found = catalog.search(&request)?;
        times.push(t.elapsed());
        if found.total == 0 {
            empty += 1;
        }
    }
    times.sort();
    println!(
        "search in process (4000 queries, 1/2 with a region filter, {empty} without results): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().expect("times"))
    );

    // The real server and a bare axum handler, side by side.
    let ids: Vec<String> = (0..1000)
        .map(|_| rng.pick(&catalog.services).id.to_string())
        .collect();
    let shared = SharedCatalog::new(catalog);
    let app = mpp::http::router(db.clone(), shared.clone(), bench_settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let sample = client
        .get(format!("{base}/layanan/{}", ids[0]))
        .send()
        .await?
        .text()
        .await?;
    let page = "x".repeat(sample.len());
    let bare = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_base = format!("http://{}", bare_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(bare_listener, bare).await });
    println!(
        "service page size: {} bytes (bare handler serves the same size)",
        sample.len()
    );

    // In process, without sockets: where the time of one request goes.
    {
        use tower::ServiceExt;
        let router = mpp::http::router(db.clone(), shared.clone(), bench_settings());
        // A query string bypasses the rendered-page cache: "rendered" is the cost of a first view.
        let rendered: Vec<String> = ids.iter().map(|id| format!("/layanan/{id}?r=1")).collect();
        let cached = vec![format!("/layanan/{}", ids[0])];
        let health = vec!["/healthz".to_owned()];
        for (label, paths) in [
            ("healthz", &health),
            ("service page, cached", &cached),
            ("service page, rendered", &rendered),
        ] {
            let t = Instant::now();
            let n = 20_000;
            for i in 0..n {
                let path = &paths[i % paths.len()];
                let request =
                    axum::http::Request::get(path.as_str()).body(axum::body::Body::empty())?;
                let response = router.clone().oneshot(request).await?;
                let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            }
            println!(
                "in process, {label}: {:.1} µs/request",
                t.elapsed().as_secs_f64() * 1e6 / n as f64
            );
        }
    }

    // Search over HTTP, 8 concurrent clients.
    let t = Instant::now();
    let mut handles = Vec::new();
    for c in 0..8u64 {
        let client = client.clone();
        let base = base.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(0x1234_5678 + c);
            let mut times = Vec::new();
            for _ in 0..250 {
                let q = rng.pick(QUERIES).replace(' ', "%20");
                let t = Instant::now();
                let r = client
                    .get(format!("{base}/api/v1/services?q={q}"))
                    .send()
                    .await
                    .expect("request");
                assert!(r.status().is_success());
                let _ = r.bytes().await;
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut http_times = Vec::new();
    for h in handles {
        http_times.extend(h.await?);
    }
    http_times.sort();
    println!(
        "search over HTTP (2000 requests, 8 clients): p50 {:.2} ms, p99 {:.2} ms, {:.0} requests/s",
        ms(percentile(&http_times, 0.5)),
        ms(percentile(&http_times, 0.99)),
        http_times.len() as f64 / t.elapsed().as_secs_f64()
    );

    let script = dir.path().join("paths.lua");
    let list = ids
        .iter()
        .map(|id| format!("\"/layanan/{id}\""))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(
        &script,
        format!(
            "local paths = {{{list}}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n"
        ),
    )?;
    match (
        wrk(&format!("{bare_base}/"), None, seconds),
        wrk(&base, script.to_str(), seconds),
    ) {
        (Some((bare_rps, bare_p99)), Some((page_rps, page_p99))) => {
            println!("bare axum handler: {bare_rps:.0} requests/s ({bare_p99})");
            println!(
                "service page:      {page_rps:.0} requests/s ({page_p99}), {:.0}% of the bare handler",
                100.0 * page_rps / bare_rps
            );
        }
        _ => println!(
            "wrk not found: install the Debian package `wrk` for the requests/s comparison"
        ),
    }
    Ok(())
}
