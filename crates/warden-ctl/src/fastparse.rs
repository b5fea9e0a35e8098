//! A fast path for parsing `<methodResponse>` bodies.
//!
//! [`warden_xmlrpc::parse_response`] is complete and strict but builds an
//! element tree first; for `getAllProcessInfo` with 1000 processes (1.2 MB)
//! that costs about 15 ms of allocation, more than the whole budget of
//! `warden ctl status`. This single-pass parser handles exactly the shapes
//! supervisord and warden emit (no comments, CDATA, `\r`, attributes,
//! `dateTime` or `base64`) and returns `None` for anything else, in which case
//! the caller uses `warden_xmlrpc::parse_response`. So the result is always
//! the one `warden-xmlrpc` would give; the unit tests check that on samples.

use std::borrow::Cow;

use warden_xmlrpc::{Fault, Struct, Value};

struct P<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> P<'a> {
    fn ws(&mut self) {
        let b = self.s.as_bytes();
        while self.i < b.len() && matches!(b[self.i], b' ' | b'\t' | b'\n') {
            self.i += 1;
        }
    }

    /// `<name>` (Some(false)) or `<name/>` (Some(true)).
    fn open(&mut self, name: &str) -> Option<bool> {
        self.ws();
        let rest = &self.s[self.i..];
        let r = rest.strip_prefix('<')?.strip_prefix(name)?;
        if r.starts_with('>') {
            self.i += name.len() + 2;
            Some(false)
        } else if r.starts_with("/>") {
            self.i += name.len() + 3;
            Some(true)
        } else {
            None
        }
    }

    fn close(&mut self, name: &str) -> Option<()> {
        self.ws();
        let rest = &self.s[self.i..];
        rest.strip_prefix("</")?
            .strip_prefix(name)?
            .strip_prefix('>')?;
        self.i += name.len() + 3;
        Some(())
    }

    /// Character data up to the next `<`, entities decoded.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        let rest = &self.s[self.i..];
        let end = rest.find('<')?;
        let raw = &rest[..end];
        self.i += end;
        if raw.contains('\r') || raw.contains('>') {
            return None;
        }
        if !raw.contains('&') {
            return Some(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut parts = raw.split('&');
        out.push_str(parts.next()?);
        for p in parts {
            let (ent, tail) = p.split_once(';')?;
            match ent {
                "lt" => out.push('<'),
                "gt" => out.push('>'),
                "amp" => out.push('&'),
                "quot" => out.push('"'),
                "apos" => out.push('\''),
                _ => {
                    let n = if let Some(h) = ent.strip_prefix("#x") {
                        u32::from_str_radix(h, 16).ok()?
                    } else {
                        ent.strip_prefix('#')?.parse().ok()?
                    };
                    let c = char::from_u32(n)?;
                    if c == '\r' {
                        return None;
                    }
                    out.push(c);
                }
            }
            out.push_str(tail);
        }
        Some(Cow::Owned(out))
    }

    fn value(&mut self) -> Option<Value> {
        if self.open("value")? {
            return Some(Value::String(String::new()));
        }
        let t = self.text()?;
        if self.s[self.i..].starts_with("</value>") {
            self.i += 8;
            return Some(Value::String(t.into_owned()));
        }
        if !t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n')) {
            return None;
        }
        let rest = &self.s[self.i..];
        let v = if rest.starts_with("<string") {
            if self.open("string")? {
                Value::String(String::new())
            } else {
                let t = self.text()?.into_owned();
                self.close("string")?;
                Value::String(t)
            }
        } else if rest.starts_with("<int>") || rest.starts_with("<i4>") {
            let tag = if rest.starts_with("<int>") {
                "int"
            } else {
                "i4"
            };
            self.open(tag)?;
            let t = self.text()?;
            let n: i32 = t.trim().parse().ok()?;
            self.close(tag)?;
            Value::Int(n)
        } else if rest.starts_with("<boolean>") {
            self.open("boolean")?;
            let b = match self.text()?.trim() {
                "0" => false,
                "1" => true,
                _ => return None,
            };
            self.close("boolean")?;
            Value::Boolean(b)
        } else if rest.starts_with("<array>") {
            self.open("array")?;
            let mut items = Vec::new();
            if !self.open("data")? {
                loop {
                    self.ws();
                    if self.s[self.i..].starts_with("</data>") {
                        self.i += 7;
                        break;
                    }
                    items.push(self.value()?);
                }
            }
            self.close("array")?;
            Value::Array(items)
        } else if rest.starts_with("<struct>") {
            self.open("struct")?;
            let mut st = Struct::new();
            loop {
                self.ws();
                if self.s[self.i..].starts_with("</struct>") {
                    self.i += 9;
                    break;
                }
                if self.open("member")? {
                    return None;
                }
                if self.open("name")? {
                    return None;
                }
                let name = self.text()?.into_owned();
                self.close("name")?;
                let v = self.value()?;
                self.close("member")?;
                st.insert(name, v);
            }
            Value::Struct(st)
        } else if rest.starts_with("<nil/>") {
            self.i += 6;
            Value::Nil
        } else {
            // double, dateTime, base64, unknown: leave to warden-xmlrpc.
            return None;
        };
        self.close("value")?;
        Some(v)
    }

    fn response(&mut self) -> Option<Result<Value, Fault>> {
        if let Some(r) = self.s.strip_prefix("<?xml") {
            let end = r.find("?>")?;
            let decl = &r[..end];
            if decl.contains("encoding")
                && !(decl.contains("'utf-8'") || decl.contains("\"utf-8\""))
            {
                return None;
            }
            self.i = 5 + end + 2;
        }
        if self.open("methodResponse")? {
            return None;
        }
        let out = if self.open("params") == Some(false) {
            if self.open("param")? {
                return None;
            }
            let v = self.value()?;
            self.close("param")?;
            self.close("params")?;
            Ok(v)
        } else {
            if self.open("fault")? {
                return None;
            }
            let v = self.value()?;
            self.close("fault")?;
            let s = v.as_struct()?;
            if s.len() != 2 {
                return None;
            }
            Err(Fault::from_value(&v)?)
        };
        self.close("methodResponse")?;
        self.ws();
        (self.i == self.s.len()).then_some(out)
    }
}

/// Parse a response body, or `None` if it is not in the simple subset.
pub fn parse_response(input: &[u8]) -> Option<Result<Value, Fault>> {
    let s = std::str::from_utf8(input).ok()?;
    P { s, i: 0 }.response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(xml: &str) {
        let slow = warden_xmlrpc::parse_response(xml.as_bytes()).expect("valid sample");
        if let Some(fast) = parse_response(xml.as_bytes()) {
            assert_eq!(fast, slow, "{xml}");
        }
    }

    fn must(xml: &str) {
        assert!(
            parse_response(xml.as_bytes()).is_some(),
            "fast path refused {xml}"
        );
        check(xml);
    }

    #[test]
    fn same_as_warden_xmlrpc() {
        let info = Struct::new()
            .with("name", "a<b>&\"c'")
            .with("pid", 42)
            .with("ok", true)
            .with("empty", "")
            .with("list", Value::Array(vec![Value::from(1), Value::from("x")]))
            .with("nested", Struct::new().with("k", "v"));
        for v in [
            Value::Array(vec![Value::Struct(info.clone()), Value::Struct(info)]),
            Value::from("3.0"),
            Value::from(""),
            Value::Array(vec![]),
            Value::from(false),
            Value::from("multi\nline\ttext é ✓"),
        ] {
            must(&warden_xmlrpc::write_response(&v));
        }
        must(&warden_xmlrpc::write_fault(&Fault::raw(
            10,
            "BAD_NAME: x&y",
        )));
        must("<?xml version='1.0'?>\n<methodResponse><params><param><value>bare &amp; text</value></param></params></methodResponse>");
        must("<methodResponse><params><param><value><string/></value></param></params></methodResponse>\n");
        must("<methodResponse><params><param><value><i4> 7 </i4></value></param></params></methodResponse>");
        must("<methodResponse><params><param><value><array><data/></array></value></param></params></methodResponse>");
        must("<methodResponse><params><param><value>&#65;&#x42;</value></param></params></methodResponse>");
        // Outside the subset: refused (and warden-xmlrpc is used instead).
        for x in [
            "<methodResponse><params><param><value><double>1.5</double></value></param></params></methodResponse>",
            "<methodResponse><!-- c --><params><param><value>x</value></param></params></methodResponse>",
            "<methodResponse><params><param><value>a\r\nb</value></param></params></methodResponse>",
            "<?xml version='1.0' encoding='latin-1'?><methodResponse><params><param><value>x</value></param></params></methodResponse>",
        ] {
            assert!(parse_response(x.as_bytes()).is_none(), "{x}");
            check(x);
        }
        assert!(parse_response(b"<methodResponse><params>").is_none());
        assert!(parse_response(b"junk").is_none());
    }
}
