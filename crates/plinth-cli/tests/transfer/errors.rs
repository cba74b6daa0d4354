//! Registry refusals as the command line prints them: one sentence per cause, exit 1, and the
//! registry's full answer (headers, body) only with `-v`.

use plinth_test::proxy::{Fault, Rule};
use plinth_test::{FaultProxy, LocalRegistry, TestContext};

use crate::image::busybox_layout;

#[test]
fn a_denied_push_is_one_sentence_and_the_dump_needs_verbose() {
    let ctx = TestContext::new();
    let layout = busybox_layout(ctx.temp_dir(), "1.0.0");
    let proxy = FaultProxy::start(LocalRegistry::shared());
    proxy.add_rule(Rule::on("POST", "/v2/team/denied/blobs/uploads/", Fault::status(403)).always());
    let source = format!("oci:{}:1.0.0", layout.display());
    let target = format!("docker://{}", proxy.image("team/denied:1.0.0"));

    let out = ctx
        .plinth()
        .args(["copy", &source, &target])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let sentence = format!(
        "uploading a blob to `{}/team/denied` failed: the registry answered HTTP 403 DENIED \
         (injected by the test fault proxy); the credentials in use may not do this here",
        proxy.host()
    );
    assert!(stderr.contains(&sentence), "{stderr}");
    assert!(
        stderr.starts_with("error: failed to write docker://"),
        "{stderr}"
    );
    for raw in ["content-type", "body:", "{\"errors\"", "returned HTTP"] {
        assert!(!stderr.contains(raw), "`{raw}` without -v:\n{stderr}");
    }

    let out = ctx
        .plinth()
        .args(["-v", "copy", &source, &target])
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{verbose}");
    assert!(
        verbose.contains("returned HTTP 403 (DENIED); content-type: application/json")
            && verbose.contains(r#"body: {"errors":[{"code":"DENIED""#),
        "-v shows the registry's whole answer:\n{verbose}"
    );
}
