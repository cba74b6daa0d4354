//! The host's CA certificates for build steps and runs, for machines behind a TLS-intercepting
//! proxy, where HTTPS from a step (pip from PyPI, say) fails with the image's own trust store.
//!
//! The bundle is bind-mounted read-only at [`STEP_CA_BUNDLE_PATH`], outside the image's trust
//! store (a step may rewrite that one, `apt-get upgrade` of `ca-certificates` does), and the
//! usual variables point at it for the step only. Neither the file nor the variables end up in a
//! layer or the image config, so images and their digests are the same with or without it.

use std::path::Path;

use plinth_sandbox::{MountSpec, RunSpec};

/// Where steps see the host bundle.
pub const STEP_CA_BUNDLE_PATH: &str = "/run/plinth/ca-certificates.crt";

/// The variables OpenSSL, pip, requests and curl read a CA bundle from.
const CA_BUNDLE_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];

/// `spec` with the host bundle mounted and named by the variables the image does not set.
pub(crate) fn with_host_trust(mut spec: RunSpec, bundle: Option<&Path>) -> RunSpec {
    let Some(bundle) = bundle else {
        return spec;
    };
    for var in CA_BUNDLE_VARS {
        if !spec.env().iter().any(|(k, _)| k == var) {
            spec = spec.with_env(*var, STEP_CA_BUNDLE_PATH);
        }
    }
    spec.with_mount(MountSpec::bind(bundle, STEP_CA_BUNDLE_PATH).with_readonly(true))
}
