//! The root images of the Airbyte families, pinned by multi-arch index digest and written exactly
//! as the recipes wrote them (each platform picks its own manifest at pull time).

/// python 1.0.0, 1.1.0, 1.2.0.
pub const PY39_18: &str = "docker.io/python:3.9.18-slim-bookworm@sha256:44b7f161ed03f85e96d423b9916cdc8cb0509fb970fd643bdbc9896d49e1cad0";
/// python 1.2.1.
pub const PY39_19A: &str = "docker.io/python:3.9.19-slim-bookworm@sha256:b92e6f45b58d9cafacc38563e946f8d249d850db862cbbd8befcf7f49eef8209";
/// python 1.2.2-rc.1, 1.2.2 (the 3.9.19 root re-pinned for the same tag).
pub const PY39_19B: &str = "docker.io/python:3.9.19-slim-bookworm@sha256:088d9217202188598aac37f8db0929345e124a82134ac66b8bb50ee9750b045b";
/// python 1.2.3.
pub const PY39_19C: &str = "docker.io/python:3.9.19-slim-bookworm@sha256:e6941b744e8eb9df6cf6baf323d2b9ad1dfe17d118f5efee14634aff4d47c76f";
/// python 2.0.0.
pub const PY310A: &str = "docker.io/python:3.10.14-slim-bookworm@sha256:3b37199fbc5a730a551909b3efa7b29105c859668b7502451c163f2a4a7ae1ed";
/// python 3.0.0-rc.1, 3.0.0, 3.0.1-rc.1.
pub const PY310B: &str = "docker.io/python:3.10.14-slim-bookworm@sha256:2407c61b1a18067393fecd8a22cf6fceede893b6aaca817bf9fbfe65e33614a3";
/// python 4.0.0 (inferred).
pub const PY311: &str = "docker.io/python:3.11.11-slim-bookworm@sha256:6ed5bff4d7d377e2a27d9285553b8c21cfccc4f00881de1b24c9bc8d90016e82";
/// java 1.0.0-rc.1 … 2.0.0.
pub const CORRETTO_A: &str = "docker.io/amazoncorretto:21-al2023@sha256:5454cb606e803fce56861fdbc9eab365eaa2ab4f357ceb8c1d56f4f8c8a7bc33";
/// java 2.0.1 (the bump for Apple M4).
pub const CORRETTO_B: &str = "docker.io/amazoncorretto:21-al2023@sha256:c90f38f8a5c4494cb773a984dc9fa9a727b3e6c2f2ee2cba27c834a6e101af0d";
