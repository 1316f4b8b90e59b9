//! A mood log's note is stored only sealed under the user's data key (`crypto.seal` with
//! purpose [`PURPOSE`]): `note_encrypted` holds the ciphertext with its tag, `note_iv` the
//! nonce, and the plaintext `note` column stays empty. Rows written before notes were sealed
//! may still carry a plaintext `note` until the host's start-up backfill seals it; reading
//! shows either the same way.

use mindflow_component_kit::host::Sealed;
use mindflow_component_kit::row_object::{Member, RowObject};
use mindflow_component_kit::storage::{Row, Value, bytes_of, text_of};
use mindflow_component_kit::{Platform, Problem};

/// The crypto purpose of a note (the host's GDPR export opens it under the same).
pub const PURPOSE: &str = mindflow_component_kit::purpose::MOOD_NOTE;
/// The column of the sealed note.
const CIPHERTEXT: &str = "note_encrypted";
/// The column of its nonce.
const NONCE: &str = "note_iv";
/// The column of a note an earlier version stored in plaintext.
const PLAINTEXT: &str = "note";

/// The columns that store `note`: sealed, or all null for no note. Used for inserts (where
/// nulls are left out) and updates (where they clear the old note).
///
/// # Errors
/// The crypto capability's failure, as a problem.
pub fn columns(p: &impl Platform, note: Option<&str>) -> Result<Row, Problem> {
    let (ciphertext, nonce) = match note {
        Some(note) => {
            let sealed = p.seal(PURPOSE, note.as_bytes())?;
            (Value::Bytes(sealed.ciphertext), Value::Bytes(sealed.nonce))
        }
        None => (Value::Null, Value::Null),
    };
    Ok(vec![(CIPHERTEXT.into(), ciphertext), (NONCE.into(), nonce)])
}

/// The stored note of `row`, opened (or an earlier version's plaintext note).
///
/// # Errors
/// A note that cannot be opened (tampered, or the key is gone): the read fails rather than
/// showing the log without its note.
pub fn of(p: &impl Platform, row: &Row) -> Result<Option<String>, Problem> {
    match (bytes_of(row, CIPHERTEXT), bytes_of(row, NONCE)) {
        (Some(ciphertext), Some(nonce)) => {
            let plaintext = p.open(PURPOSE, &Sealed { ciphertext, nonce })?;
            String::from_utf8(plaintext)
                .map(Some)
                .map_err(|_| Problem::failed())
        }
        _ => Ok(text_of(row, PLAINTEXT)),
    }
}

/// `row` as a client sees it: the sealed columns replaced by the opened `note`.
///
/// # Errors
/// As [`of`].
pub fn opened(p: &impl Platform, row: &Row) -> Result<Row, Problem> {
    Ok(shown(row, of(p, row)?))
}

/// `row` as a client sees it, its note already known (it was just written).
pub fn shown(row: &Row, note: Option<String>) -> Row {
    let mut shown: Row = row
        .iter()
        .filter(|(name, _)| ![CIPHERTEXT, NONCE, PLAINTEXT].contains(&name.as_str()))
        .cloned()
        .collect();
    shown.push((PLAINTEXT.into(), note.map_or(Value::Null, Value::Text)));
    shown
}

/// [`shown`] written straight to JSON: `row` without its sealed columns, with `note`.
pub fn shown_object<'a>(row: &'a Row, note: Option<&'a str>) -> RowObject<'a> {
    RowObject::new(row)
        .without(&[CIPHERTEXT, NONCE, PLAINTEXT])
        .with(PLAINTEXT, Member::Text(note))
}
