//! Wire-level tests across modules: a whole server exchange against Python
//! goldens, and fuzz-like round trips (write → parse gives back the same
//! value) over handmade edge cases and deterministic pseudo-random trees.

use warden_xmlrpc::{
    parse::parse_value, parse_call, parse_response, write::write_value, write_call, write_fault,
    write_response, Fault, FaultCode, Struct, Value,
};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }
}

/// Text pieces that stress escaping and decoding. No `\r`: XML parsers turn a
/// raw carriage return into `\n` (Python's included), so it cannot round-trip.
const PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    " ",
    "  ",
    "\n",
    "\t",
    "&",
    "<",
    ">",
    "\"",
    "'",
    "&amp;",
    "]]>",
    "é",
    "日本",
    "𝄞",
    "\u{1}",
    "\u{7f}",
    "supervisor.getState",
    "BAD_NAME: foo",
    "<value>",
    "=",
];

fn text(rng: &mut Rng) -> String {
    let n = rng.below(6);
    (0..n).map(|_| *rng.pick(PIECES)).collect()
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    let kinds = if depth == 0 { 7 } else { 9 };
    match rng.below(kinds) {
        0 => Value::Int(rng.next() as i32),
        1 => Value::Boolean(rng.below(2) == 1),
        2 => Value::String(text(rng)),
        3 => {
            let x = f64::from_bits(rng.next());
            Value::Double(if x.is_nan() { 0.5 } else { x })
        }
        4 => Value::datetime(format!(
            "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
            rng.below(10_000),
            rng.below(12) + 1,
            rng.below(28) + 1,
            rng.below(24),
            rng.below(60),
            rng.below(60)
        )),
        5 => {
            let len = usize::try_from(rng.below(200)).unwrap();
            Value::base64((0..len).map(|_| rng.next() as u8).collect::<Vec<u8>>())
        }
        6 => Value::Nil,
        7 => (0..rng.below(4)).map(|_| value(rng, depth - 1)).collect(),
        _ => Value::Struct(
            (0..rng.below(4))
                .map(|_| (text(rng), value(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn handmade() -> Vec<Value> {
    vec![
        Value::Int(0),
        Value::Int(i32::MIN),
        Value::Int(i32::MAX),
        Value::Boolean(true),
        Value::Boolean(false),
        Value::from(""),
        Value::from("  leading and trailing  "),
        Value::from("a&b<c>d\"e'f]]>"),
        Value::from("line1\nline2\ttab"),
        Value::from("\u{1}\u{8}control"),
        Value::from("𝄞 é 日本"),
        Value::Double(0.0),
        Value::Double(-0.0),
        Value::Double(1e16),
        Value::Double(1e-5),
        Value::Double(f64::MAX),
        Value::Double(f64::MIN_POSITIVE),
        Value::Double(5e-324),
        Value::Double(f64::INFINITY),
        Value::Double(f64::NEG_INFINITY),
        Value::datetime("20240102T03:04:05"),
        Value::base64(vec![]),
        Value::base64(vec![0u8; 57]),
        Value::base64((0..=255u8).collect::<Vec<u8>>()),
        Value::Nil,
        Value::Array(vec![]),
        Value::Struct(Struct::new()),
        Value::Struct(Struct::new().with("", "empty key").with(" ", Value::Nil)),
        Value::Array(vec![Value::Array(vec![Value::Array(vec![])])]),
        Fault::with_detail(FaultCode::BadName, "zz").to_value(),
    ]
}

fn assert_round_trips(v: &Value) {
    let response = write_response(v);
    assert_eq!(
        parse_response(response.as_bytes()).unwrap(),
        Ok(v.clone()),
        "{response}"
    );
    let call = write_call("supervisor.x", std::slice::from_ref(v));
    let parsed = parse_call(call.as_bytes()).unwrap();
    assert_eq!(parsed.method, "supervisor.x");
    assert_eq!(parsed.params, vec![v.clone()], "{call}");
    let mut single = String::new();
    write_value(&mut single, v);
    assert_eq!(parse_value(single.as_bytes()).unwrap(), *v, "{single}");
}

#[test]
fn handmade_values_round_trip() {
    for v in handmade() {
        assert_round_trips(&v);
    }
    assert_round_trips(&Value::Array(handmade()));
}

#[test]
fn random_values_round_trip() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for _ in 0..2_000 {
        assert_round_trips(&value(&mut rng, 4));
    }
}

#[test]
fn whole_calls_and_faults_round_trip() {
    let mut rng = Rng(42);
    for _ in 0..200 {
        let params: Vec<Value> = (0..rng.below(5)).map(|_| value(&mut rng, 2)).collect();
        let xml = write_call("system.multicall", &params);
        let parsed = parse_call(xml.as_bytes()).unwrap();
        assert_eq!(parsed.params, params);
    }
    for f in [
        Fault::new(FaultCode::UnknownMethod),
        Fault::with_detail(FaultCode::Failed, "<class 'OSError'>:[Errno 2] & more"),
        Fault::raw(-7, ""),
    ] {
        assert_eq!(parse_response(write_fault(&f).as_bytes()).unwrap(), Err(f));
    }
}

#[test]
fn carriage_returns_do_not_survive_like_in_python() {
    // Python writes "\r" raw and every XML parser reads it back as "\n".
    let xml = write_response(&Value::from("a\r\nb\rc"));
    assert_eq!(
        parse_response(xml.as_bytes()).unwrap(),
        Ok(Value::from("a\nb\nc"))
    );
}

#[test]
fn server_exchange_matches_supervisord() {
    use warden_xmlrpc::{methods, multicall, Method};

    // Request as supervisorctl's xmlrpc.client sends it:
    // dumps(([{'methodName':'supervisor.getPID'},
    //         {'methodName':'supervisor.getProcessInfo','params':['zz']}],), 'system.multicall')
    let request = "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.multicall</methodName>\n\
<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>methodName</name>\n\
<value><string>supervisor.getPID</string></value>\n</member>\n</struct></value>\n<value><struct>\n\
<member>\n<name>methodName</name>\n<value><string>supervisor.getProcessInfo</string></value>\n\
</member>\n<member>\n<name>params</name>\n<value><array><data>\n<value><string>zz</string></value>\n\
</data></array></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n\
</params>\n</methodCall>\n";
    let call = methods::resolve_call(parse_call(request.as_bytes()).unwrap()).unwrap();
    assert_eq!(call.method(), Method::Multicall);
    let results = multicall::decode_params(call.params)
        .unwrap()
        .into_iter()
        .map(|entry| {
            let entry = entry?;
            match entry.method() {
                Method::GetPid => Ok(Value::Int(8843)),
                Method::GetProcessInfo => Err(Fault::with_detail(
                    FaultCode::BadName,
                    entry.params[0].as_str().unwrap(),
                )),
                other => panic!("unexpected {other:?}"),
            }
        });
    // dumps(([8843, {'faultCode': 10, 'faultString': 'BAD_NAME: zz'}],), methodresponse=True)
    assert_eq!(
        write_response(&multicall::encode_results(results)),
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n\
<value><int>8843</int></value>\n<value><struct>\n<member>\n<name>faultCode</name>\n\
<value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n\
<value><string>BAD_NAME: zz</string></value>\n</member>\n</struct></value>\n\
</data></array></value>\n</param>\n</params>\n</methodResponse>\n"
    );
}

#[test]
fn process_info_response_matches_python() {
    use warden_xmlrpc::info::{ProcessInfo, ProcessState};

    let info = ProcessInfo {
        name: "web".into(),
        group: "grp".into(),
        start: 1_700_000_000,
        stop: 1_700_000_100,
        now: 1_700_003_723,
        state: ProcessState::Running,
        spawnerr: String::new(),
        exitstatus: 0,
        stdout_logfile: "/tmp/out".into(),
        stderr_logfile: String::new(),
        pid: 4242,
    };
    // dumps(({'name':'web', ... 'description':'pid 4242, uptime 1:02:03'},), methodresponse=True)
    // with the keys in getProcessInfo's order.
    let expected = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n\
<member>\n<name>name</name>\n<value><string>web</string></value>\n</member>\n\
<member>\n<name>group</name>\n<value><string>grp</string></value>\n</member>\n\
<member>\n<name>start</name>\n<value><int>1700000000</int></value>\n</member>\n\
<member>\n<name>stop</name>\n<value><int>1700000100</int></value>\n</member>\n\
<member>\n<name>now</name>\n<value><int>1700003723</int></value>\n</member>\n\
<member>\n<name>state</name>\n<value><int>20</int></value>\n</member>\n\
<member>\n<name>statename</name>\n<value><string>RUNNING</string></value>\n</member>\n\
<member>\n<name>spawnerr</name>\n<value><string></string></value>\n</member>\n\
<member>\n<name>exitstatus</name>\n<value><int>0</int></value>\n</member>\n\
<member>\n<name>logfile</name>\n<value><string>/tmp/out</string></value>\n</member>\n\
<member>\n<name>stdout_logfile</name>\n<value><string>/tmp/out</string></value>\n</member>\n\
<member>\n<name>stderr_logfile</name>\n<value><string></string></value>\n</member>\n\
<member>\n<name>pid</name>\n<value><int>4242</int></value>\n</member>\n\
<member>\n<name>description</name>\n<value><string>pid 4242, uptime 1:02:03</string></value>\n</member>\n\
</struct></value>\n</param>\n</params>\n</methodResponse>\n";
    assert_eq!(write_response(&info.to_value(|_| unreachable!())), expected);
}
