//! The inputs of a BuildKit build for its provenance, recorded as the embedded engine records
//! them: root images with their platform manifest digest (BuildKit prints the digest it
//! resolved a root to, an index's for a multi-platform root; [`RootManifests`] reads which
//! platform manifest that index names, and the index digest is kept beside it), URL inputs (in
//! [`PlatformBuild::url_inputs`]), host files by content and host directories by the
//! [`TreeDigest`](plinth_executor::TreeDigest) both executors use.
//!
//! [`PlatformBuild::url_inputs`]: plinth_executor::PlatformBuild::url_inputs

use std::collections::BTreeMap;

use plinth_executor::{BuildInput, InputKind, RootManifests};
use plinth_oci::{Digest, ImageLocation, Platform, Reference};
use plinth_recipe::{Container, Op, SourceKind};

use crate::error::Result;
use crate::roots::LoadedRoot;

/// What the root images of one platform's build resolved to.
pub(crate) struct RootDigests<'a> {
    /// Address as BuildKit printed it → the digest it resolved it to.
    pub(crate) resolved: &'a BTreeMap<String, Digest>,
    /// The platform built.
    pub(crate) platform: &'a Platform,
    /// Where an index's platform manifest is looked up.
    pub(crate) manifests: Option<&'a dyn RootManifests>,
    /// Roots plinth handed to the builder, by address: recorded as the resolver found them
    /// (platform manifest, index beside it), whatever the root's kind.
    pub(crate) loaded: &'a BTreeMap<String, LoadedRoot>,
}

/// The inputs of `container` (the recipe as given, before URL inputs become host files;
/// helpers included): its roots here, its host inputs as both executors read them
/// ([`plinth_executor::recipe_host_inputs`]).
pub(crate) fn build_inputs(
    container: &Container,
    roots: &RootDigests<'_>,
) -> Result<Vec<BuildInput>> {
    let mut inputs = plinth_executor::recipe_host_inputs(container)?;
    collect_roots(container, roots, &mut inputs);
    Ok(inputs)
}

fn collect_roots(container: &Container, roots: &RootDigests<'_>, inputs: &mut Vec<BuildInput>) {
    // A stage pinned to another platform (`FROM --platform=…`) resolved its roots there.
    let pinned = RootDigests {
        platform: container.run_platform(roots.platform),
        ..*roots
    };
    let roots = &pinned;
    for op in container.ops() {
        if let Op::From { source } = op {
            if let Some(root) = roots.loaded.get(source.address()) {
                inputs.push(
                    BuildInput::new(
                        InputKind::RootImage,
                        source.address(),
                        root.manifest.clone(),
                    )
                    .with_index_digest(root.index_digest.clone()),
                );
            } else if let SourceKind::Image(ImageLocation::Registry(reference)) = source.kind() {
                inputs.push(root_input(source.address(), reference, roots));
            }
        }
        for (_, helper) in op.helpers() {
            collect_roots(helper, roots, inputs);
        }
    }
}

/// A root as the embedded engine records it: its platform manifest digest, the index digest
/// beside it when BuildKit resolved an index.
fn root_input(address: &str, reference: &Reference, roots: &RootDigests<'_>) -> BuildInput {
    let printed = root_digest(reference, roots.resolved);
    let found = printed
        .as_ref()
        .zip(roots.manifests)
        .and_then(|(digest, manifests)| {
            let pinned = reference.repository_only().with_digest(digest.clone());
            manifests.platform_manifest(&pinned, roots.platform)
        });
    let (digest, index_digest) = match (printed, found) {
        (Some(printed), Some(manifest)) if manifest != printed => (Some(manifest), Some(printed)),
        (Some(printed), None) => {
            tracing::warn!(
                root = address,
                "the root's platform manifest is unknown; its provenance digest is the one \
                 BuildKit resolved (an index's for a multi-platform root)"
            );
            (Some(printed), None)
        }
        (printed, _) => (printed, None),
    };
    BuildInput {
        kind: InputKind::RootImage,
        name: address.to_owned(),
        digest,
        index_digest,
    }
}

/// The digest a root resolved to: the one the recipe pins, else the one BuildKit printed for
/// the same repository and tag.
fn root_digest(reference: &Reference, resolved: &BTreeMap<String, Digest>) -> Option<Digest> {
    if let Some(pinned) = reference.digest() {
        return Some(pinned.clone());
    }
    resolved.iter().find_map(|(address, digest)| {
        let printed: Reference = address.parse().ok()?;
        (printed.name() == reference.name() && printed.tag() == reference.tag())
            .then(|| digest.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_takes_its_pin_or_the_digest_buildkit_printed_for_its_name_and_tag() {
        let printed = Digest::of(b"printed");
        let resolved =
            BTreeMap::from([("docker.io/library/busybox:1.36".to_owned(), printed.clone())]);
        let by_tag: Reference = "busybox:1.36".parse().unwrap();
        assert_eq!(root_digest(&by_tag, &resolved), Some(printed));
        let other_tag: Reference = "busybox:1.37".parse().unwrap();
        assert_eq!(root_digest(&other_tag, &resolved), None);
        let pin = Digest::of(b"pin");
        let pinned = by_tag.with_digest(pin.clone());
        assert_eq!(root_digest(&pinned, &resolved), Some(pin));
    }

    #[derive(Debug)]
    struct Index(Digest);

    impl RootManifests for Index {
        fn platform_manifest(&self, reference: &Reference, _: &Platform) -> Option<Digest> {
            (reference.digest() == Some(&Digest::of(b"index"))).then(|| self.0.clone())
        }
    }

    #[test]
    fn a_root_resolved_to_an_index_records_the_platform_manifest_and_names_the_index() {
        let resolved = BTreeMap::new();
        let platform = Platform::linux_amd64();
        let manifest = Digest::of(b"manifest");
        let lookup = Index(manifest.clone());
        let roots = RootDigests {
            resolved: &resolved,
            platform: &platform,
            manifests: Some(&lookup),
            loaded: &BTreeMap::new(),
        };
        let reference: Reference = "busybox:1.36".parse().unwrap();
        let input = root_input(
            "busybox",
            &reference.with_digest(Digest::of(b"index")),
            &roots,
        );
        assert_eq!(input.digest, Some(manifest));
        assert_eq!(input.index_digest, Some(Digest::of(b"index")));
        // A digest that is already the platform manifest's stays as it is, without an index.
        let lookup = Index(Digest::of(b"index"));
        let roots = RootDigests {
            manifests: Some(&lookup),
            ..roots
        };
        let input = root_input(
            "busybox",
            &reference.with_digest(Digest::of(b"index")),
            &roots,
        );
        assert_eq!(input.digest, Some(Digest::of(b"index")));
        assert_eq!(input.index_digest, None);
    }
}
