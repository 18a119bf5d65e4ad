//! Storage of online bookings: rules per service, slots with quotas, bookings, check-in.
//!
//! The quota is kept by one conditional statement (`booked = booked + 1 … WHERE booked <
//! quota`): on either engine no slot is ever booked beyond its quota, however many requests
//! arrive together. One active booking per citizen, service and day is a partial unique index;
//! a retried request with the same idempotency key returns the booking it already made.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::timestamp;
use super::queue::{NewTicket, TicketRow, issue_ticket_in};
use super::{Db, StorageError, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookingRule {
    pub service_id: Uuid,
    pub slot_minutes: i32,
    pub quota_per_slot: i32,
    pub days_ahead: i32,
    pub release_time: String,
    pub cancel_cutoff_minutes: i32,
}

pub async fn rule(db: &Db, service_id: Uuid) -> Result<Option<BookingRule>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT service_id, slot_minutes, quota_per_slot, days_ahead, release_time, cancel_cutoff_minutes \
             FROM booking_rules WHERE service_id = $1",
        )
        .bind(service_id).fetch_optional(pool).await
    })?)
}

pub async fn set_rule(db: &Db, rule: &BookingRule) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO booking_rules (service_id, slot_minutes, quota_per_slot, days_ahead, release_time, cancel_cutoff_minutes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (service_id) DO UPDATE SET slot_minutes = excluded.slot_minutes, \
             quota_per_slot = excluded.quota_per_slot, days_ahead = excluded.days_ahead, release_time = excluded.release_time, \
             cancel_cutoff_minutes = excluded.cancel_cutoff_minutes, updated_at = excluded.updated_at",
        )
        .bind(rule.service_id).bind(rule.slot_minutes).bind(rule.quota_per_slot).bind(rule.days_ahead)
        .bind(&rule.release_time).bind(rule.cancel_cutoff_minutes).bind(timestamp(Utc::now()))
        .execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// A slot to make (if it does not exist yet).
pub struct NewSlot {
    pub day: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Makes the slots that do not exist yet; existing ones (and their bookings) are untouched.
pub async fn ensure_slots(
    db: &Db,
    service_id: Uuid,
    quota: i32,
    slots: &[NewSlot],
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    for s in slots {
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO booking_slots (id, service_id, day, starts_at, ends_at, quota, booked) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT (service_id, starts_at) DO NOTHING",
            )
            .bind(Uuid::now_v7()).bind(service_id).bind(&s.day).bind(timestamp(s.starts_at)).bind(timestamp(s.ends_at)).bind(quota)
            .execute(conn).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotRow {
    pub id: Uuid,
    pub service_id: Uuid,
    pub day: String,
    pub starts_at: String,
    pub ends_at: String,
    pub quota: i32,
    pub booked: i32,
}

pub async fn slots(db: &Db, service_id: Uuid, day: &str) -> Result<Vec<SlotRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, service_id, day, starts_at, ends_at, quota, booked FROM booking_slots \
             WHERE service_id = $1 AND day = $2 ORDER BY starts_at",
        )
        .bind(service_id).bind(day).fetch_all(pool).await
    })?)
}

pub async fn slot(db: &Db, id: Uuid) -> Result<Option<SlotRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, service_id, day, starts_at, ends_at, quota, booked FROM booking_slots WHERE id = $1")
            .bind(id).fetch_optional(pool).await
    })?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookingRow {
    pub id: Uuid,
    pub slot_id: Uuid,
    pub service_id: Uuid,
    pub day: String,
    pub account_id: Uuid,
    pub code: String,
    pub state: String,
    pub ticket_id: Option<Uuid>,
    pub created_at: String,
}

macro_rules! booking_columns {
    () => {
        "id, slot_id, service_id, day, account_id, code, state, ticket_id, created_at"
    };
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("the slot is full")]
    Full,
    #[error("an active booking for this service on this day exists")]
    AlreadyBooked(Uuid),
    #[error("no such slot")]
    NoSlot,
    #[error("no active booking of this account with this id")]
    NoBooking,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct NewBooking<'a> {
    pub slot_id: Uuid,
    pub account_id: Uuid,
    pub code: &'a str,
    pub idempotency_key: &'a str,
}

/// The citizen behind a live session and the id of their booking made with `key`, in one
/// statement (the booking API's first read at the rush).
pub async fn session_with_key(
    db: &Db,
    token_hash: &[u8],
    now: DateTime<Utc>,
    key: &str,
) -> Result<Option<(super::accounts::SessionAccount, Option<Uuid>)>, StorageError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        account_id: Uuid,
        identifier_kind: String,
        identifier_sealed: Vec<u8>,
        booking_id: Option<Uuid>,
    }
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT a.id AS account_id, a.identifier_kind, a.identifier_sealed, \
             (SELECT b.id FROM bookings b WHERE b.account_id = a.id AND b.idempotency_key = $3) AS booking_id \
             FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2 \
             AND s.level <> 'password'",
        )
        .bind(token_hash).bind(timestamp(now)).bind(key)
        .fetch_optional(pool).await
    })?;
    Ok(row.map(|r| {
        (
            super::accounts::SessionAccount {
                account_id: r.account_id,
                identifier_kind: r.identifier_kind,
                identifier_sealed: r.identifier_sealed,
            },
            r.booking_id,
        )
    }))
}

pub async fn by_key(
    db: &Db,
    account_id: Uuid,
    key: &str,
) -> Result<Option<BookingRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", booking_columns!(), " FROM bookings WHERE account_id = $1 AND idempotency_key = $2"))
            .bind(account_id).bind(key).fetch_optional(pool).await
    })?)
}

async fn active_on(
    db: &Db,
    account_id: Uuid,
    service_id: Uuid,
    day: &str,
) -> Result<Option<Uuid>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT id FROM bookings WHERE account_id = $1 AND service_id = $2 AND day = $3 AND state IN ('booked', 'checked_in')")
            .bind(account_id).bind(service_id).bind(day).fetch_optional(pool).await
    })?)
}

/// Books a place in a slot: one conditional update and one insert in one transaction. The same
/// idempotency key returns the same booking. Refusals (full, already booked) read only after
/// the transaction is rolled back, so the common path is two statements and a commit.
pub async fn book(
    db: &Db,
    new: NewBooking<'_>,
    now: DateTime<Utc>,
) -> Result<BookingRow, BookError> {
    if let Db::Postgres(pool) = db {
        return book_in_one_statement(pool, db, new, now).await;
    }
    let mut tx = db.begin().await?;
    let taken: Option<(Uuid, String)> = on_tx!(&mut tx, conn => {
        sqlx::query_as("UPDATE booking_slots SET booked = booked + 1 WHERE id = $1 AND booked < quota RETURNING service_id, day")
            .bind(new.slot_id).fetch_optional(conn).await
    })
    .map_err(StorageError::from)?;
    let Some((service_id, day)) = taken else {
        drop(tx);
        if let Some(existing) = by_key(db, new.account_id, new.idempotency_key).await? {
            return Ok(existing);
        }
        return Err(match slot(db, new.slot_id).await? {
            Some(_) => BookError::Full,
            None => BookError::NoSlot,
        });
    };
    let inserted: Result<BookingRow, sqlx::Error> = on_tx!(&mut tx, conn => {
        sqlx::query_as(concat!(
            "INSERT INTO bookings (id, slot_id, service_id, day, account_id, code, state, idempotency_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8) RETURNING ", booking_columns!()))
        .bind(Uuid::now_v7()).bind(new.slot_id).bind(service_id).bind(&day).bind(new.account_id).bind(new.code)
        .bind(new.idempotency_key).bind(timestamp(now))
        .fetch_one(conn).await
    });
    match inserted {
        Ok(row) => {
            tx.commit().await?;
            Ok(row)
        }
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            // Nothing is kept: the slot's count goes back with the rollback.
            drop(tx);
            if let Some(existing) = by_key(db, new.account_id, new.idempotency_key).await? {
                return Ok(existing);
            }
            let active = active_on(db, new.account_id, service_id, &day).await?;
            Err(BookError::AlreadyBooked(active.unwrap_or_default()))
        }
        Err(e) => Err(BookError::Storage(e.into())),
    }
}

/// PostgreSQL takes the place and inserts the booking in one statement (a data-modifying
/// `WITH`), so a booking is one round trip and one commit; SQLite has no such statement. A
/// unique violation fails the whole statement, so the place is never taken without its booking.
async fn book_in_one_statement(
    pool: &sqlx::PgPool,
    db: &Db,
    new: NewBooking<'_>,
    now: DateTime<Utc>,
) -> Result<BookingRow, BookError> {
    let made: Result<Option<BookingRow>, sqlx::Error> = sqlx::query_as(concat!(
        "WITH taken AS (UPDATE booking_slots SET booked = booked + 1 WHERE id = $2 AND booked < quota \
         RETURNING service_id, day) \
         INSERT INTO bookings (id, slot_id, service_id, day, account_id, code, state, idempotency_key, created_at) \
         SELECT $1, $2, taken.service_id, taken.day, $3, $4, 'booked', $5, $6 FROM taken RETURNING ",
        booking_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(new.slot_id)
    .bind(new.account_id)
    .bind(new.code)
    .bind(new.idempotency_key)
    .bind(timestamp(now))
    .fetch_optional(pool)
    .await;
    match made {
        Ok(Some(row)) => Ok(row),
        Ok(None) => {
            if let Some(existing) = by_key(db, new.account_id, new.idempotency_key).await? {
                return Ok(existing);
            }
            Err(match slot(db, new.slot_id).await? {
                Some(_) => BookError::Full,
                None => BookError::NoSlot,
            })
        }
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            if let Some(existing) = by_key(db, new.account_id, new.idempotency_key).await? {
                return Ok(existing);
            }
            let Some(s) = slot(db, new.slot_id).await? else {
                return Err(BookError::NoSlot);
            };
            let active = active_on(db, new.account_id, s.service_id, &s.day).await?;
            Err(BookError::AlreadyBooked(active.unwrap_or_default()))
        }
        Err(e) => Err(BookError::Storage(e.into())),
    }
}

/// Moves one's own `booked` booking to another slot of the same service, keeping its code: the
/// new slot's place is taken by the same conditional update as a booking, the old one given
/// back, in one transaction.
pub async fn reschedule(
    db: &Db,
    id: Uuid,
    account_id: Uuid,
    to_slot: Uuid,
) -> Result<BookingRow, BookError> {
    let mut tx = db.begin().await?;
    let taken: Option<(Uuid, String)> = on_tx!(&mut tx, conn => {
        sqlx::query_as("UPDATE booking_slots SET booked = booked + 1 WHERE id = $1 AND booked < quota RETURNING service_id, day")
            .bind(to_slot).fetch_optional(conn).await
    })
    .map_err(StorageError::from)?;
    let Some((service_id, day)) = taken else {
        drop(tx);
        return Err(match slot(db, to_slot).await? {
            Some(_) => BookError::Full,
            None => BookError::NoSlot,
        });
    };
    let old: Option<Uuid> = on_tx!(&mut tx, conn => {
        sqlx::query_scalar("SELECT slot_id FROM bookings WHERE id = $1 AND account_id = $2 AND state = 'booked' AND service_id = $3")
            .bind(id).bind(account_id).bind(service_id).fetch_optional(conn).await
    })
    .map_err(StorageError::from)?;
    let Some(old) = old.filter(|old| *old != to_slot) else {
        return Err(BookError::NoBooking);
    };
    // The state and old slot are checked again by the update itself, which waits for (and then
    // re-reads) a concurrent change to the row on PostgreSQL.
    let moved: Result<u64, sqlx::Error> = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE bookings SET slot_id = $3, day = $4 WHERE id = $1 AND state = 'booked' AND slot_id = $2")
            .bind(id).bind(old).bind(to_slot).bind(&day)
            .execute(conn).await.map(|r| r.rows_affected())
    });
    match moved {
        Ok(1) => {}
        Ok(_) => return Err(BookError::NoBooking),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            drop(tx);
            let active = active_on(db, account_id, service_id, &day).await?;
            return Err(BookError::AlreadyBooked(active.unwrap_or_default()));
        }
        Err(e) => return Err(BookError::Storage(e.into())),
    }
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE booking_slots SET booked = booked - 1 WHERE id = $1 AND booked > 0").bind(old).execute(conn).await.map(|_| ())
    })
    .map_err(StorageError::from)?;
    tx.commit().await?;
    booking(db, id).await?.ok_or(BookError::NoBooking)
}

/// Marks `booked` bookings whose slot started before `started_before` as no-shows:
/// they can no longer check in, and their holder may book again that day. Safe to run on
/// several nodes at once. Returns how many were marked.
pub async fn mark_no_shows(db: &Db, started_before: DateTime<Utc>) -> Result<u64, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query(
            "UPDATE bookings SET state = 'no_show' WHERE state = 'booked' \
             AND slot_id IN (SELECT id FROM booking_slots WHERE starts_at < $1)",
        )
        .bind(timestamp(started_before)).execute(pool).await.map(|r| r.rows_affected())
    })?)
}

pub async fn booking(db: &Db, id: Uuid) -> Result<Option<BookingRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", booking_columns!(), " FROM bookings WHERE id = $1"))
            .bind(id).fetch_optional(pool).await
    })?)
}

pub async fn bookings_of(db: &Db, account_id: Uuid) -> Result<Vec<BookingRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", booking_columns!(), " FROM bookings WHERE account_id = $1 ORDER BY day DESC, created_at DESC"))
            .bind(account_id).fetch_all(pool).await
    })?)
}

/// Cancels one's own booking that is still `booked`, giving its place back to the slot.
pub async fn cancel(db: &Db, id: Uuid, account_id: Uuid) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let slot: Option<Uuid> = on_tx!(&mut tx, conn => {
        sqlx::query_scalar("UPDATE bookings SET state = 'cancelled' WHERE id = $1 AND account_id = $2 AND state = 'booked' RETURNING slot_id")
            .bind(id).bind(account_id).fetch_optional(conn).await
    })?;
    let Some(slot) = slot else {
        return Ok(false);
    };
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE booking_slots SET booked = booked - 1 WHERE id = $1 AND booked > 0").bind(slot).execute(conn).await.map(|_| ())
    })?;
    tx.commit().await?;
    Ok(true)
}

#[derive(Debug, thiserror::Error)]
pub enum CheckInError {
    #[error("no booking with this code")]
    Unknown,
    #[error("the booking is for another day")]
    OtherDay,
    #[error("the booking was cancelled or missed")]
    NotActive,
    #[error("the booking's slot started more than the grace time ago")]
    Late,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Checks a booking in at the kiosk and issues its ticket, once: two check-ins at the same
/// moment make one ticket (the second finds the booking checked in and gets the same ticket).
pub async fn check_in(
    db: &Db,
    code: &str,
    today: &str,
    ticket: impl FnOnce(&BookingRow, &SlotRow) -> NewTicket,
    now: DateTime<Utc>,
) -> Result<TicketRow, CheckInError> {
    let latest_start =
        now - chrono::Duration::minutes(crate::domain::queue::CHECK_IN_GRACE_MINUTES);
    let mut tx = db.begin().await?;
    let claimed: Option<BookingRow> = on_tx!(&mut tx, conn => {
        sqlx::query_as(concat!("UPDATE bookings SET state = 'checked_in' WHERE code = $1 AND state = 'booked' AND day = $2 \
             AND slot_id IN (SELECT id FROM booking_slots WHERE starts_at >= $3) RETURNING ", booking_columns!()))
            .bind(code).bind(today).bind(timestamp(latest_start)).fetch_optional(conn).await
    })
    .map_err(StorageError::from)?;
    let Some(booking) = claimed else {
        drop(tx);
        let row: Option<BookingRow> = on_pool!(db, pool => {
            sqlx::query_as(concat!("SELECT ", booking_columns!(), " FROM bookings WHERE code = $1"))
                .bind(code).fetch_optional(pool).await
        })
        .map_err(StorageError::from)?;
        return match row {
            None => Err(CheckInError::Unknown),
            Some(b) if b.state == "checked_in" => match b.ticket_id {
                Some(id) => super::queue::ticket(db, id)
                    .await?
                    .ok_or(CheckInError::Unknown),
                None => Err(CheckInError::NotActive),
            },
            Some(b) if b.state == "booked" && b.day != today => Err(CheckInError::OtherDay),
            Some(b) if b.state == "booked" => Err(CheckInError::Late),
            Some(_) => Err(CheckInError::NotActive),
        };
    };
    let slot: SlotRow = on_tx!(&mut tx, conn => {
        sqlx::query_as("SELECT id, service_id, day, starts_at, ends_at, quota, booked FROM booking_slots WHERE id = $1")
            .bind(booking.slot_id).fetch_one(conn).await
    })
    .map_err(StorageError::from)?;
    let issued = issue_ticket_in(&mut tx, ticket(&booking, &slot), now).await?;
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE bookings SET ticket_id = $2 WHERE id = $1").bind(booking.id).bind(issued.id).execute(conn).await.map(|_| ())
    })
    .map_err(StorageError::from)?;
    tx.commit().await?;
    Ok(issued)
}

// ---------------------------------------------------------------------------------------------
// Group commit (SQLite)

/// SQLite runs one write transaction at a time, and each commit waits for its fsync: at the
/// release rush, bookings made one transaction each queue behind each other's fsync (and behind
/// SQLite's busy-wait backoff). The group writer takes every booking waiting at that moment,
/// makes them in one transaction — each inside its own savepoint, so one refusal undoes only
/// itself — commits once, and only then answers each. Every acknowledged booking is committed
/// before its answer, as with one transaction per booking. PostgreSQL needs none of this.
#[derive(Clone)]
pub struct GroupCommit {
    sender: tokio::sync::mpsc::Sender<Pending>,
}

/// How many bookings one transaction takes at most.
const GROUP_MAX: usize = 128;

struct Pending {
    slot_id: Uuid,
    account_id: Uuid,
    code: String,
    key: String,
    now: DateTime<Utc>,
    answer: tokio::sync::oneshot::Sender<Result<Outcome, String>>,
}

/// What a booking's savepoint gave; refusals are explained by reads after the commit.
enum Outcome {
    Booked(BookingRow),
    NoPlace,
    Conflict { service_id: Uuid, day: String },
}

impl GroupCommit {
    /// The writer for `db` when it is SQLite (`None` for PostgreSQL). It runs until every
    /// handle is dropped.
    pub fn start(db: &Db) -> Option<GroupCommit> {
        let Db::Sqlite(pool) = db else {
            return None;
        };
        let (sender, receiver) = tokio::sync::mpsc::channel(4096);
        tokio::spawn(write_groups(pool.clone(), receiver));
        Some(GroupCommit { sender })
    }

    /// As [`book`], through the group writer.
    pub async fn book(
        &self,
        db: &Db,
        new: NewBooking<'_>,
        now: DateTime<Utc>,
    ) -> Result<BookingRow, BookError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let pending = Pending {
            slot_id: new.slot_id,
            account_id: new.account_id,
            code: new.code.to_owned(),
            key: new.idempotency_key.to_owned(),
            now,
            answer,
        };
        let gone = || StorageError::Sql(sqlx::Error::PoolClosed);
        self.sender.send(pending).await.map_err(|_| gone())?;
        let outcome = answered
            .await
            .map_err(|_| gone())?
            .map_err(|e| StorageError::Sql(sqlx::Error::Protocol(e)))?;
        match outcome {
            Outcome::Booked(row) => Ok(row),
            Outcome::NoPlace => {
                if let Some(existing) = by_key(db, new.account_id, new.idempotency_key).await? {
                    return Ok(existing);
                }
                Err(match slot(db, new.slot_id).await? {
                    Some(_) => BookError::Full,
                    None => BookError::NoSlot,
                })
            }
            Outcome::Conflict { service_id, day } => {
                if let Some(existing) = by_key(db, new.account_id, new.idempotency_key).await? {
                    return Ok(existing);
                }
                let active = active_on(db, new.account_id, service_id, &day).await?;
                Err(BookError::AlreadyBooked(active.unwrap_or_default()))
            }
        }
    }
}

async fn write_groups(pool: sqlx::SqlitePool, mut receiver: tokio::sync::mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while receiver.recv_many(&mut group, GROUP_MAX).await > 0 {
        match write_group(&pool, &group).await {
            Ok(outcomes) => {
                for (pending, outcome) in group.drain(..).zip(outcomes) {
                    let _ = pending.answer.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, bookings = group.len(), "a group of bookings failed; none was made");
                for pending in group.drain(..) {
                    let _ = pending.answer.send(Err(e.to_string()));
                }
            }
        }
    }
}

async fn write_group(
    pool: &sqlx::SqlitePool,
    group: &[Pending],
) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for p in group {
        sqlx::query("SAVEPOINT booking").execute(&mut *tx).await?;
        let taken: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE booking_slots SET booked = booked + 1 WHERE id = $1 AND booked < quota RETURNING service_id, day",
        )
        .bind(p.slot_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((service_id, day)) = taken else {
            sqlx::query("RELEASE booking").execute(&mut *tx).await?;
            outcomes.push(Outcome::NoPlace);
            continue;
        };
        let inserted: Result<BookingRow, sqlx::Error> = sqlx::query_as(concat!(
            "INSERT INTO bookings (id, slot_id, service_id, day, account_id, code, state, idempotency_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8) RETURNING ", booking_columns!()))
        .bind(Uuid::now_v7()).bind(p.slot_id).bind(service_id).bind(&day).bind(p.account_id).bind(&p.code)
        .bind(&p.key).bind(timestamp(p.now))
        .fetch_one(&mut *tx)
        .await;
        match inserted {
            Ok(row) => {
                sqlx::query("RELEASE booking").execute(&mut *tx).await?;
                outcomes.push(Outcome::Booked(row));
            }
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                // Undo this booking's place only; the others in the group stand.
                sqlx::query("ROLLBACK TO booking").execute(&mut *tx).await?;
                sqlx::query("RELEASE booking").execute(&mut *tx).await?;
                outcomes.push(Outcome::Conflict { service_id, day });
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}
