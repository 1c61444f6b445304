//! Paths of the Maven 2 layout: `{group as folders}/{artifactId}/{version}/{file}`, checksum
//! files beside every file, and `maven-metadata.xml` at the group, artifact and SNAPSHOT
//! version levels. Anything that could leave its folder or is not a coordinate is refused.

use std::sync::LazyLock;

use regex::Regex;

pub const CHECKSUMS: [Checksum; 4] = [
    Checksum::Md5,
    Checksum::Sha1,
    Checksum::Sha256,
    Checksum::Sha512,
];
pub const METADATA: &str = "maven-metadata.xml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Checksum {
    pub fn extension(self) -> &'static str {
        match self {
            Checksum::Md5 => "md5",
            Checksum::Sha1 => "sha1",
            Checksum::Sha256 => "sha256",
            Checksum::Sha512 => "sha512",
        }
    }

    /// Hex digest length.
    pub fn hex_len(self) -> usize {
        match self {
            Checksum::Md5 => 32,
            Checksum::Sha1 => 40,
            Checksum::Sha256 => 64,
            Checksum::Sha512 => 128,
        }
    }

    fn of_name(name: &str) -> Option<(Checksum, &str)> {
        CHECKSUMS.iter().find_map(|c| {
            name.strip_suffix(c.extension())
                .and_then(|rest| rest.strip_suffix('.'))
                .map(|target| (*c, target))
        })
    }
}

/// A parsed request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MavenPath {
    /// A folder (empty for the repository root), for browsing.
    Folder(Vec<String>),
    /// `maven-metadata.xml` under these folders (which level it is depends on what exists).
    Metadata {
        folders: Vec<String>,
        checksum: Option<Checksum>,
    },
    /// A file of a version.
    File {
        coordinates: Coordinates,
        checksum: Option<Checksum>,
    },
}

/// An artifact file's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinates {
    pub group_id: String,
    pub artifact_id: String,
    pub version: String,
    /// The file name (without a checksum extension).
    pub file: String,
    pub classifier: Option<String>,
    pub extension: String,
    /// For SNAPSHOT files deployed with a timestamp: (`20261123.101500`, build number).
    pub snapshot_build: Option<(String, u32)>,
}

impl Coordinates {
    /// `groupId:artifactId`, the package name.
    pub fn package(&self) -> String {
        format!("{}:{}", self.group_id, self.artifact_id)
    }
}

pub fn is_snapshot(version: &str) -> bool {
    version.ends_with("-SNAPSHOT")
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPath(pub String);

fn bad(message: impl Into<String>) -> BadPath {
    BadPath(message.into())
}

static SEGMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.+~-]*$").expect("segment pattern"));
static TIMESTAMPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^-(\d{8}\.\d{6})-(\d+)").expect("timestamp pattern"));

/// Check a path as it arrived (still percent-encoded) and as decoded, then parse it.
pub fn parse(raw: &str, decoded: &str) -> Result<MavenPath, BadPath> {
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains("%00")
    {
        return Err(bad(
            "percent-encoded dots, slashes or backslashes are not allowed in paths",
        ));
    }
    if decoded.contains('\\') {
        return Err(bad("backslashes are not allowed in paths"));
    }
    if decoded.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    let folder = decoded.is_empty() || decoded.ends_with('/');
    let trimmed = decoded.strip_suffix('/').unwrap_or(decoded);
    let segments: Vec<String> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').map(str::to_owned).collect()
    };
    for segment in &segments {
        if segment.is_empty() {
            return Err(bad("empty path segments are not allowed"));
        }
        if segment == "." || segment == ".." {
            return Err(bad("\".\" and \"..\" are not allowed in paths"));
        }
        if segment.chars().any(|c| c.is_control()) {
            return Err(bad("control characters are not allowed in paths"));
        }
        if !SEGMENT.is_match(segment) {
            return Err(bad(format!(
                "\"{segment}\" is not a valid path segment (letters, digits and . _ - + ~)"
            )));
        }
    }
    if folder {
        return Ok(MavenPath::Folder(segments));
    }
    let (name, folders) = segments
        .split_last()
        .ok_or_else(|| bad("name a file or a folder"))?;
    let (checksum, target) = match Checksum::of_name(name) {
        Some((checksum, target)) => (Some(checksum), target.to_owned()),
        None => (None, name.clone()),
    };
    if target == METADATA {
        if folders.is_empty() {
            return Err(bad(
                "maven-metadata.xml belongs in a group or artifact folder",
            ));
        }
        return Ok(MavenPath::Metadata {
            folders: folders.to_vec(),
            checksum,
        });
    }
    if folders.len() < 3 {
        return Err(bad(format!(
            "\"{decoded}\" is not a Maven path: expected group/artifactId/version/file"
        )));
    }
    let version = folders[folders.len() - 1].clone();
    let artifact_id = folders[folders.len() - 2].clone();
    let group_id = folders[..folders.len() - 2].join(".");
    let coordinates = parse_file(group_id, artifact_id, version, target)?;
    Ok(MavenPath::File {
        coordinates,
        checksum,
    })
}

fn parse_file(
    group_id: String,
    artifact_id: String,
    version: String,
    file: String,
) -> Result<Coordinates, BadPath> {
    let not_coordinate = || {
        bad(format!(
            "\"{file}\" is not a file of {group_id}:{artifact_id}:{version}: expected \
             {artifact_id}-{version}[-classifier].extension"
        ))
    };
    let rest = file
        .strip_prefix(&artifact_id)
        .and_then(|r| r.strip_prefix('-'))
        .ok_or_else(not_coordinate)?;
    let (rest, snapshot_build) = match rest.strip_prefix(version.as_str()) {
        Some(after) => (after, None),
        None if is_snapshot(&version) => {
            let base = version.trim_end_matches("-SNAPSHOT");
            let after = rest.strip_prefix(base).ok_or_else(not_coordinate)?;
            let captures = TIMESTAMPED.captures(after).ok_or_else(not_coordinate)?;
            let build: u32 = captures[2].parse().map_err(|_| not_coordinate())?;
            let timestamp = captures[1].to_owned();
            (&after[captures[0].len()..], Some((timestamp, build)))
        }
        None => return Err(not_coordinate()),
    };
    let (classifier, extension) = if let Some(after) = rest.strip_prefix('-') {
        let (classifier, extension) = after.split_once('.').ok_or_else(not_coordinate)?;
        (Some(classifier.to_owned()), extension.to_owned())
    } else if let Some(extension) = rest.strip_prefix('.') {
        (None, extension.to_owned())
    } else {
        return Err(not_coordinate());
    };
    if !extension.starts_with(|c: char| c.is_ascii_alphabetic())
        || classifier.as_deref() == Some("")
    {
        return Err(not_coordinate());
    }
    Ok(Coordinates {
        group_id,
        artifact_id,
        version,
        file,
        classifier,
        extension,
        snapshot_build,
    })
}

/// The folders of a package (`org.example:demo` → `org/example/demo`).
pub fn package_folders(package: &str) -> Vec<String> {
    let (group, artifact) = package.split_once(':').unwrap_or((package, ""));
    group
        .split('.')
        .chain(std::iter::once(artifact))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any path: parsed or refused, never a panic; nothing parsed leaves its folder.
            #[test]
            fn any_path_is_parsed_or_refused(path in "(\\PC|/|\\.|%2[eEfF]){0,60}") {
                if let Ok(parsed) = parse(&path, &path) {
                    let text = format!("{parsed:?}");
                    prop_assert!(!text.contains("\"..\""), "{}", text);
                }
            }

            #[test]
            fn package_folders_never_panic(package in "\\PC{0,40}") {
                let _ = package_folders(&package);
                let _ = is_snapshot(&package);
            }
        }
    }

    fn file(path: &str) -> Coordinates {
        match parse(path, path) {
            Ok(MavenPath::File { coordinates, .. }) => coordinates,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_files_classifiers_and_snapshots() {
        let c = file("org/example/demo/1.0/demo-1.0.jar");
        assert_eq!(
            (
                c.group_id.as_str(),
                c.artifact_id.as_str(),
                c.version.as_str()
            ),
            ("org.example", "demo", "1.0")
        );
        assert_eq!((c.classifier, c.extension.as_str()), (None, "jar"));
        let c = file("org/example/demo/1.0/demo-1.0-sources.jar");
        assert_eq!(c.classifier.as_deref(), Some("sources"));
        let c = file("org/example/demo/1.0/demo-1.0.tar.gz");
        assert_eq!(c.extension, "tar.gz");
        let c = file("org/example/demo/1.0/demo-1.0.jar.asc");
        assert_eq!(c.extension, "jar.asc");
        let c = file("org/example/demo/1.0-SNAPSHOT/demo-1.0-20261123.101500-3-tests.jar");
        assert_eq!(c.snapshot_build, Some(("20261123.101500".into(), 3)));
        assert_eq!(c.classifier.as_deref(), Some("tests"));
        assert_eq!(c.package(), "org.example:demo");
        match parse(
            "org/example/demo/1.0/demo-1.0.jar.sha1",
            "org/example/demo/1.0/demo-1.0.jar.sha1",
        ) {
            Ok(MavenPath::File {
                checksum: Some(Checksum::Sha1),
                coordinates,
            }) => {
                assert_eq!(coordinates.file, "demo-1.0.jar")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(
                "org/example/demo/maven-metadata.xml.md5",
                "org/example/demo/maven-metadata.xml.md5"
            ),
            Ok(MavenPath::Metadata {
                folders: vec!["org".into(), "example".into(), "demo".into()],
                checksum: Some(Checksum::Md5)
            })
        );
        assert_eq!(
            parse("org/example/", "org/example/"),
            Ok(MavenPath::Folder(vec!["org".into(), "example".into()]))
        );
    }

    #[test]
    fn refuses_unsafe_and_invalid_paths() {
        for (raw, decoded) in [
            ("org/../../etc/passwd", "org/../../etc/passwd"),
            ("org/%2e%2e/x/1/x-1.jar", "org/../x/1/x-1.jar"),
            ("org/a%2Fb/x/1/x-1.jar", "org/a/b/x/1/x-1.jar"),
            ("org\\x\\1\\x-1.jar", "org\\x\\1\\x-1.jar"),
            ("/etc/passwd", "/etc/passwd"),
            ("org//x/1/x-1.jar", "org//x/1/x-1.jar"),
            ("org/x/1/x-1.jar%00", "org/x/1/x-1.jar\0"),
            ("org/x\u{7}/1/x-1.jar", "org/x\u{7}/1/x-1.jar"),
            ("org/x/1/other-1.jar", "org/x/1/other-1.jar"),
            ("org/x/1/x-2.jar", "org/x/1/x-2.jar"),
            ("org/x/1/x-1", "org/x/1/x-1"),
            ("x/1/x-1.jar", "x/1/x-1.jar"),
            (
                "org/x/1.0-SNAPSHOT/x-1.0-nonsense.jar",
                "org/x/1.0-SNAPSHOT/x-1.0-nonsense.jar",
            ),
            ("org/.hidden/1/x-1.jar", "org/.hidden/1/x-1.jar"),
            ("maven-metadata.xml", "maven-metadata.xml"),
            ("org/x/1.0/x-1.0.1.jar", "org/x/1.0/x-1.0.1.jar"),
        ] {
            assert!(parse(raw, decoded).is_err(), "{raw:?} should be refused");
        }
    }
}
