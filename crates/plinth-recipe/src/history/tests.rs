//! The lines as docker 20.10's BuildKit wrote them for the same instructions on this project's
//! reference machine (read back with `docker save`).

use super::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn run_lines_join_the_argv_after_the_declared_args() {
    assert_eq!(
        run_line(&[], &strings(&["/bin/sh", "-c", "echo base > /base.txt"])),
        "RUN /bin/sh -c echo base > /base.txt # buildkit"
    );
    assert_eq!(
        run_line(
            &pairs(&[("A1", "given"), ("A2", "def")]),
            &strings(&["echo", "exec form"])
        ),
        "RUN |2 A1=given A2=def echo exec form # buildkit"
    );
    assert_eq!(
        run_line(&pairs(&[("UNSET", "")]), &strings(&["true"])),
        "RUN |1 UNSET= true # buildkit"
    );
}

#[test]
fn metadata_lines_read_as_buildkit_prints_them() {
    assert_eq!(
        pairs_line("ENV", &pairs(&[("E1", "one"), ("E2", "two words")])),
        "ENV E1=one E2=two words"
    );
    assert_eq!(
        arg_line(&[("A1".into(), None), ("X".into(), Some("global-x".into()))]),
        "ARG A1 X=global-x"
    );
    assert_eq!(
        command_line("CMD", &strings(&["/bin/sh", "-ec", "echo hi"])),
        r#"CMD ["/bin/sh" "-ec" "echo hi"]"#
    );
    assert_eq!(command_line("ENTRYPOINT", &[]), "ENTRYPOINT []");
    assert_eq!(
        copy_line("COPY", &strings(&["file.txt", "dir"]), "/dst2/"),
        "COPY file.txt dir /dst2/ # buildkit"
    );
    assert_eq!(
        workdir_entry("/work", "sub"),
        ("WORKDIR /work/sub".into(), true)
    );
    assert_eq!(
        workdir_entry("/work", "/base.txt/../tmp"),
        ("WORKDIR /base.txt/../tmp".into(), true)
    );
    assert_eq!(workdir_entry("/work", "/"), ("WORKDIR /".into(), false));
}

#[test]
fn settings_read_as_go_formats_them() {
    let line = |s: ImageSetting| setting_line(&s).unwrap();
    assert_eq!(
        line(ImageSetting::Expose {
            ports: strings(&["80/tcp", "443/udp", "80/tcp"])
        }),
        "EXPOSE map[443/udp:{} 80/tcp:{}]"
    );
    assert_eq!(
        line(ImageSetting::Volume {
            paths: strings(&["/data", "/v2"])
        }),
        "VOLUME [/data /v2]"
    );
    assert_eq!(
        line(ImageSetting::Shell {
            argv: strings(&["/bin/sh", "-ec"])
        }),
        "SHELL [/bin/sh -ec]"
    );
    assert_eq!(
        line(ImageSetting::Healthcheck {
            check: HealthCheck {
                test: strings(&["CMD-SHELL", "echo ok"]),
                interval: Some(5_000_000_000),
                ..HealthCheck::default()
            }
        }),
        r#"HEALTHCHECK &{["CMD-SHELL" "echo ok"] "5s" "0s" "0s" '\x00'}"#
    );
    assert_eq!(
        line(ImageSetting::Healthcheck {
            check: HealthCheck {
                test: strings(&["CMD", "curl", "-f", "http://x/"]),
                interval: Some(90_000_000_000),
                timeout: Some(1_500_000_000),
                start_period: Some(500_000_000),
                retries: Some(3),
                ..HealthCheck::default()
            }
        }),
        r#"HEALTHCHECK &{["CMD" "curl" "-f" "http://x/"] "1m30s" "1.5s" "500ms" '\x03'}"#
    );
    assert_eq!(
        line(ImageSetting::StopSignal {
            signal: "SIGTERM".into()
        }),
        "STOPSIGNAL SIGTERM"
    );
    assert_eq!(
        line(ImageSetting::Author {
            name: "someone".into()
        }),
        "MAINTAINER someone"
    );
    assert_eq!(
        setting_line(&ImageSetting::OnBuild {
            trigger: "RUN echo onbuild".into()
        }),
        None
    );
}

#[test]
fn operations_of_a_rust_recipe_read_as_their_dockerfile_lines() {
    let state = ContainerState::default();
    let entry = |op: Op| op_entry(&op, &state);
    assert_eq!(
        entry(Op::Exec {
            argv: strings(&["/bin/sh", "-c", "echo hi"]),
            network: crate::Network::Disabled,
            env: Default::default(),
            mounts: Vec::new(),
        }),
        Some(HistoryEntry::new(
            "RUN /bin/sh -c echo hi # buildkit".into(),
            true
        ))
    );
    assert_eq!(
        entry(Op::File {
            path: "/srv/app.conf".into(),
            source: FileSource::HostFile("/home/someone/checkout/app.conf".into()),
            owner: Some("1000".into()),
            mode: Some(0o600.into()),
        }),
        Some(HistoryEntry::new(
            "COPY app.conf /srv/app.conf # buildkit".into(),
            true
        ))
    );
    assert_eq!(
        entry(Op::Workdir { path: "/".into() }),
        Some(HistoryEntry::new("WORKDIR /".into(), false))
    );
    assert_eq!(
        entry(Op::Env {
            name: "A".into(),
            value: "b c".into()
        }),
        Some(HistoryEntry::new("ENV A=b c".into(), false))
    );
    assert_eq!(entry(Op::UnmountCache { path: "/c".into() }), None);
}
