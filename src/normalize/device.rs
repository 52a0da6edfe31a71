//! User-Agent → device. (Stub: the full uap-core implementation lands next.)

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Device class of a session, derived from its User-Agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceClass {
    /// A desktop or laptop browser.
    Desktop = 0,
    /// A phone.
    Mobile = 1,
    /// A tablet.
    Tablet = 2,
    /// A crawler, monitor or other automated client.
    Bot = 3,
    /// No User-Agent, or one that says nothing usable.
    #[default]
    Unknown = 4,
}

impl DeviceClass {
    /// Every class, in code order.
    pub const ALL: [DeviceClass; 5] = [
        DeviceClass::Desktop,
        DeviceClass::Mobile,
        DeviceClass::Tablet,
        DeviceClass::Bot,
        DeviceClass::Unknown,
    ];

    /// The name used in reports and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Bot => "bot",
            DeviceClass::Unknown => "unknown",
        }
    }

    /// The one-byte code stored on disk.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The class of an on-disk code.
    pub fn from_code(code: u8) -> Option<DeviceClass> {
        DeviceClass::ALL.get(usize::from(code)).copied()
    }

    /// Parses a class name (`desktop`, `mobile`, ...).
    pub fn parse(name: &str) -> Option<DeviceClass> {
        DeviceClass::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// What a User-Agent says about the device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device class.
    pub class: DeviceClass,
    /// Browser family, uap-core name (`Chrome`, `Mobile Safari`, `Other`).
    pub browser: String,
    /// Browser major version, when known.
    pub browser_major: Option<String>,
    /// OS family, uap-core name (`Windows`, `iOS`, `Other`).
    pub os: String,
    /// OS major version, when known.
    pub os_major: Option<String>,
}

impl Device {
    /// Parses one User-Agent string (no cache). The parser is built once per
    /// process, on first use.
    pub fn parse(ua: &str) -> Device {
        let _ = ua;
        Device {
            class: DeviceClass::Unknown,
            browser: "Other".to_owned(),
            browser_major: None,
            os: "Other".to_owned(),
            os_major: None,
        }
    }
}

/// A cache of parsed User-Agents: each distinct string is parsed once.
#[derive(Debug, Default)]
pub struct UaCache {
    map: HashMap<String, Arc<Device>>,
}

impl UaCache {
    /// Most entries kept before the cache starts over.
    pub const CAPACITY: usize = 65_536;

    /// An empty cache.
    pub fn new() -> UaCache {
        UaCache::default()
    }

    /// The device of `ua`, parsed at most once while it stays cached.
    pub fn get(&mut self, ua: &str) -> Arc<Device> {
        if let Some(d) = self.map.get(ua) {
            return Arc::clone(d);
        }
        if self.map.len() >= Self::CAPACITY {
            self.map.clear();
        }
        let d = Arc::new(Device::parse(ua));
        self.map.insert(ua.to_owned(), Arc::clone(&d));
        d
    }
}
