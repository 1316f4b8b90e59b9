//! Vector distance inside SQLite: the SQL function `mindflow_cosine_distance(a, b)`.
//!
//! SQLite has no vector type; embeddings are stored as blobs of little-endian `f32`s. The
//! exact nearest search ranks every one of a person's rows, so it is linear in their history
//! either way, but ranking in SQL keeps the constant small: the distance is computed on the
//! page's bytes in place, and only the `k` ids that win leave SQLite, instead of every row's
//! id and vector crossing the driver (about 6 µs a row) to be decoded and compared in Rust.
//!
//! The function is registered on every connection of the pool as it opens
//! ([`register`]). It is deterministic and innocuous (no side effects, no access to anything
//! but its arguments), so SQLite may use it in any statement.

// The registration and the callback are the only FFI of the database layer: a scalar
// function is not part of sqlx's API.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int};
use std::ptr::{NonNull, null_mut};

use libsqlite3_sys as ffi;

/// The SQL name of the function: `mindflow_cosine_distance(a BLOB, b BLOB) -> REAL`.
pub const COSINE_DISTANCE: &str = "mindflow_cosine_distance";
const COSINE_DISTANCE_C: &CStr = c"mindflow_cosine_distance";

/// Registers [`COSINE_DISTANCE`] on the connection `db`.
///
/// `db` must be an open connection that no other thread uses during the call (sqlx's
/// `LockedSqliteHandle` guarantees both).
///
/// # Errors
/// SQLite's result code when it refuses the registration.
pub(crate) fn register(db: NonNull<ffi::sqlite3>) -> Result<(), c_int> {
    let flags = ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS;
    // SAFETY: `db` is an open connection held exclusively by the caller (see above); the
    // name is a NUL-terminated static string; the function keeps no user data, so there is
    // nothing to destroy, and `cosine_distance_callback` has the signature SQLite calls.
    let code = unsafe {
        ffi::sqlite3_create_function_v2(
            db.as_ptr(),
            COSINE_DISTANCE_C.as_ptr(),
            2,
            flags,
            null_mut(),
            Some(cosine_distance_callback),
            None,
            None,
            None,
        )
    };
    if code == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(code)
    }
}

/// SQLite's entry point: the cosine distance of two blobs of little-endian `f32`s, or NULL
/// when either argument is not such a blob or their lengths differ.
unsafe extern "C" fn cosine_distance_callback(
    context: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    let distance = if argc == 2 && !argv.is_null() {
        // SAFETY: SQLite passes `argc` valid value pointers in `argv`, alive for this call.
        let (a, b) = unsafe { (blob(*argv), blob(*argv.add(1))) };
        a.zip(b).and_then(|(a, b)| cosine_distance_le(a, b))
    } else {
        None
    };
    // SAFETY: `context` is the live context SQLite gave this call.
    unsafe {
        match distance {
            Some(distance) => ffi::sqlite3_result_double(context, distance),
            None => ffi::sqlite3_result_null(context),
        }
    }
}

/// The bytes of a BLOB argument, borrowed from SQLite for the duration of the call.
///
/// # Safety
/// `value` must be a valid argument of the current function call.
unsafe fn blob<'a>(value: *mut ffi::sqlite3_value) -> Option<&'a [u8]> {
    if value.is_null() {
        return None;
    }
    // SAFETY: `value` is valid (the caller's contract). SQLite's documented order is the
    // pointer first, then its length.
    unsafe {
        if ffi::sqlite3_value_type(value) != ffi::SQLITE_BLOB {
            return None;
        }
        let data = ffi::sqlite3_value_blob(value);
        let len = usize::try_from(ffi::sqlite3_value_bytes(value)).ok()?;
        if data.is_null() || len == 0 {
            return None;
        }
        Some(std::slice::from_raw_parts(data.cast::<u8>(), len))
    }
}

/// The cosine distance of two vectors stored as little-endian `f32`s, computed as
/// [`crate::collections::cosine_distance`] computes it on decoded vectors (so both rank
/// alike); `None` when the lengths differ or are not whole `f32`s, or the distance is
/// undefined (a zero vector).
#[must_use]
pub fn cosine_distance_le(a: &[u8], b: &[u8]) -> Option<f64> {
    if a.len() != b.len() || !a.len().is_multiple_of(4) {
        return None;
    }
    let decode = |c: &[u8]| f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    let mut sums = Sums::default();
    let (a_lanes, b_lanes) = (a.chunks_exact(4 * LANES), b.chunks_exact(4 * LANES));
    let (a_rest, b_rest) = (a_lanes.remainder(), b_lanes.remainder());
    for (x, y) in a_lanes.zip(b_lanes) {
        let mut xs = [0.0f32; LANES];
        let mut ys = [0.0f32; LANES];
        for (lane, (x, y)) in x.chunks_exact(4).zip(y.chunks_exact(4)).enumerate() {
            xs[lane] = decode(x);
            ys[lane] = decode(y);
        }
        sums.add(&xs, &ys);
    }
    for (lane, (x, y)) in a_rest
        .chunks_exact(4)
        .zip(b_rest.chunks_exact(4))
        .enumerate()
    {
        sums.add_one(lane, decode(x), decode(y));
    }
    let distance = sums.distance();
    (!distance.is_nan()).then_some(distance)
}

/// Cosine distance (`f32` sums kept in [`LANES`] interleaved lanes, `f64` quotient,
/// clamped, as pgvector computes it but for the order of the sums); NaN when undefined.
pub(crate) fn cosine_distance_f32(a: &[f32], b: &[f32]) -> f64 {
    let mut sums = Sums::default();
    let (a_lanes, b_lanes) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_rest, b_rest) = (a_lanes.remainder(), b_lanes.remainder());
    for (x, y) in a_lanes.zip(b_lanes) {
        let mut xs = [0.0f32; LANES];
        let mut ys = [0.0f32; LANES];
        xs.copy_from_slice(x);
        ys.copy_from_slice(y);
        sums.add(&xs, &ys);
    }
    for (lane, (x, y)) in a_rest.iter().zip(b_rest).enumerate() {
        sums.add_one(lane, *x, *y);
    }
    sums.distance()
}

/// How many partial sums run side by side: independent sums let the compiler use vector
/// registers (a single running sum is one long chain of dependent additions).
const LANES: usize = 8;

/// The partial sums of a cosine distance, per lane.
#[derive(Default)]
struct Sums {
    dot: [f32; LANES],
    norm_a: [f32; LANES],
    norm_b: [f32; LANES],
}

impl Sums {
    fn add(&mut self, xs: &[f32; LANES], ys: &[f32; LANES]) {
        for lane in 0..LANES {
            self.add_one(lane, xs[lane], ys[lane]);
        }
    }

    fn add_one(&mut self, lane: usize, x: f32, y: f32) {
        self.dot[lane] += x * y;
        self.norm_a[lane] += x * x;
        self.norm_b[lane] += y * y;
    }

    fn distance(&self) -> f64 {
        let total = |lanes: &[f32; LANES]| lanes.iter().sum::<f32>();
        let similarity = f64::from(total(&self.dot))
            / (f64::from(total(&self.norm_a)) * f64::from(total(&self.norm_b))).sqrt();
        if similarity.is_nan() {
            return f64::NAN;
        }
        1.0 - similarity.clamp(-1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::cosine_distance;

    fn le(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn agrees_with_the_distance_on_decoded_vectors() {
        let a = [0.25f32, -1.5, 3.0, 0.125, 7.0];
        let b = [1.0f32, 2.0, -0.5, 4.0, 0.0];
        let expected = cosine_distance(&a, &b);
        assert_eq!(cosine_distance_le(&le(&a), &le(&b)), Some(expected));
        assert_eq!(
            cosine_distance_le(&le(&a), &le(&a)).map(|d| d < 1e-6),
            Some(true)
        );
    }

    #[test]
    fn refuses_what_is_not_a_pair_of_vectors() {
        assert_eq!(cosine_distance_le(&le(&[1.0, 2.0]), &le(&[1.0])), None);
        assert_eq!(cosine_distance_le(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(cosine_distance_le(&le(&[0.0, 0.0]), &le(&[1.0, 0.0])), None);
    }
}
