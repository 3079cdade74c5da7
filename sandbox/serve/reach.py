"""Does a base URL answer at all? For the contract kit's first check, with the standard library
only: the kit's own modules must not be imported before pytest imports them."""

from __future__ import annotations

import urllib.error
import urllib.request


def unreachable(base_url: str, timeout: float = 10.0) -> str | None:
    """Why `base_url` gives no HTTP answer, in a few words ("Connection refused"); None when it
    answers, whatever the status (a deployment may well answer / with a 404)."""
    try:
        urllib.request.urlopen(base_url.rstrip("/") + "/", timeout=timeout).close()  # noqa: S310 - the user's URL
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as exc:
        reason = exc.reason
        return getattr(reason, "strerror", None) or str(reason)
    except (OSError, ValueError) as exc:  # a timeout, a URL urllib cannot use
        return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return None
