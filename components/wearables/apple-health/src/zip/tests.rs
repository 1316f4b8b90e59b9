//! The zip reader on its own: zips written every way (by [`super::write`] and, as committed
//! fixtures, by Info-ZIP and Python), split everywhere, cut everywhere, damaged.

use super::write::{self, Method, Options, Sizes, ZipWriter};
use super::{LIMITS, Limits, Unzip, ZipError};

const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/small-export.xml");

/// Reads `zip` in chunks of the given sizes (cycled), collecting the export's bytes.
fn read_with(zip: &[u8], sizes: &[usize], limits: Limits) -> Result<Vec<u8>, ZipError> {
    let mut unzip = Unzip::new(limits);
    let mut out = Vec::new();
    let mut rest = zip;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        unzip.write(chunk, &mut |bytes: &[u8]| {
            out.extend_from_slice(bytes);
            Ok::<(), ZipError>(())
        })?;
        rest = tail;
    }
    unzip.finish()?;
    Ok(out)
}

fn read(zip: &[u8]) -> Result<Vec<u8>, ZipError> {
    read_with(zip, &[zip.len().max(1)], LIMITS)
}

fn zip_of(entries: &[(&str, &[u8], Options)]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Vec::new());
    for (name, data, options) in entries {
        zip.add(name, data, *options).expect("written");
    }
    zip.finish().expect("written")
}

const fn options(method: Method, sizes: Sizes, zip64: bool) -> Options {
    Options {
        method,
        sizes,
        zip64,
    }
}

/// Every way this writer writes an entry.
fn every_option() -> Vec<Options> {
    let mut all = Vec::new();
    for method in [Method::Stored, Method::Deflated(1), Method::Deflated(6)] {
        for sizes in [Sizes::Header, Sizes::Descriptor, Sizes::UnsignedDescriptor] {
            for zip64 in [false, true] {
                if method == Method::Stored && sizes != Sizes::Header {
                    // A stream cannot find a stored entry's end (see below).
                    continue;
                }
                all.push(options(method, sizes, zip64));
            }
        }
    }
    all
}

#[test]
fn the_export_comes_out_whole_however_it_was_zipped() {
    for how in every_option() {
        let zip = zip_of(&[("apple_health_export/export.xml", FIXTURE, how)]);
        assert_eq!(read(&zip).expect("reads"), FIXTURE, "{how:?}");
    }
    // The iPhone's layout: entries before and after, of every kind.
    let before = FIXTURE.repeat(3);
    for how in every_option() {
        let mut entries: Vec<(&str, &[u8], Options)> = vec![(
            "apple_health_export/",
            b"",
            Options {
                sizes: Sizes::Header,
                ..how
            },
        )];
        for other in every_option() {
            entries.push((
                "apple_health_export/workout-routes/route.gpx",
                &before,
                other,
            ));
        }
        entries.push(("__MACOSX/apple_health_export/export.xml", b"not this", how));
        entries.push(("apple_health_export/._export.xml", b"nor this", how));
        entries.push(("apple_health_export/export_cda.xml", write::CDA, how));
        entries.push(("apple_health_export/export.xml", FIXTURE, how));
        entries.push(("apple_health_export/export.xml", b"<HealthData/>", how));
        entries.push((
            "apple_health_export/electrocardiograms/ecg.csv",
            &before,
            how,
        ));
        let zip = zip_of(&entries);
        assert_eq!(read(&zip).expect("reads"), FIXTURE, "{how:?}");
    }
    assert_eq!(
        read(&write::ios_zip(FIXTURE).expect("zip")).expect("reads"),
        FIXTURE
    );
    // A bare name, any case, any separator, the phone's language.
    for name in [
        "export.xml",
        "Export.XML",
        "apple_health_export\\export.xml",
        "apple_health_export/exportar.xml",
        "apple_health_export/vienti.xml",
        "apple_health_export/导出.xml",
    ] {
        let zip = zip_of(&[(name, FIXTURE, Options::IOS)]);
        assert_eq!(read(&zip).expect("reads"), FIXTURE, "{name}");
    }
}

#[test]
fn zips_made_by_other_tools_read_the_same() {
    // tests/fixtures/README.md says how each was made.
    let fixtures: [(&str, &[u8]); 4] = [
        (
            "info-zip",
            include_bytes!("../../tests/fixtures/small-export.info-zip.zip"),
        ),
        (
            "info-zip streamed, zip64",
            include_bytes!("../../tests/fixtures/small-export.info-zip-stream64.zip"),
        ),
        (
            "python streamed",
            include_bytes!("../../tests/fixtures/small-export.python-stream.zip"),
        ),
        (
            "python streamed, zip64, stored entries",
            include_bytes!("../../tests/fixtures/small-export.python-stream64.zip"),
        ),
    ];
    for (what, zip) in fixtures {
        assert_eq!(read(zip).expect(what), FIXTURE, "{what}");
        for size in [1, 7, 4096] {
            assert_eq!(
                read_with(zip, &[size], LIMITS).expect(what),
                FIXTURE,
                "{what}"
            );
        }
    }
}

#[test]
fn chunk_boundaries_anywhere_give_the_same_bytes() {
    let big = crate::synthetic::export(2, 3);
    for how in every_option() {
        let zip = zip_of(&[
            ("apple_health_export/workout-routes/a.gpx", write::GPX, how),
            ("apple_health_export/export.xml", FIXTURE, how),
        ]);
        for split in 0..=zip.len() {
            let got = read_with(&zip, &[split.max(1), zip.len()], LIMITS);
            assert_eq!(got.as_deref(), Ok(FIXTURE), "{how:?}, split at {split}");
        }
        for sizes in [&[1][..], &[2], &[3, 5, 7], &[29, 31], &[1000, 1]] {
            let got = read_with(&zip, sizes, LIMITS);
            assert_eq!(got.as_deref(), Ok(FIXTURE), "{how:?}, chunks {sizes:?}");
        }
        // Larger than the inflater's window.
        let zip = zip_of(&[
            ("apple_health_export/export_cda.xml", &big, how),
            ("apple_health_export/export.xml", &big, how),
        ]);
        for sizes in [&[1][..], &[8191, 3], &[256 * 1024]] {
            let got = read_with(&zip, sizes, LIMITS).expect("reads");
            assert!(got == big, "{how:?}, chunks {sizes:?}");
        }
    }
}

#[test]
fn a_file_cut_anywhere_before_the_export_is_whole_is_refused() {
    let zip = write::ios_zip(FIXTURE).expect("zip");
    let mut first_whole = None;
    for cut in 0..zip.len() {
        match read_with(&zip[..cut], &[61], LIMITS) {
            Ok(bytes) => {
                // Accepted only when all of export.xml and its descriptor were there.
                assert_eq!(bytes, FIXTURE, "cut at {cut}");
                first_whole.get_or_insert(cut);
            }
            Err(ZipError::Truncated(_) | ZipError::NotZip(_)) => {
                assert!(
                    first_whole.is_none(),
                    "cut at {cut} refused after {first_whole:?}"
                );
            }
            Err(other) => panic!("cut at {cut}: {other}"),
        }
    }
    // The export's descriptor (16 bytes) is its last part: everything up to it is needed.
    let cda = zip
        .windows(4)
        .rposition(|w| w == b"PK\x03\x04")
        .expect("cda");
    assert_eq!(first_whole, Some(cda));
    assert_eq!(
        read(&zip[..0]),
        Err(ZipError::NotZip("the file is empty".into()))
    );
}

#[test]
fn a_damaged_export_is_refused() {
    for how in every_option() {
        let zip = zip_of(&[("apple_health_export/export.xml", FIXTURE, how)]);
        // Every byte of the entry's data (and descriptor) flipped in turn: never the wrong
        // bytes accepted.
        let data_start =
            30 + "apple_health_export/export.xml".len() + if how.zip64 { 20 } else { 0 };
        let central = zip
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central");
        for at in data_start..central {
            let mut bad = zip.clone();
            bad[at] ^= 0x20;
            match read(&bad) {
                // (A flip in the padding bits after the final deflate block changes nothing.)
                Ok(bytes) => assert!(bytes == FIXTURE, "{how:?}: a flip at {at} read wrongly"),
                Err(ZipError::Crc { .. } | ZipError::Damaged(_) | ZipError::Truncated(_)) => {}
                Err(other) => panic!("{how:?}: a flip at {at}: {other}"),
            }
        }
    }
    // The CRC itself wrong, in the header and in a descriptor: named as such.
    for sizes in [Sizes::Header, Sizes::Descriptor] {
        let mut zip = zip_of(&[(
            "export.xml",
            FIXTURE,
            options(Method::Deflated(6), sizes, false),
        )]);
        let at = if sizes == Sizes::Header {
            14
        } else {
            zip.windows(4)
                .position(|w| w == b"PK\x07\x08")
                .expect("descriptor")
                + 4
        };
        zip[at] ^= 1;
        let refused = read(&zip).expect_err("refused");
        assert!(matches!(refused, ZipError::Crc { .. }), "{refused}");
        assert!(refused.to_string().contains("CRC-32"), "{refused}");
    }
}

#[test]
fn what_cannot_be_read_is_refused_clearly() {
    let plain = Options {
        method: Method::Deflated(6),
        sizes: Sizes::Header,
        zip64: false,
    };
    // Encrypted (flag bit 0), anywhere before the export.
    let mut zip = zip_of(&[("a.gpx", b"x", plain), ("export.xml", FIXTURE, plain)]);
    zip[6] |= 1;
    let refused = read(&zip).expect_err("encrypted");
    assert_eq!(refused, ZipError::Encrypted("a.gpx".into()));
    assert!(refused.to_string().contains("without a password"));

    // The export compressed with BZIP2 (method 12): refused; an entry before it with an
    // unknown method but a known size: passed over.
    let mut zip = zip_of(&[("a.gpx", b"xyz", plain), ("export.xml", FIXTURE, plain)]);
    zip[8] = 12;
    assert_eq!(read(&zip).expect("the export is deflated"), FIXTURE);
    let export_at = zip
        .windows(4)
        .rposition(|w| w == b"PK\x03\x04")
        .expect("export");
    zip[export_at + 8] = 12;
    let refused = read(&zip).expect_err("bzip2");
    assert!(refused.to_string().contains("BZIP2"), "{refused}");

    // A stored entry with its size only in its descriptor, before the export.
    let mut zip = zip_of(&[("a.csv", b"1,2,3", plain), ("export.xml", FIXTURE, plain)]);
    zip[8] = 0; // stored
    zip[6] |= 1 << 3; // the sizes follow
    zip[18..26].fill(0);
    assert_eq!(read(&zip), Err(ZipError::UnknownSize("a.csv".into())));

    // No export.xml: only the clinical document and a route.
    let zip = zip_of(&[
        (
            "apple_health_export/export_cda.xml",
            write::CDA,
            Options::IOS,
        ),
        (
            "apple_health_export/workout-routes/r.gpx",
            write::GPX,
            Options::IOS,
        ),
    ]);
    let refused = read(&zip).expect_err("no export");
    assert_eq!(refused, ZipError::NoExport);
    assert!(refused.to_string().contains("no export.xml"));

    // Not a zip at all, or damaged between entries.
    assert!(matches!(read(b"<HealthData/>"), Err(ZipError::NotZip(_))));
    let mut zip = zip_of(&[("a.gpx", b"x", plain), ("export.xml", FIXTURE, plain)]);
    let export_at = zip
        .windows(4)
        .rposition(|w| w == b"PK\x03\x04")
        .expect("export");
    zip[export_at + 2] = b'X';
    assert!(matches!(read(&zip), Err(ZipError::Damaged(_))));

    // Deflate data that is not deflate.
    let mut zip = zip_of(&[("export.xml", FIXTURE, Options::IOS)]);
    let data = 30 + "export.xml".len();
    zip[data] = 0xff; // a reserved block type
    assert!(matches!(read(&zip), Err(ZipError::Damaged(_))));
}

#[test]
fn a_decompression_bomb_is_refused_by_ratio_and_by_size() {
    // 8 MiB of spaces inside <HealthData> (valid XML) deflate about 1,000:1.
    let mut xml = b"<HealthData>".to_vec();
    xml.resize(8 << 20, b' ');
    xml.extend_from_slice(b"</HealthData>");
    let zip = zip_of(&[("apple_health_export/export.xml", &xml, Options::IOS)]);
    assert!(zip.len() < xml.len() / 500, "{} bytes", zip.len());
    let ratio = Limits {
        max_ratio: 100,
        ratio_grace: 1 << 20,
        max_export: u64::MAX,
    };
    let refused = read_with(&zip, &[65_536], ratio).expect_err("a bomb");
    assert_eq!(refused, ZipError::Bomb(100));
    assert!(refused.to_string().contains("decompression bomb"));
    // The same through an entry passed over before the export.
    let zip2 = zip_of(&[
        (
            "apple_health_export/workout-routes/x.gpx",
            &xml,
            Options::IOS,
        ),
        ("apple_health_export/export.xml", FIXTURE, Options::IOS),
    ]);
    assert_eq!(read_with(&zip2, &[65_536], ratio), Err(ZipError::Bomb(100)));
    // Below the grace it is read.
    let generous = Limits {
        ratio_grace: 16 << 20,
        ..ratio
    };
    assert_eq!(
        read_with(&zip, &[65_536], generous).map(|b| b.len()),
        Ok(xml.len())
    );
    // Larger than the largest export, by the header's size or as it inflates.
    let small = Limits {
        max_export: 1 << 20,
        ..generous
    };
    assert_eq!(
        read_with(&zip, &[65_536], small),
        Err(ZipError::TooLarge(1 << 20))
    );
    let declared = zip_of(&[(
        "export.xml",
        &xml,
        options(Method::Deflated(6), Sizes::Header, true),
    )]);
    assert_eq!(
        read_with(&declared, &[100], small),
        Err(ZipError::TooLarge(1 << 20))
    );
    // The real limits: a real export (the synthetic one) is far from them.
    let real = crate::synthetic::export(3, 1);
    let zip = zip_of(&[("export.xml", &real, Options::IOS)]);
    let ratio = real.len() as u64 / zip.len() as u64;
    assert!(ratio * 4 < LIMITS.max_ratio, "{ratio}:1");
}

/// Through [`crate::Upload`], as the component reads an upload.
mod upload {
    use mindflow_adapter_kit::model::{Batch, Error};

    use super::super::write::{self, Options, ZipWriter};
    use super::FIXTURE;
    use crate::Upload;
    use crate::health::Stats;

    fn upload(name: &str, bytes: &[u8], size: usize) -> Result<(Batch, Stats, usize), Error> {
        let mut upload = Upload::new(name);
        for chunk in bytes.chunks(size.max(1)) {
            upload.write(chunk)?;
        }
        let batch = upload.finish()?;
        Ok((
            batch,
            upload.stats().expect("finished"),
            upload.peak_carry(),
        ))
    }

    #[test]
    fn a_zipped_export_reads_as_the_bare_xml_whatever_its_name_and_chunks() {
        for xml in [FIXTURE.to_vec(), crate::synthetic::export(4, 9)] {
            let (batch, stats, _) = upload("export.xml", &xml, xml.len()).expect("bare");
            let zip = write::ios_zip(&xml).expect("zip");
            for name in [
                "export.zip",
                "export.xml",
                "EXPORT.ZIP",
                "upload.bin",
                "samples.json",
            ] {
                for size in [1, 2, 3, 7, 61, 4096, 256 * 1024] {
                    if size < 61 && xml.len() > FIXTURE.len() {
                        continue; // (the fixture covers the small chunks)
                    }
                    let (b, s, carry) = upload(name, &zip, size).expect("zipped");
                    assert_eq!((&b, s), (&batch, stats), "{name}, chunks of {size}");
                    assert!(carry <= crate::xml::MAX_ITEM);
                }
            }
        }
    }

    #[test]
    fn a_bad_zip_is_refused_with_a_message_a_person_understands() {
        let refusal = |name: &str, bytes: &[u8]| match upload(name, bytes, 1000) {
            Err(Error::InvalidInput(message)) => message,
            other => panic!("{name}: {other:?}"),
        };
        let zip = write::ios_zip(FIXTURE).expect("zip");
        let message = refusal("export.zip", &zip[..zip.len() / 2]);
        assert!(
            message.contains("export.zip") && message.contains("cut short"),
            "{message}"
        );
        let mut no_export = ZipWriter::new(Vec::new());
        no_export
            .add(
                "apple_health_export/export_cda.xml",
                write::CDA,
                Options::IOS,
            )
            .expect("zip");
        let message = refusal("export.zip", &no_export.finish().expect("zip"));
        assert!(message.contains("no export.xml"), "{message}");
        // Shorter than a signature; not a zip though named one; an unknown name.
        assert!(refusal("export.zip", b"PK").contains("not a zip file"));
        assert!(refusal("export.zip", FIXTURE).contains("not a zip file"));
        assert!(refusal("export.tar", FIXTURE).contains("export.zip, export.xml or samples.json"));
        // The export inside is not an export.
        let zip = write::ios_zip(b"<?xml version=\"1.0\"?><ClinicalDocument/>").expect("zip");
        assert!(refusal("export.zip", &zip).contains("not <HealthData>"));
    }

    #[test]
    fn a_bomb_is_refused_at_the_real_limits() {
        // 80 MiB of spaces inside <HealthData>: valid XML, about 80 KB zipped.
        let mut zip = ZipWriter::new(Vec::new());
        zip.start(
            "apple_health_export/export.xml",
            Options {
                method: write::Method::Deflated(1),
                ..Options::IOS
            },
        )
        .expect("zip");
        std::io::Write::write_all(&mut zip, b"<HealthData>").expect("zip");
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..80 {
            std::io::Write::write_all(&mut zip, &spaces).expect("zip");
        }
        std::io::Write::write_all(&mut zip, b"</HealthData>").expect("zip");
        zip.finish_entry().expect("zip");
        let zip = zip.finish().expect("zip");
        assert!(zip.len() < 1 << 20, "{} bytes", zip.len());
        let Err(Error::InvalidInput(message)) = upload("export.zip", &zip, 256 * 1024) else {
            panic!("a bomb read");
        };
        assert!(message.contains("decompression bomb"), "{message}");
    }
}
