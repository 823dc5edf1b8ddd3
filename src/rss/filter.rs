//! What an RSS rule matches: title patterns, an episode filter and a size range.
//!
//! Patterns are regular expressions, case-insensitive, searched anywhere in the title (an
//! empty "include" matches every title). The episode filter is a list separated by `,` or
//! `;` of `S01` (a whole season), `S01E05` (one episode), `S01E01-S01E10` (a range, which may
//! cross seasons) and `S02E05-` (that episode and everything after it); `1x05` is the same as
//! `S01E05`. An item's episode is read from its title (`S01E05`, `S01.E05`, `1x05`); an item
//! without one never passes an episode filter, and a season pack (`S01` alone) passes only a
//! whole-season entry.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

/// The longest pattern accepted.
pub const PATTERN_MAX: usize = 512;
/// The longest episode filter accepted.
pub const EPISODES_MAX: usize = 256;

/// (season, episode); `episode` is `None` for a season pack.
pub type Episode = (u32, Option<u32>);

static EPISODE: LazyLock<Regex> = LazyLock::new(|| {
    // Built from a constant: it compiles (the unit tests run it).
    Regex::new(r"(?i)(?:^|[^a-z0-9])s(\d{1,4})(?:[ ._-]?e(\d{1,4}))?(?:[^0-9]|$)|(?:^|[^0-9])(\d{1,2})x(\d{1,3})(?:[^0-9]|$)")
        .expect("episode pattern")
});

/// The episode a title names, if any.
pub fn episode_of(title: &str) -> Option<Episode> {
    let c = EPISODE.captures(title)?;
    if let Some(s) = c.get(1) {
        let season = s.as_str().parse().ok()?;
        let ep = match c.get(2) {
            Some(e) => Some(e.as_str().parse().ok()?),
            None => None,
        };
        return Some((season, ep));
    }
    Some((
        c.get(3)?.as_str().parse().ok()?,
        Some(c.get(4)?.as_str().parse().ok()?),
    ))
}

/// Compiles a title pattern; the error is a sentence for the API.
pub fn pattern(field: &str, p: &str) -> Result<Option<Regex>, String> {
    let p = p.trim();
    if p.is_empty() {
        return Ok(None);
    }
    if p.len() > PATTERN_MAX {
        return Err(format!("{field} is at most {PATTERN_MAX} characters"));
    }
    RegexBuilder::new(p)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map(Some)
        .map_err(|e| format!("{field} is not a valid regular expression: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Season(u32),
    /// From .. to, inclusive; `to: None` means "and everything after".
    Range((u32, u32), Option<(u32, u32)>),
}

/// A parsed episode filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Episodes(Vec<Span>);

fn one(s: &str) -> Option<(u32, Option<u32>)> {
    let s = s.trim().to_ascii_lowercase();
    if let Some(rest) = s.strip_prefix('s') {
        return match rest.split_once('e') {
            Some((a, b)) => Some((a.parse().ok()?, Some(b.parse().ok()?))),
            None => Some((rest.parse().ok()?, None)),
        };
    }
    let (a, b) = s.split_once('x')?;
    Some((a.parse().ok()?, Some(b.parse().ok()?)))
}

impl Episodes {
    pub fn parse(s: &str) -> Result<Episodes, String> {
        if s.len() > EPISODES_MAX {
            return Err(format!("episodes is at most {EPISODES_MAX} characters"));
        }
        let bad = |part: &str| {
            format!(
                "episodes: {} is not S01, S01E05, S01E01-S01E10 or S01E05- (1x05 works too)",
                crate::limits::quote(part.trim())
            )
        };
        let mut spans = Vec::new();
        for part in s.split([',', ';']).filter(|p| !p.trim().is_empty()) {
            let span = match part.split_once('-') {
                None => match one(part).ok_or_else(|| bad(part))? {
                    (s, None) => Span::Season(s),
                    (s, Some(e)) => Span::Range((s, e), Some((s, e))),
                },
                Some((a, b)) => {
                    let Some((s1, Some(e1))) = one(a) else {
                        return Err(bad(part));
                    };
                    if b.trim().is_empty() {
                        Span::Range((s1, e1), None)
                    } else {
                        let Some((s2, Some(e2))) = one(b) else {
                            return Err(bad(part));
                        };
                        if (s2, e2) < (s1, e1) {
                            return Err(bad(part));
                        }
                        Span::Range((s1, e1), Some((s2, e2)))
                    }
                }
            };
            spans.push(span);
        }
        Ok(Episodes(spans))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an item with episode `ep` passes (an empty filter passes everything).
    pub fn accepts(&self, ep: Option<Episode>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some((season, episode)) = ep else {
            return false;
        };
        self.0.iter().any(|span| match (*span, episode) {
            (Span::Season(s), _) => s == season,
            (Span::Range(_, _), None) => false,
            (Span::Range(from, to), Some(e)) => {
                (season, e) >= from && to.is_none_or(|to| (season, e) <= to)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_from_titles() {
        assert_eq!(episode_of("Show.S01E05.1080p"), Some((1, Some(5))));
        assert_eq!(episode_of("Show - s2.e10 [x264]"), Some((2, Some(10))));
        assert_eq!(episode_of("Show 3x07 HDTV"), Some((3, Some(7))));
        assert_eq!(episode_of("Show S04 Complete 1080p"), Some((4, None)));
        assert_eq!(episode_of("Show 2024 1080p x264"), None);
        assert_eq!(episode_of("Documentary 1920x1080"), None);
    }

    #[test]
    fn episode_filters() {
        let f = Episodes::parse("S01E01-S01E10; S03, S04E05-").unwrap();
        assert!(f.accepts(Some((1, Some(1)))));
        assert!(f.accepts(Some((1, Some(10)))));
        assert!(!f.accepts(Some((1, Some(11)))));
        assert!(!f.accepts(Some((2, Some(1)))));
        assert!(f.accepts(Some((3, Some(99)))));
        assert!(f.accepts(Some((3, None))));
        assert!(!f.accepts(Some((4, Some(4)))));
        assert!(f.accepts(Some((4, Some(5)))));
        assert!(f.accepts(Some((7, Some(1)))));
        assert!(!f.accepts(None));
        assert!(
            !f.accepts(Some((1, None))),
            "a season pack is not an episode range"
        );
        let cross = Episodes::parse("1x05-2x02").unwrap();
        assert!(cross.accepts(Some((1, Some(30)))));
        assert!(cross.accepts(Some((2, Some(2)))));
        assert!(!cross.accepts(Some((2, Some(3)))));
        assert!(Episodes::parse("").unwrap().accepts(None));
        for bad in ["S01E10-S01E01", "E05", "S01-S02", "x", "S01E01-banana"] {
            assert!(Episodes::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        let p = pattern("include", "show.*1080p").unwrap().unwrap();
        assert!(p.is_match("The SHOW S01E01 1080P"));
        assert!(pattern("include", "  ").unwrap().is_none());
        assert!(pattern("include", "(unclosed").is_err());
    }
}
