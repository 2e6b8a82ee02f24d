//! Reading an import's CSV file (RFC 4180: quoted cells may hold commas, quotes and line
//! breaks; rows may have fewer cells than the header, the missing ones empty). The first row is
//! the header; a row's number is its place in the file with the header as row 1, as a
//! spreadsheet numbers it. A batch starts at a byte offset the previous batch committed, so a
//! resumed import reads on from there without reading the rows before it again.
//!
//! These are blocking reads of a local file: callers run them on the blocking pool.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use csv::{ByteRecord, Position, ReaderBuilder};

/// What scanning a stored file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The header's cells (trimmed; a UTF-8 byte order mark dropped).
    pub headers: Vec<String>,
    /// Data rows after the header.
    pub rows: i64,
    /// The byte offset of the first data row.
    pub data_offset: u64,
}

/// One data row of a batch.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its number in the file (the header is row 1).
    pub number: i64,
    /// Its cells, or why they cannot be read (not UTF-8).
    pub cells: Result<Vec<String>, String>,
    /// The byte offset where the next row starts (a batch that stops after this row goes on
    /// from there).
    pub end: u64,
}

/// Up to a batch's rows from an offset on.
#[derive(Debug, Clone)]
pub struct Batch {
    pub rows: Vec<Row>,
    /// Where the row after them starts.
    pub next_offset: u64,
}

fn reader<R: Read>(r: R) -> csv::Reader<R> {
    ReaderBuilder::new().has_headers(false).flexible(true).from_reader(r)
}

fn bad(e: impl std::fmt::Display) -> String {
    format!("the file is not readable as CSV: {e}")
}

/// Reads the header and counts the data rows of the CSV file at `path`. `Err`: why it is not
/// an importable file (empty, no header, not UTF-8 in its header).
pub fn scan(path: &Path) -> Result<Scan, String> {
    let file = File::open(path).map_err(bad)?;
    let mut r = reader(BufReader::new(file));
    let mut record = ByteRecord::new();
    if !r.read_byte_record(&mut record).map_err(bad)? {
        return Err("the file is empty: its first row must name the columns".into());
    }
    let headers = record
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let text =
                std::str::from_utf8(cell).map_err(|_| "the header row is not UTF-8 text".to_owned())?;
            let text = if i == 0 { text.trim_start_matches('\u{feff}') } else { text };
            Ok(text.trim().to_owned())
        })
        .collect::<Result<Vec<String>, String>>()?;
    let data_offset = r.position().byte();
    let mut rows = 0i64;
    while r.read_byte_record(&mut record).map_err(bad)? {
        rows += 1;
    }
    Ok(Scan { headers, rows, data_offset })
}

/// Reads up to `max` rows of the file at `path` from byte `offset`, where data row
/// `done + 1` starts.
pub fn read_batch(path: &Path, offset: u64, done: i64, max: usize) -> Result<Batch, String> {
    let file = File::open(path).map_err(bad)?;
    let mut r = reader(BufReader::new(file));
    seek_to(&mut r, offset, done)?;
    let mut rows = Vec::with_capacity(max);
    let mut record = ByteRecord::new();
    while rows.len() < max && r.read_byte_record(&mut record).map_err(bad)? {
        let cells = record
            .iter()
            .map(|c| std::str::from_utf8(c).map(str::to_owned))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|_| "the row is not UTF-8 text".to_owned());
        // Data row n is file row n + 1 (the header is row 1).
        rows.push(Row { number: done + rows.len() as i64 + 2, cells, end: r.position().byte() });
    }
    Ok(Batch { rows, next_offset: r.position().byte() })
}

fn seek_to<R: Read + Seek>(r: &mut csv::Reader<R>, offset: u64, done: i64) -> Result<(), String> {
    let mut pos = Position::new();
    pos.set_byte(offset).set_record(u64::try_from(done).unwrap_or(0) + 1);
    r.seek(pos).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("import-{}.csv", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, text).expect("write the file");
        path
    }

    #[test]
    fn batches_resume_at_the_committed_offset_with_quoted_line_breaks() {
        let path = write("\u{feff}Name , Note\na,\"one, \"\"two\"\"\"\nb,\"line\nbreak\"\nc\n");
        let scan = scan(&path).expect("scans");
        assert_eq!(scan.headers, vec!["Name", "Note"]);
        assert_eq!(scan.rows, 3);
        let first = read_batch(&path, scan.data_offset, 0, 2).expect("reads");
        assert_eq!(first.rows.len(), 2);
        assert_eq!(first.rows[0].cells.as_ref().expect("utf-8")[1], "one, \"two\"");
        assert_eq!(first.rows[1].cells.as_ref().expect("utf-8")[1], "line\nbreak");
        assert_eq!(first.rows[1].number, 3);
        assert_eq!(first.rows[1].end, first.next_offset);
        // Going on after the first row alone reads the second again.
        let again = read_batch(&path, first.rows[0].end, 1, 1).expect("reads");
        assert_eq!(again.rows[0].cells.as_ref().expect("utf-8")[0], "b");
        let rest = read_batch(&path, first.next_offset, 2, 2).expect("reads");
        assert_eq!(rest.rows.len(), 1);
        assert_eq!(rest.rows[0].number, 4);
        assert_eq!(rest.rows[0].cells.as_ref().expect("utf-8"), &vec!["c".to_owned()]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn an_empty_file_has_no_header() {
        let path = write("");
        assert!(scan(&path).is_err());
        let _ = std::fs::remove_file(path);
    }
}
