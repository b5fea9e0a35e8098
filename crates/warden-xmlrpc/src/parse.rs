//! Parsing `<methodCall>` and `<methodResponse>` documents.
//!
//! # What is accepted
//!
//! The reference is the request parser of supervisord 4.3.0 (its own
//! ElementTree-based `loads`, not `xmlrpc.server`) and, for responses, Python's
//! `xmlrpc.client`. Anything those accept from a well-behaved client is
//! accepted here, with the same result:
//!
//! - `<value>` with no child element is a string (its text, untrimmed);
//!   `<value/>` is the empty string.
//! - `<int>`, `<i4>` and `<i8>`: Python's `int()` rules (surrounding whitespace,
//!   a sign, `_` between digits). Values outside the 32-bit range are refused.
//! - `<boolean>`: exactly `1` is true, **anything else is false** (supervisord's
//!   rule; `xmlrpc.client` would raise on e.g. `true`).
//! - `<double>`: Python's `float()` rules, including `inf` and `nan`.
//! - `<string>` (also `<string/>`), `<dateTime.iso8601>` (kept as trimmed text),
//!   `<base64>` (whitespace and other non-alphabet bytes ignored), `<nil/>`,
//!   `<struct>` (a repeated name keeps its first position and takes the last
//!   value, like a `dict`), `<array><data>`.
//! - Missing `<params>` means no parameters.
//! - The five predefined entities, character references and CDATA; line ends
//!   are normalized as XML requires (`\r\n` and `\r` become `\n`, `&#13;` stays).
//! - UTF-8 input (a BOM is skipped), or a declared `us-ascii` / `iso-8859-1`.
//!
//! # What is refused, and how
//!
//! Every failure is a [`ParseError`]; supervisord answers all of them with
//! HTTP 400 (it catches any exception from its `loads`), and so should the
//! HTTP layer. [`ParseError::kind`] says which sort it was, for logging.
//! Being stricter than supervisord in a few corners costs nothing, as no real
//! client sends such documents: a root other than `<methodCall>` (supervisord
//! only looks for a `<methodName>` anywhere), unknown type elements and stray
//! elements (it would read their text), `<i8>` (a string there), and ints
//! outside 32 bits (Python would carry them as big integers). Raw control
//! characters, which expat rejects, are accepted.

use std::borrow::Cow;

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::fault::Fault;
use crate::value::{Struct, Value};

/// How deeply elements may nest before the document is refused. It bounds the
/// recursion of the interpreter; real traffic nests a handful of levels.
pub const MAX_DEPTH: usize = 512;

/// A parsed `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// The method name, verbatim (not yet validated; see [`crate::methods`]).
    pub method: String,
    /// The parameters, in order.
    pub params: Vec<Value>,
}

/// A parsed `<methodResponse>`: the returned value, or the fault.
pub type Response = Result<Value, Fault>;

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not well-formed XML (or not in a supported encoding).
    #[error("malformed XML at byte {position}: {message}")]
    Syntax {
        /// Byte offset where the problem was noticed.
        position: u64,
        /// What was wrong.
        message: String,
    },
    /// A `<methodCall>` without a `<methodName>`, or with an empty one.
    #[error("missing or empty <methodName>")]
    MissingMethodName,
    /// Well-formed XML that is not the expected XML-RPC document shape.
    #[error("invalid XML-RPC document: {0}")]
    Structure(String),
    /// A typed value whose text is not valid for its type.
    #[error("invalid <{element}> value {text:?}: {reason}")]
    InvalidValue {
        /// The type element, e.g. `int`.
        element: String,
        /// The offending text.
        text: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// The sort of a [`ParseError`], without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// See [`ParseError::Syntax`].
    Syntax,
    /// See [`ParseError::MissingMethodName`].
    MissingMethodName,
    /// See [`ParseError::Structure`].
    Structure,
    /// See [`ParseError::InvalidValue`].
    InvalidValue,
}

impl ParseError {
    /// The sort of error.
    pub fn kind(&self) -> ParseErrorKind {
        match self {
            ParseError::Syntax { .. } => ParseErrorKind::Syntax,
            ParseError::MissingMethodName => ParseErrorKind::MissingMethodName,
            ParseError::Structure(_) => ParseErrorKind::Structure,
            ParseError::InvalidValue { .. } => ParseErrorKind::InvalidValue,
        }
    }
}

/// Parses a `<methodCall>` request body.
///
/// # Errors
///
/// [`ParseError::MissingMethodName`] when the call has no (or an empty)
/// `<methodName>`; another [`ParseError`] when the body is not well-formed
/// XML or not a valid call. supervisord answers all of these with HTTP 400.
pub fn parse_call(input: &[u8]) -> Result<MethodCall, ParseError> {
    let root = parse_tree(input)?;
    if root.name != "methodCall" {
        return Err(structure(format!(
            "root element is <{}>, expected <methodCall>",
            root.name
        )));
    }
    expect_blank_text(&root)?;
    let mut method = None;
    let mut params = None;
    for child in root.children {
        match child.name.as_str() {
            "methodName" if method.is_none() => {
                expect_no_children(&child)?;
                method = Some(child.text);
            }
            "params" if params.is_none() => params = Some(parse_params(child)?),
            other => {
                return Err(structure(format!("unexpected <{other}> in <methodCall>")));
            }
        }
    }
    let method = method
        .filter(|m| !m.is_empty())
        .ok_or(ParseError::MissingMethodName)?;
    Ok(MethodCall {
        method,
        params: params.unwrap_or_default(),
    })
}

/// Parses a `<methodResponse>`: `Ok(Ok(value))` for a result, `Ok(Err(fault))`
/// for a fault.
///
/// # Errors
///
/// A [`ParseError`] when the body is not well-formed XML, not a response
/// with exactly one parameter, or a fault that is not
/// `{faultCode: int, faultString: string}`.
pub fn parse_response(input: &[u8]) -> Result<Response, ParseError> {
    let root = parse_tree(input)?;
    if root.name != "methodResponse" {
        return Err(structure(format!(
            "root element is <{}>, expected <methodResponse>",
            root.name
        )));
    }
    expect_blank_text(&root)?;
    let mut children = root.children.into_iter();
    let (Some(body), None) = (children.next(), children.next()) else {
        return Err(structure(
            "<methodResponse> must hold exactly one <params> or <fault>",
        ));
    };
    match body.name.as_str() {
        "params" => {
            let mut params = parse_params(body)?;
            if params.len() != 1 {
                return Err(structure(format!(
                    "a response carries exactly one <param>, found {}",
                    params.len()
                )));
            }
            Ok(Ok(params.remove(0)))
        }
        "fault" => {
            expect_blank_text(&body)?;
            let value = single_value(body, "fault")?;
            Fault::from_value(&value).map(Err).ok_or_else(|| {
                structure("<fault> must be a struct with int faultCode and string faultString")
            })
        }
        other => Err(structure(format!(
            "unexpected <{other}> in <methodResponse>"
        ))),
    }
}

/// Parses a single `<value>` element on its own (e.g. from a test fixture).
///
/// # Errors
///
/// As for [`parse_call`].
pub fn parse_value(input: &[u8]) -> Result<Value, ParseError> {
    let root = parse_tree(input)?;
    if root.name != "value" {
        return Err(structure(format!(
            "root element is <{}>, expected <value>",
            root.name
        )));
    }
    value_from(root)
}

fn structure(message: impl Into<String>) -> ParseError {
    ParseError::Structure(message.into())
}

fn syntax(position: u64, message: impl Into<String>) -> ParseError {
    ParseError::Syntax {
        position,
        message: message.into(),
    }
}

/// A minimal element tree: the parser's only intermediate form.
#[derive(Debug)]
struct Element {
    name: String,
    /// All direct character data, concatenated (text around children included).
    text: String,
    children: Vec<Element>,
}

fn is_xml_blank(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Decodes the input to UTF-8 text according to its XML declaration.
fn decode_input(input: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let encoding = declared_encoding(input).map(|e| e.to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("utf-8" | "utf8" | "us-ascii" | "ascii") => {
            std::str::from_utf8(input).map(Cow::Borrowed).map_err(|e| {
                syntax(
                    u64::try_from(e.valid_up_to()).unwrap_or(u64::MAX),
                    "invalid UTF-8",
                )
            })
        }
        Some("iso-8859-1" | "iso8859-1" | "latin-1" | "latin1" | "l1") => {
            // Each Latin-1 byte is the Unicode code point of the same value.
            Ok(Cow::Owned(input.iter().map(|&b| char::from(b)).collect()))
        }
        Some(other) => Err(syntax(0, format!("unsupported encoding {other:?}"))),
    }
}

/// The `encoding="…"` of a leading `<?xml …?>` declaration, if any.
fn declared_encoding(input: &[u8]) -> Option<String> {
    let rest = input.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let after = decl.split_once("encoding")?.1.trim_start();
    let after = after.strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_owned())
}

fn parse_tree(input: &[u8]) -> Result<Element, ParseError> {
    let text = decode_input(input)?;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().enable_all_checks(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| syntax(reader.error_position(), e.to_string()))?;
        let position = reader.buffer_position();
        match event {
            Event::Start(start) => open(&mut stack, &root, &start, position)?,
            Event::Empty(start) => {
                open(&mut stack, &root, &start, position)?;
                close(&mut stack, &mut root);
            }
            Event::End(_) => {
                // quick-xml has already checked that the names match.
                if stack.is_empty() {
                    return Err(syntax(position, "unmatched end tag"));
                }
                close(&mut stack, &mut root);
            }
            Event::Text(t) => {
                let s = t
                    .xml10_content()
                    .map_err(|e| syntax(position, e.to_string()))?;
                push_text(&mut stack, &s, position)?;
            }
            Event::CData(c) => {
                let s = c
                    .xml10_content()
                    .map_err(|e| syntax(position, e.to_string()))?;
                if stack.is_empty() {
                    return Err(syntax(position, "CDATA outside the root element"));
                }
                push_text(&mut stack, &s, position)?;
            }
            Event::GeneralRef(r) => {
                if stack.is_empty() {
                    return Err(syntax(position, "reference outside the root element"));
                }
                let resolved: Cow<'static, str> = match r
                    .resolve_char_ref()
                    .map_err(|e| syntax(position, e.to_string()))?
                {
                    Some(c) => Cow::Owned(c.to_string()),
                    None => {
                        let name = r.decode().map_err(|e| syntax(position, e.to_string()))?;
                        let s = quick_xml::escape::resolve_predefined_entity(&name).ok_or_else(
                            || syntax(position, format!("undefined entity &{name};")),
                        )?;
                        Cow::Borrowed(s)
                    }
                };
                push_text(&mut stack, &resolved, position)?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(syntax(
            reader.buffer_position(),
            "unexpected end of document (unclosed elements)",
        ));
    }
    root.ok_or_else(|| syntax(reader.buffer_position(), "no root element"))
}

fn open(
    stack: &mut Vec<Element>,
    root: &Option<Element>,
    start: &quick_xml::events::BytesStart<'_>,
    position: u64,
) -> Result<(), ParseError> {
    if root.is_some() {
        return Err(syntax(position, "content after the root element"));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(syntax(
            position,
            format!("elements nest deeper than {MAX_DEPTH}"),
        ));
    }
    for attr in start.attributes() {
        attr.map_err(|e| syntax(position, e.to_string()))?;
    }
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| syntax(position, "invalid UTF-8 in element name"))?
        .to_owned();
    stack.push(Element {
        name,
        text: String::new(),
        children: Vec::new(),
    });
    Ok(())
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) {
    if let Some(done) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => *root = Some(done),
        }
    }
}

fn push_text(stack: &mut [Element], s: &str, position: u64) -> Result<(), ParseError> {
    match stack.last_mut() {
        Some(top) => top.text.push_str(s),
        None if is_xml_blank(s) => {}
        None => return Err(syntax(position, "text outside the root element")),
    }
    Ok(())
}

fn expect_blank_text(el: &Element) -> Result<(), ParseError> {
    if is_xml_blank(&el.text) {
        Ok(())
    } else {
        Err(structure(format!("unexpected text in <{}>", el.name)))
    }
}

fn expect_no_children(el: &Element) -> Result<(), ParseError> {
    match el.children.first() {
        None => Ok(()),
        Some(child) => Err(structure(format!(
            "unexpected <{}> inside <{}>",
            child.name, el.name
        ))),
    }
}

/// The only child of `el`, which must be a `<value>`.
fn single_value(el: Element, parent: &str) -> Result<Value, ParseError> {
    let mut children = el.children.into_iter();
    match (children.next(), children.next()) {
        (Some(v), None) if v.name == "value" => value_from(v),
        _ => Err(structure(format!(
            "<{parent}> must hold exactly one <value>"
        ))),
    }
}

fn parse_params(el: Element) -> Result<Vec<Value>, ParseError> {
    expect_blank_text(&el)?;
    el.children
        .into_iter()
        .map(|param| {
            if param.name != "param" {
                return Err(structure(format!(
                    "unexpected <{}> in <params>",
                    param.name
                )));
            }
            expect_blank_text(&param)?;
            single_value(param, "param")
        })
        .collect()
}

fn value_from(el: Element) -> Result<Value, ParseError> {
    let mut children = el.children.into_iter();
    let typed = match (children.next(), children.next()) {
        // An untyped value is a string, whitespace and all.
        (None, _) => return Ok(Value::String(el.text)),
        (Some(typed), None) => typed,
        (Some(_), Some(_)) => return Err(structure("<value> holds more than one element")),
    };
    if !is_xml_blank(&el.text) {
        return Err(structure("<value> mixes text with a typed element"));
    }
    match typed.name.as_str() {
        "int" | "i4" | "i8" => parse_int(&typed.name, scalar(&typed)?).map(Value::Int),
        "boolean" => Ok(Value::Boolean(scalar(&typed)? == "1")),
        "string" => {
            expect_no_children(&typed)?;
            Ok(Value::String(typed.text))
        }
        "double" => parse_double(scalar(&typed)?).map(Value::Double),
        "dateTime.iso8601" => Ok(Value::DateTime(scalar(&typed)?.trim().to_owned())),
        "base64" => parse_base64(scalar(&typed)?).map(Value::Base64),
        "nil" => {
            if typed.text.is_empty() && typed.children.is_empty() {
                Ok(Value::Nil)
            } else {
                Err(structure("<nil/> must be empty"))
            }
        }
        "struct" => parse_struct(typed).map(Value::Struct),
        "array" => parse_array(typed).map(Value::Array),
        other => Err(structure(format!("unknown value type <{other}>"))),
    }
}

/// The text of a scalar type element, which must have no child elements.
fn scalar(typed: &Element) -> Result<&str, ParseError> {
    expect_no_children(typed)?;
    Ok(&typed.text)
}

fn parse_struct(el: Element) -> Result<Struct, ParseError> {
    expect_blank_text(&el)?;
    let mut members = Vec::with_capacity(el.children.len());
    for member in el.children {
        if member.name != "member" {
            return Err(structure(format!(
                "unexpected <{}> in <struct>",
                member.name
            )));
        }
        expect_blank_text(&member)?;
        let mut name = None;
        let mut value = None;
        for part in member.children {
            match part.name.as_str() {
                "name" if name.is_none() => {
                    expect_no_children(&part)?;
                    name = Some(part.text);
                }
                "value" if value.is_none() => value = Some(value_from(part)?),
                other => {
                    return Err(structure(format!("unexpected <{other}> in <member>")));
                }
            }
        }
        match (name, value) {
            (Some(n), Some(v)) => members.push((n, v)),
            _ => return Err(structure("<member> needs one <name> and one <value>")),
        }
    }
    // `collect` (not `insert` one by one) keeps repeated names linear.
    Ok(members.into_iter().collect())
}

fn parse_array(el: Element) -> Result<Vec<Value>, ParseError> {
    expect_blank_text(&el)?;
    let mut children = el.children.into_iter();
    let data = match (children.next(), children.next()) {
        (Some(d), None) if d.name == "data" => d,
        _ => return Err(structure("<array> must hold exactly one <data>")),
    };
    expect_blank_text(&data)?;
    data.children
        .into_iter()
        .map(|v| {
            if v.name == "value" {
                value_from(v)
            } else {
                Err(structure(format!("unexpected <{}> in <data>", v.name)))
            }
        })
        .collect()
}

fn invalid(element: &str, text: &str, reason: &'static str) -> ParseError {
    ParseError::InvalidValue {
        element: element.to_owned(),
        text: text.to_owned(),
        reason,
    }
}

/// Removes `_` separators the way Python's numeric literals allow them: only
/// single underscores, each between two digits. `None` if misplaced.
fn strip_underscores(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('_') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            let after = b.get(i + 1);
            if !(before.is_some_and(u8::is_ascii_digit) && after.is_some_and(u8::is_ascii_digit)) {
                return None;
            }
        }
    }
    Some(Cow::Owned(s.replace('_', "")))
}

/// Python `int(text)` restricted to the 32-bit range XML-RPC can carry.
fn parse_int(element: &str, text: &str) -> Result<i32, ParseError> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return Err(invalid(element, text, "not an integer"));
    }
    let clean = strip_underscores(t).ok_or_else(|| invalid(element, text, "misplaced '_'"))?;
    // i128 catches everything up to 38 digits; longer is out of range anyway.
    clean
        .parse::<i128>()
        .ok()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| invalid(element, text, "outside the 32-bit integer range"))
}

/// Python `float(text)`.
fn parse_double(text: &str) -> Result<f64, ParseError> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let clean = strip_underscores(t).ok_or_else(|| invalid("double", text, "misplaced '_'"))?;
    let body = clean.strip_prefix(['+', '-']).unwrap_or(&clean);
    let word = body.to_ascii_lowercase();
    let special = matches!(word.as_str(), "inf" | "infinity" | "nan");
    // Rust also accepts forms Python does not (none are known), and both
    // refuse hex floats; the check keeps letters other than e/E out.
    if !special
        && !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b"eE.+-".contains(&b))
    {
        return Err(invalid("double", text, "not a number"));
    }
    clean
        .parse::<f64>()
        .map_err(|_| invalid("double", text, "not a number"))
}

/// Python `base64.decodebytes`: bytes outside the alphabet are skipped.
fn parse_base64(text: &str) -> Result<Vec<u8>, ParseError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let filtered: Vec<u8> = text
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    LENIENT
        .decode(filtered)
        .map_err(|_| invalid("base64", text, "not valid base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(xml: &str) -> MethodCall {
        parse_call(xml.as_bytes()).unwrap_or_else(|e| panic!("{xml}: {e}"))
    }

    fn value(xml: &str) -> Value {
        parse_value(xml.as_bytes()).unwrap_or_else(|e| panic!("{xml}: {e}"))
    }

    fn call_err(xml: &[u8]) -> ParseErrorKind {
        parse_call(xml)
            .map(|c| panic!("accepted {c:?}"))
            .unwrap_or_else(|e| e.kind())
    }

    fn one_param(xml_value: &str) -> Value {
        let mut c = call(&format!(
            "<methodCall><methodName>a.b</methodName><params><param>{xml_value}</param></params></methodCall>"
        ));
        assert_eq!(c.params.len(), 1);
        c.params.remove(0)
    }

    #[test]
    fn python_start_process_call() {
        // xmlrpc.client.dumps(('foo', True), 'supervisor.startProcess')
        let c = call(
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.startProcess</methodName>\n\
             <params>\n<param>\n<value><string>foo</string></value>\n</param>\n<param>\n\
             <value><boolean>1</boolean></value>\n</param>\n</params>\n</methodCall>\n",
        );
        assert_eq!(c.method, "supervisor.startProcess");
        assert_eq!(c.params, vec![Value::from("foo"), Value::Boolean(true)]);
    }

    #[test]
    fn python_multicall_call() {
        // xmlrpc.client.dumps(([{'methodName':'supervisor.getPID'},
        //   {'methodName':'supervisor.getProcessInfo','params':['zz']}],), 'system.multicall')
        let c = call(
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.multicall</methodName>\n<params>\n\
             <param>\n<value><array><data>\n<value><struct>\n<member>\n<name>methodName</name>\n\
             <value><string>supervisor.getPID</string></value>\n</member>\n</struct></value>\n\
             <value><struct>\n<member>\n<name>methodName</name>\n\
             <value><string>supervisor.getProcessInfo</string></value>\n</member>\n<member>\n\
             <name>params</name>\n<value><array><data>\n<value><string>zz</string></value>\n\
             </data></array></value>\n</member>\n</struct></value>\n</data></array></value>\n\
             </param>\n</params>\n</methodCall>\n",
        );
        let expected = Value::Array(vec![
            Value::Struct(Struct::new().with("methodName", "supervisor.getPID")),
            Value::Struct(
                Struct::new()
                    .with("methodName", "supervisor.getProcessInfo")
                    .with("params", Value::Array(vec!["zz".into()])),
            ),
        ]);
        assert_eq!(c.params, vec![expected]);
    }

    #[test]
    fn params_are_optional() {
        let c = call("<methodCall><methodName>supervisor.getState</methodName></methodCall>");
        assert_eq!(c.params, vec![]);
        let c = call("<methodCall><methodName>a.b</methodName><params/></methodCall>");
        assert_eq!(c.params, vec![]);
        // Any non-empty name is a name; validation is methods::resolve's job.
        assert_eq!(
            call("<methodCall><methodName> </methodName></methodCall>").method,
            " "
        );
    }

    #[test]
    fn untyped_and_string_values() {
        assert_eq!(one_param("<value>  x </value>"), Value::from("  x "));
        assert_eq!(one_param("<value/>"), Value::from(""));
        assert_eq!(one_param("<value></value>"), Value::from(""));
        assert_eq!(one_param("<value><string/></value>"), Value::from(""));
        assert_eq!(
            one_param("<value>\n  <string> a b </string>\n</value>"),
            Value::from(" a b ")
        );
        assert_eq!(
            value("<value><string>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;é</string></value>"),
            Value::from("<&>\"'ABé")
        );
        assert_eq!(
            value("<value><string><![CDATA[<raw & text>]]></string></value>"),
            Value::from("<raw & text>")
        );
        assert_eq!(value("<value>a<!-- c -->b</value>"), Value::from("ab"));
    }

    #[test]
    fn line_ends_are_normalized_like_expat() {
        // xmlrpc.client.loads of the same text gives 'a\nb\nc\r'
        assert_eq!(
            value("<value>a\r\nb\rc&#13;</value>"),
            Value::from("a\nb\nc\r")
        );
        let c = call("<methodCall><methodName>a\r\nb</methodName></methodCall>");
        assert_eq!(c.method, "a\nb");
    }

    #[test]
    fn integers() {
        for (text, n) in [
            ("1", 1),
            ("-1", -1),
            (" +1_0 ", 10),
            ("007", 7),
            ("2147483647", i32::MAX),
            ("-2147483648", i32::MIN),
            ("\n42\n", 42),
        ] {
            for tag in ["int", "i4", "i8"] {
                assert_eq!(
                    value(&format!("<value><{tag}>{text}</{tag}></value>")),
                    Value::Int(n)
                );
            }
        }
        for bad in [
            "",
            "abc",
            "1.0",
            "2147483648",
            "-2147483649",
            "1__0",
            "_1",
            "1_",
            "+",
            "0x10",
            "1 2",
        ] {
            let err =
                parse_value(format!("<value><int>{bad}</int></value>").as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ParseErrorKind::InvalidValue, "{bad:?}");
        }
    }

    #[test]
    fn booleans_follow_supervisord() {
        assert_eq!(
            value("<value><boolean>1</boolean></value>"),
            Value::Boolean(true)
        );
        assert_eq!(
            value("<value><boolean>0</boolean></value>"),
            Value::Boolean(false)
        );
        // supervisord's unmarshaller is `x.text == "1"`.
        for other in ["true", " 1", "", "2"] {
            assert_eq!(
                value(&format!("<value><boolean>{other}</boolean></value>")),
                Value::Boolean(false)
            );
        }
    }

    #[test]
    fn doubles() {
        for (text, x) in [
            ("1.5", 1.5),
            (" 1e3 ", 1000.0),
            ("-0.0", -0.0),
            ("1_0.5", 10.5),
            (".5", 0.5),
            ("1.", 1.0),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("1e-05", 1e-5),
        ] {
            assert_eq!(
                value(&format!("<value><double>{text}</double></value>")),
                Value::Double(x)
            );
        }
        assert!(value("<value><double>nan</double></value>")
            .as_f64()
            .unwrap()
            .is_nan());
        for bad in ["", "x", "1.0x", "0x1p3", "1..0", "_1.0"] {
            let err = parse_value(format!("<value><double>{bad}</double></value>").as_bytes())
                .unwrap_err();
            assert_eq!(err.kind(), ParseErrorKind::InvalidValue, "{bad:?}");
        }
    }

    #[test]
    fn base64_datetime_nil() {
        assert_eq!(
            value("<value><base64>aGk=\n</base64></value>"),
            Value::base64(&b"hi"[..])
        );
        assert_eq!(
            value("<value><base64>\naGkA\naGkA\n</base64></value>"),
            Value::base64(&b"hi\0hi\0"[..])
        );
        assert_eq!(value("<value><base64/></value>"), Value::base64(vec![]));
        assert_eq!(
            value("<value><base64>aGk</base64></value>"),
            Value::base64(&b"hi"[..])
        );
        assert_eq!(
            parse_value(b"<value><base64>a</base64></value>")
                .unwrap_err()
                .kind(),
            ParseErrorKind::InvalidValue
        );
        assert_eq!(
            value("<value><dateTime.iso8601> 20240102T03:04:05 </dateTime.iso8601></value>"),
            Value::datetime("20240102T03:04:05")
        );
        assert_eq!(value("<value><nil/></value>"), Value::Nil);
        assert_eq!(value("<value><nil></nil></value>"), Value::Nil);
    }

    #[test]
    fn structs_and_arrays() {
        // supervisord: {'k': '2', 'j': '3'} -- first position, last value
        let v = value(
            "<value><struct><member><name>k</name><value>1</value></member>\
             <member><name>k</name><value>2</value></member>\
             <member><name>j</name><value>3</value></member></struct></value>",
        );
        assert_eq!(
            v,
            Value::Struct(Struct::new().with("k", "2").with("j", "3"))
        );
        let v = value("<value><struct><member><value><int>1</int></value><name> n </name></member></struct></value>");
        assert_eq!(v, Value::Struct(Struct::new().with(" n ", 1)));
        assert_eq!(
            value("<value><struct/></value>"),
            Value::Struct(Struct::new())
        );
        assert_eq!(
            value("<value><array><data><value>1</value><value><int>2</int></value></data></array></value>"),
            Value::Array(vec!["1".into(), 2.into()])
        );
        assert_eq!(
            value("<value><array><data/></array></value>"),
            Value::Array(vec![])
        );
        let nested = value(
            "<value><array>\n <data>\n  <value><array><data><value><struct>\n\
             <member><name>a</name><value><array><data/></array></value></member>\n\
             </struct></value></data></array></value>\n </data>\n</array></value>",
        );
        assert_eq!(
            nested,
            Value::Array(vec![Value::Array(vec![Value::Struct(
                Struct::new().with("a", Value::Array(vec![]))
            )])])
        );
    }

    #[test]
    fn encodings() {
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><methodCall><methodName>a.b</methodName><params><param><value>\xe9</value></param></params></methodCall>";
        assert_eq!(parse_call(latin1).unwrap().params, vec![Value::from("é")]);
        let bom = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>a.b</methodName></methodCall>";
        assert_eq!(parse_call(bom.as_bytes()).unwrap().method, "a.b");
        let ascii = b"<?xml version='1.0' encoding='us-ascii'?><methodCall><methodName>a.b</methodName></methodCall>";
        assert_eq!(parse_call(ascii).unwrap().method, "a.b");
    }

    #[test]
    fn malformed_xml_is_syntax() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        let cases: Vec<&[u8]> = vec![
            b"",
            b"   ",
            b"not xml",
            b"<methodCall>",
            b"<methodCall><methodName>a.b</methodName></methodCal>",
            b"<methodCall><methodName>a.b</methodName></methodCall><methodCall/>",
            b"<methodCall/>trailing",
            b"junk<methodCall><methodName>a.b</methodName></methodCall>",
            b"<methodCall><methodName>&foo;</methodName></methodCall>",
            b"<methodCall><methodName>a & b</methodName></methodCall>",
            b"<methodCall><methodName>a\xff</methodName></methodCall>",
            b"<?xml version='1.0' encoding='utf-16'?><methodCall/>",
            b"<methodCall a=1><methodName>a.b</methodName></methodCall>",
            b"<methodCall a='1' a='2'><methodName>a.b</methodName></methodCall>",
            b"</methodCall>",
            b"<methodCall><!-- a -- b --><methodName>a.b</methodName></methodCall>",
            deep.as_bytes(),
        ];
        for case in cases {
            assert_eq!(
                call_err(case),
                ParseErrorKind::Syntax,
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn missing_method_name() {
        for case in [
            "<methodCall/>",
            "<methodCall><params/></methodCall>",
            "<methodCall><methodName></methodName></methodCall>",
            "<methodCall><methodName/></methodCall>",
        ] {
            assert_eq!(
                call_err(case.as_bytes()),
                ParseErrorKind::MissingMethodName,
                "{case}"
            );
        }
    }

    #[test]
    fn bad_structure() {
        for case in [
            "<foo><methodName>a.b</methodName></foo>",
            "<methodCall><methodName>a.b</methodName><methodName>c.d</methodName></methodCall>",
            "<methodCall><methodName>a.b<x/></methodName></methodCall>",
            "<methodCall><methodName>a.b</methodName>text</methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param/></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><value>1</value></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value>1</value><value>2</value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><foo>1</foo></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value>x<int>1</int></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><int>1</int><int>2</int></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><int><i4>1</i4></int></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><nil>x</nil></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><struct><value>1</value></struct></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><array><value>1</value></array></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><array/></value></param></params></methodCall>",
            "<methodCall><methodName>a.b</methodName><params><param><value><array><data><int>1</int></data></array></value></param></params></methodCall>",
        ] {
            assert_eq!(call_err(case.as_bytes()), ParseErrorKind::Structure, "{case}");
        }
        assert_eq!(
            call_err(b"<methodCall><methodName>a.b</methodName><params><param><value><int>x</int></value></param></params></methodCall>"),
            ParseErrorKind::InvalidValue
        );
    }

    #[test]
    fn responses() {
        // xmlrpc.client.dumps((1,), methodresponse=True)
        let ok = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
                  <value><int>1</int></value>\n</param>\n</params>\n</methodResponse>\n";
        assert_eq!(parse_response(ok.as_bytes()).unwrap(), Ok(Value::Int(1)));
        // xmlrpc.client.dumps(Fault(10, 'BAD_NAME: foo'))
        let fault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n\
                     <member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n\
                     <member>\n<name>faultString</name>\n<value><string>BAD_NAME: foo</string></value>\n\
                     </member>\n</struct></value>\n</fault>\n</methodResponse>\n";
        assert_eq!(
            parse_response(fault.as_bytes()).unwrap(),
            Err(Fault::raw(10, "BAD_NAME: foo"))
        );
        for bad in [
            "<methodResponse/>",
            "<methodCall><methodName>a.b</methodName></methodCall>",
            "<methodResponse><params/></methodResponse>",
            "<methodResponse><params><param><value>1</value></param><param><value>2</value></param></params></methodResponse>",
            "<methodResponse><params><param><value>1</value></param></params><fault/></methodResponse>",
            "<methodResponse><fault><value><int>1</int></value></fault></methodResponse>",
            "<methodResponse><fault><value><struct><member><name>faultCode</name><value>1</value></member><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>",
            "<methodResponse><other/></methodResponse>",
        ] {
            let err = parse_response(bad.as_bytes()).unwrap_err();
            assert_eq!(err.kind(), ParseErrorKind::Structure, "{bad}");
        }
        assert_eq!(
            parse_response(b"<methodResponse>").unwrap_err().kind(),
            ParseErrorKind::Syntax
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            ParseError::MissingMethodName.to_string(),
            "missing or empty <methodName>"
        );
        let e = parse_value(b"<value><int>x</int></value>").unwrap_err();
        assert_eq!(e.to_string(), "invalid <int> value \"x\": not an integer");
        let e = parse_call(b"<a>").unwrap_err();
        assert!(e.to_string().starts_with("malformed XML at byte"), "{e}");
    }
}
