//! Configuration: defaults, then an optional TOML file (`--config` / `MPP_CONFIG`), then the
//! environment, then command-line flags; each later layer wins.
//!
//! | setting | flag | environment | default |
//! |---|---|---|---|
//! | listen address | `--listen` | `MPP_LISTEN` | `127.0.0.1:8080` |
//! | database | `--database-url` | `DATABASE_URL` | `sqlite://{data_dir}/mpp.sqlite3` |
//! | data directory | `--data-dir` | `MPP_DATA_DIR` | `data` |
//! | documents' store | – | `MPP_DOCUMENTS_URL` (`s3://bucket/prefix`; `AWS_*` for access) | `{data_dir}/documents` |
//! | log format | `--log-format` | `MPP_LOG_FORMAT` | `text` (or `json`) |
//! | catalog refresh | – | `MPP_CATALOG_REFRESH_SECS` | `5` |
//! | public address | – | `MPP_PUBLIC_URL` | `http://{listen}` |
//! | sign-in burst | – | `MPP_SIGN_IN_BURST` | `10` |
//! | SMTP server | – | `MPP_SMTP_URL` | none |
//! | e-mail sender | – | `MPP_MAIL_FROM` | `MPP Digital <no-reply@localhost>` |
//! | SMS gateway | – | `MPP_SMS_URL`, `MPP_SMS_TOKEN` | none |
//! | trusted proxies | – | `MPP_TRUSTED_PROXIES` (comma-separated) | none |

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `production` hides development aids; `development` and `demo` show delivered messages at
/// `/dev/outbox` so that a person trying the platform can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Production,
    Development,
    Demo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server listens on.
    pub listen: String,
    /// `sqlite://path` or `postgres://user:password@host/db`; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// Where the embedded SQLite file and (by default) uploaded documents live.
    pub data_dir: PathBuf,
    /// Where documents' bytes are kept when not under `{data_dir}/documents`: an S3-compatible
    /// bucket and prefix, `s3://bucket/prefix`, which several nodes can share. Access comes from
    /// the standard environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`, for a store
    /// other than Amazon's) and `AWS_ALLOW_HTTP=true` (an endpoint without TLS).
    pub documents_url: Option<String>,
    pub log_format: LogFormat,
    /// How often a node checks whether the catalog changed in the database (seconds).
    pub catalog_refresh_secs: u64,
    pub mode: Mode,
    /// Keys sealing personal data: `ID:BASE64[,ID:BASE64…]`, the first seals (see docs).
    /// When absent, they are read from (or created in) `{data_dir}/keys.toml`.
    pub data_keys: Option<String>,
    /// Key of the lookup hashes of personal data (BASE64, 32 bytes).
    pub lookup_key: Option<String>,
    /// Mark cookies `Secure` (set when served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// The address people reach this server at (`https://mpp.example.go.id`), used in links sent
    /// by e-mail (invitations, password resets). Never taken from a request's Host header.
    /// When absent, `http://{listen}`.
    pub public_url: Option<String>,
    /// Sign-in, code and reset posts accepted from one client address in a burst; then one every
    /// 6 seconds. Raise it when many people share one address (a proxy that is not trusted).
    pub sign_in_burst: u32,
    /// The SMTP server e-mail goes through: `smtps://user:pass@host:465`,
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or `smtp://host:25` (no TLS: only on
    /// a trusted network). Without it, e-mail is not sent (production refuses e-mail sign-in).
    pub smtp_url: Option<String>,
    /// The sender of e-mail.
    pub mail_from: String,
    /// The HTTP SMS gateway (`POST` JSON `{"to", "text"}`); without it, SMS is not sent.
    pub sms_url: Option<String>,
    /// Bearer token for the SMS gateway.
    pub sms_token: Option<String>,
    /// Addresses of reverse proxies in front of this server; from them, the client's address
    /// for rate limits is read from `X-Forwarded-For`. Empty: the peer address is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from("data"),
            documents_url: None,
            log_format: LogFormat::Text,
            catalog_refresh_secs: 5,
            mode: Mode::Production,
            data_keys: None,
            lookup_key: None,
            secure_cookies: false,
            public_url: None,
            sign_in_burst: 10,
            smtp_url: None,
            mail_from: "MPP Digital <no-reply@localhost>".into(),
            sms_url: None,
            sms_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("configuration file {0} is not valid: {1}")]
    Parse(String, toml::de::Error),
    #[error("{0} must be a whole number of seconds")]
    Number(&'static str),
    #[error("MPP_MODE must be production, development or demo")]
    Mode,
}

/// Values given on the command line or in the environment (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::Read(path.display().to_string(), e))?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError::Parse(path.display().to_string(), e))?
            }
            None => Config::default(),
        };
        if let Ok(keys) = std::env::var("MPP_DATA_KEYS") {
            config.data_keys = Some(keys);
        }
        if let Ok(key) = std::env::var("MPP_LOOKUP_KEY") {
            config.lookup_key = Some(key);
        }
        if let Ok(mode) = std::env::var("MPP_MODE") {
            config.mode = match mode.as_str() {
                "production" => Mode::Production,
                "development" => Mode::Development,
                "demo" => Mode::Demo,
                _ => return Err(ConfigError::Mode),
            };
        }
        if let Ok(secure) = std::env::var("MPP_SECURE_COOKIES") {
            config.secure_cookies = secure == "1" || secure == "true";
        }
        if let Ok(secs) = std::env::var("MPP_CATALOG_REFRESH_SECS") {
            config.catalog_refresh_secs = secs
                .parse()
                .map_err(|_| ConfigError::Number("MPP_CATALOG_REFRESH_SECS"))?;
        }
        for (name, slot) in [
            ("MPP_DOCUMENTS_URL", &mut config.documents_url),
            ("MPP_SMTP_URL", &mut config.smtp_url),
            ("MPP_SMS_URL", &mut config.sms_url),
            ("MPP_SMS_TOKEN", &mut config.sms_token),
        ] {
            if let Ok(value) = std::env::var(name) {
                *slot = Some(value);
            }
        }
        if let Ok(from) = std::env::var("MPP_MAIL_FROM") {
            config.mail_from = from;
        }
        if let Ok(list) = std::env::var("MPP_TRUSTED_PROXIES") {
            config.trusted_proxies = list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Ok(url) = std::env::var("MPP_PUBLIC_URL") {
            config.public_url = Some(url);
        }
        if let Ok(burst) = std::env::var("MPP_SIGN_IN_BURST") {
            config.sign_in_burst = burst
                .parse()
                .map_err(|_| ConfigError::Number("MPP_SIGN_IN_BURST"))?;
        }
        if let Some(v) = overrides.listen {
            config.listen = v;
        }
        if let Some(v) = overrides.database_url.filter(|v| !v.is_empty()) {
            config.database_url = Some(v);
        }
        if let Some(v) = overrides.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = overrides.log_format {
            config.log_format = v;
        }
        Ok(config)
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("mpp.sqlite3").display()),
        }
    }

    /// The trusted proxies as addresses; an entry that is not an IP address is an error.
    pub fn trusted_proxy_addresses(&self) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| ConfigError::Number("trusted_proxies (IP addresses)"))
            })
            .collect()
    }

    /// The base of links sent to people, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn is_embedded_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite://")
    }

    /// The effective configuration as TOML, with the database password replaced by `***`.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(redact_url(&self.database_url()));
        shown.data_keys = self.data_keys.as_ref().map(|_| "***".to_owned());
        shown.lookup_key = self.lookup_key.as_ref().map(|_| "***".to_owned());
        shown.smtp_url = self.smtp_url.as_deref().map(redact_url);
        shown.sms_token = self.sms_token.as_ref().map(|_| "***".to_owned());
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
    }
}

/// The keys for personal data: from the configuration, else from `{data_dir}/keys.toml`,
/// which is created (readable by its owner only) with fresh keys when missing.
pub fn data_keys(config: &Config) -> Result<crate::privacy::DataKeys, KeyError> {
    if let (Some(keys), Some(lookup)) = (&config.data_keys, &config.lookup_key) {
        return Ok(crate::privacy::DataKeys::parse(keys, lookup)?);
    }
    #[derive(Serialize, Deserialize)]
    struct KeyFile {
        data_keys: String,
        lookup_key: String,
    }
    let path = config.data_dir.join("keys.toml");
    let file = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str::<KeyFile>(&text)
            .map_err(|e| KeyError::File(path.display().to_string(), e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let file = KeyFile {
                data_keys: format!("k1:{}", crate::privacy::DataKeys::generate_key()?),
                lookup_key: crate::privacy::DataKeys::generate_key()?,
            };
            std::fs::create_dir_all(&config.data_dir)
                .map_err(|e| KeyError::File(path.display().to_string(), e.to_string()))?;
            let text = toml::to_string(&file)
                .map_err(|e| KeyError::File(path.display().to_string(), e.to_string()))?;
            write_private(&path, &text)
                .map_err(|e| KeyError::File(path.display().to_string(), e.to_string()))?;
            tracing::warn!(path = %path.display(), "created keys for personal data; back this file up with the database");
            file
        }
        Err(e) => return Err(KeyError::File(path.display().to_string(), e.to_string())),
    };
    Ok(crate::privacy::DataKeys::parse(
        &file.data_keys,
        &file.lookup_key,
    )?)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys file {0}: {1}")]
    File(String, String),
    #[error(transparent)]
    Keys(#[from] crate::privacy::PrivacyError),
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; also hides `password=` parameters.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        if let Some(at) = out[rest_start..].find('@').map(|i| i + rest_start)
            && let Some(colon) = out[rest_start..at].find(':').map(|i| i + rest_start)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    if let Some(pos) = out.find("password=") {
        let value_start = pos + "password=".len();
        let value_end = out[value_start..]
            .find('&')
            .map_or(out.len(), |i| i + value_start);
        out.replace_range(value_start..value_end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?password=x&a=b"),
            "postgres://u@h/db?password=***&a=b"
        );
        assert_eq!(
            redact_url("sqlite://data/mpp.sqlite3"),
            "sqlite://data/mpp.sqlite3"
        );
    }

    #[test]
    fn layers_win_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("mpp.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/mpp\"\n",
        )
        .expect("write");
        let config = Config::load(
            Some(&file),
            Overrides {
                listen: Some("127.0.0.1:1".into()),
                ..Overrides::default()
            },
        )
        .expect("config");
        assert_eq!(config.listen, "127.0.0.1:1");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/mpp"));
        assert_eq!(config.database_url(), "sqlite:///var/lib/mpp/mpp.sqlite3");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("mpp.toml");
        std::fs::write(&file, "lisen = \"x\"\n").expect("write");
        assert!(Config::load(Some(&file), Overrides::default()).is_err());
    }
}
