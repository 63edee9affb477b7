"""The one offline policy of flatbench: when the network may be used, and whether a server
answers. Hub models (`models.transformers`), hub datasets (`data.datasets`) and attack resources
(`attack_resources.catalog`, `attack_resources.counterfit`) all ask here, so `FLATBENCH_OFFLINE=1` and the Hugging
Face variables mean the same thing everywhere, and no probe waits longer than PROBE_TIMEOUT_S.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request

PROBE_TIMEOUT_S = 3.0  # network probes never wait longer (HF's own retry loop takes ~46 s)


def _truthy(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")


def forced_offline() -> bool:
    """``FLATBENCH_OFFLINE=1``: never touch the network."""
    return _truthy("FLATBENCH_OFFLINE")


def hf_offline() -> bool:
    return forced_offline() or _truthy("HF_HUB_OFFLINE") or _truthy("TRANSFORMERS_OFFLINE")


_reach_cache: dict[str, bool] = {}
_reach_lock = threading.Lock()


def reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether ``url``'s server answers within ``timeout`` seconds (any HTTP status counts).

    The probe runs in a daemon thread so a slow DNS lookup cannot hold us longer than
    ``timeout``; the answer is cached per host for the life of the process.
    """
    if forced_offline():
        return False
    host = urllib.request.urlparse(url).netloc
    with _reach_lock:
        if host in _reach_cache:
            return _reach_cache[host]
    result = [False]

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
            result[0] = True
        except urllib.error.HTTPError:
            result[0] = True  # the server answered
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    with _reach_lock:
        _reach_cache[host] = result[0]
    return result[0]


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable() -> bool:
    return not hf_offline() and reachable(hf_endpoint())




def hf_datasets_offline() -> bool:
    """Hub datasets may not be downloaded."""
    return hf_offline() or _truthy("HF_DATASETS_OFFLINE")
