//! What the subcommands share: the failure type, the `--db` argument and
//! value parsers for times and sites.

use std::fmt;
use std::path::{Path, PathBuf};

use heatstore::event::{MAX_SITE_LEN, MAX_TS};
use heatstore::Store;

/// Why a command failed: printed as `error: <message>`, exit status 1.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    /// A failure with a message of our own.
    pub fn new(message: impl fmt::Display) -> Failure {
        Failure(message.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<heatstore::Error> for Failure {
    fn from(e: heatstore::Error) -> Failure {
        Failure(e.to_string())
    }
}

/// A command's result.
pub type CmdResult = Result<(), Failure>;

/// The store a command works on.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArg {
    /// The store's file.
    #[arg(long, value_name = "DB")]
    pub db: PathBuf,
}

impl DbArg {
    /// Opens the store, creating it when the file does not exist.
    pub fn open_or_create(&self) -> Result<Store, Failure> {
        Ok(Store::open(&self.db)?)
    }

    /// Opens an existing store; a missing file is an error, never a new,
    /// empty store (a typo in the path would otherwise look like no data).
    pub fn open_existing(&self) -> Result<Store, Failure> {
        require_file(&self.db)?;
        Ok(Store::open(&self.db)?)
    }
}

fn require_file(path: &Path) -> Result<(), Failure> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Failure::new(format!(
            "{} is not a file (give the store's file with --db)",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::new(format!(
            "no store at {}: the file does not exist (`heatstore import --db {}` creates one)",
            path.display(),
            path.display()
        ))),
        Err(e) => Err(Failure::new(format!("cannot read {}: {e}", path.display()))),
    }
}

/// clap value parser for a time: ms since the Unix epoch or RFC 3339.
/// clap names the flag in its error.
pub fn parse_time_arg(s: &str) -> Result<i64, String> {
    match heatstore::parse_time(s.trim()) {
        Some(t) if (0..=MAX_TS).contains(&t) => Ok(t),
        Some(t) => Err(format!(
            "{t} is out of range (0..={MAX_TS} ms since the Unix epoch)"
        )),
        None => Err(
            "expected ms since the Unix epoch or an RFC 3339 time such as 2026-10-01T00:00:00Z"
                .to_owned(),
        ),
    }
}

/// clap value parser for a site name (the `site` field: 1..=253 bytes).
pub fn parse_site(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("a site name must not be empty".to_owned());
    }
    if s.len() > MAX_SITE_LEN {
        return Err(format!(
            "a site name is at most {MAX_SITE_LEN} bytes, this one is {}",
            s.len()
        ));
    }
    Ok(s.to_owned())
}

/// clap value parser for a share in 0..=1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err("expected a number from 0 to 1".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_ms_or_rfc3339() {
        assert_eq!(parse_time_arg("1500"), Ok(1500));
        assert_eq!(parse_time_arg("1970-01-01T00:00:01.5Z"), Ok(1500));
        assert!(parse_time_arg("yesterday").is_err());
        assert!(parse_time_arg("-5").is_err());
    }

    #[test]
    fn sites_and_fractions_are_checked() {
        assert!(parse_site("").is_err());
        assert!(parse_site(&"a".repeat(254)).is_err());
        assert_eq!(parse_site("a.example").as_deref(), Ok("a.example"));
        assert_eq!(parse_fraction("0.5"), Ok(0.5));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("NaN").is_err());
    }
}
