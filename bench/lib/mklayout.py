#!/usr/bin/env python3
"""Writes an OCI image layout from rootfs tarballs, without docker.

    mklayout.py OUT_DIR --tag TAG --image linux/amd64=rootfs-amd64.tar [--image linux/arm64=rootfs-arm64.tar]
    mklayout.py OUT_DIR --tag TAG --random-layer linux/amd64=BYTES

Each --image becomes one single-layer image (gzip'd layer, config, manifest). One image: the
layout's index.json names its manifest. Several: an image index over them, and index.json names
the index. --random-layer makes one image whose only layer is an uncompressed tar holding one
file of BYTES random (incompressible) bytes, streamed to disk without holding it in memory.

Output is deterministic for the same input tarballs (gzip mtime 0, fixed `created`), except for
--random-layer, whose content is random by design. OUT_DIR is replaced atomically (built next to
it, then renamed).
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import zlib

CHUNK = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
CREATED = "2024-01-01T00:00:00Z"


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class BlobSink:
    """Streams bytes into blobs/sha256/<digest> of a layout under construction."""

    def __init__(self, layout):
        self.dir = os.path.join(layout, "blobs", "sha256")
        os.makedirs(self.dir, exist_ok=True)
        self.tmp = os.path.join(self.dir, ".incoming")
        self.file = open(self.tmp, "wb")
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        self.file.write(data)

    def commit(self):
        self.file.close()
        digest = self.sha.hexdigest()
        os.replace(self.tmp, os.path.join(self.dir, digest))
        return "sha256:" + digest, self.size


def put_bytes(layout, data):
    sink = BlobSink(layout)
    sink.write(data)
    return sink.commit()


def gzip_layer(layout, rootfs):
    """Gzips `rootfs` into a blob; returns (digest, size, diff_id)."""
    sink = BlobSink(layout)
    # A gzip member by hand: fixed header (mtime 0, no name) so the digest is reproducible.
    sink.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = hashlib.sha256()
    crc = 0
    length = 0
    with open(rootfs, "rb") as src:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            raw.update(chunk)
            crc = zlib.crc32(chunk, crc)
            length += len(chunk)
            sink.write(deflate.compress(chunk))
    sink.write(deflate.flush())
    sink.write(crc.to_bytes(4, "little") + (length & 0xFFFFFFFF).to_bytes(4, "little"))
    digest, size = sink.commit()
    return digest, size, "sha256:" + raw.hexdigest()


def random_layer(layout, nbytes):
    """An uncompressed tar blob with one file of `nbytes` random bytes; returns (digest, size, diff_id)."""
    sink = BlobSink(layout)
    info = tarfile.TarInfo("random.bin")
    info.size = nbytes
    info.mode = 0o644
    info.mtime = 0
    sink.write(info.tobuf(format=tarfile.PAX_FORMAT))
    left = nbytes
    while left:
        n = min(CHUNK, left)
        sink.write(os.urandom(n))
        left -= n
    pad = (512 - nbytes % 512) % 512
    sink.write(b"\0" * (pad + 1024))  # file padding + two zero blocks
    digest, size = sink.commit()
    return digest, size, digest  # uncompressed: diff_id is the blob digest


def image(layout, platform, layer):
    """Writes config and manifest for one single-layer image; returns the manifest descriptor."""
    os_name, arch, *variant = platform.split("/")
    layer_digest, layer_size, diff_id, layer_type = layer
    config = {
        "architecture": arch,
        "os": os_name,
        "created": CREATED,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": "plinth bench mklayout.py"}],
    }
    if variant:
        config["variant"] = variant[0]
    config_digest, config_size = put_bytes(layout, canonical(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer_size}],
    }
    digest, size = put_bytes(layout, canonical(manifest))
    desc = {"mediaType": OCI_MANIFEST, "digest": digest, "size": size, "platform": {"architecture": arch, "os": os_name}}
    if variant:
        desc["platform"]["variant"] = variant[0]
    return desc


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--tag", default="latest")
    p.add_argument("--image", action="append", default=[], metavar="PLATFORM=ROOTFS.tar")
    p.add_argument("--random-layer", metavar="PLATFORM=BYTES")
    args = p.parse_args()
    if bool(args.image) == bool(args.random_layer):
        p.error("give either --image (one or more) or --random-layer")

    out = os.path.abspath(args.out)
    work = out + ".partial"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    manifests = []
    if args.random_layer:
        platform, nbytes = args.random_layer.split("=", 1)
        d, s, diff = random_layer(work, int(nbytes))
        manifests.append(image(work, platform, (d, s, diff, LAYER_TAR)))
    for spec in args.image:
        platform, rootfs = spec.split("=", 1)
        d, s, diff = gzip_layer(work, rootfs)
        manifests.append(image(work, platform, (d, s, diff, LAYER_GZIP)))

    if len(manifests) == 1:
        top = dict(manifests[0])
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        digest, size = put_bytes(work, canonical(index))
        top = {"mediaType": OCI_INDEX, "digest": digest, "size": size}
    top["annotations"] = {"org.opencontainers.image.ref.name": args.tag}
    with open(os.path.join(work, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(work, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}, f)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(work, out)
    print(top["digest"])


if __name__ == "__main__":
    sys.exit(main())
