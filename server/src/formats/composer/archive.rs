//! Reading an uploaded Composer package archive: a zip whose root, or single top-level folder,
//! holds composer.json. Everything is checked before anything is stored: entry names
//! (no `..`, no absolute or drive paths, no backslashes), declared and real sizes,
//! compression ratio (zip bombs), entry count.

use std::io::{Read, Seek};
use std::path::Path;

use serde_json::{Map, Value};

/// Bounds on what an archive may expand to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    /// Sum of the uncompressed sizes of all entries.
    pub max_total_size: u64,
    /// Uncompressed / compressed, for entries larger than [`Limits::ratio_exempt_size`].
    pub max_ratio: u64,
    pub ratio_exempt_size: u64,
    pub max_composer_json: u64,
    pub max_readme: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 50_000,
            max_total_size: 1024 * 1024 * 1024,
            max_ratio: 200,
            ratio_exempt_size: 1024 * 1024,
            max_composer_json: 1024 * 1024,
            max_readme: 512 * 1024,
        }
    }
}

/// What a package archive holds that the server keeps.
#[derive(Debug, Clone)]
pub struct Contents {
    pub composer_json: Map<String, Value>,
    pub readme: Option<String>,
}

/// Why an archive is refused; each message says what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("the file is not a zip archive ({0})")]
    NotZip(String),
    #[error("the archive holds no composer.json at its root or in its single top-level folder")]
    NoComposerJson,
    #[error("composer.json is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("composer.json must hold a JSON object")]
    NotAnObject,
    #[error("the archive entry \"{0}\" has an unsafe path (absolute, backslash or ..)")]
    UnsafePath(String),
    #[error("the archive has more than {0} entries")]
    TooManyEntries(usize),
    #[error("the archive expands to more than {0} bytes")]
    TooLarge(u64),
    #[error("the archive entry \"{0}\" is compressed more than {1}:1 (a zip bomb?)")]
    Ratio(String, u64),
    #[error("the archive entry \"{0}\" is larger than its declared size")]
    SizeMismatch(String),
    #[error("the archive entry \"{0}\" is corrupt: {1}")]
    Corrupt(String, String),
    #[error("{0} is larger than {1} bytes")]
    FileTooLarge(&'static str, u64),
    #[error("the archive entry \"{0}\" is a symbolic link; packages may not hold links")]
    Symlink(String),
    #[error("the archive holds \"{0}\" twice")]
    Duplicate(String),
    #[error("the archive names some entries more than once")]
    DuplicateEntries,
}

fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name.chars().nth(1).is_none_or(|c| c != ':')
        && name.split('/').all(|part| part != "..")
}

/// Inspect an archive on disk (blocking: call from `spawn_blocking`).
pub fn inspect(path: &Path, limits: Limits) -> Result<Contents, ArchiveError> {
    let file = std::fs::File::open(path).map_err(|err| ArchiveError::NotZip(err.to_string()))?;
    inspect_reader(std::io::BufReader::new(file), limits)
}

/// The number of entries the archive's central directory declares (its end record), read
/// directly: the zip reader keeps one entry per name, so it cannot tell of duplicates.
/// `None` for ZIP64 archives and archives without a readable end record.
fn declared_entries<R: Read + Seek>(reader: &mut R) -> Option<u64> {
    const END_RECORD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    let length = reader.seek(std::io::SeekFrom::End(0)).ok()?;
    let tail_length = length.min(22 + 65_535);
    reader
        .seek(std::io::SeekFrom::Start(length - tail_length))
        .ok()?;
    let mut tail = vec![0u8; usize::try_from(tail_length).ok()?];
    reader.read_exact(&mut tail).ok()?;
    reader.seek(std::io::SeekFrom::Start(0)).ok()?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == END_RECORD)?;
    let total = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    (total != u16::MAX).then_some(u64::from(total))
}

pub fn inspect_reader<R: Read + Seek>(
    mut reader: R,
    limits: Limits,
) -> Result<Contents, ArchiveError> {
    let declared = declared_entries(&mut reader);
    let mut zip =
        zip::ZipArchive::new(reader).map_err(|err| ArchiveError::NotZip(err.to_string()))?;
    if declared.is_some_and(|declared| declared != zip.len() as u64) {
        return Err(ArchiveError::DuplicateEntries);
    }
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::TooManyEntries(limits.max_entries));
    }

    // Names and declared sizes first: cheap, and refuses most bad archives at once.
    let mut names = Vec::with_capacity(zip.len());
    let mut seen = std::collections::HashSet::with_capacity(zip.len());
    let mut declared_total: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|err| ArchiveError::NotZip(err.to_string()))?;
        let name = entry
            .name()
            .map_err(|err| ArchiveError::NotZip(err.to_string()))?
            .into_owned();
        if !is_safe_name(&name) || entry.enclosed_name().is_none() {
            return Err(ArchiveError::UnsafePath(name));
        }
        // A link would point an extracting client anywhere on its disk.
        if entry
            .unix_mode()
            .is_some_and(|mode| mode & 0o170000 == 0o120000)
        {
            return Err(ArchiveError::Symlink(name));
        }
        // Two entries of one name extract as whichever comes last, which differs by tool.
        if !seen.insert(name.trim_end_matches('/').to_owned()) {
            return Err(ArchiveError::Duplicate(name));
        }
        declared_total = declared_total.saturating_add(entry.size());
        if declared_total > limits.max_total_size {
            return Err(ArchiveError::TooLarge(limits.max_total_size));
        }
        if entry.size() > limits.ratio_exempt_size
            && entry.size() / entry.compressed_size().max(1) > limits.max_ratio
        {
            return Err(ArchiveError::Ratio(name, limits.max_ratio));
        }
        names.push((name, entry.is_dir()));
    }

    // Real sizes: every entry is expanded (into nothing) and must not exceed what it
    // declared; the zip reader checks each CRC on the way.
    for (index, (name, is_dir)) in names.iter().enumerate() {
        if *is_dir {
            continue;
        }
        let entry = zip
            .by_index(index)
            .map_err(|err| ArchiveError::Corrupt(name.clone(), err.to_string()))?;
        let declared = entry.size();
        let real = std::io::copy(&mut entry.take(declared + 1), &mut std::io::sink())
            .map_err(|err| ArchiveError::Corrupt(name.clone(), err.to_string()))?;
        if real > declared {
            return Err(ArchiveError::SizeMismatch(name.clone()));
        }
    }

    let root = package_root(&names).ok_or(ArchiveError::NoComposerJson)?;
    let composer_json = read_entry(
        &mut zip,
        &format!("{root}composer.json"),
        limits.max_composer_json,
        "composer.json",
    )?
    .ok_or(ArchiveError::NoComposerJson)?;
    let composer_json = match serde_json::from_slice::<Value>(&composer_json) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ArchiveError::NotAnObject),
        Err(err) => return Err(ArchiveError::InvalidJson(err.to_string())),
    };

    let readme_name = names.iter().map(|(n, _)| n).find(|n| {
        n.strip_prefix(&root).is_some_and(|rest| {
            matches!(
                rest.to_ascii_lowercase().as_str(),
                "readme.md" | "readme.markdown" | "readme" | "readme.txt"
            )
        })
    });
    let readme = match readme_name {
        Some(name) => read_entry(&mut zip, &name.clone(), limits.max_readme, "README")?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        None => None,
    };
    Ok(Contents {
        composer_json,
        readme,
    })
}

/// `""` when composer.json is at the root, `"folder/"` when the archive holds one top-level
/// folder with composer.json in it.
fn package_root(names: &[(String, bool)]) -> Option<String> {
    if names.iter().any(|(n, _)| n == "composer.json") {
        return Some(String::new());
    }
    let first = names.first()?.0.split('/').next()?.to_owned();
    let single_folder = names
        .iter()
        .all(|(n, _)| n.split('/').next() == Some(first.as_str()) && n.contains('/'));
    let root = format!("{first}/");
    (single_folder
        && names
            .iter()
            .any(|(n, _)| *n == format!("{root}composer.json")))
    .then_some(root)
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
    what: &'static str,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    let entry = match zip.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(err) => return Err(ArchiveError::Corrupt(name.to_owned(), err.to_string())),
    };
    if entry.size() > limit {
        return Err(ArchiveError::FileTooLarge(what, limit));
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| ArchiveError::Corrupt(name.to_owned(), err.to_string()))?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(body).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn inspect_bytes(bytes: Vec<u8>) -> Result<Contents, ArchiveError> {
        inspect_reader(Cursor::new(bytes), Limits::default())
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Generated archives (any entry names and contents, composer.json or not):
            /// inspected or refused, never a panic; what is accepted has a composer.json
            /// object and only safe names.
            #[test]
            fn generated_zips_are_inspected_or_refused(
                entries in proptest::collection::vec(
                    ("(\\.\\./|/|[a-z]{1,6}/)?([a-zA-Z0-9._\\-]{1,12}|composer\\.json)", proptest::collection::vec(any::<u8>(), 0..64)),
                    0..6,
                ),
                json in "\\PC{0,40}",
            ) {
                let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
                let mut names = std::collections::HashSet::new();
                let mut written = Vec::new();
                for (name, body) in &entries {
                    if names.insert(name.clone())
                        && writer.start_file(name.as_str(), SimpleFileOptions::default()).is_ok()
                    {
                        writer.write_all(body).unwrap();
                        written.push(name.clone());
                    }
                }
                if names.insert("composer.json".into())
                    && writer.start_file("composer.json", SimpleFileOptions::default()).is_ok()
                {
                    writer.write_all(json.as_bytes()).unwrap();
                }
                let bytes = writer.finish().unwrap().into_inner();
                if inspect_bytes(bytes).is_ok() {
                    prop_assert!(written.iter().all(|n| !n.starts_with('/') && !n.starts_with("../")));
                }
            }

            #[test]
            fn any_bytes_are_refused_or_inspected(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                let _ = inspect_bytes(bytes);
            }
        }
    }

    #[test]
    fn refuses_links_and_duplicate_names() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file("composer.json", SimpleFileOptions::default())
            .unwrap();
        writer.write_all(br#"{"name":"acme/a"}"#).unwrap();
        writer
            .add_symlink("src", "/etc", SimpleFileOptions::default())
            .unwrap();
        let linked = writer.finish().unwrap().into_inner();
        assert!(matches!(
            inspect_bytes(linked),
            Err(ArchiveError::Symlink(name)) if name == "src"
        ));

        // Written as two names, then one renamed in place to the other's name.
        let bytes = zip_of(&[
            ("composer.json", br#"{"name":"acme/a"}"#),
            ("src/A.php", b"<?php // one"),
            ("src/B.php", b"<?php // two"),
        ]);
        let renamed: Vec<u8> = {
            let (from, to) = (b"src/B.php", b"src/A.php");
            let mut out = bytes.clone();
            let mut i = 0;
            while i + from.len() <= out.len() {
                if &out[i..i + from.len()] == from {
                    out[i..i + from.len()].copy_from_slice(to);
                }
                i += 1;
            }
            out
        };
        // Refused by the zip reader itself or by the check here, never accepted.
        match inspect_bytes(renamed) {
            Err(ArchiveError::Duplicate(_) | ArchiveError::DuplicateEntries) => {}
            Err(ArchiveError::NotZip(why)) => assert!(why.contains("uplicate"), "{why}"),
            other => panic!("a duplicate name was not refused: {other:?}"),
        }
    }

    #[test]
    fn reads_composer_json_at_root_or_in_one_folder() {
        let root = inspect_bytes(zip_of(&[
            ("composer.json", br#"{"name":"acme/a"}"#),
            ("README.md", b"# A"),
        ]))
        .unwrap();
        assert_eq!(root.composer_json["name"], "acme/a");
        assert_eq!(root.readme.as_deref(), Some("# A"));

        let folder = inspect_bytes(zip_of(&[
            ("a-1.0/composer.json", br#"{"name":"acme/a"}"#),
            ("a-1.0/src/A.php", b"<?php"),
        ]))
        .unwrap();
        assert_eq!(folder.composer_json["name"], "acme/a");
        assert_eq!(folder.readme, None);
    }

    #[test]
    fn refuses_bad_archives() {
        assert!(matches!(
            inspect_bytes(b"not a zip".to_vec()),
            Err(ArchiveError::NotZip(_))
        ));
        assert_eq!(
            inspect_bytes(zip_of(&[("src/A.php", b"<?php")])).unwrap_err(),
            ArchiveError::NoComposerJson
        );
        assert_eq!(
            inspect_bytes(zip_of(&[
                ("a/composer.json", b"{}"),
                ("b/composer.json", b"{}")
            ]))
            .unwrap_err(),
            ArchiveError::NoComposerJson
        );
        assert!(matches!(
            inspect_bytes(zip_of(&[("composer.json", b"{nope")])),
            Err(ArchiveError::InvalidJson(_))
        ));
        assert_eq!(
            inspect_bytes(zip_of(&[("composer.json", b"[1]")])).unwrap_err(),
            ArchiveError::NotAnObject
        );
        for name in [
            "../evil.php",
            "a/../../evil",
            "/etc/passwd",
            "a\\..\\b",
            "C:/x",
        ] {
            assert!(
                matches!(
                    inspect_bytes(zip_of(&[("composer.json", b"{}"), (name, b"x")])),
                    Err(ArchiveError::UnsafePath(_))
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn refuses_zip_bombs() {
        let zeros = vec![0u8; 8 * 1024 * 1024];
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflated =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("composer.json", deflated).unwrap();
        writer.write_all(b"{}").unwrap();
        writer.start_file("zeros.bin", deflated).unwrap();
        writer.write_all(&zeros).unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        assert!(matches!(
            inspect_bytes(bytes.clone()),
            Err(ArchiveError::Ratio(_, _))
        ));
        let small = Limits {
            max_total_size: 1024,
            ..Limits::default()
        };
        assert!(matches!(
            inspect_reader(Cursor::new(bytes), small),
            Err(ArchiveError::TooLarge(_))
        ));
    }
}
