"""SocialIndex: the social part's tables, over the accounts of the auth part.

One mixin per concern, each a `Tables` over the shared database. A few use a
private helper of another: a new status writes its notifications and bumps its
conversation in its own transaction, a reaction its notification, and joined
events are a status timeline. Each declares the helper it uses (an annotation
only); SocialIndex brings the mixins together, so the call finds it.
"""

from __future__ import annotations

from emojid.auth.index import AuthIndex
from emojid.social.index.backups import BackupsIndex
from emojid.social.index.bookmark_folders import BookmarkFoldersIndex
from emojid.social.index.conversations import ConversationsIndex
from emojid.social.index.events import EventsIndex
from emojid.social.index.notifications import NotificationsIndex
from emojid.social.index.profiles import ProfilesIndex
from emojid.social.index.reactions import ReactionsIndex
from emojid.social.index.registration import RegistrationIndex
from emojid.social.index.relationships import RelationshipsIndex
from emojid.social.index.scrobbles import ScrobblesIndex
from emojid.social.index.statuses import StatusesIndex


class SocialIndex(AuthIndex, ProfilesIndex, RelationshipsIndex, RegistrationIndex, StatusesIndex,
                  ReactionsIndex, NotificationsIndex, ConversationsIndex, EventsIndex, ScrobblesIndex,
                  BookmarkFoldersIndex, BackupsIndex):
    """Social services read accounts through the auth part's tables; never the other way."""
