//! CycloneDX 1.5 JSON: the image as `metadata.component` (a `container`), the OS as an
//! `operating-system` component and every package as a `library`, with a dependency entry
//! saying the image holds them all.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::Digest as _;

use crate::license::License;
use crate::model::{Package, Sbom};
use plinth_oci::time::rfc3339;

/// The document as a JSON value (the caller makes it canonical).
pub fn document(sbom: &Sbom) -> Value {
    let subject = &sbom.subject;
    let image_ref = subject.purl();
    let mut components = Vec::new();
    let mut refs = Vec::new();
    if let Some(os) = &sbom.os {
        let bom_ref = format!("os:{}", os.distro());
        let mut component = json!({"type": "operating-system", "bom-ref": bom_ref, "name": os.id});
        if let Some(version) = &os.version_id {
            component["version"] = json!(version);
        }
        if let Some(pretty) = &os.pretty_name {
            component["description"] = json!(pretty);
        }
        components.push(component);
        refs.push(bom_ref);
    }
    let mut purl_count: BTreeMap<&str, usize> = BTreeMap::new();
    for package in &sbom.packages {
        *purl_count.entry(package.purl.as_str()).or_default() += 1;
    }
    for package in &sbom.packages {
        // A bom-ref is unique in a document; the same distribution installed twice (two
        // site-packages) keeps its purl and gets its location added.
        let bom_ref = if purl_count[package.purl.as_str()] > 1 {
            format!("{}#{}", package.purl, package.found_in)
        } else {
            package.purl.clone()
        };
        components.push(component(package, &bom_ref));
        refs.push(bom_ref);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial_number(sbom),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(sbom.created),
            "tools": {"components": [{
                "type": "application",
                "name": "plinth",
                "version": sbom.tool.trim_start_matches("plinth-"),
            }]},
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": subject.name,
                "version": subject.digest.to_string(),
                "purl": image_ref,
                "hashes": [{"alg": "SHA-256", "content": subject.digest.hex()}],
                "properties": [{"name": "plinth:platform", "value": subject.platform.to_string()}],
            },
        },
        "components": components,
        "dependencies": [{"ref": image_ref, "dependsOn": refs}],
    })
}

fn component(package: &Package, bom_ref: &str) -> Value {
    let mut value = json!({
        "type": "library",
        "bom-ref": bom_ref,
        "name": package.name,
        "version": package.version,
        "purl": package.purl,
        "properties": [{"name": "plinth:found_in", "value": package.found_in}],
    });
    if !package.licenses.is_empty() {
        value["licenses"] = licenses(&package.licenses);
    }
    value
}

/// CycloneDX holds either license entries (an SPDX `id` or a `name`) or one `expression`.
fn licenses(licenses: &[License]) -> Value {
    let compound = licenses
        .iter()
        .any(|l| matches!(l, License::Spdx(_)) && l.spdx_id().is_none());
    let all_spdx = licenses.iter().all(|l| matches!(l, License::Spdx(_)));
    if compound && all_spdx {
        let parts: Vec<String> = licenses
            .iter()
            .map(|l| match l {
                License::Spdx(e) if licenses.len() > 1 && e.contains(' ') => format!("({e})"),
                License::Spdx(e) | License::Named(e) => e.clone(),
            })
            .collect();
        return json!([{"expression": parts.join(" AND ")}]);
    }
    licenses
        .iter()
        .map(|l| match (l.spdx_id(), l) {
            (Some(id), _) => json!({"license": {"id": id}}),
            (None, License::Spdx(name) | License::Named(name)) => {
                json!({"license": {"name": name}})
            }
        })
        .collect()
}

/// A UUID made from the image digest and platform (same image, same serial number), shaped
/// as a version 5 UUID.
fn serial_number(sbom: &Sbom) -> String {
    let seed = format!(
        "cyclonedx {} {}",
        sbom.subject.digest, sbom.subject.platform
    );
    let mut b = sha2::Sha256::digest(seed.as_bytes())[..16].to_vec();
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
