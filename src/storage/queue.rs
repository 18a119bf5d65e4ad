//! Storage of the queue: counters, tickets, and the board's events.
//!
//! Every transaction here starts with a write, so that on SQLite it holds the write lock from
//! its first statement (no read-then-upgrade), and on PostgreSQL the rows it decides on are
//! locked or re-checked by the `WHERE state = …` of the update that claims them.

use super::accounts::parse_timestamp as parse_time;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::timestamp;
use super::audit::NewEntry;
use super::{Db, StorageError, Tx, on_pool, on_tx};
use crate::domain::queue::{
    Candidate, IllegalTransition, MAX_RECALLS_DEFAULT, PRIORITY_EVERY_DEFAULT, TicketAction,
    TicketState, Turn, call_announcement, next_to_call, prefix_for, recall_outcome, ticket_code,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CounterRow {
    pub id: Uuid,
    pub mpp_id: Uuid,
    pub tenant_id: Uuid,
    pub number: i32,
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: Uuid,
    pub mpp_id: Uuid,
    pub tenant_id: Uuid,
    pub service_id: Uuid,
    pub day: String,
    pub number: i32,
    pub code: String,
    pub kind: String,
    pub priority: bool,
    pub state: String,
    pub due_at: String,
    pub issued_at: String,
    pub called_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub counter_id: Option<Uuid>,
    pub recalls: i32,
}

macro_rules! ticket_columns {
    () => {
        "id, mpp_id, tenant_id, service_id, day, number, code, kind, priority, state, due_at, issued_at, \
         called_at, started_at, finished_at, counter_id, recalls"
    };
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no such counter")]
    NoCounter,
    #[error("the counter is not open")]
    CounterNotOpen,
    #[error("the counter still has a ticket called or being served")]
    CounterBusy,
    #[error("no such ticket")]
    NoTicket,
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for QueueError {
    fn from(e: sqlx::Error) -> QueueError {
        QueueError::Storage(e.into())
    }
}

/// Creates a counter serving `services` of its tenant.
#[expect(
    clippy::too_many_arguments,
    reason = "a counter's fields and its audit entry"
)]
pub async fn create_counter(
    db: &Db,
    mpp_id: Uuid,
    tenant_id: Uuid,
    number: i32,
    name: &str,
    services: &[Uuid],
    actor: &str,
    audit_scope: &str,
) -> Result<Uuid, StorageError> {
    let id = Uuid::now_v7();
    let now = timestamp(Utc::now());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => async {
        sqlx::query("INSERT INTO counters (id, mpp_id, tenant_id, number, name, state, updated_at) VALUES ($1, $2, $3, $4, $5, 'closed', $6)")
            .bind(id).bind(mpp_id).bind(tenant_id).bind(number).bind(name).bind(&now)
            .execute(&mut *conn).await?;
        for s in services {
            sqlx::query("INSERT INTO counter_services (counter_id, service_id) VALUES ($1, $2)")
                .bind(id).bind(s).execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    }.await)?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "counter.create",
            scope: audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({ "number": number, "services": services.len() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn counters_of_mpp(db: &Db, mpp_id: Uuid) -> Result<Vec<CounterRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, mpp_id, tenant_id, number, name, state FROM counters WHERE mpp_id = $1 ORDER BY number")
            .bind(mpp_id).fetch_all(pool).await
    })?)
}

pub async fn counter(db: &Db, id: Uuid) -> Result<Option<CounterRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, mpp_id, tenant_id, number, name, state FROM counters WHERE id = $1")
            .bind(id).fetch_optional(pool).await
    })?)
}

pub async fn counter_services(db: &Db, id: Uuid) -> Result<Vec<Uuid>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT service_id FROM counter_services WHERE counter_id = $1")
            .bind(id).fetch_all(pool).await
    })?)
}

/// Sets the services a counter serves (audited). A ticket already called there is untouched.
pub async fn set_counter_services(
    db: &Db,
    id: Uuid,
    services: &[Uuid],
    actor: &str,
    audit_scope: &str,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => async {
        sqlx::query("UPDATE counters SET updated_at = $2 WHERE id = $1")
            .bind(id).bind(timestamp(Utc::now())).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM counter_services WHERE counter_id = $1").bind(id).execute(&mut *conn).await?;
        for s in services {
            sqlx::query("INSERT INTO counter_services (counter_id, service_id) VALUES ($1, $2)")
                .bind(id).bind(s).execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    }.await)?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "counter.services",
            scope: audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({ "services": services }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a counter that never had a ticket (audited); `false` when it had one: its history
/// stays, and closing it is the way to stop it serving.
pub async fn remove_counter(
    db: &Db,
    id: Uuid,
    actor: &str,
    audit_scope: &str,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    // The delete comes first (the write lock on SQLite); a ticket referring to the counter makes
    // the condition false, so a ticket sent to it at the same moment keeps its counter.
    let removed = on_tx!(&mut tx, conn => async {
        sqlx::query("DELETE FROM counter_services WHERE counter_id = $1 AND NOT EXISTS (SELECT 1 FROM tickets WHERE counter_id = $1)")
            .bind(id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM counters WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM tickets WHERE counter_id = $1)")
            .bind(id).execute(&mut *conn).await.map(|r| r.rows_affected())
    }.await)?;
    if removed != 1 {
        return Ok(false);
    }
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "counter.remove",
            scope: audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A UPP's queue rules (`shared/RULES.md`), the defaults when it set none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    pub priority_every: i32,
    pub max_recalls: i32,
}

pub async fn settings(db: &Db, tenant_id: Uuid) -> Result<QueueSettings, StorageError> {
    let row: Option<(i32, i32)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT priority_every, max_recalls FROM queue_settings WHERE tenant_id = $1")
            .bind(tenant_id).fetch_optional(pool).await
    })?;
    Ok(settings_or_default(row))
}

fn settings_or_default(row: Option<(i32, i32)>) -> QueueSettings {
    let (priority_every, max_recalls) = row.unwrap_or((
        i32::try_from(PRIORITY_EVERY_DEFAULT).unwrap_or(1),
        MAX_RECALLS_DEFAULT,
    ));
    QueueSettings {
        priority_every,
        max_recalls,
    }
}

/// Sets a UPP's queue rules (audited).
pub async fn set_settings(
    db: &Db,
    tenant_id: Uuid,
    settings: QueueSettings,
    actor: &str,
    audit_scope: &str,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO queue_settings (tenant_id, priority_every, max_recalls, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id) DO UPDATE SET priority_every = excluded.priority_every, \
             max_recalls = excluded.max_recalls, updated_at = excluded.updated_at",
        )
        .bind(tenant_id).bind(settings.priority_every).bind(settings.max_recalls).bind(timestamp(Utc::now()))
        .execute(conn).await.map(|_| ())
    })?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "queue.settings",
            scope: audit_scope,
            subject: &tenant_id.to_string(),
            details: serde_json::json!({ "priority_every": settings.priority_every, "max_recalls": settings.max_recalls }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whose turn it is between the lanes at a UPP on `day`, from its latest calls.
async fn turn_in(tx: &mut Tx, tenant_id: Uuid, day: &str) -> Result<Turn, StorageError> {
    let row: Option<(i32, i32)> = on_tx!(tx, conn => {
        sqlx::query_as("SELECT priority_every, max_recalls FROM queue_settings WHERE tenant_id = $1")
            .bind(tenant_id).fetch_optional(conn).await
    })?;
    let every = u32::try_from(settings_or_default(row).priority_every.max(1)).unwrap_or(1);
    let flags: Vec<bool> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT priority FROM tickets WHERE tenant_id = $1 AND day = $2 AND called_at IS NOT NULL \
                            ORDER BY called_at DESC LIMIT $3")
            .bind(tenant_id).bind(day).bind(i64::from(every)).fetch_all(conn).await
    })?;
    Ok(Turn::from_recent(&flags, every))
}

/// Whose turn it is between the lanes at a UPP on `day` (for the ticket page's position).
pub async fn turn(db: &Db, tenant_id: Uuid, day: &str) -> Result<Turn, StorageError> {
    let mut tx = db.begin_snapshot().await?;
    let turn = turn_in(&mut tx, tenant_id, day).await?;
    tx.commit().await?;
    Ok(turn)
}

/// Opens, pauses or closes a counter (audited).
pub async fn set_counter_state(
    db: &Db,
    id: Uuid,
    state: &str,
    actor: &str,
    audit_scope: &str,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let done = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE counters SET state = $2, updated_at = $3 WHERE id = $1")
            .bind(id).bind(state).bind(timestamp(Utc::now())).execute(conn).await.map(|r| r.rows_affected())
    })?;
    if done == 1 {
        super::audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "counter.state",
                scope: audit_scope,
                subject: &id.to_string(),
                details: serde_json::json!({ "state": state }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done == 1)
}

/// A ticket to issue.
pub struct NewTicket {
    pub mpp_id: Uuid,
    pub tenant_id: Uuid,
    pub service_id: Uuid,
    /// The MPP's local date, `YYYY-MM-DD`: numbers restart each day.
    pub day: String,
    pub priority: bool,
    pub kind: &'static str,
    /// Under the fairness rule.
    pub due_at: DateTime<Utc>,
}

/// The tenant's ticket prefix, given one when it has none yet (the next free letter of its MPP).
async fn tenant_prefix(tx: &mut Tx, mpp_id: Uuid, tenant_id: Uuid) -> Result<String, StorageError> {
    let current: Option<String> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT ticket_prefix FROM tenants WHERE id = $1").bind(tenant_id).fetch_one(conn).await
    })?;
    if let Some(prefix) = current {
        return Ok(prefix);
    }
    // One assignment at a time per MPP: take the MPP's board head row first.
    on_tx!(tx, conn => async {
        sqlx::query("INSERT INTO board_heads (mpp_id, seq) VALUES ($1, 0) ON CONFLICT (mpp_id) DO NOTHING")
            .bind(mpp_id).execute(&mut *conn).await?;
        sqlx::query("UPDATE board_heads SET seq = seq WHERE mpp_id = $1").bind(mpp_id).execute(&mut *conn).await?;
        Ok::<(), sqlx::Error>(())
    }.await)?;
    let taken: Vec<String> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT ticket_prefix FROM tenants WHERE mpp_id = $1 AND ticket_prefix IS NOT NULL")
            .bind(mpp_id).fetch_all(conn).await
    })?;
    let prefix = (0..)
        .map(prefix_for)
        .find(|p| !taken.contains(p))
        .unwrap_or_else(|| "Z".into());
    on_tx!(tx, conn => {
        sqlx::query("UPDATE tenants SET ticket_prefix = $2 WHERE id = $1 AND ticket_prefix IS NULL")
            .bind(tenant_id).bind(&prefix).execute(conn).await.map(|_| ())
    })?;
    let prefix: Option<String> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT ticket_prefix FROM tenants WHERE id = $1").bind(tenant_id).fetch_one(conn).await
    })?;
    Ok(prefix.unwrap_or_default())
}

/// Issues a ticket with the tenant's next number of the day; two kiosks at once get two
/// consecutive numbers (the sequence row is incremented by one statement).
pub async fn issue_ticket(
    db: &Db,
    new: NewTicket,
    now: DateTime<Utc>,
) -> Result<TicketRow, StorageError> {
    let mut tx = db.begin().await?;
    let row = issue_ticket_in(&mut tx, new, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// [`issue_ticket`] inside a caller's transaction (a booking's check-in).
pub async fn issue_ticket_in(
    tx: &mut Tx,
    new: NewTicket,
    now: DateTime<Utc>,
) -> Result<TicketRow, StorageError> {
    let number: i32 = on_tx!(&mut *tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO ticket_sequences (tenant_id, day, last_number) VALUES ($1, $2, 1) \
             ON CONFLICT (tenant_id, day) DO UPDATE SET last_number = ticket_sequences.last_number + 1 \
             RETURNING last_number",
        )
        .bind(new.tenant_id).bind(&new.day).fetch_one(conn).await
    })?;
    let prefix = tenant_prefix(tx, new.mpp_id, new.tenant_id).await?;
    let id = Uuid::now_v7();
    let code = ticket_code(&prefix, number);
    let row: TicketRow = on_tx!(&mut *tx, conn => {
        sqlx::query_as(concat!(
            "INSERT INTO tickets (id, mpp_id, tenant_id, service_id, day, number, code, kind, priority, state, due_at, issued_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'waiting', $10, $11) RETURNING ", ticket_columns!()))
        .bind(id).bind(new.mpp_id).bind(new.tenant_id).bind(new.service_id).bind(&new.day).bind(number)
        .bind(&code).bind(new.kind).bind(new.priority).bind(timestamp(new.due_at)).bind(timestamp(now))
        .fetch_one(conn).await
    })?;
    Ok(row)
}

pub async fn ticket(db: &Db, id: Uuid) -> Result<Option<TicketRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE id = $1"))
            .bind(id).fetch_optional(pool).await
    })?)
}

/// The waiting tickets of a tenant's day, for positions and the console.
pub async fn waiting(db: &Db, tenant_id: Uuid, day: &str) -> Result<Vec<TicketRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE tenant_id = $1 AND day = $2 AND state = 'waiting' ORDER BY number"))
            .bind(tenant_id).bind(day).fetch_all(pool).await
    })?)
}

/// Tickets of a day at a counter that are called or being served.
pub async fn at_counter(db: &Db, counter_id: Uuid) -> Result<Vec<TicketRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE counter_id = $1 AND state IN ('called', 'serving') ORDER BY called_at"))
            .bind(counter_id).fetch_all(pool).await
    })?)
}

/// Whether `ticket` can be called at a counter serving `services`.
fn callable_here(ticket: &TicketRow, counter_id: Uuid, tenant_id: Uuid, services: &[Uuid]) -> bool {
    match ticket.counter_id {
        // Sent here by a transfer.
        Some(c) => c == counter_id,
        None => ticket.tenant_id == tenant_id && services.contains(&ticket.service_id),
    }
}

/// Appends a board event in `tx`, numbered after the MPP's last.
async fn board_event(
    tx: &mut Tx,
    mpp_id: Uuid,
    ticket: &TicketRow,
    action: TicketAction,
    counter_number: Option<i32>,
    announcement: &str,
    now: &str,
) -> Result<i64, StorageError> {
    Ok(on_tx!(tx, conn => async {
        sqlx::query("INSERT INTO board_heads (mpp_id, seq) VALUES ($1, 0) ON CONFLICT (mpp_id) DO NOTHING")
            .bind(mpp_id).execute(&mut *conn).await?;
        let seq: i64 = sqlx::query_scalar("UPDATE board_heads SET seq = seq + 1 WHERE mpp_id = $1 RETURNING seq")
            .bind(mpp_id).fetch_one(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO board_events (mpp_id, seq, at, ticket_id, action, code, counter_number, announcement) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(mpp_id).bind(seq).bind(now).bind(ticket.id).bind(action.as_str()).bind(&ticket.code)
        .bind(counter_number).bind(announcement)
        .execute(&mut *conn).await?;
        Ok::<i64, sqlx::Error>(seq)
    }.await)?)
}

/// The prefix part of a ticket code (`AB` of `AB012`).
fn prefix_of(code: &str) -> &str {
    code.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// Calls the next ticket at an open counter, under the fairness rule; `None` when nobody waits.
/// Two officers calling at once never get the same ticket: the claiming update re-checks the
/// state, and a lost race tries the next.
pub async fn call_next(
    db: &Db,
    counter_id: Uuid,
    actor: &str,
    audit_scope: &str,
    now: DateTime<Utc>,
) -> Result<Option<TicketRow>, QueueError> {
    let now_text = timestamp(now);
    for _ in 0..8 {
        let mut tx = db.begin().await?;
        // Locks the counter row: one call at a time per counter.
        let counter: Option<CounterRow> = on_tx!(&mut tx, conn => {
            sqlx::query_as("UPDATE counters SET updated_at = $2 WHERE id = $1 RETURNING id, mpp_id, tenant_id, number, name, state")
                .bind(counter_id).bind(&now_text).fetch_optional(conn).await
        })?;
        let counter = counter.ok_or(QueueError::NoCounter)?;
        if counter.state != "open" {
            return Err(QueueError::CounterNotOpen);
        }
        let busy: i64 = on_tx!(&mut tx, conn => {
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE counter_id = $1 AND state IN ('called', 'serving')")
                .bind(counter_id).fetch_one(conn).await
        })?;
        if busy > 0 {
            return Err(QueueError::CounterBusy);
        }
        let services: Vec<Uuid> = on_tx!(&mut tx, conn => {
            sqlx::query_scalar("SELECT service_id FROM counter_services WHERE counter_id = $1").bind(counter_id).fetch_all(conn).await
        })?;
        let candidates: Vec<TicketRow> = on_tx!(&mut tx, conn => {
            sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE mpp_id = $1 AND state = 'waiting' \
                                    AND (counter_id = $2 OR (counter_id IS NULL AND tenant_id = $3))"))
                .bind(counter.mpp_id).bind(counter_id).bind(counter.tenant_id).fetch_all(conn).await
        })?;
        let candidates: Vec<TicketRow> = candidates
            .into_iter()
            .filter(|t| callable_here(t, counter_id, counter.tenant_id, &services))
            .collect();
        let keys: Vec<Candidate> = candidates
            .iter()
            .map(|t| Candidate {
                due_at: parse_time(&t.due_at),
                priority: t.priority,
                number: t.number,
            })
            .collect();
        let turn = match candidates.first() {
            Some(t) => turn_in(&mut tx, counter.tenant_id, &t.day).await?,
            None => return Ok(None),
        };
        let Some(pick) = next_to_call(&keys, now, turn) else {
            return Ok(None);
        };
        let chosen = &candidates[pick];
        let claimed: Option<TicketRow> = on_tx!(&mut tx, conn => {
            sqlx::query_as(concat!("UPDATE tickets SET state = 'called', counter_id = $2, called_at = $3 \
                                    WHERE id = $1 AND state = 'waiting' RETURNING ", ticket_columns!()))
                .bind(chosen.id).bind(counter_id).bind(&now_text).fetch_optional(conn).await
        })?;
        let Some(ticket) = claimed else {
            // Another counter took it between our read and our update: look again.
            continue;
        };
        let words = call_announcement(prefix_of(&ticket.code), ticket.number, counter.number);
        board_event(
            &mut tx,
            counter.mpp_id,
            &ticket,
            TicketAction::Call,
            Some(counter.number),
            &words,
            &now_text,
        )
        .await?;
        super::audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "ticket.call",
                scope: audit_scope,
                subject: &ticket.id.to_string(),
                details: serde_json::json!({ "counter": counter.number, "code": ticket.code }),
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(Some(ticket));
    }
    Ok(None)
}

/// Where a transfer sends a ticket: another counter (of any tenant of the MPP).
pub struct Transfer {
    pub to_counter: Uuid,
}

/// Applies an officer's action to a ticket at their counter (or a citizen's cancel, with no
/// counter): recall, start, finish, no-show, cancel, transfer. The state machine decides what is
/// legal; a recall changes nothing but the count and announces again.
#[expect(
    clippy::too_many_arguments,
    reason = "the action, where it happens, and its audit entry"
)]
pub async fn act(
    db: &Db,
    ticket_id: Uuid,
    action: TicketAction,
    at_counter: Option<Uuid>,
    transfer: Option<Transfer>,
    actor: &str,
    audit_scope: &str,
    now: DateTime<Utc>,
) -> Result<TicketRow, QueueError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    // Locks the ticket row first (a write), then reads it.
    let ticket: Option<TicketRow> = on_tx!(&mut tx, conn => {
        sqlx::query_as(concat!("UPDATE tickets SET recalls = recalls WHERE id = $1 RETURNING ", ticket_columns!()))
            .bind(ticket_id).fetch_optional(conn).await
    })?;
    let ticket = ticket.ok_or(QueueError::NoTicket)?;
    if let Some(counter) = at_counter
        && ticket.counter_id != Some(counter)
        && action != TicketAction::Cancel
    {
        return Err(QueueError::NoTicket);
    }
    let state = TicketState::parse(&ticket.state).ok_or(QueueError::NoTicket)?;
    // A ticket not answered after the UPP's number of recalls becomes a no-show instead.
    let action = if action == TicketAction::Recall && state == TicketState::Called {
        let row: Option<(i32, i32)> = on_tx!(&mut tx, conn => {
            sqlx::query_as("SELECT priority_every, max_recalls FROM queue_settings WHERE tenant_id = $1")
                .bind(ticket.tenant_id).fetch_optional(conn).await
        })?;
        recall_outcome(ticket.recalls, settings_or_default(row).max_recalls)
    } else {
        action
    };
    let next = state.apply(action)?;
    let target: Option<CounterRow> = match &transfer {
        Some(t) if action == TicketAction::Transfer => {
            let c: Option<CounterRow> = on_tx!(&mut tx, conn => {
                sqlx::query_as("SELECT id, mpp_id, tenant_id, number, name, state FROM counters WHERE id = $1")
                    .bind(t.to_counter).fetch_optional(conn).await
            })?;
            match c {
                Some(c) if c.mpp_id == ticket.mpp_id && Some(c.id) != ticket.counter_id => Some(c),
                _ => return Err(QueueError::NoCounter),
            }
        }
        _ if action == TicketAction::Transfer => return Err(QueueError::NoCounter),
        _ => None,
    };
    let sql = match action {
        TicketAction::Recall => {
            "UPDATE tickets SET recalls = recalls + 1, called_at = $2 WHERE id = $1"
        }
        TicketAction::Start => {
            "UPDATE tickets SET state = 'serving', started_at = $2 WHERE id = $1"
        }
        TicketAction::Finish => "UPDATE tickets SET state = 'done', finished_at = $2 WHERE id = $1",
        TicketAction::NoShow => {
            "UPDATE tickets SET state = 'no_show', finished_at = $2 WHERE id = $1"
        }
        TicketAction::Cancel => {
            "UPDATE tickets SET state = 'cancelled', finished_at = $2 WHERE id = $1"
        }
        TicketAction::Transfer => {
            "UPDATE tickets SET state = 'waiting', counter_id = $3, tenant_id = $4, called_at = NULL, started_at = NULL \
             WHERE id = $1 AND $2 <> ''"
        }
        TicketAction::Call => {
            return Err(QueueError::Illegal(IllegalTransition {
                from: state,
                action,
            }));
        }
    };
    let (to_counter, to_tenant) = target
        .as_ref()
        .map_or((None, ticket.tenant_id), |c| (Some(c.id), c.tenant_id));
    if action == TicketAction::Transfer {
        on_tx!(&mut tx, conn => {
            sqlx::query(sql).bind(ticket.id).bind(&now_text).bind(to_counter).bind(to_tenant).execute(conn).await.map(|_| ())
        })?;
    } else {
        on_tx!(&mut tx, conn => {
            sqlx::query(sql).bind(ticket.id).bind(&now_text).execute(conn).await.map(|_| ())
        })?;
    }
    let updated: TicketRow = on_tx!(&mut tx, conn => {
        sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE id = $1")).bind(ticket.id).fetch_one(conn).await
    })?;
    if action == TicketAction::Recall {
        let number: Option<i32> = on_tx!(&mut tx, conn => {
            sqlx::query_scalar("SELECT number FROM counters WHERE id = $1").bind(ticket.counter_id).fetch_optional(conn).await
        })?;
        if let Some(number) = number {
            let words = call_announcement(prefix_of(&ticket.code), ticket.number, number);
            board_event(
                &mut tx,
                ticket.mpp_id,
                &updated,
                action,
                Some(number),
                &words,
                &now_text,
            )
            .await?;
        }
    }
    debug_assert_eq!(TicketState::parse(&updated.state), Some(next));
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: &format!("ticket.{}", action.as_str()),
            scope: audit_scope,
            subject: &ticket.id.to_string(),
            details: serde_json::json!({ "code": ticket.code, "to_counter": target.map(|c| c.number) }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// One event of a display board.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct BoardEvent {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub code: String,
    pub counter_number: Option<i32>,
    pub announcement: String,
}

pub async fn events_after(
    db: &Db,
    mpp_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<BoardEvent>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT seq, at, action, code, counter_number, announcement FROM board_events \
             WHERE mpp_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(mpp_id).bind(after).bind(limit).fetch_all(pool).await
    })?)
}

/// The latest events, newest first (the board's "last calls").
pub async fn latest_events(
    db: &Db,
    mpp_id: Uuid,
    limit: i64,
) -> Result<Vec<BoardEvent>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT seq, at, action, code, counter_number, announcement FROM board_events \
             WHERE mpp_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(mpp_id).bind(limit).fetch_all(pool).await
    })?)
}

/// Service times (seconds) of the tenant's latest finished tickets, for the wait estimate.
pub async fn recent_service_seconds(
    db: &Db,
    tenant_id: Uuid,
    limit: i64,
) -> Result<Vec<i64>, StorageError> {
    let rows: Vec<(String, String)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT called_at, finished_at FROM tickets WHERE tenant_id = $1 AND state = 'done' \
             AND called_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT $2",
        )
        .bind(tenant_id).bind(limit).fetch_all(pool).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(a, b)| (parse_time(&b) - parse_time(&a)).num_seconds().max(0))
        .collect())
}

/// How many open counters a tenant has.
pub async fn open_counters(db: &Db, tenant_id: Uuid) -> Result<i64, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM counters WHERE tenant_id = $1 AND state = 'open'")
            .bind(tenant_id).fetch_one(pool).await
    })?)
}

/// Every ticket of an MPP's day (for the statistics).
pub async fn tickets_of_day(
    db: &Db,
    mpp_id: Uuid,
    day: &str,
) -> Result<Vec<TicketRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE mpp_id = $1 AND day = $2 ORDER BY number"))
            .bind(mpp_id).bind(day).fetch_all(pool).await
    })?)
}
