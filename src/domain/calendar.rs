//! Working days: which days an MPP or tenant works, and "N working days after R".
//!
//! Rules (`shared/RULES.md`):
//! - Non-working days are Saturday, Sunday, national holidays (libur nasional), cuti bersama, and
//!   the MPP's local closures. A tenant may opt out of cuti bersama (banks do).
//! - Holidays are data with an effective date: the yearly SKB 3 Menteri can be amended during the
//!   year (2025: 18 August added on 7 August). A deadline computed on a day uses what was in force
//!   that day; an amendment applies to deadlines computed after it.
//! - A time limit of N working days for something received on day R ends at the close of the N-th
//!   working day after R. R itself is day 0, whether or not it is a working day.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{Datelike, Days, NaiveDate, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DayOffKind {
    /// Libur nasional.
    NationalHoliday,
    /// Cuti bersama (collective leave), which some tenants do not observe.
    CutiBersama,
}

impl DayOffKind {
    pub fn parse(raw: &str) -> Option<DayOffKind> {
        match raw {
            "libur_nasional" => Some(DayOffKind::NationalHoliday),
            "cuti_bersama" => Some(DayOffKind::CutiBersama),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DayOffKind::NationalHoliday => "libur_nasional",
            DayOffKind::CutiBersama => "cuti_bersama",
        }
    }
}

/// One national day off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOff {
    pub date: NaiveDate,
    pub name: String,
    pub kind: DayOffKind,
    /// The day the decree that set it took effect; before it, deadlines did not know this day
    /// off. `None`: known from the start (the yearly decree, published the year before).
    pub effective_from: Option<NaiveDate>,
}

/// A problem on a line of a holidays file (line 1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub message: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads `date,name,kind` (the format of `shared/data/holidays/`), optionally with a fourth
/// column `effective_from` (ISO date or empty). Every bad line is reported.
pub fn parse_days_off(bytes: &[u8]) -> Result<Vec<DayOff>, Vec<LineProblem>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut with_effective = false;
    let mut seen = BTreeSet::new();
    for (index, record) in reader.records().enumerate() {
        let line = match &record {
            Ok(r) => r.position().map_or(index as u64 + 1, |p| p.line()),
            Err(e) => e.position().map_or(index as u64 + 1, |p| p.line()),
        };
        let mut problem = |message: String| problems.push(LineProblem { line, message });
        let Ok(record) = record else {
            problem("unreadable CSV".into());
            continue;
        };
        let fields: Vec<&str> = record.iter().collect();
        if index == 0 {
            match fields.as_slice() {
                ["date", "name", "kind"] => {}
                ["date", "name", "kind", "effective_from"] => with_effective = true,
                _ => {
                    problem("header must be date,name,kind[,effective_from]".into());
                    return Err(problems);
                }
            }
            continue;
        }
        if fields.len() != if with_effective { 4 } else { 3 } {
            problem(format!(
                "expected {} columns, found {}",
                if with_effective { 4 } else { 3 },
                fields.len()
            ));
            continue;
        }
        let date = match NaiveDate::parse_from_str(fields[0], "%Y-%m-%d") {
            Ok(d) if fields[0].len() == 10 => d,
            _ => {
                problem(format!(
                    "date {:?} is not a real date as YYYY-MM-DD",
                    fields[0]
                ));
                continue;
            }
        };
        let name = fields[1].trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            problem("name is empty or holds control characters".into());
            continue;
        }
        let Some(kind) = DayOffKind::parse(fields[2]) else {
            problem(format!(
                "kind {:?} must be libur_nasional or cuti_bersama",
                fields[2]
            ));
            continue;
        };
        let effective_from = match fields.get(3).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(d) if raw.len() == 10 => Some(d),
                _ => {
                    problem(format!(
                        "effective_from {raw:?} is not a date as YYYY-MM-DD"
                    ));
                    continue;
                }
            },
        };
        if !seen.insert((date, kind)) {
            problem(format!("{date} appears twice as {}", kind.as_str()));
            continue;
        }
        out.push(DayOff {
            date,
            name: name.to_owned(),
            kind,
            effective_from,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The working days of one MPP (or one tenant in it), as known on one day.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    days_off: BTreeSet<NaiveDate>,
}

/// Whose calendar, and when it is asked.
#[derive(Debug, Clone, Copy)]
pub struct CalendarRules<'a> {
    /// The day the question is asked: decrees not yet in effect are not known.
    pub as_of: NaiveDate,
    /// False for tenants that work on cuti bersama (banks).
    pub observe_cuti_bersama: bool,
    /// The MPP's own closures.
    pub local_closures: &'a [NaiveDate],
}

impl WorkingCalendar {
    pub fn new(days_off: &[DayOff], rules: CalendarRules<'_>) -> WorkingCalendar {
        let known = days_off
            .iter()
            .filter(|d| d.effective_from.is_none_or(|from| from <= rules.as_of))
            .filter(|d| rules.observe_cuti_bersama || d.kind != DayOffKind::CutiBersama)
            .map(|d| d.date);
        WorkingCalendar {
            days_off: known.chain(rules.local_closures.iter().copied()).collect(),
        }
    }

    /// A holiday, cuti bersama observed, or local closure (whatever the weekday).
    pub fn is_day_off(&self, date: NaiveDate) -> bool {
        self.days_off.contains(&date)
    }

    /// The days off from `from` on, in order.
    pub fn days_off_from(&self, from: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        self.days_off.range(from..).copied()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.days_off.contains(&date)
    }

    /// The N-th working day after `received` (which is day 0). N = 0 is `received` itself.
    pub fn add_working_days(&self, received: NaiveDate, n: u32) -> NaiveDate {
        let mut date = received;
        let mut counted = 0;
        while counted < n {
            date = date + Days::new(1);
            if self.is_working_day(date) {
                counted += 1;
            }
        }
        date
    }

    /// Working days after `from` up to and including `to` (0 when `to` ≤ `from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn rules(as_of: NaiveDate) -> CalendarRules<'static> {
        CalendarRules {
            as_of,
            observe_cuti_bersama: true,
            local_closures: &[],
        }
    }

    /// The national holiday data of `shared/data/holidays/`, when present.
    fn shared_days_off() -> Option<Vec<DayOff>> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/holidays/id-holidays.csv"
        );
        match std::fs::read(path) {
            Ok(bytes) => Some(parse_days_off(&bytes).expect("the shared holiday file is valid")),
            Err(_) => {
                assert!(std::env::var("CI").is_err(), "CI must have {path}");
                eprintln!("SKIPPED working-day tests on real data: {path} is absent");
                None
            }
        }
    }

    #[test]
    fn real_data_loads_whole() {
        let Some(days) = shared_days_off() else {
            return;
        };
        assert_eq!(days.len(), 155);
        assert_eq!(
            days.iter()
                .filter(|d| d.kind == DayOffKind::CutiBersama)
                .count(),
            52
        );
    }

    #[test]
    fn lebaran_2025_on_real_data() {
        let Some(days) = shared_days_off() else {
            return;
        };
        // Received Thursday 27 March 2025. 28 Mar cuti bersama Nyepi, 29 Nyepi (Sat), 31 Mar and
        // 1 Apr Idul Fitri, 2-4 and 7 Apr cuti bersama: the first working day is 8 April.
        let calendar = WorkingCalendar::new(&days, rules(d(2025, 1, 1)));
        assert_eq!(calendar.add_working_days(d(2025, 3, 27), 1), d(2025, 4, 8));
        assert_eq!(calendar.add_working_days(d(2025, 3, 27), 3), d(2025, 4, 10));
        // A bank does not observe cuti bersama: 28 March and 2 April are working days.
        let bank = WorkingCalendar::new(
            &days,
            CalendarRules {
                as_of: d(2025, 1, 1),
                observe_cuti_bersama: false,
                local_closures: &[],
            },
        );
        assert_eq!(bank.add_working_days(d(2025, 3, 27), 1), d(2025, 3, 28));
        assert_eq!(bank.add_working_days(d(2025, 3, 28), 1), d(2025, 4, 2));
    }

    #[test]
    fn an_amendment_applies_to_deadlines_computed_after_it() {
        let Some(mut days) = shared_days_off() else {
            return;
        };
        // 18 August 2025 was added as cuti bersama by the amendment of 7 August 2025.
        let added = days
            .iter_mut()
            .find(|x| x.date == d(2025, 8, 18))
            .expect("18 Aug 2025 in the data");
        added.effective_from = Some(d(2025, 8, 7));
        // Received Friday 15 August; 17 August (Sunday) is Independence Day.
        let before = WorkingCalendar::new(&days, rules(d(2025, 8, 1)));
        assert_eq!(before.add_working_days(d(2025, 8, 15), 1), d(2025, 8, 18));
        let after = WorkingCalendar::new(&days, rules(d(2025, 8, 10)));
        assert_eq!(after.add_working_days(d(2025, 8, 15), 1), d(2025, 8, 19));
    }

    #[test]
    fn day_zero_is_the_day_received_even_on_a_weekend() {
        let calendar = WorkingCalendar::new(&[], rules(d(2026, 1, 1)));
        // Saturday 28 November 2026: day 1 is Monday 30 November.
        assert_eq!(
            calendar.add_working_days(d(2026, 11, 28), 1),
            d(2026, 11, 30)
        );
        assert_eq!(
            calendar.add_working_days(d(2026, 11, 28), 0),
            d(2026, 11, 28)
        );
        // Friday + 1 = Monday; Friday + 5 = next Friday.
        assert_eq!(
            calendar.add_working_days(d(2026, 11, 27), 1),
            d(2026, 11, 30)
        );
        assert_eq!(
            calendar.add_working_days(d(2026, 11, 27), 5),
            d(2026, 12, 4)
        );
    }

    #[test]
    fn local_closures_count_as_days_off() {
        let closures = [d(2026, 11, 30)];
        let calendar = WorkingCalendar::new(
            &[],
            CalendarRules {
                as_of: d(2026, 1, 1),
                observe_cuti_bersama: true,
                local_closures: &closures,
            },
        );
        assert!(!calendar.is_working_day(d(2026, 11, 30)));
        assert_eq!(
            calendar.add_working_days(d(2026, 11, 27), 1),
            d(2026, 12, 1)
        );
    }

    #[test]
    fn bad_holiday_lines_are_all_reported() {
        let file = b"date,name,kind\n2025-08-17,Kemerdekaan,libur_nasional\n2025-8-18,X,cuti_bersama\n2025-08-19,,cuti_bersama\n2025-08-20,Y,libur\n2025-08-17,Lagi,libur_nasional\n";
        let problems = parse_days_off(file).expect_err("refused");
        let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        let with_effective =
            b"date,name,kind,effective_from\n2025-08-18,Cuti Bersama,cuti_bersama,2025-08-07\n";
        let days = parse_days_off(with_effective).expect("valid");
        assert_eq!(days[0].effective_from, Some(d(2025, 8, 7)));
    }

    proptest! {
        /// N working days after R is a working day (for N ≥ 1), exactly N working days after R,
        /// and later for larger N — on the real calendar, with and without cuti bersama.
        #[test]
        fn adding_working_days_is_consistent(
            start_offset in 0u64..(365 * 5),
            n in 0u32..60,
            extra in 1u32..20,
            observe in any::<bool>(),
        ) {
            let days = shared_days_off().unwrap_or_default();
            let calendar = WorkingCalendar::new(
                &days,
                CalendarRules { as_of: d(2027, 12, 31), observe_cuti_bersama: observe, local_closures: &[] },
            );
            let received = d(2022, 1, 1) + Days::new(start_offset);
            let due = calendar.add_working_days(received, n);
            prop_assert_eq!(calendar.working_days_between(received, due), n);
            if n >= 1 {
                prop_assert!(calendar.is_working_day(due));
            }
            prop_assert!(calendar.add_working_days(received, n + extra) > due);
            // Never more than twice the calendar days plus the longest holiday run (Lebaran).
            prop_assert!((due - received).num_days() <= i64::from(n) * 2 + 14);
        }
    }
}
