//! The words people read, in Indonesian first and English on request.
//!
//! The language comes from `?lang=en|id`, then the `lang` cookie set by the switch link, then
//! Indonesian. Every template gets a `&'static Texts`, so a missing translation does not compile.

use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use axum::http::request::Parts;

use crate::domain::catalog::{AgencyKind, MppStatus, TimeLimit, TimeUnit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Id,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    pub fn parse(raw: &str) -> Option<Lang> {
        match raw {
            "id" => Some(Lang::Id),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// One of two texts written side by side (staff pages keep both languages in the template).
    pub fn pick<'a>(self, id: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Id => Lang::En,
            Lang::En => Lang::Id,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Id => &ID,
            Lang::En => &EN,
        }
    }

    /// For people's pages: query `lang`, then the `lang` cookie, then Indonesian.
    pub fn from_parts(parts: &Parts) -> Lang {
        if let Some(query) = parts.uri.query() {
            for pair in query.split('&') {
                if let Some(value) = pair.strip_prefix("lang=")
                    && let Some(lang) = Lang::parse(value)
                {
                    return lang;
                }
            }
        }
        for header in parts.headers.get_all(COOKIE) {
            if let Ok(cookies) = header.to_str() {
                for cookie in cookies.split(';') {
                    if let Some(lang) = cookie.trim().strip_prefix("lang=").and_then(Lang::parse) {
                        return lang;
                    }
                }
            }
        }
        Lang::Id
    }

    /// For machines: `Accept-Language: en…` selects English, anything else Indonesian.
    pub fn from_accept_language(parts: &Parts) -> Lang {
        let header = parts
            .headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if header.trim_start().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Id
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::from_parts(parts))
    }
}

pub struct Texts {
    pub lang_name: &'static str,
    pub switch_to: &'static str,
    pub site_name: &'static str,
    pub tagline: &'static str,
    pub skip_to_content: &'static str,
    pub home: &'static str,
    pub search_label: &'static str,
    pub search_in: &'static str,
    pub breadcrumb: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub search_hint: &'static str,
    pub mpps_by_province: &'static str,
    pub open_province_hint: &'static str,
    pub mpp_count_suffix: &'static str,
    pub upp: &'static str,
    pub services_word: &'static str,
    pub address: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
    pub website: &'static str,
    pub opening_hours: &'static str,
    pub closed: &'static str,
    pub open_now: &'static str,
    pub closed_now: &'static str,
    pub closes_at: &'static str,
    pub opens_again: &'static str,
    pub today: &'static str,
    pub at_time: &'static str,
    pub upcoming_days_off: &'static str,
    pub weekdays: [&'static str; 7],
    pub inaugurated: &'static str,
    pub region: &'static str,
    pub status: &'static str,
    pub tenants_heading: &'static str,
    pub services_heading: &'static str,
    pub location: &'static str,
    pub agency: &'static str,
    pub agency_of_tenant: &'static str,
    pub at: &'static str,
    pub standard_heading: &'static str,
    pub requirements: &'static str,
    pub requirements_hint: &'static str,
    pub no_requirements: &'static str,
    pub procedure: &'static str,
    pub time_limit: &'static str,
    pub fee: &'static str,
    pub free: &'static str,
    pub fee_varies: &'static str,
    pub fee_from: &'static str,
    pub fee_basis: &'static str,
    pub product: &'static str,
    pub complaint: &'static str,
    pub legal_basis: &'static str,
    pub other_components: &'static str,
    pub facilities: &'static str,
    pub staff_competence: &'static str,
    pub internal_supervision: &'static str,
    pub staff_count: &'static str,
    pub service_guarantee: &'static str,
    pub security_guarantee: &'static str,
    pub performance_evaluation: &'static str,
    pub not_filled: &'static str,
    pub national_template: &'static str,
    pub offered_in: &'static str,
    pub compare_caption: &'static str,
    pub same_service_elsewhere: &'static str,
    pub results_heading: &'static str,
    pub results_found: &'static str,
    pub no_results: &'static str,
    pub filters: &'static str,
    pub all: &'static str,
    pub whole_province: &'static str,
    pub apply: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub page: &'static str,
    pub of: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub bad_request_title: &'static str,
    pub error_title: &'static str,
    pub back_home: &'static str,
    pub no_mpps: &'static str,
    pub no_tenants: &'static str,
    pub footer: &'static str,
    pub api_link: &'static str,
    pub my_data_heading: &'static str,
    pub download_data: &'static str,
    pub delete_account: &'static str,
    pub delete_confirm: &'static str,
    pub profile_heading: &'static str,
    pub full_name_label: &'static str,
    pub nik_label: &'static str,
    pub nik_current: &'static str,
    pub nik_hint: &'static str,
    pub save: &'static str,
    pub saved_notice: &'static str,
    pub not_filled_yet: &'static str,
    pub name_invalid: &'static str,
    pub nik_taken: &'static str,
    pub nik_taken_en: &'static str,
    pub account_link: &'static str,
    pub sign_in_title: &'static str,
    pub identifier_label: &'static str,
    pub identifier_hint: &'static str,
    pub send_code: &'static str,
    pub code_title: &'static str,
    pub code_info: &'static str,
    pub code_label: &'static str,
    pub verify: &'static str,
    pub new_code: &'static str,
    pub dev_outbox_hint: &'static str,
    pub code_format: &'static str,
    pub code_wrong: &'static str,
    pub tries_left: &'static str,
    pub code_dead: &'static str,
    pub account_title: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out: &'static str,
    pub sign_out_everywhere: &'static str,
    pub outbox_title: &'static str,
    pub outbox_empty: &'static str,
    pub forbidden_title: &'static str,
    pub too_many_title: &'static str,
    pub unavailable_title: &'static str,
}

pub static ID: Texts = Texts {
    lang_name: "Bahasa Indonesia",
    switch_to: "English",
    site_name: "MPP Digital",
    tagline: "Semua layanan publik di Mal Pelayanan Publik, dalam satu pintu.",
    skip_to_content: "Langsung ke isi",
    home: "Beranda",
    search_label: "Cari layanan di semua MPP",
    search_in: "Cari layanan di",
    breadcrumb: "Jejak navigasi",
    search_placeholder: "mis. KTP, akta kelahiran, SKCK, izin usaha",
    search_button: "Cari",
    search_hint: "Ketik nama layanan atau dokumen yang Anda perlukan.",
    mpps_by_province: "MPP menurut provinsi",
    open_province_hint: "Pilih provinsi untuk melihat MPP-nya, atau cari layanan langsung di atas.",
    mpp_count_suffix: "MPP",
    upp: "UPP",
    services_word: "layanan",
    address: "Alamat",
    phone: "Telepon",
    email: "Surel",
    website: "Situs web",
    opening_hours: "Jam layanan",
    closed: "Tutup",
    open_now: "Buka sekarang",
    closed_now: "Tutup sekarang",
    closes_at: "tutup pukul",
    opens_again: "buka lagi",
    today: "hari ini",
    at_time: "pukul",
    upcoming_days_off: "Hari libur dan penutupan mendatang",
    weekdays: [
        "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
    ],
    inaugurated: "Diresmikan",
    region: "Wilayah",
    status: "Status",
    tenants_heading: "Unit Pelayanan Publik (UPP)",
    services_heading: "Layanan",
    location: "Lokasi",
    agency: "Instansi",
    agency_of_tenant: "Instansi induk",
    at: "di",
    standard_heading: "Standar Pelayanan",
    requirements: "Persyaratan",
    requirements_hint: "Centang dokumen yang sudah Anda siapkan sebelum datang.",
    no_requirements: "Tidak ada persyaratan khusus.",
    procedure: "Sistem, mekanisme, dan prosedur",
    time_limit: "Jangka waktu penyelesaian",
    fee: "Biaya/tarif",
    free: "Gratis",
    fee_varies: "Bervariasi, lihat dasar tarif",
    fee_from: "mulai",
    fee_basis: "Dasar tarif",
    product: "Produk layanan",
    complaint: "Penanganan pengaduan, saran, dan masukan",
    legal_basis: "Dasar hukum",
    other_components: "Komponen lain Standar Pelayanan",
    facilities: "Sarana, prasarana, dan/atau fasilitas",
    staff_competence: "Kompetensi pelaksana",
    internal_supervision: "Pengawasan internal",
    staff_count: "Jumlah pelaksana",
    service_guarantee: "Jaminan pelayanan",
    security_guarantee: "Jaminan keamanan dan keselamatan pelayanan",
    performance_evaluation: "Evaluasi kinerja pelaksana",
    not_filled: "Belum diisi oleh unit layanan.",
    national_template: "Layanan nasional",
    offered_in: "Tersedia di",
    compare_caption: "Biaya dan jangka waktu layanan ini di setiap MPP",
    same_service_elsewhere: "Layanan yang sama di MPP lain",
    results_heading: "Hasil pencarian",
    results_found: "layanan ditemukan",
    no_results: "Tidak ada layanan yang cocok. Coba kata lain, misalnya KTP, SIM, atau akta kelahiran.",
    filters: "Saring hasil",
    all: "Semua",
    whole_province: "Seluruh",
    apply: "Terapkan",
    previous: "Sebelumnya",
    next: "Berikutnya",
    page: "Halaman",
    of: "dari",
    not_found_title: "Halaman tidak ditemukan",
    not_found_body: "Alamat yang Anda buka tidak ada di MPP Digital. Periksa kembali alamatnya atau cari layanan dari beranda.",
    bad_request_title: "Permintaan tidak valid",
    error_title: "Terjadi kesalahan",
    back_home: "Kembali ke beranda",
    no_mpps: "Belum ada MPP yang terdaftar.",
    no_tenants: "MPP ini belum memiliki UPP yang terdaftar.",
    footer: "MPP Digital — perangkat lunak sumber terbuka untuk Mal Pelayanan Publik Indonesia.",
    api_link: "API untuk pengembang",
    my_data_heading: "Data pribadi Anda",
    download_data: "Unduh semua data saya (JSON)",
    delete_account: "Hapus akun",
    delete_confirm: "Saya mengerti bahwa akun dan data diri saya dihapus dan tidak dapat dikembalikan.",
    profile_heading: "Data diri",
    full_name_label: "Nama lengkap sesuai KTP",
    nik_label: "NIK (16 angka)",
    nik_current: "NIK tersimpan:",
    nik_hint: "NIK disimpan terenkripsi dan hanya ditampilkan tersamar.",
    save: "Simpan",
    saved_notice: "Data diri tersimpan.",
    not_filled_yet: "belum diisi",
    name_invalid: "Nama lengkap harus 2 sampai 100 huruf.",
    nik_taken: "NIK ini sudah terhubung dengan akun lain. Bila ini NIK Anda, hubungi petugas MPP.",
    nik_taken_en: "This NIK is already linked to another account. If it is yours, contact the MPP staff.",
    account_link: "Akun",
    sign_in_title: "Masuk atau daftar",
    identifier_label: "Surel atau nomor ponsel",
    identifier_hint: "Kami kirimkan kode 6 angka. Akun dibuat otomatis saat pertama kali masuk.",
    send_code: "Kirim kode",
    code_title: "Masukkan kode",
    code_info: "Jika alamat atau nomor tersebut benar, kode 6 angka telah dikirim ke sana. Kode berlaku 10 menit.",
    code_label: "Kode 6 angka",
    verify: "Masuk",
    new_code: "Minta kode baru",
    dev_outbox_hint: "Mode demo: pesan yang terkirim dapat dibaca di",
    code_format: "Kode terdiri dari 6 angka.",
    code_wrong: "Kode salah",
    tries_left: "sisa percobaan:",
    code_dead: "Kode ini sudah tidak berlaku (kedaluwarsa, sudah dipakai, atau terlalu banyak percobaan). Minta kode baru.",
    account_title: "Akun saya",
    signed_in_as: "Anda masuk sebagai",
    sign_out: "Keluar",
    sign_out_everywhere: "Keluar dari semua perangkat",
    outbox_title: "Kotak keluar (mode pengembangan)",
    outbox_empty: "Belum ada pesan terkirim.",
    forbidden_title: "Tidak diizinkan",
    too_many_title: "Terlalu banyak permintaan",
    unavailable_title: "Layanan tidak tersedia",
};

pub static EN: Texts = Texts {
    lang_name: "English",
    switch_to: "Bahasa Indonesia",
    site_name: "MPP Digital",
    tagline: "Every public service of Indonesia's public service malls, through one door.",
    skip_to_content: "Skip to content",
    home: "Home",
    search_label: "Search services in every MPP",
    search_in: "Search services at",
    breadcrumb: "Breadcrumb",
    search_placeholder: "e.g. KTP, birth certificate, SKCK, business licence",
    search_button: "Search",
    search_hint: "Type the name of the service or document you need.",
    mpps_by_province: "MPPs by province",
    open_province_hint: "Open a province to see its MPPs, or search for a service above.",
    mpp_count_suffix: "MPP",
    upp: "units",
    services_word: "services",
    address: "Address",
    phone: "Phone",
    email: "E-mail",
    website: "Website",
    opening_hours: "Opening hours",
    closed: "Closed",
    open_now: "Open now",
    closed_now: "Closed now",
    closes_at: "closes at",
    opens_again: "opens again",
    today: "today",
    at_time: "at",
    upcoming_days_off: "Coming holidays and closures",
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    inaugurated: "Inaugurated",
    region: "Region",
    status: "Status",
    tenants_heading: "Public service units (UPP)",
    services_heading: "Services",
    location: "Location",
    agency: "Agency",
    agency_of_tenant: "Parent agency",
    at: "at",
    standard_heading: "Service Standard (Standar Pelayanan)",
    requirements: "Requirements",
    requirements_hint: "Tick the documents you have ready before you come.",
    no_requirements: "No particular requirements.",
    procedure: "Procedure",
    time_limit: "Time limit",
    fee: "Fee",
    free: "Free",
    fee_varies: "Varies, see the basis of the fee",
    fee_from: "from",
    fee_basis: "Basis of the fee",
    product: "What you receive",
    complaint: "Complaints, suggestions and feedback",
    legal_basis: "Legal basis",
    other_components: "Other components of the Service Standard",
    facilities: "Facilities",
    staff_competence: "Staff competence",
    internal_supervision: "Internal supervision",
    staff_count: "Number of staff",
    service_guarantee: "Service guarantee",
    security_guarantee: "Security and safety guarantee",
    performance_evaluation: "Performance evaluation",
    not_filled: "Not provided by the unit yet.",
    national_template: "National service",
    offered_in: "Offered in",
    compare_caption: "Fee and time limit of this service in every MPP",
    same_service_elsewhere: "The same service in other MPPs",
    results_heading: "Search results",
    results_found: "services found",
    no_results: "No service matches. Try other words, for example KTP, SIM or birth certificate.",
    filters: "Filter results",
    all: "All",
    whole_province: "All of",
    apply: "Apply",
    previous: "Previous",
    next: "Next",
    page: "Page",
    of: "of",
    not_found_title: "Page not found",
    not_found_body: "The address you opened does not exist in MPP Digital. Check the address or search for a service from the home page.",
    bad_request_title: "Invalid request",
    error_title: "Something went wrong",
    back_home: "Back to the home page",
    no_mpps: "No MPP is registered yet.",
    no_tenants: "This MPP has no registered service units yet.",
    footer: "MPP Digital — open-source software for Indonesia's public service malls.",
    api_link: "API for developers",
    my_data_heading: "Your personal data",
    download_data: "Download all my data (JSON)",
    delete_account: "Delete account",
    delete_confirm: "I understand that my account and personal details are deleted and cannot be restored.",
    profile_heading: "Personal details",
    full_name_label: "Full name as on the ID card",
    nik_label: "NIK (16 digits)",
    nik_current: "Saved NIK:",
    nik_hint: "Your NIK is stored encrypted and only shown masked.",
    save: "Save",
    saved_notice: "Your details were saved.",
    not_filled_yet: "not filled in yet",
    name_invalid: "The full name must be 2 to 100 characters.",
    nik_taken: "NIK ini sudah terhubung dengan akun lain. Bila ini NIK Anda, hubungi petugas MPP.",
    nik_taken_en: "This NIK is already linked to another account. If it is yours, contact the MPP staff.",
    account_link: "Account",
    sign_in_title: "Sign in or sign up",
    identifier_label: "E-mail or mobile number",
    identifier_hint: "We send you a 6-digit code. Your account is created the first time you sign in.",
    send_code: "Send code",
    code_title: "Enter the code",
    code_info: "If the address or number is right, a 6-digit code has been sent to it. The code is valid for 10 minutes.",
    code_label: "6-digit code",
    verify: "Sign in",
    new_code: "Ask for a new code",
    dev_outbox_hint: "Demo mode: delivered messages can be read at",
    code_format: "The code has 6 digits.",
    code_wrong: "Wrong code",
    tries_left: "tries left:",
    code_dead: "This code no longer works (expired, used, or too many tries). Ask for a new code.",
    account_title: "My account",
    signed_in_as: "You are signed in as",
    sign_out: "Sign out",
    sign_out_everywhere: "Sign out on every device",
    outbox_title: "Outbox (development mode)",
    outbox_empty: "No message delivered yet.",
    forbidden_title: "Not allowed",
    too_many_title: "Too many requests",
    unavailable_title: "Service unavailable",
};

impl Texts {
    pub fn mpp_status(&self, status: MppStatus) -> &'static str {
        let en = std::ptr::eq(self, &EN);
        match (status, en) {
            (MppStatus::Planned, false) => "Direncanakan",
            (MppStatus::Pilot, false) => "Uji coba",
            (MppStatus::Operating, false) => "Beroperasi",
            (MppStatus::Planned, true) => "Planned",
            (MppStatus::Pilot, true) => "Pilot",
            (MppStatus::Operating, true) => "Operating",
        }
    }

    pub fn day_off_kind(&self, kind: &str) -> &'static str {
        let en = std::ptr::eq(self, &EN);
        match (kind, en) {
            ("libur_nasional", false) => "libur nasional",
            ("cuti_bersama", false) => "cuti bersama",
            (_, false) => "penutupan MPP",
            ("libur_nasional", true) => "national holiday",
            ("cuti_bersama", true) => "collective leave",
            (_, true) => "MPP closure",
        }
    }

    pub fn agency_kind(&self, kind: AgencyKind) -> &'static str {
        let en = std::ptr::eq(self, &EN);
        match (kind, en) {
            (AgencyKind::Pusat, false) => "Instansi pusat",
            (AgencyKind::Daerah, false) => "Perangkat daerah",
            (AgencyKind::BumnBumd, false) => "BUMN/BUMD",
            (AgencyKind::Lainnya, false) => "Lainnya",
            (AgencyKind::Pusat, true) => "Central government",
            (AgencyKind::Daerah, true) => "Regional government",
            (AgencyKind::BumnBumd, true) => "State/regional enterprise",
            (AgencyKind::Lainnya, true) => "Other",
        }
    }

    pub fn time_limit(&self, limit: TimeLimit) -> String {
        let en = std::ptr::eq(self, &EN);
        let unit = match (limit.unit, en, limit.value == 1) {
            (TimeUnit::Minutes, false, _) => "menit",
            (TimeUnit::Hours, false, _) => "jam",
            (TimeUnit::WorkingDays, false, _) => "hari kerja",
            (TimeUnit::Minutes, true, true) => "minute",
            (TimeUnit::Minutes, true, false) => "minutes",
            (TimeUnit::Hours, true, true) => "hour",
            (TimeUnit::Hours, true, false) => "hours",
            (TimeUnit::WorkingDays, true, true) => "working day",
            (TimeUnit::WorkingDays, true, false) => "working days",
        };
        format!("{} {unit}", limit.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_read_naturally() {
        let l = TimeLimit {
            value: 3,
            unit: TimeUnit::WorkingDays,
        };
        assert_eq!(ID.time_limit(l), "3 hari kerja");
        assert_eq!(EN.time_limit(l), "3 working days");
        let one = TimeLimit {
            value: 1,
            unit: TimeUnit::Hours,
        };
        assert_eq!(EN.time_limit(one), "1 hour");
    }
}
