//! Writes a deterministic synthetic Apple Health export (about 2,000 records a day from an
//! iPhone, an Apple Watch and a few other apps; see `apple_health::synthetic`).
//!
//! `cargo run -p apple-health --example generate_export -- OUT.xml DAYS [SEED]`

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(Ok(days))) = (args.first(), args.get(1).map(|d| d.parse::<u32>())) else {
        eprintln!("usage: generate_export OUT.xml DAYS [SEED]");
        return ExitCode::from(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let written = File::create(path).and_then(|file| {
        let mut out = BufWriter::new(file);
        apple_health::synthetic::write_export(&mut out, days, seed)?;
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()
    });
    match written {
        Ok(()) => {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            println!("{path}: {days} days, {size} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
