//! A small zip writer (native only) for the tests, the benchmark's example and the
//! black-box tests: entries deflated or stored, sizes in the local header or in a data
//! descriptor after the data (with or without its signature; the iPhone's way is deflate with
//! descriptors), ZIP64 on request, and a central directory so that other tools (`unzip -t`)
//! read it too.
//!
//! An entry is streamed ([`ZipWriter::start`] … [`ZipWriter::finish_entry`]) when it has a
//! descriptor, or written whole ([`ZipWriter::add`]); the compressed data is never held.

use std::io::{self, Write};

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output, create_comp_flags_from_zip_params,
};

/// How an entry's data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// As is (method 0).
    Stored,
    /// Deflated (method 8), at this level (0–10; zlib's default is 6).
    Deflated(u8),
}

/// Where an entry's sizes and CRC-32 are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// In the local header (the data is compressed first, in memory).
    Header,
    /// In a data descriptor after the data, with its signature `PK\7\8`.
    Descriptor,
    /// In a data descriptor without the signature (older writers).
    UnsignedDescriptor,
}

/// How one entry is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Stored or deflated.
    pub method: Method,
    /// Where the sizes go.
    pub sizes: Sizes,
    /// A ZIP64 extra field (and 64-bit descriptor sizes) even for a small entry.
    pub zip64: bool,
}

impl Options {
    /// The iPhone's way: deflated (level 6) with a signed data descriptor.
    pub const IOS: Self = Self {
        method: Method::Deflated(6),
        sizes: Sizes::Descriptor,
        zip64: false,
    };
}

/// What the central directory needs of an entry.
#[derive(Debug)]
struct Written {
    name: Vec<u8>,
    options: Options,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    offset: u64,
}

/// An entry being streamed.
struct Current {
    written: Written,
    crc: crc32fast::Hasher,
    compressor: Option<Box<CompressorOxide>>,
}

/// Writes a zip to `W`.
pub struct ZipWriter<W: Write> {
    out: Counting<W>,
    entries: Vec<Written>,
    current: Option<Current>,
}

/// A writer that counts the bytes that passed through it.
pub struct Counting<W> {
    /// Where they went.
    pub inner: W,
    /// How many.
    pub count: u64,
}

impl<W> Counting<W> {
    /// Counts what goes to `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner, count: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// 2026-01-01 00:00 in MS-DOS form.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = ((2026 - 1980) << 9) | (1 << 5) | 1;

fn method_code(method: Method) -> u16 {
    match method {
        Method::Stored => 0,
        Method::Deflated(_) => 8,
    }
}

fn compressor(level: u8) -> Box<CompressorOxide> {
    // Negative window bits: raw deflate, no zlib header.
    Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
        i32::from(level),
        -15,
        0,
    )))
}

fn too_large() -> io::Error {
    io::Error::other("larger than this zip writer's 32-bit fields (set zip64)")
}

fn u32_or_mark(value: u64, zip64: bool) -> io::Result<u32> {
    if zip64 {
        return Ok(u32::MAX);
    }
    u32::try_from(value)
        .ok()
        .filter(|&v| v != u32::MAX)
        .ok_or_else(too_large)
}

impl<W: Write> ZipWriter<W> {
    /// A zip written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Counting::new(out),
            entries: Vec::new(),
            current: None,
        }
    }

    /// Writes a whole entry.
    ///
    /// # Errors
    /// The writer's errors; an entry too large without `zip64`.
    pub fn add(&mut self, name: &str, data: &[u8], options: Options) -> io::Result<()> {
        if options.sizes != Sizes::Header {
            self.start(name, options)?;
            self.write_all(data)?;
            return self.finish_entry();
        }
        let compressed = match options.method {
            Method::Stored => data.to_vec(),
            Method::Deflated(level) => miniz_oxide::deflate::compress_to_vec(data, level),
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(data);
        let written = Written {
            name: name.as_bytes().to_vec(),
            options,
            crc: crc.finalize(),
            compressed: compressed.len() as u64,
            uncompressed: data.len() as u64,
            offset: self.out.count,
        };
        self.local_header(&written)?;
        self.out.write_all(&compressed)?;
        self.entries.push(written);
        Ok(())
    }

    /// Starts streaming an entry with a data descriptor (`options.sizes` must not be
    /// [`Sizes::Header`]); its data is what is written until [`Self::finish_entry`].
    ///
    /// # Errors
    /// The writer's errors; an entry already open; sizes in the header.
    pub fn start(&mut self, name: &str, options: Options) -> io::Result<()> {
        if self.current.is_some() || options.sizes == Sizes::Header {
            return Err(io::Error::other(
                "an entry is already open, or its sizes cannot be streamed",
            ));
        }
        let written = Written {
            name: name.as_bytes().to_vec(),
            options,
            crc: 0,
            compressed: 0,
            uncompressed: 0,
            offset: self.out.count,
        };
        self.local_header(&written)?;
        let compressor = match options.method {
            Method::Stored => None,
            Method::Deflated(level) => Some(compressor(level)),
        };
        self.current = Some(Current {
            written,
            crc: crc32fast::Hasher::new(),
            compressor,
        });
        Ok(())
    }

    /// Deflates (or stores) `data` of the open entry.
    fn feed(&mut self, data: &[u8], flush: TDEFLFlush) -> io::Result<()> {
        let Some(current) = self.current.as_mut() else {
            return Err(io::Error::other("no entry is open"));
        };
        current.crc.update(data);
        current.written.uncompressed += data.len() as u64;
        let Some(compressor) = current.compressor.as_mut() else {
            self.out.write_all(data)?;
            current.written.compressed += data.len() as u64;
            return Ok(());
        };
        let out = &mut self.out;
        let mut compressed = 0;
        let mut failed = None;
        let mut rest = data;
        loop {
            let (status, used) = compress_to_output(compressor, rest, flush, |bytes| {
                compressed += bytes.len() as u64;
                match out.write_all(bytes) {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            });
            rest = &rest[used..];
            if let Some(e) = failed.take() {
                return Err(e);
            }
            match status {
                TDEFLStatus::Done => break,
                TDEFLStatus::Okay if rest.is_empty() && flush == TDEFLFlush::None => break,
                TDEFLStatus::Okay => {}
                TDEFLStatus::BadParam | TDEFLStatus::PutBufFailed => {
                    return Err(io::Error::other("deflate failed"));
                }
            }
        }
        current.written.compressed += compressed;
        Ok(())
    }

    /// Ends the open entry: the end of its deflate stream and its data descriptor.
    ///
    /// # Errors
    /// The writer's errors; no entry open.
    pub fn finish_entry(&mut self) -> io::Result<()> {
        self.feed(&[], TDEFLFlush::Finish)?;
        let Some(current) = self.current.take() else {
            return Err(io::Error::other("no entry is open"));
        };
        let mut written = current.written;
        written.crc = current.crc.finalize();
        let mut descriptor = Vec::with_capacity(24);
        if written.options.sizes == Sizes::Descriptor {
            descriptor.extend_from_slice(b"PK\x07\x08");
        }
        descriptor.extend_from_slice(&written.crc.to_le_bytes());
        if written.options.zip64 {
            descriptor.extend_from_slice(&written.compressed.to_le_bytes());
            descriptor.extend_from_slice(&written.uncompressed.to_le_bytes());
        } else {
            let compressed = u32_or_mark(written.compressed, false)?;
            let uncompressed = u32_or_mark(written.uncompressed, false)?;
            descriptor.extend_from_slice(&compressed.to_le_bytes());
            descriptor.extend_from_slice(&uncompressed.to_le_bytes());
        }
        self.out.write_all(&descriptor)?;
        self.entries.push(written);
        Ok(())
    }

    fn local_header(&mut self, entry: &Written) -> io::Result<()> {
        let options = entry.options;
        let streamed = options.sizes != Sizes::Header;
        let mut header = Vec::with_capacity(30 + entry.name.len() + 20);
        header.extend_from_slice(b"PK\x03\x04");
        header.extend_from_slice(&(if options.zip64 { 45_u16 } else { 20 }).to_le_bytes());
        header.extend_from_slice(&(if streamed { 1_u16 << 3 } else { 0 }).to_le_bytes());
        header.extend_from_slice(&method_code(options.method).to_le_bytes());
        header.extend_from_slice(&DOS_TIME.to_le_bytes());
        header.extend_from_slice(&DOS_DATE.to_le_bytes());
        let (crc, compressed, uncompressed) = if streamed {
            (
                0,
                if options.zip64 { u32::MAX } else { 0 },
                if options.zip64 { u32::MAX } else { 0 },
            )
        } else {
            (
                entry.crc,
                u32_or_mark(entry.compressed, options.zip64)?,
                u32_or_mark(entry.uncompressed, options.zip64)?,
            )
        };
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&compressed.to_le_bytes());
        header.extend_from_slice(&uncompressed.to_le_bytes());
        let name_len = u16::try_from(entry.name.len()).map_err(|_| too_large())?;
        header.extend_from_slice(&name_len.to_le_bytes());
        header.extend_from_slice(&(if options.zip64 { 20_u16 } else { 0 }).to_le_bytes());
        header.extend_from_slice(&entry.name);
        if options.zip64 {
            // The local form holds both sizes (zero when they follow in the descriptor).
            header.extend_from_slice(&1_u16.to_le_bytes());
            header.extend_from_slice(&16_u16.to_le_bytes());
            let (u, c) = if streamed {
                (0, 0)
            } else {
                (entry.uncompressed, entry.compressed)
            };
            header.extend_from_slice(&u.to_le_bytes());
            header.extend_from_slice(&c.to_le_bytes());
        }
        self.out.write_all(&header)
    }

    /// Writes the central directory and the end records; the inner writer.
    ///
    /// # Errors
    /// The writer's errors; an entry still open.
    pub fn finish(mut self) -> io::Result<W> {
        if self.current.is_some() {
            return Err(io::Error::other("an entry is still open"));
        }
        let start = self.out.count;
        let mut any64 = false;
        for entry in &self.entries {
            let offset_large = entry.offset >= u64::from(u32::MAX);
            let zip64 = entry.options.zip64 || offset_large;
            any64 |= zip64;
            let mut extra = Vec::new();
            if zip64 {
                extra.extend_from_slice(&1_u16.to_le_bytes());
                extra.extend_from_slice(&(if offset_large { 24_u16 } else { 16 }).to_le_bytes());
                extra.extend_from_slice(&entry.uncompressed.to_le_bytes());
                extra.extend_from_slice(&entry.compressed.to_le_bytes());
                if offset_large {
                    extra.extend_from_slice(&entry.offset.to_le_bytes());
                }
            }
            let mut header = Vec::with_capacity(46 + entry.name.len() + extra.len());
            header.extend_from_slice(b"PK\x01\x02");
            header.extend_from_slice(&0x031e_u16.to_le_bytes());
            header.extend_from_slice(&(if zip64 { 45_u16 } else { 20 }).to_le_bytes());
            let streamed = entry.options.sizes != Sizes::Header;
            header.extend_from_slice(&(if streamed { 1_u16 << 3 } else { 0 }).to_le_bytes());
            header.extend_from_slice(&method_code(entry.options.method).to_le_bytes());
            header.extend_from_slice(&DOS_TIME.to_le_bytes());
            header.extend_from_slice(&DOS_DATE.to_le_bytes());
            header.extend_from_slice(&entry.crc.to_le_bytes());
            header.extend_from_slice(&u32_or_mark(entry.compressed, zip64)?.to_le_bytes());
            header.extend_from_slice(&u32_or_mark(entry.uncompressed, zip64)?.to_le_bytes());
            let name_len = u16::try_from(entry.name.len()).map_err(|_| too_large())?;
            header.extend_from_slice(&name_len.to_le_bytes());
            let extra_len = u16::try_from(extra.len()).map_err(|_| too_large())?;
            header.extend_from_slice(&extra_len.to_le_bytes());
            header.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
            header.extend_from_slice(&0o100_644_u32.wrapping_shl(16).to_le_bytes());
            let offset = if offset_large {
                u32::MAX
            } else {
                u32_or_mark(entry.offset, false)?
            };
            header.extend_from_slice(&offset.to_le_bytes());
            header.extend_from_slice(&entry.name);
            header.extend_from_slice(&extra);
            self.out.write_all(&header)?;
        }
        let end = self.out.count;
        let (size, count) = (end - start, self.entries.len() as u64);
        let large = size >= u64::from(u32::MAX) || start >= u64::from(u32::MAX) || count >= 0xffff;
        if any64 || large {
            let mut record = Vec::with_capacity(76);
            record.extend_from_slice(b"PK\x06\x06");
            record.extend_from_slice(&44_u64.to_le_bytes());
            record.extend_from_slice(&0x031e_u16.to_le_bytes());
            record.extend_from_slice(&45_u16.to_le_bytes());
            record.extend_from_slice(&[0; 8]); // this disk, the directory's disk
            record.extend_from_slice(&count.to_le_bytes());
            record.extend_from_slice(&count.to_le_bytes());
            record.extend_from_slice(&size.to_le_bytes());
            record.extend_from_slice(&start.to_le_bytes());
            record.extend_from_slice(b"PK\x06\x07");
            record.extend_from_slice(&0_u32.to_le_bytes());
            record.extend_from_slice(&end.to_le_bytes());
            record.extend_from_slice(&1_u32.to_le_bytes());
            self.out.write_all(&record)?;
        }
        let mut record = Vec::with_capacity(22);
        record.extend_from_slice(b"PK\x05\x06");
        record.extend_from_slice(&[0; 4]); // this disk, the directory's disk
        let count16 = u16::try_from(count).unwrap_or(u16::MAX);
        record.extend_from_slice(&count16.to_le_bytes());
        record.extend_from_slice(&count16.to_le_bytes());
        let size32 = if large {
            u32::MAX
        } else {
            u32_or_mark(size, false)?
        };
        let start32 = if large {
            u32::MAX
        } else {
            u32_or_mark(start, false)?
        };
        record.extend_from_slice(&size32.to_le_bytes());
        record.extend_from_slice(&start32.to_le_bytes());
        record.extend_from_slice(&0_u16.to_le_bytes());
        self.out.write_all(&record)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

impl<W: Write> Write for ZipWriter<W> {
    /// The open entry's data.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf, TDEFLFlush::None)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An export zipped the iPhone's way into `out`: `apple_health_export/export.xml` (what
/// `xml` writes, streamed), deflated with a data descriptor, after a workout route and before
/// `export_cda.xml`.
///
/// # Errors
/// The writer's errors, or `xml`'s.
pub fn ios_zip_into<W: Write>(
    out: W,
    xml: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<W> {
    let mut zip = ZipWriter::new(out);
    zip.add(
        "apple_health_export/workout-routes/route_2026-11-03_7.12am.gpx",
        GPX,
        Options::IOS,
    )?;
    zip.start("apple_health_export/export.xml", Options::IOS)?;
    {
        // The compressor is fed in large pieces, however small `xml`'s writes.
        let mut buffered = io::BufWriter::with_capacity(1 << 20, &mut zip);
        xml(&mut buffered)?;
        buffered.flush()?;
    }
    zip.finish_entry()?;
    zip.add("apple_health_export/export_cda.xml", CDA, Options::IOS)?;
    zip.finish()
}

/// [`ios_zip_into`] in memory.
///
/// # Errors
/// Never for a `Vec`.
pub fn ios_zip(export: &[u8]) -> io::Result<Vec<u8>> {
    ios_zip_into(Vec::new(), |w| w.write_all(export))
}

/// A workout route as the export holds one.
pub const GPX: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"Apple Health Export\"><trk><name>Route 2026-11-03 7:12am</name><trkseg><trkpt lon=\"-122.41\" lat=\"37.77\"><ele>12.1</ele><time>2026-11-03T15:12:01Z</time></trkpt></trkseg></trk></gpx>\n";

/// The clinical document beside the export (an `export.xml` that is not the export).
pub const CDA: &[u8] = b"<?xml version=\"1.0\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Health Data Export</title></ClinicalDocument>\n";
