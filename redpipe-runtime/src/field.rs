//! Field codecs: how values are turned into the bytes stored in Redis and back.
//!
//! Each codec is a zero-sized type named after the Python field it is compatible with, and
//! implements [`Codec`]. Encoding and decoding are pure; errors are short lower-case
//! reasons that the caller turns into [`Error::InvalidValue`](crate::Error::InvalidValue)
//! by attaching the field name. Hash keyspaces whose members have different types use the
//! run-time form, [`Field`] and [`FieldValue`].
//!
//! | codec | value | stored bytes |
//! |---|---|---|
//! | [`IntegerField`] | `i64` | decimal: `42`, `-7` |
//! | [`FloatField`] | `f64` | Python's `repr` without a trailing `.0`: `1`, `1.5`, `1e+16`, `1.5e-07`, `-0`, `nan`, `inf` |
//! | [`TextField`] | `str` | UTF-8 |
//! | [`AsciiField`] | `str` | printable ASCII only (0x20 to 0x7E) |
//! | [`BinaryField`] | `[u8]` | the bytes unchanged |
//! | [`BooleanField`] | `bool` | `1` for true, empty for false |
//! | [`ListField`] | `[serde_json::Value]` | a JSON array as Python writes it: `[1, "a", null, true, 1.5]` |
//! | [`DictField`] | `serde_json::Map` | a JSON object as Python writes it: `{"a": 1}` |
//! | [`StringListField`] | `[String]` | comma-joined: `a,b`; the empty list is empty bytes |
//! | [`JsonField<T>`] | any serde type `T` | JSON as Python writes it |
//!
//! "JSON as Python writes it" means `json.dumps` with its defaults: `", "` between items,
//! `": "` after keys, every character outside printable ASCII escaped as `\uXXXX` (with
//! surrogate pairs above U+FFFF), floats printed with `repr` (`1.0`, `1e+16`).
//!
//! # Compatibility with the Python library
//!
//! What Python writes, these codecs read, and what they write, Python reads. Where Python
//! behaves oddly we keep what existing data needs and fix the rest:
//!
//! - **Integers.** Python stores integers after a trip through `float`, and reads them the
//!   same way, so it accepts `1.9` (read as 1) and `1e3`. We read those too (truncating
//!   toward zero, as Python does), but integers are written and read exactly: Python loses
//!   precision above 2^53, we do not. `inf` and `nan` are errors, and so is a value outside
//!   the Rust type read, with a message naming the value: Python stores `i64::MAX` as
//!   `9223372036854775808` (2^63, after its float trip), which is out of range for `i64`
//!   but reads as 2^63 into a `u64` struct member. Every integer type a struct member may
//!   have (`i8` to `i64`, `u8` to `u64`) reads and writes its whole range exactly.
//! - **Floats.** Written exactly as Python writes them, so stored bytes are identical.
//!   Reading accepts anything Python's `float()` accepts: surrounding whitespace,
//!   underscores between digits, `inf`, `Infinity`, `nan` in any case. Like Python,
//!   [`Field::Float`] takes integer values, writing Python's bytes for them, but only those
//!   an `f64` holds exactly: Python would store `2^53 + 1` as `9007199254740992`, we refuse it.
//! - **Booleans.** Python reads *any* non-empty bytes as true, including `0` and `false`.
//!   Python itself only ever writes `1` or nothing, and we keep its reading rule so that
//!   data written by other tools reads the same in both languages.
//! - **ASCII.** Python accepts one trailing newline (`"abc\n"`), a regex bug. We refuse it
//!   when writing, but still read it, so values Python already stored stay readable.
//! - **String lists.** Python joins items with commas without escaping, so an item holding
//!   a comma comes back as two items; we refuse such items, and empty items, which would
//!   vanish. Python reads an empty value as `None`; we read it as an empty list (a
//!   missing key is what reads as `None`).
//! - **JSON.** Stored bytes are identical to Python's for the same value, except that
//!   objects come out in key order (`serde_json::Map` is sorted), where Python keeps
//!   insertion order; the values are equal either way. Python writes NaN and infinities as
//!   the non-standard tokens `NaN` and `Infinity`; we refuse to write them and cannot read
//!   them. Python turns other JSON shapes into a list or dict when reading (an object
//!   becomes its keys, a string its characters); we require an array for [`ListField`] and
//!   an object for [`DictField`]. Integers beyond `u64`/`i64` read as floats.

mod json;
mod python_float;

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes values of one type to the bytes stored in Redis and decodes them back.
///
/// Implement it on a zero-sized type to store a type of your own.
pub trait Codec: 'static {
    /// The value type; unsized types (`str`, `[u8]`) let callers pass borrowed input.
    type Value: ?Sized + ToOwned<Owned: Clone + Send + Sync + 'static> + Send + Sync + 'static;

    /// Short name used in messages, e.g. `"integer"`.
    const NAME: &'static str;

    /// Encodes a value. `Err(reason)` is a short lower-case reason such as `"not ascii"`;
    /// the caller attaches the field name and turns it into
    /// [`Error::InvalidValue`](crate::Error::InvalidValue).
    fn encode(value: &Self::Value) -> Result<Vec<u8>, String>;

    /// Decodes stored bytes. `Err(reason)` names what was wrong, for example
    /// `not an integer: "1x"`.
    fn decode(bytes: &[u8]) -> Result<<Self::Value as ToOwned>::Owned, String>;
}

/// Stored bytes as shown in an error message: quoted, lossy UTF-8, cut after 40 characters.
fn shown(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 40;
    let head = &bytes[..bytes.len().min(MAX_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut chars = text.chars();
    let kept: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() || head.len() < bytes.len() {
        format!("{kept:?}...")
    } else {
        format!("{kept:?}")
    }
}

/// Cuts a long message (serde_json's may quote the input) to a readable length.
fn clipped(mut message: String) -> String {
    const MAX_CHARS: usize = 200;
    if let Some((cut, _)) = message.char_indices().nth(MAX_CHARS) {
        message.truncate(cut);
        message.push_str("...");
    }
    message
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("{what}: {e}: {}", shown(bytes)))
}

/// A signed 64-bit integer, stored in decimal.
///
/// Reads float text too (`1.9` reads as 1, `1e3` as 1000), as the Python library does;
/// see the [module docs](self). A stored integer outside `i64` is an error naming the
/// value: `9223372036854775808 is out of range for i64`. That is what Python stores for
/// `i64::MAX`, which it rounds through a float to 2^63; refusing it is better than
/// reading another number than the one written. Struct members of the other integer types
/// (`u64` included) read the same text, each over its own whole range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IntegerField;

impl Codec for IntegerField {
    type Value = i64;
    const NAME: &'static str = "integer";

    fn encode(value: &i64) -> Result<Vec<u8>, String> {
        Ok(value.to_string().into_bytes())
    }

    fn decode(bytes: &[u8]) -> Result<i64, String> {
        decode_integer(bytes, "i64")
    }
}

/// Reads stored integer text into `T` (any integer type up to 64 bits, named `type_name` in
/// messages), as [`IntegerField`] reads it: exact decimal first, else Python's float text
/// truncated toward zero. Values outside `T` are errors naming the value and the type.
pub(crate) fn decode_integer<T: TryFrom<i128>>(bytes: &[u8], type_name: &str) -> Result<T, String> {
    let out_of_range =
        |value: &dyn std::fmt::Display| format!("{value} is out of range for {type_name}");
    match parse_integer(bytes)? {
        Some(wide) => T::try_from(wide).map_err(|_| {
            if bytes == wide.to_string().as_bytes() {
                out_of_range(&wide)
            } else {
                out_of_range(&format_args!("{wide} (stored as {})", shown(bytes)))
            }
        }),
        None => Err(out_of_range(&shown(bytes))),
    }
}

/// Parses stored integer text: `Ok(None)` when it is a number outside `i128` (so outside
/// every supported type), `Err` when it is not a number at all.
fn parse_integer(bytes: &[u8]) -> Result<Option<i128>, String> {
    let not_integer = || format!("not an integer: {}", shown(bytes));
    let text = std::str::from_utf8(bytes)
        .map_err(|_| not_integer())?
        .trim();
    let text = if text.contains('_') {
        python_float::without_underscores(text).ok_or_else(not_integer)?
    } else {
        text.to_owned()
    };
    match text.parse::<i128>() {
        Ok(exact) => return Ok(Some(exact)),
        Err(e)
            if matches!(
                e.kind(),
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
            ) =>
        {
            return Ok(None)
        }
        Err(_) => {}
    }
    // Python's IntegerField reads through float and truncates toward zero.
    let float = text
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(not_integer)?
        .trunc();
    // -2^127 and 2^127 are exact in f64; every truncated float in between fits in i128.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if (-LIMIT..LIMIT).contains(&float) {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a whole float strictly inside the i128 range converts exactly"
        )]
        Ok(Some(float as i128))
    } else {
        Ok(None)
    }
}

/// A 64-bit float, stored as Python prints it (`1`, `1.5`, `1e+16`, `nan`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FloatField;

impl Codec for FloatField {
    type Value = f64;
    const NAME: &'static str = "float";

    fn encode(value: &f64) -> Result<Vec<u8>, String> {
        let value = *value;
        let text = if value.is_nan() {
            "nan".to_owned()
        } else if value == f64::INFINITY {
            "inf".to_owned()
        } else if value == f64::NEG_INFINITY {
            "-inf".to_owned()
        } else {
            let mut repr = String::new();
            python_float::write_repr(&mut repr, value);
            // The Python library strips the `.0` that repr puts after whole numbers.
            if repr.ends_with(".0") {
                repr.truncate(repr.len() - 2);
            }
            repr
        };
        Ok(text.into_bytes())
    }

    fn decode(bytes: &[u8]) -> Result<f64, String> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(python_float::parse)
            .ok_or_else(|| format!("not a float: {}", shown(bytes)))
    }
}

/// Text, stored as UTF-8.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TextField;

impl Codec for TextField {
    type Value = str;
    const NAME: &'static str = "text";

    fn encode(value: &str) -> Result<Vec<u8>, String> {
        Ok(value.as_bytes().to_vec())
    }

    fn decode(bytes: &[u8]) -> Result<String, String> {
        utf8(bytes, "not utf-8").map(str::to_owned)
    }
}

/// Text made only of printable ASCII (space through `~`); the empty string is allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AsciiField;

fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

impl Codec for AsciiField {
    type Value = str;
    const NAME: &'static str = "ascii";

    fn encode(value: &str) -> Result<Vec<u8>, String> {
        if is_printable_ascii(value) {
            Ok(value.as_bytes().to_vec())
        } else {
            Err("not ascii".to_owned())
        }
    }

    fn decode(bytes: &[u8]) -> Result<String, String> {
        let text = utf8(bytes, "not ascii")?;
        // One trailing newline is tolerated because the Python library let it through.
        if is_printable_ascii(text.strip_suffix('\n').unwrap_or(text)) {
            Ok(text.to_owned())
        } else {
            Err(format!("not ascii: {}", shown(bytes)))
        }
    }
}

/// Raw bytes, stored unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BinaryField;

impl Codec for BinaryField {
    type Value = [u8];
    const NAME: &'static str = "binary";

    fn encode(value: &[u8]) -> Result<Vec<u8>, String> {
        Ok(value.to_vec())
    }

    fn decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(bytes.to_vec())
    }
}

/// A boolean, stored as `1` (true) or empty bytes (false).
///
/// Any non-empty stored value reads as true, as in the Python library, even `0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BooleanField;

impl Codec for BooleanField {
    type Value = bool;
    const NAME: &'static str = "boolean";

    fn encode(value: &bool) -> Result<Vec<u8>, String> {
        Ok(if *value { b"1".to_vec() } else { Vec::new() })
    }

    fn decode(bytes: &[u8]) -> Result<bool, String> {
        Ok(!bytes.is_empty())
    }
}

/// A JSON array, written as Python's `json.dumps` writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ListField;

impl Codec for ListField {
    type Value = [serde_json::Value];
    const NAME: &'static str = "list";

    fn encode(value: &[serde_json::Value]) -> Result<Vec<u8>, String> {
        json::to_vec(value)
    }

    fn decode(bytes: &[u8]) -> Result<Vec<serde_json::Value>, String> {
        match parse_json::<serde_json::Value>(bytes)? {
            serde_json::Value::Array(items) => Ok(items),
            _ => Err(format!("not a json list: {}", shown(bytes))),
        }
    }
}

/// A JSON object, written as Python's `json.dumps` writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DictField;

impl Codec for DictField {
    type Value = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "dict";

    fn encode(value: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<u8>, String> {
        json::to_vec(value)
    }

    fn decode(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        match parse_json::<serde_json::Value>(bytes)? {
            serde_json::Value::Object(map) => Ok(map),
            _ => Err(format!("not a json object: {}", shown(bytes))),
        }
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| clipped(format!("not json: {e}")))
}

/// A list of strings, stored comma-joined (`a,b`); the empty list is stored as empty bytes.
///
/// Items may not contain a comma or be empty, since neither would read back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StringListField;

impl Codec for StringListField {
    type Value = [String];
    const NAME: &'static str = "string list";

    fn encode(value: &[String]) -> Result<Vec<u8>, String> {
        if value.iter().any(|item| item.contains(',')) {
            return Err("not a list of strings: item contains a comma".to_owned());
        }
        if value.iter().any(String::is_empty) {
            return Err("not a list of strings: item is empty".to_owned());
        }
        Ok(value.join(",").into_bytes())
    }

    fn decode(bytes: &[u8]) -> Result<Vec<String>, String> {
        let text = utf8(bytes, "not a list of strings")?;
        Ok(text
            .split(',')
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// Any serde type, stored as JSON written as Python's `json.dumps` writes it.
///
/// The JSON shape is `serde_json`'s (enums externally tagged, `None` as `null`). Floats
/// that are NaN or infinite cannot be stored.
pub struct JsonField<T>(PhantomData<fn() -> T>);

impl<T> JsonField<T> {
    /// The codec value; it holds nothing.
    pub const fn new() -> Self {
        JsonField(PhantomData)
    }
}

impl<T> Default for JsonField<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for JsonField<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for JsonField<T> {}

impl<T> std::fmt::Debug for JsonField<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonField<{}>", std::any::type_name::<T>())
    }
}

impl<T> Codec for JsonField<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Value = T;
    const NAME: &'static str = "json";

    fn encode(value: &T) -> Result<Vec<u8>, String> {
        json::to_vec(value)
    }

    fn decode(bytes: &[u8]) -> Result<T, String> {
        parse_json(bytes)
    }
}

/// A field codec chosen at run time, for hash keyspaces that map member names to codecs.
///
/// Each variant behaves exactly as the codec type of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// [`IntegerField`]; values are [`FieldValue::Integer`].
    Integer,
    /// [`FloatField`]; values are [`FieldValue::Float`], and [`FieldValue::Integer`] is
    /// accepted when a float holds it exactly (see [`Field::encode`]).
    Float,
    /// [`TextField`]; values are [`FieldValue::Text`].
    Text,
    /// [`AsciiField`]; values are [`FieldValue::Text`].
    Ascii,
    /// [`BinaryField`]; values are [`FieldValue::Binary`].
    Binary,
    /// [`BooleanField`]; values are [`FieldValue::Boolean`].
    Boolean,
    /// [`ListField`]; values are [`FieldValue::List`].
    List,
    /// [`DictField`]; values are [`FieldValue::Dict`].
    Dict,
    /// [`StringListField`]; values are [`FieldValue::StringList`].
    StringList,
}

/// A value of any of the [`Field`] kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// For [`Field::Integer`].
    Integer(i64),
    /// For [`Field::Float`].
    Float(f64),
    /// For [`Field::Text`] and [`Field::Ascii`].
    Text(String),
    /// For [`Field::Binary`].
    Binary(Vec<u8>),
    /// For [`Field::Boolean`].
    Boolean(bool),
    /// For [`Field::List`].
    List(Vec<serde_json::Value>),
    /// For [`Field::Dict`].
    Dict(serde_json::Map<String, serde_json::Value>),
    /// For [`Field::StringList`].
    StringList(Vec<String>),
}

impl FieldValue {
    /// The kind of value, with its article, for messages: `"an integer"`.
    fn kind(&self) -> &'static str {
        match self {
            FieldValue::Integer(_) => "an integer",
            FieldValue::Float(_) => "a float",
            FieldValue::Text(_) => "a text",
            FieldValue::Binary(_) => "a binary",
            FieldValue::Boolean(_) => "a boolean",
            FieldValue::List(_) => "a list",
            FieldValue::Dict(_) => "a dict",
            FieldValue::StringList(_) => "a string list",
        }
    }
}

impl Field {
    /// The codec's short name, the same as its [`Codec::NAME`].
    pub fn name(self) -> &'static str {
        match self {
            Field::Integer => IntegerField::NAME,
            Field::Float => FloatField::NAME,
            Field::Text => TextField::NAME,
            Field::Ascii => AsciiField::NAME,
            Field::Binary => BinaryField::NAME,
            Field::Boolean => BooleanField::NAME,
            Field::List => ListField::NAME,
            Field::Dict => DictField::NAME,
            Field::StringList => StringListField::NAME,
        }
    }

    /// The kind of value this field takes, with its article, for messages.
    fn expected(self) -> &'static str {
        match self {
            Field::Integer => "an integer",
            Field::Float => "a float",
            Field::Text | Field::Ascii => "a text",
            Field::Binary => "a binary",
            Field::Boolean => "a boolean",
            Field::List => "a list",
            Field::Dict => "a dict",
            Field::StringList => "a string list",
        }
    }

    /// Encodes `value`, which must be of this field's kind (text for both `Text` and
    /// `Ascii`); `Err(reason)` as [`Codec::encode`].
    ///
    /// `Float` also takes an integer, as Python's `FloatField` does, and writes the same
    /// bytes Python writes for it (`5` → `5`, `10^17` → `1e+17`), provided an `f64` holds it
    /// exactly: every integer up to 2^53 in magnitude, and larger ones made of few enough
    /// significant bits. Other integers are refused (`2^53 + 1` is not exactly
    /// representable as a float) where Python would silently store a rounded number.
    pub fn encode(self, value: &FieldValue) -> Result<Vec<u8>, String> {
        match (self, value) {
            (Field::Integer, FieldValue::Integer(v)) => IntegerField::encode(v),
            (Field::Float, FieldValue::Float(v)) => FloatField::encode(v),
            (Field::Float, FieldValue::Integer(v)) => FloatField::encode(&exact_float(*v)?),
            (Field::Text, FieldValue::Text(v)) => TextField::encode(v),
            (Field::Ascii, FieldValue::Text(v)) => AsciiField::encode(v),
            (Field::Binary, FieldValue::Binary(v)) => BinaryField::encode(v),
            (Field::Boolean, FieldValue::Boolean(v)) => BooleanField::encode(v),
            (Field::List, FieldValue::List(v)) => ListField::encode(v),
            (Field::Dict, FieldValue::Dict(v)) => DictField::encode(v),
            (Field::StringList, FieldValue::StringList(v)) => StringListField::encode(v),
            (field, other) => Err(format!(
                "expected {} value, found {} value",
                field.expected(),
                other.kind()
            )),
        }
    }

    /// Decodes stored bytes into a value of this field's kind; `Err(reason)` as
    /// [`Codec::decode`].
    pub fn decode(self, bytes: &[u8]) -> Result<FieldValue, String> {
        Ok(match self {
            Field::Integer => FieldValue::Integer(IntegerField::decode(bytes)?),
            Field::Float => FieldValue::Float(FloatField::decode(bytes)?),
            Field::Text => FieldValue::Text(TextField::decode(bytes)?),
            Field::Ascii => FieldValue::Text(AsciiField::decode(bytes)?),
            Field::Binary => FieldValue::Binary(BinaryField::decode(bytes)?),
            Field::Boolean => FieldValue::Boolean(BooleanField::decode(bytes)?),
            Field::List => FieldValue::List(ListField::decode(bytes)?),
            Field::Dict => FieldValue::Dict(DictField::decode(bytes)?),
            Field::StringList => FieldValue::StringList(StringListField::decode(bytes)?),
        })
    }
}

/// `value` as an `f64`, if one holds it exactly.
fn exact_float(value: i64) -> Result<f64, String> {
    #[allow(
        clippy::cast_precision_loss,
        reason = "the round trip below checks that nothing was lost"
    )]
    let float = value as f64;
    // Through i128, as i64::MAX rounds to 2^63, which `as i64` would saturate back.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "every f64 converted from an i64 fits in i128"
    )]
    if float as i128 == i128::from(value) {
        Ok(float)
    } else {
        Err(format!(
            "{value} is not exactly representable as a float (it would be stored as {})",
            String::from_utf8_lossy(&FloatField::encode(&float)?)
        ))
    }
}

impl From<i64> for FieldValue {
    fn from(value: i64) -> Self {
        FieldValue::Integer(value)
    }
}

impl From<f64> for FieldValue {
    fn from(value: f64) -> Self {
        FieldValue::Float(value)
    }
}

impl From<&str> for FieldValue {
    fn from(value: &str) -> Self {
        FieldValue::Text(value.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> Self {
        FieldValue::Text(value)
    }
}

impl From<bool> for FieldValue {
    fn from(value: bool) -> Self {
        FieldValue::Boolean(value)
    }
}

impl From<Vec<u8>> for FieldValue {
    fn from(value: Vec<u8>) -> Self {
        FieldValue::Binary(value)
    }
}

impl From<Vec<serde_json::Value>> for FieldValue {
    fn from(value: Vec<serde_json::Value>) -> Self {
        FieldValue::List(value)
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for FieldValue {
    fn from(value: serde_json::Map<String, serde_json::Value>) -> Self {
        FieldValue::Dict(value)
    }
}

impl From<Vec<String>> for FieldValue {
    fn from(value: Vec<String>) -> Self {
        FieldValue::StringList(value)
    }
}

impl From<Vec<&str>> for FieldValue {
    fn from(value: Vec<&str>) -> Self {
        FieldValue::StringList(value.into_iter().map(str::to_owned).collect())
    }
}

impl From<&[&str]> for FieldValue {
    fn from(value: &[&str]) -> Self {
        FieldValue::StringList(value.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// Smaller integers (an `i32` age, a `u16` port) are integers too.
macro_rules! integer_from {
    ($($t:ty),*) => {$(
        impl From<$t> for FieldValue {
            fn from(value: $t) -> Self {
                FieldValue::Integer(i64::from(value))
            }
        }
    )*};
}
integer_from!(i8, i16, i32, u8, u16, u32);

impl From<f32> for FieldValue {
    fn from(value: f32) -> Self {
        FieldValue::Float(f64::from(value))
    }
}

/// Reading values without a `match`: `data["age"].as_integer()`.
impl FieldValue {
    /// The integer, for [`FieldValue::Integer`].
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            FieldValue::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// The number as a float, for [`FieldValue::Float`] (and an integer an `f64` holds
    /// exactly, as float fields accept them).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            FieldValue::Float(v) => Some(*v),
            FieldValue::Integer(v) => exact_float(*v).ok(),
            _ => None,
        }
    }

    /// The text, for [`FieldValue::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(v) => Some(v),
            _ => None,
        }
    }

    /// The flag, for [`FieldValue::Boolean`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Boolean(v) => Some(*v),
            _ => None,
        }
    }

    /// The bytes, for [`FieldValue::Binary`] (and the UTF-8 bytes of a text).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            FieldValue::Binary(v) => Some(v),
            FieldValue::Text(v) => Some(v.as_bytes()),
            _ => None,
        }
    }

    /// The items, for [`FieldValue::StringList`].
    pub fn as_string_list(&self) -> Option<&[String]> {
        match self {
            FieldValue::StringList(v) => Some(v),
            _ => None,
        }
    }
}

/// Taking a value out by type: `let age: i64 = value.try_into()?;`. The error names the
/// kind found.
macro_rules! value_into {
    ($($t:ty => $variant:ident),*) => {$(
        impl TryFrom<FieldValue> for $t {
            type Error = crate::error::Error;

            fn try_from(value: FieldValue) -> Result<Self, Self::Error> {
                match value {
                    FieldValue::$variant(v) => Ok(v),
                    other => Err(crate::error::Error::invalid_value(
                        stringify!($t),
                        format!("found {} value", other.kind()),
                    )),
                }
            }
        }
    )*};
}
value_into!(
    i64 => Integer,
    f64 => Float,
    String => Text,
    bool => Boolean,
    Vec<u8> => Binary,
    Vec<String> => StringList
);

#[cfg(test)]
mod tests;
