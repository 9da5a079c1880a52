"""`url` uploads, as the worker imports them. The code lives in shared/fetch.py so that
the API can refuse a bad URL (`check_url`) before it queues anything."""
from shared.fetch import FetchError, FetchResult, check_url, fetch_url

__all__ = ["FetchError", "FetchResult", "check_url", "fetch_url"]
