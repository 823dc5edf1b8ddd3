//! A streaming ZIP writer for downloading a torrent's files as one archive: entries are
//! *stored* (media does not compress), written one after another as they are read, with no
//! temporary file and constant memory, so an archive of any size starts at once.
//!
//! Each entry's CRC-32 is known only after its data, so entries use a data descriptor
//! (general-purpose flag bit 3); names are UTF-8 (bit 11). ZIP64 records are written as soon
//! as a size, an offset or the entry count no longer fits the classic fields (APPNOTE 6.3.x,
//! sections 4.3.9, 4.4, 4.5.3 and 4.3.14–4.3.15). The layout follows what Go's `archive/zip`
//! writes for streamed entries, which every common reader accepts.

use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One file of the archive.
pub struct Entry<R> {
    /// Path inside the archive, `/`-separated.
    pub name: String,
    /// Exact number of bytes `data` yields.
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub data: R,
}

/// Limits above which ZIP64 fields are used; the real ones are the format's, tests lower them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub size: u64,
    pub count: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            size: 0xFFFF_FFFF,
            count: 0xFFFF,
        }
    }
}

struct Written {
    name: Vec<u8>,
    crc: u32,
    len: u64,
    offset: u64,
    dos_time: u16,
    dos_date: u16,
    zip64: bool,
}

/// Counts what goes out, since offsets are part of the format.
struct Counter<'a, W> {
    out: &'a mut W,
    pos: u64,
}

impl<W: AsyncWrite + Unpin> Counter<'_, W> {
    async fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.out.write_all(b).await?;
        self.pos += b.len() as u64;
        Ok(())
    }
}

/// Writes a whole archive of `entries` to `out`; returns its length. An entry whose data ends
/// early or runs long is an error (the archive would lie about it).
pub async fn write<W, R, I>(out: &mut W, entries: I, limits: Limits) -> std::io::Result<u64>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
    I: IntoIterator<Item = Entry<R>>,
{
    let mut w = Counter { out, pos: 0 };
    let mut done: Vec<Written> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for mut e in entries {
        let offset = w.pos;
        let zip64 = e.len >= limits.size || offset >= limits.size;
        let (dos_time, dos_date) = dos_datetime(e.modified);
        let name = e.name.into_bytes();
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&dos_time.to_le_bytes());
        h.extend_from_slice(&dos_date.to_le_bytes());
        // CRC and sizes follow the data, in the descriptor (flag bit 3).
        h.extend_from_slice(&[0; 12]);
        h.extend_from_slice(&len16(name.len())?.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&name);
        w.put(&h).await?;

        let mut crc = crc32fast::Hasher::new();
        let mut left = e.len;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = e.data.read(&mut buf[..want]).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "a file ended before its size",
                ));
            }
            crc.update(&buf[..n]);
            w.put(&buf[..n]).await?;
            left -= n as u64;
        }
        if e.data.read(&mut buf[..1]).await? != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a file is longer than its size",
            ));
        }
        let crc = crc.finalize();
        let mut d = Vec::with_capacity(24);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        if zip64 {
            d.extend_from_slice(&e.len.to_le_bytes());
            d.extend_from_slice(&e.len.to_le_bytes());
        } else {
            d.extend_from_slice(&(e.len as u32).to_le_bytes());
            d.extend_from_slice(&(e.len as u32).to_le_bytes());
        }
        w.put(&d).await?;
        done.push(Written {
            name,
            crc,
            len: e.len,
            offset,
            dos_time,
            dos_date,
            zip64,
        });
    }

    let cd_start = w.pos;
    for f in &done {
        let big_len = f.len >= limits.size;
        let big_off = f.offset >= limits.size;
        let mut extra = Vec::new();
        if big_len || big_off {
            let mut fields = Vec::new();
            if big_len {
                fields.extend_from_slice(&f.len.to_le_bytes());
                fields.extend_from_slice(&f.len.to_le_bytes());
            }
            if big_off {
                fields.extend_from_slice(&f.offset.to_le_bytes());
            }
            extra.extend_from_slice(&0x0001u16.to_le_bytes());
            extra.extend_from_slice(&len16(fields.len())?.to_le_bytes());
            extra.extend_from_slice(&fields);
        }
        let size32 = if big_len { 0xFFFF_FFFF } else { f.len as u32 };
        let off32 = if big_off {
            0xFFFF_FFFF
        } else {
            f.offset as u32
        };
        let version = if f.zip64 || big_off { 45u16 } else { 20 };
        let mut c = Vec::with_capacity(46 + f.name.len() + extra.len());
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&(0x0300 | version).to_le_bytes()); // made by: Unix
        c.extend_from_slice(&version.to_le_bytes());
        c.extend_from_slice(&FLAGS.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes());
        c.extend_from_slice(&f.dos_time.to_le_bytes());
        c.extend_from_slice(&f.dos_date.to_le_bytes());
        c.extend_from_slice(&f.crc.to_le_bytes());
        c.extend_from_slice(&size32.to_le_bytes());
        c.extend_from_slice(&size32.to_le_bytes());
        c.extend_from_slice(&len16(f.name.len())?.to_le_bytes());
        c.extend_from_slice(&len16(extra.len())?.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // comment
        c.extend_from_slice(&0u16.to_le_bytes()); // disk
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // a regular file, rw-r--r--
        c.extend_from_slice(&off32.to_le_bytes());
        c.extend_from_slice(&f.name);
        c.extend_from_slice(&extra);
        w.put(&c).await?;
    }
    let cd_len = w.pos - cd_start;
    let count = done.len() as u64;
    let zip64_end = count >= limits.count || cd_start >= limits.size || cd_len >= limits.size;
    if zip64_end {
        let end64_at = w.pos;
        let mut z = Vec::with_capacity(56 + 20);
        z.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        z.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of this record
        z.extend_from_slice(&(0x0300u16 | 45).to_le_bytes());
        z.extend_from_slice(&45u16.to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&cd_len.to_le_bytes());
        z.extend_from_slice(&cd_start.to_le_bytes());
        // Locator.
        z.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&end64_at.to_le_bytes());
        z.extend_from_slice(&1u32.to_le_bytes());
        w.put(&z).await?;
    }
    let clamp16 = |v: u64| if zip64_end { 0xFFFF } else { v as u16 };
    let clamp32 = |v: u64| if zip64_end { 0xFFFF_FFFF } else { v as u32 };
    let mut end = Vec::with_capacity(22);
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    end.extend_from_slice(&clamp16(count).to_le_bytes());
    end.extend_from_slice(&clamp16(count).to_le_bytes());
    end.extend_from_slice(&clamp32(cd_len).to_le_bytes());
    end.extend_from_slice(&clamp32(cd_start).to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    w.put(&end).await?;
    w.out.flush().await?;
    Ok(w.pos)
}

/// Data descriptor follows (bit 3), names are UTF-8 (bit 11).
const FLAGS: u16 = 0x0008 | 0x0800;

fn len16(n: usize) -> std::io::Result<u16> {
    u16::try_from(n).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a name or extra field is longer than 65535 bytes",
        )
    })
}

/// MS-DOS time and date (local time is unknown here; UTC is what we have). Before 1980 or
/// unknown: 1980-01-01 00:00.
fn dos_datetime(t: Option<SystemTime>) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let Some(t) = t else {
        return (0, (1 << 5) | 1);
    };
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    if dt.year() < 1980 || dt.year() > 2107 {
        return (0, (1 << 5) | 1);
    }
    let time = ((dt.hour() as u16) << 11) | ((dt.minute() as u16) << 5) | (dt.second() as u16 / 2);
    let date = (((dt.year() - 1980) as u16) << 9) | ((dt.month() as u16) << 5) | dt.day() as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(files: &[(&str, Vec<u8>)]) -> Vec<Entry<std::io::Cursor<Vec<u8>>>> {
        files
            .iter()
            .map(|(n, d)| Entry {
                name: n.to_string(),
                len: d.len() as u64,
                modified: Some(
                    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
                ),
                data: std::io::Cursor::new(d.clone()),
            })
            .collect()
    }

    /// Checks an archive with Python's `zipfile` (an independent reader): every member's bytes
    /// and CRC, and whether it needed ZIP64.
    fn python_check(zip: &[u8], files: &[(&str, Vec<u8>)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        std::fs::write(&path, zip).unwrap();
        for (i, (n, d)) in files.iter().enumerate() {
            std::fs::write(dir.path().join(format!("want{i}")), d).unwrap();
            let _ = n;
        }
        let script = r#"
import sys, zipfile, os
d = sys.argv[1]
z = zipfile.ZipFile(os.path.join(d, "t.zip"))
assert z.testzip() is None, "bad CRC"
names = z.namelist()
for i, n in enumerate(names):
    want = open(os.path.join(d, "want%d" % i), "rb").read()
    assert z.read(n) == want, n
print(",".join(names), end=";")
print("zip64" if any(i.file_size >= 0 and i.extra.startswith(b"\x01\x00") for i in z.infolist()) else "classic", end="")
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script, dir.path().to_str().unwrap()])
            .output()
            .expect("python3 (Debian package python3) is needed for this test");
        assert!(
            out.status.success(),
            "python zipfile refused the archive: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn build(files: &[(&str, Vec<u8>)], limits: Limits) -> Vec<u8> {
        let mut out = Vec::new();
        let n = write(&mut out, entries(files), limits).await.unwrap();
        assert_eq!(n, out.len() as u64);
        out
    }

    fn sample() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            (
                "film/movie.mkv",
                (0..200_000u32).map(|i| (i % 251) as u8).collect(),
            ),
            (
                "film/subs/en.srt",
                b"1\n00:00:01,000 --> 00:00:02,000\nHello\n".to_vec(),
            ),
            ("film/empty.txt", Vec::new()),
            ("film/été ✓.txt", b"utf-8 name".to_vec()),
        ]
    }

    #[tokio::test]
    async fn classic_archive_is_read_back_exactly() {
        let files = sample();
        let zip = build(&files, Limits::default()).await;
        assert_eq!(
            python_check(&zip, &files),
            "film/movie.mkv,film/subs/en.srt,film/empty.txt,film/été ✓.txt;classic"
        );
    }

    #[tokio::test]
    async fn zip64_records_when_sizes_offsets_or_counts_do_not_fit() {
        let files = sample();
        // Entries of 1,000 bytes or more, and offsets beyond 1,000, count as "too big".
        let zip = build(
            &files,
            Limits {
                size: 1_000,
                count: 3,
            },
        )
        .await;
        assert!(python_check(&zip, &files).ends_with(";zip64"));
        let eocd64 = zip.windows(4).any(|w| w == 0x0606_4b50u32.to_le_bytes());
        let locator = zip.windows(4).any(|w| w == 0x0706_4b50u32.to_le_bytes());
        assert!(eocd64 && locator, "ZIP64 end records");
        // A second independent reader: Info-ZIP's unzip.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.zip"), &zip).unwrap();
        let st = std::process::Command::new("unzip")
            .args(["-tq", dir.path().join("t.zip").to_str().unwrap()])
            .status()
            .expect("unzip is needed for this test: apt-get install unzip");
        assert!(st.success(), "unzip -t refused the archive");
    }

    #[tokio::test]
    async fn sizes_that_lie_are_errors() {
        let mut short = entries(&[("a", vec![1, 2, 3])]);
        short[0].len = 4;
        assert!(
            write(&mut Vec::new(), short, Limits::default())
                .await
                .is_err()
        );
        let mut long = entries(&[("a", vec![1, 2, 3])]);
        long[0].len = 2;
        assert!(
            write(&mut Vec::new(), long, Limits::default())
                .await
                .is_err()
        );
    }
}
