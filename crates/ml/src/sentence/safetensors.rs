//! A reader for the `safetensors` format (an 8-byte little-endian header length, a JSON header
//! naming each tensor's dtype, shape and byte range, then the raw data), for the F32 tensors
//! a model needs. Nothing is executed and nothing is trusted: every range and shape is checked.

use std::collections::HashMap;

use ndarray::{Array1, Array2};

/// Why a weights file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The header is missing, too large or not JSON.
    #[error("not a safetensors file: {0}")]
    Format(String),
    /// A tensor the model needs is absent.
    #[error("the weights have no tensor `{0}`")]
    Missing(String),
    /// A tensor has another dtype or shape than the model needs.
    #[error("tensor `{name}`: {problem}")]
    Tensor {
        /// The tensor.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
}

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// The tensors of one file.
pub struct Tensors<'a> {
    entries: HashMap<String, Entry>,
    data: &'a [u8],
}

impl<'a> Tensors<'a> {
    /// Parses `bytes` (a whole `.safetensors` file).
    ///
    /// # Errors
    /// [`WeightsError::Format`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WeightsError> {
        let format = |m: &str| WeightsError::Format(m.to_owned());
        let length: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format("shorter than its header length"))?;
        let length = usize::try_from(u64::from_le_bytes(length))
            .map_err(|_| format("header length overflows"))?;
        let header = bytes
            .get(8..8usize.saturating_add(length))
            .ok_or_else(|| format("header runs past the end"))?;
        let mut raw: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| WeightsError::Format(e.to_string()))?;
        raw.remove("__metadata__");
        let entries = raw
            .into_iter()
            .map(|(name, value)| {
                serde_json::from_value::<Entry>(value)
                    .map(|entry| (name.clone(), entry))
                    .map_err(|e| WeightsError::Format(format!("`{name}`: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            entries,
            data: &bytes[8 + length..],
        })
    }

    /// Whether the file holds a tensor called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    fn floats(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| WeightsError::Missing(name.to_owned()))?;
        let problem = |problem: String| WeightsError::Tensor {
            name: name.to_owned(),
            problem,
        };
        if entry.dtype != "F32" {
            return Err(problem(format!("dtype {} (F32 needed)", entry.dtype)));
        }
        if entry.shape != shape {
            return Err(problem(format!(
                "shape {:?} ({shape:?} needed)",
                entry.shape
            )));
        }
        let [start, end] = entry.data_offsets;
        let bytes = self
            .data
            .get(start..end)
            .filter(|b| b.len() == shape.iter().product::<usize>() * 4)
            .ok_or_else(|| problem("its byte range does not match its shape".into()))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// A vector of `len` floats.
    ///
    /// # Errors
    /// [`WeightsError`] when absent or of another dtype or shape.
    pub fn vector(&self, name: &str, len: usize) -> Result<Array1<f32>, WeightsError> {
        Ok(Array1::from_vec(self.floats(name, &[len])?))
    }

    /// A `rows` × `columns` matrix.
    ///
    /// # Errors
    /// [`WeightsError`] when absent or of another dtype or shape.
    pub fn matrix(
        &self,
        name: &str,
        rows: usize,
        columns: usize,
    ) -> Result<Array2<f32>, WeightsError> {
        Array2::from_shape_vec((rows, columns), self.floats(name, &[rows, columns])?).map_err(|e| {
            WeightsError::Tensor {
                name: name.to_owned(),
                problem: e.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_a_matrix_and_checks_shapes() {
        let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let bytes = file(
            r#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
            &data,
        );
        let tensors = Tensors::parse(&bytes).expect("parses");
        let w = tensors.matrix("w", 2, 2).expect("matrix");
        assert_eq!(w[[1, 0]], 3.0);
        assert!(matches!(
            tensors.matrix("w", 4, 1),
            Err(WeightsError::Tensor { .. })
        ));
        assert!(matches!(
            tensors.vector("b", 2),
            Err(WeightsError::Missing(_))
        ));
    }

    #[test]
    fn refuses_truncated_files() {
        assert!(Tensors::parse(&[1, 2]).is_err());
        let bytes = file(
            r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
            &[0; 8],
        );
        let tensors = Tensors::parse(&bytes).expect("header parses");
        assert!(
            tensors.matrix("w", 2, 2).is_err(),
            "data shorter than the range"
        );
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(Tensors::parse(&huge).is_err());
    }
}
