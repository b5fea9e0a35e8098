#![forbid(unsafe_code)]
//! The XML-RPC wire layer of `warden supervise`, speaking supervisord 4.3.0's
//! dialect exactly.
//!
//! This crate is pure and transport-independent: it turns request bytes into
//! a [`MethodCall`], validates method names and arities against the table of
//! supervisord's 41 methods, and turns results back into response bytes. The
//! HTTP layer (`POST /RPC2`) and the method implementations live elsewhere.
//!
//! # Module layout
//!
//! - [`value`]: the data model, [`Value`] and the insertion-ordered [`Struct`].
//! - [`parse`]: `<methodCall>` / `<methodResponse>` parsing, with
//!   [`ParseError`] for anything the HTTP layer must answer with 400.
//! - [`write`](mod@write): serialization, byte-for-byte as Python's
//!   `xmlrpc.client.dumps` (which supervisord uses).
//! - [`fault`]: the fault code table ([`FaultCode`]) and [`Fault`].
//! - [`methods`]: the method table (`system.listMethods`, help, signatures),
//!   name validation (fault 1) and arity checks (fault 2).
//! - [`multicall`]: decoding `system.multicall` arguments and encoding its
//!   bare-value results.
//! - [`info`]: the process `info` struct and result-array entries, with
//!   supervisord's field order and `description` wording.
//!
//! # Theory of operation
//!
//! A server does, per request:
//!
//! 1. [`parse_call`] the body; on `Err`, answer HTTP 400.
//! 2. [`methods::resolve`] the name and parameter count; on `Err(fault)`,
//!    answer with [`write_fault`].
//! 3. Run the method; `system.multicall` first goes through
//!    [`multicall::decode`], each entry through step 2, and the results
//!    through [`multicall::encode_results`].
//! 4. [`write_response`] the value or [`write_fault`] the fault; the body is
//!    `text/xml`.
//!
//! A client does the reverse with [`write_call`] and [`parse_response`].

pub mod fault;
pub mod info;
pub mod methods;
pub mod multicall;
pub mod parse;
pub mod value;
pub mod write;

pub use fault::{Fault, FaultCode};
pub use methods::{Method, MethodSpec};
pub use parse::{parse_call, parse_response, MethodCall, ParseError, ParseErrorKind, Response};
pub use value::{Struct, Value};
pub use write::{write_call, write_fault, write_response, write_result};
