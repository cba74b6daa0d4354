//! generate-release with flags → checks on both platforms → publish → docs → the same publish
//! again → a changed build refused → a failing check that writes nothing → latest and
//! upgrade-consumers.

use crate::fixture::{Catalog, REPOSITORY, Root, push_root, skopeo_digest, text};

/// Runs the command on a pseudo-terminal and answers "n" to the overwrite question; exits with
/// the command's code.
const ANSWER_NO: &str = r#"
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
# Wide enough that the question is not wrapped.
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 240, 0, 0))
seen = b""
def read(timeout):
    global seen
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    seen += data
    return data
end = time.time() + 300
while b"overwrite it?" not in seen:
    data = read(max(0, end - time.time()))
    if not data:
        sys.stdout.buffer.write(seen)
        sys.exit(3)
os.write(fd, b"n\r")
while read(600):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn release_publish_docs_and_refusals() {
    if !crate::require_root() {
        return;
    }
    let c = Catalog::new("e2e");
    // The catalog is a git repository: a release must leave only the files it means to change.
    let git = |args: &[&str]| {
        let out = c.run(
            c.ctx
                .command("git")
                .arg("-C")
                .arg(c.catalog_dir())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args),
        );
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::create_dir_all(c.catalog_dir()).unwrap();
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "empty catalog"]);

    // Without a terminal, a missing answer is an error naming its flag, not a hang.
    let out = c.run(
        c.cmd(&[
            "generate-release",
            "--family",
            REPOSITORY,
            "--changelog",
            "x",
            "--publish",
        ])
        .stdin(std::process::Stdio::null()),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass `--bump KIND`"),
        "{}",
        text(&out)
    );

    // A bump that gives an undeclared version is refused before anything is built.
    let out = c.run(&mut c.cmd(&[
        "generate-release",
        "--family",
        REPOSITORY,
        "--bump",
        "minor",
        "--changelog",
        "x",
        "--no-publish",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not declare 0.1.0"),
        "{}",
        text(&out)
    );
    assert!(!c.changelog().exists());

    // The release.
    let out = c.run(&mut c.cmd(&[
        "generate-release",
        "--family",
        REPOSITORY,
        "--bump",
        "major",
        "--changelog",
        "First release",
        "--publish",
    ]));
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "(linux/amd64)",
        "(linux/arm64)",
        "Sanity checks passed.",
        "Added 1.0.0 to the registry.",
        "Generated docs successfully.",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}`:\n{}",
            text(&out)
        );
    }
    assert!(
        stderr.matches("5 passed, 0 failed, 0 errored").count() == 2,
        "{}",
        text(&out)
    );
    let tag = format!("{}:1.0.0", c.published());
    let digest = skopeo_digest(&tag).expect("the tag was pushed");
    let address = format!("{tag}@{digest}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), address);

    // `git status` shows what a release writes and nothing else: no lock file, no temp file.
    let status = git(&["status", "--porcelain", "--untracked-files=all"]);
    let mut changed: Vec<&str> = status.lines().map(|l| &l[3..]).collect();
    changed.sort_unstable();
    assert_eq!(
        changed,
        [
            "README.md",
            "generated/changelogs/example_busybox_base.json",
            "generated/inputs/example_busybox_base.json",
            "generated/registry.json",
        ],
        "{status}"
    );
    assert!(
        c.catalog_dir()
            .join("generated/.locks/example_busybox_base.lock")
            .is_file(),
        "the family lock is there, ignored"
    );

    // The pushed index has both platforms.
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{tag}"))
        .output()
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);

    // Changelog, README row, registry JSON, release record.
    let changelog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.changelog()).unwrap()).unwrap();
    assert_eq!(changelog[0]["version"], "1.0.0");
    assert_eq!(changelog[0]["changelog_entry"], "First release");
    let example = changelog[0]["dockerfile_example"].as_str().unwrap();
    assert!(
        example.starts_with("FROM docker.io/library/busybox:good@sha256:"),
        "{example}"
    );
    assert!(
        example.contains("RUN sh -c echo 1.0.0 > /etc/my-family-release")
            || example.contains("echo 1.0.0"),
        "{example}"
    );
    let readme = std::fs::read_to_string(c.catalog_dir().join("README.md")).unwrap();
    // The example catalog's own title and owner, not the built-in catalog's.
    assert!(
        readme.starts_with(
            "# my-family-base-images\n\nThis repository contains the base images used by Example connectors.\n"
        ),
        "{readme}"
    );
    assert!(
        !readme.contains("airbyte-connectors-base-images"),
        "{readme}"
    );
    let row = format!("|  1.0.0 | ✅| {address} | First release |");
    assert!(readme.contains(&row), "no `{row}` in:\n{readme}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(c.catalog_dir().join("generated/registry.json")).unwrap(),
    )
    .unwrap();
    let v = &json["families"][0]["versions"][0];
    assert_eq!(v["index_digest"], digest.as_str());
    let platform_digests = v["platform_digests"]
        .as_object()
        .expect("platform digests are recorded");
    assert_eq!(platform_digests.len(), 2);
    for m in index["manifests"].as_array().unwrap() {
        let key = format!("linux/{}", m["platform"]["architecture"].as_str().unwrap());
        assert_eq!(platform_digests[&key], m["digest"]);
    }
    assert!(
        c.catalog_dir()
            .join("generated/inputs/example_busybox_base.json")
            .is_file()
    );

    // The docs are up to date, from a new process (its listing must include the pushed tag).
    let out = c.run(&mut c.cmd(&["generate-docs", "--check"]));
    assert!(out.status.success(), "{}", text(&out));

    // Publishing the same version again rebuilds the identical bytes: a no-op that says so.
    let changelog_before = std::fs::read(c.changelog()).unwrap();
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.0.0"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already published with the same digest"),
        "{}",
        text(&out)
    );
    assert_eq!(skopeo_digest(&tag).unwrap(), digest);

    // Other bytes under a published tag are refused (another root image gives another digest).
    let other_root = push_root(c.registry, Root::GoodAgain);
    let out = c.run(
        c.cmd(&["publish", REPOSITORY, "1.0.0"])
            .env("MY_FAMILY_ROOT_IMAGE", &other_root),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is already published with digest"),
        "{}",
        text(&out)
    );
    assert_eq!(
        skopeo_digest(&tag).unwrap(),
        digest,
        "the published tag did not move"
    );
    // On a terminal, plinth asks; answering "No" is a choice, not a failure: exit 0.
    let probe = c.cmd(&["publish", REPOSITORY, "1.0.0"]);
    let mut cmd = c.ctx.command("python3");
    cmd.arg("-c").arg(ANSWER_NO).arg(probe.get_program());
    cmd.args(probe.get_args());
    for (k, v) in probe.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env_remove("PLINTH_NO_PROMPT")
        .env("TERM", "xterm")
        .env("MY_FAMILY_ROOT_IMAGE", &other_root);
    let out = c.run(&mut cmd);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        screen.contains("Not overwriting the already existing image."),
        "{screen}"
    );
    assert_eq!(skopeo_digest(&tag).unwrap(), digest, "still not moved");

    // No publish without a changelog entry.
    let out = c.run(&mut c.cmd(&["publish", REPOSITORY, "1.1.0"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("No entry found for version 1.1.0 in the registry."),
        "{}",
        text(&out)
    );
    let out = c.run(&mut c.cmd(&["publish", "nope/nothing", "1.0.0"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unknown base image name: nope/nothing"),
        "{}",
        text(&out)
    );

    // A failing check aborts with nothing written: no changelog entry, no tag, same docs.
    let readme_before = std::fs::read(c.catalog_dir().join("README.md")).unwrap();
    let broken = push_root(c.registry, Root::NoAirbyteUser);
    let out = c.run(
        c.cmd(&[
            "generate-release",
            "--family",
            REPOSITORY,
            "--bump",
            "minor",
            "--changelog",
            "Broken",
            "--publish",
        ])
        .env("MY_FAMILY_ROOT_IMAGE", &broken),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Sanity checks failed: linux/amd64 user_exists:airbyte"),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains("linux/arm64 user_exists:airbyte"),
        "checks ran on arm64 too:\n{}",
        text(&out)
    );
    assert!(stderr.trim_end().ends_with("Aborting."), "{}", text(&out));
    assert_eq!(std::fs::read(c.changelog()).unwrap(), changelog_before);
    assert_eq!(
        std::fs::read(c.catalog_dir().join("README.md")).unwrap(),
        readme_before
    );
    assert_eq!(skopeo_digest(&format!("{}:1.1.0", c.published())), None);

    // What consumers pin, and a connector's metadata.yaml pointed at it byte for byte.
    let out = c.run(&mut c.cmd(&["latest", REPOSITORY, "--stable"]));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), address);
    let metadata = c.ctx.work_dir().join("metadata.yaml");
    let before = format!(
        "data:\n  # the base image\n  connectorBuildOptions:\n    baseImage: \"{}:0.9.0@sha256:{}\" # pinned\n  connectorType: source\n",
        c.published(),
        "0".repeat(64)
    );
    std::fs::write(&metadata, &before).unwrap();
    let out = c.run(c.cmd(&["upgrade-consumers", "--dry-run"]).arg(&metadata));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("+    baseImage: \"{address}\" # pinned")),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&metadata).unwrap(),
        before,
        "--dry-run writes nothing"
    );
    let out = c.run(c.cmd(&["upgrade-consumers"]).arg(&metadata));
    assert!(out.status.success(), "{}", text(&out));
    let expected = before.replace(
        &format!("{}:0.9.0@sha256:{}", c.published(), "0".repeat(64)),
        &address,
    );
    assert_eq!(std::fs::read_to_string(&metadata).unwrap(), expected);
}
