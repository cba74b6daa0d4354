//! How a file family's Dockerfile is read: its stages on the base image's config (as `plinth
//! build -f` reads them), and its folder as the build context a docker user expects (without
//! `family.toml`, `versions/` and what `.dockerignore` leaves out).

use std::path::Path;

use crate::fixture::text;
use crate::fixture::{Catalog, FILE_REPOSITORY as REPOSITORY};

/// Checks the image makes about its own build: the base's `PATH` extended, and the context it
/// received. They run with the family's other checks on every build and release.
const CONTEXT_CHECKS: &str = r#"schemaVersion: 2.0.0
commandTests:
  - name: base path extended
    command: sh
    args: ["-c", "echo $PATH"]
    expectedOutput: ['^/opt/team/bin:/bin:/usr/bin\n$']
fileExistenceTests:
  - name: context Dockerfile
    path: /ctx/Dockerfile
    shouldExist: true
  - name: context checks
    path: /ctx/checks/context.yaml
    shouldExist: true
  - name: context motd
    path: /ctx/motd
    shouldExist: true
  - name: no family.toml
    path: /ctx/family.toml
    shouldExist: false
  - name: no versions
    path: /ctx/versions
    shouldExist: false
  - name: no ignored notes
    path: /ctx/notes.txt
    shouldExist: false
"#;

/// The example family with `ENV PATH=/opt/team/bin:$PATH`, `COPY . /ctx`, an ignored
/// `notes.txt` and the checks above.
fn family_reading_its_base(c: &Catalog) {
    let dir = c.family_dir();
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("{dockerfile}ENV PATH=/opt/team/bin:$PATH\nCOPY . /ctx\n"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not for the image\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "notes.txt\n").unwrap();
    std::fs::write(dir.join("checks/context.yaml"), CONTEXT_CHECKS).unwrap();
}

/// `plinth build team/base` (the working files) for amd64; the image id.
fn build_working(c: &Catalog, iidfile: &Path) -> String {
    let out = c.run(&mut c.cmd(&[
        "build",
        REPOSITORY,
        "--platform",
        "linux/amd64",
        "--check",
        "--iidfile",
        &iidfile.display().to_string(),
    ]));
    assert!(out.status.success(), "{}", text(&out));
    // 6 checks of the example, 7 of the context file.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("13 passed, 0 failed, 0 errored"),
        "{}",
        text(&out)
    );
    std::fs::read_to_string(iidfile).unwrap()
}

#[test]
fn family_dockerfile_reads_its_base_config_and_gets_a_docker_context() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::files("files-reading");
    family_reading_its_base(&c);

    // A release reads `$PATH` from the (stand-in) root's config and passes the checks on both
    // platforms; versions/1.0.0 now exists beside the working files.
    let out = c.run(&mut c.release_cmd("major", "First", false));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("13 passed, 0 failed, 0 errored")
            .count(),
        2,
        "{}",
        text(&out)
    );
    assert!(c.family_dir().join("versions/1.0.0/Dockerfile").is_file());

    // The working files, with versions/ and family.toml beside them: neither reaches /ctx (the
    // checks say so), and editing family.toml or an ignored file leaves the image as it was.
    let work = c.ctx.work_dir();
    let first = build_working(&c, &work.join("iid-1"));
    let manifest_path = c.family_dir().join("family.toml");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    let edited = manifest.replace(
        "description = \"The root every team image",
        "description = \"Edited: the root every team image",
    );
    assert_ne!(edited, manifest);
    std::fs::write(&manifest_path, edited).unwrap();
    std::fs::write(c.family_dir().join("notes.txt"), "edited notes\n").unwrap();
    assert_eq!(build_working(&c, &work.join("iid-2")), first);

    // A file the context does ship changes the image.
    std::fs::write(c.family_dir().join("extra.txt"), "shipped\n").unwrap();
    assert_ne!(build_working(&c, &work.join("iid-3")), first);
}
