//! The settings etcd can change while an instance runs (`/lab/config/<name>`, one row of
//! [`SETTINGS`] each), applied by every instance as its watch sees them; `/cluster` shows the
//! revision applied.

use crate::kv::Consistency;
use crate::limits::RateLimit;
use crate::settings::Policy;
use crate::ServiceError;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

/// The prefix of the live settings' keys in etcd.
pub const PREFIX: &str = system::names::SETTINGS_PREFIX;

/// The live settings of one instance.
#[derive(Debug)]
pub struct Live {
    default_consistency: RwLock<Consistency>,
    policy: RwLock<Policy>,
    rate_limit: RateLimit,
    revision: AtomicI64,
}

/// What applying one key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// The setting changed (or was already so).
    Set,
    /// The key names no setting, or its value is not one the setting takes; the message says
    /// which, and the instance keeps the old value.
    Refused(String),
}

/// One live setting: its key under [`PREFIX`], what it takes, and how an instance applies it.
pub struct Setting {
    /// The key's last part (`rate-limit`).
    pub name: &'static str,
    /// What values it takes, for errors and docs.
    pub takes: &'static str,
    apply: fn(&Live, &str) -> Result<(), String>,
}

/// Every live setting: `apply`'s validation and its errors come from here.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "default-consistency",
        takes: "strong, eventual or async",
        apply: |live, value| {
            let c = Consistency::parse(value).map_err(|e| e.to_string())?;
            *live
                .default_consistency
                .write()
                .unwrap_or_else(|e| e.into_inner()) = c;
            Ok(())
        },
    },
    Setting {
        name: "conflict-policy",
        takes: "wall, hlc or vector",
        apply: |live, value| {
            let p = Policy::parse(value).ok_or_else(|| format!("unknown policy {value:?}"))?;
            *live.policy.write().unwrap_or_else(|e| e.into_inner()) = p;
            Ok(())
        },
    },
    Setting {
        name: "rate-limit",
        takes: "requests per second each instance serves, 0 for no limit",
        apply: |live, value| {
            let n = value
                .parse::<u32>()
                .map_err(|_| format!("{value:?} is not a whole number of requests per second"))?;
            live.rate_limit.set(n);
            Ok(())
        },
    },
];

impl Live {
    /// The settings the command line gave (no rate limit).
    pub fn new(default_consistency: Consistency, policy: Policy) -> Live {
        Live {
            default_consistency: RwLock::new(default_consistency),
            policy: RwLock::new(policy),
            rate_limit: RateLimit::default(),
            revision: AtomicI64::new(0),
        }
    }

    /// The consistency of a request that names none.
    pub fn default_consistency(&self) -> Consistency {
        *self
            .default_consistency
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// How eventual and async writes are stamped.
    pub fn policy(&self) -> Policy {
        *self.policy.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The rate limit in force (requests per second; 0: none).
    pub fn rate_limit(&self) -> u32 {
        self.rate_limit.per_second()
    }

    /// Admits one request under the rate limit, or refuses it (`Overloaded`).
    pub fn admit(&self) -> Result<(), ServiceError> {
        self.rate_limit.admit()
    }

    /// The etcd revision of the settings applied (0: none read yet).
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// Records that everything up to `revision` is applied.
    pub fn applied_up_to(&self, revision: i64) {
        self.revision.fetch_max(revision, Ordering::Relaxed);
    }

    /// Applies `key` (`/lab/config/default-consistency`) = `value`.
    pub fn apply(&self, key: &str, value: &str) -> Applied {
        let name = key.strip_prefix(PREFIX).unwrap_or(key);
        let Some(setting) = SETTINGS.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
            return Applied::Refused(format!("{key}: no such setting ({})", names.join(", ")));
        };
        match (setting.apply)(self, value.trim()) {
            Ok(()) => Applied::Set,
            Err(why) => Applied::Refused(format!("{key}: {why}; it takes {}", setting.takes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_known_settings_and_refuses_the_rest_keeping_the_old_value() {
        let live = Live::new(Consistency::Strong, Policy::Hlc);
        assert_eq!(
            live.apply("/lab/config/default-consistency", "eventual"),
            Applied::Set
        );
        assert_eq!(live.default_consistency(), Consistency::Eventual);
        assert!(
            matches!(live.apply("/lab/config/default-consistency", "weak"), Applied::Refused(m) if m.contains("weak"))
        );
        assert_eq!(live.default_consistency(), Consistency::Eventual);
        assert_eq!(
            live.apply("/lab/config/conflict-policy", "wall"),
            Applied::Set
        );
        assert_eq!(live.policy(), Policy::Wall);
        assert!(matches!(
            live.apply("/lab/config/colour", "red"),
            Applied::Refused(m) if m.contains("rate-limit")
        ));
        assert_eq!(live.apply("/lab/config/rate-limit", "50"), Applied::Set);
        assert_eq!(live.rate_limit(), 50);
        assert!(matches!(
            live.apply("/lab/config/rate-limit", "-1"),
            Applied::Refused(m) if m.contains("whole number")
        ));
        assert_eq!(live.rate_limit(), 50, "a refused value keeps the old one");
        live.applied_up_to(7);
        live.applied_up_to(5);
        assert_eq!(live.revision(), 7);
    }
}
