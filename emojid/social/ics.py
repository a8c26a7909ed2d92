"""A minimal RFC 5545 writer: one VCALENDAR with one VEVENT, for GET /events/:id/ics.

Text values are escaped (backslash, `;`, `,`, newlines), lines end in CRLF
and are folded at 75 octets without splitting a UTF-8 sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

PRODID = "-//emojid//emojid events//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    summary: str
    start: datetime
    end: datetime | None = None
    description: str = ""
    url: str | None = None
    organizer_name: str | None = None
    organizer_uri: str | None = None
    location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    stamp: datetime | None = None


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n"))


def _param(value: str) -> str:
    # Parameter values may not hold '"'; quote them when they hold ':', ';' or ','.
    value = value.replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'"{value}"' if any(c in value for c in ":;,") else value


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Split a content line into 75-octet pieces, continuation lines starting with a space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    pieces, current, size, limit = [], [], 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, 74  # the leading space counts
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def calendar(event: CalendarEvent) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{utc_stamp(event.stamp or datetime.now(UTC))}",
        f"DTSTART:{utc_stamp(event.start)}",
    ]
    if event.end is not None:
        lines.append(f"DTEND:{utc_stamp(event.end)}")
    lines.append(f"SUMMARY:{escape_text(event.summary)}")
    lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.url:
        lines.append(f"URL:{event.url}")
    if event.organizer_uri:
        name = f";CN={_param(event.organizer_name)}" if event.organizer_name else ""
        lines.append(f"ORGANIZER{name}:{event.organizer_uri}")
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.latitude is not None and event.longitude is not None:
        lines.append(f"GEO:{event.latitude};{event.longitude}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
