//! Is an MPP open at a given moment, and when does it open or close next. Opening hours are per
//! weekday (with breaks as several intervals); holidays, observed cuti bersama and local closures
//! close it whatever the hours say. Times are the MPP's local time (WIB, WITA or WIT).

use chrono::{Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

use super::calendar::WorkingCalendar;
use super::catalog::OpeningInterval;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    Open {
        closes: NaiveTime,
    },
    /// Closed; opens again then (none within the next 60 days, or no hours at all).
    Closed {
        opens: Option<NaiveDateTime>,
    },
}

/// The state at `now` (local time).
pub fn state_at(
    hours: &[OpeningInterval],
    calendar: &WorkingCalendar,
    now: NaiveDateTime,
) -> OpenState {
    let today = now.date();
    if !calendar.is_day_off(today)
        && let Some(open) =
            intervals_on(hours, today).find(|i| i.opens <= now.time() && now.time() < i.closes)
    {
        return OpenState::Open {
            closes: open.closes,
        };
    }
    OpenState::Closed {
        opens: next_opening(hours, calendar, now),
    }
}

fn intervals_on(
    hours: &[OpeningInterval],
    date: NaiveDate,
) -> impl Iterator<Item = &OpeningInterval> {
    let weekday = date.weekday().number_from_monday() as u8;
    hours.iter().filter(move |i| i.weekday == weekday)
}

fn next_opening(
    hours: &[OpeningInterval],
    calendar: &WorkingCalendar,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let mut date = now.date();
    for _ in 0..=60 {
        if !calendar.is_day_off(date) {
            let mut opens: Vec<NaiveTime> = intervals_on(hours, date).map(|i| i.opens).collect();
            opens.sort();
            if let Some(t) = opens
                .into_iter()
                .find(|t| date > now.date() || *t > now.time())
            {
                return Some(date.and_time(t));
            }
        }
        date = date + Days::new(1);
    }
    None
}

/// Indonesia's three time zones by Kemendagri province code; none observes daylight saving.
/// WIT (UTC+9): Maluku, Maluku Utara, the Papua provinces. WITA (UTC+8): Bali, Nusa Tenggara,
/// South, East and North Kalimantan, Sulawesi. WIB (UTC+7): the rest.
pub fn time_zone(province_code: &str) -> FixedOffset {
    let hours = match province_code {
        "81" | "82" | "91" | "92" | "93" | "94" | "95" | "96" => 9,
        "51" | "52" | "53" | "63" | "64" | "65" | "71" | "72" | "73" | "74" | "75" | "76" => 8,
        _ => 7,
    };
    FixedOffset::east_opt(hours * 3600).expect("UTC+7, +8 and +9 are valid offsets")
}

/// WIB, WITA or WIT.
pub fn time_zone_name(province_code: &str) -> &'static str {
    match time_zone(province_code).local_minus_utc() / 3600 {
        9 => "WIT",
        8 => "WITA",
        _ => "WIB",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{CalendarRules, DayOff, DayOffKind};
    use crate::domain::catalog::parse_hhmm;

    fn t(s: &str) -> NaiveTime {
        parse_hhmm(s).expect("time")
    }

    fn at(y: i32, m: u32, d: u32, time: &str) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .expect("date")
            .and_time(t(time))
    }

    /// Kota Batu's hours: Mon–Thu with a lunch break, Friday prayers, Saturday morning.
    fn batu() -> Vec<OpeningInterval> {
        let mut h = Vec::new();
        for weekday in 1..=4 {
            h.push(OpeningInterval {
                weekday,
                opens: t("08:00"),
                closes: t("12:00"),
            });
            h.push(OpeningInterval {
                weekday,
                opens: t("12:30"),
                closes: t("15:30"),
            });
        }
        h.push(OpeningInterval {
            weekday: 5,
            opens: t("08:00"),
            closes: t("11:00"),
        });
        h.push(OpeningInterval {
            weekday: 5,
            opens: t("13:00"),
            closes: t("15:30"),
        });
        h.push(OpeningInterval {
            weekday: 6,
            opens: t("08:00"),
            closes: t("12:00"),
        });
        h
    }

    fn calendar(days_off: &[NaiveDate]) -> WorkingCalendar {
        let days: Vec<DayOff> = days_off
            .iter()
            .map(|&date| DayOff {
                date,
                name: "Libur".into(),
                kind: DayOffKind::NationalHoliday,
                effective_from: None,
            })
            .collect();
        WorkingCalendar::new(
            &days,
            CalendarRules {
                as_of: at(2026, 1, 1, "00:00").date(),
                observe_cuti_bersama: true,
                local_closures: &[],
            },
        )
    }

    #[test]
    fn open_closed_and_next_opening() {
        let c = calendar(&[]);
        // Monday 30 November 2026.
        assert_eq!(
            state_at(&batu(), &c, at(2026, 11, 30, "09:00")),
            OpenState::Open { closes: t("12:00") }
        );
        assert_eq!(
            state_at(&batu(), &c, at(2026, 11, 30, "12:10")),
            OpenState::Closed {
                opens: Some(at(2026, 11, 30, "12:30"))
            }
        );
        assert_eq!(
            state_at(&batu(), &c, at(2026, 11, 30, "15:30")),
            OpenState::Closed {
                opens: Some(at(2026, 12, 1, "08:00"))
            }
        );
        // Saturday morning open, Sunday closed until Monday.
        assert_eq!(
            state_at(&batu(), &c, at(2026, 12, 5, "11:59")),
            OpenState::Open { closes: t("12:00") }
        );
        assert_eq!(
            state_at(&batu(), &c, at(2026, 12, 6, "10:00")),
            OpenState::Closed {
                opens: Some(at(2026, 12, 7, "08:00"))
            }
        );
    }

    #[test]
    fn holidays_close_whatever_the_hours() {
        let christmas = at(2026, 12, 25, "00:00").date();
        let c = calendar(&[christmas]);
        // Friday 25 December: closed all day, opens Saturday 26 at 08:00.
        assert_eq!(
            state_at(&batu(), &c, at(2026, 12, 25, "09:00")),
            OpenState::Closed {
                opens: Some(at(2026, 12, 26, "08:00"))
            }
        );
        assert_eq!(
            state_at(&[], &c, at(2026, 12, 25, "09:00")),
            OpenState::Closed { opens: None }
        );
    }

    #[test]
    fn time_zones_by_province() {
        assert_eq!(time_zone_name("35"), "WIB");
        assert_eq!(time_zone_name("51"), "WITA");
        assert_eq!(time_zone_name("73"), "WITA");
        assert_eq!(time_zone_name("96"), "WIT");
        assert_eq!(time_zone("91").local_minus_utc(), 9 * 3600);
    }
}
