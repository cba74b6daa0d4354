//! `--output docker-archive:…`: named by `--tag` as docker loads it, one platform or a refusal.

use plinth_oci::Store;
use plinth_oci::docker_archive::read_docker_archive;
use plinth_test::{External, TestContext, require_external};

use super::{build_amd64, build_for, busybox_dockerfile, output, stdout_ok, write_dockerfile};

#[test]
fn a_tagged_build_written_to_a_docker_archive_loads_under_its_tag() {
    let Some((ctx, dockerfile)) =
        busybox_dockerfile("RUN echo archived > /archived\nCMD [\"cat\", \"/archived\"]\n")
    else {
        return;
    };
    let name = "plinth-test/build-archive:1";
    // `--tag NAME --output docker-archive:ARCHIVE`, ARCHIVE with an optional `:REF`.
    let build_into = |archive: &str| {
        stdout_ok(
            &ctx,
            build_amd64(&ctx, &dockerfile).args([
                "--tag",
                name,
                "--output",
                &format!("docker-archive:{archive}"),
            ]),
        )
    };
    let archive = ctx.temp_dir().join("image.tar");
    build_into(&archive.display().to_string());
    let store = Store::open(ctx.temp_dir().join("check-store")).unwrap();
    let images = read_docker_archive(&store, &archive).unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].repo_tags, [name]);

    // The archive's own `:REF` wins over `--tag`.
    let named = ctx.temp_dir().join("named.tar");
    build_into(&format!("{}:plinth-test/other:2", named.display()));
    let images = read_docker_archive(&store, &named).unwrap();
    assert_eq!(images[0].repo_tags, ["plinth-test/other:2"]);

    if !require_external(External::Docker) {
        return;
    }
    stdout_ok(
        &ctx,
        ctx.command("docker")
            .args(["load", "-i", archive.to_str().unwrap()]),
    );
    let ran = stdout_ok(&ctx, ctx.command("docker").args(["run", "--rm", name]));
    let _ = ctx.command("docker").args(["rmi", "-f", name]).output();
    assert_eq!(ran, "archived\n");
}

#[test]
fn a_two_platform_build_is_not_silently_cut_to_one_in_a_docker_archive() {
    let ctx = TestContext::new();
    let dockerfile = write_dockerfile(&ctx, "FROM busybox\nRUN true\n");
    let archive = ctx.temp_dir().join("image.tar");
    let out = output(
        &ctx,
        build_for(&ctx, &dockerfile, "linux/amd64,linux/arm64")
            .args(["--output", &format!("docker-archive:{}", archive.display())]),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a docker-archive holds one platform")
            && stderr.contains("linux/amd64, linux/arm64")
            && stderr.contains("--output oci:"),
        "{stderr}"
    );
    assert!(!archive.exists());
}
