//! What the suite compares of the image history: each entry's `created_by`, `comment` and
//! `empty_layer`, in order (not `created`: BuildKit stamps the build's time, plinth its
//! reproducible one), the base image's entries first.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::cases::{Case, ContextEntry, Expect};

const CONTEXT: &[(&str, ContextEntry)] = &[
    ("a.txt", ContextEntry::File("alpha\n", 0o644)),
    ("run.sh", ContextEntry::File("#!/bin/sh\necho run\n", 0o755)),
];

/// Cases for the history above all (every case compares it): each instruction's entry, the
/// empty layers of steps that change nothing, and the args listed before a `RUN`.
pub const HISTORY_CASES: &[Case] = &[
    Case {
        name: "history_of_every_instruction",
        dockerfile: "FROM {root}\nARG GIVEN\nARG DEF=d\nENV E1=one E2=\"two words\"\n\
                     LABEL k=v \"k 2\"=\"v 2\"\nRUN true\nRUN [\"sh\", \"-c\", \"echo $GIVEN > /given\"]\n\
                     WORKDIR /tmp\nWORKDIR /\nWORKDIR /work\nWORKDIR sub\nUSER airbyte\nUSER root\n\
                     COPY --chown=1000:1000 --chmod=640 a.txt ./copied\nADD run.sh /bin/run\n\
                     EXPOSE 80 53/udp 8000-8001\nVOLUME [\"/data\", \"/cache\"]\nSTOPSIGNAL SIGINT\n\
                     HEALTHCHECK --interval=90s --timeout=1500ms --start-period=2s --retries=3 CMD [\"true\"]\n\
                     ONBUILD RUN echo later\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo shell > /shell\n\
                     MAINTAINER someone <s@example.com>\nENTRYPOINT [\"/bin/run\"]\nCMD echo hi\n",
        context: CONTEXT,
        build_args: &[("GIVEN", "g v"), ("UNUSED", "u")],
        expect: Expect::Same,
    },
    Case {
        name: "history_of_stages",
        dockerfile: "ARG G=global\nFROM {root} AS build\nARG G\nARG UNSET\nARG X=$G-x\nENV X=env\n\
                     RUN mkdir /out && echo $G$X > /out/f\nFROM build AS child\nARG L=l\n\
                     RUN echo $L > /l\nCOPY --from=build /out/f /f\nCOPY --from=0 /out ./o\n\
                     ENV P=$PATH:/x\nHEALTHCHECK NONE\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    // A base whose history accounts for none of its layers: BuildKit's exporter appends an
    // entry named after the top layer's snapshot (an exec's, then a file operation's).
    Case {
        name: "history_of_a_base_without_history_ends_with_an_exec",
        dockerfile: "FROM {bare_root}\nCOPY a.txt run.sh /d/\nENV A=1\nRUN echo hi > /x\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
    Case {
        name: "history_of_a_base_without_history_ends_with_a_copy",
        dockerfile: "FROM {bare_root}\nRUN echo hi > /x\nWORKDIR /w\nCOPY a.txt run.sh ./\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Same,
    },
];

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
pub const EXPECTED: &[(&str, &[&str])] = &[
    (
        "env_modifiers_without_colon",
        &[
            "E ENV S=set E=",
            "E ARG U",
            "L RUN |1 U= /bin/sh -c echo \"[${E-dash}][${U-dash}][${S+plus}][${U+plus}]\" > /m # buildkit",
        ],
    ),
    (
        "pattern_modifiers",
        &[
            "E ARG FILE=archive.tar.gz",
            "E ARG P=/usr/local/lib",
            "E ENV BASE=archive EXT=tar.gz STEM=archive.tar LAST=gz SLASHED=_usr_local_lib FIRST=/usr/Local/lib NONE=archive.tar.gz",
            "L RUN |2 FILE=archive.tar.gz P=/usr/local/lib /bin/sh -c echo \"$BASE|$EXT|$STEM|$LAST|$SLASHED|$FIRST|$NONE\" > /m # buildkit",
            "L WORKDIR /w/archive",
            "L RUN |2 FILE=archive.tar.gz P=/usr/local/lib /bin/sh -c pwd > /m2 # buildkit",
        ],
    ),
    // The current frontend expands an ARG's words one by one, its history too.
    (
        "arg_sequential",
        &[
            "E ARG A=1 B=1",
            "L RUN |2 A=1 B=1 /bin/sh -c echo $A$B > /ab # buildkit",
        ],
    ),
    (
        "global_platform_arg_declared_again",
        &[
            "E ARG TARGETARCH",
            "L RUN |1 TARGETARCH=amd64 /bin/sh -c echo $TARGETARCH > /arch # buildkit",
        ],
    ),
    (
        "add_local_archive_zstd",
        &[
            "L ADD bundle.tar.zst /z/ # buildkit",
            "L RUN /bin/sh -c stat -c '%a %u %g %n' /z/pkg /z/pkg/a.txt /z/top.txt > /z.meta # buildkit",
        ],
    ),
    // A heredoc that is not the whole command is handed to the shell as written, each body
    // followed by its delimiter.
    (
        "heredoc_blank_after_the_arrows_and_here_strings",
        &[
            "L RUN /bin/sh -c cat << EOF > /w1\nspaced\nEOF # buildkit",
            "L RUN /bin/sh -c echo here > /w2 # a here-string, no heredoc: cat <<<here # buildkit",
            "L RUN /bin/sh -c echo '<<q' > /w3 # buildkit",
        ],
    ),
    (
        "copy_chmod_symbolic",
        &[
            "L COPY tree /s/ # buildkit",
            "L COPY run.sh a.txt /x/ # buildkit",
            "L COPY secret.txt /g # buildkit",
            "L RUN /bin/sh -c stat -c '%a %n' /s/one.txt /s/sub /s/sub/two.txt /x/run.sh /x/a.txt /g > /modes # buildkit",
        ],
    ),
    // Flags are never part of the text.
    (
        "add_unpack_and_run_security_sandbox",
        &[
            "L ADD bundle.tar /kept/ # buildkit",
            "L ADD bundle.tar /x/ # buildkit",
            "L ADD bundle.tar /k2 # buildkit",
            "L RUN /bin/sh -c ls /kept /x > /listing && ls -d /k2 >> /listing # buildkit",
        ],
    ),
    // The triggers of a stage's base run first, recorded as the instructions they are;
    // ONBUILD itself records nothing.
    (
        "onbuild_copy_from_stage_runs_in_the_child",
        &[
            "L RUN /bin/sh -c echo b > /b # buildkit",
            "L COPY /asset /from-trigger # buildkit",
            "L RUN /bin/sh -c cat /from-trigger > /seen # buildkit",
        ],
    ),
    // A lone heredoc runs its body under the shell.
    (
        "heredoc_run",
        &[
            "L RUN /bin/sh -c echo one > /h1\necho two >> /h1\n # buildkit",
            "L RUN /bin/sh -c echo after > /h1b # buildkit",
        ],
    ),
    // A lone heredoc with a shebang runs as a file mounted at /dev/pipes.
    (
        "heredoc_run_shebang",
        &["L RUN /bin/sh -c /dev/pipes/EOF # buildkit"],
    ),
    (
        "heredoc_run_several_with_tabs",
        &[
            "E ENV W=world",
            "L RUN /bin/sh -c cat <<-A > /h3 && cat <<'B' >> /h3\n\tone $W\nA\ntwo $W\nB # buildkit",
        ],
    ),
    // Heredoc sources read `<<NAME`, after the paths; flags are left out.
    (
        "heredoc_copy",
        &[
            "E ARG V=val",
            "L COPY <<EOF <<RAW /c/ # buildkit",
            "L COPY <<S /s.sh # buildkit",
            "L RUN |1 V=val /bin/sh -c /s.sh > /s.out # buildkit",
        ],
    ),
];

/// The entries of `got` after the root's, checked against a case's expected ones.
pub fn expected_differences(name: &str, root_entries: usize, got: &[String]) -> Option<String> {
    let (_, want) = EXPECTED.iter().find(|(n, _)| *n == name)?;
    let want: Vec<String> = want
        .iter()
        .map(|w| format!("{w} #buildkit.dockerfile.v0"))
        .collect();
    differences(&want, got.get(root_entries..).unwrap_or_default())
}
