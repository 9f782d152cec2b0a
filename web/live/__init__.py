"""The live panel: events pushed to the browser over a websocket as calls ring, answer and end.

- `hub`: this instance's connected tabs, each with a bounded queue (a slow tab is dropped, never waited for);
- `bus`: PostgreSQL LISTEN/NOTIFY, so an event raised by the instance that holds the AMI connection
  reaches tabs connected to any instance;
- `publisher`: turns the call facts, once written, into pops and journal updates for the right people;
- `pop_payload`: the caller's card as the pop's JSON, in the operator's language;
- `websocket`: the `/live` endpoint (session-authenticated; a snapshot first, then events).
"""
