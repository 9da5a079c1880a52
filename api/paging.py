"""`X-Total-Count` and RFC 8288 `Link` headers for paged lists."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import request


def page_headers(total: int, limit: int, page: int) -> dict[str, str]:
    def link(page_no: int, rel: str) -> str:
        args = {**request.args.to_dict(), "limit": limit, "page": page_no}
        return f'<{request.base_url}?{urlencode(args)}>; rel="{rel}"'

    last = max(1, -(-total // limit))
    links = [link(1, "first"), link(last, "last")]
    if page < last:
        links.append(link(page + 1, "next"))
    if page > 1:
        links.append(link(page - 1, "prev"))
    return {"X-Total-Count": str(total), "Link": ", ".join(links)}
