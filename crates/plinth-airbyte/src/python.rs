//! `airbyte/python-connector-base`: every known version, oldest first.

use plinth_catalog::family::{ChecksDecl, Provenance, TableFamily};

use super::checks;
use super::roots::{PY39_18, PY39_19A, PY39_19B, PY39_19C, PY310A, PY310B, PY311};
use super::steps::Step::{self, *};
use super::{PYTHON_REPOSITORY, published_only, row};

/// 2.0.0 and 1.2.3 (from their roots).
const STEPS_2_0_0: &[Step] = &[
    CacheRoot, Tz, Pip24, PoetryEnv, Poetry161, Upgrade, Socat, Ocr, NltkMkdir, NltkDir,
];
/// 1.2.1 and 1.2.2 (from their roots).
const STEPS_1_2_2: &[Step] = &[
    CacheRoot, Tz, Pip24, PoetryEnv, Poetry161, SocatOld, Ocr, NltkMkdir, NltkDir,
];
/// 3.0.0-rc.1 and 3.0.0.
const STEPS_3_0_0: &[Step] = &[
    Tz,
    Userbase,
    CacheCustom,
    PipEnv,
    Pip24,
    PoetryEnv,
    Poetry161,
    Upgrade,
    Socat,
    Ocr,
    NltkMkdir755,
    NltkDir,
];

/// The python family.
pub fn python_family() -> TableFamily {
    let versions = vec![
        row("1.0.0", "dd17e347fbda94f7c3abff539be298a65af2d7fc27a307d89297df1081a45c27", PY39_18,
            &[CacheRoot2023, Tz, Pip23, PoetryEnv, Poetry161])
            .with_changelog("Initial release: based on Python 3.9.18, on slim-bookworm system, with pip==23.2.1 and poetry==1.6.1")
            .with_provenance(Provenance::Example)
            .with_checks(checks::python_1_0_0())
            .with_note("The registry file of 2023-09-19 records the same digest and steps with the older text \
                        `Initial release: an image based on python:3.9.18-slim-bookworm with pip==23.2.1 and poetry==1.6.1`.")
            .with_note("The 2023 prototype named the pip cache volume `pip-cache`; the later code `pip_cache`."),
        row("1.1.0", "bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c", PY39_18,
            &[CacheRoot, Tz, Pip23, PoetryEnv, Poetry161, SocatOld])
            .with_changelog("Install socat")
            .with_provenance(Provenance::Example)
            .with_checks(checks::python_1_1_0())
            .with_note("Checks inferred: those of 1.2.0 without cdk_system_dependencies."),
        published_only("1.2.0-rc.1", "f6467768b75fb09125f6e6b892b6b48c98d9fe085125f3ff4adc722afb1e5b30"),
        row("1.2.0", "c22a9d97464b69d6ef01898edf3f8612dc11614f05a84984451dde195f337db9", PY39_18,
            &[CacheRoot, Tz, Pip23, PoetryEnv, Poetry161, SocatOld, Ocr, NltkMkdir, NltkDir])
            .with_changelog("Add CDK system dependencies: nltk data, tesseract, poppler.")
            .with_checks(checks::python_1_2_0()),
        row("1.2.1", "4a4255e2bccab71fa5912487e42d9755cdecffae77273fed8be01a081cd6e795", PY39_19A, STEPS_1_2_2)
            .with_changelog("Upgrade to Python 3.9.19 + update pip and setuptools")
            .with_provenance(Provenance::Example)
            .with_checks(checks::python_1_2_1())
            .with_note("Checks inferred: those of 1.2.0 with python 3.9.19 and pip 24.0."),
        row("1.2.2-rc.1", "a8abfdc75f8e22931657a1ae15069e7b925e74bb7b5ef36371a85e4caeae5696", PY39_19B,
            &[Tz, SocatOld, Userbase, CacheCustom, PipEnv, Pip24, PoetryEnv, Poetry161, Ocr, NltkMkdir755, NltkDir])
            .with_changelog("Create an airbyte user and use it")
            .with_provenance(Provenance::Example)
            .with_checks(ChecksDecl::Unknown {
                reason: "it added the user checks of PR #36544, whose exact list is not recovered".to_owned(),
            })
            .with_note("The position of the custom cache mount is inferred.")
            .with_note("Whether a final `user airbyte` step followed is not recovered; the recipe has none.")
            .with_note("Its tag points to the digest of 1.2.3: the rc tag was likely pushed again later, since the \
                        original `publish` always rebuilt the current code."),
        row("1.2.2", "57703de3b4c4204bd68a7b13c9300f8e03c0189bffddaffc796f1da25d2dbea0", PY39_19B, STEPS_1_2_2)
            .with_changelog("Fix Python 3.9.19 image digest")
            .with_provenance(Provenance::Example),
        row("1.2.3", "a8abfdc75f8e22931657a1ae15069e7b925e74bb7b5ef36371a85e4caeae5696", PY39_19C, STEPS_2_0_0)
            .with_changelog("Use latest root image version and update system packages")
            .with_provenance(Provenance::Example),
        row("2.0.0", "c44839ba84406116e8ba68722a0f30e8f6e7056c726f447681bb9e9ece8bd916", PY310A, STEPS_2_0_0)
            .with_changelog("Use Python 3.10")
            .with_checks(checks::python_2_0_0()),
        row("3.0.0-rc.1", "ee046486af9ad90b1b248afe5e92846b51375a21463dff1cd377c4f06abb55b5", PY310B, STEPS_3_0_0)
            .with_changelog("Update Python 3.10.4 image + create airbyte user")
            .with_provenance(Provenance::Example)
            .with_checks(checks::python_3_0_0()),
        row("3.0.0", "1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844", PY310B, STEPS_3_0_0)
            .with_changelog("Create airbyte user")
            .with_note("Read in code; its Dockerfile example is the one the package README shows."),
        row("3.0.1-rc.1", "5b5cbe613691cc61d643a347ee4ba21d6358252f274ebb040ef820c7b9f4a5a7", PY310B,
            &[Tz, Userbase, CacheCustom, PipEnv, Pip24, PoetryEnv, Poetry161, Upgrade, Socat, TmpChown, Ocr, NltkMkdir755, NltkDir])
            .with_changelog("Make the airbyte user owner of /tmp")
            .with_provenance(Provenance::Example)
            .with_checks(checks::python_3_0_1_rc_1())
            .with_note("Its text and its extra step exist only in PR #51578, closed without merging; on master the \
                        changelog entry is missing.")
            .with_note("The /tmp write check is inferred from the PR text."),
        published_only("3.0.2", "73697fbe1c0e2ebb8ed58e2268484bb4bfb2cb56b653808e1680cbc50bafef75"),
        row("4.0.0", "d9894b6895923b379f3006fa251147806919c62b7d9021b5cd125bb67d7bbe22", PY311,
            &[Tz, Userbase, CacheCustom, PipEnv, Pip24, PoetryEnv, Poetry184, Upgrade, Socat, Ocr, NltkMkdir755, NltkDir])
            .with_provenance(Provenance::Inferred)
            .with_checks(checks::python_4_0_0())
            .with_note("Inferred from the plain Dockerfile migrated from the package README and the late code \
                        (checks for python 3.11.11 and poetry 1.8.4); no /tmp chown.")
            .with_note("Not in any stored changelog; the package CHANGELOG 1.6.0 says \
                        \"Add a Python base image 4.0.0 with Python 3.11.11.\"")
            .with_note("The digest comes from a third-party source."),
    ];
    TableFamily::new(PYTHON_REPOSITORY, versions).expect("the python family table is valid")
}
