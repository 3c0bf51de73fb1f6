//! [`Value`]: the data an operation carries, as Jepsen writes it in EDN.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A value in a history: the subset of EDN that Jepsen histories use.
///
/// JSON maps onto it with elle-cli's convention: keywords are written as
/// strings and `nil` as `null`, so a keyword read back from JSON is a
/// [`Value::Str`]. Models compare keywords and strings with
/// [`Value::loosely_eq`] for that reason. EDN lists `( … )` are read as
/// vectors: no checker distinguishes them.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `nil` / `null`.
    #[default]
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A double. Compared and hashed by bit pattern, so `NaN == NaN`.
    Float(f64),
    /// A string.
    Str(String),
    /// A keyword, stored without its leading colon (`:ok` → `"ok"`).
    Keyword(String),
    /// A bare symbol other than `nil`, `true` and `false`.
    Symbol(String),
    /// A vector or list.
    Vector(Vec<Value>),
    /// A map, in the order its entries were read.
    Map(Vec<(Value, Value)>),
    /// A set `#{…}`, in the order its elements were read.
    Set(Vec<Value>),
    /// A tagged element such as `#uuid "…"`; the tag is stored without `#`.
    Tagged(String, Box<Value>),
}

impl Value {
    /// The integer inside, if this is an [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text of a string, keyword or symbol.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of a vector or set.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Vector(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Looks a key up in a map by keyword or string name (`:from` or `"from"`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Equality that treats a keyword and a string with the same text as
    /// equal, recursively: a history converted from EDN to elle-cli JSON
    /// compares the same as the original.
    pub fn loosely_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Keyword(a) | Value::Str(a), Value::Keyword(b) | Value::Str(b)) => a == b,
            (Value::Vector(a), Value::Vector(b)) | (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.loosely_eq(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka.loosely_eq(kb) && va.loosely_eq(vb))
            }
            _ => self == other,
        }
    }

    /// A short name of the variant, for error messages ("expected an integer, found a string").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Keyword(_) => "a keyword",
            Value::Symbol(_) => "a symbol",
            Value::Vector(_) => "a vector",
            Value::Map(_) => "a map",
            Value::Set(_) => "a set",
            Value::Tagged(..) => "a tagged value",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Str(a), Str(b)) | (Keyword(a), Keyword(b)) | (Symbol(a), Symbol(b)) => a == b,
            (Vector(a), Vector(b)) | (Set(a), Set(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Tagged(ta, a), Tagged(tb, b)) => ta == tb && a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Nil => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => f.to_bits().hash(state),
            Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => s.hash(state),
            Value::Vector(v) | Value::Set(v) => v.hash(state),
            Value::Map(m) => m.hash(state),
            Value::Tagged(t, v) => {
                t.hash(state);
                v.hash(state)
            }
        }
    }
}

/// A total order (by variant, then content; floats by `total_cmp`), so
/// values can be kept in sorted sets and maps.
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Str(a), Str(b)) | (Keyword(a), Keyword(b)) | (Symbol(a), Symbol(b)) => a.cmp(b),
            (Vector(a), Vector(b)) | (Set(a), Set(b)) => a.cmp(b),
            (Map(a), Map(b)) => a.cmp(b),
            (Tagged(ta, a), Tagged(tb, b)) => ta.cmp(tb).then_with(|| a.cmp(b)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Str(_) => 4,
            Value::Keyword(_) => 5,
            Value::Symbol(_) => 6,
            Value::Vector(_) => 7,
            Value::Map(_) => 8,
            Value::Set(_) => 9,
            Value::Tagged(..) => 10,
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

/// Displays the value as EDN (`[1 2]`, `:ok`, `"x"`, `nil`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::edn::write_value(f, self)
    }
}

#[cfg(test)]
mod size {
    /// Histories hold millions of values: each one's size is what a history costs.
    #[test]
    fn a_value_is_32_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 32);
    }
}
