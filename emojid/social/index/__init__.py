"""SocialIndex: the social part's tables, over the accounts of the auth part."""

from __future__ import annotations

from emojid.auth.index import AuthIndex
from emojid.social.index.conversations import ConversationsIndex
from emojid.social.index.events import EventsIndex
from emojid.social.index.interactions import InteractionsIndex
from emojid.social.index.profiles import ProfilesIndex
from emojid.social.index.registration import RegistrationIndex
from emojid.social.index.relationships import RelationshipsIndex
from emojid.social.index.statuses import StatusesIndex


class SocialIndex(AuthIndex, ProfilesIndex, RelationshipsIndex, RegistrationIndex, StatusesIndex,
                  InteractionsIndex, ConversationsIndex, EventsIndex):
    """Social services read accounts through the auth part's tables; never the other way."""
