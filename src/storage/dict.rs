//! Per-partition string dictionaries.
//!
//! Each (site, day) partition has one dictionary per string dimension; ids
//! are dense `u32`s in insertion order. A dictionary belongs to its
//! partition, so rewriting a partition (erasure) rewrites its dictionaries
//! and drops the strings nothing references any more.

use foldhash::HashMap;

use super::codec::{put_bytes, put_varint, Reader};
use super::Corrupt;

/// A string dimension with its own dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Dim {
    Page = 0,
    Selector = 1,
    Name = 2,
    Browser = 3,
    Os = 4,
    RefHost = 5,
}

/// A string dictionary.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dict {
    strings: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Dict {
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }

    /// The id of `s`, adding it when new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_owned());
        self.ids.insert(s.to_owned(), id);
        id
    }

    pub(crate) fn id(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.strings.get(i))
            .map(String::as_str)
    }

    /// The string of an id read from disk: an unknown id is corruption.
    pub(crate) fn resolve(&self, id: u64) -> Result<&str, Corrupt> {
        self.get(id)
            .ok_or_else(|| Corrupt::new("dictionary", format!("id {id} is not in the dictionary")))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.strings.len() as u64);
        for s in &self.strings {
            put_bytes(&mut out, s.as_bytes());
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Dict, Corrupt> {
        let mut r = Reader::new(bytes, "dictionary");
        let n = r.count(1)?;
        let mut d = Dict::default();
        for _ in 0..n {
            let s = r.str_prefixed()?;
            if d.ids.contains_key(s) {
                return Err(r.corrupt("duplicate string"));
            }
            d.intern(s);
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corruption() {
        let mut d = Dict::default();
        assert_eq!(d.intern("/a"), 0);
        assert_eq!(d.intern("/b"), 1);
        assert_eq!(d.intern("/a"), 0);
        let back = Dict::decode(&d.encode()).unwrap();
        assert_eq!(back.get(1), Some("/b"));
        assert!(back.resolve(2).is_err());
        let mut bad = d.encode();
        bad.truncate(3);
        assert!(Dict::decode(&bad).is_err());
    }
}
