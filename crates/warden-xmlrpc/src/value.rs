//! The XML-RPC data model: [`Value`] and the insertion-ordered [`Struct`].

use std::fmt;

/// One XML-RPC value.
///
/// The variants mirror what Python's `xmlrpc.client` marshals, because that is
/// what supervisord 4.3.0 emits and what `supervisorctl` expects back:
///
/// | variant | wire element | Python type |
/// |---|---|---|
/// | [`Int`](Value::Int) | `<int>` (parsed from `<int>`, `<i4>`, `<i8>`) | `int` within ±2³¹ |
/// | [`Boolean`](Value::Boolean) | `<boolean>` | `bool` |
/// | [`String`](Value::String) | `<string>`, or bare text in `<value>` | `str` |
/// | [`Double`](Value::Double) | `<double>` | `float` |
/// | [`DateTime`](Value::DateTime) | `<dateTime.iso8601>` | `xmlrpc.client.DateTime` |
/// | [`Base64`](Value::Base64) | `<base64>` | `bytes` / `Binary` |
/// | [`Struct`](Value::Struct) | `<struct>` | `dict` (insertion order kept) |
/// | [`Array`](Value::Array) | `<array><data>` | `list` / `tuple` |
/// | [`Nil`](Value::Nil) | `<nil/>` | `None` |
///
/// About `Nil`: supervisord never *sends* it (its `dumps` runs without
/// `allow_none`, and it asserts that no method returns `None`), but its request
/// parser does *accept* `<nil/>` and turns it into `None`. So the parser
/// accepts it, and the writer emits it exactly as Python does with
/// `allow_none=True`; a server must simply never put it into a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A 32-bit signed integer. XML-RPC (and Python's marshaller) cannot carry more.
    Int(i32),
    /// A boolean, written as `0` or `1`.
    Boolean(bool),
    /// A Unicode string.
    String(String),
    /// A double-precision float.
    Double(f64),
    /// A date and time in the text form `YYYYMMDDTHH:MM:SS`, kept verbatim
    /// (trimmed) as Python's `xmlrpc.client.DateTime` keeps it.
    DateTime(String),
    /// Raw bytes, base64 encoded on the wire.
    Base64(Vec<u8>),
    /// A struct whose members keep their insertion order.
    Struct(Struct),
    /// An array.
    Array(Vec<Value>),
    /// `None` (`<nil/>`), an extension to XML-RPC.
    Nil,
}

impl Value {
    /// Builds a [`Value::Base64`] from anything byte-like.
    pub fn base64(bytes: impl Into<Vec<u8>>) -> Self {
        Value::Base64(bytes.into())
    }

    /// Builds a [`Value::DateTime`] from its wire text (e.g. `20240102T03:04:05`).
    pub fn datetime(text: impl Into<String>) -> Self {
        Value::DateTime(text.into())
    }

    /// The XML-RPC type name, as `system.methodSignature` spells types
    /// (`int`, `boolean`, `string`, `double`, `dateTime.iso8601`, `base64`,
    /// `struct`, `array`, `nil`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Struct(_) => "struct",
            Value::Array(_) => "array",
            Value::Nil => "nil",
        }
    }

    /// The integer, if this is an [`Int`](Value::Int).
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Boolean`](Value::Boolean).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The text, if this is a [`String`](Value::String).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The float, if this is a [`Double`](Value::Double).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Base64`](Value::Base64).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Base64(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an [`Array`](Value::Array).
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The struct, if this is a [`Struct`](Value::Struct).
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is [`Nil`](Value::Nil).
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(v.clone())
    }
}

impl From<Struct> for Value {
    fn from(v: Struct) -> Self {
        Value::Struct(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}

/// `None` becomes [`Value::Nil`]. Remember that supervisord never sends nil.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Nil, Into::into)
    }
}

/// Collecting values builds an [`Array`](Value::Array).
impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

/// An XML-RPC struct: string keys, values in insertion order.
///
/// It behaves like a Python `dict`: inserting an existing key replaces the
/// value *in place* (the key keeps its first position). Equality compares
/// members in order, which is stricter than `dict` equality.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Struct {
    members: Vec<(String, Value)>,
}

impl Struct {
    /// An empty struct.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty struct with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        Struct {
            members: Vec::with_capacity(n),
        }
    }

    /// Inserts or replaces `key`, returning the previous value if there was one.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.members.push((key, value));
                None
            }
        }
    }

    /// Builder form of [`insert`](Self::insert).
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, keeping the order of the other members.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(pos).1)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_str())
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Struct {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut s = Struct::new();
        s.extend(iter);
        s
    }
}

/// Inserts each member as [`insert`](Struct::insert) does, in linear time:
/// one key index serves the whole batch (inserting one by one compares each
/// key with all before it, and a request struct of 50 000 members took
/// seconds to parse).
impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Struct {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut index: std::collections::HashMap<String, usize> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        for (k, v) in iter {
            let (k, v) = (k.into(), v.into());
            match index.get(&k) {
                Some(&i) => self.members[i].1 = v,
                None => {
                    index.insert(k.clone(), self.members.len());
                    self.members.push((k, v));
                }
            }
        }
    }
}

impl IntoIterator for Struct {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.members.into_iter()
    }
}

impl fmt::Display for Value {
    /// A compact, Python-`repr`-like rendering for logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Boolean(true) => f.write_str("True"),
            Value::Boolean(false) => f.write_str("False"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Double(d) => f.write_str(&crate::write::python_float_repr(*d)),
            Value::DateTime(s) => write!(f, "<DateTime {s:?}>"),
            Value::Base64(b) => write!(f, "<{} bytes>", b.len()),
            Value::Nil => f.write_str("None"),
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Struct(s) => {
                f.write_str("{")?;
                for (i, (k, v)) in s.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collecting_many_members_is_linear() {
        let t = std::time::Instant::now();
        let mut s: Struct = (0..40_000).map(|i| (format!("k{i}"), i)).collect();
        s.extend([("k5", 0), ("new", 1)]);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(s.len(), 40_001);
        assert_eq!(s.keys().nth(5), Some("k5"));
        assert_eq!(s.get("k5"), Some(&Value::Int(0)));
        assert_eq!(s.keys().last(), Some("new"));
    }

    #[test]
    fn from_impls() {
        assert_eq!(Value::from(5), Value::Int(5));
        assert_eq!(Value::from(true), Value::Boolean(true));
        assert_eq!(Value::from(1.5), Value::Double(1.5));
        assert_eq!(Value::from("a"), Value::String("a".into()));
        assert_eq!(Value::from(String::from("b")), Value::String("b".into()));
        assert_eq!(Value::from(None::<i32>), Value::Nil);
        assert_eq!(Value::from(Some(3)), Value::Int(3));
        assert_eq!(
            [1, 2].into_iter().collect::<Value>(),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(Value::base64(&b"hi"[..]), Value::Base64(b"hi".to_vec()));
    }

    #[test]
    fn struct_keeps_insertion_order_and_replaces_in_place() {
        let mut s = Struct::new().with("b", 1).with("a", 2).with("c", 3);
        assert_eq!(s.insert("a", 20), Some(Value::Int(2)));
        assert_eq!(s.keys().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(s.get("a"), Some(&Value::Int(20)));
        assert_eq!(s.remove("b"), Some(Value::Int(1)));
        assert_eq!(s.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(s.len(), 2);
        assert!(!s.contains_key("b"));
    }

    #[test]
    fn accessors_and_type_names() {
        assert_eq!(Value::Int(1).as_i32(), Some(1));
        assert_eq!(Value::Int(1).as_str(), None);
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::Boolean(false).as_bool(), Some(false));
        assert_eq!(Value::Double(2.0).as_f64(), Some(2.0));
        assert_eq!(Value::base64(vec![1u8]).as_bytes(), Some(&[1u8][..]));
        assert!(Value::Nil.is_nil());
        let names: Vec<_> = [
            Value::Int(0),
            Value::Boolean(true),
            Value::from(""),
            Value::Double(0.0),
            Value::datetime("x"),
            Value::base64(vec![]),
            Value::Struct(Struct::new()),
            Value::Array(vec![]),
            Value::Nil,
        ]
        .iter()
        .map(Value::type_name)
        .collect();
        assert_eq!(
            names,
            [
                "int",
                "boolean",
                "string",
                "double",
                "dateTime.iso8601",
                "base64",
                "struct",
                "array",
                "nil"
            ]
        );
    }

    #[test]
    fn display_is_python_like() {
        let v = Value::Array(vec![
            Value::Int(8843),
            Value::Struct(
                Struct::new()
                    .with("faultCode", 10)
                    .with("faultString", "BAD_NAME: zz"),
            ),
            Value::Boolean(true),
            Value::Double(1e16),
        ]);
        assert_eq!(
            v.to_string(),
            r#"[8843, {"faultCode": 10, "faultString": "BAD_NAME: zz"}, True, 1e+16]"#
        );
    }
}
