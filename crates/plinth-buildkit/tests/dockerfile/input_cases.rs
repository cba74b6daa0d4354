//! Cases of Dockerfile inputs: where a heredoc may start, archives `ADD` extracts (every
//! compression BuildKit reads) and bind mounts of a context with an ignore file.

use crate::cases::{BUNDLE, Case, ContextEntry, Expect, Packing};
use crate::run_cases::{Extra, NO_EXTRA};

use ContextEntry::{File, Tar};

const CONTEXT: &[(&str, ContextEntry)] = &[("a.txt", File("alpha\n", 0o644))];

pub const INPUT_CASES: &[Case] = &[
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
    // --- where a heredoc starts (BuildKit's `^(\d*)<<(-?)\s*([^<]*)$` on its lexer's words) -----
    Case {
        name: "heredoc_blank_after_the_arrows_and_here_strings",
        dockerfile: "FROM {root}\nRUN cat << EOF > /w1\nspaced\nEOF\nRUN echo here > /w2 # a here-string, no heredoc: cat <<<here\nRUN echo '<<q' > /w3\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Files(&[("w1", "spaced\n"), ("w2", "here\n"), ("w3", "<<q\n")]),
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
];
