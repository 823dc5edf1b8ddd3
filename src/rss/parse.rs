//! Reading a feed document into the items RSS rules look at.
//!
//! `feed-rs` parses RSS 0.9x/1.0/2.0, Atom and JSON Feed. What it does not keep are the
//! `torznab:attr` / `newznab:attr` elements of indexer feeds (Jackett, Prowlarr), which
//! carry the size and often the magnet link: a second, small pass over the XML collects them
//! per `<item>`, in document order (the order `feed-rs` returns entries in).
//!
//! Where an item's torrent comes from, first found wins: a magnet in its torznab attributes,
//! an enclosure (RSS `<enclosure>`, Atom `<link rel="enclosure">`), a link that is a magnet
//! or ends in `.torrent`, and last its plain link.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest title kept (longer ones are cut, on a character boundary).
const TITLE_MAX: usize = 512;
/// The longest torrent link kept; longer ones make the item unusable.
const LINK_MAX: usize = 8192;

/// One entry of a feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    /// Stable id of the item within its feed (a hash of its guid), the key of the grab
    /// history.
    pub key: String,
    pub title: String,
    /// A magnet link or an http(s) URL of a `.torrent` file (`null`: nothing to add).
    pub link: Option<String>,
    /// Bytes, when the feed says.
    pub size: Option<u64>,
    pub published: Option<DateTime<Utc>>,
}

/// A parsed feed: its title and items.
#[derive(Debug)]
pub struct Parsed {
    pub title: Option<String>,
    pub items: Vec<Item>,
}

/// Parses a feed document; the error is a sentence for the feed's status.
pub fn parse(bytes: &[u8], base: &str) -> Result<Parsed, String> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(base))
        .build()
        .parse(bytes)
        .map_err(|e| format!("not an RSS or Atom feed: {e}"))?;
    let attrs = torznab_attrs(bytes);
    let items = feed
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| item(e, attrs.get(i)))
        .collect();
    Ok(Parsed {
        title: feed.title.map(|t| cut(t.content.trim())),
        items,
    })
}

fn cut(s: &str) -> String {
    if s.len() <= TITLE_MAX {
        return s.to_owned();
    }
    let mut end = TITLE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn usable(link: &str) -> bool {
    link.len() <= LINK_MAX
        && (link.starts_with("magnet:?")
            || link.starts_with("http://")
            || link.starts_with("https://"))
}

fn item(e: feed_rs::model::Entry, attrs: Option<&HashMap<String, String>>) -> Item {
    let title = e
        .title
        .as_ref()
        .map(|t| cut(t.content.trim()))
        .unwrap_or_default();
    let attr = |name: &str| attrs.and_then(|a| a.get(name)).map(String::as_str);
    let mut candidates: Vec<(String, Option<u64>)> = Vec::new();
    if let Some(m) = attr("magneturl") {
        candidates.push((m.to_owned(), None));
    }
    for m in &e.media {
        for c in &m.content {
            if let Some(u) = &c.url {
                candidates.push((u.to_string(), c.size));
            }
        }
    }
    for l in &e.links {
        if l.rel.as_deref() == Some("enclosure") {
            candidates.push((l.href.clone(), l.length));
        }
    }
    for l in &e.links {
        let h = l.href.as_str();
        if h.starts_with("magnet:?") || h.to_ascii_lowercase().ends_with(".torrent") {
            candidates.push((l.href.clone(), l.length));
        }
    }
    for l in &e.links {
        if l.rel.as_deref().is_none_or(|r| r == "alternate") {
            candidates.push((l.href.clone(), l.length));
        }
    }
    // The size: the indexer's attribute, else any enclosure's length (a magnet has none).
    let size = attr("size")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .or(candidates.iter().find_map(|(_, s)| *s))
        .filter(|s| *s > 0);
    let chosen = candidates.into_iter().find(|(l, _)| usable(l));
    let id = if e.id.is_empty() {
        chosen
            .as_ref()
            .map(|(l, _)| l.clone())
            .unwrap_or(title.clone())
    } else {
        e.id.clone()
    };
    Item {
        key: hex::encode(&Sha256::digest(id.as_bytes())[..12]),
        title,
        link: chosen.map(|(l, _)| l),
        size,
        published: e.published.or(e.updated),
    }
}

/// The `torznab:attr` / `newznab:attr` name → value pairs of each `<item>`, in order.
fn torznab_attrs(bytes: &[u8]) -> Vec<HashMap<String, String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut out: Vec<HashMap<String, String>> = Vec::new();
    let mut in_item = false;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "item" => {
                in_item = true;
                out.push(HashMap::new());
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "item" => in_item = false,
            Ok(Event::Start(e) | Event::Empty(e))
                if in_item && matches!(e.name().as_ref(), "torznab:attr" | "newznab:attr") =>
            {
                let mut name = None;
                let mut value = None;
                for a in e.attributes().flatten() {
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned());
                    match a.key.as_ref() {
                        "name" => name = v,
                        "value" => value = v,
                        _ => {}
                    }
                }
                if let (Some(n), Some(v), Some(last)) = (name, value, out.last_mut()) {
                    last.entry(n.to_ascii_lowercase()).or_insert(v);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_enclosures_atom_links_and_torznab_magnets() {
        let rss = br#"<?xml version="1.0"?>
<rss version="2.0" xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel><title>T</title>
<item><title>Show S01E02 1080p</title><guid>g1</guid>
<enclosure url="http://x.test/a.torrent" length="1234" type="application/x-bittorrent"/></item>
<item><title>Other</title><link>http://x.test/page</link>
<torznab:attr name="size" value="999"/><torznab:attr name="magneturl" value="magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&amp;dn=x"/></item>
</channel></rss>"#;
        let p = parse(rss, "http://x.test/feed").unwrap();
        assert_eq!(p.title.as_deref(), Some("T"));
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[0].link.as_deref(), Some("http://x.test/a.torrent"));
        assert_eq!(p.items[0].size, Some(1234));
        assert_eq!(
            p.items[1].link.as_deref(),
            Some("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x")
        );
        assert_eq!(p.items[1].size, Some(999));
        assert_ne!(p.items[0].key, p.items[1].key);

        let atom = br#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>f</id><updated>2026-01-01T00:00:00Z</updated>
<entry><title>Ep</title><id>e1</id><updated>2026-01-01T00:00:00Z</updated>
<link rel="alternate" href="http://x.test/e1"/><link rel="enclosure" href="/t/e1.torrent" length="77"/></entry></feed>"#;
        let p = parse(atom, "http://x.test/atom").unwrap();
        assert_eq!(
            p.items[0].link.as_deref(),
            Some("http://x.test/t/e1.torrent")
        );
        assert_eq!(p.items[0].size, Some(77));
        assert!(parse(b"<html>no</html>", "http://x.test/").is_err());
    }
}
