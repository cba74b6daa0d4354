//! The Dockerfile reader on hand-written Dockerfiles.

mod support;

use std::path::Path;

use plinth_recipe::{
    BuildableOptions, Container, ContextSource, DirectorySource, Error, ExecOptions, FileOptions,
    FileSource, Op, ReaderOptions,
};
use support::{parse_dockerfile, parse_dockerfile_with};

fn problems(text: &str) -> Vec<(usize, String)> {
    match parse_dockerfile(text, "/nonexistent") {
        Err(Error::Dockerfile { problems }) => {
            problems.into_iter().map(|p| (p.line, p.message)).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn shell_and_exec_forms_env_label_args_and_stages() {
    let text = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-1.36} AS build
ARG TAG
ARG DIR=/opt/${TAG:-x}
RUN echo "hi" \
    && touch /made
ENV A=1 B="two words"
ENV C=$A\$A
ENV OLD form value
LABEL org.example.k="v 1" other=${A}
WORKDIR $DIR/sub
USER 1000:1000
RUN --mount=type=cache,target=/root/.cache,id=pip,uid=0,gid=0 --network=none ["pip", "install", "x"]
RUN true

FROM build
CMD ["x"]
ENTRYPOINT /bin/e
COPY --from=build --chown=app:app --chmod=750 /made /usr/
ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.invalid/f/a.zip /tmp/
"#;
    let c = parse_dockerfile_with(
        text,
        &ReaderOptions::new("/nonexistent").with_build_arg("TAG", "1.35"),
    )
    .unwrap();
    // ARG values reach RUN's environment, not the image config.
    let args = ExecOptions::default()
        .with_build_env("TAG", "1.35")
        .with_build_env("DIR", "/opt/1.35");
    let build = Container::from_address("busybox:1.35")
        .unwrap()
        .with_exec_opts(
            ["/bin/sh", "-c", "echo \"hi\"     && touch /made"],
            args.clone(),
        )
        .with_env("A", "1")
        .with_env("B", "two words")
        .with_env("C", "1$A")
        .with_env("OLD", "form value")
        .with_label("org.example.k", "v 1")
        .with_label("other", "1")
        .with_workdir("/opt/1.35/sub")
        .with_user("1000:1000")
        .with_mounted_cache_owned("/root/.cache", "pip", "0:0")
        .with_exec_opts(
            ["pip", "install", "x"],
            ExecOptions {
                env: args.env.clone(),
                ..ExecOptions::without_network()
            },
        )
        .without_mounted_cache("/root/.cache")
        .with_exec_opts(["/bin/sh", "-c", "true"], args);
    let expected = build
        .with_default_args(["x"])
        .with_entrypoint(["/bin/sh", "-c", "/bin/e"])
        .with_default_args(["x"])
        .with_directory_opts(
            "/usr/",
            DirectorySource::container(&build, "/made"),
            FileOptions::new().owner("app:app").mode(0o750),
        )
        .with_file(
            "/tmp/a.zip",
            FileSource::pinned_url(
                "https://example.invalid/f/a.zip",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000"
                    .parse()
                    .unwrap(),
            ),
        );
    assert_eq!(c, expected);
}

#[test]
fn backtick_escape_and_scratch() {
    let text = "# escape=`\nFROM scratch\nENV P=C:\\dir `\n  Q=`$x\n";
    let c = parse_dockerfile(text, "/nonexistent").unwrap();
    assert_eq!(
        c,
        Container::new()
            .with_env("P", "C:\\dir")
            .with_env("Q", "$x")
    );
}

#[test]
fn every_unsupported_instruction_is_listed_with_its_line() {
    let text = "RUN early\nFROM --platform=$BUILDPLATFORM x\nFROM x\nEXPOSE http\nVOLUME\nRUN --mount=type=ssh,mode=77777 true\n\
                HEALTHCHECK --interval=10 CMD true\nWORKDIR $HOME\nCOPY *.txt /\nFOO bar\nRUN [\"a\", 1]\nCOPY missing /x\n\
                RUN cat <<EOF\nFOO body line\n";
    let found = problems(text);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        lines,
        vec![1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
        "{found:#?}"
    );
    let all = found
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "before the first FROM",
        "BUILDPLATFORM",
        "is not a port",
        "VOLUME needs at least one path",
        "not a duration",
        "ssh socket mode `77777`",
        "is never terminated",
        "`$HOME`",
        "matches the COPY source",
        "unknown instruction `FOO`",
        "strings only",
        "not in the build context",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
    let err = parse_dockerfile(text, "/nonexistent")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the Dockerfile cannot be read (12 problems):\n  - line 1: "),
        "{err}"
    );
    assert_eq!(
        problems("# just a comment\n"),
        vec![(1, "the Dockerfile has no FROM instruction".to_owned())]
    );
    assert!(
        problems("FROM x\nRUN echo $TARGETARCH\nWORKDIR /$TARGETARCH")
            .iter()
            .any(|(l, m)| *l == 3 && m.contains("platform build arg"))
    );
}

#[test]
fn context_files_and_directories() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("a.sh"), "echo").unwrap();
    std::fs::create_dir(ctx.path().join("tree")).unwrap();
    let host = |p: &str| ctx.path().join(p);
    // A context file keeps its permission bits, explicitly.
    std::fs::set_permissions(
        ctx.path().join("a.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o754),
    )
    .unwrap();
    let c = parse_dockerfile(
        "FROM x\nCOPY a.sh tree /app/\nCOPY [\"a.sh\", \"/b c\"]\nADD a.sh rel\nCOPY a.sh .\n",
        ctx.path(),
    )
    .unwrap();
    let kept = || FileOptions::new().mode(0o754);
    let expected = Container::from_address("x")
        .unwrap()
        .with_file_opts("/app/a.sh", FileSource::HostFile(host("a.sh")), kept())
        .with_directory("/app/", DirectorySource::Host(host("tree")))
        .with_file_opts("/b c", FileSource::HostFile(host("a.sh")), kept())
        .with_file_opts("rel", FileSource::HostFile(host("a.sh")), kept())
        .with_file_opts("./a.sh", FileSource::HostFile(host("a.sh")), kept());
    assert_eq!(c, expected);
    let found = problems("FROM x\nCOPY ../up /x\nADD y.tar.gz /\nCOPY a b /notdir\n");
    assert_eq!(found.len(), 3, "{found:?}");
}

/// Bytes, host files and host directories travel through the build context: materialise it the
/// way the BuildKit backend does and read the Dockerfile back.
#[test]
fn buildable_context_round_trip() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("script.sh"), "#!/bin/sh\n").unwrap();
    std::fs::create_dir(host.path().join("dir")).unwrap();
    std::fs::write(host.path().join("dir/inner"), "x").unwrap();
    let helper = Container::from_address("busybox:1")
        .unwrap()
        .with_exec(["mkdir", "/out"]);
    let recipe = Container::from_address("docker.io/debian:bookworm")
        .unwrap()
        .with_workdir("/srv")
        .with_file_opts(
            "conf/app.ini",
            FileSource::Bytes(b"[a]\nb = 1\n".to_vec()),
            FileOptions::new().mode(0o640),
        )
        .with_file_opts(
            "/usr/local/bin/script",
            FileSource::HostFile(host.path().join("script.sh")),
            FileOptions::new().owner("1000").mode(0o755),
        )
        .with_directory(
            "/data with space/",
            DirectorySource::Host(host.path().join("dir")),
        )
        .with_directory("/out-copy", DirectorySource::container(&helper, "/out"))
        .with_directory("/again", DirectorySource::container(&helper, "/out"))
        .with_default_args(["serve"])
        .with_entrypoint(["/usr/local/bin/script"])
        .with_label("description", "say \"hi\" for $5 \\o/");
    let built = recipe
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap();
    insta::assert_snapshot!("context_recipe_buildable", built.text);
    assert_eq!(
        built.text.matches("AS stage0").count(),
        1,
        "the helper is rendered once"
    );

    let ctx = tempfile::tempdir().unwrap();
    for entry in &built.context.entries {
        let dest = ctx.path().join(&entry.path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        match &entry.source {
            ContextSource::Bytes(b) => std::fs::write(&dest, b).unwrap(),
            ContextSource::HostFile(p) => {
                std::fs::copy(p, &dest).unwrap();
            }
            ContextSource::HostDir(p) => copy_dir(p, &dest),
            ContextSource::HostDirIgnoring { .. } => panic!("the recipe has no ignore file"),
        }
    }
    let back = parse_dockerfile(&built.text, ctx.path()).unwrap();
    // Map context paths back to the recipe's sources.
    let original = |p: &Path| {
        let rel = p.strip_prefix(ctx.path()).unwrap().to_str().unwrap();
        built
            .context
            .entries
            .iter()
            .find(|e| e.path == rel)
            .unwrap()
            .source
            .clone()
    };
    let mapped = Container::from_ops(back.ops().iter().cloned().map(|op| match op {
        Op::File {
            path,
            source: FileSource::HostFile(p),
            owner,
            mode,
        } => {
            let source = match original(&p) {
                ContextSource::Bytes(b) => FileSource::Bytes(b),
                ContextSource::HostFile(h) => FileSource::HostFile(h),
                ContextSource::HostDir(_) | ContextSource::HostDirIgnoring { .. } => {
                    panic!("a file came back from a directory")
                }
            };
            Op::File {
                path,
                source,
                owner,
                mode,
            }
        }
        Op::Directory {
            path,
            source: DirectorySource::Host(p),
            owner,
            mode,
        } => {
            let ContextSource::HostDir(h) = original(&p) else {
                panic!("a directory came back from a file")
            };
            Op::Directory {
                path,
                source: DirectorySource::Host(h),
                owner,
                mode,
            }
        }
        other => other,
    }));
    assert_eq!(mapped, recipe.normalized());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn local_root_images_become_named_contexts() {
    let c = Container::from_address("oci:/layouts/base:1.0")
        .unwrap()
        .with_exec(["true"]);
    let built = c.buildable_dockerfile(&BuildableOptions::new()).unwrap();
    assert_eq!(built.text, "FROM plinth-image-0\nRUN [\"true\"]\n");
    assert_eq!(built.context.images.len(), 1);
    assert_eq!(
        built.context.images[0].source.address(),
        "oci:/layouts/base:1.0"
    );
}

#[test]
fn unrepresentable_values_are_errors() {
    let err = Container::from_address("x")
        .unwrap()
        .with_env("A", "line\nbreak")
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap_err();
    assert!(
        matches!(err, Error::Unrepresentable { step: 1, .. }),
        "{err}"
    );
    let err = Container::new()
        .with_exec(Vec::<String>::new())
        .buildable_dockerfile(&BuildableOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRecipe { .. }), "{err}");
}

/// A context with links that leave it and links that stay inside (the security issue's cases).
/// BuildKit (docker 20.10 on the development machine) gives, for `COPY <src> /x`: `abs_out`,
/// `rel_out`, `sub/dotdot_in` and `dir_out/outside.txt` fail as not found (at
/// `/<outside path>`, `/outside.txt`, `/ctx/sub/file` and `/dir_out/outside.txt`); `abs_in`
/// copies `sub/file` (an absolute link starts at the context root); `dir_in` copies `sub`;
/// `dir` copies its link `l` as a link. The embedded engine and BuildKit executors are
/// compared with docker in plinth-buildkit's `context_links` tests.
pub fn linked_context(root: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::symlink;
    let ctx = root.join("ctx");
    std::fs::create_dir_all(ctx.join("sub")).unwrap();
    std::fs::create_dir_all(ctx.join("dir")).unwrap();
    std::fs::write(root.join("outside.txt"), "host secret\n").unwrap();
    std::fs::write(ctx.join("sub/file"), "inside\n").unwrap();
    std::fs::write(ctx.join("dir/f"), "x\n").unwrap();
    symlink(root.join("outside.txt"), ctx.join("abs_out")).unwrap();
    symlink("../outside.txt", ctx.join("rel_out")).unwrap();
    symlink("/sub/file", ctx.join("abs_in")).unwrap();
    symlink("../../ctx/sub/file", ctx.join("sub/dotdot_in")).unwrap();
    symlink(root, ctx.join("dir_out")).unwrap();
    symlink("sub", ctx.join("dir_in")).unwrap();
    symlink(root.join("outside.txt"), ctx.join("dir/l")).unwrap();
    ctx
}

#[test]
fn context_links_that_leave_the_context_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = linked_context(dir.path());
    let outside = dir.path().join("outside.txt");
    for (src, resolved) in [
        ("abs_out", outside.display().to_string()),
        ("rel_out", "/outside.txt".to_owned()),
        ("sub/dotdot_in", "/ctx/sub/file".to_owned()),
        (
            "dir_out/outside.txt",
            format!("{}/outside.txt", dir.path().display()),
        ),
    ] {
        let text = format!("FROM x\nCOPY {src} /x\n");
        let found = match parse_dockerfile(&text, &ctx) {
            Err(Error::Dockerfile { problems }) => problems,
            other => panic!("{src}: the host file was reached: {other:?}"),
        };
        assert_eq!(found.len(), 1, "{src}: {found:?}");
        assert_eq!(found[0].line, 2);
        let message = &found[0].message;
        assert!(
            message.starts_with(&format!(
                "the COPY source `{src}` is not in the build context `{}`: it resolves to \
                 `{resolved}` inside the context, which does not exist there",
                ctx.display()
            )),
            "{message}"
        );
    }
}

#[test]
fn context_links_that_stay_inside_resolve_from_the_context_root() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = linked_context(dir.path());
    let c = parse_dockerfile(
        "FROM x\nCOPY abs_in /x\nCOPY abs_in /d/\nCOPY dir_in /y\nCOPY dir_in/file /z\nCOPY dir /w\n",
        &ctx,
    )
    .unwrap();
    // Context files keep their permission bits, explicitly.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(ctx.join("sub/file"))
            .unwrap()
            .permissions(),
    ) & 0o7777;
    let kept = || FileOptions::new().mode(mode);
    let expected = Container::from_address("x")
        .unwrap()
        .with_file_opts("/x", FileSource::HostFile(ctx.join("sub/file")), kept())
        .with_file_opts(
            "/d/abs_in",
            FileSource::HostFile(ctx.join("sub/file")),
            kept(),
        )
        .with_directory("/y", DirectorySource::Host(ctx.join("sub")))
        .with_file_opts("/z", FileSource::HostFile(ctx.join("sub/file")), kept())
        .with_directory("/w", DirectorySource::Host(ctx.join("dir")));
    assert_eq!(c, expected);
}
