//! Cases of Dockerfile inputs: where a heredoc may start, archives `ADD` extracts (every
//! compression BuildKit reads) and bind mounts of a context with an ignore file.

use crate::cases::{BUNDLE, Case, ContextEntry, Expect, Member, MemberKind, Packing};
use crate::run_cases::{Extra, NO_EXTRA};

use ContextEntry::{Dir, Fifo, File, HardLink, Tar};

const CONTEXT: &[(&str, ContextEntry)] = &[("a.txt", File("alpha\n", 0o644))];

/// An archive overlapping [`BUNDLE`]: `pkg` with another mode and owner, `pkg/a.txt` replaced.
const OTHER: &[Member] = &[
    Member {
        path: "pkg",
        kind: MemberKind::Dir,
        mode: 0o755,
        owner: (0, 0),
    },
    Member {
        path: "pkg/a.txt",
        kind: MemberKind::File("replaced\n"),
        mode: 0o644,
        owner: (0, 0),
    },
    Member {
        path: "pkg/extra",
        kind: MemberKind::File("extra\n"),
        mode: 0o600,
        owner: (7, 7),
    },
];

/// An archive with a file and a hard link to it.
const LINKED: &[Member] = &[
    Member {
        path: "f",
        kind: MemberKind::File("linked\n"),
        mode: 0o600,
        owner: (5, 5),
    },
    // The link's header names another mode and owner: extraction applies it to the inode.
    Member {
        path: "g",
        kind: MemberKind::HardLink("f"),
        mode: 0o644,
        owner: (7, 7),
    },
];

/// An archive with a named pipe, which extraction makes (a copy leaves one out).
const WITH_FIFO: &[Member] = &[
    Member {
        path: "run/ctl",
        kind: MemberKind::Fifo,
        mode: 0o620,
        owner: (0, 5),
    },
    Member {
        path: "run/pid",
        kind: MemberKind::File("1\n"),
        mode: 0o644,
        owner: (0, 0),
    },
];

pub const INPUT_CASES: &[Case] = &[
    Case {
        name: "add_archive_with_a_fifo",
        dockerfile: "FROM {root}\nADD pipes.tar /p/\n",
        context: &[("pipes.tar", Tar(Packing::Plain, WITH_FIFO))],
        build_args: &[],
        expect: Expect::Same,
    },
    // --- ADD of a local archive, each compression BuildKit reads --------------------------------
    Case {
        name: "add_local_archives_bzip2_and_xz",
        dockerfile: "FROM {root}\nADD bundle.tar.bz2 /b/\nADD bundle.txz /x\nADD --chown=1000:1000 bundle.tar.bz2 /owned/\n",
        context: &[
            ("bundle.tar.bz2", Tar(Packing::Bzip2, BUNDLE)),
            ("bundle.txz", Tar(Packing::Xz, BUNDLE)),
        ],
        build_args: &[],
        expect: Expect::Same,
    },
    // Debian's BuildKit (Docker 20.10) predates zstd in ADD: checked against the files. The
    // backend hands it the tar inside.
    Case {
        name: "add_local_archive_zstd",
        dockerfile: "FROM {root}\nADD bundle.tar.zst /z/\nRUN stat -c '%a %u %g %n' /z/pkg /z/pkg/a.txt /z/top.txt > /z.meta\n",
        context: &[("bundle.tar.zst", Tar(Packing::Zstd, BUNDLE))],
        build_args: &[],
        expect: Expect::Files(&[
            ("z/pkg/a.txt", "alpha in the archive\n"),
            ("z/pkg/bin/run", "#!/bin/sh\necho run\n"),
            ("z/top.txt", "top\n"),
            (
                "z.meta",
                "750 1000 1000 /z/pkg\n640 1000 1000 /z/pkg/a.txt\n600 33 33 /z/top.txt\n",
            ),
        ]),
    },
    // --- several sources in one instruction: one layer, a later source's file wins -------------
    Case {
        name: "copy_several_sources_overlapping",
        dockerfile: "FROM {root}\nCOPY d1 d2 /m/\nCOPY x/same.txt y/same.txt /n/\n\
                     COPY --chown=1000:1000 d2 d1 /o/\n\
                     RUN find /m /n /o | sort | xargs stat -c '%a %u %g %s %n' > /listing\n",
        context: &[
            ("d1", Dir(0o755)),
            ("d1/sub", Dir(0o750)),
            ("d1/sub/f.txt", File("one\n", 0o644)),
            ("d1/same.txt", File("from d1\n", 0o644)),
            ("d2", Dir(0o755)),
            ("d2/sub", Dir(0o700)),
            ("d2/sub/g.txt", File("two\n", 0o600)),
            ("d2/same.txt", File("from d2\n", 0o640)),
            ("x", Dir(0o755)),
            ("x/same.txt", File("x\n", 0o644)),
            ("y", Dir(0o755)),
            ("y/same.txt", File("y\n", 0o600)),
        ],
        build_args: &[],
        expect: Expect::Same,
    },
    Case {
        name: "add_several_archives_into_one_directory",
        dockerfile: "FROM {root}\nADD bundle.tar.gz other.tar a.txt /x/\n",
        context: &[
            ("bundle.tar.gz", Tar(Packing::Gzip, BUNDLE)),
            ("other.tar", Tar(Packing::Plain, OTHER)),
            ("a.txt", File("alpha\n", 0o644)),
        ],
        build_args: &[],
        expect: Expect::Same,
    },
    Case {
        name: "copy_several_sources_from_a_stage",
        dockerfile: "FROM {root} AS b\nRUN mkdir -p /o/a /o/b && echo 1 > /o/a/f && echo 2 > /o/b/f && echo 3 > /o/c.txt\n\
                     FROM {root}\nCOPY --from=b /o/a /o/c.txt /o/b /r/\nCOPY --from=b /o/*/f /w/\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    Case {
        name: "copy_from_a_stage_into_existing_and_bare_destinations",
        dockerfile: "FROM {root} AS b\nRUN mkdir -p /o/a /o/b && echo 1 > /o/a/f && echo 2 > /o/b/g && echo 3 > /o/c.txt\n\
                     FROM {root}\nCOPY --from=b /o/c.txt /etc\nCOPY --from=b /o/c.* /usr\n\
                     COPY --from=b /o/*/? /w\nCOPY --from=b /o/? /v\nCOPY a.txt /home\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    // --- symlinks on a path are followed inside the image (merged /usr: /lib -> usr/lib) --------
    Case {
        name: "copy_through_symlinked_directories",
        dockerfile: "FROM {root} AS base\nRUN mkdir -p /usr/lib /run && ln -s usr/lib /lib && ln -s /run /var/run\n\
                     FROM base\nCOPY a.txt /lib/\nCOPY a.txt /var/run/t.txt\nCOPY d1 /lib/sub/\n\
                     ADD a.txt /var/run/added/\nWORKDIR /lib/w\nRUN pwd > /pwd\n",
        context: &[
            ("a.txt", File("alpha\n", 0o644)),
            ("d1", Dir(0o755)),
            ("d1/f.txt", File("one\n", 0o600)),
        ],
        build_args: &[],
        expect: Expect::Same,
    },
    Case {
        name: "copy_from_a_stage_through_symlinks",
        dockerfile: "FROM {root} AS b\nRUN mkdir -p /usr/lib/sub && echo so > /usr/lib/libx.so && echo deep > /usr/lib/sub/d \
                     && ln -s usr/lib /lib && ln -s libx.so /usr/lib/libx.so.1\nFROM {root}\n\
                     COPY --from=b /lib/libx.so /x\nCOPY --from=b /lib/libx.so.1 /y\nCOPY --from=b /lib /z/\n\
                     COPY --from=b /lib/sub /s/\nCOPY --from=b /lib/lib*.so /w/\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    // --- hard links stay links: in the context, in an archive, in a stage ---------------------
    Case {
        name: "copy_keeps_hard_links",
        dockerfile: "FROM {root} AS b\nRUN mkdir /s && echo x > /s/a && ln /s/a /s/b\nFROM {root}\n\
                     COPY hl /hl/\nADD links.tar /t/\nCOPY --from=b /s /s/\n\
                     RUN for p in hl/one:hl/two hl/one:hl/a.x t/f:t/g s/a:s/b; do \
                     [ /${p%:*} -ef /${p#*:} ] && echo \"$p one inode\"; done > /links\n",
        context: &[
            ("hl", Dir(0o755)),
            ("hl/one", File("one\n", 0o640)),
            ("hl/two", HardLink("hl/one")),
            ("hl/a.x", HardLink("hl/one")),
            ("links.tar", Tar(Packing::Plain, LINKED)),
        ],
        build_args: &[],
        expect: Expect::Same,
    },
    // --- owners as BuildKit's file operations resolve them: a numeric uid alone is its own gid
    Case {
        name: "copy_chown_numeric_uid_is_its_own_gid",
        dockerfile: "FROM {root}\nRUN echo 'svc:x:1500:1600::/home/svc:/bin/sh' >> /etc/passwd\n\
                     COPY --chown=1500 a.txt /s\nCOPY --chown=4242 a.txt /t\nCOPY --chown=svc a.txt /u\n\
                     USER 1500\nWORKDIR /w\nUSER svc\nWORKDIR /v\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    // FIFOs (and other special files) of the context or a stage are left out of a copy.
    Case {
        name: "copy_leaves_special_files_out",
        dockerfile: "FROM {root} AS s\nRUN mkdir /o && mkfifo /o/p && echo x > /o/x\nFROM {root}\n\
                     COPY --from=s /o /from-stage/\nCOPY special /from-context/\n",
        context: &[
            ("special", Dir(0o755)),
            ("special/file", File("f\n", 0o644)),
            ("special/pipe", Fifo),
        ],
        build_args: &[],
        expect: Expect::Same,
    },
    // A name the image does not know is id 0 (a group name: the gid so far), not an error.
    Case {
        name: "copy_chown_unknown_names",
        dockerfile: "FROM {root}\nCOPY --chown=ghost a.txt /g\nCOPY --chown=airbyte:nogroup a.txt /n\n\
                     COPY --chown=ghost:airbyte a.txt /a\nCOPY --chown=7:nogroup a.txt /s\n\
                     USER ghost\nWORKDIR /w\nUSER root\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    // --- where a heredoc starts (BuildKit's `^(\d*)<<(-?)\s*([^<]*)$` on its lexer's words) -----
    Case {
        name: "heredoc_blank_after_the_arrows_and_here_strings",
        dockerfile: "FROM {root}\nRUN cat << EOF > /w1\nspaced\nEOF\nRUN echo here > /w2 # a here-string, no heredoc: cat <<<here\nRUN echo '<<q' > /w3\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Files(&[("w1", "spaced\n"), ("w2", "here\n"), ("w3", "<<q\n")]),
    },
    // A byte order mark and CRLF line ends, as editors on Windows save a Dockerfile.
    Case {
        name: "byte_order_mark_and_crlf",
        dockerfile: "\u{feff}# escape=`\r\nFROM {root}\r\nRUN echo a `\r\n  # inside\r\n  b > /x\r\nENV A=1 `\r\n  B=2\r\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    // --- flags of the current frontend that Debian's BuildKit does not know ---------------------
    Case {
        name: "add_unpack_and_run_security_sandbox",
        dockerfile: "FROM {root}\nADD --unpack=false bundle.tar /kept/\nADD --unpack bundle.tar /x/\n\
                     ADD --UNPACK=False bundle.tar /k2\n\
                     RUN --security=sandbox ls /kept /x > /listing && ls -d /k2 >> /listing\n",
        context: &[("bundle.tar", Tar(Packing::Plain, BUNDLE))],
        build_args: &[],
        expect: Expect::Files(&[("listing", "/kept:\nbundle.tar\n\n/x:\npkg\ntop.txt\n/k2\n")]),
    },
    Case {
        name: "refused_copy_parents",
        dockerfile: "FROM {root}\nCOPY --parents dir/one.txt /p/\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Refused {
            line: 2,
            needle: "copy each source to the path it should keep",
        },
    },
    Case {
        name: "refused_copy_exclude",
        dockerfile: "FROM {root}\nCOPY --exclude=*.md dir /e/\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Refused {
            line: 2,
            needle: "list the sources to copy instead",
        },
    },
    Case {
        name: "refused_run_security_insecure",
        dockerfile: "FROM {root}\nRUN --security=insecure true\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Refused {
            line: 2,
            needle: "do the privileged part outside the build",
        },
    },
    Case {
        name: "refused_heredoc_inside_a_word",
        dockerfile: "FROM {root}\nRUN cat<<EOF > /f\nhello\nEOF\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Refused {
            line: 2,
            needle: "put a space before `<<` (`cat <<EOF`)",
        },
    },
];

/// Cases that need more than a Dockerfile and a context (see [`Extra`]).
pub const INPUT_MOUNT_CASES: &[(Case, Extra)] = &[
    // --- bind mounts of a context with an ignore file: the context as BuildKit received it --------
    (
        Case {
            name: "mount_bind_context_through_the_ignore_file",
            dockerfile: "FROM {root}\nRUN --mount=type=bind,source=dir,target=/mnt find /mnt | sort > /seen\n\
                     RUN --mount=type=bind,target=/mnt find /mnt | sort > /root-seen\n",
            context: &[
                (
                    ".dockerignore",
                    File("*.log\ndir/tmp\n!dir/tmp/keep\n**/*.secret\n", 0o644),
                ),
                ("a.txt", File("alpha\n", 0o644)),
                ("b.log", File("log\n", 0o644)),
                ("dir/c.log", File("nested log\n", 0o644)),
                ("dir/k.secret", File("hidden\n", 0o600)),
                ("dir/tmp/x", File("tmp\n", 0o644)),
                ("dir/tmp/keep", File("keep\n", 0o644)),
                ("dir/one.txt", File("one\n", 0o644)),
            ],
            build_args: &[],
            expect: Expect::Same,
        },
        Extra {
            stubs: &["mnt"],
            ..NO_EXTRA
        },
    ),
    // A symbolic `--chmod` (frontend 1.14) changes each entry's own mode, as BSD's chmod does:
    // `X` only for directories and files executable already. Debian's BuildKit cannot read it.
    (
        Case {
            name: "copy_chmod_symbolic",
            dockerfile: "FROM {root}\nCOPY --chmod=u=rwX,go=rX tree /s/\nCOPY --chmod=+x run.sh a.txt /x/\n\
                         COPY --chmod=g=u,o-rwx secret.txt /g\n\
                         RUN stat -c '%a %n' /s/one.txt /s/sub /s/sub/two.txt /x/run.sh /x/a.txt /g > /modes\n",
            context: &[
                ("a.txt", File("alpha\n", 0o644)),
                ("run.sh", File("#!/bin/sh\n", 0o750)),
                ("secret.txt", File("s\n", 0o600)),
                ("tree", Dir(0o755)),
                ("tree/one.txt", File("one\n", 0o644)),
                ("tree/sub", Dir(0o700)),
                ("tree/sub/two.txt", File("two\n", 0o700)),
            ],
            build_args: &[],
            expect: Expect::Files(&[(
                "modes",
                "644 /s/one.txt\n755 /s/sub\n755 /s/sub/two.txt\n751 /x/run.sh\n755 /x/a.txt\n660 /g\n",
            )]),
        },
        Extra {
            backend_refuses: Some("--engine embedded"),
            ..NO_EXTRA
        },
    ),
];
