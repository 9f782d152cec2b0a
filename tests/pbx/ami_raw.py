"""A raw AMI login over TCP: the manager user of the shipped manager.conf, checked without perezvon's client.

If perezvon cannot log in, the tier must say whether Asterisk refused the user (this helper fails too)
or perezvon's client is at fault (this helper succeeds).
"""

from __future__ import annotations

import asyncio


async def ami_login(host: str, port: int, user: str, secret: str, timeout_s: float = 10) -> dict[str, str]:
    """Log in and log off; the headers of the Login response (raises on a refusal or a timeout)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    try:
        banner = await asyncio.wait_for(reader.readline(), timeout_s)
        if not banner.startswith(b"Asterisk Call Manager/"):
            raise ConnectionError(f"not an AMI banner: {banner!r}")
        writer.write(f"Action: Login\r\nActionID: pbx-tier\r\nUsername: {user}\r\nSecret: {secret}\r\n"
                     "Events: off\r\n\r\n".encode())
        await writer.drain()
        while True:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
            headers = dict(line.split(": ", 1) for line in raw.decode().strip().split("\r\n") if ": " in line)
            if headers.get("ActionID") == "pbx-tier":
                break
        if headers.get("Response") != "Success":
            raise PermissionError(f"AMI login as {user} refused: {headers}")
        writer.write(b"Action: Logoff\r\n\r\n")
        await writer.drain()
        return headers
    finally:
        writer.close()
        await writer.wait_closed()
