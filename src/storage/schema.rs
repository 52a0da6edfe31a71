//! Every redb table heatstore keeps, in one place, so the on-disk schema can
//! be reviewed at a glance. `docs/format.md` describes each value's layout.
//!
//! Keys always start with the site id: no range scan can cross sites.

use redb::TableDefinition;

/// Store-wide settings: `magic`, `format_version`, counters.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Site name → site id.
pub(crate) const SITES: TableDefinition<&str, u32> = TableDefinition::new("sites");

/// Site id → site settings and secret id key (MessagePack [`super::site::SiteConfig`]).
pub(crate) const SITE_CONFIG: TableDefinition<u32, &[u8]> = TableDefinition::new("site_config");

/// (site, day) → partition metadata: its segments and pending batches.
pub(crate) const PARTITIONS: TableDefinition<(u32, i32), &[u8]> =
    TableDefinition::new("partitions");

/// (site, day, segment, column, chunk) → one chunk of an encoded column or
/// bitmap set of a sealed segment (see [`super::columns`]).
pub(crate) const SEGMENT_COLUMNS: TableDefinition<super::columns::ColKey, &[u8]> =
    TableDefinition::new("segment_columns");

/// (site, day, dimension) → the partition's string dictionary for that
/// dimension (pages, selectors, names, browsers, OSes, referrer hosts).
pub(crate) const DICTIONARIES: TableDefinition<(u32, i32, u8), &[u8]> =
    TableDefinition::new("dictionaries");

/// (site, day, first arrival sequence) → a batch of committed events not yet
/// sealed into a segment (MessagePack rows).
pub(crate) const PENDING: TableDefinition<(u32, i32, u64), &[u8]> = TableDefinition::new("pending");

/// (site, session hash) → the session's row: visitor hash, first pageview,
/// attributes, the days it has events on.
pub(crate) const SESSIONS: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("sessions");

/// (site, visitor hash, session hash) → (): which sessions a visitor has,
/// so that a visitor's deletion request finds them without a scan. One entry
/// per session row, with the row's visitor.
pub(crate) const VISITOR_SESSIONS: TableDefinition<(u32, u64, u64), ()> =
    TableDefinition::new("visitor_sessions");

/// (site, day) → columnar block of the sessions whose first pageview falls
/// on that day, with their attributes: what session reports read.
pub(crate) const SESSION_BLOCKS: TableDefinition<(u32, i32), &[u8]> =
    TableDefinition::new("session_blocks");

/// (site, day) → a random value written with the day's session block each
/// time the block is written (removed with it): the key readers cache the
/// decoded block and its aggregates under. A block without one (written
/// before this table existed) is keyed by a hash of its bytes.
pub(crate) const SESSION_BLOCK_VERSIONS: TableDefinition<(u32, i32), u64> =
    TableDefinition::new("session_block_versions");

/// (site, day, n) → one commit's changes to the day's session block:
/// entries put and hashes removed (format in
/// [`super::sessions::BlockTail`]), `n` counting the day's tails in
/// commit order from 0. A commit writes only its own changes; the tails are
/// folded into the block once a day has [`super::sessions::TAIL_MAX`] of
/// them. Readers see the block with its tails applied in order.
pub(crate) const SESSION_BLOCK_TAILS: TableDefinition<(u32, i32, u64), &[u8]> =
    TableDefinition::new("session_block_tails");

/// Day → that day's cookieless salt. Destroyed after the next day.
pub(crate) const SALTS: TableDefinition<i32, &[u8]> = TableDefinition::new("cookieless_salts");

/// (site, cookieless visitor hash) → (last event ts, current session hash),
/// to cut cookieless sessions after 30 minutes of inactivity.
pub(crate) const COOKIELESS: TableDefinition<(u32, u64), (i64, u64)> =
    TableDefinition::new("cookieless_sessions");

/// (site, visitor hash) → (): visitors who opted out; their events are
/// dropped at ingest.
pub(crate) const OPT_OUTS: TableDefinition<(u32, u64), ()> = TableDefinition::new("opt_outs");

/// Request id → deletion request audit record (MessagePack
/// [`crate::storage::requests::DeletionRequest`]); holds no personal data.
pub(crate) const DELETIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("deletion_requests");

/// (site, session hash) → cutoff (ms): sessions that deletion requests
/// erased, by keyed hash, so that their late events (those before the
/// cutoff) are dropped at ingest after the session rows are gone.
/// `i64::MAX` for sessions of opted-out visitors. Holds no raw id.
pub(crate) const DELETED_SESSIONS: TableDefinition<(u32, u64), i64> =
    TableDefinition::new("deleted_sessions");

/// Something done to every table in turn (see [`for_each_table`]).
pub(crate) trait TableVisitor {
    /// Visits one table.
    fn visit<K, V>(&mut self, def: TableDefinition<'static, K, V>) -> crate::Result<()>
    where
        K: redb::Key + 'static,
        V: redb::Value + 'static,
        for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
        for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>;
}

/// How many tables a current store has.
pub(crate) const TABLE_COUNT: usize = 17;

/// Every table of a current store, once: what creating, opening, counting
/// and copying tables all go through, so that a table cannot be left out
/// of one of them (a table missing from the file rewrite would be lost at
/// the next maintenance).
pub(crate) fn for_each_table(v: &mut impl TableVisitor) -> crate::Result<()> {
    v.visit(META)?;
    v.visit(SITES)?;
    v.visit(SITE_CONFIG)?;
    v.visit(PARTITIONS)?;
    v.visit(SEGMENT_COLUMNS)?;
    v.visit(DICTIONARIES)?;
    v.visit(PENDING)?;
    v.visit(SESSIONS)?;
    v.visit(VISITOR_SESSIONS)?;
    v.visit(SESSION_BLOCKS)?;
    v.visit(SESSION_BLOCK_VERSIONS)?;
    v.visit(SESSION_BLOCK_TAILS)?;
    v.visit(SALTS)?;
    v.visit(COOKIELESS)?;
    v.visit(OPT_OUTS)?;
    v.visit(DELETIONS)?;
    v.visit(DELETED_SESSIONS)?;
    Ok(())
}

/// The names of every table, in [`for_each_table`] order.
#[cfg(test)]
pub(crate) fn table_names() -> Vec<String> {
    struct Names(Vec<String>);
    impl TableVisitor for Names {
        fn visit<K, V>(&mut self, def: TableDefinition<'static, K, V>) -> crate::Result<()>
        where
            K: redb::Key + 'static,
            V: redb::Value + 'static,
            for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
            for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
        {
            use redb::TableHandle;
            self.0.push(def.name().to_owned());
            Ok(())
        }
    }
    let mut n = Names(Vec::new());
    // Pushing names cannot fail.
    let _ = for_each_table(&mut n);
    n.0
}

/// Creates every table that is missing, in `txn`.
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> crate::Result<()> {
    struct Create<'t>(&'t redb::WriteTransaction);
    impl TableVisitor for Create<'_> {
        fn visit<K, V>(&mut self, def: TableDefinition<'static, K, V>) -> crate::Result<()>
        where
            K: redb::Key + 'static,
            V: redb::Value + 'static,
            for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
            for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
        {
            self.0.open_table(def)?;
            Ok(())
        }
    }
    for_each_table(&mut Create(txn))
}

/// What copying the tables of one database into another did.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    /// Entries copied.
    pub entries: u64,
    /// Tables that could not be read whole, with the error: only for a
    /// tolerant copy ([`copy_tables`] with `tolerant`).
    pub lost: Vec<(String, String)>,
}

/// Copies every table of `from` into `to`, in one write transaction of
/// `to`. A strict copy fails on the first error; a tolerant one (for
/// salvaging a damaged store) copies what it can read of each table and
/// records where it stopped.
pub(crate) fn copy_tables(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    tolerant: bool,
) -> crate::Result<Copied> {
    struct Copy<'t> {
        from: &'t redb::ReadTransaction,
        to: &'t redb::WriteTransaction,
        tolerant: bool,
        done: Copied,
    }
    impl TableVisitor for Copy<'_> {
        fn visit<K, V>(&mut self, def: TableDefinition<'static, K, V>) -> crate::Result<()>
        where
            K: redb::Key + 'static,
            V: redb::Value + 'static,
            for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
            for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
        {
            use redb::{ReadableTable, TableHandle};
            let mut dst = self.to.open_table(def)?;
            let copied = (|| -> crate::Result<()> {
                let src = match self.from.open_table(def) {
                    Ok(t) => t,
                    // Older stores may lack a table: nothing to copy.
                    Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                for e in src.iter()? {
                    let (k, v) = e?;
                    dst.insert(k.value(), v.value())?;
                    self.done.entries += 1;
                }
                Ok(())
            })();
            match copied {
                Ok(()) => Ok(()),
                Err(e) if self.tolerant => {
                    self.done.lost.push((def.name().to_owned(), e.to_string()));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
    }
    let mut c = Copy {
        from,
        to,
        tolerant,
        done: Copied::default(),
    };
    for_each_table(&mut c)?;
    Ok(c.done)
}
