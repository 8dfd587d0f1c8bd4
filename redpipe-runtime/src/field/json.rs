//! JSON written byte for byte as Python's `json.dumps` writes it with its defaults.
//!
//! Python separates items with `", "` and keys from values with `": "`, escapes every
//! character outside printable ASCII as `\uXXXX` (lower-case hex, surrogate pairs above
//! U+FFFF), and prints floats with `repr` (`1.0`, `1e+16`). `serde_json` does none of that,
//! so this is a serde `Serializer` of its own. It follows `serde_json`'s data model (enums
//! externally tagged, `None` as `null`, bytes as an array of numbers, integer and boolean
//! map keys quoted), so anything `serde_json` reads back is what it would have written,
//! only spaced and escaped the Python way. Non-finite floats are an error: `serde_json`
//! would write them as `null`, which does not read back.

use std::fmt::{self, Write as _};

use serde::ser::{self, Impossible, Serialize};

/// Writes `value` as Python's `json.dumps(value)` would.
pub(super) fn to_vec<T: ?Sized + Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let mut writer = Writer { out: String::new() };
    value.serialize(&mut writer).map_err(|e| e.0)?;
    Ok(writer.out.into_bytes())
}

/// Why a value could not be written; the text becomes the codec's reason.
#[derive(Debug)]
pub(super) struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

impl ser::Error for JsonError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        JsonError(format!("not serializable as json: {msg}"))
    }
}

impl From<fmt::Error> for JsonError {
    fn from(_: fmt::Error) -> Self {
        JsonError("not serializable as json: formatting failed".to_owned())
    }
}

fn not_finite() -> JsonError {
    JsonError("not serializable as json: nan and infinite floats have no json form".to_owned())
}

fn key_must_be_a_string() -> JsonError {
    JsonError(
        "not serializable as json: object keys must be strings, numbers or booleans".to_owned(),
    )
}

/// The output buffer; it only ever holds ASCII.
struct Writer {
    out: String,
}

impl Writer {
    fn string(&mut self, s: &str) {
        write_string(&mut self.out, s);
    }

    fn f64(&mut self, value: f64) -> Result<(), JsonError> {
        if !value.is_finite() {
            return Err(not_finite());
        }
        super::python_float::write_repr(&mut self.out, value);
        Ok(())
    }

    fn f32(&mut self, value: f32) -> Result<(), JsonError> {
        if !value.is_finite() {
            return Err(not_finite());
        }
        super::python_float::write_repr_f32(&mut self.out, value);
        Ok(())
    }

    fn integer(&mut self, value: impl fmt::Display) -> Result<(), JsonError> {
        write!(self.out, "{value}")?;
        Ok(())
    }

    /// Opens `{"variant": ` for the externally tagged enum forms.
    fn open_variant(&mut self, variant: &str) {
        self.out.push('{');
        self.string(variant);
        self.out.push_str(": ");
    }
}

/// Appends `s` as a JSON string with Python's `ensure_ascii` escaping.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn unicode_escape(out: &mut String, unit: u16) {
        out.push_str("\\u");
        for shift in [12, 8, 4, 0] {
            out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
        }
    }

    out.push('"');
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        let named = match ch {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            ' '..='~' => continue,
            _ => "",
        };
        out.push_str(&s[start..i]);
        start = i + ch.len_utf8();
        if named.is_empty() {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                unicode_escape(out, *unit);
            }
        } else {
            out.push_str(named);
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = JsonError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), JsonError> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), JsonError> {
        self.integer(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), JsonError> {
        self.f32(v)
    }

    fn serialize_f64(self, v: f64) -> Result<(), JsonError> {
        self.f64(v)
    }

    fn serialize_char(self, v: char) -> Result<(), JsonError> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), JsonError> {
        self.string(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), JsonError> {
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut seq, byte)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<(), JsonError> {
        self.serialize_unit()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), JsonError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), JsonError> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), JsonError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), JsonError> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), JsonError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), JsonError> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.out.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, JsonError> {
        self.out.push('[');
        Ok(Compound::new(self, "]"))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, JsonError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, JsonError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, JsonError> {
        self.open_variant(variant);
        self.out.push('[');
        Ok(Compound::new(self, "]}"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, JsonError> {
        self.out.push('{');
        Ok(Compound::new(self, "}"))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>, JsonError> {
        self.out.push('{');
        Ok(Compound::new(self, "}"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, JsonError> {
        self.open_variant(variant);
        self.out.push('{');
        Ok(Compound::new(self, "}}"))
    }
}

/// An array or object being written: separators go before every item but the first.
struct Compound<'a> {
    writer: &'a mut Writer,
    first: bool,
    close: &'static str,
}

impl<'a> Compound<'a> {
    fn new(writer: &'a mut Writer, close: &'static str) -> Self {
        Compound {
            writer,
            first: true,
            close,
        }
    }

    fn separator(&mut self) {
        if !self.first {
            self.writer.out.push_str(", ");
        }
        self.first = false;
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), JsonError> {
        self.separator();
        value.serialize(&mut *self.writer)
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) -> Result<(), JsonError> {
        self.separator();
        self.writer.string(key);
        self.writer.out.push_str(": ");
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), JsonError> {
        self.writer.out.push_str(self.close);
        Ok(())
    }
}

/// The serde compound traits whose items are plain elements (`[a, b]`) or named fields
/// (`{"k": v}`): each only forwards to [`Compound::element`] or [`Compound::field`].
macro_rules! compound {
    ($($trait:ident::$method:ident => element),* $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = JsonError;

            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), JsonError> {
                self.element(value)
            }

            fn end(self) -> Result<(), JsonError> {
                self.close()
            }
        }
    )*};
    ($($trait:ident::$method:ident => field),* $(,)?) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = JsonError;

            fn $method<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), JsonError> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), JsonError> {
                self.close()
            }
        }
    )*};
}

compound! {
    SerializeSeq::serialize_element => element,
    SerializeTuple::serialize_element => element,
    SerializeTupleStruct::serialize_field => element,
    SerializeTupleVariant::serialize_field => element,
}

compound! {
    SerializeStruct::serialize_field => field,
    SerializeStructVariant::serialize_field => field,
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = JsonError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), JsonError> {
        self.separator();
        key.serialize(MapKey {
            writer: &mut *self.writer,
        })?;
        self.writer.out.push_str(": ");
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), JsonError> {
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), JsonError> {
        self.close()
    }
}

/// Writes an object key. Strings as they are; numbers and booleans quoted, as both
/// `serde_json` and Python do; anything else is an error.
struct MapKey<'a> {
    writer: &'a mut Writer,
}

impl MapKey<'_> {
    fn quoted(
        self,
        write: impl FnOnce(&mut Writer) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.writer.out.push('"');
        write(self.writer)?;
        self.writer.out.push('"');
        Ok(())
    }
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = JsonError;
    type SerializeSeq = Impossible<(), JsonError>;
    type SerializeTuple = Impossible<(), JsonError>;
    type SerializeTupleStruct = Impossible<(), JsonError>;
    type SerializeTupleVariant = Impossible<(), JsonError>;
    type SerializeMap = Impossible<(), JsonError>;
    type SerializeStruct = Impossible<(), JsonError>;
    type SerializeStructVariant = Impossible<(), JsonError>;

    fn serialize_bool(self, v: bool) -> Result<(), JsonError> {
        self.quoted(|w| ser::Serializer::serialize_bool(w, v))
    }

    fn serialize_i8(self, v: i8) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_u8(self, v: u8) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), JsonError> {
        self.quoted(|w| w.integer(v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), JsonError> {
        self.quoted(|w| w.f32(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), JsonError> {
        self.quoted(|w| w.f64(v))
    }

    fn serialize_char(self, v: char) -> Result<(), JsonError> {
        self.writer.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), JsonError> {
        self.writer.string(v);
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), JsonError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), JsonError> {
        self.writer.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), JsonError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, JsonError> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, JsonError> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use super::to_vec;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn text<T: ?Sized + Serialize>(value: &T) -> String {
        match to_vec(value) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(reason) => format!("Err({reason})"),
        }
    }

    #[test]
    fn strings_are_escaped_like_python_ensure_ascii() {
        // Expected values from Python 3: json.dumps(s).
        assert_eq!(text("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(text("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(text("\u{0}\u{1f}\u{7f}"), r#""\u0000\u001f\u007f""#);
        assert_eq!(text("é"), r#""\u00e9""#);
        assert_eq!(text("日本"), r#""\u65e5\u672c""#);
        assert_eq!(text("😀"), r#""\ud83d\ude00""#);
        assert_eq!(text("/ ~"), r#""/ ~""#);
    }

    #[test]
    fn numbers_are_written_like_python() {
        assert_eq!(text(&1.0f64), "1.0");
        assert_eq!(text(&1e16f64), "1e+16");
        assert_eq!(text(&-0.0f64), "-0.0");
        assert_eq!(text(&1.5e-7f64), "1.5e-07");
        assert_eq!(text(&0.1f32), "0.1");
        assert_eq!(text(&u64::MAX), "18446744073709551615");
        assert_eq!(text(&i128::MIN), "-170141183460469231731687303715884105728");
    }

    #[test]
    fn non_finite_floats_are_errors() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(to_vec(&v).is_err());
            assert!(to_vec(&vec![1.0, v]).is_err());
        }
        assert!(to_vec(&f32::NAN).is_err());
    }

    #[test]
    fn containers_use_python_separators() {
        assert_eq!(text(&Vec::<i32>::new()), "[]");
        assert_eq!(text(&BTreeMap::<String, i32>::new()), "{}");
        assert_eq!(text(&(1, "a", (), true)), r#"[1, "a", null, true]"#);
        let map: BTreeMap<i32, Vec<Option<u8>>> = [(1, vec![Some(2), None]), (-3, vec![])].into();
        assert_eq!(text(&map), r#"{"-3": [], "1": [2, null]}"#);
        let floats: BTreeMap<bool, f64> = [(true, 1.5)].into();
        assert_eq!(text(&floats), r#"{"true": 1.5}"#);
        assert_eq!(text(&serde_bytes_like()), "[1, 2]");
    }

    fn serde_bytes_like() -> impl Serialize {
        struct Bytes;
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&[1, 2])
            }
        }
        Bytes
    }

    #[test]
    fn bad_map_keys_are_errors() {
        let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(to_vec(&map).is_err());
        let map: BTreeMap<Option<u8>, u8> = [(None, 1)].into();
        assert!(to_vec(&map).is_err());
    }

    #[test]
    fn enums_follow_serde_json() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        #[derive(Serialize)]
        struct S {
            name: &'static str,
            list: Vec<E>,
        }
        let value = S {
            name: "x",
            list: vec![E::Unit, E::New(1), E::Tuple(1, 2), E::Struct { a: 3 }],
        };
        let expected = serde_json::to_value(&value).ok();
        let written = to_vec(&value).ok();
        assert_eq!(
            text(&value),
            r#"{"name": "x", "list": ["Unit", {"New": 1}, {"Tuple": [1, 2]}, {"Struct": {"a": 3}}]}"#
        );
        let read_back = written.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        assert_eq!(read_back, expected);
    }
}
