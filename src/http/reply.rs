//! Answers whose body is a long JSON array (the torrent list: 10,000 rows, several MB).
//! axum's `Json` serializes into a 128-byte buffer that doubles as it fills, so a 6 MB list was
//! copied again and again (a sixth of the request's time in a profile, BENCHMARKS.md). Here the
//! buffer is sized once from the first element.

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use serde::Serialize;

use super::ApiError;

/// Above this the first element's size is not trusted as a guide (a row with many labels).
const MAX_RESERVE: usize = 64 << 20;

/// A JSON array answer, serialized into a buffer reserved from its first element's size.
pub struct JsonList<T>(pub Vec<T>);

impl<T: Serialize> IntoResponse for JsonList<T> {
    fn into_response(self) -> Response {
        match to_vec(&self.0) {
            Ok(buf) => ([(CONTENT_TYPE, "application/json")], buf).into_response(),
            Err(e) => ApiError::internal(format!("serializing a list: {e}")).into_response(),
        }
    }
}

fn to_vec<T: Serialize>(items: &[T]) -> serde_json::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(first) = items.first() {
        serde_json::to_writer(&mut buf, first)?;
        // Each element, its comma, and a little slack for rows longer than the first.
        let each = buf.len() + buf.len() / 8 + 1;
        buf.clear();
        buf.reserve(
            each.saturating_mul(items.len())
                .saturating_add(2)
                .min(MAX_RESERVE),
        );
    }
    serde_json::to_writer(&mut buf, items)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_as_serde_json() {
        #[derive(Serialize)]
        struct Row {
            name: String,
            n: u64,
        }
        let rows: Vec<Row> = (0..100)
            .map(|i| Row {
                name: format!("row \"{i}\" {}", "x".repeat(i)),
                n: i as u64,
            })
            .collect();
        assert_eq!(to_vec(&rows).unwrap(), serde_json::to_vec(&rows).unwrap());
        let empty: Vec<Row> = Vec::new();
        assert_eq!(to_vec(&empty).unwrap(), b"[]");
    }
}
