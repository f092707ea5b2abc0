"""Whether an address is on this machine (loopback): requests to it never leave it.

Decides that redaction is off by default for a local LLM server (`grader.api`) and that the review server
may run without an access token (`grader.review.security`).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """A host name or IP address (an IPv6 one with or without brackets) that is this machine:
    `localhost`, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """A server address (scheme://host:port, any path) whose host is this machine."""
    return is_loopback_host(urlsplit(url).hostname or "")
