//! How fast the pure export parser runs natively: generates a synthetic export in memory
//! (zipped the iPhone's way with `zip`), streams it through `apple_health::Upload` in chunks,
//! reports MB/s (of the zip and of the XML) and the peak carry-over. Run it optimised:
//!
//! `cargo run --release -p apple-health --example parse_speed -- [DAYS] [CHUNK_BYTES] [zip]`
//! (defaults: 90 days, 64 KiB chunks, the bare XML).

use std::time::Instant;

use apple_health::Upload;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let days = args.first().and_then(|d| d.parse().ok()).unwrap_or(90);
    let chunk = args
        .get(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(64 * 1024_usize)
        .max(1);

    let zipped = args.get(2).is_some_and(|a| a == "zip");

    let started = Instant::now();
    let xml = apple_health::synthetic::export(days, 1);
    let generated = started.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let mb = xml.len() as f64 / 1e6;
    println!(
        "generated {days} days: {mb:.1} MB in {:.2} s",
        generated.as_secs_f64()
    );
    let bytes = if zipped {
        let started = Instant::now();
        let Ok(zip) = apple_health::zip::write::ios_zip(&xml) else {
            eprintln!("could not zip");
            std::process::exit(1);
        };
        #[allow(clippy::cast_precision_loss)]
        let zip_mb = zip.len() as f64 / 1e6;
        println!(
            "zipped: {zip_mb:.1} MB ({:.1}:1) in {:.2} s",
            mb / zip_mb,
            started.elapsed().as_secs_f64()
        );
        zip
    } else {
        xml
    };
    #[allow(clippy::cast_precision_loss)]
    let input_mb = bytes.len() as f64 / 1e6;

    let mut best = f64::INFINITY;
    let mut result = None;
    for _ in 0..3 {
        let started = Instant::now();
        let mut upload = Upload::new(if zipped { "export.zip" } else { "export.xml" });
        for piece in bytes.chunks(chunk) {
            if let Err(e) = upload.write(piece) {
                eprintln!("refused: {e}");
                std::process::exit(1);
            }
        }
        let batch = match upload.finish() {
            Ok(batch) => batch,
            Err(e) => {
                eprintln!("refused: {e}");
                std::process::exit(1);
            }
        };
        best = best.min(started.elapsed().as_secs_f64());
        result = Some((batch, upload.stats(), upload.peak_carry()));
    }
    if let Some((batch, stats, peak)) = result {
        let stats = stats.unwrap_or_default();
        if zipped {
            println!(
                "parsed in {best:.3} s (best of 3, {chunk}-byte chunks): {:.0} MB/s of zip, {:.0} MB/s of XML",
                input_mb / best,
                mb / best
            );
        } else {
            println!(
                "parsed in {best:.3} s (best of 3, {chunk}-byte chunks): {:.0} MB/s",
                mb / best
            );
        }
        println!(
            "records used {}, ignored {}, malformed {}; {} days, {} sleep sessions",
            stats.used,
            stats.ignored,
            stats.malformed,
            batch.days.len(),
            batch.sleep.len()
        );
        println!("peak carry-over between chunks: {peak} bytes");
    }
}
