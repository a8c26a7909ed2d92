"""EmojiIndex: the emoji part's tables (packs, emoji, archives, mirrors, sync jobs, file facts)."""

from __future__ import annotations

from emojid.emoji.index.files import EmojiFilesIndex
from emojid.emoji.index.mirrors import MirrorsIndex
from emojid.emoji.index.packs import PacksIndex
from emojid.emoji.index.sync_jobs import SyncJobsIndex


class EmojiIndex(PacksIndex, MirrorsIndex, SyncJobsIndex, EmojiFilesIndex):
    """Derived from the pack store (except mirrors and sync jobs); `emojid reindex` rebuilds it."""
