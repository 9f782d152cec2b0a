"""Customer notices: what the shop tells a customer by SMS or messenger, through one gateway.

- `text`: templates with `{placeholders}`, checked when saved, rendered (never failing) when sent;
- `policy`: quiet hours in the shop's zone (held until they end) and who may be written to (never a
  hidden number);
- `data`: the admin's settings and per-status templates, and the log of every notice and its state;
- `causes`: a missed call's callback task or an order's status change made into one notice (one per
  cause, however often the job runs).

Sending is the job queue's (web/jobs/notices.py) through a gateway adapter (web/jobs/notice_gateway.py).
"""
