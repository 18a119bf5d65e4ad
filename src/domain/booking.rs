//! Booking rules: which slots a day has, and when a day opens for booking (the release).
//!
//! A service's day is cut into slots of `slot_minutes` within each opening interval (a slot
//! never runs past closing). Day `D` opens for booking at `release_time` local on the day
//! `D − days_ahead`, and stays open until its slots start. Releasing every MPP's days at one
//! known moment is what makes the opening-time rush predictable: the quota check is one
//! conditional update per booking (see `storage::bookings`).

use chrono::{Datelike, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::catalog::OpeningInterval;

/// A slot of a day, local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub starts: NaiveTime,
    pub ends: NaiveTime,
}

/// The slots of `day` from the opening hours (empty on a day without hours).
pub fn slots_of_day(hours: &[OpeningInterval], day: NaiveDate, slot_minutes: u32) -> Vec<Slot> {
    let weekday = day.weekday().number_from_monday() as u8;
    let step = Duration::minutes(i64::from(slot_minutes.max(1)));
    let mut out = Vec::new();
    let mut intervals: Vec<&OpeningInterval> =
        hours.iter().filter(|h| h.weekday == weekday).collect();
    intervals.sort_by_key(|h| h.opens);
    for h in intervals {
        let mut starts = h.opens;
        loop {
            let (ends, wrapped) = starts.overflowing_add_signed(step);
            if wrapped != 0 || ends > h.closes {
                break;
            }
            out.push(Slot { starts, ends });
            starts = ends;
        }
    }
    out
}

/// When day `day` opens for booking (local time).
pub fn release_of(day: NaiveDate, days_ahead: u32, release_time: NaiveTime) -> NaiveDateTime {
    day.checked_sub_days(Days::new(u64::from(days_ahead)))
        .unwrap_or(day)
        .and_time(release_time)
}

/// Whether a slot of `day` starting at `starts` can be booked at `now` (local).
pub fn bookable(
    day: NaiveDate,
    starts: NaiveTime,
    now: NaiveDateTime,
    days_ahead: u32,
    release_time: NaiveTime,
) -> bool {
    now >= release_of(day, days_ahead, release_time) && day.and_time(starts) > now
}

/// The booking code a citizen shows at the kiosk: 8 characters without look-alikes (no 0/O,
/// 1/I/L), from 40 random bits.
pub fn booking_code(random: [u8; 5]) -> String {
    const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut n = random
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let mut out = String::with_capacity(8);
    for _ in 0..8 {
        out.push(char::from(ALPHABET[(n % 31) as usize]));
        n /= 31;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    fn hours() -> Vec<OpeningInterval> {
        // Tuesday 08:00–12:00 and 13:00–15:00.
        vec![
            OpeningInterval {
                weekday: 2,
                opens: t(8, 0),
                closes: t(12, 0),
            },
            OpeningInterval {
                weekday: 2,
                opens: t(13, 0),
                closes: t(15, 0),
            },
        ]
    }

    #[test]
    fn a_day_is_cut_into_slots_within_its_hours() {
        let tuesday = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let slots = slots_of_day(&hours(), tuesday, 30);
        assert_eq!(slots.len(), 8 + 4);
        assert_eq!(
            slots[0],
            Slot {
                starts: t(8, 0),
                ends: t(8, 30)
            }
        );
        assert_eq!(slots[8].starts, t(13, 0), "the break is skipped");
        assert_eq!(
            slots_of_day(&hours(), tuesday, 45).len(),
            5 + 2,
            "no slot runs past closing"
        );
        assert!(slots_of_day(&hours(), tuesday.succ_opt().expect("d"), 30).is_empty());
    }

    #[test]
    fn days_open_at_their_release() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
        let release = release_of(day, 30, t(0, 0));
        assert_eq!(
            release,
            NaiveDate::from_ymd_opt(2026, 12, 1)
                .expect("d")
                .and_time(t(0, 0))
        );
        assert!(!bookable(
            day,
            t(9, 0),
            release - Duration::seconds(1),
            30,
            t(0, 0)
        ));
        assert!(bookable(day, t(9, 0), release, 30, t(0, 0)));
        assert!(
            !bookable(day, t(9, 0), day.and_time(t(9, 0)), 30, t(0, 0)),
            "a started slot is gone"
        );
    }

    proptest! {
        #[test]
        fn codes_have_eight_unambiguous_characters(bytes in any::<[u8; 5]>()) {
            let code = booking_code(bytes);
            prop_assert_eq!(code.len(), 8);
            prop_assert!(code.chars().all(|c| !"01OIL".contains(c)));
        }

        #[test]
        fn slots_never_overlap_or_leave_the_hours(minutes in 5u32..240) {
            let tuesday = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
            let slots = slots_of_day(&hours(), tuesday, minutes);
            for w in slots.windows(2) {
                prop_assert!(w[0].ends <= w[1].starts);
            }
            for s in &slots {
                prop_assert!(hours().iter().any(|h| h.opens <= s.starts && s.ends <= h.closes));
            }
        }
    }
}
