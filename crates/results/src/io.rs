//! Results files on disk: the one reader (which checks the schema version)
//! and the one writer (atomic), shared by `ipcbench`, xtask and the tests.

use std::path::{Path, PathBuf};

use crate::schema::{READABLE_VERSIONS, Results};

/// Why a results file could not be read or written; every variant names the
/// file.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not JSON of the results schema.
    #[error("{} is not an ipcbench results file: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser met.
        source: serde_json::Error,
    },
    /// The file is of a schema version this code does not read.
    #[error(
        "{} has schema version {found}; this ipcbench reads versions {} to {}",
        path.display(), READABLE_VERSIONS.start(), READABLE_VERSIONS.end()
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version it declares.
        found: u32,
    },
    /// The file (or its temporary sibling) could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The results could not be serialised (a non-string map key, never
    /// expected of this schema).
    #[error("serialising results for {}: {source}", path.display())]
    Serialise {
        /// The file.
        path: PathBuf,
        /// The serialiser's error.
        source: serde_json::Error,
    },
}

impl Results {
    /// Reads a results file of any version in [`READABLE_VERSIONS`], and
    /// fills in the intervals files written before they existed.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
            path: path.to_owned(),
            source,
        })?;
        // The version first, so that a file of a future version is refused
        // for its version, not for whatever field it changed.
        #[derive(serde::Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let parse = |source| ResultsError::Parse {
            path: path.to_owned(),
            source,
        };
        let v: Version = serde_json::from_str(&text).map_err(parse)?;
        if !READABLE_VERSIONS.contains(&v.schema_version) {
            return Err(ResultsError::Version {
                path: path.to_owned(),
                found: v.schema_version,
            });
        }
        let mut r: Results = serde_json::from_str(&text).map_err(parse)?;
        crate::bootstrap::complete_intervals(&mut r);
        Ok(r)
    }

    /// Writes the results as pretty JSON, atomically (see [`write_atomic`]).
    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        let json =
            serde_json::to_string_pretty(self).map_err(|source| ResultsError::Serialise {
                path: path.to_owned(),
                source,
            })?;
        write_atomic(path, json.as_bytes())
    }
}

/// Writes a file so that readers see either the old or the new content, never
/// a half-written one: a temporary file in the same directory (a rename is
/// atomic only within one file system), then a rename over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| ResultsError::Write { path, source }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let name = path.file_name().ok_or_else(|| ResultsError::Write {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        ),
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        // Best effort: a partial temporary file is litter, not data.
        let _ = std::fs::remove_file(&tmp);
        return Err(err(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(path)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Results {
        Results {
            schema_version: crate::schema::SCHEMA_VERSION,
            environment: crate::Environment::default(),
            config: crate::RunConfig {
                // As a current run records it: read leaves it alone.
                interval_method: crate::bootstrap::method(),
                ..crate::RunConfig::default()
            },
            floors: Vec::new(),
            cells: Vec::new(),
            targets: Vec::new(),
            transports: Vec::new(),
        }
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("report-io-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    #[test]
    fn write_then_read_round_trips_and_leaves_no_temporary_file() {
        let d = scratch("roundtrip");
        let path = d.join("results.json");
        let mut r = sample();
        r.environment.tool = "first".into();
        r.write(&path).expect("write");
        r.environment.tool = "second".into();
        r.write(&path).expect("overwrite");
        assert_eq!(Results::read(&path).expect("read"), r);
        let names: Vec<_> = std::fs::read_dir(&d)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["results.json"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn read_refuses_an_unknown_version_naming_file_and_versions() {
        let d = scratch("version");
        let path = d.join("future.json");
        let mut v = serde_json::to_value(sample()).expect("value");
        v["schema_version"] = 99.into();
        // A future version may change anything else too.
        v["cells"] = "not a list".into();
        std::fs::write(&path, v.to_string()).expect("write");
        let e = Results::read(&path).expect_err("version 99").to_string();
        assert!(e.contains("future.json") && e.contains("version 99"), "{e}");
        assert!(e.contains("versions 1 to 2"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn read_takes_version_1_files_and_refuses_unknown_names_in_any() {
        let d = scratch("v1");
        let path = d.join("old.json");
        let mut v = serde_json::to_value(sample()).expect("value");
        v["schema_version"] = 1.into();
        v["config"]["placements"] = serde_json::json!(["split", "same"]);
        std::fs::write(&path, v.to_string()).expect("write");
        let r = Results::read(&path).expect("version 1 reads");
        assert_eq!(r.schema_version, 1);
        assert_eq!(
            r.config.placements,
            [crate::Placement::Split, crate::Placement::Same]
        );
        v["config"]["placements"] = serde_json::json!(["split", "both"]);
        std::fs::write(&path, v.to_string()).expect("write");
        let e = Results::read(&path)
            .expect_err("unknown placement")
            .to_string();
        assert!(e.contains("old.json") && e.contains("\"both\""), "{e}");
        assert!(e.contains("split, same, none"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn read_names_a_missing_or_malformed_file() {
        let d = scratch("malformed");
        let missing = d.join("missing.json");
        let e = Results::read(&missing).expect_err("missing").to_string();
        assert!(e.contains("missing.json"), "{e}");
        let bad = d.join("bad.json");
        std::fs::write(&bad, "{\"schema_version\": 2}").expect("write");
        let e = Results::read(&bad).expect_err("malformed").to_string();
        assert!(
            e.contains("bad.json") && e.contains("not an ipcbench results file"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_names_the_file_and_leaves_no_temporary_file() {
        let d = scratch("failed");
        // A directory where the file should be: the rename fails.
        let path = d.join("results.json");
        std::fs::create_dir_all(path.join("occupied")).expect("dir");
        let e = sample()
            .write(&path)
            .expect_err("target is a directory")
            .to_string();
        assert!(e.contains("results.json"), "{e}");
        let names: Vec<_> = std::fs::read_dir(&d)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["results.json"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
