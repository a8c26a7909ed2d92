"""Events (rebased's Pleroma fork): statuses of type `Event` with a name, times, a join mode and a place.

    events = Events(index, config)
    status = events.create(account, {"name": ..., "start_time": ...}, location=None)
    events.join(other, status.id, "I'd like to come")     # `restricted`: a request to authorize

The organizer is not a participant of their own event, as in the events
API's own tests (rebased before "Auto join own events"): counts and the
participations list leave them out, and joining or leaving it answers 400.
In `free` mode a join is accepted at once; in `restricted` mode it waits as a
participation request until the organizer authorizes or rejects it. Error
texts are rebased's.
Every status entity carries `pleroma.event` (null for statuses that are not
events), added through the status view's extension hook.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import icalendar

from emojid.auth.index.accounts import Account
from emojid.config import Config
from emojid.errors import BadRequest, Forbidden, NotFound, Unprocessable
from emojid.http.params import text_param
from emojid.ids import new_id, now_iso
from emojid.social.entities import statuses as status_view
from emojid.social.handles import Naming
from emojid.social.index import SocialIndex
from emojid.social.index.events import EventEdit, EventRow, ParticipationRow
from emojid.social.index.relationships import BLOCK
from emojid.social.index.statuses import Status
from emojid.social.locations import Location
from emojid.social.paging import Page
from emojid.social.statuses import MAX_CHARACTERS, Statuses

JOIN_MODES = ("free", "restricted")
JOIN_STATES = ("pending", "reject", "accept")
MAX_NAME = 512
MAX_MESSAGE = MAX_CHARACTERS
# What an event passes on to the status it is.
STATUS_PARAMS = ("status", "visibility", "language", "content_type", "sensitive", "spoiler_text")
_TAG = re.compile(r"<[^>]*>")
PRODID = "-//emojid//emojid events//EN"  # of the .ics files


def parse_time(value: Any, name: str) -> datetime | None:
    """An ISO 8601 date-time (UTC when it names no offset); None when absent or empty."""
    text = text_param({name: value}, name)
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise BadRequest(f"Invalid {name}: expected an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def strip_tags(text: str) -> str:
    return html.unescape(_TAG.sub("", text.replace("<br/>", "\n").replace("<br>", "\n")))


def _name(value: str | None) -> str:
    if value is None or not value.strip():
        raise Unprocessable("Name is required")
    if len(value) > MAX_NAME:
        raise Unprocessable("The event name is over the character limit")
    return value.strip()


def _check_times(start: datetime | None, end: datetime | None) -> None:
    if start is None:
        raise Unprocessable("Start date is required")
    if end is not None and end < start:
        raise Unprocessable("Event can't end before its start")


class Events:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.config = config
        self.statuses = Statuses(index, config)
        self.naming = Naming(config)

    # -- finding -------------------------------------------------------------------

    def find(self, viewer: Account | None, status_id: str) -> tuple[Status, EventRow]:
        """An event the viewer may see; NotFound for anything else."""
        status = self.statuses.get_visible(viewer, status_id)
        event = self.index.event(status.id) if status.object_type == "Event" else None
        if event is None:
            raise NotFound("Record not found")
        return status, event

    def _own(self, account: Account, status_id: str) -> tuple[Status, EventRow]:
        status, event = self.find(account, status_id)
        if status.account_id != account.id:
            raise Forbidden("Access denied")
        return status, event

    # -- creating and editing --------------------------------------------------------

    def create(self, account: Account, params: dict, location: Location | None = None) -> Status:
        name = _name(text_param(params, "name"))
        start, end = parse_time(params.get("start_time"), "start_time"), parse_time(params.get("end_time"), "end_time")
        _check_times(start, end)
        join_mode = text_param(params, "join_mode") or "free"
        if join_mode not in JOIN_MODES:
            raise BadRequest(f"Invalid join_mode: expected one of {', '.join(JOIN_MODES)}")
        status_params = {key: params[key] for key in STATUS_PARAMS if key in params}
        banner = text_param(params, "banner_id")
        if banner:
            status_params["media_ids"] = [banner]
        status = self.statuses.create(account, status_params, object_type="Event")
        event = EventRow(status.id, name, iso(start), iso(end) if end else None, join_mode,
                         location.as_place() if location else None)
        try:
            self.index.insert_event(event)
        except BaseException:
            self.index.delete_status(status.id)  # no status without its event
            raise
        return status

    def update(self, account: Account, status_id: str, params: dict, location: Location | None = None,
               location_given: bool = False) -> Status:
        status, event = self._own(account, status_id)
        name = _name(text_param(params, "name")) if "name" in params else event.name
        start = parse_time(params.get("start_time"), "start_time") if "start_time" in params \
            else _moment(event.start_time)
        if "end_time" in params:
            end = parse_time(params.get("end_time"), "end_time")
        else:
            end = _moment(event.end_time) if event.end_time else None
        _check_times(start, end)
        place = (location.as_place() if location else None) if location_given else event.location
        changed = EventRow(event.status_id, name, iso(start), iso(end) if end else None, event.join_mode, place)
        edit = self._status_edit(account, params)
        self.index.update_event_row(changed, edit, now_iso())
        return self.index.status_by_id(status.id) or status

    def _status_edit(self, account: Account, params: dict) -> EventEdit | None:
        text = text_param(params, "status")
        banner_given = "banner_id" in params
        if text is None and not banner_given:
            return None
        edit = EventEdit()
        if text is not None:
            text = text.strip()
            if len(text) > MAX_CHARACTERS:
                raise Unprocessable("The status is over the character limit")
            formatted = self.statuses.format(text)
            edit = EventEdit(text, formatted.html, tuple(dict.fromkeys(t.lower() for t in formatted.tags)))
        if banner_given:
            banner = text_param(params, "banner_id")
            row = self.index.media_by_id(banner) if banner and banner.isdigit() else None
            media = (row.id,) if row is not None and row.account_id == account.id else ()
            edit = EventEdit(edit.text, edit.content, edit.tags, media)
        return edit

    # -- joining -----------------------------------------------------------------------

    def join(self, account: Account, status_id: str, message: str | None = None) -> Status:
        status, event = self.find(account, status_id)
        if status.account_id == account.id:
            raise BadRequest("Can't join your own event")
        if message is not None and len(message) > MAX_MESSAGE:
            raise Unprocessable("The participation message is over the character limit")
        state = "accept" if event.join_mode == "free" else "pending"
        self.index.add_event_participation(ParticipationRow(new_id(), status.id, account.id, state, message or None,
                                                      now_iso()))
        return status

    def leave(self, account: Account, status_id: str) -> Status:
        status, _event = self.find(account, status_id)
        if status.account_id == account.id:
            raise BadRequest("Can't leave your own event")
        if not self.index.delete_event_participation(status.id, account.id):
            raise BadRequest("Not participating in the event")
        return status

    def participants(self, viewer: Account, status_id: str) -> list[Account]:
        status, _event = self.find(viewer, status_id)
        now = now_iso()
        ids = self.index.event_participant_ids(status.id)
        found = {a.id: a for a in self.index.accounts_by_ids(ids)}
        return [found[i] for i in ids if i in found and not self.index.has_relationship(BLOCK, viewer.id, i, now)]

    def requests(self, viewer: Account, status_id: str, page: Page) -> list[tuple[ParticipationRow, Account]]:
        status, _event = self.find(viewer, status_id)
        if status.account_id != viewer.id:
            raise Forbidden("Can't get participation requests")
        rows = self.index.event_participation_page(status.id, "pending", page)
        found = {a.id: a for a in self.index.accounts_by_ids([r.account_id for r in rows])}
        return [(r, found[r.account_id]) for r in rows if r.account_id in found]

    def answer(self, organizer: Account, status_id: str, participant_id: str, accept: bool) -> Status:
        """Authorize (accept) or reject a participation (request)."""
        participant = self.index.account_by_id(participant_id) if participant_id.isdigit() else None
        if participant is None:
            raise NotFound("Record not found")
        status, _event = self._own(organizer, status_id)
        if participant.id == organizer.id or self.index.event_participation(status.id, participant.id) is None:
            raise NotFound("Record not found")
        self.index.set_event_participation_state(status.id, participant.id, "accept" if accept else "reject")
        return status

    def joined(self, viewer: Account, page: Page, state: str | None = None) -> list[tuple[int, Status]]:
        """The events the viewer joined (or asked to), the latest join first."""
        if state is not None and state not in JOIN_STATES:
            raise BadRequest(f"Invalid state: expected one of {', '.join(JOIN_STATES)}")
        return self.index.joined_events_page(viewer.id, page, state)

    # -- rendering -----------------------------------------------------------------------

    def entity(self, status: Status, viewer: Account | None) -> dict | None:
        """`pleroma.event` of a status: null unless it is an event."""
        event = self.index.event(status.id) if status.object_type == "Event" else None
        if event is None:
            return None
        accepted, pending = self.index.event_participation_counts(status.id)
        mine = self.index.event_participation(status.id, viewer.id) if viewer else None
        return {
            "name": event.name,
            "start_time": event.start_time,
            "end_time": event.end_time,
            "join_mode": event.join_mode,
            "participants_count": accepted,
            "location": render_place(event.location),
            "join_state": mine.state if mine else None,
            "participation_request_count": pending if viewer is not None and viewer.id == status.account_id
            else None,
        }

    def calendar(self, viewer: Account | None, status_id: str) -> bytes:
        """The event as an iCalendar file (RFC 5545, written by `icalendar`): one VEVENT in one VCALENDAR."""
        status, event = self.find(viewer, status_id)
        author = self.index.account_by_id(status.account_id)
        profile = self.index.profile(author.id) if author else None
        place = event.location or {}
        address = place.get("address") or {}
        where = " ".join(str(part) for part in (
            place.get("name"), address.get("streetAddress"), address.get("postalCode"),
            address.get("addressLocality"), address.get("addressRegion"), address.get("addressCountry"))
            if part).strip()
        base = self.config.public_url
        vevent = icalendar.Event()
        vevent.add("uid", f"{base}/objects/{status.id}")
        vevent.add("dtstamp", _moment(status.created_at) if status.created_at else datetime.now(UTC))
        vevent.add("dtstart", _moment(event.start_time))
        if event.end_time:
            vevent.add("dtend", _moment(event.end_time))
        vevent.add("summary", event.name)
        vevent.add("description", strip_tags(status.content))
        vevent.add("url", f"{base}/notice/{status.id}")
        if author is not None:
            organizer = icalendar.vCalAddress(self.naming.ap_id(author.nickname))
            if profile is not None:
                organizer.params["cn"] = icalendar.vText(profile.display_name or author.nickname)
            vevent.add("organizer", organizer)
        if where:
            vevent.add("location", where)
        latitude, longitude = place.get("latitude"), place.get("longitude")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (latitude, longitude)):
            vevent.add("geo", (float(latitude), float(longitude)))
        calendar = icalendar.Calendar()
        calendar.add("version", "2.0")
        calendar.add("prodid", PRODID)
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add_component(vevent)
        return calendar.to_ical()


def render_place(place: dict | None) -> dict | None:
    """rebased's StatusView build_event_location."""
    if not place or place.get("type") != "Place":
        return None
    entity = {"name": place.get("name"), "url": place.get("url"), "longitude": place.get("longitude"),
              "latitude": place.get("latitude")}
    address = place.get("address")
    if isinstance(address, dict) and address.get("type") == "PostalAddress":
        entity.update(street=address.get("streetAddress"), postal_code=address.get("postalCode"),
                      locality=address.get("addressLocality"), region=address.get("addressRegion"),
                      country=address.get("addressCountry"))
    return entity


def event_field(view: status_view.StatusView, status: Status, viewer: Account | None, entity: dict) -> None:
    """`pleroma.event` of a rendered status (rebased): the event, or None for other statuses."""
    entity["pleroma"]["event"] = Events(view.index, view.config).entity(status, viewer) \
        if status.object_type == "Event" else None

