//! A zip archive written as it goes (PKWARE APPNOTE 6.3: entries stored uncompressed, names in
//! UTF-8), so any unzip tool opens the tenant's archive. Each entry's bytes are written as they
//! come while its CRC-32 and size are counted; when it ends, its local header is patched with
//! them (the archive is a file: it can seek back), and the central directory follows the last
//! entry. Memory holds one small record per entry, never an entry's content. Without ZIP64 an
//! archive holds at most 65 535 entries of under 4 GiB each in under 4 GiB: beyond that the
//! export fails with that reason rather than write a file no tool reads.

use std::io::SeekFrom;
use std::path::Path;

use chrono::{Datelike, Timelike};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::{Error, Result};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_DIRECTORY: u32 = 0x0605_4b50;
/// Version 2.0 of the format: what a stored entry in a folder needs.
const VERSION: u16 = 20;
/// General purpose flag bit 11: the names are UTF-8.
const UTF8_NAMES: u16 = 1 << 11;
/// Where a local header's CRC-32 stands (the sizes follow it).
const CRC_AT: u64 = 14;

/// An entry written: what the central directory repeats of it.
struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

/// The entry being written.
struct Open {
    name: String,
    offset: u64,
    crc: u32,
    size: u64,
}

/// A zip archive being written to a file.
pub struct ZipWriter {
    out: BufWriter<tokio::fs::File>,
    /// Bytes written so far (where the next header starts).
    at: u64,
    entries: Vec<Entry>,
    open: Option<Open>,
    /// MS-DOS time and date every entry carries (the archive's).
    stamp: (u16, u16),
}

impl ZipWriter {
    /// A new archive at `path` (replacing any file there).
    pub async fn create(path: &Path) -> Result<ZipWriter> {
        let file = tokio::fs::File::create(path).await.map_err(io)?;
        let now = crate::runtime::time::now();
        let time = ((now.hour() << 11) | (now.minute() << 5) | (now.second() / 2)) as u16;
        let year = u32::try_from(now.year().clamp(1980, 2107) - 1980).unwrap_or(0);
        let date = ((year << 9) | (now.month() << 5) | now.day()) as u16;
        Ok(ZipWriter {
            out: BufWriter::new(file),
            at: 0,
            entries: Vec::new(),
            open: None,
            stamp: (time, date),
        })
    }

    /// Ends the entry being written, if any, and starts entry `name` (a path with `/`).
    pub async fn start(&mut self, name: &str) -> Result<()> {
        self.end_entry().await?;
        if self.entries.len() >= usize::from(u16::MAX) {
            return Err(too_big("more than 65 535 files"));
        }
        let mut header = Vec::with_capacity(30 + name.len());
        put32(&mut header, LOCAL_HEADER);
        // CRC-32 and sizes: patched when the entry ends.
        self.described(&mut header, 0, 0, name)?;
        put16(&mut header, 0);
        header.extend_from_slice(name.as_bytes());
        let offset = self.at;
        self.put(&header).await?;
        self.open = Some(Open { name: name.to_owned(), offset, crc: 0, size: 0 });
        Ok(())
    }

    /// Appends `bytes` to the entry being written.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Err(Error::Internal("zip: bytes written outside an entry".into()));
        };
        open.crc = crc32(open.crc, bytes);
        open.size += bytes.len() as u64;
        self.put(bytes).await
    }

    /// Ends the last entry and writes the central directory; the archive's size in bytes.
    pub async fn finish(mut self) -> Result<u64> {
        self.end_entry().await?;
        let start = self.at;
        let mut directory = Vec::new();
        for e in &self.entries {
            put32(&mut directory, CENTRAL_HEADER);
            put16(&mut directory, VERSION);
            self.described(&mut directory, e.crc, e.size, &e.name)?;
            // Extra field, comment, disk number, internal and external attributes.
            directory.extend_from_slice(&[0; 12]);
            put32(&mut directory, e.offset);
            directory.extend_from_slice(e.name.as_bytes());
        }
        let count = u16::try_from(self.entries.len()).map_err(|_| too_big("more than 65 535 files"))?;
        let mut end = Vec::with_capacity(22);
        put32(&mut end, END_OF_DIRECTORY);
        put32(&mut end, 0);
        put16(&mut end, count);
        put16(&mut end, count);
        put32(&mut end, u32::try_from(directory.len()).map_err(|_| too_big("a directory over 4 GiB"))?);
        put32(&mut end, u32::try_from(start).map_err(|_| too_big("over 4 GiB"))?);
        put16(&mut end, 0);
        self.put(&directory).await?;
        self.put(&end).await?;
        self.out.flush().await.map_err(io)?;
        self.out.get_ref().sync_all().await.map_err(io)?;
        Ok(self.at)
    }

    /// What a local header and a central directory header both say of an entry, in the same
    /// order: the version needed, flags, method (stored), time, date, CRC-32, both sizes
    /// (equal: stored) and the name's length.
    fn described(&self, out: &mut Vec<u8>, crc: u32, size: u32, name: &str) -> Result<()> {
        put16(out, VERSION);
        put16(out, UTF8_NAMES);
        put16(out, 0);
        put16(out, self.stamp.0);
        put16(out, self.stamp.1);
        put32(out, crc);
        put32(out, size);
        put32(out, size);
        put16(out, name_len(name)?);
        Ok(())
    }

    /// Patches the open entry's local header with its CRC-32 and size, and records it.
    async fn end_entry(&mut self) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let size = u32::try_from(open.size).map_err(|_| too_big("a file over 4 GiB"))?;
        let offset = u32::try_from(open.offset).map_err(|_| too_big("over 4 GiB"))?;
        let mut patch = Vec::with_capacity(12);
        put32(&mut patch, open.crc);
        put32(&mut patch, size);
        put32(&mut patch, size);
        self.out.seek(SeekFrom::Start(open.offset + CRC_AT)).await.map_err(io)?;
        self.out.write_all(&patch).await.map_err(io)?;
        self.out.seek(SeekFrom::Start(self.at)).await.map_err(io)?;
        self.entries.push(Entry { name: open.name, crc: open.crc, size, offset });
        Ok(())
    }

    async fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).await.map_err(io)?;
        self.at += bytes.len() as u64;
        Ok(())
    }
}

/// A file name safe inside the archive: one path segment, no separator or control character
/// (`file` when nothing is left).
pub fn segment(name: &str) -> String {
    let clean: String =
        name.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    match clean.trim() {
        "" | "." | ".." => "file".to_owned(),
        s => s.to_owned(),
    }
}

fn name_len(name: &str) -> Result<u16> {
    u16::try_from(name.len()).map_err(|_| Error::BadRequest(format!("zip: the name `{name}` is too long")))
}

fn too_big(what: &str) -> Error {
    Error::BadRequest(format!("the archive would hold {what}, beyond what a zip without ZIP64 holds"))
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("archive file: {e}"))
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The CRC-32 table (IEEE 802.3, reflected polynomial 0xEDB88320), built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// `crc` (the CRC-32 of what came before; 0 at first) carried on over `bytes`.
pub fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for b in bytes {
        c = CRC_TABLE[((c ^ u32::from(*b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(crc32(0, b"12345"), b"6789"), 0xCBF4_3926);
    }

    #[test]
    fn a_segment_holds_no_separator() {
        assert_eq!(segment("../a/b\\c.pdf"), ".._a_b_c.pdf");
        assert_eq!(segment(".."), "file");
        assert_eq!(segment(" "), "file");
    }
}
