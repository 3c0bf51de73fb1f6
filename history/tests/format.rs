//! Format names, detection and dispatch.

use history::{format, Format, OpType};

#[test]
fn names_round_trip() {
    for f in Format::ALL {
        assert_eq!(Format::parse(f.name()), Some(f));
        assert_eq!(f.to_string(), f.name());
    }
    assert_eq!(Format::parse("jepsen-log"), Some(Format::JepsenLog));
    assert_eq!(Format::parse("EDN"), None);
    assert_eq!(Format::parse("yaml"), None);
    assert_eq!(Format::default(), Format::Auto);
}

#[test]
fn detection() {
    let cases: &[(&str, Format)] = &[
        ("", Format::Edn),
        ("   \n", Format::Edn),
        ("{\"type\":\"ok\"}", Format::JsonLines),
        ("\n  { \n \"type\":\"ok\"}", Format::JsonLines),
        ("[{\"type\":\"ok\"}]", Format::Json),
        ("[\n  {\"type\":\"ok\"}]", Format::Json),
        ("[]", Format::Json),
        ("[ ]", Format::Json),
        ("{:type :ok}", Format::Edn),
        ("[{:type :ok}]", Format::Edn),
        ("({:type :ok})", Format::Edn),
        ("#jepsen.history.Op{:type :ok}", Format::Edn),
        ("; comment\n{:type :ok}", Format::Edn),
        ("; comment\n{\"type\":\"ok\"}", Format::JsonLines),
        (
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil",
            Format::JepsenLog,
        ),
        (
            "2017-01-01 INFO jepsen.core - start\nINFO  jepsen.util - 0 :invoke :read nil",
            Format::JepsenLog,
        ),
        (
            "[main] INFO jepsen.util - 0 :invoke :read nil",
            Format::JepsenLog,
        ),
        ("1\t:invoke\t:txn\t[[:write 68 229]]", Format::JepsenLog),
        ("12 :ok :read 3", Format::JepsenLog),
        (":nemesis\t:info\t:start\tnil", Format::JepsenLog),
        ("1\t:bogus\t:txn\tnil", Format::Edn),
        ("hello", Format::Edn),
        ("42", Format::Edn),
    ];
    for &(text, expected) in cases {
        assert_eq!(format::detect(text.as_bytes()), expected, "{text:?}");
    }
}

#[test]
fn read_dispatches() {
    let edn = b"{:process 0 :type :invoke :f :read}";
    let jsonl = b"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}";
    let json = b"[{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}]";
    let log = b"INFO  jepsen.util - 0\t:invoke\t:read\tnil";
    for (bytes, f) in [
        (&edn[..], Format::Edn),
        (&jsonl[..], Format::JsonLines),
        (&json[..], Format::Json),
        (&log[..], Format::JepsenLog),
    ] {
        for format in [Format::Auto, f] {
            let h = format::read(bytes, format).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(h.len(), 1);
            assert_eq!(h.ops()[0].kind, OpType::Invoke);
            assert_eq!(h.ops()[0].f, "read");
        }
    }
    // the wrong explicit format gives that format's error
    let e = format::read(edn, Format::Json).unwrap_err();
    assert!(e.message.contains("expected a string key"), "{e}");
    // undetectable input gets the EDN reader's error
    let e = format::read(b"hello world", Format::Auto).unwrap_err();
    assert!(e.message.contains("expected an op map"), "{e}");
    assert!(e.message.contains("symbol hello"), "{e}");
}
