//! Development secrets kept in the data directory with owner-only permissions.

use std::io::Write;
use std::path::Path;

/// Reads the secret in `path`, or generates `len` random bytes into it (mode 0600).
///
/// # Errors
/// A message naming the file when it cannot be read or written.
pub fn load_or_generate(path: &Path, len: usize) -> Result<Vec<u8>, String> {
    if let Ok(bytes) = std::fs::read(path) {
        if bytes.len() >= len {
            return Ok(bytes);
        }
        return Err(format!("{} is shorter than {len} bytes", path.display()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut secret = vec![0u8; len];
    rand::fill(secret.as_mut_slice());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(&secret)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(secret)
}
