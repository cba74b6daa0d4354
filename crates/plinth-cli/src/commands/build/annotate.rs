//! The standard annotations of a pushed build: the same `org.opencontainers.image.*` values
//! `publish` writes (`plinth_release::attest`), on every manifest and the index, before the
//! attestations are made about them.

use std::path::Path;

use plinth_attest::{AnnotatedImage, ImageAnnotations, annotate_image};
use plinth_executor::BuildResult;
use plinth_recipe::{Container, Op};

use crate::cli::GlobalArgs;
use crate::recipe_arg::Recipe;

/// What `recipe` is annotated with: a catalog version as `publish` annotates it (source and
/// revision from its release record, else the catalog's git checkout); a Dockerfile with the
/// git checkout of its context (nothing when there is none) and the root its final stage
/// starts from, and no version, which a Dockerfile does not have.
pub(super) fn annotations_of(
    recipe: &Recipe<'_>,
    built: &[(plinth_oci::Platform, Container)],
    global: &GlobalArgs,
) -> anyhow::Result<ImageAnnotations> {
    Ok(match recipe.catalog_version() {
        Some((family, version)) => plinth_release::attest::version_annotations(
            &crate::release_context::catalog_dir(global)?,
            family.repository(),
            version,
            family.root_image(version).map(|s| s.address().to_owned()),
        )?,
        None => {
            let context = recipe.context_dir().unwrap_or(Path::new("."));
            let base_name = built.first().and_then(|(_, c)| root_address(c));
            plinth_release::attest::checkout_annotations(context, base_name)
        }
    })
}

/// The image the container's final stage starts from, as written (none for `FROM scratch`).
fn root_address(container: &Container) -> Option<String> {
    container.ops().iter().rev().find_map(|op| match op {
        Op::From { source } => Some(source.address().to_owned()),
        _ => None,
    })
}

/// Rewrites `built` with `annotations` in `store` and makes it the annotated image: its root
/// and every platform's manifest are the annotated ones afterwards.
pub(super) fn annotate(
    store: &plinth_oci::Store,
    built: &mut BuildResult,
    annotations: &ImageAnnotations,
) -> anyhow::Result<AnnotatedImage> {
    let annotated = annotate_image(store, &built.root, &built.platforms, annotations)?;
    built.root = annotated.root.clone();
    for build in &mut built.platforms {
        if let Some(manifest) = annotated.manifest(&build.platform) {
            build.manifest = manifest.clone();
        }
    }
    Ok(annotated)
}
