//! The queue (antrean): ticket states and their transitions, the one fairness rule that orders
//! who is called next, ticket numbers, and the words the display board speaks.
//!
//! Fairness rule (`shared/RULES.md`). Every waiting ticket has a *due time*: a walk-in's is when
//! it was taken; a booking checked in no later than its slot's start plus the grace time keeps
//! its slot's start; a booking checked in later has lost its slot and is due from its check-in,
//! like a walk-in. Each lane is served in order of due time, then ticket number (numbers follow
//! the order tickets were made). The priority lane (the elderly, people with disabilities,
//! pregnant women) is served first, but after a priority call the next `every` calls go to
//! regular tickets while any is due (one priority ticket after each N regular ones, N set per
//! UPP, default 1), so neither lane starves. When no ticket is due yet (bookers who came
//! early, nobody else waiting), the earliest due is taken, so a counter never idles while
//! someone waits. A transferred ticket keeps its due time: it keeps its place. A ticket not
//! answered after K recalls (per UPP, default 3) becomes a no-show at the next recall.

use chrono::{DateTime, Duration, Utc};

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketState {
    Waiting,
    Called,
    Serving,
    Done,
    NoShow,
    Cancelled,
}

impl TicketState {
    pub const ALL: [TicketState; 6] = [
        TicketState::Waiting,
        TicketState::Called,
        TicketState::Serving,
        TicketState::Done,
        TicketState::NoShow,
        TicketState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Called => "called",
            TicketState::Serving => "serving",
            TicketState::Done => "done",
            TicketState::NoShow => "no_show",
            TicketState::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<TicketState> {
        TicketState::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            TicketState::Done | TicketState::NoShow | TicketState::Cancelled
        )
    }

    /// The state after `action`, or why it cannot happen.
    pub fn apply(self, action: TicketAction) -> Result<TicketState, IllegalTransition> {
        use TicketAction as A;
        use TicketState as S;
        let next = match (self, action) {
            (S::Waiting, A::Call) => S::Called,
            (S::Called, A::Recall) => S::Called,
            (S::Called, A::Start) => S::Serving,
            (S::Called, A::NoShow) => S::NoShow,
            (S::Serving, A::Finish) => S::Done,
            (S::Waiting | S::Called, A::Cancel) => S::Cancelled,
            (S::Called | S::Serving, A::Transfer) => S::Waiting,
            _ => return Err(IllegalTransition { from: self, action }),
        };
        Ok(next)
    }
}

/// What an officer (or the citizen, for Cancel) does to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketAction {
    Call,
    Recall,
    Start,
    Finish,
    NoShow,
    Cancel,
    Transfer,
}

impl TicketAction {
    pub const ALL: [TicketAction; 7] = [
        TicketAction::Call,
        TicketAction::Recall,
        TicketAction::Start,
        TicketAction::Finish,
        TicketAction::NoShow,
        TicketAction::Cancel,
        TicketAction::Transfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketAction::Call => "call",
            TicketAction::Recall => "recall",
            TicketAction::Start => "start",
            TicketAction::Finish => "finish",
            TicketAction::NoShow => "no_show",
            TicketAction::Cancel => "cancel",
            TicketAction::Transfer => "transfer",
        }
    }

    pub fn parse(raw: &str) -> Option<TicketAction> {
        TicketAction::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a ticket that is {} cannot be given {}", from.as_str(), action.as_str())]
pub struct IllegalTransition {
    pub from: TicketState,
    pub action: TicketAction,
}

impl IllegalTransition {
    /// The refusal in Indonesian and English.
    pub fn message(self) -> (String, String) {
        let state_id = match self.from {
            TicketState::Waiting => "masih menunggu",
            TicketState::Called => "sedang dipanggil",
            TicketState::Serving => "sedang dilayani",
            TicketState::Done => "sudah selesai",
            TicketState::NoShow => "ditandai tidak hadir",
            TicketState::Cancelled => "dibatalkan",
        };
        (
            format!("Tiket ini {state_id}; tindakan itu tidak dapat dilakukan."),
            format!(
                "This ticket is {}; that action is not possible.",
                self.from.as_str().replace('_', " ")
            ),
        )
    }
}

/// How long after its slot's start a booking may check in and keep its slot.
pub const CHECK_IN_GRACE_MINUTES: i64 = 15;

/// A ticket's due time under the fairness rule.
pub fn due_time(issued_at: DateTime<Utc>, slot_start: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match slot_start {
        Some(start) if issued_at <= start + Duration::minutes(CHECK_IN_GRACE_MINUTES) => start,
        _ => issued_at,
    }
}

/// A waiting ticket as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub due_at: DateTime<Utc>,
    pub priority: bool,
    pub number: i32,
}

/// Regular calls due after each priority call, unless a UPP sets another number.
pub const PRIORITY_EVERY_DEFAULT: u32 = 1;
/// Recalls before a further recall marks the ticket a no-show, unless a UPP sets another number.
pub const MAX_RECALLS_DEFAULT: i32 = 3;

/// Whose turn it is between the lanes: regular calls since the last priority call, and how many
/// regular calls a priority call is followed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    pub since_priority: u32,
    pub every: u32,
}

impl Turn {
    /// From the lanes of the latest calls, newest first (only the first `every` matter).
    pub fn from_recent(recent_priority_flags: &[bool], every: u32) -> Turn {
        let since = recent_priority_flags
            .iter()
            .take(every as usize)
            .position(|&p| p)
            .unwrap_or(every as usize);
        Turn {
            since_priority: u32::try_from(since).unwrap_or(every),
            every,
        }
    }

    pub fn priority_allowed(self) -> bool {
        self.since_priority >= self.every
    }

    /// The turn after calling a ticket of this lane.
    pub fn after(self, priority: bool) -> Turn {
        Turn {
            since_priority: if priority {
                0
            } else {
                self.since_priority.saturating_add(1)
            },
            every: self.every,
        }
    }
}

fn lane_key(c: &Candidate) -> (DateTime<Utc>, i32) {
    (c.due_at, c.number)
}

/// The position of the ticket to call next among `waiting`, if any.
pub fn next_to_call(waiting: &[Candidate], now: DateTime<Utc>, turn: Turn) -> Option<usize> {
    let first = |priority: bool| {
        waiting
            .iter()
            .enumerate()
            .filter(|(_, c)| c.due_at <= now && c.priority == priority)
            .min_by_key(|(_, c)| lane_key(c))
            .map(|(i, _)| i)
    };
    match (first(true), first(false)) {
        (Some(p), Some(r)) => Some(if turn.priority_allowed() { p } else { r }),
        (Some(p), None) => Some(p),
        (None, Some(r)) => Some(r),
        // Nobody due yet: the earliest due, so the counter does not idle.
        (None, None) => waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| lane_key(c))
            .map(|(i, _)| i),
    }
}

/// The order in which `waiting` would be called from `now` if nobody else came: positions into
/// `waiting`. The ticket page's "people before you" is a ticket's index here.
pub fn call_sequence(waiting: &[Candidate], now: DateTime<Utc>, turn: Turn) -> Vec<usize> {
    let mut left: Vec<usize> = (0..waiting.len()).collect();
    let mut order = Vec::with_capacity(waiting.len());
    let mut turn = turn;
    while !left.is_empty() {
        let view: Vec<Candidate> = left.iter().map(|&i| waiting[i]).collect();
        let Some(pick) = next_to_call(&view, now, turn) else {
            break;
        };
        let chosen = left.remove(pick);
        turn = turn.after(waiting[chosen].priority);
        order.push(chosen);
    }
    order
}

/// What a recall does to a ticket already recalled `recalls` times: another recall, or, past
/// `max_recalls`, a no-show.
pub fn recall_outcome(recalls: i32, max_recalls: i32) -> TicketAction {
    if recalls >= max_recalls {
        TicketAction::NoShow
    } else {
        TicketAction::Recall
    }
}

/// A ticket's code: the tenant's prefix and the number, three digits at least (`A012`).
pub fn ticket_code(prefix: &str, number: i32) -> String {
    format!("{prefix}{number:03}")
}

/// The `n`-th ticket prefix of an MPP: A … Z, then AA, AB, ….
pub fn prefix_for(n: usize) -> String {
    let letters = |i: usize| char::from(b'A' + u8::try_from(i % 26).unwrap_or(0));
    if n < 26 {
        letters(n).to_string()
    } else {
        let m = n - 26;
        format!("{}{}", letters(m / 26), letters(m))
    }
}

/// Indonesian words for 0 ..= 999 999, as the board speaks them ("seratus dua belas").
pub fn number_words(n: u32) -> String {
    const ONES: [&str; 12] = [
        "nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
        "sepuluh", "sebelas",
    ];
    fn words(n: u32) -> String {
        match n {
            0..=11 => ONES[n as usize].to_owned(),
            12..=19 => format!("{} belas", ONES[(n - 10) as usize]),
            20..=99 => {
                let tens = format!("{} puluh", ONES[(n / 10) as usize]);
                if n.is_multiple_of(10) {
                    tens
                } else {
                    format!("{tens} {}", ONES[(n % 10) as usize])
                }
            }
            100..=199 => join("seratus", n - 100),
            200..=999 => join(&format!("{} ratus", ONES[(n / 100) as usize]), n % 100),
            1000..=1999 => join("seribu", n - 1000),
            _ => join(&format!("{} ribu", words(n / 1000)), n % 1000),
        }
    }
    fn join(head: &str, rest: u32) -> String {
        if rest == 0 {
            head.to_owned()
        } else {
            format!("{head} {}", words(rest))
        }
    }
    words(n.min(999_999))
}

/// What the board says for a call: "Nomor antrean A nol dua belas, silakan ke loket tiga".
/// The number is read as written: a leading zero is said ("nol"), the rest as a number.
pub fn call_announcement(prefix: &str, number: i32, counter_number: i32) -> String {
    let digits = format!("{number:03}");
    let leading_zeros = digits.len() - digits.trim_start_matches('0').len().max(1);
    let mut spoken: Vec<String> = prefix.chars().map(|c| c.to_string()).collect();
    spoken.extend(std::iter::repeat_n("nol".to_owned(), leading_zeros));
    spoken.push(number_words(u32::try_from(number).unwrap_or(0)));
    format!(
        "Nomor antrean {}, silakan ke loket {}",
        spoken.join(" "),
        number_words(u32::try_from(counter_number).unwrap_or(0))
    )
}

/// Figures of a group of tickets (a UPP, a service or a counter, over a day).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub tickets: usize,
    pub done: usize,
    pub no_shows: usize,
    pub cancelled: usize,
    /// Minutes from due to called: median and 90th percentile.
    pub wait_p50: Option<f64>,
    pub wait_p90: Option<f64>,
    /// Minutes from start to finish: median and 90th percentile.
    pub service_p50: Option<f64>,
    pub service_p90: Option<f64>,
}

/// One ticket as the statistics see it: its final state and its durations in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub state: TicketState,
    pub wait_seconds: Option<i64>,
    pub service_seconds: Option<i64>,
}

/// The nearest-rank percentile of sorted values, in minutes.
fn percentile_minutes(sorted: &[i64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1] as f64 / 60.0)
}

pub fn figures(tickets: &[Served]) -> Figures {
    let mut waits: Vec<i64> = tickets
        .iter()
        .filter_map(|t| t.wait_seconds)
        .map(|s| s.max(0))
        .collect();
    let mut services: Vec<i64> = tickets
        .iter()
        .filter_map(|t| t.service_seconds)
        .map(|s| s.max(0))
        .collect();
    waits.sort_unstable();
    services.sort_unstable();
    Figures {
        tickets: tickets.len(),
        done: tickets
            .iter()
            .filter(|t| t.state == TicketState::Done)
            .count(),
        no_shows: tickets
            .iter()
            .filter(|t| t.state == TicketState::NoShow)
            .count(),
        cancelled: tickets
            .iter()
            .filter(|t| t.state == TicketState::Cancelled)
            .count(),
        wait_p50: percentile_minutes(&waits, 0.5),
        wait_p90: percentile_minutes(&waits, 0.9),
        service_p50: percentile_minutes(&services, 0.5),
        service_p90: percentile_minutes(&services, 0.9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).expect("time")
    }

    #[test]
    fn announcements_read_as_people_say_them() {
        assert_eq!(
            call_announcement("A", 12, 3),
            "Nomor antrean A nol dua belas, silakan ke loket tiga"
        );
        assert_eq!(
            call_announcement("B", 7, 11),
            "Nomor antrean B nol nol tujuh, silakan ke loket sebelas"
        );
        assert_eq!(
            call_announcement("AB", 115, 2),
            "Nomor antrean A B seratus lima belas, silakan ke loket dua"
        );
        assert_eq!(number_words(240), "dua ratus empat puluh");
        assert_eq!(number_words(1001), "seribu satu");
        assert_eq!(number_words(21_000), "dua puluh satu ribu");
        assert_eq!(ticket_code("A", 7), "A007");
        assert_eq!(ticket_code("C", 1234), "C1234");
        assert_eq!(prefix_for(0), "A");
        assert_eq!(prefix_for(25), "Z");
        assert_eq!(prefix_for(26), "AA");
    }

    #[test]
    fn figures_count_states_and_take_nearest_rank_percentiles() {
        let t = |state, wait, service| Served {
            state,
            wait_seconds: wait,
            service_seconds: service,
        };
        let f = figures(&[
            t(TicketState::Done, Some(60), Some(300)),
            t(TicketState::Done, Some(120), Some(600)),
            t(TicketState::NoShow, Some(600), None),
            t(TicketState::Cancelled, None, None),
        ]);
        assert_eq!((f.tickets, f.done, f.no_shows, f.cancelled), (4, 2, 1, 1));
        assert_eq!(f.wait_p50, Some(2.0));
        assert_eq!(f.wait_p90, Some(10.0));
        assert_eq!(f.service_p50, Some(5.0));
        assert_eq!(figures(&[]).wait_p50, None);
    }

    #[test]
    fn bookers_keep_their_slot_only_within_the_grace_time() {
        let slot = at(60);
        assert_eq!(due_time(at(30), Some(slot)), slot, "early: due at the slot");
        assert_eq!(due_time(at(74), Some(slot)), slot, "within grace");
        assert_eq!(due_time(at(80), Some(slot)), at(80), "late: like a walk-in");
        assert_eq!(due_time(at(5), None), at(5));
    }

    #[test]
    fn call_next_follows_the_rule() {
        let now = at(100);
        let walk_in = Candidate {
            due_at: at(90),
            priority: false,
            number: 5,
        };
        let booking_now = Candidate {
            due_at: at(95),
            priority: false,
            number: 9,
        };
        let booking_later = Candidate {
            due_at: at(130),
            priority: false,
            number: 2,
        };
        let elderly = Candidate {
            due_at: at(99),
            priority: true,
            number: 12,
        };
        let open = Turn {
            since_priority: 1,
            every: 1,
        };
        let waiting = [booking_later, booking_now, walk_in, elderly];
        assert_eq!(
            next_to_call(&waiting, now, open),
            Some(3),
            "the priority lane first"
        );
        let just_served = Turn {
            since_priority: 0,
            every: 1,
        };
        assert_eq!(
            next_to_call(&waiting, now, just_served),
            Some(2),
            "after a priority call, a regular one"
        );
        let waiting = [booking_later, booking_now, walk_in];
        assert_eq!(
            next_to_call(&waiting, now, open),
            Some(2),
            "then by due time"
        );
        assert_eq!(
            next_to_call(&[booking_later], now, open),
            Some(0),
            "nobody due: the earliest"
        );
        assert_eq!(next_to_call(&[], now, open), None);
        // A priority ticket not yet due does not jump the queue.
        let early_elderly = Candidate {
            due_at: at(120),
            priority: true,
            number: 1,
        };
        assert_eq!(next_to_call(&[early_elderly, walk_in], now, open), Some(1));
        // Only priority tickets waiting: they are called even out of turn.
        assert_eq!(next_to_call(&[elderly], now, just_served), Some(0));
    }

    #[test]
    fn turns_come_from_the_latest_calls() {
        assert_eq!(Turn::from_recent(&[], 1).since_priority, 1);
        assert!(Turn::from_recent(&[], 1).priority_allowed());
        assert!(!Turn::from_recent(&[true, false], 1).priority_allowed());
        assert!(Turn::from_recent(&[false, true], 1).priority_allowed());
        assert!(!Turn::from_recent(&[false, true], 2).priority_allowed());
        assert!(Turn::from_recent(&[false, false, true], 2).priority_allowed());
        assert_eq!(recall_outcome(2, 3), TicketAction::Recall);
        assert_eq!(recall_outcome(3, 3), TicketAction::NoShow);
    }

    fn any_state() -> impl Strategy<Value = TicketState> {
        prop::sample::select(TicketState::ALL.to_vec())
    }
    fn any_action() -> impl Strategy<Value = TicketAction> {
        prop::sample::select(TicketAction::ALL.to_vec())
    }

    proptest! {
        /// No action leaves a final state; recall changes nothing; every sequence of legal
        /// actions from Waiting stays among the six states and ends, if final, in exactly one.
        #[test]
        fn transitions_are_closed_and_finals_are_final(state in any_state(), actions in prop::collection::vec(any_action(), 0..30)) {
            if state.is_final() {
                for a in TicketAction::ALL {
                    prop_assert!(state.apply(a).is_err());
                }
            }
            prop_assert!(TicketState::Called.apply(TicketAction::Recall) == Ok(TicketState::Called));
            let mut s = TicketState::Waiting;
            for a in actions {
                if let Ok(next) = s.apply(a) {
                    prop_assert!(!s.is_final());
                    s = next;
                }
            }
            prop_assert!(TicketState::parse(s.as_str()) == Some(s));
        }

        /// The ticket called is never behind another due ticket of the same lane, and a lane is
        /// skipped only for the other lane's turn.
        #[test]
        fn the_called_ticket_is_first_in_its_lane(
            tickets in prop::collection::vec((0i64..200, any::<bool>(), 1i32..500), 1..40),
            now in 0i64..200,
            since in 0u32..4,
            every in 1u32..4,
        ) {
            let waiting: Vec<Candidate> = tickets
                .iter()
                .map(|&(m, priority, number)| Candidate { due_at: at(m), priority, number })
                .collect();
            let turn = Turn { since_priority: since, every };
            let chosen = waiting[next_to_call(&waiting, at(now), turn).expect("someone")];
            let chosen_due = chosen.due_at <= at(now);
            for other in &waiting {
                let other_due = other.due_at <= at(now);
                if other_due && chosen_due && other.priority == chosen.priority {
                    prop_assert!((chosen.due_at, chosen.number) <= (other.due_at, other.number));
                }
                if other_due {
                    prop_assert!(chosen_due, "a due ticket waits only behind due ones");
                    if other.priority && !chosen.priority {
                        prop_assert!(!turn.priority_allowed(), "priority skipped only out of turn");
                    }
                    if !other.priority && chosen.priority {
                        prop_assert!(turn.priority_allowed(), "regular skipped only for priority's turn");
                    }
                }
            }
        }

        /// With both lanes waiting, each priority call is followed by `every` regular calls
        /// while regular tickets remain, and every ticket is called exactly once.
        #[test]
        fn neither_lane_starves(
            regular in 0usize..30,
            priority in 0usize..30,
            every in 1u32..4,
        ) {
            let mut waiting = Vec::new();
            for i in 0..regular {
                waiting.push(Candidate { due_at: at(i as i64), priority: false, number: i as i32 });
            }
            for i in 0..priority {
                waiting.push(Candidate { due_at: at(i as i64), priority: true, number: 100 + i as i32 });
            }
            let order = call_sequence(&waiting, at(1000), Turn { since_priority: every, every });
            let mut seen = order.clone();
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), waiting.len());
            let lanes: Vec<bool> = order.iter().map(|&i| waiting[i].priority).collect();
            let mut regular_left = regular;
            let mut since = every;
            for p in lanes {
                if p {
                    prop_assert!(since >= every || regular_left == 0);
                    since = 0;
                } else {
                    regular_left -= 1;
                    since += 1;
                }
            }
        }
    }
}
