//! The cases: a Dockerfile (`{root}` is the busybox root image, `{url}` a local file server),
//! its context and build args, and what plinth must do with it.

pub use crate::context::{BUNDLE, ContextEntry, Member, MemberKind, Packing};

/// What plinth must do.
pub enum Expect {
    /// Build the same tree and config as docker's BuildKit, on both engines.
    Same,
    /// What the BuildKit in Debian's docker cannot build the way BuildKit's current frontend
    /// does (newer syntax or semantics): both engines must write these files (path, contents).
    Files(&'static [(&'static str, &'static str)]),
    /// Refuse before building, naming the line and saying what to do (`needle`).
    Refused { line: usize, needle: &'static str },
}

pub struct Case {
    pub name: &'static str,
    pub dockerfile: &'static str,
    pub context: &'static [(&'static str, ContextEntry)],
    pub build_args: &'static [(&'static str, &'static str)],
    pub expect: Expect,
}

use ContextEntry::{Bytes, Dir, File, Link, Tar};
use Expect::{Files, Refused, Same};

const TEXT: &[(&str, ContextEntry)] = &[
    ("a.txt", File("alpha\n", 0o644)),
    ("b.txt", File("bravo\n", 0o600)),
    ("run.sh", File("#!/bin/sh\necho run\n", 0o755)),
    ("dir", Dir(0o755)),
    ("dir/one.txt", File("one\n", 0o644)),
    ("dir/sub", Dir(0o750)),
    ("dir/sub/two.txt", File("two\n", 0o640)),
    ("dir/link", Link("one.txt")),
];

const fn same(name: &'static str, dockerfile: &'static str) -> Case {
    Case {
        name,
        dockerfile,
        context: TEXT,
        build_args: &[],
        expect: Same,
    }
}

const fn files(
    name: &'static str,
    dockerfile: &'static str,
    files: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        name,
        dockerfile,
        context: TEXT,
        build_args: &[],
        expect: Files(files),
    }
}

const fn refused(
    name: &'static str,
    dockerfile: &'static str,
    line: usize,
    needle: &'static str,
) -> Case {
    Case {
        name,
        dockerfile,
        context: TEXT,
        build_args: &[],
        expect: Refused { line, needle },
    }
}

pub const CASES: &[Case] = &[
    // --- RUN, shell and exec forms, continuations, comments, case --------------------------
    same(
        "run_shell",
        "FROM {root}\nRUN echo hi > /hi && mkdir -p /a/b\n",
    ),
    same(
        "run_exec",
        "FROM {root}\nRUN [\"sh\", \"-c\", \"echo exec > /x\"]\n",
    ),
    same(
        "run_continuation",
        "FROM {root}\nRUN echo one > /c \\\n# a comment inside\n\n    && echo two >> /c\n",
    ),
    same(
        "escape_directive",
        "# escape=`\nFROM {root}\nRUN echo a `\n  > /e\nENV W=C:\\dir\n",
    ),
    same(
        "lowercase_instructions",
        "from {root}\nrun echo lower > /l\nenv A=1\n",
    ),
    same(
        "run_deletes",
        "FROM {root}\nRUN rm /etc/group && rm -r /var/tmp\n",
    ),
    // What a step sees of itself: ids, supplementary groups (by name and numeric), hostname.
    same(
        "run_as_user",
        "FROM {root}\nRUN id > /root-id && hostname > /hostname && head -1 /etc/hosts > /hosts\n\
         USER airbyte\nRUN id > /home/airbyte/id\nUSER 1000\nRUN id > /home/airbyte/numeric\n",
    ),
    same(
        "run_numeric_user",
        "FROM {root}\nUSER 1000:1000\nRUN touch /tmp/mine\n",
    ),
    // --- ENV, LABEL and expansion ------------------------------------------------------------
    same(
        "env_forms",
        "FROM {root}\nENV A=1 B=\"two words\" C='single $A' D=a\\ b\nENV OLD some value here\n",
    ),
    same(
        "env_uses_value_from_before",
        "FROM {root}\nENV A=hi\nENV A=bye B=$A C=${A}x\n",
    ),
    same(
        "env_modifiers",
        "FROM {root}\nENV S=set E=\nENV A=${S:-d} B=${E:-d} C=${S:+alt} D=${E:+alt}\n",
    ),
    // `${V-w}` and `${V+w}` came with a newer frontend than Debian's BuildKit has.
    Case {
        name: "env_modifiers_without_colon",
        dockerfile: "FROM {root}\nENV S=set E=\nARG U\nRUN echo \"[${E-dash}][${U-dash}][${S+plus}][${U+plus}]\" > /m\n",
        context: TEXT,
        build_args: &[],
        expect: Files(&[("m", "[][dash][plus][]\n")]),
    },
    // The pattern modifiers came with a newer frontend than Debian's BuildKit has.
    Case {
        name: "pattern_modifiers",
        dockerfile: "FROM {root}\nARG FILE=archive.tar.gz\nARG P=/usr/local/lib\nENV BASE=${FILE%%.*} EXT=${FILE#*.} STEM=${FILE%.*} LAST=${FILE##*.} SLASHED=${P//\\//_} FIRST=${P/l/L} NONE=${FILE#x*}\nRUN echo \"$BASE|$EXT|$STEM|$LAST|$SLASHED|$FIRST|$NONE\" > /m\nWORKDIR /w/${FILE%%.*}\nRUN pwd > /m2\n",
        context: TEXT,
        build_args: &[],
        expect: Files(&[
            (
                "m",
                "archive|tar.gz|archive.tar|gz|_usr_local_lib|/usr/Local/lib|archive.tar.gz\n",
            ),
            ("m2", "/w/archive\n"),
        ]),
    },
    refused(
        "refused_unknown_modifier",
        "FROM {root}\nENV A=x\nENV B=${A^^}\n",
        3,
        "use `-`, `+`, `?`",
    ),
    same(
        "env_escapes_and_quotes",
        "FROM {root}\nENV A=\"a \\\"q\\\" \\$x\" B='it''s' C=\"$A\"x\n",
    ),
    same(
        "env_extends_base_path",
        "FROM {root}\nENV PATH=/opt/bin:$PATH\n",
    ),
    same(
        "arg_unset_in_image_stage",
        "FROM {root}\nARG U\nENV X=[${U:-d}] Y=[$U]\n",
    ),
    same("scratch_gets_default_path", "FROM scratch\nCOPY a.txt /\n"),
    same(
        "env_reaches_run",
        "FROM {root}\nENV GREETING=hello\nRUN echo $GREETING > /g\n",
    ),
    same(
        "label_forms",
        "FROM {root}\nENV V=x\nLABEL a=1 \"b c\"=\"d e\" l=$V\nLABEL multi=\"one \\\n  two\"\n",
    ),
    // --- ARG -----------------------------------------------------------------------------------
    same(
        "arg_reaches_run",
        "FROM {root}\nARG V=2.0\nRUN echo $V > /v\n",
    ),
    Case {
        name: "build_arg",
        dockerfile: "FROM {root}\nARG W\nARG D=default\nRUN echo $W $D > /w\n",
        context: TEXT,
        build_args: &[("W", "given"), ("D", "over")],
        expect: Same,
    },
    same(
        "arg_global_in_from_and_redeclared",
        "ARG BASE={root}\nARG G=global\nFROM ${BASE}\nARG G\nRUN echo \"[$G]\" > /g\n",
    ),
    same(
        "arg_global_not_redeclared_is_unset",
        "ARG G=global\nFROM {root}\nRUN echo \"[$G]\" > /g\n",
    ),
    same(
        "env_wins_over_earlier_arg",
        "FROM {root}\nARG V=arg\nENV V=env\nRUN echo $V > /v\n",
    ),
    same(
        "later_arg_wins_over_env_for_run",
        "FROM {root}\nENV V=env\nARG V=arg\nRUN echo $V > /v\n",
    ),
    // Debian's BuildKit expands every word of an ARG before setting any; BuildKit's current
    // frontend sets them one by one, as plinth does.
    Case {
        name: "arg_sequential",
        dockerfile: "FROM {root}\nARG A=1 B=$A\nRUN echo $A$B > /ab\n",
        context: TEXT,
        build_args: &[],
        expect: Files(&[("ab", "11\n")]),
    },
    // Debian's BuildKit lets a global `ARG TARGETARCH` without a default blank the automatic
    // value for the stage that declares it again; the current frontend keeps the automatic
    // value, as plinth does.
    Case {
        name: "global_platform_arg_declared_again",
        dockerfile: "ARG TARGETARCH\nFROM {root}\nARG TARGETARCH\nRUN echo $TARGETARCH > /arch\n",
        context: TEXT,
        build_args: &[],
        expect: Files(&[("arch", "amd64\n")]),
    },
    same(
        "arg_in_paths",
        "FROM {root}\nARG DIR=/opt/app\nWORKDIR $DIR\nCOPY a.txt ${DIR}/\nUSER ${U:-airbyte}\n",
    ),
    same(
        "arg_inherited_by_child_stage",
        "FROM {root} AS base\nARG V=1\nFROM base\nRUN echo $V > /v\n",
    ),
    same(
        "target_platform_args",
        "FROM {root}\nARG TARGETARCH\nARG TARGETPLATFORM TARGETOS\nRUN echo $TARGETARCH $TARGETPLATFORM $TARGETOS > /p\n",
    ),
    same(
        "platform_arg_in_env",
        "FROM {root}\nARG TARGETARCH\nENV ARCH=$TARGETARCH\n",
    ),
    // --- USER, WORKDIR ---------------------------------------------------------------------------
    same("workdir_created", "FROM {root}\nWORKDIR /a/b/c\n"),
    same(
        "workdir_relative",
        "FROM {root}\nWORKDIR /a\nWORKDIR b\nRUN pwd > /pwd\n",
    ),
    same(
        "workdir_under_earlier_layer_as_user",
        "FROM {root}\nRUN mkdir -p /home/app && chown 1000:1000 /home/app\nUSER airbyte\nWORKDIR /home/app/work\nRUN pwd > /home/app/work/pwd\n",
    ),
    same("workdir_from_env", "FROM {root}\nENV D=/data\nWORKDIR $D\n"),
    same("user_by_name", "FROM {root}\nUSER airbyte\n"),
    // --- CMD, ENTRYPOINT -------------------------------------------------------------------------
    same("cmd_shell", "FROM {root}\nCMD echo hi\n"),
    same("cmd_exec", "FROM {root}\nCMD [\"a\", \"b\"]\n"),
    same("cmd_bad_json_is_shell", "FROM {root}\nCMD [not json]\n"),
    same(
        "entrypoint_resets_inherited_cmd",
        "FROM {root}\nENTRYPOINT [\"/bin/echo\"]\n",
    ),
    same(
        "entrypoint_then_cmd",
        "FROM {root}\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"hi\"]\n",
    ),
    same(
        "cmd_then_entrypoint_keeps_cmd",
        "FROM {root}\nCMD [\"hi\"]\nENTRYPOINT [\"/bin/echo\"]\n",
    ),
    same("entrypoint_shell", "FROM {root}\nENTRYPOINT echo hi\n"),
    // An empty list clears an inherited value and writes none.
    same(
        "entrypoint_and_cmd_empty_lists",
        "FROM {root} AS b\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"hi\"]\nFROM b\nENTRYPOINT []\nCMD []\n",
    ),
    // --- COPY and ADD from the context ------------------------------------------------------------
    same("copy_file", "FROM {root}\nCOPY a.txt /a.txt\n"),
    same("copy_file_into_dir", "FROM {root}\nCOPY a.txt /dest/\n"),
    same(
        "copy_keeps_modes",
        "FROM {root}\nCOPY run.sh b.txt /bin2/\n",
    ),
    same("copy_dir_contents", "FROM {root}\nCOPY dir /dest\n"),
    same("copy_dir_trailing_slash", "FROM {root}\nCOPY dir/ /dest/\n"),
    same("copy_several", "FROM {root}\nCOPY a.txt dir /multi/\n"),
    same(
        "copy_relative_dest",
        "FROM {root}\nWORKDIR /app\nCOPY a.txt .\nCOPY b.txt sub/\n",
    ),
    same(
        "copy_json_form",
        "FROM {root}\nCOPY [\"a.txt\", \"/with space/\"]\n",
    ),
    same(
        "copy_chown_ids",
        "FROM {root}\nCOPY --chown=1000:1000 a.txt dir /o/\n",
    ),
    same(
        "copy_chown_name",
        "FROM {root}\nCOPY --chown=airbyte a.txt /a\n",
    ),
    // BuildKit reads an empty user or group as id 0.
    same(
        "copy_chown_empty_parts",
        "FROM {root}\nCOPY --chown=:airbyte a.txt /g\nCOPY --chown=airbyte: a.txt /u\n",
    ),
    same(
        "copy_chown_names",
        "FROM {root}\nCOPY --chown=airbyte:airbyte dir /d\n",
    ),
    same("copy_chmod", "FROM {root}\nCOPY --chmod=640 a.txt /a\n"),
    same(
        "copy_as_user_is_root_owned",
        "FROM {root}\nUSER airbyte\nCOPY a.txt /a\n",
    ),
    same(
        "copy_into_existing_dir_without_slash",
        "FROM {root}\nRUN mkdir /d\nCOPY a.txt /d\n",
    ),
    same(
        "copy_overwrites",
        "FROM {root}\nRUN echo old > /a\nCOPY a.txt /a\n",
    ),
    same("copy_wildcard", "FROM {root}\nCOPY *.txt r?n.sh /w/\n"),
    same(
        "copy_wildcard_dir_contents",
        "FROM {root}\nCOPY di[q-s] /w\n",
    ),
    // `dir/*/*.txt` (a wildcard element that also matches files) breaks the context sender of
    // Debian's BuildKit (`readdirent …: not a directory`).
    same(
        "copy_wildcard_nested",
        "FROM {root}\nCOPY dir/s*/*.txt /n/\n",
    ),
    // BuildKit cleans a context source under `/`: `..` stops at the context root.
    same(
        "copy_parent_is_clamped_to_the_context",
        "FROM {root}\nCOPY ../a.txt /up/\nCOPY ../../dir/../b.txt /up2\nCOPY ../di[q-s] /updir\n",
    ),
    same("add_plain_file", "FROM {root}\nADD a.txt /added\n"),
    same("add_url", "FROM {root}\nADD {url}/dl/tool.sh /tools/\n"),
    // Named by the decoded path's last element, `__unnamed__` without one.
    same(
        "add_url_names",
        "FROM {root}\nADD {url}/dl/a%20b.sh /tools/\nADD {url}/ /idx/\n",
    ),
    // --- ADD of a local archive: extracted, owners and modes from the archive ------------------
    Case {
        name: "add_local_archives_extract",
        dockerfile: "FROM {root}\nRUN mkdir -p /merge/pkg && echo kept > /merge/pkg/old\nADD bundle.tar.gz /opt/\nADD bundle.tar /plain\nADD bundle.tar.gz /merge\nADD --chown=1000:1000 bundle.tar.gz /owned/\n",
        context: &[
            ("bundle.tar.gz", Tar(Packing::Gzip, BUNDLE)),
            ("bundle.tar", Tar(Packing::Plain, BUNDLE)),
        ],
        build_args: &[],
        expect: Same,
    },
    // --- ignore files ------------------------------------------------------------------------------
    Case {
        name: "dockerignore_applies_to_every_context_read",
        dockerfile: "FROM {root}\nCOPY . /ctx/\nCOPY *.txt /w/\nCOPY dir /d\nCOPY secret /s\n",
        context: &[
            (
                ".dockerignore",
                File(
                    "# comment\n*.log\n**/tmp\n/secret\n!secret/keep\nDockerfile\n",
                    0o644,
                ),
            ),
            ("a.txt", File("alpha\n", 0o644)),
            ("b.log", File("log\n", 0o644)),
            ("skip.txt", File("skip\n", 0o644)),
            ("dir/c.log", File("nested log\n", 0o644)),
            ("dir/tmp/x", File("tmp\n", 0o644)),
            ("dir/y", File("y\n", 0o600)),
            ("secret/token", File("token\n", 0o600)),
            ("secret/keep", File("keep\n", 0o644)),
        ],
        build_args: &[],
        expect: Same,
    },
    Case {
        name: "dockerignore_of_the_dockerfile_wins",
        dockerfile: "FROM {root}\nCOPY . /ctx/\n",
        context: &[
            (
                "Dockerfile.dockerignore",
                File("a.txt\n*.dockerignore\n", 0o644),
            ),
            (".dockerignore", File("b.txt\n", 0o644)),
            ("a.txt", File("alpha\n", 0o644)),
            ("b.txt", File("bravo\n", 0o644)),
        ],
        build_args: &[],
        expect: Same,
    },
    Case {
        name: "refused_copy_of_an_ignored_file",
        dockerfile: "FROM {root}\nCOPY .dockerignore /x\nCOPY b.txt /b\n",
        context: &[
            (".dockerignore", File("b.txt\n", 0o644)),
            ("b.txt", File("bravo\n", 0o644)),
        ],
        build_args: &[],
        expect: Refused {
            line: 3,
            needle: "add `!b.txt` after it",
        },
    },
    // --- heredocs (Debian's BuildKit predates them: checked against the files written) ----------
    files(
        "heredoc_run",
        "FROM {root}\nRUN <<EOF\necho one > /h1\necho two >> /h1\nEOF\nRUN echo after > /h1b\n",
        &[("h1", "one\ntwo\n"), ("h1b", "after\n")],
    ),
    files(
        "heredoc_run_shebang",
        "FROM {root}\nRUN <<EOF\n#!/bin/sh\necho \"$0\" > /h2\nEOF\n",
        &[("h2", "/dev/pipes/EOF\n")],
    ),
    files(
        "heredoc_run_several_with_tabs",
        "FROM {root}\nENV W=world\nRUN cat <<-A > /h3 && cat <<'B' >> /h3\n\tone $W\n\tA\ntwo $W\nB\n",
        &[("h3", "one world\ntwo $W\n")],
    ),
    files(
        "heredoc_copy",
        "FROM {root}\nARG V=val\nCOPY <<EOF <<'RAW' /c/\nv=$V \"q\"\nEOF\nr=$V\nRAW\nCOPY --chmod=755 <<-S /s.sh\n\t#!/bin/sh\n\techo s\n\tS\nRUN /s.sh > /s.out\n",
        &[
            ("c/EOF", "v=val \"q\"\n"),
            ("c/RAW", "r=$V\n"),
            ("s.out", "s\n"),
        ],
    ),
    // --- stages ----------------------------------------------------------------------------------
    // Parse errors count in every stage, needed or not, as BuildKit parses the whole file first.
    refused(
        "unneeded_stage_parse_error",
        "FROM {root} AS unused\nRUN --bogus true\nFROM {root}\nRUN echo ok > /ok\n",
        2,
        "the RUN flag `--bogus` is not one BuildKit knows",
    ),
    same(
        "copy_from_stage",
        "FROM {root} AS build\nRUN mkdir -p /out/sub && echo x > /out/f && echo y > /out/sub/g\nFROM {root}\nCOPY --from=build /out /copied\n",
    ),
    same(
        "copy_from_index_file",
        "FROM {root}\nRUN echo x > /made\nFROM {root}\nCOPY --from=0 /made /m\n",
    ),
    same(
        "copy_from_stage_chown",
        "FROM {root} AS b\nRUN mkdir /out && echo x > /out/f\nFROM {root}\nCOPY --from=b --chown=1000:1000 /out/f /f\n",
    ),
    same(
        "stage_from_stage",
        "FROM {root} AS base\nENV X=1\nWORKDIR /w\nFROM base\nRUN echo $X > x\n",
    ),
    same(
        "scratch_stage_copy",
        "FROM {root} AS a\nRUN echo s > /s\nFROM {root}\nCOPY --from=a /s /s\n",
    ),
    // --- image settings -------------------------------------------------------------------------
    same(
        "expose",
        "FROM {root}\nEXPOSE 80 53/udp 8000-8001\nENV P=9090\nEXPOSE $P/tcp\n",
    ),
    same(
        "volume_forms",
        "FROM {root}\nVOLUME [\"/data\", \"/logs\"]\nVOLUME /a /b\n",
    ),
    same(
        "healthcheck_shell_with_options",
        "FROM {root}\nHEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --retries=3 CMD wget -q http://localhost/ || exit 1\n",
    ),
    same(
        "healthcheck_exec",
        "FROM {root}\nHEALTHCHECK CMD [\"true\"]\n",
    ),
    same("healthcheck_none", "FROM {root}\nHEALTHCHECK NONE\n"),
    same("stopsignal", "FROM {root}\nENV S=SIGQUIT\nSTOPSIGNAL $S\n"),
    same(
        "onbuild",
        "FROM {root}\nONBUILD RUN echo hi\nONBUILD COPY . /app\n",
    ),
    same(
        "shell_changes_shell_form",
        "FROM {root}\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo shell > /s\nCMD echo hi\nENTRYPOINT echo e\n",
    ),
    same(
        "maintainer",
        "FROM {root}\nMAINTAINER Some One <someone@example.com>\n",
    ),
    // --- refused, with the line and the way out ---------------------------------------------------
    refused(
        "refused_unterminated_heredoc",
        "FROM {root}\nRUN <<EOF\necho hi\n",
        2,
        "end it with a line holding only `EOF`",
    ),
    refused(
        "refused_wildcard_without_match",
        "FROM {root}\nCOPY *.none /x/\n",
        2,
        "matches the COPY source",
    ),
    refused(
        "refused_foreign_frontend",
        "# syntax=example.com/frontend:1\nFROM {root}\n",
        1,
        "docker/dockerfile:1",
    ),
    // A file with gzip's magic that is not a gzip'd tar is copied as it is.
    Case {
        name: "add_of_a_file_that_only_looks_compressed",
        dockerfile: "FROM {root}\nADD blob /x/\n",
        context: &[("blob", Bytes(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))],
        build_args: &[],
        expect: Same,
    },
    // bzip2's magic without a bzip2 stream: copied as it is too.
    Case {
        name: "add_of_a_file_that_only_looks_bzip2",
        dockerfile: "FROM {root}\nADD blob.bz2 /x/\n",
        context: &[("blob.bz2", Bytes(b"BZh91AY&SY"))],
        build_args: &[],
        expect: Same,
    },
];
