"""Data fingerprints through the storage face: the same behaviour on both backends."""

from __future__ import annotations

import itertools

from pai_jupyter.api.fingerprint import compare, fingerprint
from pai_jupyter.backends.base import Backend
from pai_jupyter.storage.uri import OssUri


def test_fingerprint_counts_sizes_and_tells_one_changed_byte(backend: Backend, bucket: str) -> None:
    st = backend.storage
    base = OssUri(bucket, "fp/data/")
    st.write_bytes(base.join("a.csv"), b"x,y\n1,2\n")
    st.write_bytes(base.join("part", "b.csv"), b"x,y\n3,4\n5,6\n")
    st.write_bytes(OssUri(bucket, "fp/data-other/c.csv"), b"not in the prefix")

    first = fingerprint(st, str(base))
    again = fingerprint(st, str(base))

    assert (first["objects"], first["bytes"], first["complete"]) == (2, 20, True)
    assert first["sampled"] is None and first["digest"].startswith("sha256:")
    assert first["keyed_by"] == ("etag" if backend.id == "aliyun" else "mtime")
    assert again["digest"] == first["digest"] and compare(first, again) is None

    st.write_bytes(base.join("part", "b.csv"), b"x,y\n3,4\n5,7\n")  # one byte, same size
    changed = fingerprint(st, str(base))
    assert (changed["objects"], changed["bytes"]) == (2, 20)
    assert changed["digest"] != first["digest"]
    assert "listing digest" in (compare(first, changed) or "")

    single = fingerprint(st, str(base.join("a.csv")))
    assert (single["objects"], single["bytes"], single["complete"]) == (1, 8, True)


def test_huge_prefixes_are_sampled_within_the_budget_and_say_so(backend: Backend, bucket: str) -> None:
    st = backend.storage
    base = OssUri(bucket, "fp/huge/")
    for i in range(3):
        for j in range(3):
            st.write_bytes(base.join(f"shard{i}", f"{j}.bin"), b"z" * (i + 1))

    capped = fingerprint(st, str(base), max_objects=4)
    assert not capped["complete"] and capped["sampled"]["why"] == "object budget of 4 reached"
    assert capped["objects"] == 6 and capped["sampled"]["folders_not_listed"] == 1  # stops between folders

    ticks = itertools.count()
    timed = fingerprint(st, str(base), max_seconds=1.5, clock=lambda: next(ticks))
    assert not timed["complete"] and "time budget of 1.5s" in timed["sampled"]["why"]
    full = fingerprint(st, str(base))
    assert full["complete"] and full["objects"] == 9
    assert "cannot be proven" in (compare(capped, capped) or "")
