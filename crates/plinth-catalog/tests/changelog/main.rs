//! Changelog JSON: byte parity with Python's `json.dumps`, both forms read, concurrent writers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use plinth_catalog::{Changelog, ChangelogEntry, Version, changelog_path};

fn entry(v: &str, text: &str, example: &str) -> ChangelogEntry {
    ChangelogEntry::new(v.parse().unwrap(), text, example)
}

/// Runs `json.dumps(json.loads(stdin), **kwargs)` in python3 and returns its exact output.
fn python_dumps(input_json: &str, kwargs: &str) -> String {
    let script = format!(
        "import json,sys; print(json.dumps(json.loads(sys.stdin.read()){kwargs}), end=\"\")"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed to check byte parity with the original writer");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input_json.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The entries as JSON with raw (unescaped) non-ASCII, so Python has to do the escaping itself.
fn raw_json(c: &Changelog) -> String {
    serde_json::to_string(c.entries()).unwrap()
}

#[test]
fn golden_compact_form_of_the_original_writer() {
    let c = Changelog::new([entry("1.0.0", "first version", "Dockerfile example")]);
    let golden = r#"[{"version": "1.0.0", "changelog_entry": "first version", "dockerfile_example": "Dockerfile example"}]"#;
    assert_eq!(c.to_compact_json(), golden);
    assert_eq!(python_dumps(&raw_json(&c), ""), golden);
}

fn tricky() -> Changelog {
    Changelog::new([
        entry("1.0.0", "first version", "Dockerfile example"),
        entry(
            "1.1.0",
            "Café ‘quoted’ — 中文 ß",
            "FROM docker.io/python:3.9@sha256:00\nRUN echo \"a\\b\"\tc",
        ),
        entry(
            "2.0.0-rc.1",
            "astral 🐍 𝄞 and a/slash",
            "ENV X=\u{7f}\u{1}\u{8}\u{c}\r",
        ),
        entry("2.0.0", " Make the java base image non root", ""),
    ])
}

#[test]
fn compact_writer_matches_python_json_dumps_on_non_ascii_and_astral_text() {
    let c = tricky();
    let ours = c.to_compact_json();
    assert_eq!(ours, python_dumps(&raw_json(&c), ""));
    assert!(
        ours.contains(r"\ud83d\udc0d") && ours.contains(r"Caf\u00e9") && ours.contains("a/slash"),
        "{ours}"
    );
    assert!(ours.is_ascii() && !ours.ends_with('\n'));
}

#[test]
fn pretty_writer_matches_python_json_dumps_indent_2_plus_newline() {
    let c = tricky();
    let ours = c.to_pretty_json();
    assert_eq!(ours, python_dumps(&raw_json(&c), ", indent=2") + "\n");
    assert!(
        ours.starts_with("[\n  {\n    \"version\": \"2.0.0\",\n    \"changelog_entry\": \" Make"),
        "{ours}"
    );
    assert_eq!(
        Changelog::default().to_pretty_json(),
        python_dumps("[]", ", indent=2") + "\n"
    );
}

#[test]
fn both_forms_read_to_the_same_changelog() {
    let c = tricky();
    let origin = Path::new("mem.json");
    let from_compact = Changelog::parse(&c.to_compact_json(), origin).unwrap();
    let from_pretty = Changelog::parse(&c.to_pretty_json(), origin).unwrap();
    let from_raw_unicode =
        Changelog::parse(&serde_json::to_string_pretty(c.entries()).unwrap(), origin).unwrap();
    assert_eq!(from_compact, c);
    assert_eq!(from_pretty, c);
    assert_eq!(from_raw_unicode, c);
    assert_eq!(
        from_compact
            .get(&"2.0.0-rc.1".parse().unwrap())
            .unwrap()
            .changelog_entry(),
        "astral 🐍 𝄞 and a/slash"
    );
}

#[test]
fn unsorted_file_with_duplicates_loads_sorted_and_last_wins() {
    let text = r#"[{"version": "1.0.0", "changelog_entry": "old", "dockerfile_example": ""}, {"version": "3.0.0-rc.1", "changelog_entry": "rc", "dockerfile_example": ""}, {"version": "1.0.0", "changelog_entry": "new", "dockerfile_example": ""}]"#;
    let c = Changelog::parse(text, Path::new("x.json")).unwrap();
    let got: Vec<(String, &str)> = c
        .entries()
        .iter()
        .map(|e| (e.version().to_string(), e.changelog_entry()))
        .collect();
    assert_eq!(got, [("3.0.0-rc.1".into(), "rc"), ("1.0.0".into(), "new")]);
}

#[test]
fn write_is_the_pretty_form_and_reload_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = changelog_path(dir.path(), "airbyte/python-connector-base");
    tricky().write(&path).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        tricky().to_pretty_json()
    );
    assert_eq!(Changelog::load(&path).unwrap(), tricky());
    // Only the changelog and the ignored lock directory are left behind, no temp files.
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".locks", "airbyte_python_connector_base.json"]);
    let locks = path.parent().unwrap().join(".locks");
    assert!(
        locks
            .join("airbyte_python_connector_base.json.lock")
            .is_file()
    );
    assert!(locks.join(".gitignore").is_file());
}

#[test]
fn failed_update_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    tricky().write(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let r: plinth_catalog::Result<()> = Changelog::update(&path, |c| {
        c.insert(entry("9.0.0", "x", "y"));
        Err(plinth_catalog::Error::VersionExists {
            version: Version::ZERO,
        })
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

const PER_WRITER: u64 = 15;

fn append_versions(path: &Path, major: u64) {
    for patch in 0..PER_WRITER {
        Changelog::update(path, |c| {
            c.insert(entry(
                &format!("{major}.0.{patch}"),
                &format!("writer {major}"),
                "FROM scratch\nRUN true",
            ));
            Ok(())
        })
        .unwrap();
    }
}

fn assert_all_versions(path: &Path, majors: &[u64]) {
    let c = Changelog::load(path).unwrap();
    assert_eq!(
        c.len() as u64,
        PER_WRITER * majors.len() as u64,
        "an update was lost"
    );
    for &major in majors {
        for patch in 0..PER_WRITER {
            assert!(
                c.get(&Version::new(major, 0, patch)).is_some(),
                "{major}.0.{patch} missing"
            );
        }
    }
}

/// Reads the file in a loop while writers run: a reader must never see a torn file.
fn spawn_reader(path: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut reads = 0;
        while !stop.load(Ordering::Relaxed) {
            Changelog::load(&path).expect("a reader saw a partially written changelog");
            reads += 1;
        }
        reads
    })
}

#[test]
fn concurrent_threads_never_lose_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = changelog_path(dir.path(), "example-repo");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(path.clone(), stop.clone());
    let writers: Vec<_> = [1u64, 2, 3]
        .into_iter()
        .map(|major| {
            let path = path.clone();
            std::thread::spawn(move || append_versions(&path, major))
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_all_versions(&path, &[1, 2, 3]);
}

const CHILD_PATH_ENV: &str = "PLINTH_CATALOG_TEST_CHANGELOG_PATH";
const CHILD_MAJOR_ENV: &str = "PLINTH_CATALOG_TEST_CHANGELOG_MAJOR";

/// The body of the child processes of `concurrent_processes_never_lose_an_update`; a no-op when
/// run directly.
#[test]
fn child_appender() {
    let (Ok(path), Ok(major)) = (
        std::env::var(CHILD_PATH_ENV),
        std::env::var(CHILD_MAJOR_ENV),
    ) else {
        return;
    };
    append_versions(Path::new(&path), major.parse().unwrap());
}

#[test]
fn concurrent_processes_never_lose_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = changelog_path(dir.path(), "example-repo");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = [7u64, 8]
        .into_iter()
        .map(|major| {
            Command::new(&exe)
                .args(["child_appender", "--exact", "--test-threads=1"])
                .env(CHILD_PATH_ENV, &path)
                .env(CHILD_MAJOR_ENV, major.to_string())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    assert_all_versions(&path, &[7, 8]);
}
