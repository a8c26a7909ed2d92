"""Lint: what is wrong with the packs, for this instance or for the server they will go to.

    findings = lint(index, config)                      # this instance's own rules
    findings = lint(index, config, ["blobs"], "mastodon")

Reads the index only (the file facts recorded when packs are indexed: sizes, SHA-256,
dimensions, frames, formats), never an image, so 100k emoji lint in about a second.
Codes and severities are INTERFACE.md's:

    bad_pack_json       error    pack.json unreadable (last good state still served);
                        warning  an entry set aside (its path leads outside the pack, ...)
    missing_file        error    listed, not in the folder (the pack cannot be shared)
    unlisted_file       warning  an image in the folder that pack.json does not list
    not_an_image        error    the bytes are no image (kept out of the emoji lists)
    wrong_extension     error    an image, but not of its extension's type (kept out too),
                                 or a type the rules do not take
    too_large           error    more bytes than the rules take (warning where only some
                                 ways in refuse it)
    too_many_pixels     error    more pixels than the rules take
    bad_shortcode       error    a shortcode the rules refuse (one the instance's
                                 shortcode_pattern refuses was set aside reading pack.json)
    duplicate_content   warning  the same bytes as another emoji's file
    duplicate_shortcode warning  the same shortcode in two packs (or folders)

Each target's limits are taken from that software's source; the comment beside each
value names the repository and file.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring as _quote
from typing import Any, NamedTuple

from emojid.config import Config
from emojid.emoji.index import EmojiIndex
from emojid.emoji.index.files import NOT_AN_IMAGE, WRONG_EXTENSION, LintRow, LintSnapshot
from emojid.emoji.names import extension
from emojid.errors import BadRequest, NotFound
from emojid.images import FORMATS, MAX_PIXELS

ERROR = "error"
WARNING = "warning"
CODES = ("bad_pack_json", "missing_file", "unlisted_file", "not_an_image", "wrong_extension", "too_large",
         "too_many_pixels", "bad_shortcode", "duplicate_content", "duplicate_shortcode")


class Finding(NamedTuple):
    """One lint finding (a named tuple: 100k of them are made in a second)."""

    pack: str
    shortcode: str | None
    filename: str | None
    code: str
    severity: str
    target: str | None
    message: str

    def json_text(self) -> str:
        """as_json() as JSON text, written out directly: 100k of them go by."""
        shortcode = "null" if self.shortcode is None else _quote(self.shortcode)
        filename = "null" if self.filename is None else _quote(self.filename)
        target = "null" if self.target is None else _quote(self.target)
        return (f'{{"pack":{_quote(self.pack)},"shortcode":{shortcode},"filename":{filename},'
                f'"code":"{self.code}","severity":"{self.severity}","target":{target},'
                f'"message":{_quote(self.message)}}}')

    def as_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "shortcode": self.shortcode, "filename": self.filename, "code": self.code,
                "severity": self.severity, "target": self.target, "message": self.message}


@dataclass(frozen=True)
class SizeLimit:
    max_bytes: int  # the largest size taken
    severity: str
    why: str  # what refuses more


@dataclass(frozen=True)
class PixelLimit:
    max_pixels: int  # width x height taken at most
    formats: frozenset[str] | None  # Pillow format names it applies to; None: every image
    why: str


@dataclass(frozen=True)
class Rules:
    """What one server takes as a custom emoji."""

    name: str  # "this instance", "Mastodon", ...
    shortcode: re.Pattern[str]
    shortcode_rule: str  # for messages
    sizes: tuple[SizeLimit, ...] = ()
    pixels: tuple[PixelLimit, ...] = ()
    formats: frozenset[str] | None = None  # Pillow format names taken; None: any image
    extensions: frozenset[str] | None = None  # file extensions taken; None: any
    loose_extensions: frozenset[str] | None = None  # what a folder without pack.json loads


KIB = 1024

# -- the targets, as their source sets them -----------------------------------------------

# Pleroma and Akkoma share the emoji code (Akkoma is a Pleroma fork):
# - the custom-emoji shortcode pattern: `@emoji_regex ~r/:[A-Za-z0-9_-]+(@.+)?:/` in
#   lib/pleroma/emoji.ex (read in BDX-town/Akkoma and in the Pleroma fork soapbox-pub/rebased,
#   same line); the pack API itself only refuses empty names (lib/pleroma/emoji/pack.ex
#   validate_not_empty, external-mirrors/pleroma).
# - uploads, an emoji file added through the pack API included, are cut at
#   `upload_limit: 16_000_000` (config/config.exs, `config :pleroma, :instance`;
#   external-mirrors/pleroma and BDX-town/Akkoma alike). Pack downloads have no per-file
#   limit, so a bigger file only blocks the upload way in: a warning.
# - a folder without pack.json loads only `pack_extensions: [".png", ".gif"]`
#   (config/config.exs, `config :pleroma, :emoji`; lib/pleroma/emoji/pack.ex files_from_path).
_PLEROMA_SHORTCODE = re.compile(r"[A-Za-z0-9_-]+")
_PLEROMA_UPLOAD_LIMIT = 16_000_000
_PLEROMA_PACK_EXTENSIONS = frozenset({".png", ".gif"})


def _pleroma(name: str, repo: str) -> Rules:
    return Rules(
        name=name,
        shortcode=_PLEROMA_SHORTCODE,
        shortcode_rule="[A-Za-z0-9_-]+",
        sizes=(SizeLimit(_PLEROMA_UPLOAD_LIMIT, WARNING,
                         f"{name}'s upload_limit ({_PLEROMA_UPLOAD_LIMIT} bytes) refuses it as an upload "
                         f"({repo} config/config.exs); a pack download still takes it"),),
        loose_extensions=_PLEROMA_PACK_EXTENSIONS,
    )


TARGETS: dict[str, Rules] = {
    "pleroma": _pleroma("Pleroma", "pleroma"),
    "akkoma": _pleroma("Akkoma", "BDX-town/Akkoma"),
    # Mastodon, mastodon/mastodon app/models/custom_emoji.rb:
    #   LIMIT = 256.kilobytes, validated as `size: { less_than: LIMIT }` (so 262143 bytes at most);
    #   SHORTCODE_RE_FRAGMENT = '[a-zA-Z0-9_]{2,}', MAX_SHORTCODE_SIZE = 128 (local emoji);
    #   IMAGE_MIME_TYPES = %w(image/png image/gif image/webp).
    # and app/models/concerns/attachmentable.rb (CustomEmoji includes Attachmentable):
    #   GIF_MATRIX_LIMIT = 921_600 (1280x720) for image/gif, MAX_MATRIX_LIMIT = 33_177_600
    #   (7680x4320) for other images, refused when width * height is greater.
    "mastodon": Rules(
        name="Mastodon",
        shortcode=re.compile(r"[a-zA-Z0-9_]{2,128}"),
        shortcode_rule="[a-zA-Z0-9_]{2,} and at most 128 characters",
        sizes=(SizeLimit(256 * KIB - 1, ERROR, "Mastodon takes custom emoji under 256 KiB "
                                               "(CustomEmoji::LIMIT, app/models/custom_emoji.rb)"),),
        pixels=(PixelLimit(921_600, frozenset({"GIF"}), "Mastodon takes GIFs up to 921600 pixels "
                                                        "(Attachmentable::GIF_MATRIX_LIMIT, 1280x720)"),
                PixelLimit(33_177_600, None, "Mastodon takes images up to 33177600 pixels "
                                             "(Attachmentable::MAX_MATRIX_LIMIT, 7680x4320)")),
        formats=frozenset({"PNG", "GIF", "WEBP"}),
    ),
    # Misskey, misskey-dev/misskey:
    #   packages/backend/src/server/api/endpoints/admin/emoji/add.ts:
    #     name: { type: 'string', pattern: '^[a-zA-Z0-9_]+$' }
    #   .config/example.yml: "Upload or download file size limits (bytes)" #maxFileSize: 262144000,
    #     the default when unset (role policies may lower it per user).
    #   An emoji is any drive file; every format emojid serves is one Misskey shows.
    "misskey": Rules(
        name="Misskey",
        shortcode=re.compile(r"[a-zA-Z0-9_]+"),
        shortcode_rule="[a-zA-Z0-9_]+",
        sizes=(SizeLimit(262_144_000, ERROR, "Misskey's maxFileSize (262144000 bytes, .config/example.yml) "
                                             "refuses bigger drive files"),),
    ),
    # GoToSocial, superseriousbusiness/gotosocial:
    #   internal/config/defaults.go: MediaEmojiLocalMaxSize: 50 * bytesize.KiB,
    #     MediaEmojiRemoteMaxSize: 100 * bytesize.KiB; internal/media/processingemoji.go
    #     refuses `size > maxSize` (local: uploaded by an admin; remote: fetched from a post).
    #   internal/regexes/regexes.go: emojiShortcode = `\w{1,30}` (Go's \w: [0-9A-Za-z_]),
    #     emojiValidator = `^` + emojiShortcode + `$`.
    #   internal/media/processingemoji.go takes any image ffprobe reads (FileTypeImage).
    "gotosocial": Rules(
        name="GoToSocial",
        shortcode=re.compile(r"[0-9A-Za-z_]{1,30}"),
        shortcode_rule=r"\w{1,30}",
        sizes=(SizeLimit(100 * KIB, ERROR, "GoToSocial refuses emoji over 100 KiB even from other servers "
                                           "(media-emoji-remote-max-size, internal/config/defaults.go)"),
               SizeLimit(50 * KIB, WARNING, "GoToSocial admins cannot upload emoji over 50 KiB "
                                            "(media-emoji-local-max-size, internal/config/defaults.go)")),
    ),
}


def instance_rules(config: Config) -> Rules:
    """This instance's own rules: [emoji] max_file_bytes, shortcode_pattern,
    allowed_extensions, and the image checks uploads pass (emojid.images)."""
    emoji = config.emoji
    return Rules(
        name="this instance",
        shortcode=re.compile(emoji.shortcode_pattern),
        shortcode_rule=emoji.shortcode_pattern,
        sizes=(SizeLimit(emoji.max_file_bytes, ERROR, f"[emoji] max_file_bytes is {emoji.max_file_bytes}"),),
        pixels=(PixelLimit(MAX_PIXELS, None, f"uploads take at most {MAX_PIXELS} pixels"),),
        formats=frozenset(FORMATS),
        extensions=frozenset(emoji.allowed_extensions),
    )


def rules_for(config: Config, target: str | None) -> Rules:
    if target is None or target == "":
        return instance_rules(config)
    rules = TARGETS.get(target.lower())
    if rules is None:
        raise BadRequest(f"Unknown target: {target!r} (one of: {', '.join(TARGETS)})")
    return rules


# -- the checks ------------------------------------------------------------------------


def lint(index: EmojiIndex, config: Config, packs: Collection[str] | None = None,
         target: str | None = None) -> list[Finding]:
    """Every finding for `packs` (every pack and folder without pack.json when None),
    sorted by pack, then shortcode and filename, then code."""
    with index.lint_snapshot() as snapshot:
        found = list(findings(snapshot, config, packs, target))
    found.sort(key=_order)
    return found


def _order(f: Finding) -> tuple[str, str, str, str]:
    """By pack, shortcode, filename, code. Indexes, not field names: half the time on 100k."""
    return f[0], f[1] or "", f[2] or "", f[3]


def findings(snapshot: LintSnapshot, config: Config, packs: Collection[str] | None = None,
             target: str | None = None) -> Iterator[Finding]:
    """The findings, unsorted, as the index snapshot yields them."""
    rules = rules_for(config, target)
    tag = target.lower() if target else None
    chosen = sorted(set(packs)) if packs is not None else None
    if chosen is not None:
        unknown = sorted(set(chosen) - snapshot.known())
        if unknown:
            raise NotFound(f"Pack {unknown[0]} does not exist")
    for name, error in snapshot.pack_errors(chosen):
        yield Finding(name, None, "pack.json", "bad_pack_json", ERROR, tag, error)
    for name, problem in snapshot.pack_problems(chosen):
        yield _set_aside(name, problem, tag)

    # The one pass over every emoji: most pass every check at once (no finding, no object).
    fits = rules.shortcode.fullmatch
    # Lower-cased names ending in one of these (an extension check, at the speed of C).
    endings = tuple(rules.extensions) if rules.extensions is not None else None
    smallest = min((limit.max_bytes for limit in rules.sizes), default=None)
    fewest = min((limit.max_pixels for limit in rules.pixels), default=None)
    shared = snapshot.shared_bytes()
    # Packs come by name and their emoji by shortcode: the first emoji met with some bytes
    # is the first of them all. (Only for every pack: a chosen few ask the index.)
    first: dict[str, tuple[str, str, str]] = {}
    for pack, loose, emoji, unlisted in snapshot.contents(chosen):
        slow = loose and rules.loose_extensions is not None
        for row in emoji:
            shortcode, filename, size, width, height, _frames, fmt, problem, sha = row
            if size is None:
                yield from _emoji(LintRow(pack, shortcode, filename, loose, *row[2:8]), rules, tag)
                continue
            if sha in shared and problem is None and chosen is None:
                original = first.setdefault(sha, (pack, filename, shortcode))
                if original[:2] != (pack, filename):
                    yield _duplicate(pack, shortcode, filename, original, tag)
            if (slow or problem is not None or not fits(shortcode)
                    or (smallest is not None and size > smallest)
                    or (fewest is not None and (width or 0) * (height or 0) > fewest)
                    or (rules.formats is not None and fmt not in rules.formats)
                    or (endings is not None and not filename.lower().endswith(endings))):
                yield from _emoji(LintRow(pack, shortcode, filename, loose, *row[2:8]), rules, tag)
        for filename in unlisted:
            yield Finding(pack, None, filename, "unlisted_file", WARNING, tag,
                          f"{filename} is in the folder but no emoji uses it")
    if chosen is not None:
        yield from _duplicate_content(list(snapshot.content_peers(chosen)), chosen, tag)
    yield from _duplicate_shortcodes(snapshot, chosen, tag)


def _duplicate(pack: str, shortcode: str, filename: str, first: tuple[str, str, str],
               target: str | None) -> Finding:
    return Finding(pack, shortcode, filename, "duplicate_content", WARNING, target,
                   f"the same bytes as :{first[2]}: ({first[0]}/{first[1]})")


def _duplicate_content(peers: list[tuple[str, str, str, str]], packs: list[str],
                       target: str | None) -> Iterator[Finding]:
    """An emoji of `packs` whose file has the same bytes as an earlier emoji's (by pack,
    then shortcode): one finding each, naming the first. Two shortcodes of one file are
    an alias, not a duplicate."""
    first: dict[str, tuple[str, str, str]] = {}
    for sha, pack, filename, shortcode in peers:
        known = first.get(sha)
        if known is None or (pack, shortcode) < (known[0], known[2]):
            first[sha] = (pack, filename, shortcode)
    wanted = set(packs)
    for sha, pack, filename, shortcode in peers:
        original = first[sha]
        if original[:2] != (pack, filename) and pack in wanted:
            yield _duplicate(pack, shortcode, filename, original, target)


def _set_aside(pack: str, problem: str, target: str | None) -> Finding:
    """An entry reading pack.json set aside (as the store words it): a shortcode the
    instance's pattern refuses is bad_shortcode; anything else a bad_pack_json warning."""
    quoted, sep, rule = problem.partition(": not a valid shortcode")
    if sep:
        try:
            shortcode = str(ast.literal_eval(quoted))
        except (ValueError, SyntaxError):
            shortcode = quoted
        return Finding(pack, shortcode, None, "bad_shortcode", ERROR, target,
                       f"pack.json lists :{shortcode}:, not a valid shortcode{rule.removesuffix(', ignored')}; not served")
    shortcode, sep, _rest = problem.partition(": unsafe path ")
    return Finding(pack, shortcode if sep else None, None, "bad_pack_json", WARNING, target, f"pack.json: {problem}")


def _emoji(row: LintRow, rules: Rules, target: str | None) -> Iterator[Finding]:
    def finding(code: str, severity: str, message: str) -> Finding:
        return Finding(row.pack, row.shortcode, row.filename, code, severity, target, message)

    if not rules.shortcode.fullmatch(row.shortcode):
        yield finding("bad_shortcode", ERROR, f":{row.shortcode}: does not match {rules.shortcode_rule} "
                                              f"({rules.name})")
    ext = extension(row.filename)
    if rules.extensions is not None and ext not in rules.extensions:
        yield finding(WRONG_EXTENSION, ERROR, f"{row.filename}: {ext or 'no extension'} is not one of "
                                              f"{', '.join(sorted(rules.extensions))} ({rules.name})")
    if row.loose and rules.loose_extensions is not None and ext not in rules.loose_extensions:
        yield finding(WRONG_EXTENSION, WARNING, f"{rules.name} loads only {', '.join(sorted(rules.loose_extensions))}"
                                                " files from a folder without pack.json: import it as a pack")
    if row.size is None:
        where = "the folder's emoji.txt" if row.loose else "pack.json"
        yield finding("missing_file", ERROR, f"{row.filename} is listed in {where} but not in the folder")
        return
    if row.problem == NOT_AN_IMAGE:
        yield finding(NOT_AN_IMAGE, ERROR, f"{row.filename} is not an image ({row.size} bytes); "
                                           "not served in the emoji lists")
        return
    if row.problem == WRONG_EXTENSION:
        yield finding(WRONG_EXTENSION, ERROR, f"{row.filename} is a {row.format} image, not what its "
                                              "extension says; not served in the emoji lists")
    elif rules.formats is not None and row.format not in rules.formats:
        yield finding(WRONG_EXTENSION, ERROR, f"{row.filename} is a {row.format} image; {rules.name} takes "
                                              f"{', '.join(sorted(rules.formats))}")
    for limit in rules.sizes:
        if row.size > limit.max_bytes:
            yield finding("too_large", limit.severity, f"{row.filename} is {row.size} bytes, over "
                                                       f"{limit.max_bytes}: {limit.why}")
            break  # limits go largest first: the largest one broken is the one to tell
    pixels = (row.width or 0) * (row.height or 0)
    for pixel_limit in rules.pixels:
        if pixel_limit.formats is not None and row.format not in pixel_limit.formats:
            continue
        if pixels > pixel_limit.max_pixels:
            yield finding("too_many_pixels", ERROR, f"{row.filename} is {row.width}x{row.height} "
                                                    f"({pixels} pixels): {pixel_limit.why}")
        break  # the first limit that applies to the format is its limit


def _duplicate_shortcodes(snapshot: LintSnapshot, packs: list[str] | None, target: str | None) -> Iterator[Finding]:
    """A shortcode in more than one pack or folder: a finding for each holder. Mastodon's
    list shows every pack's, Pleroma's the first pack's; a folder's, none when a pack has it."""
    holders: dict[str, list[tuple[bool, str]]] = {}
    for shortcode, pack, loose in snapshot.shortcode_holders():
        holders.setdefault(shortcode, []).append((bool(loose), pack))
    wanted = set(packs) if packs is not None else None
    for shortcode, found in holders.items():
        if len(found) < 2:
            continue
        found.sort()  # packs before folders, then by name
        for loose, pack in found:
            if wanted is not None and pack not in wanted:
                continue
            others = ", ".join(p for _, p in found if p != pack)
            note = "; not in the emoji lists, the pack's is" if loose and not found[0][0] else ""
            yield Finding(pack, shortcode, None, "duplicate_shortcode", WARNING, target,
                          f":{shortcode}: is in {others} too{note}")


# -- counts for the healthcheck ---------------------------------------------------------


class LintCounts:
    """Findings by severity under the instance's rules, for the healthcheck: linted again
    only when the index changed (its emoji generation, or a pack.json error came or went)."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, ...], dict[str, int]] = {}
        self._lock = threading.Lock()

    def get(self, index: EmojiIndex, config: Config) -> dict[str, int]:
        with self._lock, index.lint_snapshot() as snapshot:
            errors = tuple(snapshot.pack_errors(None))
            key = (str(index.path), snapshot.generation(), errors, repr(config.emoji))
            counts = self._known.get(key)
            if counts is None:
                counts = {ERROR: 0, WARNING: 0}
                for finding in findings(snapshot, config):
                    counts[finding.severity] += 1
                # One entry per database: an older state of it is never asked for again.
                self._known = {k: v for k, v in self._known.items() if k[0] != key[0]}
                self._known[key] = counts
            return dict(counts)


COUNTS = LintCounts()
