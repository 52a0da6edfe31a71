//! Sites: their settings (privacy rules, retention, purge window), their
//! secret id key, and how a site id is found or given (tables `sites` and
//! `site_config`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::normalize::IdKey;
use foldhash::HashMap;
use redb::{ReadableTable, WriteTransaction};

use super::schema::{SITES, SITE_CONFIG};
use super::Corrupt;

/// The longest purge window the clients' privacy policies allow: a deletion
/// request is physically carried out at most 180 days after it was made.
pub const MAX_PURGE_WINDOW_DAYS: u32 = 180;

/// Settings of one site. [`SiteSettings::default`] documents every default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteSettings {
    /// Drop events carrying `dnt: true`. Default: `true`.
    pub honour_dnt: bool,
    /// Hosts the site's pages may be on; events whose absolute URL is on
    /// another host are rejected. Empty (the default): any host.
    pub allowed_hosts: Vec<String>,
    /// Selector patterns whose events are dropped (`*` matches any run of
    /// characters; a pattern matches anywhere in the selector). Default: none.
    pub sensitive_selectors: Vec<String>,
    /// Maximum age of data in days; older partitions are dropped by
    /// maintenance. `None` (the default): kept until deleted.
    pub retention_days: Option<u32>,
    /// Days between a deletion request and its physical erasure deadline.
    /// Default: 30; at most [`MAX_PURGE_WINDOW_DAYS`].
    pub purge_window_days: u32,
}

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            honour_dnt: true,
            allowed_hosts: Vec::new(),
            sensitive_selectors: Vec::new(),
            retention_days: None,
            purge_window_days: 30,
        }
    }
}

impl SiteSettings {
    /// Checks the settings against policy.
    ///
    /// ```
    /// let mut s = heatstore::SiteSettings::default();
    /// s.purge_window_days = 181;
    /// assert!(s.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.purge_window_days > MAX_PURGE_WINDOW_DAYS {
            return Err(Error::Policy(format!(
                "purge window of {} days is over the maximum of {MAX_PURGE_WINDOW_DAYS} days",
                self.purge_window_days
            )));
        }
        if self.retention_days == Some(0) {
            return Err(Error::InvalidArgument(
                "retention_days must be at least 1 (or None to keep data)".into(),
            ));
        }
        Ok(())
    }
}

/// What the store keeps per site: settings plus the secret id key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SiteRecord {
    pub key: IdKey,
    pub settings: SiteSettings,
}

impl SiteRecord {
    pub(crate) fn new(settings: SiteSettings) -> SiteRecord {
        SiteRecord {
            key: rand::random(),
            settings,
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<SiteRecord, Corrupt> {
        rmp_serde::from_slice(bytes).map_err(|e| Corrupt::new("site settings", e.to_string()))
    }
}

pub(crate) fn next_site_id(sites: &impl ReadableTable<&'static str, u32>) -> Result<u32> {
    let mut max = 0u32;
    for entry in sites.iter()? {
        max = max.max(entry?.1.value());
    }
    max.checked_add(1)
        .ok_or_else(|| Error::InvalidArgument("too many sites".into()))
}

/// The id and record of a site, if the store has it: the one lookup every
/// layer uses (reads, the writer, requests, settings).
pub(crate) fn load(
    sites: &impl ReadableTable<&'static str, u32>,
    conf: &impl ReadableTable<u32, &'static [u8]>,
    site: &str,
) -> Result<Option<(u32, SiteRecord)>> {
    let Some(id) = sites.get(site)?.map(|g| g.value()) else {
        return Ok(None);
    };
    let bytes = conf
        .get(id)?
        .map(|g| g.value().to_vec())
        .ok_or_else(|| Corrupt::new("site settings", format!("site {id} has none")))?;
    Ok(Some((id, SiteRecord::decode(&bytes)?)))
}

/// Sites a writer has made and not committed yet, which a transaction
/// that creates sites must not collide with: a site of that name is
/// created with the writer's id and record (its key hashed the writer's
/// events), and a new site of another name gets an id above theirs.
#[derive(Debug, Default)]
pub(crate) struct Reserved {
    /// name → (id, record) of each uncommitted site.
    pub(crate) sites: HashMap<String, (u32, SiteRecord)>,
}

impl Reserved {
    fn next_id(&self) -> u32 {
        self.sites.values().map(|(id, _)| id + 1).max().unwrap_or(0)
    }
}

/// The id and record of a site, created in `txn` (the next free id, a
/// fresh secret key, default settings; or what `reserved` holds for it)
/// when the store does not have it: the one place a site is created in a
/// transaction.
pub(crate) fn find_or_create(
    txn: &WriteTransaction,
    site: &str,
    reserved: &Reserved,
) -> Result<(u32, SiteRecord)> {
    crate::event::validate_site(site)
        .map_err(|e| Error::InvalidArgument(format!("site {site:?}: {e}")))?;
    let mut sites = txn.open_table(SITES)?;
    let mut conf = txn.open_table(SITE_CONFIG)?;
    if let Some(found) = load(&sites, &conf, site)? {
        return Ok(found);
    }
    let (id, record) = match reserved.sites.get(site) {
        Some((id, record)) => (*id, record.clone()),
        None => (
            next_site_id(&sites)?.max(reserved.next_id()),
            SiteRecord::new(SiteSettings::default()),
        ),
    };
    sites.insert(site, id)?;
    conf.insert(id, record.encode().as_slice())?;
    Ok((id, record))
}

/// Writes the sites a commit creates: each that the store does not have
/// yet (a control operation may have created it first, from the same
/// reservation, and perhaps changed its settings since: that record is
/// kept).
pub(crate) fn create_new(txn: &WriteTransaction, new: &[(String, u32, Vec<u8>)]) -> Result<()> {
    let mut sites = txn.open_table(SITES)?;
    let mut conf = txn.open_table(SITE_CONFIG)?;
    for (name, id, record) in new {
        let existing = sites.get(name.as_str())?.map(|g| g.value());
        match existing {
            Some(existing) if existing == *id => {}
            Some(existing) => {
                return Err(Corrupt::new(
                    "sites",
                    format!("site {name:?} has id {existing}, and a commit made it {id}"),
                )
                .into())
            }
            None => {
                sites.insert(name.as_str(), *id)?;
                conf.insert(*id, record.as_slice())?;
            }
        }
    }
    Ok(())
}

/// The id and secret key of a site, created if needed.
pub(crate) fn ensure_site(
    txn: &WriteTransaction,
    site: &str,
    reserved: &Reserved,
) -> Result<(u32, crate::normalize::IdKey)> {
    find_or_create(txn, site, reserved).map(|(id, record)| (id, record.key))
}

/// Writes a site's settings, creating the site (with a fresh key) if needed.
pub(crate) fn put_settings(
    txn: &WriteTransaction,
    site: &str,
    settings: SiteSettings,
    reserved: &Reserved,
) -> Result<()> {
    let (id, mut record) = find_or_create(txn, site, reserved)?;
    record.settings = settings;
    txn.open_table(SITE_CONFIG)?
        .insert(id, record.encode().as_slice())?;
    Ok(())
}
