//! Configuration: defaults, then an optional TOML file (`--config` / `MPP_CONFIG`), then the
//! environment, then command-line flags; each later layer wins.
//!
//! | setting | flag | environment | default |
//! |---|---|---|---|
//! | listen address | `--listen` | `MPP_LISTEN` | `127.0.0.1:8080` |
//! | database | `--database-url` | `DATABASE_URL` | `sqlite://{data_dir}/mpp.sqlite3` |
//! | data directory | `--data-dir` | `MPP_DATA_DIR` | `data` |
//! | log format | `--log-format` | `MPP_LOG_FORMAT` | `text` (or `json`) |
//! | catalog refresh | – | `MPP_CATALOG_REFRESH_SECS` | `5` |

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server listens on.
    pub listen: String,
    /// `sqlite://path` or `postgres://user:password@host/db`; SQLite in `data_dir` when absent.
    pub database_url: Option<String>,
    /// Where the embedded SQLite file (and later, uploaded documents) live.
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// How often a node checks whether the catalog changed in the database (seconds).
    pub catalog_refresh_secs: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from("data"),
            log_format: LogFormat::Text,
            catalog_refresh_secs: 5,
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
        if let Ok(secs) = std::env::var("MPP_CATALOG_REFRESH_SECS") {
            config.catalog_refresh_secs = secs
                .parse()
                .map_err(|_| ConfigError::Number("MPP_CATALOG_REFRESH_SECS"))?;
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

    pub fn is_embedded_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite://")
    }

    /// The effective configuration as TOML, with the database password replaced by `***`.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(redact_url(&self.database_url()));
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
    }
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
