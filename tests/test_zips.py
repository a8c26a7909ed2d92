"""Untrusted zips: litter is skipped, anything unsafe refuses the archive."""

import io
import zipfile

import pytest

from emojid.emoji.zips import ZipLimits, checked_entries
from emojid.errors import BadRequest
from tests.helpers import png_bytes, zip_bytes

LIMITS = ZipLimits(max_total_bytes=10 << 20, max_entry_bytes=1 << 20)


def entries_of(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return sorted(checked_entries(zf, LIMITS, "test.zip"))


def test_mac_litter_is_skipped_not_refused():
    data = zip_bytes({"blob.png": png_bytes(), "__MACOSX/._blob.png": b"\0\5\26\7", ".DS_Store": b"x",
                      "sub/.hidden.png": png_bytes()})
    assert entries_of(data) == ["blob.png"]


@pytest.mark.parametrize("name", ["../evil.png", "/abs.png", "a/../../evil.png", "a\\..\\evil.png", ".././x.png"])
def test_unsafe_names_refuse_the_archive(name):
    with pytest.raises(BadRequest, match="unsafe entry"):
        entries_of(zip_bytes({"ok.png": png_bytes(), name: png_bytes()}))


def test_symlink_refuses_even_with_a_harmless_name():
    with pytest.raises(BadRequest, match="symlink"):
        entries_of(zip_bytes({"ok.png": png_bytes()}, symlinks={"link.png": "/etc/passwd"}))


def test_zip_bomb_ratio_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.png", b"\0" * (8 << 20))
    with pytest.raises(BadRequest, match="compression ratio|uncompressed size"):
        entries_of(buf.getvalue())
