//! The file rewrite that ends every purge: every table copied into a fresh
//! file, swapped in atomically, because redb does not zero freed pages.
//!
//! It runs while the store keeps taking commits. A snapshot is copied
//! whole with no lock held; then rounds bring the copy up to date with
//! what was committed meanwhile (see [`catch_up`]), each on a newer
//! snapshot and each shorter than the last, until one is quick. The last
//! round runs with commits paused, and the swap follows in the same
//! pause: that pause is all the rewrite costs the writers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use super::Pauses;
use crate::core::Core;
use crate::error::Result;
use crate::storage::file::{Db, Location};
use crate::storage::journal::Touched;
use crate::storage::schema::*;
use crate::storage::Corrupt;

/// Free space a rewrite leaves in the fresh file for the commits that
/// follow. redb grows a file under 4 GiB by doubling it when a commit
/// finds no free page of the size it needs, and a compacted file has
/// none: without this, the first commit after a compaction that needed
/// more than a few pages (a purge, the catch-up rounds, marking requests
/// erased) doubled the file, and a file is trimmed only when more than
/// half of it is free at its end. So the fresh file starts with a ballast
/// table (its pages are the lowest of the file), the data is copied above
/// it and compacted, the ballast is dropped, and the file is closed and
/// reopened: closing trims whatever that last commit grew at the end,
/// and the ballast's pages stay free below the data, for later commits.
const RESERVE: TableDefinition<u32, &[u8]> = TableDefinition::new("rewrite_reserve");
/// One ballast value: just under 1 MiB, so that each takes one 1 MiB
/// block of redb's buddy allocator.
const RESERVE_CHUNK: usize = (1 << 20) - (16 << 10);

/// The reserve for a store whose file takes `file` bytes: 1/48 of it
/// (about 2 %; the file may hold free pages of its own), at least 1 MiB
/// and at most 64 MiB.
fn reserve_chunks(file: u64) -> u32 {
    let chunks = file / 48 / (1 << 20);
    chunks.clamp(1, 64) as u32
}

/// Writes `chunks` ballast values into an empty `db`.
fn fill_reserve(db: &Database, chunks: u32) -> Result<()> {
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(RESERVE)?;
        let chunk = vec![0u8; RESERVE_CHUNK];
        for i in 0..chunks {
            t.insert(i, chunk.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// Drops the ballast: its pages become the free reserve.
fn release_reserve(db: &Database) -> Result<()> {
    let txn = db.begin_write()?;
    txn.delete_table(RESERVE)?;
    txn.commit()?;
    Ok(())
}

/// Most commits that [`rewrite_table_tree`] makes to trim a fresh file.
const MAX_TRIMS: u32 = 4;

/// A commit that changes nothing but rewrites the root of `db`'s table
/// tree (a table made and deleted), so that its pages move.
fn rewrite_table_tree(db: &Database, i: u32) -> Result<()> {
    let txn = db.begin_write()?;
    txn.open_table(RESERVE)?.insert(i, [0u8; 8].as_slice())?;
    txn.delete_table(RESERVE)?;
    txn.commit()?;
    Ok(())
}

/// A catch-up round this quick is followed by the paused one.
const QUICK: Duration = Duration::from_millis(20);

/// Most catch-up rounds before the paused one (commits outrunning the
/// copy still end in one pause, only a longer one).
const MAX_ROUNDS: usize = 8;

/// What the rewrite did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rewritten {
    /// Catch-up rounds, the paused one included.
    pub(crate) rounds: u32,
}

impl Core {
    /// Rewrites every table into a fresh file and swaps it in atomically:
    /// the new file holds only live pages, so nothing erased survives in
    /// its bytes.
    ///
    /// The fresh file is built as `<name>.rewrite` beside the store and
    /// renamed over it while this process still holds it open: its lock
    /// covers the file at the store's path from the rename on, so no other
    /// process can open the store in between. Only maintenance touches the
    /// `.rewrite` file (a stale one, left by a run that died, is removed
    /// here, under the store's lock).
    pub(crate) fn rewrite_file(&self, pauses: &mut Pauses) -> Result<Rewritten> {
        let old = self.db();
        let old_db = old.rw()?;
        {
            // No write transaction straddles the start of the journal.
            let _paused = self.pause_commits();
            self.journal.start();
        }
        let done = self.rewrite_from(old_db, pauses);
        self.journal.stop();
        done
    }

    fn rewrite_from(&self, old: &Database, pauses: &mut Pauses) -> Result<Rewritten> {
        let (mut fresh, tmp) = self.fresh_database()?;
        // A file keeps a reserve of free pages ([`RESERVE`]); a store in
        // memory has no file to keep small.
        let reserve = match self.location {
            Location::Memory => None,
            _ => Some(reserve_chunks(self.file_bytes()?)),
        };
        if let Some(chunks) = reserve {
            fill_reserve(&fresh, chunks)?;
        }
        let base = old.begin_read()?;
        copy_all(&base, &fresh)?;
        let mut seen = Versions::of(&base)?;
        drop(base);
        // The copy, one large transaction, leaves free pages in the fresh
        // file: compact it now, before the rounds (no lock is held, and
        // nothing else has the fresh file open).
        for _ in 0..3 {
            if !fresh.compact()? {
                break;
            }
        }
        if reserve.is_some() {
            let compacted = self.fresh_len(tmp.as_deref());
            release_reserve(&fresh)?;
            drop(fresh);
            fresh = self.reopen_fresh(tmp.as_deref())?;
            // Releasing the ballast is the first commit into a file without
            // a free page: redb doubled the file for it, and where that
            // commit's own pages landed at the top of the new half, closing
            // could not trim it (about one rewrite in three on 2M events
            // over 200 sites). A commit that rewrites the table tree moves
            // them down into the reserve; closing then trims the file.
            for i in 0..MAX_TRIMS {
                match (compacted, self.fresh_len(tmp.as_deref())) {
                    (Some(before), Some(now)) if now > before + before / 4 => {}
                    _ => break,
                }
                rewrite_table_tree(&fresh, i)?;
                drop(fresh);
                fresh = self.reopen_fresh(tmp.as_deref())?;
            }
        }
        let mut done = Rewritten::default();
        for _ in 0..MAX_ROUNDS {
            let t0 = Instant::now();
            let keys = self.journal.drain();
            let now = old.begin_read()?;
            seen = catch_up(&now, &fresh, &seen, &keys)?;
            done.rounds += 1;
            if t0.elapsed() < QUICK {
                break;
            }
        }
        // The last round and the swap, with commits paused.
        let paused = self.pause_commits();
        let t0 = Instant::now();
        let keys = self.journal.drain();
        let now = old.begin_read()?;
        catch_up(&now, &fresh, &seen, &keys)?;
        done.rounds += 1;
        if cfg!(debug_assertions) {
            // Tests run debug builds: any table the catch-up missed fails
            // them here.
            same_tables(&now, &fresh.begin_read()?)?;
        }
        drop(now);
        match (&self.location, tmp) {
            (Location::File(path), Some(tmp)) => {
                std::fs::rename(&tmp, path)?;
                crate::storage::file::sync_dir(path.parent().unwrap_or(Path::new(".")));
            }
            (Location::Vfs(vfs, name), Some(tmp)) => {
                vfs.rename(&tmp.to_string_lossy(), name)?;
            }
            _ => {}
        }
        self.swap_db(&paused, Db::Rw(fresh));
        drop(paused);
        pauses.note(t0.elapsed());
        Ok(done)
    }

    /// The length of the fresh file, where it is a file.
    fn fresh_len(&self, tmp: Option<&Path>) -> Option<u64> {
        match self.location {
            Location::File(_) => std::fs::metadata(tmp?).ok().map(|m| m.len()),
            _ => None,
        }
    }

    /// The fresh database again, after it was closed (a file store only).
    fn reopen_fresh(&self, tmp: Option<&Path>) -> Result<Database> {
        let tmp = tmp.ok_or_else(|| Corrupt::new("rewrite", "no fresh file to reopen"))?;
        Ok(match &self.location {
            Location::Vfs(vfs, _) => {
                let backend = crate::storage::file::Boxed(vfs.open(&tmp.to_string_lossy(), false)?);
                crate::storage::file::builder(self.page_cache).create_with_backend(backend)?
            }
            _ => crate::storage::file::builder(self.page_cache).create(tmp)?,
        })
    }

    /// An empty database beside the store (in memory for a store in
    /// memory), and its path.
    fn fresh_database(&self) -> Result<(Database, Option<std::path::PathBuf>)> {
        Ok(match &self.location {
            Location::File(path) => {
                let tmp = rewrite_path(path);
                match std::fs::remove_file(&tmp) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
                (
                    crate::storage::file::builder(self.page_cache).create(&tmp)?,
                    Some(tmp),
                )
            }
            Location::Memory => (
                crate::storage::file::builder(self.page_cache)
                    .create_with_backend(redb::backends::InMemoryBackend::new())?,
                None,
            ),
            Location::Vfs(vfs, name) => {
                let tmp = format!("{name}.rewrite");
                vfs.remove(&tmp)?;
                let backend = crate::storage::file::Boxed(vfs.open(&tmp, true)?);
                (
                    crate::storage::file::builder(self.page_cache).create_with_backend(backend)?,
                    Some(std::path::PathBuf::from(tmp)),
                )
            }
        })
    }
}

/// The temporary file a rewrite builds before the rename.
pub(crate) fn rewrite_path(path: &Path) -> std::path::PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".rewrite");
    path.with_file_name(name)
}

/// Copies every heatstore table into a fresh database.
fn copy_all(from: &ReadTransaction, to: &Database) -> Result<()> {
    let w = to.begin_write()?;
    copy_tables(from, &w, false)?;
    w.commit()?;
    Ok(())
}

/// How the copy learns what changed in a table since the snapshot it
/// copied last. Every table has one way (a test checks the list against
/// the schema's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// Small: compared entry by entry.
    Whole,
    /// Partition data: the partition's metadata changes at every write.
    Partition,
    /// Session blocks: their versions change at every write.
    Block,
    /// One entry per session or visitor: written keys are journaled.
    Journal,
}

fn way(table: &str) -> Option<Way> {
    Some(match table {
        "meta" | "sites" | "site_config" | "cookieless_salts" | "opt_outs"
        | "deletion_requests" | "deleted_sessions" => Way::Whole,
        "partitions" | "segment_columns" | "dictionaries" | "pending" => Way::Partition,
        "session_blocks" | "session_block_tails" | "session_block_versions" => Way::Block,
        "sessions" | "visitor_sessions" | "cookieless_sessions" => Way::Journal,
        _ => return None,
    })
}

/// The versions of partitions and session blocks in one snapshot.
struct Versions {
    parts: BTreeMap<(u32, i32), Vec<u8>>,
    blocks: BTreeMap<(u32, i32), u64>,
}

impl Versions {
    fn of(txn: &ReadTransaction) -> Result<Versions> {
        let mut parts = BTreeMap::new();
        for e in txn.open_table(PARTITIONS)?.iter()? {
            let (k, v) = e?;
            parts.insert(k.value(), v.value().to_vec());
        }
        let mut blocks = BTreeMap::new();
        for e in txn.open_table(SESSION_BLOCK_VERSIONS)?.iter()? {
            let (k, v) = e?;
            blocks.insert(k.value(), v.value());
        }
        Ok(Versions { parts, blocks })
    }
}

/// Keys whose value differs between two maps (present in one only, too).
fn changed<K: Ord + Copy, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> BTreeSet<K> {
    let mut out: BTreeSet<K> = a
        .iter()
        .filter(|(k, v)| b.get(k) != Some(v))
        .map(|(k, _)| *k)
        .collect();
    out.extend(b.keys().filter(|k| !a.contains_key(k)).copied());
    out
}

/// Brings `fresh`, a copy of the store as of a snapshot whose versions
/// were `seen`, up to the snapshot `now`, given the journaled keys
/// written since (at least) then; returns `now`'s versions.
fn catch_up(
    now: &ReadTransaction,
    fresh: &Database,
    seen: &Versions,
    keys: &Touched,
) -> Result<Versions> {
    let current = Versions::of(now)?;
    let w = fresh.begin_write()?;
    struct Whole<'t>(&'t ReadTransaction, &'t WriteTransaction);
    impl TableVisitor for Whole<'_> {
        fn visit<K, V>(&mut self, def: TableDefinition<'static, K, V>) -> Result<()>
        where
            K: redb::Key + 'static,
            V: redb::Value + 'static,
            for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
            for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
        {
            use redb::TableHandle;
            match way(def.name()) {
                Some(Way::Whole) => sync_whole(self.0, self.1, def),
                Some(_) => Ok(()),
                None => Err(Corrupt::new(
                    "file rewrite",
                    format!("table {} has no way to catch up", def.name()),
                )
                .into()),
            }
        }
    }
    for_each_table(&mut Whole(now, &w))?;
    for (site, day) in changed(&seen.parts, &current.parts) {
        sync_range(now, &w, PARTITIONS, (site, day)..=(site, day))?;
        sync_range(
            now,
            &w,
            SEGMENT_COLUMNS,
            (site, day, 0, 0, 0)..=(site, day, u32::MAX, u8::MAX, u16::MAX),
        )?;
        sync_range(now, &w, DICTIONARIES, (site, day, 0)..=(site, day, u8::MAX))?;
        sync_range(now, &w, PENDING, (site, day, 0)..=(site, day, u64::MAX))?;
    }
    for key in changed(&seen.blocks, &current.blocks) {
        sync_range(now, &w, SESSION_BLOCKS, key..=key)?;
        sync_range(
            now,
            &w,
            SESSION_BLOCK_TAILS,
            (key.0, key.1, 0)..=(key.0, key.1, u64::MAX),
        )?;
        sync_range(now, &w, SESSION_BLOCK_VERSIONS, key..=key)?;
    }
    for &key in &keys.sessions {
        sync_range(now, &w, SESSIONS, key..=key)?;
    }
    for &(site, v) in &keys.visitors {
        sync_range(
            now,
            &w,
            VISITOR_SESSIONS,
            (site, v, 0)..=(site, v, u64::MAX),
        )?;
    }
    for &key in &keys.cookieless {
        sync_range(now, &w, COOKIELESS, key..=key)?;
    }
    w.commit()?;
    Ok(current)
}

/// Makes `to`'s entries of `range` those of `from`.
fn sync_range<K, V>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    def: TableDefinition<'static, K, V>,
    range: std::ops::RangeInclusive<K::SelfType<'static>>,
) -> Result<()>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>> + Clone,
    for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
{
    let src = from.open_table(def)?;
    let mut dst = to.open_table(def)?;
    dst.retain_in::<K::SelfType<'static>, _>(range.clone(), |_, _| false)?;
    for e in src.range::<K::SelfType<'static>>(range)? {
        let (k, v) = e?;
        dst.insert(k.value(), v.value())?;
    }
    Ok(())
}

/// Makes `to`'s table `def` equal to `from`'s, writing only what differs.
fn sync_whole<K, V>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    def: TableDefinition<'static, K, V>,
) -> Result<()>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
    for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
    for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
{
    let src = from.open_table(def)?;
    let mut dst = to.open_table(def)?;
    let mut stale: Vec<Vec<u8>> = Vec::new();
    for e in dst.iter()? {
        let (k, _) = e?;
        if src.get(k.value())?.is_none() {
            stale.push(K::as_bytes(&k.value()).as_ref().to_vec());
        }
    }
    for k in &stale {
        dst.remove(K::from_bytes(k))?;
    }
    for e in src.iter()? {
        let (k, v) = e?;
        let same = dst
            .get(k.value())?
            .is_some_and(|d| V::as_bytes(&d.value()).as_ref() == V::as_bytes(&v.value()).as_ref());
        if !same {
            dst.insert(k.value(), v.value())?;
        }
    }
    Ok(())
}

/// Checks that two snapshots hold the same entries in every table.
fn same_tables(a: &ReadTransaction, b: &ReadTransaction) -> Result<()> {
    struct Same<'t>(&'t ReadTransaction, &'t ReadTransaction);
    impl TableVisitor for Same<'_> {
        fn visit<K, V>(&mut self, def: TableDefinition<'static, K, V>) -> Result<()>
        where
            K: redb::Key + 'static,
            V: redb::Value + 'static,
            for<'a> K::SelfType<'a>: std::borrow::Borrow<K::SelfType<'a>>,
            for<'a> V::SelfType<'a>: std::borrow::Borrow<V::SelfType<'a>>,
        {
            use redb::TableHandle;
            let (x, y) = (self.0.open_table(def)?, self.1.open_table(def)?);
            let mut ix = x.iter()?;
            let mut iy = y.iter()?;
            loop {
                match (ix.next(), iy.next()) {
                    (None, None) => return Ok(()),
                    (Some(p), Some(q)) => {
                        let ((pk, pv), (qk, qv)) = (p?, q?);
                        if K::as_bytes(&pk.value()).as_ref() != K::as_bytes(&qk.value()).as_ref()
                            || V::as_bytes(&pv.value()).as_ref()
                                != V::as_bytes(&qv.value()).as_ref()
                        {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            Err(Corrupt::new(
                "file rewrite",
                format!(
                    "the fresh copy of table {} differs from the store's",
                    def.name()
                ),
            )
            .into())
        }
    }
    for_each_table(&mut Same(a, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_table_has_a_way_to_catch_up() {
        for name in crate::storage::schema::table_names() {
            assert!(super::way(&name).is_some(), "table {name}");
        }
    }
}
