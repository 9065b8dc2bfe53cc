"""hf-mem over a list of Hub ids, on the Hub-shaped server of bench/scan.py: run with the Python
of a virtual environment that has hf-mem (bench/requirements-hfmem.txt), not paramcount's.

hf-mem 0.5.6 does not read HF_ENDPOINT: its URLs are written as ``https://huggingface.co/...``
(hf_mem/run.py, hf_mem/gguf/fetch.py). Its HTTP client is an ``httpx2.AsyncClient``; this
script hands it a transport that sends requests for huggingface.co to ``--endpoint`` instead,
and changes nothing else (hf-mem's own requests, ranges, concurrency and parsing run as they
are). Each id is one ``hf_mem.run.arun(model_id)`` call, ``--workers`` of them at once on one
event loop; one JSON line per id: ``{"id", "params", "bytes", "error"}``.

    python bench/hfmem_scan.py --endpoint http://127.0.0.1:PORT --workers 8 ids.txt
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx2

# the module (``from hf_mem import run`` is a function: the package binds ``run`` to one)
hf_run = importlib.import_module("hf_mem.run")


def local_client(endpoint: str) -> Any:
    """``httpx2.AsyncClient`` as hf-mem builds it, its huggingface.co requests sent to
    ``endpoint``."""
    parts = urlsplit(endpoint)
    real = httpx2.AsyncClient

    class Redirected(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.url.host == "huggingface.co":
                request.url = request.url.copy_with(scheme=parts.scheme, host=parts.hostname,
                                                    port=parts.port)
                request.headers["Host"] = parts.netloc
            return await super().handle_async_request(request)

    def client(**kwargs: Any) -> Any:
        limits = kwargs.pop("limits", None)
        transport = Redirected(http2=kwargs.pop("http2", False),
                               **({"limits": limits} if limits else {}))
        return real(transport=transport, **kwargs)

    return client


async def one(model_id: str, gate: asyncio.Semaphore) -> dict[str, Any]:
    async with gate:
        try:
            result = await hf_run.arun(model_id=model_id)
        except Exception as err:  # a row per id, as paramcount scan writes one
            return {"id": model_id, "params": None, "bytes": None,
                    "error": f"{type(err).__name__}: {err}"[:300]}
    meta = result.safetensors
    return {"id": model_id, "params": meta.param_count if meta else None,
            "bytes": result.memory, "error": ""}


async def main_async(ids: list[str], workers: int) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(workers)
    return list(await asyncio.gather(*(one(i, gate) for i in ids)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("ids", help="a file of Hub ids, one a line")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--workers", type=int, default=8)
    ns = p.parse_args()
    hf_run.httpx2.AsyncClient = local_client(ns.endpoint)  # type: ignore[attr-defined]
    with open(ns.ids, encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    for row in asyncio.run(main_async(ids, ns.workers)):
        sys.stdout.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
