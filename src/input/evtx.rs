//! Windows event log files (`.evtx`) → Sysmon records, through the `evtx` crate.
//!
//! The `evtx` crate renders each record as JSON (`{"Event": {"System": …, "EventData":
//! …}}`); [`SysmonRecord::parse`] decodes that like any other Sysmon JSON. The parser
//! runs single-threaded (the crate is built without its `multithreading` feature) and
//! reads records in log order, oldest chunk first.

use alloc::string::{String, ToString};
use core::fmt;
use std::fs::File;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use ::evtx::err::EvtxError as ParserError;
use ::evtx::{EvtxParser, ParserSettings};

use super::sysmon::{SysmonError, SysmonRecord};

/// An `.evtx` file (or any seekable source of one), read record by record.
///
/// ```no_run
/// use shareexec::input::EvtxReader;
///
/// let mut log = EvtxReader::open("Microsoft-Windows-Sysmon%4Operational.evtx")?;
/// for (n, record) in log.sysmon_records().enumerate() {
///     let record = record?; // an EvtxReadError names the record
///     for event in record.events(n as u64 + 1) {
///         let _ = event; // hand it to a Detector
///     }
/// }
/// # Ok::<(), shareexec::input::EvtxReadError>(())
/// ```
pub struct EvtxReader<R: Read + Seek = File> {
    parser: EvtxParser<R>,
}

impl<R: Read + Seek> fmt::Debug for EvtxReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvtxReader").finish_non_exhaustive()
    }
}

/// One record of an `.evtx` file, rendered as JSON by the `evtx` crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvtxJsonRecord {
    /// The record's number in the file, from its header. A log saved or exported from
    /// the event viewer is renumbered from 1, so this may differ from the
    /// `System.EventRecordID` inside the record, which [`SysmonRecord::record_id`]
    /// reports.
    pub record_id: u64,
    /// The record as one line of JSON: `{"Event": {"System": {…}, "EventData": {…}}}`.
    pub json: String,
}

impl EvtxJsonRecord {
    /// Decodes the JSON as a Sysmon record (see [`SysmonRecord::parse`]).
    ///
    /// # Errors
    ///
    /// [`EvtxReadError::Decode`] with the record's number.
    pub fn decode(&self) -> Result<SysmonRecord<'_>, EvtxReadError> {
        SysmonRecord::parse_str(&self.json).map_err(|error| EvtxReadError::Decode {
            record: self.record_id,
            error,
        })
    }
}

/// Why an `.evtx` file or one of its records could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvtxReadError {
    /// The file could not be opened, or does not start with an EVTX file header.
    Open {
        /// The `evtx` crate's (or the OS's) description, with its causes.
        message: String,
    },
    /// The `evtx` crate could not read or render a chunk or a record (a damaged log).
    /// Reading goes on with the next record or chunk.
    Parse {
        /// The record's number in the file (see [`EvtxJsonRecord::record_id`]), when
        /// the parser knew it.
        record: Option<u64>,
        /// The chunk's number in the file, when the parser knew it.
        chunk: Option<u64>,
        /// The `evtx` crate's description, with its causes.
        message: String,
    },
    /// The record was rendered but is not a record this crate decodes (see
    /// [`SysmonRecord::parse`]).
    Decode {
        /// The record's number in the file (see [`EvtxJsonRecord::record_id`]).
        record: u64,
        /// What is wrong with its JSON.
        error: SysmonError,
    },
}

impl EvtxReadError {
    /// The number in the file of the record the error is about, if known (see
    /// [`EvtxJsonRecord::record_id`]).
    pub fn record(&self) -> Option<u64> {
        match self {
            EvtxReadError::Open { .. } => None,
            EvtxReadError::Parse { record, .. } => *record,
            EvtxReadError::Decode { record, .. } => Some(*record),
        }
    }

    fn open(e: &ParserError) -> Self {
        EvtxReadError::Open { message: chain(e) }
    }

    fn parse(e: &ParserError) -> Self {
        let (record, chunk) = match e {
            ParserError::FailedToParseRecord { record_id, .. } => (Some(*record_id), None),
            ParserError::FailedToReadRecordAt { chunk, .. } => (None, *chunk),
            ParserError::FailedToParseChunk { chunk_id, .. } => (None, Some(*chunk_id)),
            _ => (None, None),
        };
        EvtxReadError::Parse {
            record,
            chunk,
            message: chain(e),
        }
    }
}

/// An error's message followed by its causes', `: `-separated.
fn chain(e: &dyn core::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl fmt::Display for EvtxReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvtxReadError::Open { message } => write!(f, "cannot read the EVTX file: {message}"),
            EvtxReadError::Parse {
                record: Some(r),
                message,
                ..
            } => write!(f, "record {r}: {message}"),
            EvtxReadError::Parse {
                chunk: Some(c),
                message,
                ..
            } => write!(f, "chunk {c}: {message}"),
            EvtxReadError::Parse { message, .. } => f.write_str(message),
            EvtxReadError::Decode { record, error } => write!(f, "record {record}: {error}"),
        }
    }
}

impl std::error::Error for EvtxReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EvtxReadError::Decode { error, .. } => Some(error),
            _ => None,
        }
    }
}

fn settings() -> ParserSettings {
    // One thread (the crate's default without `multithreading`), one line per record.
    ParserSettings::default().indent(false)
}

impl EvtxReader<File> {
    /// Opens an `.evtx` file.
    ///
    /// # Errors
    ///
    /// [`EvtxReadError::Open`] if the file cannot be opened or has no EVTX header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EvtxReadError> {
        let parser = EvtxParser::from_path(path).map_err(|e| EvtxReadError::open(&e))?;
        Ok(EvtxReader {
            parser: parser.with_configuration(settings()),
        })
    }
}

impl EvtxReader<Cursor<alloc::vec::Vec<u8>>> {
    /// Reads an `.evtx` file held in memory.
    ///
    /// # Errors
    ///
    /// [`EvtxReadError::Open`] if the bytes do not start with an EVTX header.
    pub fn from_bytes(bytes: alloc::vec::Vec<u8>) -> Result<Self, EvtxReadError> {
        Self::from_reader(Cursor::new(bytes))
    }
}

impl<R: Read + Seek> EvtxReader<R> {
    /// Reads an `.evtx` file from any seekable reader.
    ///
    /// # Errors
    ///
    /// [`EvtxReadError::Open`] if the reader fails or does not start with an EVTX header.
    pub fn from_reader(reader: R) -> Result<Self, EvtxReadError> {
        let parser = EvtxParser::from_read_seek(reader).map_err(|e| EvtxReadError::open(&e))?;
        Ok(EvtxReader {
            parser: parser.with_configuration(settings()),
        })
    }

    /// Every record, rendered as one line of JSON, in log order. A record or chunk the
    /// parser cannot read is an [`EvtxReadError::Parse`] item, and reading goes on.
    pub fn json_records(
        &mut self,
    ) -> impl Iterator<Item = Result<EvtxJsonRecord, EvtxReadError>> + '_ {
        self.parser.records_json().map(|r| match r {
            Ok(r) => Ok(EvtxJsonRecord {
                record_id: r.event_record_id,
                json: r.data,
            }),
            Err(e) => Err(EvtxReadError::parse(&e)),
        })
    }

    /// Every record decoded as a [`SysmonRecord`] that owns its strings, in log order:
    /// records of other channels (or Sysmon event ids the rule does not use) are there
    /// too, as [`SysmonKind::Other`](super::SysmonKind::Other), and make no event.
    pub fn sysmon_records(
        &mut self,
    ) -> impl Iterator<Item = Result<SysmonRecord<'static>, EvtxReadError>> + '_ {
        self.json_records()
            .map(|r| r.and_then(|r| r.decode().map(SysmonRecord::into_owned)))
    }
}
