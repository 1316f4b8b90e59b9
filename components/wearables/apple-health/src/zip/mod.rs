//! Apple Health's `export.zip`, read as a stream: the Health app's "Export All Health Data"
//! writes a zip (`apple_health_export/export.xml`, `export_cda.xml`, `workout-routes/*.gpx`,
//! `electrocardiograms/*.csv`, …), often hundreds of MB, and the adapter sees it only chunk
//! by chunk, in order, within its memory cap: there is no seeking to the central directory at
//! the end.
//!
//! So [`Unzip`] walks the local file headers in order. Every entry before the export is
//! passed over: skipped by its size when the header gives it, otherwise (a *data descriptor*,
//! general-purpose flag bit 3, as iOS writes) inflated and discarded up to the end of its
//! deflate stream, which terminates itself, and then its descriptor is read. The first
//! `export.xml` (`*/export.xml`, or its name in the phone's language such as `exportar.xml`;
//! not `export_cda.xml`: see [`is_export`]) is inflated
//! incrementally (deflate, method 8, or stored, method 0) and its bytes handed to a sink (the
//! XML tokenizer) as they come; its CRC-32 and sizes are checked against the local header or
//! its descriptor (with or without the descriptor's signature, 32- or 64-bit sizes; ZIP64
//! local extra fields). What follows the export is not read.
//!
//! Memory is fixed: a 32 KiB window (deflate's largest distance), the inflater's tables
//! (about 11 KB) and a header buffer of at most 128 KiB (a name and an extra field of
//! 64 KiB each); never the file.
//!
//! Refused, with a message a person can act on ([`ZipError`]): encrypted entries,
//! compression methods other than deflate and stored (for the export; entries before it are
//! skipped by size whatever their method, when the size is known), a stored entry whose size
//! comes only after its data (a stream cannot find its end), no `export.xml`, a truncated
//! file, damaged compressed data, a CRC or size that does not match, and a decompression bomb
//! ([`Limits`]).

#[cfg(not(target_arch = "wasm32"))]
pub mod write;

#[cfg(test)]
mod tests;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

/// A local file header's signature (`PK\3\4`): every zip this adapter reads starts with one.
pub const MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Signatures of what may follow an entry.
const LOCAL: [u8; 4] = MAGIC;
const CENTRAL: [u8; 4] = *b"PK\x01\x02";
const END: [u8; 4] = *b"PK\x05\x06";
const ZIP64_END: [u8; 4] = *b"PK\x06\x06";
const ARCHIVE_EXTRA: [u8; 4] = *b"PK\x06\x08";
const DESCRIPTOR: [u8; 4] = *b"PK\x07\x08";

/// A local file header's fixed part.
const HEADER: usize = 30;
/// The longest data descriptor (signature, CRC-32, two 64-bit sizes).
const LONGEST_DESCRIPTOR: usize = 24;
/// The inflater's window: deflate refers back at most 32 KiB.
const WINDOW: usize = 32 * 1024;
/// A 32-bit size field that says "see the ZIP64 extra field".
const ZIP64_MARK: u32 = u32::MAX;

/// General-purpose flags.
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;

/// Compression methods.
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

/// Bounds against a decompression bomb. The XML behind the inflater holds bounded memory
/// whatever the size, so a bomb costs time, not memory: the host gives each 256 KiB chunk a
/// deadline (deflate expands at most about 1,032:1, so one chunk yields at most ~260 MB), and
/// these bound the whole upload's work by what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes inflated per compressed byte, over every entry inflated so far. Real
    /// exports compress about 15–30:1 (the synthetic one 26:1: its repeated attributes, like a
    /// real export's `device` strings); 200:1 leaves room for the most repetitive and still
    /// keeps a small upload from costing minutes of parsing (deflate reaches about 1,032:1).
    pub max_ratio: u64,
    /// Bytes that may be inflated before the ratio is checked (a small, very repetitive file
    /// is harmless).
    pub ratio_grace: u64,
    /// The largest `export.xml`, uncompressed: 16 GiB, decades of a watch's data (a year is
    /// about 0.3–1 GB) and about a minute of parsing.
    pub max_export: u64,
}

/// The limits the adapter uses.
pub const LIMITS: Limits = Limits {
    max_ratio: 200,
    ratio_grace: 64 * 1024 * 1024,
    max_export: 16 * 1024 * 1024 * 1024,
};

/// Why a zip cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZipError {
    /// The bytes are not a zip entry where one must start.
    NotZip(String),
    /// An entry is encrypted.
    Encrypted(String),
    /// The export is compressed with a method other than deflate or stored, or an entry
    /// before it cannot be passed over.
    Method {
        /// The entry.
        name: String,
        /// The method's number.
        method: u16,
    },
    /// An entry that is not deflated and whose size is only in its data descriptor, after
    /// its data: a stream cannot find its end.
    UnknownSize(String),
    /// No `export.xml` before the central directory.
    NoExport,
    /// The file ends too early.
    Truncated(String),
    /// The compressed data or a descriptor is damaged.
    Damaged(String),
    /// The export's CRC-32 does not match.
    Crc {
        /// What the zip says.
        expected: u32,
        /// What the bytes give.
        actual: u32,
    },
    /// The export is larger than [`Limits::max_export`].
    TooLarge(u64),
    /// Inflating yields more than [`Limits::max_ratio`] bytes per compressed byte.
    Bomb(u64),
}

impl std::fmt::Display for ZipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotZip(why) => write!(f, "not a zip file: {why}"),
            Self::Encrypted(name) => write!(
                f,
                "{name:?} is encrypted; export from the Health app again, without a password"
            ),
            Self::Method { name, method } => write!(
                f,
                "{name:?} is compressed with {} (zip method {method}); only deflate and stored entries can be read",
                method_name(*method)
            ),
            Self::UnknownSize(name) => write!(
                f,
                "{name:?} gives its size only after its data and is not deflated, so a stream cannot find its end; upload the export.zip the Health app made, or its export.xml"
            ),
            Self::NoExport => f.write_str(
                "it holds no export.xml (the Health app's export.zip has apple_health_export/export.xml, named in the phone's language)",
            ),
            Self::Truncated(what) => {
                write!(f, "the file ends {what}; was the upload cut short?")
            }
            Self::Damaged(what) => write!(f, "the zip is damaged: {what}"),
            Self::Crc { expected, actual } => write!(
                f,
                "export.xml is damaged: its CRC-32 is {actual:08x}, the zip says {expected:08x}"
            ),
            Self::TooLarge(limit) if *limit >= 1 << 30 => write!(
                f,
                "export.xml is larger than {} GiB uncompressed, more than this server reads",
                limit >> 30
            ),
            Self::TooLarge(limit) => write!(
                f,
                "export.xml is larger than {limit} bytes uncompressed, more than this server reads"
            ),
            Self::Bomb(ratio) => write!(
                f,
                "export.xml expands more than {ratio} times its compressed size (exports compress about 20 times); refused as a decompression bomb"
            ),
        }
    }
}

impl std::error::Error for ZipError {}

fn method_name(method: u16) -> &'static str {
    match method {
        1..=6 => "a legacy method (shrink, reduce or implode)",
        9 => "Deflate64",
        12 => "BZIP2",
        14 => "LZMA",
        93 => "Zstandard",
        95 => "XZ",
        98 => "PPMd",
        99 => "AES encryption",
        _ => "an unknown method",
    }
}

/// Whether an entry's name is the export: an `.xml` file (any case, in any folder, `/` or
/// `\` separated) other than the clinical document `export_cda.xml` (`*_cda.xml`) and macOS's
/// resource forks (`__MACOSX/…`, `._…`). The Health app names the export in the phone's
/// language (`export.xml`, `exportar.xml`, `eksport.xml`, `vienti.xml`, `导出.xml`, …) but not
/// `export_cda.xml`; the other entries are `.gpx`, `.csv` and `.json`. The first one counts; if
/// it is not an export, the XML reader says so.
#[must_use]
pub fn is_export(name: &[u8]) -> bool {
    let file = name
        .rsplit(|&b| b == b'/' || b == b'\\')
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    file.ends_with(b".xml")
        && !file.ends_with(b"_cda.xml")
        && !file.starts_with(b"._")
        && !name.starts_with(b"__MACOSX/")
}

/// The entry being read.
#[derive(Debug, Default)]
struct Entry {
    /// The name, for messages (lossy, at most 200 characters).
    name: String,
    flags: u16,
    method: u16,
    /// From the local header (and its ZIP64 extra); meaningless with a descriptor.
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    /// A ZIP64 extra field was present: a descriptor has 64-bit sizes.
    zip64: bool,
    /// It is the export (its bytes go to the sink).
    export: bool,
    /// Compressed bytes consumed and bytes produced so far.
    read: u64,
    written: u64,
}

impl Entry {
    fn descriptor(&self) -> bool {
        self.flags & FLAG_DESCRIPTOR != 0
    }
}

/// Where the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Collecting a record's signature and a local header's fixed part.
    Header,
    /// Collecting the name and extra field (`HEADER + names` bytes in all).
    Names(usize),
    /// Passing over `left` bytes of an entry whose size is known.
    Skip(u64),
    /// Inflating an entry, up to `left` compressed bytes when the header says so.
    Inflate(Option<u64>),
    /// Handing `left` bytes of a stored export to the sink.
    Stored(u64),
    /// Collecting a data descriptor.
    Descriptor,
    /// The export is read and checked; the rest is not read.
    Done,
}

/// A zip being read, chunk by chunk; the export's bytes go to a sink.
pub struct Unzip {
    limits: Limits,
    stage: Stage,
    /// A header or descriptor being collected (at most `HEADER` + 128 KiB).
    buf: Vec<u8>,
    entry: Entry,
    inflater: Box<DecompressorOxide>,
    window: Box<[u8]>,
    /// Where the inflater writes next in `window`.
    at: usize,
    crc: crc32fast::Hasher,
    /// Every entry inflated so far, for the bomb check.
    inflated: u64,
    consumed: u64,
    /// Bytes written in all.
    bytes: u64,
    /// Local headers read.
    entries: u64,
}

impl std::fmt::Debug for Unzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unzip")
            .field("stage", &self.stage)
            .field("entry", &self.entry)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Unzip {
    fn default() -> Self {
        Self::new(LIMITS)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Whether `bytes` may start the record after an entry (all of a signature, or as much of
/// one as there is).
fn starts_record(bytes: &[u8]) -> bool {
    let n = bytes.len().min(4);
    [LOCAL, CENTRAL, END, ZIP64_END, ARCHIVE_EXTRA]
        .iter()
        .any(|sig| bytes[..n] == sig[..n])
}

impl Unzip {
    /// A zip to read, with `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            stage: Stage::Header,
            buf: Vec::with_capacity(HEADER),
            entry: Entry::default(),
            inflater: Box::default(),
            window: vec![0; WINDOW].into_boxed_slice(),
            at: 0,
            crc: crc32fast::Hasher::new(),
            inflated: 0,
            consumed: 0,
            bytes: 0,
            entries: 0,
        }
    }

    /// The compressed bytes written so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next chunk of the zip, split anywhere; the export's bytes go to `sink` as they
    /// are inflated.
    ///
    /// # Errors
    /// A [`ZipError`] (converted) when the zip cannot be read, or the sink's own error.
    pub fn write<E: From<ZipError>>(
        &mut self,
        chunk: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.bytes += chunk.len() as u64;
        let mut input = chunk;
        while !input.is_empty() {
            input = match self.stage {
                Stage::Header => self.header(input)?,
                Stage::Names(total) => self.names(input, total)?,
                Stage::Skip(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    self.entry.read += n as u64;
                    if self.entry.method == STORED {
                        self.entry.written += n as u64;
                    }
                    self.stage = Stage::Skip(left - n as u64);
                    if left == n as u64 {
                        self.end_of_data()?;
                    }
                    &input[n..]
                }
                Stage::Inflate(left) => self.inflate(input, left, sink)?,
                Stage::Stored(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (data, rest) = input.split_at(n);
                    self.check_export_size(n as u64)?;
                    self.crc.update(data);
                    sink(data)?;
                    self.entry.read += n as u64;
                    self.entry.written += n as u64;
                    self.stage = Stage::Stored(left - n as u64);
                    if left == n as u64 {
                        self.end_of_data()?;
                    }
                    rest
                }
                Stage::Descriptor => self.descriptor(input, false)?,
                Stage::Done => &[],
            };
        }
        Ok(())
    }

    /// The end of the zip: whether the export was read whole.
    ///
    /// # Errors
    /// [`ZipError::Truncated`] when the file ends before the export's end (or
    /// [`ZipError::NoExport`]), or a descriptor that does not match.
    pub fn finish(&mut self) -> Result<(), ZipError> {
        if self.stage == Stage::Descriptor && self.entry.export {
            // The export's descriptor at the very end of a file cut after it: read what
            // there is.
            self.descriptor(&[], true)?;
        }
        let what = match self.stage {
            Stage::Done => return Ok(()),
            Stage::Header if self.buf.is_empty() && self.bytes == 0 => {
                return Err(ZipError::NotZip("the file is empty".into()));
            }
            Stage::Header | Stage::Names(_) if self.entries == 0 => {
                "inside its first header".to_owned()
            }
            Stage::Header | Stage::Names(_) => {
                "between entries, before any export.xml and before the zip's directory".to_owned()
            }
            _ if self.entry.export => "inside export.xml".to_owned(),
            _ => format!("inside {:?}, before any export.xml", self.entry.name),
        };
        Err(ZipError::Truncated(what))
    }

    /// Collects a record's signature and a local header's fixed part.
    fn header<'a>(&mut self, input: &'a [u8]) -> Result<&'a [u8], ZipError> {
        let input = self.collect(input, HEADER);
        if self.buf.len() >= 4 {
            let sig: [u8; 4] = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
            if sig != LOCAL {
                return Err(if [CENTRAL, END, ZIP64_END, ARCHIVE_EXTRA].contains(&sig) {
                    ZipError::NoExport
                } else if self.entries == 0 {
                    ZipError::NotZip("it does not start with a zip entry".into())
                } else {
                    ZipError::Damaged(format!(
                        "no entry where one should start, after {:?}",
                        self.entry.name
                    ))
                });
            }
        }
        if self.buf.len() == HEADER {
            let names = usize::from(u16_at(&self.buf, 26)) + usize::from(u16_at(&self.buf, 28));
            self.stage = Stage::Names(HEADER + names);
            if names == 0 {
                self.start_entry()?;
            }
        }
        Ok(input)
    }

    /// Appends to `buf` up to `total` bytes; the rest of the input.
    fn collect<'a>(&mut self, input: &'a [u8], total: usize) -> &'a [u8] {
        let n = total.saturating_sub(self.buf.len()).min(input.len());
        self.buf.extend_from_slice(&input[..n]);
        &input[n..]
    }

    /// Collects the name and extra field, then starts the entry.
    fn names<'a>(&mut self, input: &'a [u8], total: usize) -> Result<&'a [u8], ZipError> {
        let input = self.collect(input, total);
        if self.buf.len() == total {
            self.start_entry()?;
        }
        Ok(input)
    }

    /// Reads the whole local header in `buf` and decides how to read the entry's data.
    fn start_entry(&mut self) -> Result<(), ZipError> {
        let b = &self.buf;
        let name_len = usize::from(u16_at(b, 26));
        let name = &b[HEADER..HEADER + name_len];
        let export = is_export(name);
        let mut entry = Entry {
            name: String::from_utf8_lossy(name).chars().take(200).collect(),
            flags: u16_at(b, 6),
            method: u16_at(b, 8),
            crc: u32_at(b, 14),
            compressed: u64::from(u32_at(b, 18)),
            uncompressed: u64::from(u32_at(b, 22)),
            export,
            ..Entry::default()
        };
        let dir = name.last() == Some(&b'/');
        // The extra field: look for ZIP64 (0x0001), whose local form holds both sizes.
        let mut extra = &b[HEADER + name_len..];
        while extra.len() >= 4 {
            let (id, size) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
            let Some(data) = extra.get(4..4 + size) else {
                break;
            };
            if id == 1 {
                entry.zip64 = true;
                let mut fields = data.chunks_exact(8).map(|f| u64_at(f, 0));
                if size >= 16 || entry.uncompressed == u64::from(ZIP64_MARK) {
                    entry.uncompressed = fields.next().unwrap_or(entry.uncompressed);
                }
                if size >= 16 || entry.compressed == u64::from(ZIP64_MARK) {
                    entry.compressed = fields.next().unwrap_or(entry.compressed);
                }
            }
            extra = &extra[4 + size..];
        }
        self.buf.clear();
        self.entries += 1;
        if entry.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
            return Err(ZipError::Encrypted(entry.name));
        }
        // With a descriptor the header's sizes are zero (or unreliable), except for a stored
        // entry that gives them anyway.
        let known = if entry.descriptor() {
            (entry.method == STORED && (entry.compressed > 0 || dir)).then_some(entry.compressed)
        } else {
            Some(entry.compressed)
        };
        self.stage = match (export, entry.method, known) {
            (true, STORED | DEFLATED, _)
                if known.is_some()
                    && !entry.descriptor()
                    && entry.uncompressed > self.limits.max_export =>
            {
                return Err(ZipError::TooLarge(self.limits.max_export));
            }
            (true, STORED, Some(size)) => Stage::Stored(size),
            (_, STORED, None) => return Err(ZipError::UnknownSize(entry.name)),
            (true, DEFLATED, size) | (false, DEFLATED, size @ None) => {
                self.inflater.init();
                self.at = 0;
                Stage::Inflate(size)
            }
            (true, method, _) => {
                return Err(ZipError::Method {
                    name: entry.name,
                    method,
                });
            }
            (false, _, Some(size)) => Stage::Skip(size),
            (false, _, None) => return Err(ZipError::UnknownSize(entry.name)),
        };
        self.crc = crc32fast::Hasher::new();
        self.entry = entry;
        if matches!(self.stage, Stage::Skip(0) | Stage::Stored(0)) {
            self.end_of_data()?;
        }
        Ok(())
    }

    fn check_export_size(&self, more: u64) -> Result<(), ZipError> {
        if self.entry.export && self.entry.written + more > self.limits.max_export {
            return Err(ZipError::TooLarge(self.limits.max_export));
        }
        Ok(())
    }

    /// Inflates from `input` (at most `left` bytes of it when the size is known).
    fn inflate<'a, E: From<ZipError>>(
        &mut self,
        input: &'a [u8],
        left: Option<u64>,
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<&'a [u8], E> {
        let take = left.map_or(input.len(), |l| {
            usize::try_from(l).unwrap_or(usize::MAX).min(input.len())
        });
        let (mut data, rest) = input.split_at(take);
        loop {
            let (status, read, written) = decompress(
                &mut self.inflater,
                data,
                &mut self.window,
                self.at,
                TINFL_FLAG_HAS_MORE_INPUT,
            );
            data = &data[read..];
            self.entry.read += read as u64;
            self.consumed += read as u64;
            if written > 0 {
                self.check_export_size(written as u64)?;
                self.entry.written += written as u64;
                self.inflated += written as u64;
                if self.inflated > self.limits.ratio_grace
                    && self.inflated > self.consumed.saturating_mul(self.limits.max_ratio)
                {
                    return Err(ZipError::Bomb(self.limits.max_ratio).into());
                }
                if self.entry.export {
                    let out = &self.window[self.at..self.at + written];
                    self.crc.update(out);
                    sink(out)?;
                }
                self.at = (self.at + written) & (WINDOW - 1);
            }
            match status {
                TINFLStatus::Done => {
                    if let Some(left) = left {
                        // The header's size says where the entry ends.
                        if self.entry.read != self.entry.compressed {
                            return Err(ZipError::Damaged(format!(
                                "the compressed data of {:?} ends {} bytes before the size its header gives",
                                self.entry.name,
                                left - (take - data.len()) as u64
                            ))
                            .into());
                        }
                    }
                    self.end_of_data()?;
                    // What the inflater did not use is the next record.
                    let used = take - data.len();
                    return Ok(&input[used..]);
                }
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput if data.is_empty() => {
                    if let Some(l) = left {
                        let l = l - take as u64;
                        if l == 0 {
                            return Err(ZipError::Damaged(format!(
                                "the compressed data of {:?} runs past the size its header gives",
                                self.entry.name
                            ))
                            .into());
                        }
                        self.stage = Stage::Inflate(Some(l));
                    }
                    return Ok(rest);
                }
                TINFLStatus::NeedsMoreInput if read > 0 || written > 0 => {}
                _ => {
                    return Err(ZipError::Damaged(format!(
                        "the compressed data of {:?} is not valid deflate",
                        self.entry.name
                    ))
                    .into());
                }
            }
        }
    }

    /// The entry's data has ended: its descriptor, or its check.
    fn end_of_data(&mut self) -> Result<(), ZipError> {
        self.buf.clear();
        if self.entry.descriptor() {
            self.stage = Stage::Descriptor;
            return Ok(());
        }
        if matches!(self.stage, Stage::Skip(_)) {
            self.stage = Stage::Header;
            return Ok(());
        }
        self.check(
            self.entry.crc,
            self.entry.compressed,
            self.entry.uncompressed,
        )
    }

    /// Checks what the entry's data gave against what the zip says; then the next entry, or
    /// the end when it was the export.
    fn check(&mut self, crc: u32, compressed: u64, uncompressed: u64) -> Result<(), ZipError> {
        let entry = &self.entry;
        if entry.written != uncompressed || entry.read != compressed {
            return Err(ZipError::Damaged(format!(
                "{:?} has {} bytes ({} compressed), the zip says {uncompressed} ({compressed})",
                entry.name, entry.written, entry.read
            )));
        }
        if entry.export {
            let actual = std::mem::take(&mut self.crc).finalize();
            if actual != crc {
                return Err(ZipError::Crc {
                    expected: crc,
                    actual,
                });
            }
            self.stage = Stage::Done;
        } else {
            self.stage = Stage::Header;
        }
        Ok(())
    }

    /// Collects a data descriptor and reads it: its layout is the one whose sizes match what
    /// was read and after which the next record starts (`at_end`: the file ends here).
    fn descriptor<'a>(&mut self, input: &'a [u8], at_end: bool) -> Result<&'a [u8], ZipError> {
        let input = self.collect(input, LONGEST_DESCRIPTOR);
        if self.buf.len() < LONGEST_DESCRIPTOR && !at_end {
            return Ok(input);
        }
        let b = std::mem::take(&mut self.buf);
        let signed = b.starts_with(&DESCRIPTOR);
        let widths = if self.entry.zip64 { [8, 4] } else { [4, 8] };
        let layouts = [true, false]
            .into_iter()
            .filter(|&sig| signed || !sig)
            .flat_map(|sig| widths.map(|w| (if sig { 4 } else { 0 }, w)));
        for (start, width) in layouts {
            let len = start + 4 + 2 * width;
            if len > b.len() {
                continue;
            }
            let size = |at: usize| {
                if width == 8 {
                    u64_at(&b, at)
                } else {
                    u64::from(u32_at(&b, at))
                }
            };
            let (crc, compressed, uncompressed) =
                (u32_at(&b, start), size(start + 4), size(start + 4 + width));
            if compressed == self.entry.read
                && uncompressed == self.entry.written
                && starts_record(&b[len..])
            {
                self.check(crc, compressed, uncompressed)?;
                // The next record's first bytes.
                if self.stage == Stage::Header {
                    self.buf.extend_from_slice(&b[len..]);
                    return self.header(input);
                }
                return Ok(input);
            }
        }
        if at_end {
            return Err(ZipError::Truncated(format!(
                "inside the data descriptor of {:?}",
                self.entry.name
            )));
        }
        Err(ZipError::Damaged(format!(
            "the data descriptor after {:?} does not match its data ({} bytes, {} compressed)",
            self.entry.name, self.entry.written, self.entry.read
        )))
    }
}
