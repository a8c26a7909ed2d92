"""Events against real servers: create, edit, join and leave, participation requests, ics, places."""

from __future__ import annotations

from pathlib import Path

import icalendar
import pytest

from emojid.social.locations import Location
from tests.conftest import serving
from tests.web.accounts_support import assert_error, make_account, token_for

V1 = "/api/v1/pleroma"
EVENT = {"name": "Emoji meetup", "status": "Bring your #blobs", "start_time": "2030-01-01T18:00:00.000Z",
         "end_time": "2030-01-01T21:30:00.000Z"}


async def create(c, **changes) -> dict:
    r = await c.post(f"{V1}/events", json={**EVENT, **changes})
    assert r.status_code == 200, r.text
    return r.json()


async def event_of(c, status_id: str) -> dict:
    r = await c.get(f"/api/v1/statuses/{status_id}")
    assert r.status_code == 200, r.text
    return r.json()["pleroma"]["event"]


async def test_create_event(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        status = await create(c)
        assert status["id"].isdigit() and status["account"]["username"] == "user"
        assert "Bring your" in status["content"] and status["tags"][0]["name"] == "blobs"
        assert status["pleroma"]["event"] == {
            "name": "Emoji meetup", "start_time": "2030-01-01T18:00:00.000Z", "end_time": "2030-01-01T21:30:00.000Z",
            "join_mode": "free", "participants_count": 0, "location": None, "join_state": None,
            "participation_request_count": 0,
        }
        # the event is a status: shown by the statuses routes, to anyone when public
        seen = (await anon.get(f"/api/v1/statuses/{status['id']}")).json()
        assert seen["pleroma"]["event"]["name"] == "Emoji meetup"
        assert seen["pleroma"]["event"]["join_state"] is None
        assert seen["pleroma"]["event"]["participation_request_count"] is None
        # plain statuses say they are no event
        note = (await c.post("/api/v1/statuses", json={"status": "just a note"})).json()
        assert note["pleroma"]["event"] is None

        # no description, form body, the old prefix, restricted
        r = await c.post("/api/pleroma/events", data={"name": "Quiet", "start_time": "2030-02-01T10:00:00Z",
                                                      "join_mode": "restricted"})
        assert r.status_code == 200, r.text
        assert r.json()["content"] == "" and r.json()["pleroma"]["event"]["join_mode"] == "restricted"
        assert r.json()["pleroma"]["event"]["end_time"] is None


async def test_create_errors_write_nothing(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        assert_error(await c.post(f"{V1}/events", json={**EVENT, "end_time": "2029-12-31T04:00:00.000Z"}),
                     422, "Event can't end before its start")
        assert_error(await c.post(f"{V1}/events", json={"name": "x"}), 422, "Start date is required")
        assert_error(await c.post(f"{V1}/events", json={**EVENT, "name": " "}), 422)
        assert_error(await c.post(f"{V1}/events", json={k: v for k, v in EVENT.items() if k != "name"}), 422)
        assert_error(await c.post(f"{V1}/events", json={**EVENT, "start_time": "tomorrow"}), 400)
        assert_error(await c.post(f"{V1}/events", json={**EVENT, "join_mode": "invite"}), 400)
        assert_error(await c.post(f"{V1}/events", json={**EVENT, "name": ["a"]}), 400)
        assert_error(await c.post(f"{V1}/events", json={**EVENT, "visibility": "galaxy"}), 400)
        assert_error(await anon.post(f"{V1}/events", json=EVENT), 401)
        me = (await c.get("/api/v1/accounts/verify_credentials")).json()
        assert (await c.get(f"/api/v1/accounts/{me['id']}/statuses")).json() == []
        assert (await c.get(f"{V1}/events/joined_events")).json() == []
    async with server.client(token_for(server, "user", "read")) as c:
        assert_error(await c.post(f"{V1}/events", json=EVENT), 403)


async def test_join_and_leave_free_event(server):
    guest = make_account(server, "guest")
    async with server.client(server.user_token) as host, server.client(guest.token) as g:
        event = await create(host)
        eid = event["id"]
        r = await g.post(f"{V1}/events/{eid}/join")
        assert r.status_code == 200, r.text
        assert r.json()["id"] == eid and r.json()["pleroma"]["event"]["join_state"] == "accept"
        assert (await event_of(host, eid))["participants_count"] == 1
        names = [a["username"] for a in (await host.get(f"{V1}/events/{eid}/participations")).json()]
        assert names == ["guest"]
        joined = (await g.get(f"{V1}/events/joined_events")).json()
        assert [s["id"] for s in joined] == [eid]
        assert (await g.post(f"{V1}/events/{eid}/join")).status_code == 200  # twice is no change
        assert (await event_of(host, eid))["participants_count"] == 1

        # as in the events API's own tests: the organizer is no participant, and may not join or leave
        assert_error(await host.post(f"{V1}/events/{eid}/join"), 400, "Can't join your own event")
        assert_error(await host.post(f"{V1}/events/{eid}/leave"), 400, "Can't leave your own event")
        assert (await event_of(host, eid))["participants_count"] == 1
        assert (await event_of(host, eid))["join_state"] is None

        r = await g.post(f"{V1}/events/{eid}/leave")
        assert r.status_code == 200 and r.json()["pleroma"]["event"]["join_state"] is None
        assert (await event_of(host, eid))["participants_count"] == 0
        assert (await host.get(f"{V1}/events/{eid}/participations")).json() == []
        assert (await g.get(f"{V1}/events/joined_events")).json() == []
        assert_error(await g.post(f"{V1}/events/{eid}/leave"), 400, "Not participating in the event")


async def test_restricted_event_requests(server):
    alice, bob, carol = (make_account(server, n) for n in ("alice", "bob", "carol"))
    async with server.client(server.user_token) as host, server.client(alice.token) as a, \
            server.client(bob.token) as b, server.client(carol.token) as c:
        eid = (await create(host, join_mode="restricted"))["id"]
        r = await a.post(f"{V1}/events/{eid}/join", json={"participation_message": "I'm interested in this event"})
        assert r.status_code == 200 and r.json()["pleroma"]["event"]["join_state"] == "pending"
        await b.post(f"{V1}/events/{eid}/join", data={"participation_message": "me too"})
        assert (await event_of(host, eid))["participation_request_count"] == 2
        assert (await event_of(host, eid))["participants_count"] == 0

        requests = (await host.get(f"{V1}/events/{eid}/participation_requests")).json()
        assert [(x["account"]["username"], x["participation_message"]) for x in requests] == [
            ("bob", "me too"), ("alice", "I'm interested in this event")]
        r = await host.get(f"{V1}/events/{eid}/participation_requests", params={"limit": 1})
        assert len(r.json()) == 1 and 'rel="next"' in r.headers["link"]
        assert_error(await a.get(f"{V1}/events/{eid}/participation_requests"), 403,
                     "Can't get participation requests")
        assert [s["id"] for s in (await a.get(f"{V1}/events/joined_events", params={"state": "pending"})).json()] \
            == [eid]
        assert (await a.get(f"{V1}/events/joined_events", params={"state": "accept"})).json() == []

        # only the organizer answers, and only real requests
        assert_error(await c.post(f"{V1}/events/{eid}/participation_requests/{alice.id}/authorize"),
                     403, "Access denied")
        assert_error(await host.post(f"{V1}/events/{eid}/participation_requests/{carol.id}/authorize"), 404)
        assert_error(await host.post(f"{V1}/events/{eid}/participation_requests/999999/authorize"), 404)

        r = await host.post(f"{V1}/events/{eid}/participation_requests/{alice.id}/authorize")
        assert r.status_code == 200 and r.json()["id"] == eid
        names = [x["username"] for x in (await host.get(f"{V1}/events/{eid}/participations")).json()]
        assert names == ["alice"]
        assert (await event_of(a, eid))["join_state"] == "accept"
        assert [s["id"] for s in (await a.get(f"{V1}/events/joined_events", params={"state": "accept"})).json()] \
            == [eid]

        r = await host.post(f"/api/pleroma/events/{eid}/participation_requests/{bob.id}/reject")
        assert r.status_code == 200
        assert (await event_of(b, eid))["join_state"] == "reject"
        assert (await host.get(f"{V1}/events/{eid}/participation_requests")).json() == []
        event = await event_of(host, eid)
        assert event["participants_count"] == 1 and event["participation_request_count"] == 0
        assert_error(await a.get(f"{V1}/events/joined_events", params={"state": "maybe"}), 400)


async def test_edit_event_post_and_put(server):
    other = make_account(server, "other")
    async with server.client(server.user_token) as c, server.client(other.token) as o:
        eid = (await create(c))["id"]
        # moving the start past the end is refused, and changes nothing
        assert_error(await c.post(f"{V1}/events/{eid}", json={"name": "moved", "start_time": "2030-01-02T18:00:00Z"}),
                     422, "Event can't end before its start")
        assert (await event_of(c, eid))["name"] == "Emoji meetup"

        r = await c.post(f"{V1}/events/{eid}", json={"name": "Emoji meetup (moved)", "status": "New #room",
                                                      "start_time": "2030-01-02T18:00:00Z", "end_time": ""})
        assert r.status_code == 200, r.text
        shown = (await c.get(f"/api/v1/statuses/{eid}")).json()
        assert shown["pleroma"]["event"]["name"] == "Emoji meetup (moved)"
        assert shown["pleroma"]["event"]["start_time"] == "2030-01-02T18:00:00.000Z"
        assert shown["pleroma"]["event"]["end_time"] is None
        assert "New" in shown["content"] and [t["name"] for t in shown["tags"]] == ["room"]

        r = await c.put(f"{V1}/events/{eid}", json={"end_time": "2030-01-02T23:00:00+01:00"})
        assert r.status_code == 200
        event = await event_of(c, eid)
        assert event["end_time"] == "2030-01-02T22:00:00.000Z" and event["name"] == "Emoji meetup (moved)"
        assert_error(await c.put(f"{V1}/events/{eid}", data={"end_time": "2030-01-01T00:00:00Z"}), 422)

        assert_error(await o.put(f"{V1}/events/{eid}", json={"name": "mine now"}), 403, "Access denied")
        assert_error(await c.put(f"{V1}/events/99999", json={"name": "x"}), 404)
        note = (await c.post("/api/v1/statuses", json={"status": "a note"})).json()
        assert_error(await c.put(f"{V1}/events/{note['id']}", json={"name": "x"}), 404)
        assert (await event_of(c, eid))["name"] == "Emoji meetup (moved)"


async def test_banner(server):
    async with server.client(server.user_token) as c:
        from tests.helpers import png_bytes

        media = (await c.post("/api/v1/media", files={"file": ("b.png", png_bytes(), "image/png")})).json()
        status = await create(c, banner_id=media["id"])
        assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
        await c.put(f"{V1}/events/{status['id']}", json={"banner_id": None})
        assert (await c.get(f"/api/v1/statuses/{status['id']}")).json()["media_attachments"] == []


async def test_ics(server):
    async with server.client(server.user_token) as c, server.anon() as anon:
        status = await create(c, status="Line one,\nline; two")
        for method in ("GET", "POST"):
            r = await anon.request(method, f"{V1}/events/{status['id']}/ics")
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/calendar")
            cal = icalendar.Calendar.from_ical(r.content)
            [event] = cal.walk("VEVENT")
            assert str(event["SUMMARY"]) == "Emoji meetup"
            assert str(event["DESCRIPTION"]) == "Line one,\nline; two"
            assert event.decoded("DTSTART").isoformat() == "2030-01-01T18:00:00+00:00"
            assert event.decoded("DTEND").isoformat() == "2030-01-01T21:30:00+00:00"
            assert str(event["UID"]) == status["uri"] and str(event["URL"]) == status["url"]
            assert str(event["ORGANIZER"]) == f"{server.url}/users/user"
            assert str(cal["VERSION"]) == "2.0"
        # long names are folded (at 75 octets, never inside a UTF-8 sequence) and read back whole
        long_name = "Émoji-Treffen; Köln, " * 12
        status = await create(c, name=long_name, status="")
        raw = (await anon.get(f"{V1}/events/{status['id']}/ics")).content
        assert max(len(line) for line in raw.split(b"\r\n")) <= 75
        [event] = icalendar.Calendar.from_ical(raw).walk("VEVENT")
        assert str(event["SUMMARY"]) == long_name.strip() and str(event["DESCRIPTION"]) == ""

        note = (await c.post("/api/v1/statuses", json={"status": "a note"})).json()
        assert_error(await anon.get(f"{V1}/events/{note['id']}/ics"), 404)
        assert_error(await anon.get(f"{V1}/events/424242/ics"), 404)
        private = await create(c, visibility="private")
        assert_error(await anon.get(f"{V1}/events/{private['id']}/ics"), 404)
        assert (await c.get(f"{V1}/events/{private['id']}/ics")).status_code == 200


async def test_ics_calendar_fields_and_organizer_name(server):
    """Every field of the .ics, and an organizer name with quotes, colons and commas read back whole (RFC 6868)."""
    name = 'Ann "the Blob" O\'Neil: host, co; ünï'
    async with server.client(server.user_token) as c, server.anon() as anon:
        r = await c.patch("/api/v1/accounts/update_credentials", json={"display_name": name})
        assert r.status_code == 200, r.text
        status = await create(c)
        r = await anon.get(f"{V1}/events/{status['id']}/ics")
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == f'inline; filename="event-{status["id"]}.ics"'
        assert r.content.endswith(b"END:VCALENDAR\r\n") and b"\n" not in r.content.replace(b"\r\n", b"")
        cal = icalendar.Calendar.from_ical(r.content)
        assert str(cal["PRODID"]) == "-//emojid//emojid events//EN"
        assert str(cal["CALSCALE"]) == "GREGORIAN" and str(cal["METHOD"]) == "PUBLISH"
        [event] = cal.walk("VEVENT")
        assert str(event["ORGANIZER"]) == f"{server.url}/users/user"
        assert event["ORGANIZER"].params["CN"] == name
        assert event.decoded("DTSTAMP").isoformat() == status["created_at"].replace(".000Z", "+00:00")
        assert str(event["DESCRIPTION"]) == "Bring your #blobs"
        assert "LOCATION" not in event and "GEO" not in event
        # no end time: no DTEND
        r = await anon.get(f"{V1}/events/{(await create(c, end_time=''))['id']}/ics")
        [event] = icalendar.Calendar.from_ical(r.content).walk("VEVENT")
        assert "DTEND" not in event and event.decoded("DTSTART").isoformat() == "2030-01-01T18:00:00+00:00"


async def test_private_event_and_deletion(server):
    stranger = make_account(server, "stranger")
    async with server.client(server.user_token) as c, server.client(stranger.token) as s:
        private = await create(c, visibility="private")
        for path in ("join", "leave"):
            assert_error(await s.post(f"{V1}/events/{private['id']}/{path}"), 404)
        assert_error(await s.get(f"{V1}/events/{private['id']}/participations"), 404)

        public = await create(c)
        assert (await s.post(f"{V1}/events/{public['id']}/join")).status_code == 200
        assert (await c.delete(f"/api/v1/statuses/{public['id']}")).status_code == 200
        assert (await s.get(f"{V1}/events/joined_events")).json() == []
        assert_error(await s.post(f"{V1}/events/{public['id']}/leave"), 404)
    async with server.anon() as anon:
        assert_error(await anon.get(f"{V1}/events/joined_events"), 401)
        assert_error(await anon.get(f"{V1}/events/{private['id']}/participations"), 401)


# -- with a location provider ---------------------------------------------------------------


class Gazetteer:
    """A real (if small) provider: searches a fixed list of places."""

    places = [
        Location("3726208425", "gazetteer", "Benis", url="https://example.org/places/benis", street="Main 1",
                 postal_code="123", locality="Benis", region="East Azerbaijan", country="Iran",
                 longitude=45.7285348, latitude=38.212263),
        Location("42", "gazetteer", "Paris", locality="Paris", country="France", longitude=2.35, latitude=48.85),
    ]

    async def search(self, query, locale=None, kind=None):
        return [p for p in self.places if query.lower() in p.description.lower()]

    async def get_by_id(self, origin_id):
        return next((p for p in self.places if p.origin_id == origin_id), None)


@pytest.fixture
async def places_server(tmp_path: Path):
    def with_places(app) -> None:
        app.state.location_provider = Gazetteer()

    async with serving(tmp_path / "places", configure_app=with_places) as s:
        yield s


async def test_location_search_and_event_place(places_server):
    server = places_server
    async with server.client(server.user_token) as c, server.anon() as anon:
        found = (await c.get(f"{V1}/search/location", params={"q": "ben"})).json()
        assert found == [{
            "url": "https://example.org/places/benis", "description": "Benis",
            "geom": {"coordinates": [45.7285348, 38.212263], "srid": 4326}, "country": "Iran",
            "locality": "Benis", "region": "East Azerbaijan", "postal_code": "123", "street": "Main 1",
            "origin_id": "3726208425", "origin_provider": "gazetteer", "type": None, "timezone": None,
        }]
        status = await create(c, location_id="3726208425")
        location = status["pleroma"]["event"]["location"]
        assert location == {"name": "Benis", "url": "https://example.org/places/benis", "longitude": 45.7285348,
                            "latitude": 38.212263, "street": "Main 1", "postal_code": "123", "locality": "Benis",
                            "region": "East Azerbaijan", "country": "Iran"}
        [event] = icalendar.Calendar.from_ical((await anon.get(f"{V1}/events/{status['id']}/ics")).content) \
            .walk("VEVENT")
        assert str(event["LOCATION"]) == "Benis Main 1 123 Benis East Azerbaijan Iran"
        assert event.decoded("GEO") == (38.212263, 45.7285348)

        await c.put(f"{V1}/events/{status['id']}", json={"location_id": "42"})
        assert (await event_of(c, status["id"]))["location"]["name"] == "Paris"
        await c.put(f"{V1}/events/{status['id']}", json={"name": "renamed"})
        assert (await event_of(c, status["id"]))["location"]["name"] == "Paris"  # kept when not given
        await c.put(f"{V1}/events/{status['id']}", json={"location_id": ""})
        assert (await event_of(c, status["id"]))["location"] is None
        # an id the provider does not know names no place, as in rebased
        assert (await create(c, location_id="nowhere"))["pleroma"]["event"]["location"] is None


async def test_scopes_and_malformed_input(server):
    guest = make_account(server, "guest")
    async with server.client(server.user_token) as c, server.client(guest.token) as g:
        eid = (await create(c, join_mode="restricted"))["id"]
        await g.post(f"{V1}/events/{eid}/join")
        read_only, write_only = token_for(server, "user", "read"), token_for(server, "user", "write")
        async with server.client(read_only) as r:
            for path in (f"{eid}/join", f"{eid}/leave", f"{eid}/participation_requests/{guest.id}/authorize",
                         f"{eid}/participation_requests/{guest.id}/reject", eid):
                assert_error(await r.post(f"{V1}/events/{path}", json={"name": "x"}), 403)
            assert (await r.get(f"{V1}/events/{eid}/participations")).status_code == 200
        async with server.client(write_only) as w:
            for path in (f"{eid}/participations", f"{eid}/participation_requests", "joined_events"):
                assert_error(await w.get(f"{V1}/events/{path}"), 403)

        for method, path, body in [
            ("POST", f"{eid}/join", {"participation_message": ["a"]}),
            ("PUT", eid, {"banner_id": {"a": 1}}),
            ("PUT", eid, {"location_id": [1]}),
            ("PUT", eid, {"start_time": "2030-13-45T99:00:00Z"}),
            ("PUT", eid, {"status": {"x": 1}}),
            ("GET", "joined_events?limit=lots", None),
            ("GET", "joined_events?max_id=abc", None),
            ("GET", f"{eid}/participation_requests?since_id=-1", None),
        ]:
            r = await c.request(method, f"{V1}/events/{path}", json=body)
            assert_error(r, 400)
        for path in ("nope/join", "99999999999999999999/join", f"{eid}/participation_requests/nope/authorize"):
            assert_error(await c.post(f"{V1}/events/{path}"), 404)
        # nothing changed by the refused requests
        event = await event_of(c, eid)
        assert event["name"] == "Emoji meetup" and event["participation_request_count"] == 1
        assert (await g.get(f"{V1}/events/joined_events")).json()[0]["id"] == eid
