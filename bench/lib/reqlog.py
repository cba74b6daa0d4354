#!/usr/bin/env python3
"""Counts requests in docker-registry's access log (combined log format) after a byte offset.

    reqlog.py LOG OFFSET all       every request
    reqlog.py LOG OFFSET uploads   blob upload requests: POST (except cross-repo mounts), PATCH
                                   and PUT under /v2/<name>/blobs/uploads/
    reqlog.py LOG OFFSET mounts    cross-repo mount requests (POST .../blobs/uploads/?mount=...)
    reqlog.py LOG OFFSET list      one line per request, for a human to read

The registry writes an access-log line after each response, so callers wait a moment after the
client exits before counting.
"""

import re
import sys

# 127.0.0.1 - - [26/Nov/2025:18:00:00 +0000] "HEAD /v2/x/blobs/sha256:... HTTP/1.1" 200 0 "" "ua"
ACCESS = re.compile(r'^\S+ \S+ \S+ \[[^\]]*\] "([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) ')


def requests(log, offset):
    with open(log, "rb") as f:
        f.seek(offset)
        for raw in f:
            m = ACCESS.match(raw.decode("utf-8", "replace"))
            if m:
                yield m.group(1), m.group(2), int(m.group(3))


def is_upload(method, path):
    if "/blobs/uploads/" not in path:
        return False
    if method == "POST" and "mount=" in path:
        return False
    return method in ("POST", "PATCH", "PUT")


def main():
    log, offset, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    reqs = list(requests(log, offset))
    if what == "all":
        print(len(reqs))
    elif what == "uploads":
        print(sum(1 for m, p, _ in reqs if is_upload(m, p)))
    elif what == "mounts":
        print(sum(1 for m, p, _ in reqs if m == "POST" and "/blobs/uploads/" in p and "mount=" in p))
    elif what == "list":
        for m, p, s in reqs:
            print(f"{s} {m} {p}")
    else:
        sys.exit(f"unknown count `{what}`: use all, uploads, mounts or list")


if __name__ == "__main__":
    main()
