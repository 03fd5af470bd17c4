"""Cursor pagination: a page is a JSON array; the next page's URL is in the `Link` header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request, url_for


def next_link(items: Sequence[Any], limit: int, cursor_of: Any) -> dict[str, str]:
    """Headers pointing at the page after `items`, if it may hold anything."""
    if len(items) < limit:
        return {}
    cursor = cursor_of(items[-1])
    url = url_for(request.endpoint or "", **{**request.view_args, **request.args.to_dict(),
                                             "cursor": cursor, "limit": limit})
    return {"Link": f'<{url}>; rel="next"', "X-Next-Cursor": cursor}
