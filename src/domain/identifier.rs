//! How a citizen is reached: an e-mail address or an Indonesian mobile number, normalized so that
//! one person typing it two ways is one account (`0812-3456-7890`, `+62 812 3456 7890` and
//! `62812345678 90` are all `+6281234567890`).

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// Lowercased.
    Email(String),
    /// E.164, `+62…`.
    Phone(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierError {
    Empty,
    BadEmail,
    BadPhone,
}

impl IdentifierError {
    pub fn message_id(self) -> &'static str {
        match self {
            IdentifierError::Empty => "Isi alamat surel atau nomor ponsel Anda.",
            IdentifierError::BadEmail => "Alamat surel tidak valid, contoh: nama@contoh.id.",
            IdentifierError::BadPhone => {
                "Nomor ponsel tidak valid: gunakan nomor Indonesia, contoh 0812 3456 7890 atau +62 812 3456 7890."
            }
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            IdentifierError::Empty => "Enter your e-mail address or mobile number.",
            IdentifierError::BadEmail => "The e-mail address is not valid, e.g. name@example.id.",
            IdentifierError::BadPhone => {
                "The mobile number is not valid: use an Indonesian number, e.g. 0812 3456 7890 or +62 812 3456 7890."
            }
        }
    }
}

impl Identifier {
    pub fn parse(raw: &str) -> Result<Identifier, IdentifierError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(IdentifierError::Empty);
        }
        if raw.contains('@') {
            return parse_email(raw).map(Identifier::Email);
        }
        parse_phone(raw).map(Identifier::Phone)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Identifier::Email(s) | Identifier::Phone(s) => s,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Identifier::Email(_) => "email",
            Identifier::Phone(_) => "phone",
        }
    }

    /// For screens: `n***@contoh.id`, `+62812******90`.
    pub fn masked(&self) -> String {
        match self {
            Identifier::Email(e) => match e.split_once('@') {
                Some((local, domain)) => {
                    let first: String = local.chars().take(1).collect();
                    format!("{first}***@{domain}")
                }
                None => "***".into(),
            },
            Identifier::Phone(p) => {
                let keep_start: String = p.chars().take(6).collect();
                let keep_end: String = p
                    .chars()
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!(
                    "{keep_start}{}{keep_end}",
                    "*".repeat(p.chars().count().saturating_sub(8))
                )
            }
        }
    }
}

fn parse_email(raw: &str) -> Result<String, IdentifierError> {
    let email = raw.to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(IdentifierError::BadEmail);
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.');
    let domain_ok = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(IdentifierError::BadEmail)
    }
}

fn parse_phone(raw: &str) -> Result<String, IdentifierError> {
    if !raw
        .chars()
        .all(|c| c.is_ascii_digit() || " -().+".contains(c))
        || raw[1..].contains('+')
    {
        return Err(IdentifierError::BadPhone);
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let national = if let Some(rest) = digits.strip_prefix("62") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest.to_owned()
    } else if raw.starts_with('+') {
        return Err(IdentifierError::BadPhone);
    } else {
        digits
    };
    // Indonesian mobile numbers: 8xx, 9 to 12 digits after the country code.
    if national.starts_with('8') && (9..=12).contains(&national.len()) {
        Ok(format!("+62{national}"))
    } else {
        Err(IdentifierError::BadPhone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalize_to_plus_62() {
        for raw in [
            "0812-3456-7890",
            "+62 812 3456 7890",
            "62812 3456 7890",
            "(0812) 3456 7890",
            "812 3456 7890",
        ] {
            assert_eq!(
                Identifier::parse(raw),
                Ok(Identifier::Phone("+6281234567890".into())),
                "{raw}"
            );
        }
        for bad in [
            "0341 512345",
            "+1 415 555 0100",
            "08123",
            "0812345678901234",
            "0812x3456",
            "08+12345678",
        ] {
            assert_eq!(
                Identifier::parse(bad),
                Err(IdentifierError::BadPhone),
                "{bad}"
            );
        }
    }

    #[test]
    fn emails_lowercase_and_check_shape() {
        assert_eq!(
            Identifier::parse(" Warga@Contoh.ID "),
            Ok(Identifier::Email("warga@contoh.id".into()))
        );
        for bad in [
            "warga@",
            "@contoh.id",
            "warga@contoh",
            "wa rga@contoh.id",
            "warga@-contoh.id",
            "warga@@contoh.id",
        ] {
            assert_eq!(
                Identifier::parse(bad),
                Err(IdentifierError::BadEmail),
                "{bad}"
            );
        }
        assert_eq!(Identifier::parse("   "), Err(IdentifierError::Empty));
    }

    #[test]
    fn masks_for_screens() {
        assert_eq!(
            Identifier::Email("warga@contoh.id".into()).masked(),
            "w***@contoh.id"
        );
        assert_eq!(
            Identifier::Phone("+6281234567890".into()).masked(),
            "+62812******90"
        );
    }
}
