//! Serialization, byte-for-byte as Python's `xmlrpc.client.dumps` does it.
//!
//! supervisord builds every response with `xmlrpclib.dumps((value,),
//! methodresponse=True)` (or `dumps(Fault(...))`), so matching `dumps`
//! exactly makes warden's responses indistinguishable on the wire. The golden
//! tests below embed strings produced by CPython 3.11.
//!
//! Deliberate differences, which only matter for inputs that would make
//! Python emit malformed XML: the method name of a `methodCall` and the text
//! of a `dateTime.iso8601` are escaped here (Python writes them raw). For
//! every valid method name and date the output is identical.
//!
//! Like Python, only `&`, `<` and `>` are escaped; `"`, `'`, `\r` and control
//! characters are written as they are (so, as with supervisord, a string
//! holding e.g. `\x01` yields a document strict XML parsers reject).

use std::fmt::Write as _;

use base64::Engine as _;

use crate::fault::Fault;
use crate::value::Value;

const XML_HEADER: &str = "<?xml version='1.0'?>\n";

/// A `methodResponse` carrying one value, as supervisord sends a successful result.
pub fn write_response(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(XML_HEADER);
    out.push_str("<methodResponse>\n<params>\n<param>\n");
    write_value(&mut out, value);
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out
}

/// A `methodResponse` carrying a fault.
pub fn write_fault(fault: &Fault) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_HEADER);
    out.push_str("<methodResponse>\n<fault>\n");
    write_value(&mut out, &fault.to_value());
    out.push_str("</fault>\n</methodResponse>\n");
    out
}

/// A `methodResponse` whose one value `body` appends (a `<value>` element
/// written without building a [`Value`], e.g. by
/// [`ProcessInfo::write_described`](crate::info::ProcessInfo::write_described)).
pub fn write_response_with(capacity: usize, body: impl FnOnce(&mut String)) -> String {
    let mut out = String::with_capacity(capacity);
    out.push_str(XML_HEADER);
    out.push_str("<methodResponse>\n<params>\n<param>\n");
    body(&mut out);
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out
}

/// Appends a struct member holding a string, as [`write_value`] writes it.
pub(crate) fn member_str(out: &mut String, name: &str, value: &str) {
    out.push_str("<member>\n<name>");
    out.push_str(name);
    out.push_str("</name>\n<value><string>");
    escape_into(out, value);
    out.push_str("</string></value>\n</member>\n");
}

/// Appends a struct member holding an int, as [`write_value`] writes it.
pub(crate) fn member_int(out: &mut String, name: &str, value: i32) {
    out.push_str("<member>\n<name>");
    out.push_str(name);
    out.push_str("</name>\n<value><int>");
    out.push_str(itoa::Buffer::new().format(value));
    out.push_str("</int></value>\n</member>\n");
}

/// A `methodResponse` for either outcome of a call.
pub fn write_result(result: &Result<Value, Fault>) -> String {
    match result {
        Ok(v) => write_response(v),
        Err(f) => write_fault(f),
    }
}

/// A `methodCall`, as `xmlrpc.client.ServerProxy` (and so `supervisorctl`) sends it.
pub fn write_call(method: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(XML_HEADER);
    out.push_str("<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>\n");
        write_value(&mut out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// Appends one `<value>…</value>` element (with Python's trailing newline).
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(i) => {
            out.push_str("<value><int>");
            out.push_str(itoa::Buffer::new().format(*i));
            out.push_str("</int></value>\n");
        }
        Value::Boolean(b) => {
            let _ = writeln!(out, "<value><boolean>{}</boolean></value>", u8::from(*b));
        }
        Value::String(s) => {
            out.push_str("<value><string>");
            escape_into(out, s);
            out.push_str("</string></value>\n");
        }
        Value::Double(d) => {
            out.push_str("<value><double>");
            out.push_str(&python_float_repr(*d));
            out.push_str("</double></value>\n");
        }
        Value::DateTime(s) => {
            out.push_str("<value><dateTime.iso8601>");
            escape_into(out, s);
            out.push_str("</dateTime.iso8601></value>\n");
        }
        Value::Base64(bytes) => {
            out.push_str("<value><base64>\n");
            // base64.encodebytes: lines of at most 76 characters, each ending in "\n".
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            for line in encoded.as_bytes().chunks(76) {
                // The base64 alphabet is ASCII, so any chunk boundary is a char boundary.
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("</base64></value>\n");
        }
        Value::Struct(s) => {
            out.push_str("<value><struct>\n");
            for (k, v) in s.iter() {
                out.push_str("<member>\n<name>");
                escape_into(out, k);
                out.push_str("</name>\n");
                write_value(out, v);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for v in items {
                write_value(out, v);
            }
            out.push_str("</data></array></value>\n");
        }
        // Python's dump_nil writes no newline after this element.
        Value::Nil => out.push_str("<value><nil/></value>"),
    }
}

/// Python's `xml.sax.saxutils.escape`-like escape used by `xmlrpc.client`:
/// `&`, `<` and `>` only.
fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(pos) = rest.find(['&', '<', '>']) {
        out.push_str(&rest[..pos]);
        out.push_str(match rest.as_bytes()[pos] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
}

/// Formats a float as Python's `repr(float)` does: the shortest digits that
/// round-trip, fixed notation when the decimal exponent is in `-4..16`
/// (always with a fractional part, `1.0`), otherwise `1e+16` / `1.5e-07`
/// style with a signed, at least two-digit exponent; `inf`, `-inf`, `nan`.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x.is_infinite() {
        return format!("{sign}inf");
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e-7", "0e0", "5e-324".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let ndigits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // Position of the decimal point relative to the start of `digits`.
    let decpt = exp + 1;
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            let zeros = "0".repeat(usize::try_from(-decpt).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else if decpt >= ndigits {
            let zeros = "0".repeat(usize::try_from(decpt - ndigits).unwrap_or(0));
            format!("{sign}{digits}{zeros}.0")
        } else {
            let (int, frac) = digits.split_at(usize::try_from(decpt).unwrap_or(0));
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultCode;
    use crate::value::Struct;

    // Every expected string below was produced by CPython 3.11's
    // xmlrpc.client.dumps(...), as noted above each one.

    #[test]
    fn golden_int_response() {
        // dumps((1,), methodresponse=True)
        assert_eq!(
            write_response(&Value::Int(1)),
            "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
             <value><int>1</int></value>\n</param>\n</params>\n</methodResponse>\n"
        );
    }

    #[test]
    fn golden_nested_struct_response() {
        // dumps(({'a':1,'b':[True,False,'s<&>"\'\r\x01é'],'c':1.5,
        //         'd':Binary(b'hi\x00'*30),'e':DateTime('20240102T03:04:05')},),
        //       methodresponse=True)
        let v = Value::Struct(
            Struct::new()
                .with("a", 1)
                .with(
                    "b",
                    Value::Array(vec![true.into(), false.into(), "s<&>\"'\r\u{1}é".into()]),
                )
                .with("c", 1.5)
                .with("d", Value::base64(b"hi\x00".repeat(30)))
                .with("e", Value::datetime("20240102T03:04:05")),
        );
        let expected = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
<value><struct>\n<member>\n<name>a</name>\n<value><int>1</int></value>\n</member>\n\
<member>\n<name>b</name>\n<value><array><data>\n<value><boolean>1</boolean></value>\n\
<value><boolean>0</boolean></value>\n<value><string>s&lt;&amp;&gt;\"'\r\u{1}é</string></value>\n\
</data></array></value>\n</member>\n<member>\n<name>c</name>\n<value><double>1.5</double></value>\n\
</member>\n<member>\n<name>d</name>\n<value><base64>\n\
aGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkA\n\
aGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkAaGkA\n</base64></value>\n</member>\n\
<member>\n<name>e</name>\n<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n\
</member>\n</struct></value>\n</param>\n</params>\n</methodResponse>\n";
        assert_eq!(write_response(&v), expected);
    }

    #[test]
    fn golden_fault() {
        // dumps(Fault(10, 'BAD_NAME: foo')) -- identical with methodresponse=True
        assert_eq!(
            write_fault(&Fault::with_detail(FaultCode::BadName, "foo")),
            "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n\
             <member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n\
             <member>\n<name>faultString</name>\n<value><string>BAD_NAME: foo</string></value>\n\
             </member>\n</struct></value>\n</fault>\n</methodResponse>\n"
        );
    }

    #[test]
    fn golden_calls() {
        // dumps((1, 'a'), 'supervisor.getState')
        assert_eq!(
            write_call("supervisor.getState", &[1.into(), "a".into()]),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getState</methodName>\n\
             <params>\n<param>\n<value><int>1</int></value>\n</param>\n<param>\n\
             <value><string>a</string></value>\n</param>\n</params>\n</methodCall>\n"
        );
        // dumps((), 'supervisor.getState')
        assert_eq!(
            write_call("supervisor.getState", &[]),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getState</methodName>\n\
             <params>\n</params>\n</methodCall>\n"
        );
        // dumps((None,), 'a.b', allow_none=True): no newline after <nil/>'s </value>
        assert_eq!(
            write_call("a.b", &[Value::Nil]),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>a.b</methodName>\n<params>\n\
             <param>\n<value><nil/></value></param>\n</params>\n</methodCall>\n"
        );
        // dumps(([], {}), 'a.b')
        assert_eq!(
            write_call("a.b", &[Value::Array(vec![]), Value::Struct(Struct::new())]),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>a.b</methodName>\n<params>\n\
             <param>\n<value><array><data>\n</data></array></value>\n</param>\n<param>\n\
             <value><struct>\n</struct></value>\n</param>\n</params>\n</methodCall>\n"
        );
        // dumps((datetime.datetime(2024,1,2,3,4,5),), 'a.b')
        assert_eq!(
            write_call("a.b", &[Value::datetime("20240102T03:04:05")]),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>a.b</methodName>\n<params>\n\
             <param>\n<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n\
             </param>\n</params>\n</methodCall>\n"
        );
        // dumps((b'',), 'a.b')
        assert_eq!(
            write_call("a.b", &[Value::base64(vec![])]),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>a.b</methodName>\n<params>\n\
             <param>\n<value><base64>\n</base64></value>\n</param>\n</params>\n</methodCall>\n"
        );
    }

    #[test]
    fn golden_multicall_style_result() {
        // dumps(([8843, {'faultCode': 10, 'faultString': 'BAD_NAME: zz'}],), methodresponse=True)
        let v = Value::Array(vec![
            8843.into(),
            Fault::with_detail(FaultCode::BadName, "zz").to_value(),
        ]);
        assert_eq!(
            write_response(&v),
            "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n\
             <value><int>8843</int></value>\n<value><struct>\n<member>\n<name>faultCode</name>\n\
             <value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n\
             <value><string>BAD_NAME: zz</string></value>\n</member>\n</struct></value>\n\
             </data></array></value>\n</param>\n</params>\n</methodResponse>\n"
        );
    }

    #[test]
    fn golden_escaping_and_extremes() {
        // The <value> lines of dumps(('a&b<c>d"e\'f', -2147483648, 2147483647, {'k&<>': ''}))
        let mut out = String::new();
        for v in [
            Value::from("a&b<c>d\"e'f"),
            Value::Int(i32::MIN),
            Value::Int(i32::MAX),
            Value::Struct(Struct::new().with("k&<>", "")),
        ] {
            write_value(&mut out, &v);
        }
        assert_eq!(
            out,
            "<value><string>a&amp;b&lt;c&gt;d\"e'f</string></value>\n\
             <value><int>-2147483648</int></value>\n\
             <value><int>2147483647</int></value>\n\
             <value><struct>\n<member>\n<name>k&amp;&lt;&gt;</name>\n\
             <value><string></string></value>\n</member>\n</struct></value>\n"
        );
    }

    #[test]
    fn float_repr_matches_python() {
        // [repr(v) for v in ...] in CPython 3.11
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (123_456_789.123, "123456789.123"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (0.000_123, "0.000123"),
            (1.234e-5, "1.234e-05"),
            (f64::MAX, "1.7976931348623157e+308"),
            (9_007_199_254_740_993.0, "9007199254740992.0"),
            (12.0, "12.0"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(*x), *want, "repr({x:e})");
        }
    }

    #[test]
    fn base64_line_wrapping() {
        // base64.encodebytes(b'x' * 57) is exactly one 76-char line
        let mut out = String::new();
        write_value(&mut out, &Value::base64(vec![b'x'; 57]));
        assert_eq!(
            out,
            format!(
                "<value><base64>\n{}\n</base64></value>\n",
                "eHh4".repeat(19)
            )
        );
    }
}
