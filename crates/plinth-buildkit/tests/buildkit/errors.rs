//! Errors: a failing `RUN` names its step and shows its output; an unreachable builder is named.

use plinth_buildkit::{BuildkitBackend, BuildkitConfig, DockerHost, Error};
use plinth_executor::BuildOptions;
use plinth_oci::{Platform, Store};
use plinth_recipe::Container;
use plinth_test::{External, require_external};

use crate::common::{busybox_root, ok, require_all};

#[test]
fn a_failing_run_shows_its_step_line_and_output() {
    if !require_all() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::common::local_backend(dir.path());
    let recipe = Container::from_address(&busybox_root())
        .unwrap()
        .with_env("A", "1")
        .with_exec(["sh", "-c", "echo fine > /fine"])
        .with_exec(["sh", "-c", "echo first-line; echo to-stderr >&2; exit 3"]);
    let err = backend
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))
        .unwrap_err();
    let Error::BuildFailed(failure) = &err else {
        panic!("{err}")
    };
    assert_eq!(failure.step, Some(3), "{err}");
    assert_eq!(failure.line, Some(4), "{err}");
    // stdout and stderr are separate pipes, so their order may vary.
    let mut output = failure.output.clone();
    output.sort();
    assert_eq!(output, ["first-line", "to-stderr"], "{err}");
    assert!(failure.message.contains("exit code: 3"), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("BuildKit failed step #4 on linux/amd64 (builder `local`): RUN [\"sh\",\"-c\",\"echo first-line;"), "{text}");
    assert!(!text.contains("sha256:"), "no raw progress dump: {text}");
}

#[test]
fn an_unreachable_builder_is_named_with_how_to_check_it() {
    if !require_external(External::Docker) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = BuildkitConfig::new(Store::open(dir.path()).unwrap())
        .with_builder("linux/arm64=tcp://127.0.0.1:1".parse().unwrap());
    let backend = ok(BuildkitBackend::new(config));
    assert_eq!(
        backend.builder_for(&Platform::linux_arm64()),
        &DockerHost::Host("tcp://127.0.0.1:1".into())
    );
    let recipe = Container::from_address("127.0.0.1:5000/never/pulled:1").unwrap();
    let err = backend
        .build(&recipe, &BuildOptions::new([Platform::linux_arm64()]))
        .unwrap_err();
    assert!(matches!(err, Error::BuilderUnreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot reach the BuildKit builder `tcp://127.0.0.1:1` for linux/arm64"),
        "{text}"
    );
    assert!(text.contains("docker -H tcp://127.0.0.1:1 info"), "{text}");
}

#[test]
fn a_wrong_pin_is_refused_before_building() {
    if !require_external(External::Docker) {
        return;
    }
    let server = crate::common::FileServer::start([("/f".to_owned(), b"real".to_vec())].into());
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::common::local_backend(dir.path());
    let recipe = Container::from_address("127.0.0.1:5000/never/pulled:1")
        .unwrap()
        .with_file(
            "/f",
            plinth_recipe::FileSource::pinned_url(
                server.url("/f"),
                plinth_oci::Digest::of(b"other"),
            ),
        );
    let err = backend
        .build(&recipe, &BuildOptions::new([Platform::linux_amd64()]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Input(plinth_executor::Error::UrlChecksum { .. })
        ),
        "{err}"
    );
}
