"""How large a request body each route of ``tfpilot serve`` accepts, and what is checked first.

Used by :class:`tfpilot_core.body_limits.BodyLimit` (inside the identity middleware, so the
caller is known before any body is read):

- the API: an authenticated caller (401 unread otherwise), 1 MiB (request inputs are at most
  256 KiB of JSON by default, ``[core] max_request_bytes``);
- the pages: 1 MiB (their forms check the session and the CSRF token before reading);
- ``/login``: 64 KiB (a token in a form), no caller yet by nature;
- Slack interactivity: its signature headers first, 1 MiB (Slack's payloads are far smaller);
- the GitHub webhook: its signature header first, 25 MiB (GitHub's own cap on payloads);
- other public plugin routes: 1 MiB.
"""

from __future__ import annotations

from collections.abc import Iterable

from tfpilot_core.body_limits import KIB, MIB, BodyRule

#: GitHub caps webhook payloads at 25 MB.
GITHUB_MAX = 25 * MIB


def web_body_rules(public_prefixes: Iterable[str] = ()) -> list[BodyRule]:
    """The rules of the web server; ``public_prefixes``: plugin routes that authenticate alone."""
    from tfpilot_web.registration import SLACK_PREFIX

    public = set(public_prefixes)
    rules = [
        BodyRule("", MIB),
        BodyRule("/api", MIB, authenticated=True),
        BodyRule("/login", 64 * KIB),
    ]
    # The integrations' own rules only where they are mounted (elsewhere: 404 as any path).
    if SLACK_PREFIX in public:
        rules.append(
            BodyRule(
                SLACK_PREFIX,
                MIB,
                required_headers=("x-slack-signature", "x-slack-request-timestamp"),
            )
        )
    rules.append(
        BodyRule(
            "/hooks/github",
            GITHUB_MAX,
            authenticated="/hooks/github" not in public,
            required_headers=("x-hub-signature-256",),
        )
    )
    known = {rule.prefix for rule in rules}
    return rules + [BodyRule(prefix, MIB) for prefix in sorted(public - known)]
