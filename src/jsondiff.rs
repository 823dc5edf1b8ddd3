//! Field-level differences between JSON objects: what the live feed (`torrents:patch`) and
//! the qBittorrent API's `sync/maindata` send instead of whole rows. A leaf: no dependency
//! on the rest of the crate.

use serde_json::{Map, Value};

/// A value serialized as a JSON object (empty when it is not one).
pub fn to_map<T: serde::Serialize>(v: &T) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The fields of `new` whose value differs from `old` (new fields included).
pub fn changed_fields(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    new.iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_and_new_fields() {
        let old = to_map(&json!({"a": 1, "b": "x", "c": [1]}));
        let new = to_map(&json!({"a": 1, "b": "y", "c": [1], "d": null}));
        assert_eq!(
            Value::Object(changed_fields(&old, &new)),
            json!({"b": "y", "d": null})
        );
        assert!(changed_fields(&new, &new).is_empty());
    }
}
