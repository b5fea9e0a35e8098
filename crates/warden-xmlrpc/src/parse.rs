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
//!
//! # How
//!
//! One pass over quick-xml's events: a small recursive-descent parser builds
//! each [`Value`] as its elements are read, with no element tree in between,
//! and borrows text from the input where it can (a `getAllProcessInfo`
//! reply for 1000 processes, 1.1 MB, is the case to keep fast). A document
//! that is not well-formed is always a [`ParseError::Syntax`], even when the
//! grammar failed earlier in it.

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
    let text = decode_input(input)?;
    Parser::new(&text).document("methodCall", |p| {
        let mut method = None;
        let mut params = None;
        while let Some(child) = p.child("methodCall")? {
            match &*child {
                "methodName" if method.is_none() => {
                    method = Some(p.scalar(&child)?.into_string());
                }
                "params" if params.is_none() => params = Some(p.params()?),
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
    let text = decode_input(input)?;
    Parser::new(&text).document("methodResponse", |p| {
        let one = || structure("<methodResponse> must hold exactly one <params> or <fault>");
        let Some(body) = p.child("methodResponse")? else {
            return Err(one());
        };
        let response = match &*body {
            "params" => {
                let mut params = p.params()?;
                if params.len() != 1 {
                    return Err(structure(format!(
                        "a response carries exactly one <param>, found {}",
                        params.len()
                    )));
                }
                Ok(params.remove(0))
            }
            "fault" => {
                let value = p.single_value("fault")?;
                Err(Fault::from_value(&value).ok_or_else(|| {
                    structure("<fault> must be a struct with int faultCode and string faultString")
                })?)
            }
            other => {
                return Err(structure(format!(
                    "unexpected <{other}> in <methodResponse>"
                )))
            }
        };
        match p.child("methodResponse")? {
            None => Ok(response),
            Some(_) => Err(one()),
        }
    })
}

/// Parses a single `<value>` element on its own (e.g. from a test fixture).
///
/// # Errors
///
/// As for [`parse_call`].
pub fn parse_value(input: &[u8]) -> Result<Value, ParseError> {
    let text = decode_input(input)?;
    Parser::new(&text).document("value", Parser::value)
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

/// An element name of XML-RPC's grammar as a static string, so that naming
/// an element neither allocates nor validates UTF-8 again.
fn known_name(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"value" => "value",
        b"member" => "member",
        b"name" => "name",
        b"string" => "string",
        b"int" => "int",
        b"i4" => "i4",
        b"i8" => "i8",
        b"boolean" => "boolean",
        b"double" => "double",
        b"dateTime.iso8601" => "dateTime.iso8601",
        b"base64" => "base64",
        b"nil" => "nil",
        b"struct" => "struct",
        b"array" => "array",
        b"data" => "data",
        b"param" => "param",
        b"params" => "params",
        b"methodCall" => "methodCall",
        b"methodName" => "methodName",
        b"methodResponse" => "methodResponse",
        b"fault" => "fault",
        _ => return None,
    })
}

/// An element name: a [`known_name`], or another (only ever reported).
type Name = Cow<'static, str>;

/// What [`Events`] yields: quick-xml's events reduced to what XML-RPC's
/// grammar looks at, with well-formedness checked.
enum Ev<'a> {
    Open(Name),
    Close,
    /// Character data, CDATA or a resolved reference, in document order.
    Text(Cow<'a, str>),
    /// The end of a document whose root element is closed.
    Eof,
}

/// quick-xml's reader, with what the XML specification requires of a
/// document that quick-xml leaves to its caller (one root element, nothing
/// but blanks, comments and processing instructions around it, every
/// element closed) and a nesting limit.
struct Events<'a> {
    /// The whole document, which `reader` reads.
    text: &'a str,
    /// Whether the document holds a `\r` (so that some text may need
    /// line-end normalization).
    has_cr: bool,
    reader: Reader<&'a [u8]>,
    depth: usize,
    /// An empty element (`<a/>`) was opened; its close comes next.
    close_next: bool,
    seen_root: bool,
}

impl<'a> Events<'a> {
    fn new(text: &'a str) -> Self {
        let mut reader = Reader::from_str(text);
        reader.config_mut().enable_all_checks(true);
        Events {
            text,
            has_cr: memchr::memchr(b'\r', text.as_bytes()).is_some(),
            reader,
            depth: 0,
            close_next: false,
            seen_root: false,
        }
    }

    fn next(&mut self) -> Result<Ev<'a>, ParseError> {
        if self.close_next {
            self.close_next = false;
            self.depth -= 1;
            return Ok(Ev::Close);
        }
        loop {
            let event = self
                .reader
                .read_event()
                .map_err(|e| syntax(self.reader.error_position(), e.to_string()))?;
            let position = self.reader.buffer_position();
            let text: Cow<'a, str> = match event {
                Event::Start(start) => return self.open(&start, position),
                Event::Empty(start) => {
                    let open = self.open(&start, position)?;
                    self.close_next = true;
                    return Ok(open);
                }
                Event::End(_) => {
                    // quick-xml has already checked that the names match.
                    if self.depth == 0 {
                        return Err(syntax(position, "unmatched end tag"));
                    }
                    self.depth -= 1;
                    return Ok(Ev::Close);
                }
                Event::Text(t) => {
                    let s = match self.slice_of(&t) {
                        Some(s) => Cow::Borrowed(s),
                        None => t
                            .xml10_content()
                            .map_err(|e| syntax(position, e.to_string()))?,
                    };
                    if self.depth == 0 {
                        if is_xml_blank(&s) {
                            continue;
                        }
                        return Err(syntax(position, "text outside the root element"));
                    }
                    s
                }
                Event::CData(c) => {
                    if self.depth == 0 {
                        return Err(syntax(position, "CDATA outside the root element"));
                    }
                    c.xml10_content()
                        .map_err(|e| syntax(position, e.to_string()))?
                }
                Event::GeneralRef(r) => {
                    if self.depth == 0 {
                        return Err(syntax(position, "reference outside the root element"));
                    }
                    match r
                        .resolve_char_ref()
                        .map_err(|e| syntax(position, e.to_string()))?
                    {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => {
                            let name = r.decode().map_err(|e| syntax(position, e.to_string()))?;
                            let s = quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| {
                                    syntax(position, format!("undefined entity &{name};"))
                                })?;
                            Cow::Borrowed(s)
                        }
                    }
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => continue,
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(syntax(
                            position,
                            "unexpected end of document (unclosed elements)",
                        ));
                    }
                    if !self.seen_root {
                        return Err(syntax(position, "no root element"));
                    }
                    return Ok(Ev::Eof);
                }
            };
            return Ok(Ev::Text(text));
        }
    }

    /// The text of an event as the slice of the document it was read from,
    /// when it needs no line-end normalization (the document has no `\r`):
    /// this spares validating UTF-8 a second time.
    fn slice_of(&self, raw: &[u8]) -> Option<&'a str> {
        if self.has_cr {
            return None;
        }
        let start = (raw.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        self.text.get(start..start + raw.len())
    }

    fn open(
        &mut self,
        start: &quick_xml::events::BytesStart<'_>,
        position: u64,
    ) -> Result<Ev<'a>, ParseError> {
        if self.seen_root && self.depth == 0 {
            return Err(syntax(position, "content after the root element"));
        }
        if self.depth >= MAX_DEPTH {
            return Err(syntax(
                position,
                format!("elements nest deeper than {MAX_DEPTH}"),
            ));
        }
        // XML-RPC has no attributes; those present must still be well-formed.
        if !start.attributes_raw().is_empty() {
            for attr in start.attributes() {
                attr.map_err(|e| syntax(position, e.to_string()))?;
            }
        }
        let qname = start.name();
        let name = match known_name(qname.as_ref()) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(
                std::str::from_utf8(qname.as_ref())
                    .map_err(|_| syntax(position, "invalid UTF-8 in element name"))?
                    .to_owned(),
            ),
        };
        self.depth += 1;
        self.seen_root = true;
        Ok(Ev::Open(name))
    }

    /// Reads to the end of the document, for the first syntax error in it.
    fn first_syntax_error(&mut self) -> Option<ParseError> {
        loop {
            match self.next() {
                Ok(Ev::Eof) => return None,
                Ok(_) => {}
                Err(e) => return Some(e),
            }
        }
    }
}

/// The character data of one element, borrowed from the input when it is
/// one piece without references (the common case).
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    fn push(&mut self, piece: Cow<'a, str>) {
        match &mut self.0 {
            None => self.0 = Some(piece),
            Some(text) => text.to_mut().push_str(&piece),
        }
    }

    fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }

    fn into_string(self) -> String {
        self.0.map(Cow::into_owned).unwrap_or_default()
    }
}

/// A recursive-descent parser of XML-RPC documents over quick-xml's events:
/// values are built as their elements are read, with no tree in between.
/// Every method is called just after its element's opening tag and returns
/// just after the closing one.
struct Parser<'a> {
    events: Events<'a>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            events: Events::new(text),
        }
    }

    /// Parses a document whose root is `root` with `body`. A document that
    /// is not well-formed is a syntax error even when the grammar failed
    /// before the malformed part.
    fn document<T>(
        mut self,
        root: &str,
        body: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        let result = self.root(root).and_then(|()| body(&mut self));
        let result = result.and_then(|t| match self.events.next()? {
            Ev::Eof => Ok(t),
            // Events refuses anything but the end after the root element.
            _ => Err(syntax(
                self.events.reader.buffer_position(),
                "trailing content",
            )),
        });
        match result {
            Err(e) if e.kind() != ParseErrorKind::Syntax => {
                Err(self.events.first_syntax_error().unwrap_or(e))
            }
            other => other,
        }
    }

    fn root(&mut self, want: &str) -> Result<(), ParseError> {
        match self.events.next()? {
            Ev::Open(name) if name == want => Ok(()),
            Ev::Open(name) => Err(structure(format!(
                "root element is <{name}>, expected <{want}>"
            ))),
            // Events yields no text or end before the root element.
            _ => Err(syntax(
                self.events.reader.buffer_position(),
                "no root element",
            )),
        }
    }

    /// The next child element of `parent`, or `None` at its end; text
    /// between the children must be blank.
    fn child(&mut self, parent: &str) -> Result<Option<Name>, ParseError> {
        loop {
            match self.events.next()? {
                Ev::Open(name) => return Ok(Some(name)),
                Ev::Close => return Ok(None),
                Ev::Text(t) if is_xml_blank(&t) => {}
                Ev::Text(_) => return Err(structure(format!("unexpected text in <{parent}>"))),
                Ev::Eof => return Err(syntax(0, "unexpected end of document")),
            }
        }
    }

    /// The text of an element that may hold no child element.
    fn scalar(&mut self, name: &str) -> Result<Text<'a>, ParseError> {
        let mut text = Text::default();
        loop {
            match self.events.next()? {
                Ev::Text(t) => text.push(t),
                Ev::Close => return Ok(text),
                Ev::Open(child) => {
                    return Err(structure(format!("unexpected <{child}> inside <{name}>")))
                }
                Ev::Eof => return Err(syntax(0, "unexpected end of document")),
            }
        }
    }

    /// The only child of `parent`, which must be a `<value>`.
    fn single_value(&mut self, parent: &str) -> Result<Value, ParseError> {
        let one = || structure(format!("<{parent}> must hold exactly one <value>"));
        let value = match self.child(parent)? {
            Some(name) if name == "value" => self.value()?,
            _ => return Err(one()),
        };
        match self.child(parent)? {
            None => Ok(value),
            Some(_) => Err(one()),
        }
    }

    fn params(&mut self) -> Result<Vec<Value>, ParseError> {
        let mut params = Vec::new();
        while let Some(param) = self.child("params")? {
            if param != "param" {
                return Err(structure(format!("unexpected <{param}> in <params>")));
            }
            params.push(self.single_value("param")?);
        }
        Ok(params)
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let mut text = Text::default();
        let typed = loop {
            match self.events.next()? {
                Ev::Text(t) => text.push(t),
                // An untyped value is a string, whitespace and all.
                Ev::Close => return Ok(Value::String(text.into_string())),
                Ev::Open(typed) => break typed,
                Ev::Eof => return Err(syntax(0, "unexpected end of document")),
            }
        };
        let value = self.typed(&typed)?;
        loop {
            match self.events.next()? {
                Ev::Text(t) => text.push(t),
                Ev::Close => break,
                Ev::Open(_) => return Err(structure("<value> holds more than one element")),
                Ev::Eof => return Err(syntax(0, "unexpected end of document")),
            }
        }
        if is_xml_blank(text.as_str()) {
            Ok(value)
        } else {
            Err(structure("<value> mixes text with a typed element"))
        }
    }

    fn typed(&mut self, name: &str) -> Result<Value, ParseError> {
        match name {
            "int" | "i4" | "i8" => parse_int(name, self.scalar(name)?.as_str()).map(Value::Int),
            "boolean" => Ok(Value::Boolean(self.scalar(name)?.as_str() == "1")),
            "string" => Ok(Value::String(self.scalar(name)?.into_string())),
            "double" => parse_double(self.scalar(name)?.as_str()).map(Value::Double),
            "dateTime.iso8601" => Ok(Value::DateTime(
                self.scalar(name)?.as_str().trim().to_owned(),
            )),
            "base64" => parse_base64(self.scalar(name)?.as_str()).map(Value::Base64),
            "nil" => match self.events.next()? {
                Ev::Close => Ok(Value::Nil),
                _ => Err(structure("<nil/> must be empty")),
            },
            "struct" => self.structure().map(Value::Struct),
            "array" => self.array().map(Value::Array),
            other => Err(structure(format!("unknown value type <{other}>"))),
        }
    }

    fn structure(&mut self) -> Result<Struct, ParseError> {
        // Room for a process info (14 members) without growing.
        let mut out = Struct::with_capacity(16);
        while let Some(member) = self.child("struct")? {
            if member != "member" {
                return Err(structure(format!("unexpected <{member}> in <struct>")));
            }
            let mut name = None;
            let mut value = None;
            while let Some(part) = self.child("member")? {
                match &*part {
                    "name" if name.is_none() => name = Some(self.scalar("name")?.into_string()),
                    "value" if value.is_none() => value = Some(self.value()?),
                    other => {
                        return Err(structure(format!("unexpected <{other}> in <member>")));
                    }
                }
            }
            match (name, value) {
                (Some(n), Some(v)) => {
                    out.insert(n, v);
                }
                _ => return Err(structure("<member> needs one <name> and one <value>")),
            }
        }
        Ok(out)
    }

    fn array(&mut self) -> Result<Vec<Value>, ParseError> {
        let one = || structure("<array> must hold exactly one <data>");
        match self.child("array")? {
            Some(data) if data == "data" => {}
            _ => return Err(one()),
        }
        let mut values = Vec::new();
        while let Some(v) = self.child("data")? {
            if v != "value" {
                return Err(structure(format!("unexpected <{v}> in <data>")));
            }
            values.push(self.value()?);
        }
        match self.child("array")? {
            None => Ok(values),
            Some(_) => Err(one()),
        }
    }
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
    fn malformed_xml_wins_over_an_earlier_grammar_error() {
        // The grammar fails at <foo/>, the XML only at the end tag.
        let case = b"<methodCall><foo/><methodName>a.b</methodName></methodCal>";
        assert_eq!(call_err(case), ParseErrorKind::Syntax);
        let case = b"<methodResponse><params/></methodResponse>trailing";
        assert_eq!(
            parse_response(case).unwrap_err().kind(),
            ParseErrorKind::Syntax
        );
    }

    #[test]
    fn values_are_read_across_references_and_cdata() {
        assert_eq!(
            one_param("<value><string>a &amp; <![CDATA[<b>]]> &#99;</string></value>"),
            Value::from("a & <b> c")
        );
        assert_eq!(one_param("<value>x&lt;y</value>"), Value::from("x<y"));
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
