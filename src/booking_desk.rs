//! The booking desk: what the citizen's pages and the API share to show a day's slots and to
//! book, reschedule and cancel, with the rules of `domain::booking` applied in one place.
//!
//! It keeps a short-lived copy of each service's booking rule and each day's slots, so that the
//! rush at release time (most attempts are for slots already full) costs the database one read
//! of the session and one of the idempotency key per refusal, not a page of slots. The copy
//! never decides that a place is free: the conditional update in `storage::bookings` alone does.
//! It may refuse for at most [`DAY_TTL`] a place that a cancellation on another node just freed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use uuid::Uuid;

use crate::catalog::{Catalog, Mpp, Service};
use crate::domain::booking::{bookable, booking_code, release_of, slots_of_day};
use crate::domain::opening::time_zone;
use crate::storage::accounts::parse_timestamp;
use crate::storage::bookings::{
    self as store, BookError, BookingRow, BookingRule, NewBooking, NewSlot, SlotRow,
};
use crate::storage::{Db, StorageError};

/// How long a rule read from the database is used before it is read again. A rule changed on
/// this node is used at once; on another node within this time.
pub const RULE_TTL: StdDuration = StdDuration::from_secs(5);
/// How long a day's slots (and their counts) are used before they are read again.
pub const DAY_TTL: StdDuration = StdDuration::from_secs(1);
/// Slots remembered by id; beyond this the memory is cleared and filled again.
const MAX_SLOTS_REMEMBERED: usize = 200_000;

/// Why a booking request was refused. Each maps to one message in Indonesian and English.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the service cannot be booked online")]
    NotBookable,
    #[error("no such slot for this service")]
    NoSuchSlot,
    #[error("the slot has passed or is not released yet")]
    NotOpen,
    #[error("the slot is full")]
    Full,
    #[error("an active booking for this service on that day exists")]
    AlreadyBooked(Uuid),
    #[error("no such booking")]
    NoBooking,
    #[error("the time to change this booking has passed")]
    CutoffPassed,
    #[error("the booking is no longer active")]
    NotActive,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Refusal {
    /// `(code, Indonesian, English)` for the answer.
    pub fn words(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Refusal::NotBookable => (
                "not_bookable",
                "Layanan ini belum dapat dipesan secara daring.",
                "This service cannot be booked online yet.",
            ),
            Refusal::NoSuchSlot => ("no_such_slot", "Pilih salah satu jam.", "Choose a time."),
            Refusal::NotOpen => (
                "slot_not_open",
                "Jam itu sudah lewat atau belum dibuka untuk pemesanan.",
                "That time has passed or is not open for booking yet.",
            ),
            Refusal::Full => (
                "slot_full",
                "Jam itu baru saja penuh. Pilih jam lain.",
                "That time just filled up. Choose another.",
            ),
            Refusal::AlreadyBooked(_) => (
                "already_booked",
                "Anda sudah memesan layanan ini pada hari itu. Batalkan atau pindahkan pesanan itu untuk memilih jam lain.",
                "You already booked this service on that day. Cancel or move that booking to choose another time.",
            ),
            Refusal::NoBooking => (
                "not_found",
                "Pesanan tidak ditemukan.",
                "Booking not found.",
            ),
            Refusal::CutoffPassed => (
                "cutoff_passed",
                "Batas waktu untuk membatalkan atau memindahkan pesanan ini sudah lewat.",
                "The time to cancel or move this booking has passed.",
            ),
            Refusal::NotActive => (
                "not_active",
                "Pesanan ini sudah tidak aktif (dibatalkan, sudah lapor, atau terlewat).",
                "This booking is no longer active (cancelled, checked in, or missed).",
            ),
            Refusal::Storage(_) => (
                "internal",
                "Terjadi kesalahan pada server.",
                "Something went wrong on the server.",
            ),
        }
    }
}

/// A slot as offered to a citizen: local times and the places left.
#[derive(Debug, Clone)]
pub struct OpenSlot {
    pub id: Uuid,
    pub starts: NaiveTime,
    pub ends: NaiveTime,
    pub starts_at: DateTime<Utc>,
    pub left: i32,
    pub quota: i32,
}

/// A day's slots of one service, shared by the requests that read them.
type DaySlots = Arc<Vec<SlotRow>>;

/// What a citizen asks for when booking.
pub struct BookRequest<'a> {
    pub slot_id: Uuid,
    pub account_id: Uuid,
    /// The idempotency key: a retried request with the same key gets the same booking.
    pub key: &'a str,
    /// What the caller already read of a booking with this key (with the session, in one
    /// statement: `storage::bookings::session_with_key`), and when the read began.
    pub prior: Option<PriorRead>,
}

/// A read of the booking made with a request's idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct PriorRead {
    pub began: Instant,
    pub booking: Option<Uuid>,
}

#[derive(Default)]
pub struct BookingDesk {
    /// SQLite's group writer (none on PostgreSQL).
    group: Option<store::GroupCommit>,
    rules: Mutex<HashMap<Uuid, (Instant, Option<BookingRule>)>>,
    days: Mutex<HashMap<(Uuid, String), (Instant, DaySlots)>>,
    slots: Mutex<HashMap<Uuid, SlotRow>>,
    /// When each slot was last seen full (an answer received after the observation): a slot
    /// seen full less than [`DAY_TTL`] ago is refused without a write, whether or not its day's
    /// slots were read.
    full_seen: Mutex<HashMap<Uuid, Instant>>,
    /// One gate per slot for PostgreSQL bookings (see `book`).
    gates: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The MPP's local time at `now`.
pub fn local_now(mpp: &Mpp, now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&time_zone(&mpp.province_code))
        .naive_local()
}

fn to_utc(mpp: &Mpp, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    time_zone(&mpp.province_code)
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn release_time(rule: &BookingRule) -> NaiveTime {
    NaiveTime::parse_from_str(&rule.release_time, "%H:%M").unwrap_or(NaiveTime::MIN)
}

fn days_ahead(rule: &BookingRule) -> u32 {
    u32::try_from(rule.days_ahead).unwrap_or(0)
}

fn slot_minutes(rule: &BookingRule) -> u32 {
    u32::try_from(rule.slot_minutes).unwrap_or(30)
}

/// Whether `slot` can be booked at `now` under `rule`.
pub fn slot_open(mpp: &Mpp, rule: &BookingRule, slot: &SlotRow, now: DateTime<Utc>) -> bool {
    let starts = parse_timestamp(&slot.starts_at)
        .with_timezone(&time_zone(&mpp.province_code))
        .naive_local();
    bookable(
        starts.date(),
        starts.time(),
        local_now(mpp, now),
        days_ahead(rule),
        release_time(rule),
    )
}

/// Whether a booking starting at `starts_at` may still be cancelled or moved at `now`.
pub fn changeable(
    rule: Option<&BookingRule>,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let cutoff = Duration::minutes(i64::from(rule.map_or(60, |r| r.cancel_cutoff_minutes)));
    now + cutoff < starts_at
}

impl BookingDesk {
    /// A desk for `db`; on SQLite bookings go through one group writer (see
    /// `storage::bookings::GroupCommit`). Needs a Tokio runtime.
    pub fn new(db: &Db) -> BookingDesk {
        BookingDesk {
            group: store::GroupCommit::start(db),
            ..BookingDesk::default()
        }
    }

    /// The service's booking rule (`None`: not bookable online).
    pub async fn rule(
        &self,
        db: &Db,
        service_id: Uuid,
    ) -> Result<Option<BookingRule>, StorageError> {
        if let Some((at, rule)) = lock(&self.rules).get(&service_id)
            && at.elapsed() < RULE_TTL
        {
            return Ok(rule.clone());
        }
        let rule = store::rule(db, service_id).await?;
        lock(&self.rules).insert(service_id, (Instant::now(), rule.clone()));
        Ok(rule)
    }

    /// Saves a rule; this node uses it at once.
    pub async fn set_rule(&self, db: &Db, rule: &BookingRule) -> Result<(), StorageError> {
        store::set_rule(db, rule).await?;
        lock(&self.rules).remove(&rule.service_id);
        Ok(())
    }

    /// The days of the booking window that are released, working days for the service's
    /// tenant, and have opening hours.
    pub fn open_days(
        &self,
        catalog: &Catalog,
        service: &Service,
        rule: &BookingRule,
        now: DateTime<Utc>,
    ) -> Vec<NaiveDate> {
        let mpp = &catalog.mpps[service.mpp];
        let local = local_now(mpp, now);
        let tenant = &catalog.tenants[service.tenant];
        let calendar = catalog.calendar(mpp, local.date(), tenant.observes_cuti_bersama);
        (0..=u64::from(days_ahead(rule)))
            .filter_map(|d| local.date().checked_add_days(Days::new(d)))
            .filter(|day| !calendar.is_day_off(*day))
            .filter(|day| release_of(*day, days_ahead(rule), release_time(rule)) <= local)
            .filter(|day| !slots_of_day(&mpp.hours, *day, slot_minutes(rule)).is_empty())
            .collect()
    }

    /// The slots of `day`, made when first asked for.
    async fn day_slots(
        &self,
        db: &Db,
        mpp: &Mpp,
        service: &Service,
        rule: &BookingRule,
        day: NaiveDate,
    ) -> Result<DaySlots, StorageError> {
        let key = (service.id, day_key(day));
        if let Some((at, rows)) = lock(&self.days).get(&key)
            && at.elapsed() < DAY_TTL
        {
            return Ok(rows.clone());
        }
        let mut rows = store::slots(db, service.id, &key.1).await?;
        if rows.is_empty() {
            let new: Vec<NewSlot> = slots_of_day(&mpp.hours, day, slot_minutes(rule))
                .into_iter()
                .map(|s| NewSlot {
                    day: key.1.clone(),
                    starts_at: to_utc(mpp, day, s.starts),
                    ends_at: to_utc(mpp, day, s.ends),
                })
                .collect();
            store::ensure_slots(db, service.id, rule.quota_per_slot, &new).await?;
            rows = store::slots(db, service.id, &key.1).await?;
        }
        {
            let mut known = lock(&self.slots);
            if known.len() > MAX_SLOTS_REMEMBERED {
                known.clear();
            }
            for r in &rows {
                known.insert(r.id, r.clone());
            }
        }
        let loaded = Instant::now();
        {
            let mut seen = lock(&self.full_seen);
            if seen.len() > MAX_SLOTS_REMEMBERED {
                seen.clear();
            }
            for r in rows.iter() {
                if r.booked >= r.quota {
                    seen.insert(r.id, loaded);
                } else {
                    seen.remove(&r.id);
                }
            }
        }
        let rows = Arc::new(rows);
        lock(&self.days).insert(key, (loaded, rows.clone()));
        Ok(rows)
    }

    /// The bookable slots of `day` with the places left (none on a day outside the window).
    pub async fn open_slots(
        &self,
        db: &Db,
        catalog: &Catalog,
        service: &Service,
        rule: &BookingRule,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<OpenSlot>, StorageError> {
        if !self.open_days(catalog, service, rule, now).contains(&day) {
            return Ok(Vec::new());
        }
        let mpp = &catalog.mpps[service.mpp];
        let zone = time_zone(&mpp.province_code);
        Ok(self
            .day_slots(db, mpp, service, rule, day)
            .await?
            .iter()
            .filter(|s| slot_open(mpp, rule, s, now))
            .map(|s| {
                let starts_at = parse_timestamp(&s.starts_at);
                OpenSlot {
                    id: s.id,
                    starts: starts_at.with_timezone(&zone).time(),
                    ends: parse_timestamp(&s.ends_at).with_timezone(&zone).time(),
                    starts_at,
                    left: (s.quota - s.booked).max(0),
                    quota: s.quota,
                }
            })
            .collect())
    }

    /// A slot by id (its times and service never change; its count may be stale).
    pub async fn slot(&self, db: &Db, id: Uuid) -> Result<Option<SlotRow>, StorageError> {
        if let Some(s) = lock(&self.slots).get(&id) {
            return Ok(Some(s.clone()));
        }
        let found = store::slot(db, id).await?;
        if let Some(s) = &found {
            lock(&self.slots).insert(id, s.clone());
        }
        Ok(found)
    }

    /// When the slot was last seen full, if that was less than [`DAY_TTL`] ago and no place
    /// was given back on this node since.
    fn known_full(&self, slot: &SlotRow) -> Option<Instant> {
        lock(&self.full_seen)
            .get(&slot.id)
            .copied()
            .filter(|seen| seen.elapsed() < DAY_TTL)
    }

    /// The refusal for a slot seen full, if it was (see `book`).
    async fn refuse_if_full(
        &self,
        db: &Db,
        slot: &SlotRow,
        account_id: Uuid,
        key: &str,
        prior: Option<PriorRead>,
    ) -> Option<Result<BookingRow, Refusal>> {
        let seen = self.known_full(slot)?;
        // Seen full means every place-taker had committed (an uncommitted one would leave a
        // place counted as free). So a read of the key that began after that moment already
        // shows a booking this key made in this slot; otherwise read it now.
        if prior.is_some_and(|p| seen < p.began) {
            return Some(Err(Refusal::Full));
        }
        Some(match store::by_key(db, account_id, key).await {
            Ok(Some(existing)) => Ok(existing),
            Ok(None) => Err(Refusal::Full),
            Err(e) => Err(Refusal::Storage(e)),
        })
    }

    /// The slot's gate: attempts on one slot from this node pass one at a time.
    fn gate(&self, slot: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = lock(&self.gates);
        if gates.len() > MAX_SLOTS_REMEMBERED {
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        gates.entry(slot).or_default().clone()
    }

    /// Changes the copy of the slot's count by `delta`, or (`None`) marks it full.
    fn note(&self, slot: &SlotRow, delta: Option<i32>) {
        if let Some((_, rows)) = lock(&self.days).get_mut(&(slot.service_id, slot.day.clone()))
            && let Some(r) = Arc::make_mut(rows).iter_mut().find(|r| r.id == slot.id)
        {
            r.booked = match delta {
                Some(d) => (r.booked + d).clamp(0, r.quota),
                None => r.quota,
            };
        }
        match delta {
            None => {
                lock(&self.full_seen).insert(slot.id, Instant::now());
            }
            Some(d) if d < 0 => {
                lock(&self.full_seen).remove(&slot.id);
            }
            Some(_) => {}
        }
    }

    /// The slot `slot_id` of `service`, if it is open for booking now.
    async fn open_slot_of(
        &self,
        db: &Db,
        catalog: &Catalog,
        service: &Service,
        rule: &BookingRule,
        slot_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<SlotRow, Refusal> {
        let slot = self
            .slot(db, slot_id)
            .await?
            .filter(|s| s.service_id == service.id)
            .ok_or(Refusal::NoSuchSlot)?;
        let day =
            NaiveDate::parse_from_str(&slot.day, "%Y-%m-%d").map_err(|_| Refusal::NoSuchSlot)?;
        if !slot_open(&catalog.mpps[service.mpp], rule, &slot, now)
            || !self.open_days(catalog, service, rule, now).contains(&day)
        {
            return Err(Refusal::NotOpen);
        }
        Ok(slot)
    }

    /// Books a place in `slot_id` of `service` for `account_id`. A retried request with the
    /// same `key` returns the booking the first one made.
    pub async fn book(
        &self,
        db: &Db,
        catalog: &Catalog,
        service: &Service,
        request: BookRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<BookingRow, Refusal> {
        let BookRequest {
            slot_id,
            account_id,
            key,
            prior,
        } = request;
        if let Some(PriorRead {
            booking: Some(existing),
            ..
        }) = prior
            && let Some(b) = store::booking(db, existing).await?
        {
            return Ok(b);
        }
        let rule = self
            .rule(db, service.id)
            .await?
            .ok_or(Refusal::NotBookable)?;
        let slot = match self
            .open_slot_of(db, catalog, service, &rule, slot_id, now)
            .await
        {
            Ok(slot) => slot,
            Err(refusal) => {
                // A retry of a booking made before the slot closed still gets its booking.
                return match store::by_key(db, account_id, key).await? {
                    Some(existing) => Ok(existing),
                    None => Err(refusal),
                };
            }
        };
        if let Some(refused) = self.refuse_if_full(db, &slot, account_id, key, prior).await {
            return refused;
        }
        // On PostgreSQL, attempts on one slot from this node go one at a time: the others wait
        // here, holding no connection, instead of in the database on the slot's row lock; once
        // the slot is seen full they are refused without a statement. (SQLite's group writer
        // already serialises bookings.)
        let _turn = match &self.group {
            None => {
                let gate = self.gate(slot.id);
                let turn = gate.lock_owned().await;
                if let Some(refused) = self.refuse_if_full(db, &slot, account_id, key, prior).await
                {
                    return refused;
                }
                Some(turn)
            }
            Some(_) => None,
        };
        let mut random = [0u8; 5];
        getrandom::fill(&mut random)
            .map_err(|e| StorageError::Sql(sqlx::Error::Io(std::io::Error::other(e))))?;
        let code = booking_code(random);
        let new = NewBooking {
            slot_id: slot.id,
            account_id,
            code: &code,
            idempotency_key: key,
        };
        let made = match &self.group {
            Some(group) => group.book(db, new, now).await,
            None => store::book(db, new, now).await,
        };
        match made {
            Ok(b) => {
                if b.code == code {
                    self.note(&slot, Some(1));
                }
                Ok(b)
            }
            Err(BookError::Full) => {
                self.note(&slot, None);
                Err(Refusal::Full)
            }
            Err(BookError::AlreadyBooked(id)) => Err(Refusal::AlreadyBooked(id)),
            Err(BookError::NoSlot) => Err(Refusal::NoSuchSlot),
            Err(BookError::NoBooking) => Err(Refusal::NoBooking),
            Err(BookError::Storage(e)) => Err(Refusal::Storage(e)),
        }
    }

    /// One's own booking (someone else's is not found: its existence is not revealed).
    pub async fn own(&self, db: &Db, id: Uuid, account_id: Uuid) -> Result<BookingRow, Refusal> {
        store::booking(db, id)
            .await?
            .filter(|b| b.account_id == account_id)
            .ok_or(Refusal::NoBooking)
    }

    /// Whether one's own booking may still be cancelled or moved now.
    async fn check_changeable(
        &self,
        db: &Db,
        booking: &BookingRow,
        now: DateTime<Utc>,
    ) -> Result<SlotRow, Refusal> {
        if booking.state != "booked" {
            return Err(Refusal::NotActive);
        }
        let slot = self
            .slot(db, booking.slot_id)
            .await?
            .ok_or(Refusal::NoBooking)?;
        let rule = self.rule(db, booking.service_id).await?;
        if !changeable(rule.as_ref(), parse_timestamp(&slot.starts_at), now) {
            return Err(Refusal::CutoffPassed);
        }
        Ok(slot)
    }

    /// Cancels one's own booking before the cut-off, giving its place back.
    pub async fn cancel(
        &self,
        db: &Db,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let booking = self.own(db, id, account_id).await?;
        let slot = self.check_changeable(db, &booking, now).await?;
        if !store::cancel(db, id, account_id).await? {
            return Err(Refusal::NotActive);
        }
        self.note(&slot, Some(-1));
        Ok(())
    }

    /// Moves one's own booking to another open slot of its service before the cut-off; the
    /// code stays the same.
    pub async fn reschedule(
        &self,
        db: &Db,
        catalog: &Catalog,
        id: Uuid,
        account_id: Uuid,
        to_slot: Uuid,
        now: DateTime<Utc>,
    ) -> Result<BookingRow, Refusal> {
        let booking = self.own(db, id, account_id).await?;
        let old = self.check_changeable(db, &booking, now).await?;
        let service = catalog
            .service(booking.service_id)
            .ok_or(Refusal::NotBookable)?;
        let rule = self
            .rule(db, service.id)
            .await?
            .ok_or(Refusal::NotBookable)?;
        let new = self
            .open_slot_of(db, catalog, service, &rule, to_slot, now)
            .await?;
        if new.id == old.id {
            return Ok(booking);
        }
        if self.known_full(&new).is_some() {
            return Err(Refusal::Full);
        }
        match store::reschedule(db, id, account_id, new.id).await {
            Ok(b) => {
                self.note(&new, Some(1));
                self.note(&old, Some(-1));
                Ok(b)
            }
            Err(BookError::Full) => {
                self.note(&new, None);
                Err(Refusal::Full)
            }
            Err(BookError::AlreadyBooked(id)) => Err(Refusal::AlreadyBooked(id)),
            Err(BookError::NoSlot) => Err(Refusal::NoSuchSlot),
            Err(BookError::NoBooking) => Err(Refusal::NotActive),
            Err(BookError::Storage(e)) => Err(Refusal::Storage(e)),
        }
    }
}

/// Marks bookings not checked in within the grace time as no-shows, every `every`, until the
/// task is dropped. Their holders may book again; the statistics count them.
pub async fn sweep_no_shows(db: Db, clock: crate::http::Clock, every: StdDuration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let before = clock.now() - Duration::minutes(crate::domain::queue::CHECK_IN_GRACE_MINUTES);
        match store::mark_no_shows(&db, before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                bookings = n,
                "bookings past their grace time marked no-show"
            ),
            Err(e) => tracing::warn!(error = %e, "no-show sweep failed"),
        }
    }
}
