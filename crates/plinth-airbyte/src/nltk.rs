//! The NLTK builder: a helper container that downloads the NLTK data the CDK needs. It is never
//! published; the python recipes copy its `/usr/share/nltk_data` (step `NLTK_DIR`).

use plinth_recipe::{Container, FileSource, ImageSource};

/// Where the data lives, in the builder and in the image.
pub const NLTK_DATA_DIR: &str = "/usr/share/nltk_data";
/// The builder's image: unpinned, and with no platform of its own upstream (it ran on the
/// engine's native platform; plinth builds it for the platform of the image that uses it).
pub const NLTK_BUILDER_IMAGE: &str = "bash:latest";
/// The punkt tokenizer data, pinned to an `nltk_data` commit (no checksum upstream).
pub const PUNKT_URL: &str = "https://github.com/nltk/nltk_data/raw/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/tokenizers/punkt.zip";
/// The averaged perceptron tagger data, pinned to the same commit.
pub const TAGGER_URL: &str = "https://github.com/nltk/nltk_data/raw/5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/taggers/averaged_perceptron_tagger.zip";

/// `from bash:latest`, then for `tokenizers` (punkt) and `taggers` (tagger): download to
/// `/tmp/data.zip`, `mkdir -p`, `unzip -o`, `rm`.
pub fn nltk_builder() -> Container {
    let source =
        ImageSource::parse(NLTK_BUILDER_IMAGE).expect("`bash:latest` is a valid image reference");
    let mut c = Container::from_image(source);
    for (sub, url) in [("tokenizers", PUNKT_URL), ("taggers", TAGGER_URL)] {
        let dir = format!("{NLTK_DATA_DIR}/{sub}");
        c = c
            .with_file("/tmp/data.zip", FileSource::url(url))
            .with_exec(["mkdir", "-p", dir.as_str()])
            .with_exec(["unzip", "-o", "/tmp/data.zip", "-d", dir.as_str()])
            .with_exec(["rm", "/tmp/data.zip"]);
    }
    c
}
