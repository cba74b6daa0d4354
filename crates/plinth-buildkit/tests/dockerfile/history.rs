//! What the suite compares of the image history: each entry's `created_by`, `comment` and
//! `empty_layer`, in order (not `created`: BuildKit stamps the build's time, plinth its
//! reproducible one), the base image's entries first.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// One entry as the suite prints it: `L` (with a layer) or `E` (`empty_layer`), the
/// `created_by` and the comment.
pub fn entries(config: &Value) -> Vec<String> {
    config["history"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|h| {
                    format!(
                        "{} {} #{}",
                        if h["empty_layer"].as_bool().unwrap_or(false) {
                            "E"
                        } else {
                            "L"
                        },
                        h["created_by"].as_str().unwrap_or("<none>"),
                        h["comment"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The config of an image docker holds, read from `docker save` (`docker image inspect` has
/// no history).
pub fn docker_config(docker: &Path, image: &str, scratch: &Path) -> Result<Value, String> {
    let out = Command::new(docker)
        .args(["save", "-o"])
        .arg(scratch)
        .arg(image)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "docker save {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let read = |name: &str| -> Result<Vec<u8>, String> {
        let mut archive =
            tar::Archive::new(std::fs::File::open(scratch).map_err(|e| e.to_string())?);
        for entry in archive.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            if entry.path().map_err(|e| e.to_string())?.to_string_lossy() == name {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| e.to_string())?;
                return Ok(bytes);
            }
        }
        Err(format!("`{name}` is not in docker's archive of {image}"))
    };
    let manifest: Value =
        serde_json::from_slice(&read("manifest.json")?).map_err(|e| e.to_string())?;
    let config = manifest[0]["Config"]
        .as_str()
        .ok_or("docker's archive names no config")?;
    let config = serde_json::from_slice(&read(config)?).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(scratch);
    config
}

/// The two histories side by side where they differ (`!` marks a differing line), or nothing
/// when they are the same.
pub fn differences(want: &[String], got: &[String]) -> Option<String> {
    if want == got {
        return None;
    }
    let mut out = vec![format!(
        "  history differs ({} entries from BuildKit, {} from plinth):",
        want.len(),
        got.len()
    )];
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i), got.get(i));
        if w == g {
            out.push(format!("      {i:>2} {}", w.map_or("", String::as_str)));
        } else {
            out.push(format!(
                "    ! {i:>2} BuildKit {}\n    ! {i:>2} plinth   {}",
                w.map_or("(none)", String::as_str),
                g.map_or("(none)", String::as_str)
            ));
        }
    }
    Some(out.join("\n"))
}

/// The entries the cases BuildKit here cannot build must end with, after the root's
/// (`buildkit.dockerfile.v0` comments left out), by case name: what BuildKit's current
/// frontend writes for them (`dockerfile2llb`: heredoc RUN runs the body under the shell,
/// heredoc COPY sources read `<<NAME`).
pub const EXPECTED: &[(&str, &[&str])] = &[];

/// The entries of `got` after the root's, checked against a case's expected ones.
pub fn expected_differences(name: &str, root_entries: usize, got: &[String]) -> Option<String> {
    let (_, want) = EXPECTED.iter().find(|(n, _)| *n == name)?;
    let want: Vec<String> = want
        .iter()
        .map(|w| format!("{w} #buildkit.dockerfile.v0"))
        .collect();
    differences(&want, got.get(root_entries..).unwrap_or_default())
}
