//! Checks a .torrent file (or a magnet's metadata, which is its `info` dictionary) before
//! the engine sees it.
//!
//! librqbit reads bencode integers with wrapping arithmetic and divides by the piece length,
//! so a piece length of 0 or 2^64, file lengths that overflow, or a `pieces` string that does
//! not match the size either panic inside it or come out as a torrent of size 0 that never
//! downloads. This module reads the bencode itself, with checked integers and bounded
//! nesting, and refuses anything outside the rules below with a reason a user can act on.
//! The rules (also in `docs/limits.md`):
//!
//! - `piece length` between 16 KiB and 64 MiB. A power of two is *not* required: BEP 3 only
//!   says it is "almost always" one, real torrents with other sizes exist (270,544 bytes,
//!   4 MiB − 2 KiB) and work in Transmission and Azureus, and librqbit splits any piece into
//!   16 KiB blocks plus a shorter last block (an integration test downloads such a torrent).
//!   Below 16 KiB one piece would be smaller than one block request, which no creator makes.
//! - `pieces` is a whole number of 20-byte SHA-1 hashes, exactly one per piece of the total
//!   size.
//! - exactly one of `length` (one file) or `files` (1 to 100,000 files); every length is a
//!   non-negative integer that fits in 64 bits, the total is between 1 byte and 1 PiB.
//! - `name` and every path component: present, non-empty, valid UTF-8 (BEP 3 requires UTF-8;
//!   other encodings are refused rather than guessed and mangled), no control characters
//!   (NUL included), no `/` or `\`, not `.` or `..`, at most 255 bytes; a whole path at most
//!   4,096 bytes; no two (non-padding) files at the same path.
//! - well-formed bencode with nothing after it, nested at most 64 levels deep.

use std::collections::HashSet;

use crate::limits::{PATH_COMPONENT_MAX_BYTES, TORRENT_FILES_MAX, TORRENT_PATH_MAX_BYTES, quote};

/// Smallest accepted piece length (one 16 KiB block).
pub const PIECE_LENGTH_MIN: u64 = 16 * 1024;
/// Largest accepted piece length.
pub const PIECE_LENGTH_MAX: u64 = 64 * 1024 * 1024;
/// Largest accepted total size (1 PiB).
pub const TOTAL_SIZE_MAX: u64 = 1 << 50;
/// Deepest accepted nesting of lists and dictionaries.
const MAX_DEPTH: u32 = 64;

/// Why a .torrent was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TorrentError {
    #[error("{0}")]
    Invalid(String),
    /// A name or path that would leave the download folder (`..`).
    #[error("{0}")]
    PathEscape(String),
}

type Result<T> = std::result::Result<T, TorrentError>;

fn invalid(msg: impl Into<String>) -> TorrentError {
    TorrentError::Invalid(msg.into())
}

/// What the checks established, for callers that want the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub piece_length: u32,
    pub total: u64,
    pub files: usize,
}

/// Checks a whole .torrent file.
pub fn check_torrent_file(bytes: &[u8]) -> Result<Checked> {
    let mut r = Reader::new(bytes);
    if r.peek()? != b'd' {
        return Err(invalid("it is not a bencoded dictionary"));
    }
    let mut info = None;
    r.dict(0, |r, key| {
        if key == b"info" {
            if info.is_some() {
                return Err(invalid("it has two 'info' dictionaries"));
            }
            if r.peek()? != b'd' {
                return Err(invalid("'info' is not a dictionary"));
            }
            info = Some(read_info(r, 1)?);
            Ok(())
        } else {
            r.skip(1)
        }
    })?;
    r.finish()?;
    let info = info.ok_or_else(|| invalid("it has no 'info' dictionary"))?;
    check_info_fields(&info)
}

/// Checks a bencoded `info` dictionary alone (a magnet's metadata as peers send it).
pub fn check_info(bytes: &[u8]) -> Result<Checked> {
    let mut r = Reader::new(bytes);
    if r.peek()? != b'd' {
        return Err(invalid("the info dictionary is not a bencoded dictionary"));
    }
    let info = read_info(&mut r, 0)?;
    r.finish()?;
    check_info_fields(&info)
}

/// A .torrent without its tracker keys (`announce`, `announce-list`), and the tracker URLs
/// they held (the tiers in order, then `announce` when no tier has it). pytorrentd talks to
/// trackers itself (`trackers.rs`); the engine gets the torrent without them. The `info`
/// dictionary stays byte for byte, so the info hash is the same.
pub(crate) fn split_trackers(bytes: &[u8]) -> Result<(Vec<u8>, Vec<String>)> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    out.push(b'd');
    let mut tiers: Vec<String> = Vec::new();
    let mut announce: Option<String> = None;
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(|s| s.trim().to_owned());
    r.dict(0, |r, key| {
        let start = r.i;
        match key {
            b"announce" => {
                if r.peek()?.is_ascii_digit() {
                    announce = text(r.bytes()?);
                } else {
                    r.skip(1)?;
                }
            }
            b"announce-list" => {
                let ok = r.list(1, |r| {
                    r.list(2, |r| {
                        if r.peek()?.is_ascii_digit() {
                            if let Some(u) = text(r.bytes()?) {
                                tiers.push(u);
                            }
                            Ok(())
                        } else {
                            r.skip(3)
                        }
                    })
                });
                if ok.is_err() {
                    r.i = start;
                    r.skip(1)?;
                }
            }
            _ => {
                r.skip(1)?;
                out.extend_from_slice(format!("{}:", key.len()).as_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(&r.b[start..r.i]);
            }
        }
        Ok(())
    })?;
    r.finish()?;
    out.push(b'e');
    if let Some(a) = announce
        && !tiers.contains(&a)
    {
        tiers.push(a);
    }
    tiers.retain(|t| !t.is_empty());
    let mut seen = HashSet::new();
    tiers.retain(|t| seen.insert(t.clone()));
    Ok((out, tiers))
}

/// A bencoded value, as trackers answer (`trackers.rs`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ben<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Ben<'a>>),
    Dict(Vec<(&'a [u8], Ben<'a>)>),
}

impl<'a> Ben<'a> {
    pub fn get(&self, key: &str) -> Option<&Ben<'a>> {
        match self {
            Ben::Dict(d) => d.iter().find(|(k, _)| *k == key.as_bytes()).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Ben::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Ben::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Reads one bencoded value (nothing may follow it), with the same checked integers and
/// bounded nesting as the .torrent checks.
pub(crate) fn parse_value(bytes: &[u8]) -> Result<Ben<'_>> {
    fn value<'a>(r: &mut Reader<'a>, depth: u32) -> Result<Ben<'a>> {
        Ok(match r.peek()? {
            b'i' => {
                let int = r.int()?;
                Ben::Int(
                    int.to_i64()
                        .ok_or_else(|| invalid("an integer does not fit in 64 bits"))?,
                )
            }
            b'l' => {
                let mut v = Vec::new();
                r.list(depth, |r| {
                    v.push(value(r, depth + 1)?);
                    Ok(())
                })?;
                Ben::List(v)
            }
            b'd' => {
                let mut v = Vec::new();
                r.dict(depth, |r, k| {
                    v.push((k, value(r, depth + 1)?));
                    Ok(())
                })?;
                Ben::Dict(v)
            }
            _ => Ben::Bytes(r.bytes()?),
        })
    }
    let mut r = Reader::new(bytes);
    let v = value(&mut r, 0)?;
    r.finish()?;
    Ok(v)
}

// ---- reading ---------------------------------------------------------------------------

/// A bencoded integer's text (`-?[0-9]+`), converted when and how the caller needs it.
#[derive(Debug, Clone, Copy)]
struct Int<'a>(&'a [u8]);

impl Int<'_> {
    fn text(&self) -> String {
        quote(&String::from_utf8_lossy(self.0))
    }

    /// The value as i64, if it fits.
    fn to_i64(self) -> Option<i64> {
        std::str::from_utf8(self.0).ok()?.parse().ok()
    }

    /// The value as u64, or a reason naming `what`.
    fn to_u64(self, what: &str) -> Result<u64> {
        if self.0.first() == Some(&b'-') {
            if self.0[1..].iter().all(|&d| d == b'0') {
                return Ok(0);
            }
            return Err(invalid(format!("{what} is negative ({})", self.text())));
        }
        let mut v: u64 = 0;
        for &d in self.0 {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| {
                    invalid(format!(
                        "{what} ({}, {} digits) does not fit in 64 bits",
                        self.text(),
                        self.0.len()
                    ))
                })?;
        }
        Ok(v)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, i: 0 }
    }

    fn malformed(&self, what: &str) -> TorrentError {
        invalid(format!("malformed bencode at byte {}: {what}", self.i))
    }

    fn peek(&self) -> Result<u8> {
        self.b.get(self.i).copied().ok_or_else(|| {
            invalid(format!(
                "the data ends too early (truncated after {} bytes)",
                self.b.len()
            ))
        })
    }

    fn finish(&self) -> Result<()> {
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(invalid(format!(
                "{} unexpected bytes follow the end of the data",
                self.b.len() - self.i
            )))
        }
    }

    fn int(&mut self) -> Result<Int<'a>> {
        if self.peek()? != b'i' {
            return Err(self.malformed("expected an integer"));
        }
        self.i += 1;
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let digits = self.i;
        while self.peek()?.is_ascii_digit() {
            self.i += 1;
        }
        if self.i == digits || self.peek()? != b'e' {
            return Err(self.malformed("an integer is not of the form i<digits>e"));
        }
        let text = &self.b[start..self.i];
        self.i += 1;
        Ok(Int(text))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let start = self.i;
        let mut len: usize = 0;
        while self.peek()?.is_ascii_digit() {
            len = len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(self.b[self.i] - b'0')))
                .ok_or_else(|| self.malformed("a string length does not fit in memory"))?;
            self.i += 1;
        }
        if self.i == start || self.peek()? != b':' {
            return Err(self.malformed("expected a string (<length>:<bytes>)"));
        }
        self.i += 1;
        let end = self
            .i
            .checked_add(len)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                invalid(format!(
                    "the data ends too early (a {len}-byte string at byte {} is cut off)",
                    self.i
                ))
            })?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }

    fn enter(&self, depth: u32) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(invalid(format!(
                "lists and dictionaries are nested more than {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    /// Reads a dictionary, calling `f` with each key; `f` must consume the value.
    fn dict(
        &mut self,
        depth: u32,
        mut f: impl FnMut(&mut Self, &'a [u8]) -> Result<()>,
    ) -> Result<()> {
        self.enter(depth)?;
        if self.peek()? != b'd' {
            return Err(self.malformed("expected a dictionary"));
        }
        self.i += 1;
        while self.peek()? != b'e' {
            let key = self.bytes()?;
            f(self, key)?;
        }
        self.i += 1;
        Ok(())
    }

    /// Reads a list, calling `f` for each element; `f` must consume it.
    fn list(&mut self, depth: u32, mut f: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.enter(depth)?;
        if self.peek()? != b'l' {
            return Err(self.malformed("expected a list"));
        }
        self.i += 1;
        while self.peek()? != b'e' {
            f(self)?;
        }
        self.i += 1;
        Ok(())
    }

    /// Consumes any value, checking its syntax. Integers must fit in 64 bits: librqbit reads
    /// those of keys it does not know as i64, with an overflow check in debug builds (a
    /// panic) and wrapping otherwise.
    fn skip(&mut self, depth: u32) -> Result<()> {
        match self.peek()? {
            b'i' => {
                let at = self.i;
                let int = self.int()?;
                if int.to_i64().is_none() {
                    self.i = at;
                    return Err(self.malformed(&format!(
                        "the integer {} does not fit in 64 bits",
                        int.text()
                    )));
                }
                Ok(())
            }
            b'l' => self.list(depth, |r| r.skip(depth + 1)),
            b'd' => self.dict(depth, |r, _| r.skip(depth + 1)),
            b'0'..=b'9' => self.bytes().map(|_| ()),
            _ => Err(self.malformed("expected a value")),
        }
    }

    fn kind(&self) -> &'static str {
        match self.b.get(self.i) {
            Some(b'i') => "an integer",
            Some(b'l') => "a list",
            Some(b'd') => "a dictionary",
            _ => "a string",
        }
    }

    fn typed_int(&mut self, what: &str) -> Result<Int<'a>> {
        if self.peek()? != b'i' {
            return Err(invalid(format!(
                "{what} is {}, not an integer",
                self.kind()
            )));
        }
        self.int()
    }

    fn typed_bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        if !self.peek()?.is_ascii_digit() {
            return Err(invalid(format!("{what} is {}, not a string", self.kind())));
        }
        self.bytes()
    }
}

#[derive(Default)]
struct RawInfo<'a> {
    name: Option<&'a [u8]>,
    piece_length: Option<Int<'a>>,
    pieces: Option<&'a [u8]>,
    length: Option<Int<'a>>,
    files: Option<Vec<RawFile<'a>>>,
    meta_version: Option<Int<'a>>,
}

#[derive(Default)]
struct RawFile<'a> {
    length: Option<Int<'a>>,
    path: Option<Vec<&'a [u8]>>,
    padding: bool,
}

/// Refuses a second occurrence of a key we interpret (the engine's parser would take one
/// and we might have checked the other).
fn once<T>(slot: &Option<T>, key: &str) -> Result<()> {
    if slot.is_some() {
        return Err(invalid(format!("the key '{key}' appears twice")));
    }
    Ok(())
}

fn read_info<'a>(r: &mut Reader<'a>, depth: u32) -> Result<RawInfo<'a>> {
    let mut info = RawInfo::default();
    r.dict(depth, |r, key| {
        match key {
            b"name" => {
                once(&info.name, "name")?;
                info.name = Some(r.typed_bytes("'name'")?);
            }
            b"piece length" => {
                once(&info.piece_length, "piece length")?;
                info.piece_length = Some(r.typed_int("'piece length'")?);
            }
            b"pieces" => {
                once(&info.pieces, "pieces")?;
                info.pieces = Some(r.typed_bytes("'pieces'")?);
            }
            b"length" => {
                once(&info.length, "length")?;
                info.length = Some(r.typed_int("'length'")?);
            }
            b"meta version" => {
                once(&info.meta_version, "meta version")?;
                info.meta_version = Some(r.typed_int("'meta version'")?);
            }
            b"files" => {
                once(&info.files, "files")?;
                if r.peek()? != b'l' {
                    return Err(invalid(format!("'files' is {}, not a list", r.kind())));
                }
                let mut files = Vec::new();
                r.list(depth + 1, |r| {
                    if files.len() == TORRENT_FILES_MAX {
                        return Err(invalid(format!(
                            "it has more than {TORRENT_FILES_MAX} files"
                        )));
                    }
                    let n = files.len();
                    files.push(read_file(r, depth + 2, n)?);
                    Ok(())
                })?;
                info.files = Some(files);
            }
            _ => r.skip(depth + 1)?,
        }
        Ok(())
    })?;
    Ok(info)
}

fn read_file<'a>(r: &mut Reader<'a>, depth: u32, index: usize) -> Result<RawFile<'a>> {
    if r.peek()? != b'd' {
        return Err(invalid(format!(
            "file {index} is {}, not a dictionary",
            r.kind()
        )));
    }
    let mut f = RawFile::default();
    r.dict(depth, |r, key| {
        match key {
            b"length" => {
                once(&f.length, "length")?;
                f.length = Some(r.typed_int(&format!("the length of file {index}"))?);
            }
            b"path" => {
                once(&f.path, "path")?;
                if r.peek()? != b'l' {
                    return Err(invalid(format!(
                        "the path of file {index} is {}, not a list",
                        r.kind()
                    )));
                }
                let mut parts = Vec::new();
                let mut bytes = 0usize;
                r.list(depth + 1, |r| {
                    let part = r.typed_bytes(&format!("a path component of file {index}"))?;
                    bytes += part.len() + 1;
                    if bytes > TORRENT_PATH_MAX_BYTES {
                        return Err(invalid(format!(
                            "the path of file {index} is longer than {TORRENT_PATH_MAX_BYTES} bytes"
                        )));
                    }
                    parts.push(part);
                    Ok(())
                })?;
                f.path = Some(parts);
            }
            // BEP 47: padding files are never written to disk and may share a path.
            b"attr" => f.padding = r.typed_bytes("'attr'")?.contains(&b'p'),
            _ => r.skip(depth + 1)?,
        }
        Ok(())
    })?;
    Ok(f)
}

// ---- rules -----------------------------------------------------------------------------

/// One file or folder name from the torrent.
fn check_component<'a>(what: &str, raw: &'a [u8]) -> Result<&'a str> {
    let s = std::str::from_utf8(raw).map_err(|_| {
        invalid(format!(
            "{what} ('{}') is not valid UTF-8 (BEP 3 requires UTF-8 names)",
            quote(&String::from_utf8_lossy(raw))
        ))
    })?;
    if s.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if s == ".." {
        return Err(TorrentError::PathEscape(format!(
            "{what} is '..', which would escape the download folder"
        )));
    }
    if s == "." {
        return Err(invalid(format!("{what} is '.'")));
    }
    if s.contains(['/', '\\']) {
        return Err(invalid(format!(
            "{what} ('{}') contains a path separator",
            quote(s)
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} ('{}') contains a control character (NUL, newline, …)",
            quote(s)
        )));
    }
    if s.len() > PATH_COMPONENT_MAX_BYTES {
        return Err(invalid(format!(
            "{what} is {} bytes long; names must be at most {PATH_COMPONENT_MAX_BYTES} bytes",
            s.len()
        )));
    }
    Ok(s)
}

fn check_info_fields(info: &RawInfo<'_>) -> Result<Checked> {
    let name = info
        .name
        .ok_or_else(|| invalid("the info dictionary has no 'name'"))?;
    let name = check_component("the torrent name", name)?;

    let pl = info
        .piece_length
        .ok_or_else(|| invalid("the info dictionary has no 'piece length'"))?;
    let piece_length = pl.to_u64("the piece length")?;
    if !(PIECE_LENGTH_MIN..=PIECE_LENGTH_MAX).contains(&piece_length) {
        return Err(invalid(format!(
            "the piece length {piece_length} is outside 16 KiB to 64 MiB (16384 to 67108864 bytes)"
        )));
    }

    let mut total: u64 = 0;
    let add = |total: u64, len: u64| {
        total
            .checked_add(len)
            .filter(|t| *t <= TOTAL_SIZE_MAX)
            .ok_or_else(|| invalid("the total size is larger than 1 PiB"))
    };
    let file_count = match (&info.length, &info.files) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "it has both 'length' (one file) and 'files' (several files)",
            ));
        }
        (None, None) => {
            if info.meta_version.is_some() {
                return Err(invalid(
                    "it is a BitTorrent v2-only torrent, which is not supported (v1 and hybrid torrents are)",
                ));
            }
            return Err(invalid("it has neither 'length' nor 'files'"));
        }
        (Some(len), None) => {
            total = add(total, len.to_u64("the file length")?)?;
            1
        }
        (None, Some(files)) => {
            if files.is_empty() {
                return Err(invalid("its file list is empty"));
            }
            let mut seen: HashSet<Vec<&str>> = HashSet::new();
            for (i, f) in files.iter().enumerate() {
                let len = f
                    .length
                    .ok_or_else(|| invalid(format!("file {i} has no length")))?
                    .to_u64(&format!("the length of file {i}"))?;
                total = add(total, len)?;
                let parts = f
                    .path
                    .as_ref()
                    .ok_or_else(|| invalid(format!("file {i} has no path")))?;
                if parts.is_empty() {
                    return Err(invalid(format!("the path of file {i} is empty")));
                }
                let mut path = Vec::with_capacity(parts.len());
                for (j, part) in parts.iter().enumerate() {
                    path.push(check_component(
                        &format!("component {j} of the path of file {i}"),
                        part,
                    )?);
                }
                let bytes = name.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
                if bytes > TORRENT_PATH_MAX_BYTES {
                    return Err(invalid(format!(
                        "the path of file {i} with the torrent's folder is {bytes} bytes; at most {TORRENT_PATH_MAX_BYTES} are accepted"
                    )));
                }
                if !f.padding && !seen.insert(path.clone()) {
                    return Err(invalid(format!(
                        "two files have the same path '{}'",
                        quote(&path.join("/"))
                    )));
                }
            }
            files.len()
        }
    };
    if total == 0 {
        return Err(invalid("its total size is 0 bytes"));
    }

    let pieces = info
        .pieces
        .ok_or_else(|| invalid("the info dictionary has no 'pieces'"))?;
    if pieces.len() % 20 != 0 {
        return Err(invalid(format!(
            "'pieces' is {} bytes, not a multiple of 20 (one 20-byte SHA-1 hash per piece)",
            pieces.len()
        )));
    }
    let expected = total.div_ceil(piece_length);
    let got = (pieces.len() / 20) as u64;
    if got != expected {
        return Err(invalid(format!(
            "'pieces' holds {got} hashes but {total} bytes in pieces of {piece_length} bytes need {expected}"
        )));
    }
    Ok(Checked {
        // In range by the check above.
        piece_length: piece_length as u32,
        total,
        files: file_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal bencode writer for building test inputs by hand.
    enum B {
        I(String),
        S(Vec<u8>),
        L(Vec<B>),
        D(Vec<(&'static str, B)>),
    }

    fn i(v: impl ToString) -> B {
        B::I(v.to_string())
    }
    fn s(v: impl AsRef<[u8]>) -> B {
        B::S(v.as_ref().to_vec())
    }

    impl B {
        fn enc(&self, out: &mut Vec<u8>) {
            match self {
                B::I(t) => out.extend(format!("i{t}e").bytes()),
                B::S(b) => {
                    out.extend(format!("{}:", b.len()).bytes());
                    out.extend(b);
                }
                B::L(l) => {
                    out.push(b'l');
                    l.iter().for_each(|v| v.enc(out));
                    out.push(b'e');
                }
                B::D(d) => {
                    out.push(b'd');
                    for (k, v) in d {
                        s(k).enc(out);
                        v.enc(out);
                    }
                    out.push(b'e');
                }
            }
        }
        fn bytes(&self) -> Vec<u8> {
            let mut v = Vec::new();
            self.enc(&mut v);
            v
        }
    }

    const PL: u64 = 16384;

    /// A valid single-file info dict of `len` bytes, with `extra` entries replacing or added.
    fn single(len: u64, extra: Vec<(&'static str, B)>) -> B {
        let n = len.div_ceil(PL) as usize;
        let mut d = vec![
            ("length", i(len)),
            ("name", s("file.bin")),
            ("piece length", i(PL)),
            ("pieces", s(vec![7u8; 20 * n])),
        ];
        for (k, v) in extra {
            d.retain(|(dk, _)| *dk != k);
            d.push((k, v));
        }
        B::D(d)
    }

    fn torrent(info: B) -> Vec<u8> {
        B::D(vec![
            ("announce", s("http://127.0.0.1:1/a")),
            ("info", info),
        ])
        .bytes()
    }

    fn multi(files: Vec<(u64, Vec<&[u8]>)>) -> B {
        let total: u64 = files.iter().map(|f| f.0).sum();
        let list = files
            .into_iter()
            .map(|(len, path)| {
                B::D(vec![
                    ("length", i(len)),
                    ("path", B::L(path.into_iter().map(s).collect())),
                ])
            })
            .collect();
        B::D(vec![
            ("files", B::L(list)),
            ("name", s("folder")),
            ("piece length", i(PL)),
            (
                "pieces",
                s(vec![1u8; 20 * total.div_ceil(PL).max(1) as usize]),
            ),
        ])
    }

    fn refused(bytes: &[u8], needle: &str) {
        match check_torrent_file(bytes) {
            Ok(c) => panic!("accepted ({c:?}); expected an error containing {needle:?}"),
            Err(e) => assert!(
                e.to_string().contains(needle),
                "error {e:?} does not contain {needle:?}"
            ),
        }
    }

    #[test]
    fn valid_torrents_pass() {
        let c = check_torrent_file(&torrent(single(100_000, vec![]))).unwrap();
        assert_eq!(
            c,
            Checked {
                piece_length: 16384,
                total: 100_000,
                files: 1
            }
        );
        let c = check_torrent_file(&torrent(multi(vec![
            (40_000, vec![b"a", b"b.txt"]),
            (0, vec![b"empty"]),
            (5, vec![b"c d \xc3\xa9"]),
        ])))
        .unwrap();
        assert_eq!((c.total, c.files), (40_005, 3));
        // non-power-of-two piece lengths within range (real torrents use them)
        for pl in [270_544u64, 4_192_256, 16_384, 64 << 20] {
            let info = single(
                1_000_000,
                vec![
                    ("piece length", i(pl)),
                    (
                        "pieces",
                        s(vec![0u8; 20 * 1_000_000u64.div_ceil(pl) as usize]),
                    ),
                ],
            );
            assert!(check_torrent_file(&torrent(info)).is_ok(), "{pl}");
        }
        // unknown keys anywhere are skipped; the info dict alone checks too
        let info = single(1, vec![("x-custom", B::L(vec![B::D(vec![("k", i(-3))])]))]);
        assert!(check_info(&info.bytes()).is_ok());
    }

    #[test]
    fn bad_piece_lengths() {
        for (pl, needle) in [
            ("0", "piece length 0 is outside 16 KiB to 64 MiB"),
            ("16383", "outside 16 KiB"),
            ("67108865", "outside 16 KiB"),
            ("4611686018427387904", "outside 16 KiB"), // 2^62
            ("18446744073709551616", "does not fit in 64 bits"), // 2^64
            ("-16384", "negative"),
        ] {
            refused(
                &torrent(single(100_000, vec![("piece length", B::I(pl.into()))])),
                needle,
            );
        }
        refused(
            &torrent(single(100_000, vec![("piece length", s("16384"))])),
            "'piece length' is a string, not an integer",
        );
    }

    #[test]
    fn bad_pieces() {
        for (bytes, needle) in [
            (19, "19 bytes, not a multiple of 20"),
            (0, "'pieces' holds 0 hashes"),
            (
                20,
                "'pieces' holds 1 hashes but 100000 bytes in pieces of 16384 bytes need 7",
            ),
            (20 * 8, "holds 8 hashes"),
        ] {
            refused(
                &torrent(single(100_000, vec![("pieces", s(vec![0u8; bytes]))])),
                needle,
            );
        }
    }

    #[test]
    fn bad_lengths() {
        refused(
            &torrent(single(1, vec![("length", i(1u64 << 62))])),
            "larger than 1 PiB",
        );
        let huge = "9".repeat(5000);
        refused(
            &torrent(single(1, vec![("length", B::I(huge))])),
            "5000 digits) does not fit in 64 bits",
        );
        refused(&torrent(single(1, vec![("length", i(-1))])), "negative");
        refused(
            &torrent(single(1, vec![("length", i(0))])),
            "total size is 0 bytes",
        );
        // two files of 2^63 each overflow a u64
        let mut info = multi(vec![(1, vec![b"a"]), (1, vec![b"b"])]);
        if let B::D(d) = &mut info
            && let Some((_, B::L(files))) = d.iter_mut().find(|(k, _)| *k == "files")
        {
            for f in files {
                if let B::D(fd) = f {
                    fd[0].1 = i(1u64 << 63);
                }
            }
        }
        refused(&torrent(info), "larger than 1 PiB");
        refused(
            &torrent(single(
                1,
                vec![("files", B::L(vec![B::D(vec![("length", i(1))])]))],
            )),
            "both 'length'",
        );
        let mut info = single(1, vec![]);
        if let B::D(d) = &mut info {
            d.retain(|(k, _)| *k != "length");
        }
        refused(&torrent(info), "neither 'length' nor 'files'");
    }

    #[test]
    fn bad_names_and_paths() {
        for (name, needle) in [
            (&b"a\0b"[..], "control character"),
            (b"a\nb", "control character"),
            (b"bad \xff\xfe utf8", "not valid UTF-8"),
            (b"", "the torrent name is empty"),
            (b".", "is '.'"),
            (b"a/b", "path separator"),
            (b"a\\b", "path separator"),
        ] {
            refused(&torrent(single(1, vec![("name", s(name))])), needle);
        }
        let e = check_torrent_file(&torrent(single(1, vec![("name", s(".."))]))).unwrap_err();
        assert!(matches!(e, TorrentError::PathEscape(_)), "{e:?}");
        refused(
            &torrent(single(1, vec![("name", s("n".repeat(256)))])),
            "256 bytes long",
        );
        assert!(
            check_torrent_file(&torrent(single(1, vec![("name", s("n".repeat(255)))]))).is_ok()
        );

        for (path, needle) in [
            (
                vec![&b"ok"[..], b"a\0b"],
                "component 1 of the path of file 0",
            ),
            (vec![b"\xc3\x28"], "not valid UTF-8"),
            (vec![b""], "is empty"),
            (vec![], "the path of file 0 is empty"),
            (vec![b"a/b"], "path separator"),
        ] {
            refused(&torrent(multi(vec![(10, path)])), needle);
        }
        let e = check_torrent_file(&torrent(multi(vec![(10, vec![b"x", b".."])]))).unwrap_err();
        assert!(matches!(e, TorrentError::PathEscape(_)), "{e:?}");
        refused(
            &torrent(multi(vec![(10, vec![b"same"]), (10, vec![b"same"])])),
            "same path 'same'",
        );
        let long: Vec<&[u8]> = vec![&[b'd'; 200][..]; 21];
        refused(&torrent(multi(vec![(10, long)])), "longer than 4096 bytes");
    }

    #[test]
    fn file_count_is_bounded() {
        let many: Vec<(u64, Vec<&[u8]>)> = (0..=TORRENT_FILES_MAX).map(|_| (0, vec![])).collect();
        // paths are checked after counting: the count error comes first
        refused(&torrent(multi(many)), "more than 100000 files");
    }

    #[test]
    fn malformed_bencode() {
        let good = torrent(single(100, vec![]));
        refused(&good[..good.len() - 1], "ends too early");
        let mut trailing = good.clone();
        trailing.extend(b"xx");
        refused(&trailing, "2 unexpected bytes");
        refused(b"", "ends too early");
        refused(b"le", "not a bencoded dictionary");
        refused(b"d4:infoi1ee", "'info' is not a dictionary");
        refused(b"d3:foo3:bare", "no 'info' dictionary");
        refused(b"d4:info", "ends too early");
        refused(
            b"d4:infod4:name99999999999999999999999:",
            "does not fit in memory",
        );
        refused(b"d4:infod4:name1:x1:yi12xe", "not of the form");
        refused(b"d4:infod4:name5:abce", "cut off");
        let mut deep = b"d4:infod1:x".to_vec();
        deep.extend(vec![b'l'; 100]);
        deep.extend(vec![b'e'; 100]);
        deep.extend(b"ee");
        refused(&deep, "nested more than 64 levels");
        // integers of unknown keys must fit in 64 bits too (librqbit reads them as i64)
        let mut big = b"d13:creation datei99999999999999999999e4:info".to_vec();
        big.extend(single(100, vec![]).bytes());
        big.push(b'e');
        refused(&big, "does not fit in 64 bits");
        let mut ok = b"d13:creation datei-9223372036854775808e4:info".to_vec();
        ok.extend(single(100, vec![]).bytes());
        ok.push(b'e');
        assert!(check_torrent_file(&ok).is_ok());
        let dup = b"d4:infod4:name1:a4:name1:bee";
        refused(dup, "'name' appears twice");
        let v2 = B::D(vec![
            ("meta version", i(2)),
            ("name", s("x")),
            ("piece length", i(PL)),
        ]);
        refused(&torrent(v2), "v2-only");
    }

    #[test]
    fn trackers_come_off_and_the_info_stays_byte_for_byte() {
        let info = single(40_000, vec![]).bytes();
        let t = B::D(vec![
            ("announce", s("http://a.example/announce")),
            (
                "announce-list",
                B::L(vec![
                    B::L(vec![
                        s("udp://b.example:80/announce"),
                        s("http://a.example/announce"),
                    ]),
                    B::L(vec![s("https://c.example/announce"), i(5)]),
                ]),
            ),
            ("comment", s("kept")),
            ("info", single(40_000, vec![])),
        ])
        .bytes();
        let (stripped, trackers) = split_trackers(&t).unwrap();
        assert_eq!(
            trackers,
            [
                "udp://b.example:80/announce",
                "http://a.example/announce",
                "https://c.example/announce"
            ]
        );
        let mut expected = b"d7:comment4:kept4:info".to_vec();
        expected.extend(&info);
        expected.push(b'e');
        assert_eq!(stripped, expected);
        check_torrent_file(&stripped).unwrap();
        // A malformed announce-list is dropped whole; only `announce` counts.
        let t = B::D(vec![
            ("announce", s("http://a.example/announce")),
            ("announce-list", s("nonsense")),
            ("info", single(40_000, vec![])),
        ])
        .bytes();
        assert_eq!(split_trackers(&t).unwrap().1, ["http://a.example/announce"]);
    }

    #[test]
    fn tracker_answers_parse_with_bounds() {
        let v = parse_value(b"d8:completei3e5:peers6:\x7f\x00\x00\x01\x1a\xe1e").unwrap();
        assert_eq!(v.get("complete").and_then(Ben::int), Some(3));
        assert_eq!(
            v.get("peers").and_then(Ben::bytes).map(<[u8]>::len),
            Some(6)
        );
        assert!(parse_value(b"i99999999999999999999e").is_err());
        assert!(parse_value(b"d1:ai1ee trailing").is_err());
        let deep = format!("{}{}", "l".repeat(100), "e".repeat(100));
        assert!(parse_value(deep.as_bytes()).is_err());
    }
}
