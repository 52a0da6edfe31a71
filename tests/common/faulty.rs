//! A virtual disk for fault injection below redb: files in memory, each
//! with a live image (what reads see) and a durable one (what survives a
//! crash: the live image at the last sync). Every write, length change,
//! sync and rename is one numbered I/O operation; a plan fails one of them
//! (an I/O error or a full disk) or crashes the disk there (that operation
//! and every later one fail, and [`Disk::after_crash`] gives a disk holding
//! only what was synced), as redb's own crash and fuzz tests do.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use heatstore::Vfs;
use redb::StorageBackend;

/// What happens at the planned operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An I/O error.
    Error,
    /// "No space left on device".
    Full,
    /// The machine stops: this and every later operation fail; only what
    /// was synced survives.
    Crash,
}

#[derive(Debug, Default)]
struct File {
    live: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    files: HashMap<String, Arc<Mutex<File>>>,
    /// Operations done so far.
    ops: u64,
    /// (operation number, fault).
    plan: Option<(u64, Fault)>,
    crashed: bool,
}

/// The disk. Clone the `Arc` to share it between the store and the test.
#[derive(Debug, Default)]
pub struct Disk {
    state: Mutex<State>,
}

impl Disk {
    pub fn new() -> Arc<Disk> {
        Arc::new(Disk::default())
    }

    /// Operations done so far.
    pub fn ops(&self) -> u64 {
        self.state.lock().unwrap().ops
    }

    /// Plans `fault` at operation number `op` (counted from the disk's
    /// creation); `None` clears the plan.
    pub fn plan(&self, at: Option<(u64, Fault)>) {
        self.state.lock().unwrap().plan = at;
    }

    pub fn crashed(&self) -> bool {
        self.state.lock().unwrap().crashed
    }

    /// A copy of this disk as it is (live images), no plan.
    pub fn copy(&self) -> Arc<Disk> {
        self.image(|f| f.live.clone())
    }

    /// The disk a crash leaves: every file as it was at its last sync.
    pub fn after_crash(&self) -> Arc<Disk> {
        self.image(|f| f.durable.clone())
    }

    fn image(&self, take: impl Fn(&File) -> Vec<u8>) -> Arc<Disk> {
        let s = self.state.lock().unwrap();
        let files = s
            .files
            .iter()
            .map(|(name, f)| {
                let bytes = take(&f.lock().unwrap());
                let file = File {
                    live: bytes.clone(),
                    durable: bytes,
                };
                (name.clone(), Arc::new(Mutex::new(file)))
            })
            .collect();
        Arc::new(Disk {
            state: Mutex::new(State {
                files,
                ops: s.ops,
                ..State::default()
            }),
        })
    }

    /// Whether any file's live bytes contain `needle`.
    pub fn contains(&self, needle: &[u8]) -> bool {
        let s = self.state.lock().unwrap();
        s.files.values().any(|f| {
            let f = f.lock().unwrap();
            f.live.windows(needle.len()).any(|w| w == needle)
        })
    }

    /// Counts one operation and applies the plan to it.
    fn op(&self) -> io::Result<()> {
        let mut s = self.state.lock().unwrap();
        if s.crashed {
            return Err(io::Error::other("injected: the disk crashed earlier"));
        }
        s.ops += 1;
        match s.plan {
            Some((at, fault)) if at == s.ops => match fault {
                Fault::Error => Err(io::Error::other("injected I/O error")),
                Fault::Full => Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "injected: no space left on device",
                )),
                Fault::Crash => {
                    s.crashed = true;
                    Err(io::Error::other("injected crash"))
                }
            },
            _ => Ok(()),
        }
    }
}

/// One file of a [`Disk`] as redb's storage backend.
#[derive(Debug)]
struct Backend {
    disk: Arc<Disk>,
    file: Arc<Mutex<File>>,
}

impl StorageBackend for Backend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.lock().unwrap().live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let f = self.file.lock().unwrap();
        let start = offset as usize;
        let src = f
            .live
            .get(start..start + out.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.disk.op()?;
        self.file.lock().unwrap().live.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.disk.op()?;
        let mut f = self.file.lock().unwrap();
        f.durable = f.live.clone();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.disk.op()?;
        let mut f = self.file.lock().unwrap();
        let end = offset as usize + data.len();
        if f.live.len() < end {
            f.live.resize(end, 0);
        }
        f.live[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

/// The disk as heatstore's virtual file system.
#[derive(Debug, Clone)]
pub struct DiskVfs(pub Arc<Disk>);

impl Vfs for DiskVfs {
    fn open(&self, name: &str, create: bool) -> io::Result<Box<dyn StorageBackend>> {
        let mut s = self.0.state.lock().unwrap();
        let file = match s.files.get(name) {
            Some(f) => Arc::clone(f),
            None if create => {
                let f = Arc::new(Mutex::new(File::default()));
                s.files.insert(name.to_owned(), Arc::clone(&f));
                f
            }
            None => return Err(io::Error::new(io::ErrorKind::NotFound, name.to_owned())),
        };
        Ok(Box::new(Backend {
            disk: Arc::clone(&self.0),
            file,
        }))
    }

    fn exists(&self, name: &str) -> bool {
        self.0.state.lock().unwrap().files.contains_key(name)
    }

    /// Atomic and durable at once (a rename of a synced file followed by a
    /// directory sync, as the file-system rewrite does).
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.0.op()?;
        let mut s = self.0.state.lock().unwrap();
        let f = s
            .files
            .remove(from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.to_owned()))?;
        s.files.insert(to.to_owned(), f);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.0.state.lock().unwrap().files.remove(name);
        Ok(())
    }
}
