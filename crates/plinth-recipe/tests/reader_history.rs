//! The history entries the reader records, against what docker 20.10's BuildKit wrote for the
//! same Dockerfiles (read back with `docker save` on the reference machine).

use plinth_recipe::{BaseConfig, Container, Op, ReaderOptions, parse_dockerfile_with};

const BASE: &str = "registry.example/base:1";

fn options(context: &std::path::Path) -> ReaderOptions {
    let base = BaseConfig {
        env: vec![
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
            ("BASEVAR".into(), "1".into()),
        ],
        ..BaseConfig::default()
    };
    ReaderOptions::new(context)
        .with_platform(plinth_oci::Platform::linux_amd64())
        .with_base_config(BASE, base)
}

/// `E ` for an entry without a layer, `L ` for one with.
fn entries(c: &Container) -> Vec<String> {
    c.ops()
        .iter()
        .filter_map(|op| match op {
            Op::History { created_by, layer } => {
                Some(format!("{} {created_by}", if *layer { "L" } else { "E" }))
            }
            _ => None,
        })
        .collect()
}

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.txt"), "hello\n").unwrap();
    std::fs::create_dir(dir.path().join("dir")).unwrap();
    std::fs::write(dir.path().join("dir/a"), "x\n").unwrap();
    dir
}

#[test]
fn every_instruction_is_recorded_as_buildkit_records_it() {
    let ctx = context();
    let text = format!(
        r#"FROM {BASE}
ARG A1
ARG A2=def
ENV E1=one E2="two words"
LABEL k=v "k2"="v 2"
RUN echo $A1 $A2
RUN ["echo","exec form"]
USER app
USER root:root
WORKDIR /work
WORKDIR sub
COPY file.txt /dst/
COPY --chown=1000:1000 --chmod=640 file.txt dir /dst2/
ADD file.txt /add.txt
EXPOSE 80 443/udp
VOLUME ["/data", "/v2"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD echo ok
ONBUILD RUN echo onbuild
SHELL ["/bin/sh","-ec"]
RUN echo after shell
MAINTAINER someone
ENTRYPOINT ["/bin/sh"]
CMD echo hi
"#
    );
    let c =
        parse_dockerfile_with(&text, &options(ctx.path()).with_build_arg("A1", "given")).unwrap();
    assert_eq!(
        entries(&c),
        [
            "E ARG A1",
            "E ARG A2=def",
            "E ENV E1=one E2=two words",
            "E LABEL k=v k2=v 2",
            "L RUN |2 A1=given A2=def /bin/sh -c echo $A1 $A2 # buildkit",
            "L RUN |2 A1=given A2=def echo exec form # buildkit",
            "E USER app",
            "E USER root:root",
            "L WORKDIR /work",
            "L WORKDIR /work/sub",
            "L COPY file.txt /dst/ # buildkit",
            "L COPY file.txt dir /dst2/ # buildkit",
            "L ADD file.txt /add.txt # buildkit",
            "E EXPOSE map[443/udp:{} 80/tcp:{}]",
            "E VOLUME [/data /v2]",
            "E STOPSIGNAL SIGTERM",
            r#"E HEALTHCHECK &{["CMD-SHELL" "echo ok"] "5s" "0s" "0s" '\x00'}"#,
            "E SHELL [/bin/sh -ec]",
            "L RUN |2 A1=given A2=def /bin/sh -ec echo after shell # buildkit",
            "E MAINTAINER someone",
            r#"E ENTRYPOINT ["/bin/sh"]"#,
            r#"E CMD ["/bin/sh" "-ec" "echo hi"]"#,
        ]
    );
}

#[test]
fn args_env_and_stages_shape_the_run_prefix_as_in_buildkit() {
    let ctx = context();
    let text = format!(
        r#"ARG G=global
FROM {BASE} AS builder
ARG G
ARG BUILDPLATFORM
ARG UNSET
ARG X=$G-x
ENV X=fromenv
RUN --mount=type=cache,target=/cache echo $G > /g.txt
WORKDIR /tmp
WORKDIR /
RUN mkdir -p /out && echo built > /out/a
FROM scratch AS s2
COPY --from=builder /out /out2
FROM builder
ARG L
RUN echo child
COPY --from=builder /out/a /b
COPY --from=1 /out2/a ./rel
COPY --chown=1000 file.txt f*.txt /multi/
ENV P=$PATH:/x
"#
    );
    let options = options(ctx.path())
        .with_build_arg("L", "lv")
        .with_build_arg("UNUSED", "u");
    let c = parse_dockerfile_with(&text, &options).unwrap();
    let build = plinth_oci::Platform::host();
    assert_eq!(
        entries(&c),
        [
            "E ARG G".to_owned(),
            "E ARG BUILDPLATFORM".to_owned(),
            "E ARG UNSET".to_owned(),
            "E ARG X=global-x".to_owned(),
            "E ENV X=fromenv".to_owned(),
            format!(
                "L RUN |4 G=global BUILDPLATFORM={build} UNSET= X=fromenv /bin/sh -c echo $G > /g.txt # buildkit"
            ),
            "L WORKDIR /tmp".to_owned(),
            "E WORKDIR /".to_owned(),
            format!(
                "L RUN |4 G=global BUILDPLATFORM={build} UNSET= X=fromenv /bin/sh -c mkdir -p /out && echo built > /out/a # buildkit"
            ),
            // A stage on a stage lists only the args it declares itself.
            "E ARG L".to_owned(),
            "L RUN |1 L=lv /bin/sh -c echo child # buildkit".to_owned(),
            "L COPY /out/a /b # buildkit".to_owned(),
            "L COPY /out2/a ./rel # buildkit".to_owned(),
            "L COPY file.txt f*.txt /multi/ # buildkit".to_owned(),
            "E ENV P=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/x".to_owned(),
        ]
    );
}

#[test]
fn the_history_never_changes_what_is_built() {
    // Two wordings of one build differ in their history only.
    let ctx = context();
    let read = |text: &str| parse_dockerfile_with(text, &options(ctx.path())).unwrap();
    let a = read(&format!("FROM {BASE}\nCOPY file.txt /x/\nRUN [\"true\"]\n"));
    let b = read(&format!(
        "FROM {BASE}\nCOPY ./file.txt /x/\nRUN [\"true\"]\n"
    ));
    assert_ne!(a, b);
    assert_eq!(a.without_history(), b.without_history());
    let keys = |c: &Container| -> Vec<Vec<u8>> {
        c.ops()
            .iter()
            .filter(|op| !matches!(op, Op::History { .. }))
            .map(Op::op_key)
            .collect()
    };
    assert_eq!(keys(&a), keys(&b));
}
