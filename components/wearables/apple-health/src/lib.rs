//! MindFlow's Apple Health adapter (the WIT world `mindflow:platform/wearable-adapter`).
//!
//! Apple Health has no server API: `describe` declares an `upload` connection, `fetch` and
//! `read-notification` answer `invalid-input`, and data arrives as uploads streamed into the
//! `upload` resource, by file name:
//!
//! - `export.zip` (whatever the name: a zip is known by its first bytes, `PK\3\4`): what the
//!   Health app's "Export All Health Data" writes, often hundreds of MB; read as a stream
//!   ([`zip`]): entries before `apple_health_export/export.xml` are passed over, the export
//!   is inflated as it arrives into the XML reader below, the rest is not read;
//! - `export.xml` (any name ending `.xml`): Apple Health's export, often hundreds of MB, read
//!   by a push tokenizer ([`xml`]) that keeps only the incomplete element at a chunk's end
//!   (at most [`xml::MAX_ITEM`]) and per-day totals ([`export`]);
//! - `samples.json` (any name ending `.json`): the app's HealthKit samples ([`samples`]),
//!   at most [`samples::MAX_BYTES`].
//!
//! Both feed [`health`], which normalises days (the local day of each sample's own offset),
//! de-duplicates sources and builds sleep sessions (a night belongs to the day it ends).
//! HRV is SDNN.

pub mod conformance;
pub mod export;
pub mod health;
pub mod samples;
#[cfg(not(target_arch = "wasm32"))]
pub mod synthetic;
pub mod xml;
pub mod zip;

use mindflow_adapter_kit::model::{Batch, Error, Notification};

pub use health::Stats;

/// The provider key.
pub const ID: &str = "apple-health";
/// The provider's name.
pub const DISPLAY_NAME: &str = "Apple Health";
/// What `fetch` and `read-notification` answer.
pub const NO_API: &str = "Apple Health has no server API: upload an export";

/// `fetch`: Apple Health has no server API.
///
/// # Errors
/// Always [`Error::InvalidInput`].
pub fn fetch(_start: &str, _end: &str) -> Result<Batch, Error> {
    Err(Error::InvalidInput(NO_API.to_owned()))
}

/// `read-notification`: Apple Health sends no webhooks.
///
/// # Errors
/// Always [`Error::InvalidInput`].
pub fn read_notification(_body: &[u8]) -> Result<Vec<Notification>, Error> {
    Err(Error::InvalidInput(NO_API.to_owned()))
}

/// What an upload's name says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Xml,
    Json,
    Zip(String),
    Other(String),
}

/// Where an upload is.
#[derive(Debug)]
enum State {
    /// Its first bytes, until there are enough to tell a zip ([`zip::MAGIC`]).
    Sniff(Named, Vec<u8>),
    Export(Box<export::Export>),
    Zip(Box<export::ZippedExport>),
    Samples(samples::Samples),
    /// Refused, finished or failed: every further call answers this.
    Closed(Error),
}

/// An upload being parsed (the WIT `upload` resource, natively).
#[derive(Debug)]
pub struct Upload {
    state: State,
    stats: Option<Stats>,
    peak_carry: usize,
}

impl Upload {
    /// Starts reading a file named `filename`: a zip (known by its first bytes, whatever the
    /// name) is an `export.zip`; otherwise `….xml` is an export, `….json` samples.
    #[must_use]
    pub fn new(filename: &str) -> Self {
        let name = filename.to_ascii_lowercase();
        let named = if name.ends_with(".xml") {
            Named::Xml
        } else if name.ends_with(".json") {
            Named::Json
        } else if name.ends_with(".zip") {
            Named::Zip(filename.to_owned())
        } else {
            Named::Other(filename.to_owned())
        };
        Self {
            state: State::Sniff(named, Vec::with_capacity(zip::MAGIC.len())),
            stats: None,
            peak_carry: 0,
        }
    }

    /// The next chunk of the file.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the file cannot be read (then every later call fails
    /// the same way).
    pub fn write(&mut self, mut chunk: &[u8]) -> Result<(), Error> {
        if let State::Sniff(_, head) = &mut self.state {
            let n = (zip::MAGIC.len() - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            if head.len() < zip::MAGIC.len() {
                return Ok(());
            }
            self.open()?;
        }
        self.write_opened(chunk)
    }

    /// Leaves [`State::Sniff`]: the state the first bytes and the name say, fed those bytes.
    fn open(&mut self) -> Result<(), Error> {
        let State::Sniff(named, head) = &mut self.state else {
            return Ok(());
        };
        let head = std::mem::take(head);
        self.state = match (
            std::mem::replace(named, Named::Xml),
            head.starts_with(&zip::MAGIC),
        ) {
            (_, true) => State::Zip(Box::default()),
            (Named::Xml, false) => State::Export(Box::default()),
            (Named::Json, false) => State::Samples(samples::Samples::new()),
            (Named::Zip(filename), false) => State::Closed(Error::InvalidInput(format!(
                "{filename:?} is not a zip file (a zip starts with PK\\3\\4)"
            ))),
            (Named::Other(filename), false) => State::Closed(Error::InvalidInput(format!(
                "Apple Health uploads are export.zip, export.xml or samples.json, not {filename:?}"
            ))),
        };
        self.write_opened(&head)
    }

    /// A chunk for the state the file's first bytes chose.
    fn write_opened(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let result = match &mut self.state {
            State::Sniff(..) => Ok(()),
            State::Export(export) => {
                let result = export.write(chunk);
                self.peak_carry = export.peak_carry();
                result
            }
            State::Zip(zipped) => {
                let result = zipped.write(chunk);
                self.peak_carry = zipped.peak_carry();
                result
            }
            State::Samples(samples) => samples.write(chunk),
            State::Closed(error) => return Err(error.clone()),
        };
        if let Err(error) = &result {
            self.state = State::Closed(error.clone());
        }
        result
    }

    /// The end of the file: everything it held.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the file cannot be read or was already finished.
    pub fn finish(&mut self) -> Result<Batch, Error> {
        // A file shorter than a zip's signature.
        self.open()?;
        let finished = Error::InvalidInput("the upload is already finished".to_owned());
        let result = match std::mem::replace(&mut self.state, State::Closed(finished)) {
            State::Export(export) => export.finish(),
            State::Zip(zipped) => zipped.finish(),
            State::Samples(samples) => samples.finish(),
            State::Closed(error) => Err(error),
            // (`open` has left it.)
            State::Sniff(..) => Err(Error::InvalidInput("the upload was not started".into())),
        };
        result.map(|(batch, stats)| {
            self.stats = Some(stats);
            batch
        })
    }

    /// What a finished upload read (samples used, skipped, ignored).
    #[must_use]
    pub fn stats(&self) -> Option<Stats> {
        self.stats
    }

    /// The largest carry-over an export held between chunks, in bytes.
    #[must_use]
    pub fn peak_carry(&self) -> usize {
        self.peak_carry
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    use std::cell::RefCell;

    use mindflow_adapter_kit::bindings::exports::mindflow::platform::adapter::{
        AdapterError, Batch, ConnectionKind, Guest, GuestUpload, HrvKind, Notification,
        ProviderInfo,
    };

    /// The adapter.
    struct Adapter;

    /// The `upload` resource.
    struct Upload(RefCell<super::Upload>);

    impl GuestUpload for Upload {
        fn new(filename: String) -> Self {
            Self(RefCell::new(super::Upload::new(&filename)))
        }

        fn write(&self, chunk: Vec<u8>) -> Result<(), AdapterError> {
            self.0.borrow_mut().write(&chunk).map_err(Into::into)
        }

        fn finish(&self) -> Result<Batch, AdapterError> {
            self.0
                .borrow_mut()
                .finish()
                .map(Into::into)
                .map_err(Into::into)
        }
    }

    impl Guest for Adapter {
        type Upload = Upload;

        fn describe() -> ProviderInfo {
            ProviderInfo {
                id: super::ID.to_owned(),
                display_name: super::DISPLAY_NAME.to_owned(),
                connection: ConnectionKind::Upload,
                api_hosts: Vec::new(),
                webhooks: None,
                hrv_kind: HrvKind::Sdnn,
                backfill_days: 0,
                requests_per_minute: 0,
            }
        }

        fn conformance()
        -> mindflow_adapter_kit::bindings::exports::mindflow::platform::adapter::Fixture {
            super::conformance::fixture().into()
        }

        fn fetch(start: String, end: String) -> Result<Batch, AdapterError> {
            super::fetch(&start, &end)
                .map(Into::into)
                .map_err(Into::into)
        }

        fn read_notification(body: Vec<u8>) -> Result<Vec<Notification>, AdapterError> {
            super::read_notification(&body)
                .map(|list| list.into_iter().map(Into::into).collect())
                .map_err(Into::into)
        }

        fn identify() -> Result<String, AdapterError> {
            Err(AdapterError::InvalidInput(
                "Apple Health has no server API: there is no account to identify".into(),
            ))
        }
    }

    mindflow_adapter_kit::bindings::export_adapter!(Adapter with_types_in mindflow_adapter_kit::bindings);
}

#[cfg(test)]
mod tests;
