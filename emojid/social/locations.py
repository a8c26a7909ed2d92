"""Location search for events: a provider interface, as rebased's Geospatial service.

A provider answers `search(query, locale, kind)` with `Location`s and
`get_by_id(origin_id)` with one of them (what an event's `location_id` names).
With no provider configured, searches answer nothing and a `location_id`
resolves to no location. A provider is put on the application as
`app.state.location_provider`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.applications import Starlette


@dataclass(frozen=True)
class Location:
    origin_id: str
    origin_provider: str
    description: str
    url: str | None = None
    street: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    region: str | None = None
    country: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    type: str | None = None
    timezone: str | None = None

    def render(self) -> dict:
        """The search entity (rebased's SearchView show_location)."""
        geom = None
        if self.longitude is not None and self.latitude is not None:
            geom = {"coordinates": [self.longitude, self.latitude], "srid": 4326}
        return {
            "url": self.url,
            "description": self.description,
            "geom": geom,
            "country": self.country,
            "locality": self.locality,
            "region": self.region,
            "postal_code": self.postal_code,
            "street": self.street,
            "origin_id": str(self.origin_id),
            "origin_provider": self.origin_provider,
            "type": self.type,
            "timezone": self.timezone,
        }

    def as_place(self) -> dict:
        """The ActivityStreams Place an event keeps (rebased's event_location)."""
        place: dict = {
            "type": "Place",
            "name": self.description,
            "id": self.url,
            "url": self.url,
            "address": {
                "type": "PostalAddress",
                "streetAddress": self.street,
                "postalCode": self.postal_code,
                "addressLocality": self.locality,
                "addressRegion": self.region,
                "addressCountry": self.country,
            },
            "origin_id": str(self.origin_id),
            "origin_provider": self.origin_provider,
        }
        if self.longitude is not None and self.latitude is not None:
            place.update(longitude=self.longitude, latitude=self.latitude)
        return place


class LocationProvider(Protocol):
    async def search(self, query: str, locale: str | None = None, kind: str | None = None) -> list[Location]: ...

    async def get_by_id(self, origin_id: str) -> Location | None: ...


class NoLocations:
    """What an instance without a geocoding backend has."""

    async def search(self, query: str, locale: str | None = None, kind: str | None = None) -> list[Location]:
        return []

    async def get_by_id(self, origin_id: str) -> Location | None:
        return None


def provider(app: Starlette) -> LocationProvider:
    return getattr(app.state, "location_provider", None) or NoLocations()
