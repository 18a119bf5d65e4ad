//! Applications (permohonan): the life of one application from the citizen's draft to its one
//! final state, and its time limit in working days.
//!
//! States and who moves them:
//!
//! | from | action (actor) | to |
//! |---|---|---|
//! | draft | submit (citizen) | submitted |
//! | submitted | take (officer) | in review |
//! | in review | release (officer) | submitted |
//! | in review | request revision (officer, with what to fix) | needs revision |
//! | needs revision | resubmit (citizen) | submitted |
//! | in review | approve (officer) | approved |
//! | in review | reject (officer, with the reason) | rejected (final) |
//! | approved | attach output (officer) | ready |
//! | ready | mark collected (officer, or the citizen's download) | collected (final) |
//! | draft, submitted, needs revision | withdraw (citizen) | withdrawn (final) |
//!
//! Nothing leaves a final state; from every other state a final state can be reached.
//!
//! Time limit (`shared/RULES.md`): N working days counted from the day the application is
//! received complete, which is day 0; the limit ends at the close of the N-th working day after
//! it. Days waiting on the citizen do not count: each stretch from a revision request (day A) to
//! the resubmission (day B) adds the working days after A up to and including B. The clock
//! stops for good when the application is ready, rejected or withdrawn.

use chrono::NaiveDate;

use super::calendar::WorkingCalendar;
use super::catalog::{TimeLimit, TimeUnit};

/// Where an application is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationState {
    Draft,
    Submitted,
    InReview,
    NeedsRevision,
    Approved,
    Ready,
    Collected,
    Rejected,
    Withdrawn,
}

/// Who takes an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Citizen,
    Officer,
}

/// What someone does to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationAction {
    Submit,
    Take,
    Release,
    RequestRevision,
    Resubmit,
    Approve,
    Reject,
    AttachOutput,
    MarkCollected,
    Withdraw,
}

impl ApplicationState {
    pub const ALL: [ApplicationState; 9] = [
        ApplicationState::Draft,
        ApplicationState::Submitted,
        ApplicationState::InReview,
        ApplicationState::NeedsRevision,
        ApplicationState::Approved,
        ApplicationState::Ready,
        ApplicationState::Collected,
        ApplicationState::Rejected,
        ApplicationState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Draft => "draft",
            ApplicationState::Submitted => "submitted",
            ApplicationState::InReview => "in_review",
            ApplicationState::NeedsRevision => "needs_revision",
            ApplicationState::Approved => "approved",
            ApplicationState::Ready => "ready",
            ApplicationState::Collected => "collected",
            ApplicationState::Rejected => "rejected",
            ApplicationState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(raw: &str) -> Option<ApplicationState> {
        ApplicationState::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ApplicationState::Collected | ApplicationState::Rejected | ApplicationState::Withdrawn
        )
    }

    /// Whether the time limit's clock runs in this state (it is paused while the citizen holds
    /// the application, and stopped once the outcome is there).
    pub fn clock_runs(self) -> bool {
        matches!(
            self,
            ApplicationState::Submitted | ApplicationState::InReview | ApplicationState::Approved
        )
    }

    /// The state `action` leads to, or why it cannot be taken here.
    pub fn apply(self, action: ApplicationAction) -> Result<ApplicationState, IllegalStep> {
        use ApplicationAction as A;
        use ApplicationState as S;
        let next = match (self, action) {
            (S::Draft, A::Submit) => S::Submitted,
            (S::Submitted, A::Take) => S::InReview,
            (S::InReview, A::Release) => S::Submitted,
            (S::InReview, A::RequestRevision) => S::NeedsRevision,
            (S::NeedsRevision, A::Resubmit) => S::Submitted,
            (S::InReview, A::Approve) => S::Approved,
            (S::InReview, A::Reject) => S::Rejected,
            (S::Approved, A::AttachOutput) => S::Ready,
            (S::Ready, A::MarkCollected) => S::Collected,
            (S::Draft | S::Submitted | S::NeedsRevision, A::Withdraw) => S::Withdrawn,
            _ => return Err(IllegalStep { from: self, action }),
        };
        Ok(next)
    }
}

impl ApplicationAction {
    pub const ALL: [ApplicationAction; 10] = [
        ApplicationAction::Submit,
        ApplicationAction::Take,
        ApplicationAction::Release,
        ApplicationAction::RequestRevision,
        ApplicationAction::Resubmit,
        ApplicationAction::Approve,
        ApplicationAction::Reject,
        ApplicationAction::AttachOutput,
        ApplicationAction::MarkCollected,
        ApplicationAction::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationAction::Submit => "submit",
            ApplicationAction::Take => "take",
            ApplicationAction::Release => "release",
            ApplicationAction::RequestRevision => "request_revision",
            ApplicationAction::Resubmit => "resubmit",
            ApplicationAction::Approve => "approve",
            ApplicationAction::Reject => "reject",
            ApplicationAction::AttachOutput => "attach_output",
            ApplicationAction::MarkCollected => "mark_collected",
            ApplicationAction::Withdraw => "withdraw",
        }
    }

    pub fn parse(raw: &str) -> Option<ApplicationAction> {
        ApplicationAction::ALL
            .into_iter()
            .find(|a| a.as_str() == raw)
    }

    /// Who may take it (collection may also follow the citizen's own download).
    pub fn actor(self) -> Actor {
        match self {
            ApplicationAction::Submit
            | ApplicationAction::Resubmit
            | ApplicationAction::Withdraw => Actor::Citizen,
            _ => Actor::Officer,
        }
    }

    /// Whether the action must carry a text for the citizen (what to fix, why rejected).
    pub fn needs_note(self) -> bool {
        matches!(
            self,
            ApplicationAction::RequestRevision | ApplicationAction::Reject
        )
    }
}

/// An action that the application's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an application that is {} cannot be given {}", from.as_str(), action.as_str())]
pub struct IllegalStep {
    pub from: ApplicationState,
    pub action: ApplicationAction,
}

/// One entry of an application's history: it entered `state` on `day` (the MPP's local date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entered {
    pub state: ApplicationState,
    pub day: NaiveDate,
}

/// The last day of the time limit of `limit_days` working days for an application with this
/// history (oldest first), or `None` before it is received (still a draft).
pub fn due_date(
    calendar: &WorkingCalendar,
    limit_days: u32,
    history: &[Entered],
) -> Option<NaiveDate> {
    let received = history
        .iter()
        .find(|e| e.state == ApplicationState::Submitted)?
        .day;
    let mut paused = 0u32;
    let mut waiting_since: Option<NaiveDate> = None;
    for e in history {
        match (e.state, waiting_since) {
            (ApplicationState::NeedsRevision, None) => waiting_since = Some(e.day),
            (state, Some(since)) if state != ApplicationState::NeedsRevision => {
                paused += calendar.working_days_between(since, e.day);
                waiting_since = None;
            }
            _ => {}
        }
    }
    Some(calendar.add_working_days(received, limit_days + paused))
}

/// How an application stands against its time limit on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// More than one working day left.
    OnTime,
    /// The last day, or the working day before it.
    DueSoon,
    /// Past the limit.
    Late,
}

pub fn standing(calendar: &WorkingCalendar, today: NaiveDate, due: NaiveDate) -> Standing {
    if today > due {
        Standing::Late
    } else if calendar.working_days_between(today, due) <= 1 {
        Standing::DueSoon
    } else {
        Standing::OnTime
    }
}

/// The warning the time-limit watch sends now, if any, given the one already sent (`None`,
/// `DueSoon` or `Late`) and how the application stands: each level once, and never a step back.
pub fn warning_due(sent: Option<Standing>, now: Standing) -> Option<Standing> {
    let rank = |s: Option<Standing>| match s {
        None | Some(Standing::OnTime) => 0,
        Some(Standing::DueSoon) => 1,
        Some(Standing::Late) => 2,
    };
    (rank(Some(now)) > rank(sent)).then_some(now)
}

/// A Standar Pelayanan's time limit in working days. Limits in minutes are met the day the
/// application is received (0); limits in hours count a working day per 8 hours, rounded down.
pub fn limit_in_working_days(limit: TimeLimit) -> u32 {
    match limit.unit {
        TimeUnit::WorkingDays => limit.value,
        TimeUnit::Hours => limit.value / 8,
        TimeUnit::Minutes => 0,
    }
}

/// Crockford's base-32 alphabet: no I, L, O or U, so a code read aloud or typed from paper
/// is not misread.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_PREFIX: &str = "PMH";
const CODE_CHARS: usize = 12;

/// A tracking code from 60 random bits: `PMH-XXXX-XXXX-XXXX`. With a rate limit on the public
/// tracking page, guessing one that exists is hopeless.
pub fn tracking_code(random: [u8; 8]) -> String {
    let mut bits = u64::from_be_bytes(random);
    let mut out = String::from(CODE_PREFIX);
    for i in 0..CODE_CHARS {
        if i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(CODE_ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    out
}

/// A tracking code as someone typed it (any case, spaces or dashes anywhere, O for 0, I or L
/// for 1), in its stored form; `None` if it cannot be one.
pub fn parse_tracking_code(typed: &str) -> Option<String> {
    let mut chars: Vec<u8> = Vec::with_capacity(CODE_CHARS);
    let upper = typed.trim().to_ascii_uppercase();
    let body = upper.strip_prefix(CODE_PREFIX).unwrap_or(&upper);
    for c in body.bytes() {
        let c = match c {
            b'-' | b' ' => continue,
            b'O' => b'0',
            b'I' | b'L' => b'1',
            c => c,
        };
        if !CODE_ALPHABET.contains(&c) || chars.len() == CODE_CHARS {
            return None;
        }
        chars.push(c);
    }
    if chars.len() != CODE_CHARS {
        return None;
    }
    let mut out = String::from(CODE_PREFIX);
    for (i, c) in chars.into_iter().enumerate() {
        if i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(c));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{CalendarRules, DayOff, DayOffKind};
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn plain() -> WorkingCalendar {
        WorkingCalendar::new(
            &[],
            CalendarRules {
                as_of: d(2026, 12, 1),
                observe_cuti_bersama: true,
                local_closures: &[],
            },
        )
    }

    fn any_action() -> impl Strategy<Value = ApplicationAction> {
        prop::sample::select(ApplicationAction::ALL.to_vec())
    }

    /// The states reachable from `from` by legal actions.
    fn reachable(from: ApplicationState) -> Vec<ApplicationState> {
        let mut seen = vec![from];
        let mut i = 0;
        while i < seen.len() {
            for a in ApplicationAction::ALL {
                if let Ok(next) = seen[i].apply(a)
                    && !seen.contains(&next)
                {
                    seen.push(next);
                }
            }
            i += 1;
        }
        seen
    }

    #[test]
    fn every_state_can_end_and_finals_stay() {
        for s in ApplicationState::ALL {
            assert_eq!(ApplicationState::parse(s.as_str()), Some(s));
            if s.is_final() {
                assert_eq!(reachable(s), vec![s], "{s:?} is final");
            } else {
                assert!(
                    reachable(s).iter().any(|r| r.is_final()),
                    "{s:?} can reach an end"
                );
            }
        }
        for a in ApplicationAction::ALL {
            assert_eq!(ApplicationAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(
            ApplicationState::Draft.apply(ApplicationAction::Approve),
            Err(IllegalStep {
                from: ApplicationState::Draft,
                action: ApplicationAction::Approve
            })
        );
    }

    proptest! {
        /// Any sequence of actions from a draft, illegal ones refused: the application is in
        /// exactly one known state, never leaves a final one, and is moved by citizens only
        /// from their own states.
        #[test]
        fn no_sequence_reaches_an_illegal_state(actions in prop::collection::vec(any_action(), 0..60)) {
            let mut s = ApplicationState::Draft;
            let mut ended = None;
            for a in actions {
                match s.apply(a) {
                    Ok(next) => {
                        prop_assert!(!s.is_final(), "nothing leaves a final state");
                        if a.actor() == Actor::Citizen {
                            prop_assert!(matches!(s, ApplicationState::Draft | ApplicationState::Submitted | ApplicationState::NeedsRevision));
                        }
                        s = next;
                        if s.is_final() {
                            prop_assert!(ended.is_none());
                            ended = Some(s);
                        }
                    }
                    Err(e) => prop_assert_eq!(e.from, s),
                }
                prop_assert_eq!(ApplicationState::parse(s.as_str()), Some(s));
            }
            if let Some(end) = ended {
                prop_assert_eq!(s, end, "one final state, kept");
            }
        }

        /// Waiting on the citizen never shortens the limit, and a stretch with no working day
        /// in it changes nothing.
        #[test]
        fn revisions_only_extend(limit in 0u32..30, start in 0u64..300, wait in 0u64..20, gap in 0u64..10) {
            let cal = plain();
            let r = d(2026, 1, 1) + chrono::Days::new(start);
            let a = r + chrono::Days::new(gap);
            let b = a + chrono::Days::new(wait);
            let plain_due = due_date(&cal, limit, &[Entered { state: ApplicationState::Submitted, day: r }]).expect("due");
            let history = [
                Entered { state: ApplicationState::Submitted, day: r },
                Entered { state: ApplicationState::InReview, day: a },
                Entered { state: ApplicationState::NeedsRevision, day: a },
                Entered { state: ApplicationState::Submitted, day: b },
            ];
            let due = due_date(&cal, limit, &history).expect("due");
            prop_assert!(due >= plain_due);
            prop_assert_eq!(cal.working_days_between(plain_due, due), cal.working_days_between(a, b));
        }
    }

    #[test]
    fn a_draft_has_no_due_date_and_days_waiting_on_the_citizen_do_not_count() {
        let cal = plain();
        assert_eq!(
            due_date(
                &cal,
                5,
                &[Entered {
                    state: ApplicationState::Draft,
                    day: d(2026, 11, 30)
                }]
            ),
            None
        );
        // Received Monday 30 November 2026 (day 0): 5 working days end Monday 7 December.
        let received = Entered {
            state: ApplicationState::Submitted,
            day: d(2026, 11, 30),
        };
        assert_eq!(due_date(&cal, 5, &[received]), Some(d(2026, 12, 7)));
        // A revision asked on Tuesday 1, resubmitted Thursday 3: Wednesday and Thursday do not
        // count, so the limit moves two working days, to Wednesday 9 December.
        let history = [
            received,
            Entered {
                state: ApplicationState::InReview,
                day: d(2026, 12, 1),
            },
            Entered {
                state: ApplicationState::NeedsRevision,
                day: d(2026, 12, 1),
            },
            Entered {
                state: ApplicationState::Submitted,
                day: d(2026, 12, 3),
            },
        ];
        assert_eq!(due_date(&cal, 5, &history), Some(d(2026, 12, 9)));
        assert_eq!(
            standing(&cal, d(2026, 12, 4), d(2026, 12, 9)),
            Standing::OnTime
        );
        assert_eq!(
            standing(&cal, d(2026, 12, 8), d(2026, 12, 9)),
            Standing::DueSoon
        );
        assert_eq!(
            standing(&cal, d(2026, 12, 9), d(2026, 12, 9)),
            Standing::DueSoon
        );
        assert_eq!(
            standing(&cal, d(2026, 12, 10), d(2026, 12, 9)),
            Standing::Late
        );
    }

    #[test]
    fn holidays_move_the_limit() {
        // Christmas (25 December 2026, Friday) and cuti bersama on 24 December.
        let days_off = [
            DayOff {
                date: d(2026, 12, 25),
                kind: DayOffKind::parse("libur_nasional").expect("kind"),
                name: "Hari Raya Natal".into(),
                effective_from: None,
            },
            DayOff {
                date: d(2026, 12, 24),
                kind: DayOffKind::parse("cuti_bersama").expect("kind"),
                name: "Cuti bersama Natal".into(),
                effective_from: None,
            },
        ];
        let rules = |observe| CalendarRules {
            as_of: d(2026, 12, 1),
            observe_cuti_bersama: observe,
            local_closures: &[],
        };
        let history = [Entered {
            state: ApplicationState::Submitted,
            day: d(2026, 12, 22),
        }];
        // Tuesday 22: day 1 Wednesday 23, then Monday 28 (24 and 25 off, weekend), Tuesday 29.
        let cal = WorkingCalendar::new(&days_off, rules(true));
        assert_eq!(due_date(&cal, 3, &history), Some(d(2026, 12, 29)));
        // A bank works on cuti bersama: 23, 24, 28.
        let bank = WorkingCalendar::new(&days_off, rules(false));
        assert_eq!(due_date(&bank, 3, &history), Some(d(2026, 12, 28)));
    }

    proptest! {
        #[test]
        fn a_tracking_code_reads_back_however_it_is_typed(random in any::<[u8; 8]>()) {
            let code = tracking_code(random);
            prop_assert_eq!(code.len(), 3 + 3 + 12);
            prop_assert_eq!(parse_tracking_code(&code), Some(code.clone()));
            let sloppy = code.to_lowercase().replace('-', " ").replace('0', "o").replace('1', "l");
            prop_assert_eq!(parse_tracking_code(&sloppy), Some(code.clone()));
            prop_assert_eq!(parse_tracking_code(&code[..code.len() - 1]), None);
        }
    }

    #[test]
    fn time_limits_in_working_days() {
        let l = |value, unit| limit_in_working_days(TimeLimit { value, unit });
        assert_eq!(l(14, TimeUnit::WorkingDays), 14);
        assert_eq!(l(60, TimeUnit::Minutes), 0);
        assert_eq!(l(4, TimeUnit::Hours), 0);
        assert_eq!(l(24, TimeUnit::Hours), 3);
        assert_eq!(
            parse_tracking_code("PMH-XXXX-XXXX-XXXU"),
            None,
            "U is not in the alphabet"
        );
        assert_eq!(parse_tracking_code(""), None);
    }

    #[test]
    fn each_warning_is_sent_once_and_never_steps_back() {
        use Standing::*;
        assert_eq!(warning_due(None, OnTime), None);
        assert_eq!(warning_due(None, DueSoon), Some(DueSoon));
        assert_eq!(warning_due(None, Late), Some(Late));
        assert_eq!(warning_due(Some(DueSoon), DueSoon), None);
        assert_eq!(warning_due(Some(DueSoon), Late), Some(Late));
        assert_eq!(warning_due(Some(Late), Late), None);
        assert_eq!(
            warning_due(Some(Late), DueSoon),
            None,
            "a resubmission does not warn again"
        );
    }
}
