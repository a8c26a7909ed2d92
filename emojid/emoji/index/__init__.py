"""EmojiIndex: the emoji part's tables (packs, emoji, archives, mirrors, sync jobs, file facts,
search, pack origins)."""

from __future__ import annotations

from emojid.emoji.index.catalog import CatalogIndex
from emojid.emoji.index.files import EmojiFilesIndex
from emojid.emoji.index.mirrors import MirrorsIndex
from emojid.emoji.index.origins import OriginsIndex
from emojid.emoji.index.packs import PacksIndex
from emojid.emoji.index.sync_jobs import SyncJobsIndex


class EmojiIndex(PacksIndex, MirrorsIndex, SyncJobsIndex, EmojiFilesIndex, CatalogIndex, OriginsIndex):
    """Derived from the pack store (except mirrors, sync jobs and origins); `emojid reindex` rebuilds it."""
