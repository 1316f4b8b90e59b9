//! Apple Health's `export.xml`, read chunk by chunk: the [`xml`](crate::xml) tokenizer's
//! events become [`health`](crate::health) samples.
//!
//! The root element must be `<HealthData>` (anything else is not an export). Read are
//! `<Record type=… sourceName=… unit=… startDate=… endDate=… value=…>` (empty or with
//! children such as `<MetadataEntry>` and `<HeartRateVariabilityMetadataList>`, which are
//! skipped) and `<ActivitySummary dateComponents=… appleExerciseTime=…/>`. Records inside a
//! `<Correlation>` (blood pressure, food) are not read: they are never of the types this
//! adapter reads, and would be counted twice if they were. `<Workout>` and everything else
//! is skipped.

use mindflow_adapter_kit::model::{Batch, Error};

use crate::health::{self, Health, Sample, Stats, Value};
use crate::xml::{Attrs, Event, Handler, Tokenizer, XmlError};

/// The events' reader.
#[derive(Debug, Default)]
struct Reader {
    health: Health,
    root: bool,
    in_correlation: u32,
}

impl Reader {
    fn record(&mut self, attrs: &Attrs<'_>) -> Result<(), XmlError> {
        let Some(type_id) = attrs.get(b"type") else {
            self.health.count_malformed();
            return Ok(());
        };
        if health::kind(&type_id).is_none() {
            self.health.count_ignored();
            return Ok(());
        }
        let text = |name: &[u8]| attrs.get(name).unwrap_or_default();
        let (value, unit, start, end, source) = (
            text(b"value"),
            text(b"unit"),
            text(b"startDate"),
            text(b"endDate"),
            text(b"sourceName"),
        );
        self.health
            .sample(&Sample {
                type_id: &type_id,
                value: Value::Text(&value),
                unit: &unit,
                start: &start,
                end: &end,
                source: &source,
            })
            .map_err(|too_much| XmlError::Rejected(too_much.0))
    }
}

impl Handler for Reader {
    fn event(&mut self, event: Event<'_>) -> Result<(), XmlError> {
        match event {
            Event::Start { name, attrs, empty } => {
                if !self.root {
                    if name != b"HealthData" {
                        return Err(XmlError::NotXml(format!(
                            "the root element is <{}>, not <HealthData>",
                            String::from_utf8_lossy(name)
                        )));
                    }
                    self.root = true;
                    return Ok(());
                }
                match name {
                    b"Record" if self.in_correlation == 0 => self.record(&attrs)?,
                    b"Correlation" if !empty => self.in_correlation += 1,
                    b"ActivitySummary" => {
                        let date = attrs.get(b"dateComponents").unwrap_or_default();
                        let exercise = attrs.get(b"appleExerciseTime");
                        self.health.activity_summary(&date, exercise.as_deref());
                    }
                    _ => {}
                }
            }
            Event::End { name } => {
                if name == b"Correlation" {
                    self.in_correlation = self.in_correlation.saturating_sub(1);
                }
            }
            Event::Malformed => self.health.count_malformed(),
        }
        Ok(())
    }
}

/// An `export.xml` being read.
#[derive(Debug, Default)]
pub struct Export {
    tokenizer: Tokenizer,
    reader: Reader,
}

fn invalid(e: &XmlError) -> Error {
    Error::InvalidInput(format!("not a readable Apple Health export: {e}"))
}

impl Export {
    /// The start of an export.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The next chunk, split anywhere.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the file is not an Apple Health export, an element is
    /// larger than [`crate::xml::MAX_ITEM`], or there are too many sleep records.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.tokenizer
            .write(chunk, &mut self.reader)
            .map_err(|e| invalid(&e))
    }

    /// The end of the file: what it held.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the file is truncated or held no `<HealthData>`.
    pub fn finish(self) -> Result<(Batch, Stats), Error> {
        let mut tokenizer = self.tokenizer;
        tokenizer.finish().map_err(|e| invalid(&e))?;
        if !self.reader.root {
            return Err(invalid(&XmlError::NotXml("no <HealthData>".to_owned())));
        }
        let stats = self.reader.health.stats();
        Ok((self.reader.health.finish(), stats))
    }

    /// What has been read so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.reader.health.stats()
    }

    /// The largest carry-over held between chunks, in bytes.
    #[must_use]
    pub fn peak_carry(&self) -> usize {
        self.tokenizer.peak_carry()
    }

    /// The bytes written so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.tokenizer.bytes()
    }
}

/// An `export.zip` being read: its `export.xml`, inflated as the zip streams in
/// ([`crate::zip`]), goes to an [`Export`].
#[derive(Debug, Default)]
pub struct ZippedExport {
    unzip: crate::zip::Unzip,
    export: Export,
}

fn unreadable_zip(e: &crate::zip::ZipError) -> Error {
    Error::InvalidInput(format!("not a readable Apple Health export.zip: {e}"))
}

/// The XML inflated from a zip does not parse. Damaged compressed data usually inflates to
/// garbage that the parser refuses before the entry's CRC-32 (checked at its end) is reached,
/// so the message names both causes.
fn inflated_unreadable(e: Error) -> Error {
    match e {
        Error::InvalidInput(why) => Error::InvalidInput(format!(
            "the export.xml in this zip is unreadable (the zip may be damaged): {why}"
        )),
        other => other,
    }
}

impl From<crate::zip::ZipError> for Error {
    fn from(e: crate::zip::ZipError) -> Self {
        unreadable_zip(&e)
    }
}

impl ZippedExport {
    /// The next chunk of the zip, split anywhere.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the zip or its `export.xml` cannot be read.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let export = &mut self.export;
        self.unzip.write(chunk, &mut |xml: &[u8]| {
            export.write(xml).map_err(inflated_unreadable)
        })
    }

    /// The end of the zip: what its export held.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the zip ends before its `export.xml` was read whole, or
    /// the export cannot be read.
    pub fn finish(mut self) -> Result<(Batch, Stats), Error> {
        self.unzip.finish().map_err(|e| unreadable_zip(&e))?;
        self.export.finish()
    }

    /// The largest carry-over the XML held between chunks, in bytes.
    #[must_use]
    pub fn peak_carry(&self) -> usize {
        self.export.peak_carry()
    }

    /// The zip's bytes written so far, and the export's (uncompressed) bytes.
    #[must_use]
    pub fn bytes(&self) -> (u64, u64) {
        (self.unzip.bytes(), self.export.bytes())
    }
}
