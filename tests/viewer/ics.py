"""Reads an iCalendar feed with the `icalendar` package and prints its events as JSON.

Usage: python ics.py URL  ->  {"events": [{"uid", "sequence", "status", "summary",
"description", "dtstart", "dtend", "url"}, ...]} with times as Unix milliseconds (UTC).
"""

import json
import sys
import urllib.request

import icalendar


def millis(value):
    return int(value.dt.timestamp() * 1000)


def main():
    with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
        content_type = response.headers.get("content-type", "")
        body = response.read()
    calendar = icalendar.Calendar.from_ical(body)
    events = []
    for event in calendar.walk("VEVENT"):
        events.append(
            {
                "uid": str(event["UID"]),
                "sequence": int(event.get("SEQUENCE", 0)),
                "status": str(event.get("STATUS", "")),
                "summary": str(event.get("SUMMARY", "")),
                "description": str(event.get("DESCRIPTION", "")),
                "dtstart": millis(event["DTSTART"]),
                "dtend": millis(event["DTEND"]),
                "utc": event["DTSTART"].dt.utcoffset().total_seconds() == 0,
                "url": str(event.get("URL", "")),
            }
        )
    print(json.dumps({"content_type": content_type, "name": str(calendar.get("X-WR-CALNAME", "")), "events": events}))


if __name__ == "__main__":
    main()
