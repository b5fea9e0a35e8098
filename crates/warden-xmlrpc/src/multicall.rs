//! `system.multicall`: argument decoding and result encoding, with
//! supervisord 4.3.0's quirks.
//!
//! - Results are *bare values* (not the one-element arrays the multicall
//!   convention asks for); failed entries are `{faultCode, faultString}`.
//! - An entry without `methodName` gives `INCORRECT_PARAMETERS: No methodName`;
//!   a nested `system.multicall` gives
//!   `INCORRECT_PARAMETERS: Recursive system.multicall forbidden`.
//! - A `methodName` that is not a string gives fault 30
//!   (`FAILED: <class 'AttributeError'>:'int' object has no attribute 'split'`,
//!   Python's message for the failed `name.split('.')`).
//! - Each entry is then checked like a top-level call ([`crate::methods::resolve`]):
//!   fault 1 for a bad name, fault 2 for a bad parameter count.
//! - `params` may be missing (no parameters). Python spreads it with
//!   `func(*params)`, so a string gives one parameter per character and a
//!   struct one per key; any other non-array is fault 2.
//!
//! Where supervisord crashes (HTTP 500: an entry that is not a struct, or
//! `calls` being a non-empty string), the whole call is refused here with
//! fault 2 instead, before anything runs.

use crate::fault::{Fault, FaultCode};
use crate::methods::{resolve_name, ResolvedCall};
use crate::value::Value;

/// Decodes the single `calls` argument of `system.multicall` into one item
/// per entry, in order: a call ready to run, or the fault to report for it.
///
/// # Errors
///
/// `INCORRECT_PARAMETERS` (2) when `calls` is not an array of structs.
pub fn decode(calls: Value) -> Result<Vec<Result<ResolvedCall, Fault>>, Fault> {
    let Value::Array(calls) = calls else {
        return Err(Fault::new(FaultCode::IncorrectParameters));
    };
    if calls.iter().any(|c| !matches!(c, Value::Struct(_))) {
        return Err(Fault::with_detail(
            FaultCode::IncorrectParameters,
            "multicall entries must be structs",
        ));
    }
    Ok(calls.into_iter().map(decode_entry).collect())
}

/// Decodes `system.multicall`'s whole parameter list: exactly one argument.
///
/// # Errors
///
/// `INCORRECT_PARAMETERS` (2) for a wrong argument count, or as for [`decode`].
pub fn decode_params(mut params: Vec<Value>) -> Result<Vec<Result<ResolvedCall, Fault>>, Fault> {
    match params.len() {
        1 => decode(params.remove(0)),
        _ => Err(Fault::new(FaultCode::IncorrectParameters)),
    }
}

fn decode_entry(entry: Value) -> Result<ResolvedCall, Fault> {
    let Value::Struct(mut entry) = entry else {
        // `decode` has checked every entry already.
        return Err(Fault::new(FaultCode::IncorrectParameters));
    };
    let name = match entry.remove("methodName") {
        None | Some(Value::Nil) => {
            return Err(Fault::with_detail(
                FaultCode::IncorrectParameters,
                "No methodName",
            ))
        }
        Some(Value::String(s)) => s,
        // supervisord decodes base64 to str before dispatch.
        Some(Value::Base64(b)) => {
            String::from_utf8(b).map_err(|_| attribute_error("bytes", "split"))?
        }
        Some(other) => return Err(attribute_error(python_type(&other), "split")),
    };
    if name == "system.multicall" {
        return Err(Fault::with_detail(
            FaultCode::IncorrectParameters,
            "Recursive system.multicall forbidden",
        ));
    }
    // Name checks come before the parameters are spread (fault 1 wins over 2).
    let spec = resolve_name(&name)?;
    let params = match entry.remove("params") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(Value::String(s)) => s.chars().map(|c| Value::String(c.into())).collect(),
        Some(Value::Base64(b)) => match String::from_utf8(b) {
            Ok(s) => s.chars().map(|c| Value::String(c.into())).collect(),
            Err(_) => return Err(Fault::new(FaultCode::IncorrectParameters)),
        },
        Some(Value::Struct(s)) => s.keys().map(Value::from).collect(),
        Some(_) => return Err(Fault::new(FaultCode::IncorrectParameters)),
    };
    spec.check_arity(params.len())?;
    Ok(ResolvedCall { spec, params })
}

/// Python's message for calling a missing attribute, wrapped in `FAILED`.
fn attribute_error(type_name: &str, attr: &str) -> Fault {
    Fault::with_detail(
        FaultCode::Failed,
        format!("<class 'AttributeError'>:'{type_name}' object has no attribute '{attr}'"),
    )
}

/// The Python type a parsed value has inside supervisord.
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Boolean(_) => "bool",
        Value::String(_) => "str",
        Value::Double(_) => "float",
        Value::DateTime(_) => "datetime.datetime",
        Value::Base64(_) => "bytes",
        Value::Struct(_) => "dict",
        Value::Array(_) => "list",
        Value::Nil => "NoneType",
    }
}

/// The multicall result array: each success as its bare value, each failure
/// as `{faultCode, faultString}`.
pub fn encode_results<I>(results: I) -> Value
where
    I: IntoIterator<Item = Result<Value, Fault>>,
{
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|f| f.to_value()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Method;
    use crate::value::Struct;

    fn call(name: impl Into<Value>, params: Option<Value>) -> Value {
        let mut s = Struct::new().with("methodName", name);
        if let Some(p) = params {
            s.insert("params", p);
        }
        Value::Struct(s)
    }

    fn fault_of(r: &Result<ResolvedCall, Fault>) -> (i32, &str) {
        let f = r.as_ref().unwrap_err();
        (f.code, f.string.as_str())
    }

    #[test]
    fn decodes_calls_in_order() {
        let calls = Value::Array(vec![
            call("supervisor.getPID", None),
            call(
                "supervisor.getProcessInfo",
                Some(Value::Array(vec!["zz".into()])),
            ),
            call(
                "supervisor.startProcess",
                Some(Value::Array(vec!["a".into(), false.into()])),
            ),
        ]);
        let out = decode(calls).unwrap();
        let methods: Vec<Method> = out.iter().map(|r| r.as_ref().unwrap().method()).collect();
        assert_eq!(
            methods,
            [Method::GetPid, Method::GetProcessInfo, Method::StartProcess]
        );
        assert_eq!(out[1].as_ref().unwrap().params, vec![Value::from("zz")]);
    }

    #[test]
    fn per_entry_faults() {
        let calls = Value::Array(vec![
            Value::Struct(Struct::new().with("params", Value::Array(vec![]))),
            call(Value::Nil, None),
            call("system.multicall", Some(Value::Array(vec![]))),
            call(5, None),
            call(Value::datetime("20240101T00:00:00"), None),
            call("supervisor.nope", None),
            call("supervisor.getState.x", None),
            call("supervisor._update", None),
            call("supervisor.getState", Some(Value::Array(vec![1.into()]))),
            call("supervisor.getState", Some(Value::Int(1))),
            call("supervisor.nope", Some(Value::Int(1))),
            call("supervisor.getProcessInfo", Some(Value::from("a"))),
            call("supervisor.getProcessInfo", Some(Value::from("ab"))),
            call(
                "supervisor.getProcessInfo",
                Some(Value::Struct(Struct::new().with("k", 1))),
            ),
            call("", None),
        ]);
        let out = decode(calls).unwrap();
        let got: Vec<(i32, &str)> = out
            .iter()
            .enumerate()
            .filter(|(i, _)| ![11, 13].contains(i))
            .map(|(_, r)| fault_of(r))
            .collect();
        assert_eq!(
            got,
            [
                (2, "INCORRECT_PARAMETERS: No methodName"),
                (2, "INCORRECT_PARAMETERS: No methodName"),
                (2, "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"),
                (
                    30,
                    "FAILED: <class 'AttributeError'>:'int' object has no attribute 'split'"
                ),
                (
                    30,
                    "FAILED: <class 'AttributeError'>:'datetime.datetime' object has no attribute 'split'"
                ),
                (1, "UNKNOWN_METHOD"),
                (1, "UNKNOWN_METHOD"),
                (1, "UNKNOWN_METHOD"),
                (2, "INCORRECT_PARAMETERS"),
                (2, "INCORRECT_PARAMETERS"),
                (1, "UNKNOWN_METHOD"),
                (2, "INCORRECT_PARAMETERS"),
                (1, "UNKNOWN_METHOD"),
            ]
        );
        // Python spreads a string or a dict as positional arguments.
        assert_eq!(out[11].as_ref().unwrap().params, vec![Value::from("a")]);
        assert_eq!(out[13].as_ref().unwrap().params, vec![Value::from("k")]);
    }

    #[test]
    fn whole_call_faults() {
        for bad in [
            Value::Int(1),
            Value::from("abc"),
            Value::Struct(Struct::new()),
            Value::Array(vec![Value::Int(1)]),
        ] {
            assert_eq!(decode(bad).unwrap_err().code, 2);
        }
        assert_eq!(decode_params(vec![]).unwrap_err().code, 2);
        assert_eq!(
            decode_params(vec![Value::Array(vec![]), Value::Nil])
                .unwrap_err()
                .code,
            2
        );
        assert!(decode_params(vec![Value::Array(vec![])])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn results_are_bare_values() {
        // supervisord 4.3.0, observed: [8843, {'faultCode': 10, 'faultString': 'BAD_NAME: zz'}]
        let v = encode_results([
            Ok(Value::Int(8843)),
            Err(Fault::with_detail(FaultCode::BadName, "zz")),
        ]);
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Int(8843),
                Value::Struct(
                    Struct::new()
                        .with("faultCode", 10)
                        .with("faultString", "BAD_NAME: zz")
                ),
            ])
        );
    }
}
