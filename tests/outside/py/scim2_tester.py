"""scim2-tester, in its default configuration, against a real Plinto SCIM endpoint.

Inputs: SCIM_BASE ({issuer}/scim/v2) and SCIM_TOKEN (a bearer token of the tenant).
Output (last line): {"results": [{"title", "status", "reason", "resource_type"}...]}.

scim2-client's own network engine needs httpx2, which is not packaged with scim2-tester; the
engine below sends the same requests with `requests` (a base URL, a bearer header, nothing else)
and changes nothing scim2-tester checks.
"""

import json
import os
import sys
from urllib.parse import urljoin, urlsplit

# This file's name is the package's: keep its own directory off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import requests  # noqa: E402
from scim2_client import BaseSyncSCIMClient  # noqa: E402
from scim2_client.errors import RequestNetworkException  # noqa: E402
from scim2_tester import check_server  # noqa: E402


class RequestsSCIMClient(BaseSyncSCIMClient):
    def __init__(self, base_url, token, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_url = base_url.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _url(self, endpoint):
        return urljoin(self.base_url, endpoint.lstrip("/"))

    def _stays_under_base_url(self, endpoint):
        base, url = urlsplit(self.base_url), urlsplit(self._url(endpoint))
        return (base.scheme, base.netloc) == (url.scheme, url.netloc) and url.path.startswith(
            base.path
        )

    def request(self, method, url, **kwargs):
        try:
            return self.session.request(method, self._url(url), timeout=30, **kwargs)
        except requests.RequestException as exc:
            e = RequestNetworkException()
            e.add_note(str(exc))
            raise e from exc


def main():
    client = RequestsSCIMClient(os.environ["SCIM_BASE"], os.environ["SCIM_TOKEN"])
    results = check_server(client)
    out = [
        {
            "title": r.title,
            "status": r.status.name,
            "reason": r.reason,
            "resource_type": r.resource_type,
        }
        for r in results
    ]
    for r in out:
        print(f"{r['status']:10} {r['resource_type'] or '-':6} {r['title']}: {r['reason']}", file=sys.stderr)
    print(json.dumps({"results": out}))


if __name__ == "__main__":
    main()
