//! `plinth verify --rebuild REF -f Dockerfile [CONTEXT]`: an image `plinth build -f … --push`
//! made, rebuilt from the Dockerfile and context the user gives. Before building, the
//! Dockerfile, the `--build-arg`s and every context file and directory the recipe reads are
//! compared with the digests its provenance recorded, and each difference is named; then the
//! platforms the provenance names are rebuilt in an empty store and compared with the published
//! image as for a family version.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use plinth_attest::{
    BuildParameters, RecipeParameters, SLSA_PROVENANCE_V1, find_statements, recorded_parameters,
};
use plinth_catalog::Catalog;
use plinth_executor::{BuildInput, BuildOptions, InputKind};
use plinth_oci::{Platform, Reference};
use plinth_registry::Client;
use serde_json::Value;

use super::{VerifyArgs, compare_with_published, empty_rebuild_store};
use crate::ExitStatus;
use crate::build_progress::BuildProgress;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::recipe_arg::RecipeArgs;
use crate::settings::{engine_with_client, runtime, url_mirrors};

/// What the provenance of one platform recorded.
struct Recorded {
    recipe: RecipeParameters,
    /// The labels, annotations and platforms of the build.
    build: BuildParameters,
    /// Host files and directories: name → digest.
    host_inputs: BTreeMap<String, String>,
}

/// Runs the Dockerfile form of `plinth verify --rebuild`.
pub(super) fn run(
    args: &VerifyArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let (_temp, store, client) = empty_rebuild_store(global)?;
    let reference = super::registry_reference(&args.image)?;
    let recorded = runtime()?.block_on(recorded_builds(&client, &reference))?;
    let recipe_args = RecipeArgs {
        target: args.context.as_ref().map(|c| c.display().to_string()),
        file: args.file.clone(),
        context: None,
        build_args: args.build_args.clone(),
        stage: args.stage.clone(),
    };
    let recipe = recipe_args.resolve(catalog)?;
    let platforms: Vec<Platform> = recorded.keys().cloned().collect();
    let engine = engine_with_client(global, client.clone(), false)?;
    let (recipes, warnings) = recipe.platform_recipes(&platforms, &engine)?;
    for warning in &warnings {
        printer.warn(warning);
    }
    let context = context_dir(args);
    let build = recorded
        .values()
        .next()
        .map(|r| r.build.clone())
        .unwrap_or_default();
    super::refuse_other_substitutions(&build, global)?;
    let mut differences: BTreeSet<String> = super::epoch_difference(&build)?.into_iter().collect();
    for (platform, container) in recipes.recipes() {
        let given = recipe.provenance_parameters(container, &args.build_args)?;
        let Some(recorded) = recorded.get(platform) else {
            continue;
        };
        differences.extend(recipe_differences(&given, &recorded.recipe));
        let inputs = plinth_executor::recipe_host_inputs(container)?;
        differences.extend(context_differences(
            &inputs,
            &recorded.host_inputs,
            &context,
        ));
    }
    report_differences(printer, &reference, &differences);
    printer.status(format!(
        "Rebuilding {} for {} in an empty store to compare with {reference}.",
        recipe.id,
        crate::commands::build::list(&platforms)
    ));
    let progress = Arc::new(BuildProgress::new(printer, false));
    let mut options = BuildOptions::new(platforms.clone())
        .with_recipe_id(recipe.id.clone())
        .with_reporter(progress.clone());
    options.labels = build.labels.clone();
    let executor = args.engine.executor(&engine, url_mirrors(global)?)?;
    let built = recipes.build(executor.as_ref(), &options)?;
    drop(progress);
    // Annotated as the build was (`plinth build --push` annotates what it pushes), with the
    // recorded values: the checkout may have moved on since.
    let annotated = plinth_attest::annotate_image(
        engine.store(),
        &built.root,
        &built.platforms,
        &build.image_annotations(),
    )?;
    compare_with_published(
        &printer,
        args,
        &client,
        &store,
        &reference,
        (annotated.root, format!("{} rebuilt", recipe.id)),
    )
}

/// The build context as `plinth build` takes it: the argument, else the Dockerfile's directory.
fn context_dir(args: &VerifyArgs) -> std::path::PathBuf {
    match (&args.context, &args.file) {
        (Some(context), _) => context.clone(),
        (None, Some(file)) => match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => ".".into(),
        },
        (None, None) => ".".into(),
    }
}

/// The Dockerfile recipe each platform's provenance records, with its host inputs.
async fn recorded_builds(
    client: &Client,
    reference: &Reference,
) -> anyhow::Result<BTreeMap<Platform, Recorded>> {
    let statements = find_statements(client, reference, None, SLSA_PROVENANCE_V1, "provenance")
        .await
        .with_context(|| format!("{reference} has no readable provenance to verify it against"))?;
    let mut recorded = BTreeMap::new();
    for (_, statement) in statements {
        let value = serde_json::to_value(&statement)?;
        let definition = &value["predicate"]["buildDefinition"];
        let (recipe, build) = recorded_parameters(&value["predicate"])
            .with_context(|| format!("the provenance of {reference} names no recipe"))?;
        if let RecipeParameters::Family {
            repository,
            version,
            ..
        } = &recipe
        {
            anyhow::bail!(
                "{reference} was built from the catalog version {repository}:{version}, not from a \
                 Dockerfile: verify it without `-f` (`plinth verify --rebuild {reference}`)"
            );
        }
        let platform: Platform = definition["externalParameters"]["platform"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("the provenance of {reference} names no platform"))?;
        recorded.insert(
            platform,
            Recorded {
                recipe,
                build,
                host_inputs: host_inputs(definition),
            },
        );
    }
    if recorded.is_empty() {
        anyhow::bail!("{reference} has no provenance attached to verify it against");
    }
    Ok(recorded)
}

/// The host files and directories a provenance lists: name → `sha256:…` (or why none).
fn host_inputs(definition: &Value) -> BTreeMap<String, String> {
    definition["resolvedDependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            let kind = d["annotations"]["kind"].as_str();
            kind == Some(InputKind::HostFile.as_str())
                || kind == Some(InputKind::HostDirectory.as_str())
        })
        .filter_map(|d| {
            let name = d["name"].as_str()?.to_owned();
            let digest = d["digest"]["sha256"]
                .as_str()
                .map_or_else(|| "no digest".to_owned(), |h| format!("sha256:{h}"));
            Some((name, digest))
        })
        .collect()
}

/// The Dockerfile and build-arg differences between the given recipe and the recorded one.
fn recipe_differences(given: &RecipeParameters, recorded: &RecipeParameters) -> Vec<String> {
    let (
        RecipeParameters::Dockerfile {
            path,
            digest,
            build_args,
            target,
            ..
        },
        RecipeParameters::Dockerfile {
            path: recorded_path,
            digest: recorded_digest,
            build_args: recorded_args,
            target: recorded_target,
            ..
        },
    ) = (given, recorded)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if digest != recorded_digest {
        out.push(format!(
            "the Dockerfile `{path}` is not the one the image was built from: {digest} given, \
             {recorded_digest} recorded (`{recorded_path}`)"
        ));
    }
    if target != recorded_target {
        let stage = |t: &Option<String>| {
            t.as_ref().map_or_else(
                || "the last stage".to_owned(),
                |t| format!("`--target {t}`"),
            )
        };
        out.push(format!(
            "the build made {}, the given recipe makes {}",
            stage(recorded_target),
            stage(target)
        ));
    }
    let names: BTreeSet<&String> = build_args.keys().chain(recorded_args.keys()).collect();
    for name in names {
        match (build_args.get(name), recorded_args.get(name)) {
            (Some(a), Some(b)) if a != b => out.push(format!(
                "`--build-arg {name}`: its value is not the build's (digest {a} given, {b} recorded)"
            )),
            (None, Some(_)) => out.push(format!(
                "`--build-arg {name}` was given to the build: give its value with `--build-arg {name}=VALUE`"
            )),
            (Some(_), None) => {
                out.push(format!("`--build-arg {name}` was not given to the build"))
            }
            _ => {}
        }
    }
    out
}

/// The context files and directories whose digest differs from the recorded one, or that one
/// side lacks, by their path in `context`. A recorded input is matched by its path, or by the
/// same path relative to a context elsewhere.
fn context_differences(
    inputs: &[BuildInput],
    recorded: &BTreeMap<String, String>,
    context: &Path,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut matched = BTreeSet::new();
    for input in inputs {
        let rel = Path::new(&input.name)
            .strip_prefix(context)
            .map_or_else(|_| input.name.clone(), |r| r.display().to_string());
        let shown = if rel.is_empty() {
            ".".to_owned()
        } else {
            rel.clone()
        };
        let what = match input.kind {
            InputKind::HostDirectory => "context directory",
            _ => "context file",
        };
        let found = recorded.get_key_value(&input.name).or_else(|| {
            recorded
                .iter()
                .find(|(name, _)| !rel.is_empty() && name.ends_with(&format!("/{rel}")))
        });
        let now = input
            .digest
            .as_ref()
            .map_or_else(|| "no digest".to_owned(), ToString::to_string);
        match found {
            Some((name, digest)) => {
                matched.insert(name.clone());
                if *digest != now {
                    out.push(format!(
                        "the {what} `{shown}` differs from the build's: {now} now, {digest} recorded"
                    ));
                }
            }
            None => out.push(format!(
                "the {what} `{shown}` is read by the given recipe but not by the build"
            )),
        }
    }
    for name in recorded.keys().filter(|n| !matched.contains(*n)) {
        out.push(format!(
            "the build read `{name}`, which the given recipe does not read"
        ));
    }
    out
}

fn report_differences(printer: Printer, reference: &Reference, differences: &BTreeSet<String>) {
    if differences.is_empty() {
        printer.status(format!(
            "The Dockerfile, build args and context match what the provenance of {reference} recorded."
        ));
        return;
    }
    printer.warn(format!(
        "the given Dockerfile or context is not what {reference} was built from (its provenance's digests):"
    ));
    for difference in differences {
        printer.warn(format!("  {difference}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dockerfile(digest: &str, args: &[(&str, &str)], target: Option<&str>) -> RecipeParameters {
        RecipeParameters::Dockerfile {
            path: "ctx/Dockerfile".to_owned(),
            digest: digest.to_owned(),
            build_args: args
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            target: target.map(str::to_owned),
        }
    }

    #[test]
    fn dockerfile_build_args_and_target_differences_are_named() {
        let recorded = dockerfile(
            "sha256:a",
            &[("TOKEN", "sha256:t"), ("OLD", "sha256:o")],
            None,
        );
        assert!(recipe_differences(&recorded, &recorded).is_empty());
        let given = dockerfile(
            "sha256:b",
            &[("TOKEN", "sha256:x"), ("NEW", "sha256:n")],
            Some("test"),
        );
        assert_eq!(
            recipe_differences(&given, &recorded),
            [
                "the Dockerfile `ctx/Dockerfile` is not the one the image was built from: sha256:b \
                 given, sha256:a recorded (`ctx/Dockerfile`)",
                "the build made the last stage, the given recipe makes `--target test`",
                "`--build-arg NEW` was not given to the build",
                "`--build-arg OLD` was given to the build: give its value with `--build-arg OLD=VALUE`",
                "`--build-arg TOKEN`: its value is not the build's (digest sha256:x given, sha256:t recorded)",
            ]
        );
    }

    #[test]
    fn context_inputs_are_matched_by_path_even_from_another_checkout() {
        let input = |kind, name: &str, digest: &[u8]| {
            BuildInput::new(kind, name, plinth_oci::Digest::of(digest))
        };
        let recorded = BTreeMap::from([
            (
                "/build/ctx/hello.txt".to_owned(),
                plinth_oci::Digest::of(b"old").to_string(),
            ),
            (
                "/build/ctx/conf".to_owned(),
                plinth_oci::Digest::of(b"conf").to_string(),
            ),
            (
                "/build/ctx/gone".to_owned(),
                plinth_oci::Digest::of(b"gone").to_string(),
            ),
        ]);
        let inputs = [
            input(InputKind::HostFile, "/here/ctx/hello.txt", b"new"),
            input(InputKind::HostDirectory, "/here/ctx/conf", b"conf"),
            input(InputKind::HostFile, "/here/ctx/extra", b"extra"),
        ];
        let differences = context_differences(&inputs, &recorded, Path::new("/here/ctx"));
        assert_eq!(differences.len(), 3, "{differences:#?}");
        assert!(
            differences[0].starts_with("the context file `hello.txt` differs from the build's")
        );
        assert_eq!(
            differences[1],
            "the context file `extra` is read by the given recipe but not by the build"
        );
        assert_eq!(
            differences[2],
            "the build read `/build/ctx/gone`, which the given recipe does not read"
        );
    }
}
