//! Codec tests. Expected bytes come from the Python library (reference section 1.15) and
//! from Python 3's own `repr`, `float()` and `json.dumps`.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn enc<C: Codec>(value: &C::Value) -> String {
    match C::encode(value) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(reason) => panic!("{} encode failed: {reason}", C::NAME),
    }
}

fn dec<C: Codec>(bytes: &[u8]) -> <C::Value as ToOwned>::Owned {
    match C::decode(bytes) {
        Ok(value) => value,
        Err(reason) => panic!("{} decode of {bytes:?} failed: {reason}", C::NAME),
    }
}

// Python: repr(v), with the trailing ".0" stripped as the Python library does.
#[allow(clippy::excessive_precision, reason = "the exact values show the ties")]
const PYTHON_FLOATS: &[(f64, &str)] = &[
    (1.0, "1"),
    (1.2, "1.2"),
    (1.2345, "1.2345"),
    (0.30000000000000004, "0.30000000000000004"),
    (1e16, "1e+16"),
    (123456789012345678.0, "1.2345678901234568e+17"),
    (1.5e-7, "1.5e-07"),
    (-0.0, "-0"),
    (0.0, "0"),
    (100.0, "100"),
    (1e15, "1000000000000000"),
    (9999999999999998.0, "9999999999999998"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (1.5e-5, "1.5e-05"),
    (12345.678, "12345.678"),
    (5e-324, "5e-324"),
    (2.2250738585072014e-308, "2.2250738585072014e-308"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (-1e-300, "-1e-300"),
    (1e100, "1e+100"),
    (123456789.0, "123456789"),
    (0.1, "0.1"),
    (1.0 / 3.0, "0.3333333333333333"),
    (9007199254740992.0, "9007199254740992"),
    (-2.5e22, "-2.5e+22"),
    // Two shortest forms equally close: Python takes the even last digit.
    (-30452248614633.5625, "-30452248614633.562"),
    (637104278459938.25, "637104278459938.2"),
];

#[test]
fn float_encodes_as_python_prints() {
    for &(value, python) in PYTHON_FLOATS {
        assert_eq!(enc::<FloatField>(&value), python, "{value:?}");
        assert_eq!(
            dec::<FloatField>(python.as_bytes()).to_bits(),
            value.to_bits()
        );
    }
    assert_eq!(enc::<FloatField>(&f64::NAN), "nan");
    assert_eq!(enc::<FloatField>(&f64::INFINITY), "inf");
    assert_eq!(enc::<FloatField>(&f64::NEG_INFINITY), "-inf");
}

#[test]
fn float_decodes_what_python_float_parses() {
    assert_eq!(dec::<FloatField>(b"1"), 1.0);
    assert_eq!(dec::<FloatField>(b"1.0"), 1.0);
    assert_eq!(dec::<FloatField>(b"1e3"), 1000.0);
    assert_eq!(dec::<FloatField>(b" 1_000.5 "), 1000.5);
    assert_eq!(dec::<FloatField>(b"-.5"), -0.5);
    assert_eq!(dec::<FloatField>(b"inf"), f64::INFINITY);
    assert_eq!(dec::<FloatField>(b"-inf"), f64::NEG_INFINITY);
    assert_eq!(dec::<FloatField>(b"Infinity"), f64::INFINITY);
    assert!(dec::<FloatField>(b"nan").is_nan());
    assert!(dec::<FloatField>(b"NaN").is_nan());
    assert!(dec::<FloatField>(b"-0").is_sign_negative());
}

#[test]
fn float_rejects_garbage() {
    for bad in [
        &b""[..],
        b"a",
        b"1a",
        b"1_",
        b"_1",
        b"1__0",
        b"1._5",
        b"0x10",
        b"\xff",
        b"1 2",
    ] {
        let reason = FloatField::decode(bad).err();
        assert!(
            reason.is_some_and(|r| r.starts_with("not a float: ")),
            "{bad:?}"
        );
    }
}

#[test]
fn integer_round_trips_and_reads_python_float_text() {
    for v in [0, 1, -1, 42, i64::MAX, i64::MIN] {
        assert_eq!(enc::<IntegerField>(&v), v.to_string());
        assert_eq!(dec::<IntegerField>(v.to_string().as_bytes()), v);
    }
    assert_eq!(dec::<IntegerField>(b"1.9"), 1);
    assert_eq!(dec::<IntegerField>(b"-1.9"), -1);
    assert_eq!(dec::<IntegerField>(b"1e3"), 1000);
    assert_eq!(dec::<IntegerField>(b" 7 "), 7);
    assert_eq!(dec::<IntegerField>(b"+7"), 7);
    assert_eq!(dec::<IntegerField>(b"1_000"), 1000);
    assert_eq!(dec::<IntegerField>(b"-0.5"), 0);
    // Exact above 2^53, where Python's float trip would round.
    assert_eq!(dec::<IntegerField>(b"9007199254740993"), 9007199254740993);
    assert_eq!(dec::<IntegerField>(b"-9.2e18"), -9_200_000_000_000_000_000);
}

#[test]
fn integer_rejects_garbage_and_out_of_range() {
    for bad in [
        &b""[..],
        b"a",
        b"1x",
        b"0x10",
        b"inf",
        b"-inf",
        b"nan",
        b"\xff",
        b"1__0",
    ] {
        let reason = IntegerField::decode(bad).err();
        assert!(
            reason.is_some_and(|r| r.starts_with("not an integer: ")),
            "{bad:?}"
        );
    }
    // Python stores i64::MAX as 2^63 (it rounds through a float): refused, naming the value.
    for (bad, reason) in [
        (
            &b"9223372036854775808"[..],
            "9223372036854775808 is out of range for i64",
        ),
        (
            b"1e19",
            "10000000000000000000 (stored as \"1e19\") is out of range for i64",
        ),
        (
            b"-1e19",
            "-10000000000000000000 (stored as \"-1e19\") is out of range for i64",
        ),
        (b"1e300", "\"1e300\" is out of range for i64"),
        (
            b"999999999999999999999999999999999999999",
            "\"999999999999999999999999999999999999999\" is out of range for i64",
        ),
    ] {
        assert_eq!(IntegerField::decode(bad), Err(reason.to_owned()), "{bad:?}");
    }
    assert_eq!(
        IntegerField::decode(b"1x"),
        Err("not an integer: \"1x\"".to_owned())
    );
}

#[test]
fn long_inputs_are_cut_in_messages() {
    let long = vec![b'x'; 10_000];
    let reason = IntegerField::decode(&long).err().unwrap_or_default();
    assert!(reason.len() < 100, "{reason}");
    assert!(reason.ends_with("..."), "{reason}");
    let long_json = format!("[\"{}\"", "y".repeat(10_000));
    let reason = ListField::decode(long_json.as_bytes())
        .err()
        .unwrap_or_default();
    assert!(!reason.is_empty() && reason.len() < 300, "{reason}");
}

#[test]
fn boolean_matches_python() {
    assert_eq!(enc::<BooleanField>(&true), "1");
    assert_eq!(enc::<BooleanField>(&false), "");
    assert!(dec::<BooleanField>(b"1"));
    assert!(!dec::<BooleanField>(b""));
    // Python reads any non-empty value as true; so do we.
    assert!(dec::<BooleanField>(b"0"));
    assert!(dec::<BooleanField>(b"false"));
}

#[test]
fn text_is_utf8() {
    assert_eq!(enc::<TextField>("héllo"), "héllo");
    assert_eq!(enc::<TextField>(""), "");
    assert_eq!(dec::<TextField>("日本".as_bytes()), "日本");
    let reason = TextField::decode(b"a\xffb").err();
    assert!(reason.is_some_and(|r| r.starts_with("not utf-8")));
}

#[test]
fn ascii_accepts_printable_only() {
    assert_eq!(enc::<AsciiField>(""), "");
    assert_eq!(enc::<AsciiField>(" abc~"), " abc~");
    for bad in ["a\tb", "a\u{7f}", "é", "abc\n", "a\nb", "\0"] {
        assert_eq!(
            AsciiField::encode(bad),
            Err("not ascii".to_owned()),
            "{bad:?}"
        );
    }
    assert_eq!(dec::<AsciiField>(b"abc"), "abc");
    // Python let one trailing newline through, so stored values may end with one.
    assert_eq!(dec::<AsciiField>(b"abc\n"), "abc\n");
    for bad in [
        &b"a\tb"[..],
        b"a\nb",
        b"abc\n\n",
        b"\x7f",
        "é".as_bytes(),
        b"\xff",
    ] {
        let reason = AsciiField::decode(bad).err();
        assert!(
            reason.is_some_and(|r| r.starts_with("not ascii")),
            "{bad:?}"
        );
    }
}

#[test]
fn binary_is_unchanged() {
    let bytes = [0u8, 255, b',', b'\n'];
    assert_eq!(BinaryField::encode(&bytes), Ok(bytes.to_vec()));
    assert_eq!(BinaryField::decode(&bytes), Ok(bytes.to_vec()));
}

#[test]
fn list_matches_python_json() {
    let list = [json!(1), json!("a"), json!(null), json!(true), json!(1.5)];
    assert_eq!(enc::<ListField>(&list), r#"[1, "a", null, true, 1.5]"#);
    assert_eq!(enc::<ListField>(&[json!("é")]), r#"["\u00e9"]"#);
    assert_eq!(enc::<ListField>(&[json!(1.0), json!(1e16)]), "[1.0, 1e+16]");
    assert_eq!(enc::<ListField>(&[]), "[]");
    assert_eq!(
        enc::<ListField>(&[json!({"k": [1, {}]})]),
        r#"[{"k": [1, {}]}]"#
    );
    assert_eq!(dec::<ListField>(br#"[1, "a", null, true, 1.5]"#), list);
    assert_eq!(dec::<ListField>(br#"["\u00e9"]"#), [json!("é")]);
    assert_eq!(dec::<ListField>(br#"["\ud83d\ude00"]"#), [json!("😀")]);
    assert_eq!(dec::<ListField>(br#"[1.0]"#), [json!(1.0)]);
}

#[test]
fn dict_matches_python_json() {
    let mut dict = serde_json::Map::new();
    dict.insert("a".to_owned(), json!(1));
    assert_eq!(enc::<DictField>(&dict), r#"{"a": 1}"#);
    dict.insert("é".to_owned(), json!([1.5, "x"]));
    assert_eq!(enc::<DictField>(&dict), r#"{"a": 1, "\u00e9": [1.5, "x"]}"#);
    assert_eq!(dec::<DictField>(br#"{"a": 1, "\u00e9": [1.5, "x"]}"#), dict);
    assert_eq!(enc::<DictField>(&serde_json::Map::new()), "{}");
}

#[test]
fn json_shapes_and_garbage_are_errors() {
    for bad in [
        &b""[..],
        b"[",
        b"NaN",
        b"[NaN]",
        b"\xff",
        b"[1] x",
        b"{'a': 1}",
    ] {
        assert!(ListField::decode(bad).is_err(), "{bad:?}");
        assert!(DictField::decode(bad).is_err(), "{bad:?}");
    }
    let reason = ListField::decode(br#"{"a": 1}"#).err();
    assert!(reason.is_some_and(|r| r.starts_with("not a json list")));
    let reason = DictField::decode(b"[1]").err();
    assert!(reason.is_some_and(|r| r.starts_with("not a json object")));
    assert!(ListField::decode(b"5").is_err());
    assert!(DictField::decode(b"\"ab\"").is_err());
}

#[test]
fn json_field_uses_python_format() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Point {
        x: f64,
        label: String,
        tags: Option<Vec<u32>>,
    }
    let point = Point {
        x: 2.0,
        label: "café".to_owned(),
        tags: None,
    };
    let stored = r#"{"x": 2.0, "label": "caf\u00e9", "tags": null}"#;
    assert_eq!(enc::<JsonField<Point>>(&point), stored);
    assert_eq!(dec::<JsonField<Point>>(stored.as_bytes()), point);
    let nan = Point {
        x: f64::NAN,
        ..point.clone()
    };
    assert!(JsonField::<Point>::encode(&nan).is_err());
    assert!(JsonField::<Vec<f64>>::encode(&vec![f64::INFINITY]).is_err());
    assert!(JsonField::<Point>::decode(b"{}").is_err());
    assert!(JsonField::<Point>::decode(b"\xff").is_err());
    assert_eq!(format!("{:?}", JsonField::<u8>::new()), "JsonField<u8>");
}

#[test]
fn string_list_matches_python() {
    let list = ["a".to_owned(), "b".to_owned()];
    assert_eq!(enc::<StringListField>(&list), "a,b");
    assert_eq!(enc::<StringListField>(&[]), "");
    assert_eq!(dec::<StringListField>(b"a,b"), list);
    assert_eq!(dec::<StringListField>(b",a,,b,"), list);
    assert_eq!(dec::<StringListField>(b""), Vec::<String>::new());
    assert_eq!(dec::<StringListField>(b",,"), Vec::<String>::new());
    assert_eq!(
        StringListField::encode(&["a,b".to_owned(), "c".to_owned()]),
        Err("not a list of strings: item contains a comma".to_owned())
    );
    assert!(StringListField::encode(&["".to_owned()]).is_err());
    assert!(StringListField::decode(b"a,\xff").is_err());
}

#[test]
fn dynamic_fields_delegate_to_codecs() {
    let cases: Vec<(Field, FieldValue, &[u8])> = vec![
        (Field::Integer, 5.into(), b"5"),
        (Field::Float, 1.0.into(), b"1"),
        (Field::Text, "é".into(), "é".as_bytes()),
        (Field::Ascii, "abc".into(), b"abc"),
        (Field::Binary, vec![0u8, 1].into(), b"\x00\x01"),
        (Field::Boolean, true.into(), b"1"),
        (Field::Boolean, false.into(), b""),
        (
            Field::List,
            vec![json!(1), json!("a")].into(),
            br#"[1, "a"]"#,
        ),
        (
            Field::Dict,
            serde_json::Map::from_iter([("a".to_owned(), json!(1))]).into(),
            br#"{"a": 1}"#,
        ),
        (
            Field::StringList,
            vec!["a".to_owned(), "b".to_owned()].into(),
            b"a,b",
        ),
    ];
    for (field, value, bytes) in cases {
        assert_eq!(field.encode(&value).as_deref(), Ok(bytes), "{field:?}");
        assert_eq!(field.decode(bytes), Ok(value), "{field:?}");
    }
    assert_eq!(
        Field::Integer.encode(&"5".into()),
        Err("expected an integer value, found a text value".to_owned())
    );
    assert!(Field::Ascii.encode(&FieldValue::Integer(1)).is_err());
    assert_eq!(
        Field::Ascii.encode(&"é".into()),
        Err("not ascii".to_owned())
    );
    assert!(Field::Integer.decode(b"x").is_err());
    // Float fields take integers a float holds exactly, writing what Python writes.
    for (n, python) in [
        (3, "3"),
        (-(1 << 53), "-9007199254740992"),
        (1 << 60, "1.152921504606847e+18"),
        (i64::MIN, "-9.223372036854776e+18"),
    ] {
        assert_eq!(
            Field::Float.encode(&FieldValue::Integer(n)),
            Ok(python.as_bytes().to_vec())
        );
    }
    for n in [(1 << 53) + 1, -(1 << 53) - 1, i64::MAX, i64::MIN + 1] {
        let reason = Field::Float.encode(&FieldValue::Integer(n)).unwrap_err();
        assert!(
            reason.starts_with(&format!("{n} is not exactly representable as a float")),
            "{reason}"
        );
    }
    assert_eq!(Field::StringList.name(), StringListField::NAME);
    assert_eq!(
        FieldValue::from(String::from("x")),
        FieldValue::Text("x".into())
    );
}

proptest! {
    #[test]
    fn integer_round_trip(v in any::<i64>()) {
        let bytes = IntegerField::encode(&v);
        prop_assert_eq!(bytes.as_ref().map(|b| IntegerField::decode(b)).ok(), Some(Ok(v)));
    }

    #[test]
    fn float_round_trip_is_bit_exact(v in any::<f64>()) {
        let decoded = FloatField::encode(&v).and_then(|b| FloatField::decode(&b));
        prop_assert!(decoded.is_ok());
        let decoded = decoded.unwrap_or_default();
        if v.is_nan() {
            prop_assert!(decoded.is_nan());
        } else {
            prop_assert_eq!(decoded.to_bits(), v.to_bits());
        }
    }

    #[test]
    fn ascii_round_trip(s in "[ -~]*") {
        let decoded = AsciiField::encode(&s).and_then(|b| AsciiField::decode(&b));
        prop_assert_eq!(decoded, Ok(s));
    }

    #[test]
    fn text_round_trip(s in any::<String>()) {
        let decoded = TextField::encode(&s).and_then(|b| TextField::decode(&b));
        prop_assert_eq!(decoded, Ok(s));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for field in [
            Field::Integer, Field::Float, Field::Text, Field::Ascii, Field::Binary,
            Field::Boolean, Field::List, Field::Dict, Field::StringList,
        ] {
            let _ = field.decode(&bytes);
        }
    }

    #[test]
    fn json_list_round_trip(
        strings in proptest::collection::vec(any::<String>(), 0..6),
        ints in proptest::collection::vec(any::<i64>(), 0..6),
    ) {
        let list: Vec<serde_json::Value> = strings
            .iter()
            .map(|s| json!(s))
            .chain(ints.iter().map(|i| json!(i)))
            .collect();
        let bytes = ListField::encode(&list);
        prop_assert!(bytes.as_ref().is_ok_and(|b| b.is_ascii()));
        let decoded = bytes.and_then(|b| ListField::decode(&b));
        prop_assert_eq!(decoded, Ok(list));
    }

    #[test]
    fn json_floats_round_trip(v in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
        let decoded = JsonField::<f64>::encode(&v).and_then(|b| JsonField::<f64>::decode(&b));
        prop_assert_eq!(decoded.map(f64::to_bits), Ok(v.to_bits()));
    }

    #[test]
    fn string_list_round_trip(items in proptest::collection::vec("[^,]+", 0..6)) {
        let decoded = StringListField::encode(&items).and_then(|b| StringListField::decode(&b));
        prop_assert_eq!(decoded, Ok(items));
    }
}

/// Any JSON value the JSON codecs can write: finite numbers, nested a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            json_map(inner).prop_map(Value::Object),
        ]
    })
}

fn json_map(
    values: impl Strategy<Value = serde_json::Value>,
) -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
    proptest::collection::btree_map(any::<String>(), values, 0..4)
        .prop_map(|m| m.into_iter().collect())
}

/// Bytes shaped like what the parsers look at: numbers (with signs, exponents,
/// underscores, `inf`/`nan` spellings, whitespace), JSON punctuation and commas.
fn near_miss_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[-+0-9eE._ \t\ninfatyINFATY]{0,40}".prop_map(String::into_bytes),
        "[-0-9\\[\\]{}\",:.eEnulltruefalse \\\\u]{0,40}".prop_map(String::into_bytes),
        "[a-z,é\u{1F600}]{0,20}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

/// A serde type with the shapes `JsonField` users store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    name: String,
    n: i64,
    big: u64,
    ratio: f64,
    tags: Vec<String>,
    maybe: Option<bool>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Kind {
    Unit,
    Tuple(i32, String),
    Named { x: f32 },
}

fn record() -> impl Strategy<Value = Record> {
    let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
    let finite32 = any::<f32>().prop_filter("finite", |f| f.is_finite());
    let kind = prop_oneof![
        Just(Kind::Unit),
        (any::<i32>(), any::<String>()).prop_map(|(a, b)| Kind::Tuple(a, b)),
        finite32.prop_map(|x| Kind::Named { x }),
    ];
    (
        any::<String>(),
        any::<i64>(),
        any::<u64>(),
        finite,
        proptest::collection::vec(any::<String>(), 0..4),
        any::<Option<bool>>(),
        kind,
    )
        .prop_map(|(name, n, big, ratio, tags, maybe, kind)| Record {
            name,
            n,
            big,
            ratio,
            tags,
            maybe,
            kind,
        })
}

/// A value of every `Field` kind, with its field.
fn field_value() -> impl Strategy<Value = (Field, FieldValue)> {
    prop_oneof![
        any::<i64>().prop_map(|v| (Field::Integer, FieldValue::Integer(v))),
        any::<f64>()
            .prop_filter("nan has no equality", |v| !v.is_nan())
            .prop_map(|v| (Field::Float, FieldValue::Float(v))),
        any::<String>().prop_map(|v| (Field::Text, FieldValue::Text(v))),
        "[ -~]*".prop_map(|v| (Field::Ascii, FieldValue::Text(v))),
        proptest::collection::vec(any::<u8>(), 0..32)
            .prop_map(|v| (Field::Binary, FieldValue::Binary(v))),
        any::<bool>().prop_map(|v| (Field::Boolean, FieldValue::Boolean(v))),
        proptest::collection::vec(json_value(), 0..4)
            .prop_map(|v| (Field::List, FieldValue::List(v))),
        json_map(json_value()).prop_map(|v| (Field::Dict, FieldValue::Dict(v))),
        proptest::collection::vec("[^,]+", 0..4)
            .prop_map(|v| (Field::StringList, FieldValue::StringList(v))),
    ]
}

fn never_panics<C: Codec>(bytes: &[u8]) {
    let _ = C::decode(bytes);
}

proptest! {
    // Decoding: whatever is stored, every codec returns a value or an error.

    #[test]
    fn every_codec_decodes_any_bytes_without_panicking(bytes in near_miss_bytes()) {
        never_panics::<IntegerField>(&bytes);
        never_panics::<FloatField>(&bytes);
        never_panics::<TextField>(&bytes);
        never_panics::<AsciiField>(&bytes);
        never_panics::<BinaryField>(&bytes);
        never_panics::<BooleanField>(&bytes);
        never_panics::<ListField>(&bytes);
        never_panics::<DictField>(&bytes);
        never_panics::<StringListField>(&bytes);
        never_panics::<JsonField<Record>>(&bytes);
        never_panics::<JsonField<f64>>(&bytes);
        never_panics::<JsonField<Vec<Option<u64>>>>(&bytes);
        for field in [
            Field::Integer, Field::Float, Field::Text, Field::Ascii, Field::Binary,
            Field::Boolean, Field::List, Field::Dict, Field::StringList,
        ] {
            let _ = field.decode(&bytes);
        }
    }

    #[test]
    fn integer_text_reads_as_the_number_when_it_fits(n in any::<i128>()) {
        let text = n.to_string();
        prop_assert_eq!(IntegerField::decode(text.as_bytes()).ok(), i64::try_from(n).ok());
    }

    #[test]
    fn integer_reads_python_float_text_truncated(v in -1e18f64..1e18) {
        // Python's IntegerField writes `int(float(v))`, and reads float text the same way.
        let text = FloatField::encode(&v).unwrap_or_default();
        #[allow(clippy::cast_possible_truncation, reason = "the value is inside i64")]
        let expected = v.trunc() as i64;
        prop_assert_eq!(IntegerField::decode(&text), Ok(expected));
    }

    // Encoding then decoding gives back the value, for every codec.

    #[test]
    fn binary_round_trip(v in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(BinaryField::encode(&v).and_then(|b| BinaryField::decode(&b)), Ok(v));
    }

    #[test]
    fn boolean_round_trip(v in any::<bool>()) {
        prop_assert_eq!(BooleanField::encode(&v).and_then(|b| BooleanField::decode(&b)), Ok(v));
    }

    #[test]
    fn list_round_trip(list in proptest::collection::vec(json_value(), 0..6)) {
        let bytes = ListField::encode(&list);
        prop_assert!(bytes.as_ref().is_ok_and(|b| b.is_ascii()), "{:?}", bytes);
        prop_assert_eq!(bytes.and_then(|b| ListField::decode(&b)), Ok(list));
    }

    #[test]
    fn dict_round_trip(map in json_map(json_value())) {
        let bytes = DictField::encode(&map);
        prop_assert!(bytes.as_ref().is_ok_and(|b| b.is_ascii()), "{:?}", bytes);
        prop_assert_eq!(bytes.and_then(|b| DictField::decode(&b)), Ok(map));
    }

    #[test]
    fn json_field_round_trip(v in record()) {
        let decoded = JsonField::<Record>::encode(&v).and_then(|b| JsonField::<Record>::decode(&b));
        prop_assert_eq!(decoded, Ok(v));
    }

    #[test]
    fn dynamic_field_round_trip((field, value) in field_value()) {
        let bytes = field.encode(&value);
        prop_assert!(bytes.is_ok(), "{:?}", bytes);
        let decoded = bytes.and_then(|b| field.decode(&b));
        match (&decoded, &value) {
            // -0.0 == 0.0: compare floats bit for bit.
            (Ok(FieldValue::Float(a)), FieldValue::Float(b)) => {
                prop_assert_eq!(a.to_bits(), b.to_bits());
            }
            _ => prop_assert_eq!(decoded, Ok(value)),
        }
    }

    #[test]
    fn float_field_takes_exactly_representable_integers(n in prop_oneof![
        any::<i64>(),
        (-(1_i64 << 53)..=(1_i64 << 53)),
        (any::<i32>(), 0..40_u32).prop_map(|(m, shift)| i64::from(m) << shift),
    ]) {
        #[allow(clippy::cast_precision_loss, reason = "checked below")]
        let float = n as f64;
        #[allow(clippy::cast_possible_truncation, reason = "every such f64 fits in i128")]
        let exact = float as i128 == i128::from(n);
        let encoded = Field::Float.encode(&FieldValue::Integer(n));
        prop_assert_eq!(encoded.is_ok(), exact, "{} {:?}", n, encoded);
        if let Ok(bytes) = encoded {
            prop_assert_eq!(Ok(bytes), FloatField::encode(&float));
        }
    }
}

#[test]
fn field_values_convert_in_and_out_without_a_match() {
    assert_eq!(
        FieldValue::from(vec!["a", "b"]).as_string_list(),
        Some(&["a".to_owned(), "b".to_owned()][..])
    );
    assert_eq!(FieldValue::from(30_i32).as_integer(), Some(30));
    assert_eq!(FieldValue::from(7_u16).as_integer().map(|n| n + 1), Some(8));
    assert_eq!(FieldValue::from(2_i64).as_float(), Some(2.0));
    assert_eq!(FieldValue::from(1.5_f32).as_float(), Some(1.5));
    assert_eq!(FieldValue::from("x").as_text(), Some("x"));
    assert_eq!(FieldValue::from("x").as_bytes(), Some(&b"x"[..]));
    assert_eq!(FieldValue::from(true).as_bool(), Some(true));
    assert_eq!(FieldValue::from("x").as_integer(), None);
    let age: Result<i64, _> = FieldValue::from(41_i64).try_into();
    assert!(matches!(age, Ok(41)), "{age:?}");
    let refused = i64::try_from(FieldValue::from("41"))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("i64") && refused.contains("a text"),
        "{refused}"
    );
    let name: Result<String, _> = FieldValue::from("ada").try_into();
    assert!(matches!(&name, Ok(n) if n == "ada"), "{name:?}");
}
