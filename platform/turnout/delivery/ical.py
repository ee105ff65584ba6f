"""The iCalendar invite an email carries (RFC 5545, built with the icalendar package)."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from ..kit.clock import clock


def invite(
    uid: str,
    summary: str,
    starts: datetime,
    ends: datetime,
    link: str,
    sequence: int = 0,
    organizer: str = "reminders@turnout.example",
) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Turnout//Interview reminders//EN")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"{uid}@turnout")
    event.add("dtstamp", clock.now())
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", summary)
    event.add("description", link)
    event.add("url", link)
    event.add("sequence", sequence)
    event.add("organizer", f"mailto:{organizer}")
    cal.add_component(event)
    return cal.to_ical()
