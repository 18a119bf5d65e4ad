//! The audit log's hash chain: each entry's hash covers its content and the previous entry's
//! hash, so editing, deleting or reordering any entry breaks every hash after it, and
//! [`verify`] names the first broken entry.

use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1, 2, 3, ... without gaps.
    pub seq: i64,
    /// RFC 3339 UTC timestamp, as stored (text on both engines, so it hashes the same).
    pub at: String,
    /// Who: `cli`, `user:{uuid}`, `token:{uuid}`.
    pub actor: String,
    /// What: `catalog.import`, `regions.import`, `service.update`, `personal_data.view`, ...
    pub action: String,
    /// Where it applies: `national`, `mpp:{slug}`, `tenant:{uuid}`.
    pub scope: String,
    /// What it touched (an id), or empty.
    pub subject: String,
    /// Details as compact JSON; never personal data in clear.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// SHA-256 over the previous hash, the number and the fields (at, actor, action, scope, subject,
/// details), each length-prefixed so that no two
/// different entries hash the same by shifting text between fields.
pub fn entry_hash(prev_hash: &str, seq: i64, fields: [&str; 6]) -> String {
    let seq = seq.to_string();
    let mut hasher = Sha256::new();
    for part in [prev_hash, seq.as_str()].into_iter().chain(fields) {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

impl Entry {
    pub fn computed_hash(&self) -> String {
        let fields = [
            &self.at,
            &self.actor,
            &self.action,
            &self.scope,
            &self.subject,
            &self.details,
        ];
        entry_hash(&self.prev_hash, self.seq, fields.map(String::as_str))
    }
}

/// Why the chain is broken, at the first entry where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The entry's content does not match its hash: it was edited.
    Edited { seq: i64 },
    /// The entry does not follow the previous one: an entry was deleted, inserted or reordered.
    Unlinked { seq: i64 },
    /// A number is missing before this entry.
    Gap { seq: i64, expected: i64 },
    /// Entries were cut off the end: the log stops before the last entry written.
    Truncated { last: i64, written: i64 },
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Edited { seq } => write!(f, "entry {seq} was changed after it was written"),
            Broken::Unlinked { seq } => {
                write!(f, "entry {seq} does not follow the entry before it")
            }
            Broken::Gap { seq, expected } => {
                write!(f, "entry {expected} is missing (next is {seq})")
            }
            Broken::Truncated { last, written } => {
                write!(
                    f,
                    "the log ends at entry {last}, but entries up to {written} were written"
                )
            }
        }
    }
}

/// Checks entries in `seq` order from the first; returns how many were checked.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<u64, Broken> {
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for (expected, e) in (1..).zip(entries) {
        if e.seq != expected {
            return Err(Broken::Gap {
                seq: e.seq,
                expected,
            });
        }
        if e.prev_hash != prev {
            return Err(Broken::Unlinked { seq: e.seq });
        }
        if e.computed_hash() != e.hash {
            return Err(Broken::Edited { seq: e.seq });
        }
        prev.clone_from(&e.hash);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = Entry {
                    seq,
                    at: format!("2026-11-29T03:00:{seq:02}Z"),
                    actor: "cli".into(),
                    action: "catalog.import".into(),
                    scope: "national".into(),
                    subject: String::new(),
                    details: format!("{{\"created\":{seq}}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.computed_hash();
                prev.clone_from(&e.hash);
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn the_first_broken_entry_is_named() {
        let mut edited = chain(5);
        edited[2].details = "{\"created\":999}".into();
        assert_eq!(verify(&edited), Err(Broken::Edited { seq: 3 }));

        let mut deleted = chain(5);
        deleted.remove(3);
        assert_eq!(
            verify(&deleted),
            Err(Broken::Gap {
                seq: 5,
                expected: 4
            })
        );

        let mut rehashed = chain(5);
        rehashed[1].actor = "someone".into();
        rehashed[1].hash = rehashed[1].computed_hash();
        assert_eq!(
            verify(&rehashed),
            Err(Broken::Unlinked { seq: 3 }),
            "re-hashing one entry breaks the next"
        );
    }

    #[test]
    fn fields_cannot_trade_text() {
        let a = entry_hash(GENESIS, 1, ["t", "ab", "c", "s", "", "{}"]);
        let b = entry_hash(GENESIS, 1, ["t", "a", "bc", "s", "", "{}"]);
        assert_ne!(a, b);
    }
}
