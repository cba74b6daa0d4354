//! The release flow's supply-chain half: the standard annotations on a built version (right
//! after the build, so the checked image is the published one), and its attestations
//! (provenance and check report per platform), attached after the image is in the registry and
//! before its version tag.

use std::path::Path;
use std::process::Command;

use plinth_attest::{
    Attachment, BuildParameters, ImageAnnotations, ProvenanceContext, RecipeParameters,
    annotate_image, attestations,
};
use plinth_catalog::Version;
use plinth_oci::Reference;

use crate::build_version::BuiltVersion;
use crate::error::{Error, Result};
use crate::record::VersionRecord;

/// The repository URL and commit of the git checkout at `dir`, when it is one. The URL loses
/// any user info (a token in an `https://user:token@…` remote never reaches an image), and an
/// scp-like remote (`git@host:org/repo.git`) becomes `https://host/org/repo.git`.
pub fn source_control(dir: &Path) -> (Option<String>, Option<String>) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let revision = git(&["rev-parse", "--verify", "-q", "HEAD"]);
    let source = git(&["remote", "get-url", "origin"]).and_then(|u| public_url(&u));
    (source, revision)
}

/// `url` without credentials, as an `https://` URL where it was scp-like; `None` for a local
/// path.
fn public_url(url: &str) -> Option<String> {
    if let Some((scheme, rest)) = url.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        return match scheme {
            "file" => None,
            "ssh" | "git" => Some(format!("https://{rest}")),
            _ => Some(format!("{scheme}://{rest}")),
        };
    }
    // scp-like: `[user@]host:path`.
    let (host, path) = url.split_once(':')?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    (!host.is_empty() && !host.contains('/')).then(|| format!("https://{host}/{path}"))
}

/// The standard annotations `publish` writes on `version` of `repository` (whose recipe
/// starts from `root_image`): source and revision from the version's release record when it
/// has them, so re-publishing a version reproduces its digest, else from the catalog's git
/// checkout. What `plinth build REPOSITORY:VERSION --push` writes too.
pub fn version_annotations(
    catalog_dir: &Path,
    repository: &str,
    version: &Version,
    root_image: Option<String>,
) -> Result<ImageAnnotations> {
    let records = crate::ReleaseRecords::load(catalog_dir, repository)?;
    Ok(recorded_annotations(
        catalog_dir,
        records.get(version),
        version,
        root_image,
    ))
}

/// [`version_annotations`] with the version's release record already read.
pub(crate) fn recorded_annotations(
    catalog_dir: &Path,
    record: Option<&VersionRecord>,
    version: &Version,
    root_image: Option<String>,
) -> ImageAnnotations {
    let (source, revision) = match record {
        Some(r) if r.source.is_some() || r.revision.is_some() => {
            (r.source.clone(), r.revision.clone())
        }
        _ => source_control(catalog_dir),
    };
    ImageAnnotations {
        source,
        revision,
        version: Some(version.to_string()),
        base_name: root_image,
    }
}

/// The standard annotations of an image built from a Dockerfile whose context is `context`:
/// source and revision from the git checkout the context is in (none outside one), the root
/// the recipe's final stage starts from, and no version (a Dockerfile has none; the tag is not
/// one).
pub fn checkout_annotations(context: &Path, base_name: Option<String>) -> ImageAnnotations {
    let (source, revision) = source_control(context);
    ImageAnnotations {
        source,
        revision,
        version: None,
        base_name,
    }
}

/// Annotates `built` in `store` with `annotations` (see [`recorded_annotations`]), replacing
/// its root and platform digests.
pub(crate) fn annotate_built(
    store: &plinth_oci::Store,
    built: &mut BuiltVersion,
    annotations: ImageAnnotations,
) -> Result<()> {
    let annotated =
        annotate_image(store, &built.root, &built.builds, &annotations).map_err(|e| {
            Error::Attest {
                action: "annotate",
                target: format!("{}:{}", built.repository, built.version),
                source: Box::new(e),
            }
        })?;
    built.root = annotated.root.clone();
    built.platform_digests = annotated
        .manifests
        .iter()
        .map(|(p, d)| (p.clone(), d.digest.clone()))
        .collect();
    built.source = annotations.source;
    built.revision = annotations.revision;
    built.annotated = Some(annotated);
    Ok(())
}

/// The attestations of `built` (annotated and checked): per platform its provenance, its check
/// report and its SBOMs (SPDX and CycloneDX), generated from the image in `store`.
pub(crate) fn attachments_of(
    store: &plinth_oci::Store,
    built: &BuiltVersion,
    target: &Reference,
    source_date_epoch: Option<u64>,
) -> Result<Vec<Attachment>> {
    let Some(image) = &built.annotated else {
        return Ok(Vec::new());
    };
    let attest_err = |e| Error::Attest {
        action: "make the attestations of",
        target: target.to_string(),
        source: Box::new(e),
    };
    let parameters = BuildParameters::new(
        built.builds.iter().map(|b| &b.platform),
        built.labels.clone(),
        &ImageAnnotations {
            source: built.source.clone(),
            revision: built.revision.clone(),
            version: Some(built.version.to_string()),
            base_name: built.root_image.clone(),
        },
    )
    .with_source_date_epoch(source_date_epoch)
    .with_substitutions(built.substitutions.iter().map(|s| {
        (
            s.original.address().to_owned(),
            s.replacement.address().to_owned(),
        )
    }));
    let mut all = Vec::new();
    for build in &built.builds {
        let recipe = RecipeParameters::Family {
            repository: built.repository.clone(),
            version: built.version.to_string(),
            recipe_digest: built
                .recipe_digests
                .get(&build.platform)
                .map(ToString::to_string)
                .unwrap_or_default(),
            dockerfile: built
                .recipe_file
                .as_ref()
                .map(|f| plinth_attest::RecordedDockerfile {
                    path: f.path.clone(),
                    digest: f.digest.to_string(),
                }),
        };
        let context = ProvenanceContext {
            recipe: &recipe,
            engine: built.executor,
            image_name: &built.repository,
            build: &parameters,
        };
        all.extend(
            attestations(
                store,
                &context,
                std::slice::from_ref(build),
                image,
                &built.check_reports,
            )
            .map_err(attest_err)?,
        );
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_url_keeps_no_credentials() {
        assert_eq!(
            public_url("https://user:s3cret@git.example.com/org/catalog.git").as_deref(),
            Some("https://git.example.com/org/catalog.git")
        );
        assert_eq!(
            public_url("git@git.example.com:org/catalog.git").as_deref(),
            Some("https://git.example.com/org/catalog.git")
        );
        assert_eq!(
            public_url("ssh://git@git.example.com/org/catalog.git").as_deref(),
            Some("https://git.example.com/org/catalog.git")
        );
        assert_eq!(public_url("/srv/git/catalog"), None);
        assert_eq!(public_url("file:///srv/git/catalog"), None);
    }
}
