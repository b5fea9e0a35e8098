//! Fuzz target for the XML-RPC parser (issue 20): the corpus in
//! `fuzz-corpus/` plus seeded mutations of it, for a bounded time
//! (`WARDEN_FUZZ_SECS`, default 4 s; `WARDEN_FUZZ_SEED` picks the run). Every
//! input must come back as a value or an error, never a panic, within 5 s
//! (generous for a loaded machine; super-linear blowups take minutes); what
//! parses must survive write → parse unchanged, and goes through the method
//! resolver and the multicall decoder as a server would use it.

use std::path::Path;
use std::time::{Duration, Instant};

use test_programs::fuzz;
use warden_xmlrpc::{
    methods, multicall, parse::parse_value, parse_call, parse_response, write::write_value,
    write_call, write_result, Value,
};

/// Fragments the mutator inserts: tags of every type, entities, references,
/// CDATA, declarations, deep nesting openers.
const DICT: &[&[u8]] = &[
    b"<value>",
    b"</value>",
    b"<array><data>",
    b"</data></array>",
    b"<struct><member><name>n</name>",
    b"</member></struct>",
    b"<param>",
    b"</param>",
    b"<params>",
    b"<int>",
    b"</int>",
    b"<i4>",
    b"<i8>",
    b"<boolean>",
    b"<double>",
    b"</double>",
    b"<string>",
    b"</string>",
    b"<base64>",
    b"</base64>",
    b"<dateTime.iso8601>",
    b"<nil/>",
    b"<value/>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&lt;",
    b"&#0;",
    b"&#x110000;",
    b"&#xD800;",
    b"&#65;",
    b"&undefined;",
    b"&#",
    b"<!DOCTYPE x [<!ENTITY a \"&a;&a;&a;\">]>",
    b"<?xml version='1.0' encoding='iso-8859-1'?>",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b"<!--",
    b"-->",
    b"<?pi x?>",
    b" attr='1'",
    b"\xef\xbb\xbf",
    b"<methodName>system.multicall</methodName>",
    b"<methodName>supervisor.getState</methodName>",
    b"<methodCall>",
    b"<methodResponse>",
    b"<fault>",
];

/// Writes what parsed and parses it again: the written forms must agree
/// (compared as text, which also covers NaN). A string holding `\r` is the
/// exception: XML turns a raw carriage return into a line feed, and the
/// writer, like Python's `xmlrpc.client`, does not escape it.
fn has_cr(v: &Value) -> bool {
    match v {
        Value::String(s) | Value::DateTime(s) => s.contains('\r'),
        Value::Array(a) => a.iter().any(has_cr),
        Value::Struct(s) => s.iter().any(|(k, v)| k.contains('\r') || has_cr(v)),
        _ => false,
    }
}

fn check(input: &[u8], iter: usize, seed: u64) {
    let ctx = || {
        format!(
            "seed {seed}, iteration {iter}, input {:?}",
            String::from_utf8_lossy(&input[..input.len().min(2000)])
        )
    };
    let t = Instant::now();
    if let Ok(call) = parse_call(input) {
        let written = write_call(&call.method, &call.params);
        let again = parse_call(written.as_bytes())
            .unwrap_or_else(|e| panic!("written call does not parse: {e}; {}", ctx()));
        if !call.params.iter().any(has_cr) && !call.method.contains('\r') {
            assert_eq!(
                write_call(&again.method, &again.params),
                written,
                "call round trip; {}",
                ctx()
            );
        }
        if call.method == "system.multicall" {
            let _ = multicall::decode_params(call.params.clone());
        }
        let _ = methods::resolve_call(call);
    }
    if let Ok(resp) = parse_response(input) {
        let written = write_result(&resp);
        let again = parse_response(written.as_bytes())
            .unwrap_or_else(|e| panic!("written response does not parse: {e}; {}", ctx()));
        let cr = match &resp {
            Ok(v) => has_cr(v),
            Err(f) => has_cr(&f.to_value()),
        };
        if !cr {
            assert_eq!(
                write_result(&again),
                written,
                "response round trip; {}",
                ctx()
            );
        }
    }
    if let Ok(v) = parse_value(input) {
        let mut out = String::new();
        write_value(&mut out, &v);
        parse_value(out.as_bytes())
            .unwrap_or_else(|e| panic!("written value does not parse: {e}; {}", ctx()));
    }
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{took:?} for {} bytes; {}",
        input.len(),
        ctx()
    );
}

#[test]
fn fuzz_xmlrpc_parser() {
    let corpus = fuzz::corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus"));
    let seed = fuzz::seed();
    let mut m = fuzz::Mutator::new(seed, DICT, 1 << 20);
    let budget = fuzz::budget(Duration::from_secs(4));
    let n = fuzz::run(&corpus, &mut m, budget, 500, |input, i| {
        check(input, i, seed)
    });
    eprintln!("xmlrpc fuzz: {n} inputs, seed {seed}");
}

/// Hostile shapes built whole rather than by mutation: nesting past the
/// depth limit, many elements, many references. Each is refused or parsed
/// in bounded time and memory (the tree is linear in the input: about 20
/// bytes of memory per byte of `<value/>` elements), a struct with many
/// members included.
#[test]
fn hostile_documents_are_bounded() {
    let deep = format!(
        "<methodCall><methodName>a</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(100_000),
        "</data></array></value>".repeat(100_000)
    );
    let wide = format!(
        "<methodCall><methodName>a</methodName><params><param><value><array><data>{}</data></array></value></param></params></methodCall>",
        "<value/>".repeat(50_000)
    );
    let entities = format!(
        "<methodCall><methodName>{}</methodName></methodCall>",
        "&#65;&lt;".repeat(50_000)
    );
    let unclosed = "<value>".repeat(200_000);
    let members: String = (0..10_000)
        .map(|i| format!("<member><name>k{i}</name><value/></member>"))
        .collect();
    let big_struct = format!(
        "<methodCall><methodName>a</methodName><params><param><value><struct>{members}</struct></value></param></params></methodCall>"
    );
    for doc in [&deep, &wide, &entities, &unclosed, &big_struct] {
        let t = Instant::now();
        let _ = parse_call(doc.as_bytes());
        let _ = parse_response(doc.as_bytes());
        let _ = parse_value(doc.as_bytes());
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
    assert!(parse_call(deep.as_bytes()).is_err());
    assert_eq!(
        parse_call(wide.as_bytes()).map(|c| match &c.params[0] {
            Value::Array(a) => a.len(),
            _ => 0,
        }),
        Ok(50_000)
    );
}
