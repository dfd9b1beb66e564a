#!/usr/bin/env python3
"""retain_date.py N: today (UTC) plus N calendar months, clamped to the month's last day,
as YYYY-MM-DD; computed independently of the product."""
import calendar
import datetime
import sys

n = int(sys.argv[1])
t = datetime.datetime.now(datetime.timezone.utc).date()
m = t.month - 1 + n
y, m = t.year + m // 12, m % 12 + 1
print(datetime.date(y, m, min(t.day, calendar.monthrange(y, m)[1])).isoformat())
