//! Writes a deterministic synthetic Apple Health export (about 2,000 records a day from an
//! iPhone, an Apple Watch and a few other apps; see `apple_health::synthetic`): `export.xml`,
//! or, when OUT ends in `.zip`, an `export.zip` as the iPhone writes it
//! (`apple_health_export/export.xml` deflated with a data descriptor, between a workout route
//! and `export_cda.xml`; see `apple_health::zip::write`).
//!
//! `cargo run --release -p apple-health --example generate_export -- OUT.xml|OUT.zip DAYS [SEED]`

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use apple_health::zip::write::Counting;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(Ok(days))) = (args.first(), args.get(1).map(|d| d.parse::<u32>())) else {
        eprintln!("usage: generate_export OUT.xml|OUT.zip DAYS [SEED]");
        return ExitCode::from(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let zipped = path.to_ascii_lowercase().ends_with(".zip");
    let mut xml_bytes = 0;
    let written = File::create(path).and_then(|file| {
        let out = BufWriter::new(file);
        let out = if zipped {
            apple_health::zip::write::ios_zip_into(out, |w| {
                let mut counting = Counting::new(w);
                apple_health::synthetic::write_export(&mut counting, days, seed)?;
                xml_bytes = counting.count;
                Ok(())
            })?
        } else {
            let mut counting = Counting::new(out);
            apple_health::synthetic::write_export(&mut counting, days, seed)?;
            xml_bytes = counting.count;
            counting.inner
        };
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()
    });
    match written {
        Ok(()) => {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            if zipped {
                println!("{path}: {days} days, {size} bytes (export.xml {xml_bytes} bytes)");
            } else {
                println!("{path}: {days} days, {size} bytes");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
