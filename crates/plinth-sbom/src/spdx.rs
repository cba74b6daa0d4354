//! SPDX 2.3 JSON: a document describing the image (a `CONTAINER` package with its manifest
//! digest as checksum and purl), the OS package and every package found, each `CONTAINS`-ed by
//! the image. Licenses without an SPDX identifier become `LicenseRef-` entries with their text.

use serde_json::{Value, json};

use crate::license::License;
use crate::model::{Package, Sbom};
use plinth_oci::time::rfc3339;

const IMAGE_ID: &str = "SPDXRef-Image";
const OS_ID: &str = "SPDXRef-OperatingSystem";

/// The document as a JSON value (the caller makes it canonical).
pub fn document(sbom: &Sbom) -> Value {
    let subject = &sbom.subject;
    let mut packages = vec![json!({
        "SPDXID": IMAGE_ID,
        "name": subject.name,
        "versionInfo": subject.digest.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": subject.digest.hex()}],
        "externalRefs": [purl_ref(&subject.purl())],
        "comment": format!("platform {}", subject.platform),
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": IMAGE_ID,
    })];
    if let Some(os) = &sbom.os {
        let mut package = json!({
            "SPDXID": OS_ID,
            "name": os.id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        });
        if let Some(version) = &os.version_id {
            package["versionInfo"] = json!(version);
        }
        if let Some(pretty) = &os.pretty_name {
            package["description"] = json!(pretty);
        }
        packages.push(package);
        relationships.push(contains(OS_ID));
    }
    let mut extracted: Vec<(String, String)> = Vec::new();
    for (i, package) in sbom.packages.iter().enumerate() {
        let id = package_id(package, i);
        packages.push(package_json(package, &id, &mut extracted));
        relationships.push(contains(&id));
    }
    extracted.sort();
    extracted.dedup();
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{} ({})", subject.name, subject.platform),
        "documentNamespace": format!(
            "urn:plinth:sbom:spdx:{}:{}",
            subject.digest.hex(),
            subject.platform.to_string().replace('/', "-")
        ),
        "creationInfo": {
            "created": rfc3339(sbom.created),
            "creators": [format!("Tool: {}", sbom.tool)],
        },
        "documentDescribes": [IMAGE_ID],
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        document["hasExtractedLicensingInfos"] = extracted
            .into_iter()
            .map(|(id, name)| {
                json!({
                    "licenseId": id,
                    "name": name,
                    "extractedText": format!("The package metadata names the license `{name}`."),
                })
            })
            .collect();
    }
    document
}

fn purl_ref(purl: &str) -> Value {
    json!({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl})
}

fn contains(id: &str) -> Value {
    json!({"spdxElementId": IMAGE_ID, "relationshipType": "CONTAINS", "relatedSpdxElement": id})
}

/// `SPDXRef-Package-deb-socat-3`: the kind, the name (letters, digits, `.` and `-` only) and
/// the package's position, which the sorted package list makes stable.
fn package_id(package: &Package, index: usize) -> String {
    format!(
        "SPDXRef-Package-{}-{}-{index}",
        package.kind.purl_type(),
        sanitize(&package.name)
    )
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn package_json(package: &Package, id: &str, extracted: &mut Vec<(String, String)>) -> Value {
    let declared: Vec<String> = package
        .licenses
        .iter()
        .map(|license| match license {
            License::Spdx(expr) if package.licenses.len() > 1 && expr.contains(' ') => {
                format!("({expr})")
            }
            License::Spdx(expr) => expr.clone(),
            License::Named(name) => {
                let id = license_ref(name);
                extracted.push((id.clone(), name.clone()));
                id
            }
        })
        .collect();
    let declared = if declared.is_empty() {
        "NOASSERTION".to_owned()
    } else {
        declared.join(" AND ")
    };
    let mut value = json!({
        "SPDXID": id,
        "name": package.name,
        "versionInfo": package.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": declared,
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "LIBRARY",
        "externalRefs": [purl_ref(&package.purl)],
        "sourceInfo": format!("recorded in {}", package.found_in),
    });
    if let Some(source) = &package.source {
        value["comment"] = json!(format!("built from source package {source}"));
    }
    value
}

/// `LicenseRef-` + the name made an idstring + a short hash (two names that sanitise alike
/// stay apart).
fn license_ref(name: &str) -> String {
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    let mut clean = sanitize(name);
    clean.truncate(48);
    format!("LicenseRef-{clean}-{}", &hash[..8])
}
