//! Reading the scenario format: each JSON object as its fields' raw text,
//! each field parsed on its own by serde_json into a plain type.
//!
//! Derived deserializers cost about 40 KB of the .wasm here (a visitor per
//! struct and a copy of serde_json's struct machinery for each), for a
//! format of a few dozen fields read once per scenario. This reader shares
//! one object visitor and the few plain types among every struct, keeps
//! messages byte for byte (as their raw text), refuses unknown and repeated
//! fields, and names the field at fault (`hub.max_frame_len: ...`).

use std::fmt;

use serde::de::{DeserializeOwned, Deserializer, Error as _, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One JSON object, as the raw text of the fields not read yet.
pub(crate) struct Object<'a> {
    /// Where it is in the scenario, for errors: empty for the whole
    /// scenario, `hub`, `steps[3]`.
    path: String,
    fields: Vec<(String, &'a RawValue)>,
}

/// The fields of an object, in order, as raw text.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Fields<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, &'de RawValue>()? {
                    if fields.iter().any(|(n, _)| *n == name) {
                        return Err(A::Error::custom(format_args!("duplicate field `{name}`")));
                    }
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit)
    }
}

impl<'a> Object<'a> {
    /// Reads `json` as an object; `path` names it in errors.
    pub(crate) fn parse(path: String, json: &'a str) -> Result<Self, String> {
        match serde_json::from_str::<Fields<'a>>(json) {
            Ok(Fields(fields)) => Ok(Object { path, fields }),
            // The whole scenario: where in the text it went wrong.
            Err(e) if path.is_empty() => Err(e.to_string()),
            Err(e) => Err(format!("{path}: {}", without_position(&e))),
        }
    }

    /// The raw text of field `name`, taken: what is left at the end is
    /// unknown.
    pub(crate) fn raw(&mut self, name: &str) -> Option<&'a RawValue> {
        let at = self.fields.iter().position(|(n, _)| n == name)?;
        Some(self.fields.remove(at).1)
    }

    /// Field `name` as a `T`; `None` when absent.
    pub(crate) fn get<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.raw(name) {
            Some(raw) => self.value(name, raw).map(Some),
            None => Ok(None),
        }
    }

    /// Field `name` as a `T`; `None` when absent or `null`.
    pub(crate) fn opt<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.raw(name) {
            Some(raw) if raw.get() != "null" => self.value(name, raw).map(Some),
            _ => Ok(None),
        }
    }

    /// Field `name` as it is written (a message, a last will): `None` when
    /// absent, or when `null` unless `keep_null`.
    pub(crate) fn json(&mut self, name: &str, keep_null: bool) -> Option<Box<RawValue>> {
        self.raw(name)
            .filter(|raw| keep_null || raw.get() != "null")
            .map(ToOwned::to_owned)
    }

    /// A setting that `null` turns off: `default` when absent.
    pub(crate) fn nullable(
        &mut self,
        name: &str,
        default: Option<u64>,
    ) -> Result<Option<u64>, String> {
        match self.raw(name) {
            None => Ok(default),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => self.value(name, raw).map(Some),
        }
    }

    /// Field `name`, an object, when present.
    pub(crate) fn object(&mut self, name: &str) -> Result<Option<Object<'a>>, String> {
        let path = self.field_path(name);
        self.raw(name)
            .map(|raw| Object::parse(path, raw.get()))
            .transpose()
    }

    /// Field `name`, a list of objects (`steps`), each read by `read`.
    pub(crate) fn objects<T>(
        &mut self,
        name: &str,
        read: impl Fn(Object<'a>) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let Some(raw) = self.raw(name) else {
            return Ok(Vec::new());
        };
        let items: Vec<&'a RawValue> = self.value(name, raw)?;
        let path = self.field_path(name);
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| read(Object::parse(format!("{path}[{i}]"), item.get())?))
            .collect()
    }

    /// The error for a required field that is absent.
    pub(crate) fn missing(&self, name: &str) -> String {
        format!("{}missing field `{name}`", self.here())
    }

    /// Done: an error naming the first field nobody read, if any.
    pub(crate) fn finish(self, expected: &str) -> Result<(), String> {
        match self.fields.first() {
            Some((name, _)) => Err(format!(
                "{}unknown field `{name}`, expected {expected}",
                self.here()
            )),
            None => Ok(()),
        }
    }

    fn value<T: Deserialize<'a>>(&self, name: &str, raw: &'a RawValue) -> Result<T, String> {
        serde_json::from_str(raw.get())
            .map_err(|e| format!("{}: {}", self.field_path(name), without_position(&e)))
    }

    /// `hub.max_frame_len`, or `seed` at the top.
    fn field_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// What starts an error about the object itself: `hub: `.
    pub(crate) fn here(&self) -> String {
        if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path)
        }
    }
}

/// serde_json's message without its position, which counts from the start
/// of the field's own text and would mislead.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_once_and_the_rest_are_unknown() {
        let mut o = Object::parse(
            "hub".into(),
            r#"{"a":1,"b":null,"c":"x","m":{"z":1, "a":[]}}"#,
        )
        .unwrap();
        assert_eq!(o.get::<u64>("a").unwrap(), Some(1));
        assert_eq!(o.get::<u64>("a").unwrap(), None, "taken");
        assert_eq!(o.opt::<u64>("b").unwrap(), None);
        assert_eq!(o.json("m", false).unwrap().get(), r#"{"z":1, "a":[]}"#);
        let err = o.finish("a, b or m").unwrap_err();
        assert_eq!(err, "hub: unknown field `c`, expected a, b or m");
    }

    #[test]
    fn errors_name_the_field_and_the_document_says_where() {
        let mut o = Object::parse("steps[2]".into(), r#"{"ms":"soon"}"#).unwrap();
        let err = o.get::<u64>("ms").unwrap_err();
        assert_eq!(
            err,
            r#"steps[2].ms: invalid type: string "soon", expected u64"#
        );
        let err = Object::parse(String::new(), r#"{"seed":"#).err().unwrap();
        assert!(err.contains("line 1 column 8"), "{err}");
        let err = Object::parse("hub".into(), "[1]").err().unwrap();
        assert_eq!(err, "hub: invalid type: sequence, expected an object");
        let err = Object::parse(String::new(), r#"{"a":1,"a":2}"#)
            .err()
            .unwrap();
        assert!(err.starts_with("duplicate field `a`"), "{err}");
    }

    #[test]
    fn null_turns_off_absent_keeps_the_default() {
        let mut o = Object::parse("hub".into(), r#"{"x":null,"y":5}"#).unwrap();
        assert_eq!(o.nullable("x", Some(1)).unwrap(), None);
        assert_eq!(o.nullable("y", Some(1)).unwrap(), Some(5));
        assert_eq!(o.nullable("z", Some(1)).unwrap(), Some(1));
        let mut o = Object::parse("s".into(), r#"{"message":null}"#).unwrap();
        assert_eq!(o.json("message", true).unwrap().get(), "null");
    }
}
