//! `airbyte/java-connector-base`: every known version, oldest first.

use std::sync::Arc;

use plinth_catalog::family::{ChecksDecl, Provenance, RecipeDecl, TableFamily};

use super::checks;
use super::roots::{CORRETTO_A, CORRETTO_B};
use super::steps::Step::{self, *};
use super::steps::recipe;
use super::{JAVA_REPOSITORY, published_only, row, version_decl};

/// 1.0.0-rc.4 and 1.0.0.
const STEPS_1_0_0: &[Step] = &[YumBundle, Wd, FilesPinned, Env6, Ep];
/// 2.0.0-rc.2 onward.
const STEPS_2_0_0: &[Step] = &[Nonroot, Wd, FilesOwned, Env6, Ep, User];

/// The java family.
pub fn java_family() -> TableFamily {
    let root_note =
        "The image user is root (the class declared user `root` with a TODO to switch to airbyte).";
    let versions = vec![
        row("1.0.0-rc.1", "886a7ce7eccfe3c8fb303511d0e46b83b7edb4f28e3705818c090185ba511fe7", CORRETTO_A,
            &[YumUpd, YumInst, Wd, FilesMaster, Env6])
            .with_changelog("Create a base image for our java connectors.")
            .with_provenance(Provenance::Example)
            .with_checks(checks::java_1_0_0_rc_1())
            .with_note(root_note)
            .with_note("No entrypoint; its example renders like 1.0.0-rc.2's (the example is lossy)."),
        row("1.0.0-rc.2", "fca66e81b4d2e4869a03b57b1b34beb048e74f5d08deb2046c3bb9919e7e2273", CORRETTO_A,
            &[YumUpd, YumInst, Wd, FilesMaster, Env6, Ep])
            .with_changelog("Set entrypoint to base.sh")
            .with_note(root_note),
        published_only("1.0.0-rc.3", "be86e5684e1e6d9280512d3d8071b47153698fe08ad990949c8eeff02803201a")
            .with_checks(ChecksDecl::Inherit(Vec::new()))
            .with_note("Its digest equals 1.0.0-rc.4's, so its published content is rc.4's; the code is not recovered."),
        row("1.0.0-rc.4", "be86e5684e1e6d9280512d3d8071b47153698fe08ad990949c8eeff02803201a", CORRETTO_A, STEPS_1_0_0)
            .with_changelog("Bundle yum calls in a single RUN")
            .with_note(root_note)
            .with_note("The scripts are pinned from here on; when they switched from master is not recorded."),
        row("1.0.0", "be86e5684e1e6d9280512d3d8071b47153698fe08ad990949c8eeff02803201a", CORRETTO_A, STEPS_1_0_0)
            .with_changelog("Create a base image for our java connectors based on Amazon Corretto.")
            .with_note(root_note),
        version_decl("2.0.0-rc.1", "484b929684b9e4f60d06cde171ee0b8238802cb434403293fcede81c1e73c537", Some(CORRETTO_A))
            .with_recipe_decl(RecipeDecl::Partial {
                visible: Arc::new(|_| recipe(CORRETTO_A, &[NonrootRc1, Env6])),
                missing: "its workdir, downloaded files and their owners, entrypoint and user were not recovered".to_owned(),
            })
            .with_changelog(" Make the java base image non root")
            .with_provenance(Provenance::Partial)
            .with_checks(ChecksDecl::Unknown { reason: "its checks were not recovered".to_owned() })
            .with_note("The changelog text starts with a space, as published (PR #49916)."),
        row("2.0.0-rc.2", "e5543b3de4c38e9ef45dba886bad5ee319b0d7bfe921f310c788f1d4466e25eb", CORRETTO_A, STEPS_2_0_0)
            .with_changelog("Fine tune permissions and reproduce platform java base implementation")
            .with_checks(checks::java_2_0_0_rc_2()),
        row("2.0.0", "5a1a21c75c5e1282606de9fa539ba136520abe2fbd013058e988bb0297a9f454", CORRETTO_A, STEPS_2_0_0)
            .with_changelog("~Release non root base image~")
            .with_note("Same recipe as 2.0.0-rc.2 with another digest: the Datadog agent and `yum update` are unpinned."),
        row("2.0.1", "ec89bd1a89e825514dd2fc8730ba299a3ae1544580a078df0e35c5202c2085b3", CORRETTO_B, STEPS_2_0_0)
            .with_changelog("Bump Amazon Coretto image version for compatibility with Apple M4 architecture."),
    ];
    TableFamily::new(JAVA_REPOSITORY, versions).expect("the java family table is valid")
}
