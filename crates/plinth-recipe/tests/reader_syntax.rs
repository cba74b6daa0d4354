//! The reader on Dockerfile syntax BuildKit's stable frontend accepts: context paths that climb
//! out of the context, heredocs, variable modifiers, ignore files and local archives.

mod support;

use plinth_recipe::{Error, FileSource, Op, ReaderOptions};
use support::{parse_dockerfile, parse_dockerfile_with};

#[allow(dead_code, reason = "each test uses a few of the helpers")]
fn problems_with(text: &str, options: &ReaderOptions) -> Vec<(usize, String)> {
    match parse_dockerfile_with(text, options) {
        Err(Error::Dockerfile { problems }) => {
            problems.into_iter().map(|p| (p.line, p.message)).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

/// The file steps of a recipe: destination and host source.
fn host_files(ops: &[Op]) -> Vec<(String, std::path::PathBuf)> {
    ops.iter()
        .filter_map(|op| match op {
            Op::File {
                path,
                source: FileSource::HostFile(host),
                ..
            } => Some((path.clone(), host.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn context_sources_that_climb_out_are_clamped_to_the_context_root() {
    let outer = tempfile::tempdir().unwrap();
    let ctx = outer.path().join("ctx");
    std::fs::create_dir_all(ctx.join("dir")).unwrap();
    std::fs::write(ctx.join("a.txt"), "in").unwrap();
    std::fs::write(ctx.join("dir/b.txt"), "b").unwrap();
    // The same name next to the context must never be read.
    std::fs::write(outer.path().join("a.txt"), "outside").unwrap();
    let c = parse_dockerfile(
        "FROM scratch\nCOPY ../a.txt /one\nCOPY ../../dir/../a.txt /two\nCOPY /../../*.txt /w/\nADD ../dir/b.txt /b\n",
        &ctx,
    )
    .unwrap();
    let real = |p: &str| ctx.join(p);
    assert_eq!(
        host_files(c.ops()),
        [
            ("/one".to_owned(), real("a.txt")),
            ("/two".to_owned(), real("a.txt")),
            ("/w/a.txt".to_owned(), real("a.txt")),
            ("/b".to_owned(), real("dir/b.txt")),
        ]
    );
    // `..` alone is the context itself.
    let c = parse_dockerfile("FROM scratch\nCOPY .. /all/\n", &ctx).unwrap();
    assert!(
        matches!(c.ops().last(), Some(Op::Directory { source: plinth_recipe::DirectorySource::Host(h), .. }) if *h == ctx),
        "{c:?}"
    );
}

/// The `ENV` values of a recipe.
fn envs(ops: &[Op]) -> Vec<(String, String)> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Env { name, value } => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn pattern_modifiers_expand_as_buildkits_lexer() {
    let c = parse_dockerfile(
        "FROM scratch\nARG F=a.tar.gz\nENV A=${F#*.} B=${F##*.} C=${F%.*} D=${F%%.*} E=${F/a/o} G=${F//a/o} H=${F/#x/y} I=${F:#a}\n",
        "/nonexistent",
    )
    .unwrap();
    let got: Vec<(String, String)> = envs(c.ops());
    let want: Vec<(String, String)> = [
        ("A", "tar.gz"),
        ("B", "gz"),
        ("C", "a.tar"),
        ("D", "a"),
        ("E", "o.tar.gz"),
        ("G", "o.tor.gz"),
        // `#` is not an anchor in BuildKit's `/`: the pattern is `#x`, which is not there.
        ("H", "a.tar.gz"),
        ("I", ".tar.gz"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
    let found = problems_with(
        "FROM scratch\nENV A=x\nENV B=${A,,}\nENV C=${A/\\d/x}\n",
        &ReaderOptions::new("/nonexistent"),
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, 3);
    assert!(found[0].1.contains("not one BuildKit has"), "{found:?}");
    assert_eq!(found[1].0, 4);
    assert!(found[1].1.contains("is not an escape"), "{found:?}");
}

fn sh(command: &str) -> Op {
    Op::Exec {
        argv: vec!["/bin/sh".into(), "-c".into(), command.into()],
        network: plinth_recipe::Network::Enabled,
        env: Default::default(),
        mounts: Vec::new(),
    }
}

fn bytes(path: &str, data: &str, mode: u32) -> Op {
    Op::File {
        path: path.into(),
        source: FileSource::Bytes(data.as_bytes().to_vec()),
        owner: None,
        mode: Some(mode.into()),
    }
}

#[test]
fn heredocs_run_and_copy_as_buildkit_dispatches_them() {
    let text = "FROM scratch\nARG V=value\nRUN <<EOF\nset -e\nFOO bar\nEOF\n\
                COPY <<-\"A\" <<B /x/\n\tEXPOSE $V\n\tA\nWORKDIR x\n\"$V\" \\$V\nB\n\
                RUN cat <<-X > /y && cat <<'Y' >> /y\n\tone $V\n\tX\ntwo\nY\n\
                COPY --chmod=600 <<EOF /file\nIN\nEOF\nENV OK=1\n";
    let c = parse_dockerfile(text, "/nonexistent").unwrap();
    let ops: Vec<Op> = c
        .ops()
        .iter()
        .map(|op| match op {
            Op::Exec { argv, network, .. } => Op::Exec {
                argv: argv.clone(),
                network: *network,
                env: Default::default(),
                mounts: Vec::new(),
            },
            other => other.clone(),
        })
        .collect();
    assert_eq!(
        ops,
        [
            sh("set -e\nFOO bar\n"),
            // A quoted terminator is not expanded; `<<-` strips the tabs.
            bytes("/x/A", "EXPOSE $V\n", 0o644),
            bytes("/x/B", "WORKDIR x\n\"value\" $V\n", 0o644),
            // Not a lone heredoc: the shell gets the line and the bodies as written.
            sh("cat <<-X > /y && cat <<'Y' >> /y\n\tone $V\nX\ntwo\nY"),
            bytes("/file", "IN\n", 0o600),
            Op::Env {
                name: "OK".into(),
                value: "1".into()
            },
        ]
    );
}

#[test]
fn a_lone_heredoc_with_a_shebang_runs_as_a_script_file() {
    let c = parse_dockerfile(
        "FROM scratch\nRUN <<-EOT\n\t#!/bin/sh\n\techo hi\n\tEOT\n",
        "/nonexistent",
    )
    .unwrap();
    let Some(Op::Exec { argv, .. }) = c.ops().last() else {
        panic!("{c:?}")
    };
    assert_eq!(argv[4], "#!/bin/sh\necho hi\n");
    assert_eq!(argv[5], "/dev/pipes/EOT");
    let found = problems_with(
        "FROM scratch\nUSER app\nRUN <<EOT\n#!/bin/sh\nEOT\n",
        &ReaderOptions::new("/nonexistent"),
    );
    assert_eq!(found[0].0, 3);
    assert!(found[0].1.contains("USER root"), "{found:?}");
}

#[test]
fn heredoc_problems_name_the_line() {
    let found = problems_with(
        "FROM scratch\nCOPY a <<EOF\nbody\nEOF\nONBUILD RUN <<X\nx\nX\nRUN <<NEVER\nbody\n",
        &ReaderOptions::new("/nonexistent"),
    );
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 5, 8], "{found:?}");
    assert!(
        found[0].1.contains("cannot be the COPY destination"),
        "{found:?}"
    );
    assert!(found[1].1.contains("ONBUILD with a heredoc"), "{found:?}");
    assert!(
        found[2]
            .1
            .contains("end it with a line holding only `NEVER`"),
        "{found:?}"
    );
}

#[test]
fn the_ignore_file_decides_what_copy_sees() {
    let ctx = tempfile::tempdir().unwrap();
    let ctx = ctx.path();
    for f in [
        "a.txt",
        "b.log",
        "dir/c.log",
        "dir/keep.log",
        "secret/token",
    ] {
        let p = ctx.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f).unwrap();
    }
    std::fs::write(
        ctx.join(".dockerignore"),
        "# logs\n**/*.log\n!dir/keep.log\n/secret\n",
    )
    .unwrap();
    let options = ReaderOptions::new(ctx).with_dockerfile(ctx.join("Dockerfile"));
    let c = parse_dockerfile_with("FROM scratch\nCOPY * /w/\nCOPY . /all/\n", &options).unwrap();
    let patterns: Vec<String> = ["**/*.log", "!dir/keep.log", "secret"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        host_files(c.ops()),
        [
            // The ignore file itself is part of the context unless it excludes itself.
            ("/w/.dockerignore".to_owned(), ctx.join(".dockerignore")),
            ("/w/a.txt".to_owned(), ctx.join("a.txt"))
        ],
        "wildcards match only what is kept"
    );
    let dirs: Vec<&plinth_recipe::DirectorySource> = c
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Directory { source, .. } => Some(source),
            _ => None,
        })
        .collect();
    // `*` matched `dir` (it holds a kept file) but not `secret`; `.` is the whole context.
    assert_eq!(
        dirs,
        [
            &plinth_recipe::DirectorySource::HostIgnoring {
                path: ctx.join("dir"),
                within: "dir".into(),
                ignore: patterns.clone()
            },
            &plinth_recipe::DirectorySource::HostIgnoring {
                path: ctx.to_path_buf(),
                within: String::new(),
                ignore: patterns
            },
        ]
    );
    let found = problems_with(
        "FROM scratch\nCOPY b.log /\nCOPY secret/token /t\nCOPY dir/keep.log /k\n",
        &options,
    );
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        [2, 3],
        "{found:?}"
    );
    assert!(
        found[0].1.contains("excluded by the ignore file"),
        "{found:?}"
    );
    assert!(
        found[1].1.contains("add `!secret/token` after it") || found[1].1.contains("add `!secret"),
        "{found:?}"
    );
    // `<Dockerfile>.dockerignore` wins over `.dockerignore`.
    std::fs::write(ctx.join("Dockerfile.dockerignore"), "a.txt\n").unwrap();
    let found = problems_with("FROM scratch\nCOPY a.txt /\nCOPY b.log /\n", &options);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.contains("Dockerfile.dockerignore"), "{found:?}");
}

#[test]
fn add_extracts_archives_told_by_content_not_name() {
    use std::io::Write as _;
    let ctx = tempfile::tempdir().unwrap();
    let ctx = ctx.path();
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(2);
    header.set_mode(0o644);
    builder.append_data(&mut header, "f", &b"hi"[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&tar).unwrap();
    std::fs::write(ctx.join("bundle.bin"), xz.finish().unwrap()).unwrap();
    // gzip's magic without a tar inside: copied as it is, as BuildKit copies it.
    std::fs::write(ctx.join("fake.tar.gz"), [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
    // bzip2's magic without a bzip2 stream: copied too; a real bzip2'd tar is extracted.
    std::fs::write(ctx.join("old.tbz2"), b"BZh91AY&SY").unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&tar).unwrap();
    std::fs::write(ctx.join("real.tbz2"), bz.finish().unwrap()).unwrap();
    let c = parse_dockerfile(
        "FROM scratch\nADD bundle.bin /x\nADD fake.tar.gz /y/\nCOPY bundle.bin /z\nADD old.tbz2 /o/\nADD real.tbz2 /r\n",
        ctx,
    )
    .unwrap();
    assert!(
        matches!(
            &c.ops()[0],
            Op::Directory { path, source: plinth_recipe::DirectorySource::HostArchive(h), .. }
                if path == "/x" && *h == ctx.join("bundle.bin")
        ),
        "{c:?}"
    );
    assert_eq!(
        host_files(&c.ops()[1..4]),
        [
            ("/y/fake.tar.gz".to_owned(), ctx.join("fake.tar.gz")),
            ("/z".to_owned(), ctx.join("bundle.bin")),
            ("/o/old.tbz2".to_owned(), ctx.join("old.tbz2")),
        ]
    );
    assert!(
        matches!(
            &c.ops()[4],
            Op::Directory { path, source: plinth_recipe::DirectorySource::HostArchive(h), .. }
                if path == "/r" && *h == ctx.join("real.tbz2")
        ),
        "{c:?}"
    );
}
