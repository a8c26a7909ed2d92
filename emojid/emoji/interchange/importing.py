"""An archive from emojid, Pleroma, Mastodon or Misskey into a pack.

    pleroma   a zip with pack.json (its files, metadata and our per-emoji metadata), or
              a zip of bare images (shortcode = file stem), as Pleroma's archives and
              emoji-index packs are
    mastodon  a tar (gzip'd or not) of `<shortcode>.<ext>` files, as `tootctl emoji
              export` writes; the shortcode is the file's stem, wherever it sits
    misskey   a zip with meta.json and the images, as Misskey's emoji export writes:
              `aliases` become tags, `license` the emoji's licence ("L (author)" is split)

`auto` tells them apart by content: a tar, a zip with meta.json, any other zip.

Imports take the install path of downloads: every entry checked first (no traversal,
absolute paths, links, devices, duplicates, bombs), each emoji a real image within
[emoji] max_file_bytes, the archive within [remote] max_download_bytes; files are
unpacked into a hidden folder in packs_dir, then a new pack goes into place with one
rename, or an existing pack takes them through the store's write path, all or
nothing, under the write lock. Planning happens under that lock too, so a dry run
reports exactly what a real run would do, and writes nothing.

A shortcode the instance has already is a conflict: with the very same bytes it is
skipped as `identical`; otherwise `on_conflict` decides: `skip` it, `rename` the
incoming emoji (`name_2`, ...), or `replace` the image of the target pack's emoji (a
shortcode of another pack is skipped then: an import never takes another pack's emoji).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread

from emojid.config import Config
from emojid.emoji.index.origins import Origin
from emojid.emoji.interchange import ON_CONFLICT, SOURCE_FORMATS
from emojid.emoji.interchange.metadata import EmojiMeta, clean_entry, read_extension, split_misskey_license
from emojid.emoji.interchange.tars import checked_members, copy_member, looks_like_tar, open_tar
from emojid.emoji.names import check_pack_name, extension, safe_relpath, stem
from emojid.emoji.packs import PackService
from emojid.emoji.store import PACK_JSON, Pack
from emojid.emoji.zips import ZipLimits, checked_entries, extract_entry, looks_like_zip, open_zip
from emojid.errors import BadRequest, Conflict, EmojidError, PayloadTooLarge
from emojid.ids import now_iso
from emojid.images import verify_image
from emojid.progress import Meter, Meters, metered

META_JSON = "meta.json"
MAX_DOCUMENT_BYTES = 16 << 20  # pack.json or meta.json
# Keys a listing adds to a pack's metadata (emojid.emoji.remote_packs.COMPUTED_KEYS): not the pack's own.
COMPUTED_KEYS = ("can-download", "download-sha256")
_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


@dataclass(frozen=True)
class ImportOptions:
    name: str | None = None
    format: str = "auto"
    dry_run: bool = False
    on_conflict: str = "skip"


def check_options(name: str | None, fmt: str | None, dry_run: bool, on_conflict: str | None) -> ImportOptions:
    """The options as given (None: the default), or BadRequest."""
    fmt = (fmt or "auto").strip().lower()
    if fmt not in SOURCE_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(SOURCE_FORMATS)}, not {fmt[:40]!r}")
    conflict = (on_conflict or "skip").strip().lower()
    if conflict not in ON_CONFLICT:
        raise BadRequest(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, not {conflict[:40]!r}")
    return ImportOptions(check_pack_name(name) if name is not None and name.strip() else None, fmt, dry_run, conflict)


@dataclass(frozen=True)
class Candidate:
    """One emoji of the archive, unpacked and verified in the work folder."""

    shortcode: str
    filename: str  # in the work folder; in a new pack too
    sha256: str
    meta: EmojiMeta


@dataclass
class Unpacked:
    format: str
    default_name: str | None
    pack_meta: dict[str, Any]
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportReport:
    pack: str
    format: str
    dry_run: bool
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"pack": self.pack, "format": self.format, "dry_run": self.dry_run, "added": self.added,
                "replaced": self.replaced, "renamed": self.renamed, "skipped": self.skipped}


# -- reading archives -------------------------------------------------------------------


def default_name(label: str) -> str | None:
    """A pack name from the archive's file name (`blobs.tar.gz`, `blobs-misskey.zip` -> `blobs`),
    or from a URL's `name` parameter (`.../emoji/packs/archive?name=blobs`)."""
    parts = urlsplit(label) if "://" in label else None
    named = parse_qs(parts.query).get("name") if parts is not None else None
    base = named[0] if named else posixpath.basename((parts.path if parts is not None else label).rstrip("/"))
    lowered = base.lower()
    for suffix in _SUFFIXES:
        if lowered.endswith(suffix):
            base = base[: -len(suffix)]
            break
    base = base.removesuffix("-misskey")
    try:
        return check_pack_name(base)
    except EmojidError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _document(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Any:
    if info.file_size > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"{label}: {info.filename} is larger than {MAX_DOCUMENT_BYTES} bytes")
    with zf.open(info) as fh:
        raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"{label}: {info.filename} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest(f"{label}: {info.filename} is not valid JSON") from None


class _Reader:
    """Unpacks one archive into `work`: the candidates, and what it leaves out and why."""

    def __init__(self, archive: Path, label: str, config: Config, work: Path, meter: Meter | None) -> None:
        self.archive = archive
        self.label = label
        self.config = config
        self.work = work
        self.meter = meter
        self.max_file = config.emoji.max_file_bytes
        self.limits = ZipLimits(max_total_bytes=2 * config.remote.max_download_bytes, max_entry_bytes=self.max_file)
        self.pattern = re.compile(config.emoji.shortcode_pattern)
        self.allowed = config.emoji.allowed_extensions
        self.done = 0

    def read(self, fmt: str) -> Unpacked:
        is_zip = looks_like_zip(self.archive, None)
        is_tar = not is_zip and looks_like_tar(self.archive)
        if fmt == "auto":
            if is_zip:
                fmt = "misskey" if self._zip_has(META_JSON) else "pleroma"
            elif is_tar:
                fmt = "mastodon"
            else:
                raise BadRequest(f"{self.label} is neither a zip nor a tar archive")
        elif fmt in ("pleroma", "misskey") and not is_zip:
            raise BadRequest(f"{self.label} is not a zip archive, as the {fmt} format is")
        elif fmt == "mastodon" and not is_tar:
            raise BadRequest(f"{self.label} is not a tar archive, as the mastodon format is")
        return {"pleroma": self._pleroma, "mastodon": self._mastodon, "misskey": self._misskey}[fmt]()

    def _zip_has(self, name: str) -> bool:
        with open_zip(self.archive, self.label) as zf:
            return any(safe_relpath(n) == name for n in zf.namelist())

    def _tick(self, total: int | None) -> None:
        self.done += 1
        if self.meter is not None:
            self.meter(self.done, total)

    def _usable(self, unpacked: Unpacked, shortcode: str, filename: str, seen: set[str]) -> bool:
        if extension(filename) not in self.allowed:
            unpacked.skipped.append((shortcode, "unsupported_type"))
        elif not self.pattern.fullmatch(shortcode):
            unpacked.skipped.append((shortcode, "invalid_shortcode"))
        elif shortcode in seen:
            unpacked.skipped.append((shortcode, "duplicate"))
        else:
            seen.add(shortcode)
            return True
        return False

    def _take(self, target: str) -> str:
        """Verify the file unpacked at work/target; its SHA256."""
        path = self.work / target
        verify_image(path, f"{target} in {self.label}")
        return _sha256(path)

    def _from_zip(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo | None, name: str, target: str,
                  listed_in: str) -> str:
        if info is None:
            raise BadRequest(f"{self.label} lacks {name}, which its {listed_in} lists")
        if info.file_size > self.max_file:
            raise PayloadTooLarge(f"{name} in {self.label} is {info.file_size} bytes; the limit is {self.max_file}")
        if not (self.work / target).exists():
            extract_entry(zf, info, self.work / target, self.max_file)
        return self._take(target)

    def _pleroma(self) -> Unpacked:
        unpacked = Unpacked("pleroma", default_name(self.label), {})
        seen: set[str] = set()
        with open_zip(self.archive, self.label) as zf:
            entries = checked_entries(zf, self.limits, self.label)
            emoji_meta: dict[str, EmojiMeta] = {}
            if PACK_JSON in entries:
                doc = _document(zf, entries[PACK_JSON], self.label)
                if not isinstance(doc, dict):
                    raise BadRequest(f"{self.label}: pack.json is not a JSON object")
                files, meta = doc.get("files") or {}, doc.get("pack") or {}
                if not isinstance(files, dict) or not isinstance(meta, dict):
                    raise BadRequest(f'{self.label}: "files" and "pack" of pack.json must be JSON objects')
                unpacked.pack_meta = {k: v for k, v in meta.items() if k not in COMPUTED_KEYS}
                emoji_meta = read_extension(doc)[0]
                listing: list[tuple[str, str]] = []
                for code, filename in files.items():
                    rel = safe_relpath(filename) if isinstance(filename, str) else None
                    if rel is None or rel == PACK_JSON:
                        raise BadRequest(f"{self.label}: pack.json lists an unsafe file path {filename!r} for {code!r}")
                    listing.append((code, rel))
            else:
                listing = [(stem(rel), rel) for rel in entries if extension(rel) in self.allowed]
            listing.sort()
            for code, rel in listing:
                if self._usable(unpacked, code, rel, seen):
                    sha = self._from_zip(zf, entries.get(rel), rel, rel, PACK_JSON)
                    unpacked.candidates.append(Candidate(code, rel, sha, emoji_meta.get(code, {})))
                self._tick(len(listing))
        return unpacked

    def _mastodon(self) -> Unpacked:
        unpacked = Unpacked("mastodon", default_name(self.label), {})
        seen: set[str] = set()
        with open_tar(self.archive, self.label, self.limits) as tf:
            for rel, info in checked_members(tf, self.limits, self.label):
                base = posixpath.basename(rel)
                if extension(base) not in self.allowed:
                    continue  # not an emoji (a README, a licence file)
                code = stem(base)
                if info.size > self.max_file:
                    raise PayloadTooLarge(f"{rel} in {self.label} is {info.size} bytes; the limit is {self.max_file}")
                if self._usable(unpacked, code, base, seen):
                    target = f"{code}{extension(base)}"
                    copy_member(tf, info, self.work / target, self.max_file)
                    unpacked.candidates.append(Candidate(code, target, self._take(target), {}))
                self._tick(None)
        unpacked.candidates.sort(key=lambda c: c.shortcode)
        return unpacked

    def _misskey(self) -> Unpacked:
        seen: set[str] = set()
        with open_zip(self.archive, self.label) as zf:
            entries = checked_entries(zf, self.limits, self.label)
            if META_JSON not in entries:
                raise BadRequest(f"{self.label} has no meta.json, as Misskey's emoji exports have")
            records = _misskey_records(_document(zf, entries[META_JSON], self.label), self.label)
            categories = {r.category for r in records}
            name = next(iter(categories)) if len(categories) == 1 else None
            with contextlib.suppress(EmojidError):
                name = check_pack_name(name) if name else None
            unpacked = Unpacked("misskey", name or default_name(self.label), {})
            for record in sorted(records, key=lambda r: r.shortcode):
                if not record.downloaded:
                    unpacked.skipped.append((record.shortcode, "not_downloaded"))
                elif self._usable(unpacked, record.shortcode, record.file_name, seen):
                    target = f"{record.shortcode}{extension(record.file_name)}"
                    sha = self._from_zip(zf, entries.get(record.file_name), record.file_name, target, META_JSON)
                    unpacked.candidates.append(Candidate(record.shortcode, target, sha, record.meta))
                self._tick(len(records))
        return unpacked


@dataclass(frozen=True)
class _MisskeyRecord:
    shortcode: str
    file_name: str
    downloaded: bool
    category: str | None
    meta: EmojiMeta


def _misskey_records(doc: Any, label: str) -> list[_MisskeyRecord]:
    """meta.json's records, every type checked: a wrong one refuses the archive."""
    def wrong(what: str) -> BadRequest:
        return BadRequest(f"{label}: meta.json {what}")

    if not isinstance(doc, dict):
        raise wrong("is not a JSON object")
    emojis = doc.get("emojis")
    if not isinstance(emojis, list):
        raise wrong('has no "emojis" list')
    records = []
    for i, record in enumerate(emojis):
        if not isinstance(record, dict) or not isinstance(record.get("emoji"), dict):
            raise wrong(f'emojis[{i}] is not an object with an "emoji" object')
        emoji = record["emoji"]
        name, file_name, downloaded = emoji.get("name"), record.get("fileName"), record.get("downloaded", False)
        if not isinstance(name, str) or not name:
            raise wrong(f"emojis[{i}].emoji.name is not a string")
        if not isinstance(file_name, str):
            raise wrong(f"emojis[{i}].fileName is not a string")
        if not isinstance(downloaded, bool):
            raise wrong(f"emojis[{i}].downloaded is not a boolean")
        for key, kinds in (("category", (str,)), ("license", (str,)), ("aliases", (list,)),
                           ("isSensitive", (bool,)), ("localOnly", (bool,))):
            value = emoji.get(key)
            if value is not None and not isinstance(value, kinds):
                raise wrong(f"emojis[{i}].emoji.{key} has the wrong type")
        aliases = emoji.get("aliases") or []
        if not all(isinstance(a, str) for a in aliases):
            raise wrong(f"emojis[{i}].emoji.aliases is not a list of strings")
        rel = safe_relpath(file_name)
        if rel is None or rel == META_JSON:
            raise wrong(f"emojis[{i}].fileName is an unsafe path {file_name!r}")
        # An emojid export adds its metadata as it was (Misskey's license field mixes licence,
        # author and the pack's licence) and the shortcode before Misskey's rules rewrote it.
        ours = record.get("emojid")
        shortcode = name
        if isinstance(ours, dict):
            meta = clean_entry({**ours, "tags": aliases})
            if isinstance(ours.get("shortcode"), str) and ours["shortcode"]:
                shortcode = ours["shortcode"]
        else:
            meta = split_misskey_license(emoji["license"]) if isinstance(emoji.get("license"), str) else {}
            meta.update(clean_entry({"tags": aliases}))
        category = emoji.get("category")
        records.append(_MisskeyRecord(shortcode, rel, downloaded, category if isinstance(category, str) else None,
                                      meta))
    return records


# -- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    shortcode: str  # in the pack
    filename: str  # in the pack
    candidate: Candidate
    replace: bool


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class _Planner:
    """What an import would do to the store as it is now (called under the write lock)."""

    def __init__(self, service: PackService, name: str, pack: Pack | None, on_conflict: str) -> None:
        self.service = service
        self.name = name
        self.pack = pack
        self.on_conflict = on_conflict
        self.pattern = re.compile(service.config.emoji.shortcode_pattern)
        self.claimed: set[str] = set()
        self.files_used: set[str] = set(pack.files.values()) if pack else set()

    def owner(self, shortcode: str) -> str | None:
        if self.pack is not None and shortcode in self.pack.files:
            return self.pack.name
        return self.service.index.shortcode_owner(shortcode)

    def existing_sha(self, owner: str, shortcode: str) -> str | None:
        if self.pack is not None and owner == self.pack.name:
            filename: str | None = self.pack.files.get(shortcode)
        else:
            row = self.service.index.emoji_row(owner, shortcode)
            filename = row.filename if row else None
        path = self.service.store.file_path(owner, filename) if filename else None
        try:
            return _sha256(path) if path is not None else None
        except OSError:
            return None

    def free(self, shortcode: str, incoming: set[str]) -> bool:
        return shortcode not in self.claimed and shortcode not in incoming and self.owner(shortcode) is None

    def file_free(self, filename: str) -> bool:
        if filename in self.files_used:
            return False
        return self.pack is None or not os.path.lexists(self.service.store.pack_dir(self.name) / filename)

    def filename_for(self, shortcode: str, candidate: Candidate) -> str:
        ext = extension(candidate.filename)
        if candidate.shortcode == shortcode and self.file_free(candidate.filename):
            return candidate.filename
        for n in range(1, 10_000):
            filename = f"{shortcode}{ext}" if n == 1 else f"{shortcode}-{n}{ext}"
            if self.file_free(filename):
                return filename
        raise BadRequest(f"No free file name for {shortcode} in pack {self.name}")

    def plan(self, unpacked: Unpacked) -> Plan:
        plan = Plan(skipped=list(unpacked.skipped))
        incoming = {c.shortcode for c in unpacked.candidates}
        by_source: dict[str, str] = {}  # aliases of a new pack share their file as in the archive
        for candidate in unpacked.candidates:
            code = candidate.shortcode
            owner = self.owner(code)
            if owner is None:
                self._add(plan, code, candidate, by_source)
                continue
            if self.existing_sha(owner, code) == candidate.sha256:
                plan.skipped.append((code, "identical"))
            elif self.on_conflict == "skip":
                plan.skipped.append((code, "exists"))
            elif self.on_conflict == "rename":
                new = next((f"{code}_{n}" for n in range(2, 10_000)
                            if self.pattern.fullmatch(f"{code}_{n}") and self.free(f"{code}_{n}", incoming)), None)
                if new is None:
                    plan.skipped.append((code, "exists"))
                    continue
                plan.renamed[code] = new
                self._add(plan, new, candidate, by_source)
            elif owner != self.name:
                plan.skipped.append((code, "in_other_pack"))
            else:
                self._replace(plan, code, candidate)
        return plan

    def _add(self, plan: Plan, code: str, candidate: Candidate, by_source: dict[str, str]) -> None:
        shared = by_source.get(candidate.filename) if self.pack is None and code == candidate.shortcode else None
        filename = shared or self.filename_for(code, candidate)
        by_source.setdefault(candidate.filename, filename)
        self.files_used.add(filename)
        self.claimed.add(code)
        plan.steps.append(Step(code, filename, candidate, replace=False))

    def _replace(self, plan: Plan, code: str, candidate: Candidate) -> None:
        assert self.pack is not None
        old = self.pack.files[code]
        alias = any(f == old for s, f in self.pack.files.items() if s != code)
        if extension(old) == extension(candidate.filename) and not alias:
            filename = old  # the new bytes take the old file's place
        else:
            filename = self.filename_for(code, candidate)
            self.files_used.add(filename)
        self.claimed.add(code)
        plan.steps.append(Step(code, filename, candidate, replace=True))


# -- the import -----------------------------------------------------------------------------


@contextlib.contextmanager
def _work_folder(service: PackService, dry_run: bool) -> Iterator[Path]:
    """Where the archive is unpacked: beside the packs for a real run (so a new pack goes into
    place by renames), in cache_dir for a dry run (the store sees nothing at all)."""
    if not dry_run:
        with service.store.staging_folder() as staging:
            yield staging
        return
    directory = service.config.cache_dir / "imports"
    directory.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=directory, prefix="import-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def import_archive(service: PackService, archive: Path, label: str, options: ImportOptions,
                         progress: Meters | None = None) -> ImportReport:
    """Import the archive at `archive` (the caller owns and removes it); `label` names it
    in errors and in the pack's origin (a URL or a file name)."""
    sha256 = (await anyio.to_thread.run_sync(_sha256, archive)).upper()
    with _work_folder(service, options.dry_run) as work:
        with metered(progress, f"Unpacking {posixpath.basename(label) or 'the archive'}", "files") as meter:
            unpacked = await anyio.to_thread.run_sync(
                lambda: _Reader(archive, label, service.config, work, meter).read(options.format))
        name = options.name or unpacked.default_name
        if name is None:
            raise BadRequest(f"No pack name can be made from {label!r}: give one (name)")
        name = check_pack_name(name)

        def write() -> ImportReport:
            pack = service.store.load(name) if service.store.exists(name) else None
            if pack is None and os.path.lexists(service.store.pack_dir(name)):
                raise Conflict(f'"{name}" is a folder without pack.json in the pack store: make it a pack first '
                               "(emojid pack import), or import under another name")
            plan = _Planner(service, name, pack, options.on_conflict).plan(unpacked)
            report = ImportReport(name, unpacked.format, options.dry_run,
                                  added=sorted(s.shortcode for s in plan.steps if not s.replace),
                                  replaced=sorted(s.shortcode for s in plan.steps if s.replace),
                                  renamed=dict(sorted(plan.renamed.items())),
                                  skipped=[{"shortcode": code, "reason": reason} for code, reason in plan.skipped])
            if options.dry_run or not plan.steps:
                return report
            meta = {s.shortcode: s.candidate.meta for s in plan.steps if s.candidate.meta or not s.replace}
            if pack is None:
                _install_new(service, name, work, plan, unpacked.pack_meta, meta)
            else:
                service.store.merge_files(name, [(s.shortcode, s.filename, work / s.candidate.filename)
                                                 for s in plan.steps], meta)
            service.index.record_origin(Origin(name, "import", label, None, unpacked.format, sha256, len(plan.steps),
                                               now_iso()), fresh=pack is None)
            return report

        return await service.write_locked(write, name)


def _install_new(service: PackService, name: str, work: Path, plan: Plan, pack_meta: dict[str, Any],
                 meta: dict[str, EmojiMeta]) -> None:
    """The new pack assembled by hard links from the work folder, then put in place with one rename."""
    with service.store.staging_folder() as staging:
        for step in plan.steps:
            target = staging / step.filename
            if target.exists():
                continue  # an alias: the file is there already
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(work / step.candidate.filename, target)
        files = {s.shortcode: s.filename for s in plan.steps}
        service.store.write_staged_pack_json(staging, files, pack_meta, meta)
        service.store.move_into_place(staging, service.store.pack_dir(name), replace=False)

