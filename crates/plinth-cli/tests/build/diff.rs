//! `plinth diff`: two builds of a busybox Dockerfile whose copied files differ, one pushed to
//! the loopback registry and one written as an OCI layout, compared from a fresh store.

use plinth_test::{External, TestContext, require_external};

use super::{build_amd64, busybox_layout, stdout_ok, write_dockerfile};

fn status(socat: &str) -> String {
    format!(
        "Package: socat\nStatus: install ok installed\nArchitecture: amd64\nVersion: {socat}\n\n\
         Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2\n"
    )
}

#[test]
fn diff_names_the_changed_file_and_the_upgraded_package() {
    if !require_external(External::Root) {
        return;
    }
    let ctx = TestContext::new();
    let registry = plinth_test::LocalRegistry::shared();
    let root = busybox_layout(ctx.temp_dir());
    let dockerfile = write_dockerfile(
        &ctx,
        &format!(
            "FROM {root}\nCOPY motd /etc/motd\nCOPY status /var/lib/dpkg/status\nRUN echo built > /built\n"
        ),
    );
    let motd = ctx.temp_dir().join("motd");
    let status_file = ctx.temp_dir().join("status");
    std::fs::write(&motd, "welcome\n").unwrap();
    std::fs::write(&status_file, status("1.7.4.3-1")).unwrap();
    let old = registry.image(&format!("diff/base-{}:1", std::process::id()));
    stdout_ok(&ctx, ctx.build_push(&old).arg("-f").arg(&dockerfile));
    std::fs::write(&motd, "welcome, again\n").unwrap();
    std::fs::write(&status_file, status("1.7.4.4-2")).unwrap();
    let layout = ctx.temp_dir().join("new");
    let new = format!("oci:{}:v2", layout.display());
    stdout_ok(
        &ctx,
        build_amd64(&ctx, &dockerfile).args(["--output", &new]),
    );

    // A fresh store: one image from the registry, one from the layout.
    let fresh = TestContext::new();
    let old_arg = format!("docker://{old}");
    let text = stdout_ok(&fresh, fresh.plinth().args(["diff", &old_arg, &new]));
    assert!(
        text.contains("upgraded   deb socat 1.7.4.3-1 → 1.7.4.4-2"),
        "{text}"
    );
    assert!(
        text.contains("changed /etc/motd: size 8 B → 15 B, content"),
        "{text}"
    );
    assert!(!text.contains("bash"), "bash did not change:\n{text}");
    // The RUN step wrote the same file on both: its layer is the same.
    assert!(
        text.contains("layer 3: ")
            && text
                .lines()
                .any(|l| l.starts_with("  layer 3:") && l.ends_with("(same)")),
        "{text}"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout_ok(
        &fresh,
        fresh.plinth().args(["diff", &old_arg, &new, "--json"]),
    ))
    .unwrap();
    let platform = &json["platforms"][0];
    assert_eq!(platform["platform"], "linux/amd64");
    let files: Vec<(String, String)> = platform["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["files"].as_array().unwrap().clone())
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("etc/motd".to_owned(), "changed".to_owned()),
            ("var/lib/dpkg/status".to_owned(), "changed".to_owned()),
        ]
    );
    assert_eq!(platform["packages"][0]["name"], "socat");
    assert_eq!(platform["packages"][0]["after"][0], "1.7.4.4-2");

    // The same image twice: nothing differs.
    let same = stdout_ok(&fresh, fresh.plinth().args(["diff", &old_arg, &old_arg]));
    assert!(same.contains("[linux/amd64] same"), "{same}");
    assert!(same.contains("packages: same"), "{same}");
}
