//! The settings etcd can change while an instance runs (`/lab/config/<name>`), applied by every
//! instance as its watch sees them; `/cluster` shows the revision applied.

use crate::kv::Consistency;
use crate::settings::Policy;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

/// The prefix of the live settings' keys in etcd.
pub const PREFIX: &str = system::names::SETTINGS_PREFIX;

/// The live settings of one instance.
#[derive(Debug)]
pub struct Live {
    default_consistency: RwLock<Consistency>,
    policy: RwLock<Policy>,
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

impl Live {
    /// The settings the command line gave.
    pub fn new(default_consistency: Consistency, policy: Policy) -> Live {
        Live {
            default_consistency: RwLock::new(default_consistency),
            policy: RwLock::new(policy),
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
        let value = value.trim();
        match name {
            "default-consistency" => match Consistency::parse(value) {
                Ok(c) => {
                    *self
                        .default_consistency
                        .write()
                        .unwrap_or_else(|e| e.into_inner()) = c;
                    Applied::Set
                }
                Err(e) => Applied::Refused(format!("{key}: {e}")),
            },
            "conflict-policy" => match Policy::parse(value) {
                Some(p) => {
                    *self.policy.write().unwrap_or_else(|e| e.into_inner()) = p;
                    Applied::Set
                }
                None => Applied::Refused(format!(
                    "{key}: unknown policy {value:?}; choose wall or hlc"
                )),
            },
            _ => Applied::Refused(format!(
                "{key}: no such setting (default-consistency, conflict-policy)"
            )),
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
            Applied::Refused(_)
        ));
        live.applied_up_to(7);
        live.applied_up_to(5);
        assert_eq!(live.revision(), 7);
    }
}
