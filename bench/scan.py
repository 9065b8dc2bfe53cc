"""``paramcount scan`` over a few hundred repos: models per second from local folders and from
Hub ids served on 127.0.0.1, bytes transferred per model, and hf-mem on the same served repos.

Builds ``--repos`` repos (default 300) of six real decoder shapes (Llama-3.2-1B and 3B,
Llama-3.1-8B, Mistral-7B, Llama-2-13B, Llama-3-70B; bfloat16, a config.json, one
model.safetensors up to 3B, else 5 GB shards and an index): each file holds its real header
and declares its real size, the rest never written (sparse on disk, zeros on the server). The
same repos are

- folders on disk, scanned by ``paramcount scan --from LIST`` (one process);
- served by the Hub-shaped server of tests/hub_server.py on 127.0.0.1, run by this script, and
  scanned by ``paramcount scan`` with ``HF_ENDPOINT`` set and an empty Hugging Face cache;
- read by hf-mem 0.5.6 (bench/hfmem_scan.py, in its own virtual environment: ``--hfmem-python``)
  from the same server: one process with ``--workers`` ids at once, and one process per id for
  the first ``--per-process`` ids (what a shell loop over ``hf-mem --model-id`` costs).

Each command runs ``--runs`` times as a fresh process; the median wall time is quoted, and the
server's own log counts the bytes and requests of each run. Both tools' counts are compared
repo by repo.

    python bench/scan.py --hfmem-python .venv-hfmem/bin/python
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import child_env  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import hub_server  # noqa: E402  the test server, reused as it is

PY = sys.executable
OUT = Path(__file__).resolve().parent / "out" / "scan"
#: (name, hidden, layers, heads, kv heads, MLP, vocabulary, tied head): the models' configs
SHAPES = (("llama-3.2-1b", 2048, 16, 32, 8, 8192, 128256, True),
          ("llama-3.2-3b", 3072, 28, 24, 8, 8192, 128256, True),
          ("llama-3.1-8b", 4096, 32, 32, 8, 14336, 128256, False),
          ("mistral-7b", 4096, 32, 32, 8, 14336, 32768, False),
          ("llama-2-13b", 5120, 40, 40, 40, 13824, 32000, False),
          ("llama-3-70b", 8192, 80, 64, 8, 28672, 128256, False))
SHARD = 5 * 10**9  # bytes per shard, as save_pretrained's default


def config(shape: tuple) -> dict:
    _, h, layers, heads, kv, ffn, vocab, tied = shape
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h,
            "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": kv, "intermediate_size": ffn, "vocab_size": vocab,
            "tie_word_embeddings": tied, "torch_dtype": "bfloat16", "rms_norm_eps": 1e-5}


def tensors(shape: tuple) -> list[tuple[str, tuple[int, ...]]]:
    """The tensors transformers' LlamaForCausalLM saves for this config (a tied head is not
    saved)."""
    _, h, layers, heads, kv, ffn, vocab, tied = shape
    d = h // heads
    out = [("model.embed_tokens.weight", (vocab, h))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.k_proj.weight",
                (kv * d, h)), (p + "self_attn.v_proj.weight", (kv * d, h)),
                (p + "self_attn.o_proj.weight", (h, h)), (p + "mlp.gate_proj.weight", (ffn, h)),
                (p + "mlp.up_proj.weight", (ffn, h)), (p + "mlp.down_proj.weight", (h, ffn)),
                (p + "input_layernorm.weight", (h,)),
                (p + "post_attention_layernorm.weight", (h,))]
    out.append(("model.norm.weight", (h,)))
    return out if tied else [*out, ("lm_head.weight", (vocab, h))]


def files(shape: tuple) -> dict[str, hub_server.Sparse | bytes]:
    """A repo's files: config.json, then model.safetensors or shards and their index; each
    safetensors file its header and its declared size."""
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, dims in tensors(shape):
        n = 2 * math.prod(dims)
        if size and size + n > SHARD:
            groups.append([])
            size = 0
        groups[-1].append((name, dims))
        size += n
    out: dict[str, hub_server.Sparse | bytes] = {
        "config.json": json.dumps(config(shape), indent=2).encode()}
    weight_map = {}
    for k, group in enumerate(groups, 1):
        name = ("model.safetensors" if len(groups) == 1
                else f"model-{k:05d}-of-{len(groups):05d}.safetensors")
        out[name] = sparse_safetensors(group)
        weight_map.update(dict.fromkeys((t for t, _ in group), name))
    if len(groups) > 1:
        out["model.safetensors.index.json"] = json.dumps(
            {"metadata": {}, "weight_map": weight_map}).encode()
    return out


def sparse_safetensors(group: list[tuple[str, tuple[int, ...]]]) -> hub_server.Sparse:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dims in group:
        n = 2 * math.prod(dims)
        header[name] = {"dtype": "BF16", "shape": list(dims), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    head = len(text).to_bytes(8, "little") + text
    return hub_server.Sparse(head, len(head) + offset)


def build(count: int) -> tuple[dict[str, hub_server.Repo], list[Path], dict[str, int]]:
    """The repos (served), their folders (on disk) and each repo's stored elements."""
    repos, folders, expected = {}, [], {}
    OUT.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        repo_id = f"bench/{shape[0]}-{i:04d}"
        tree = files(shape)
        repos[repo_id] = hub_server.Repo.with_files(tree)
        folder = OUT / "local" / repo_id.replace("/", "--")
        folders.append(folder)
        expected[repo_id] = sum(math.prod(d) for _, d in tensors(shape))
        if not (folder / "config.json").exists():
            write_folder(folder, tree)
    return repos, folders, expected


def write_folder(folder: Path, tree: dict[str, hub_server.Sparse | bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(tree.items(), key=lambda kv: kv[0] == "config.json"):
        with open(folder / name, "wb") as f:  # config.json last: a folder is complete
            if isinstance(data, hub_server.Sparse):
                f.write(data.head)
                f.truncate(len(data))  # the weights: a hole, no disk
            else:
                f.write(data)


def cached_derived_fields() -> None:
    """The server's model_info derives the safetensors totals from every header of a repo on
    each call; the Hub stores them. Derived once per commit here, so that the server's own
    work does not weigh on the tool that calls model_info."""
    real, seen = hub_server._derived_fields, {}

    def derived(files: dict) -> dict:
        if id(files) not in seen:
            seen[id(files)] = real(files)
        return seen[id(files)]

    hub_server._derived_fields = derived


def timed(cmd: list[str], env: dict[str, str], runs: int, server: hub_server.HubServer | None,
          ok: tuple[int, ...] = (0,)) -> dict:
    """The median wall time of ``runs`` fresh processes, the last run's output, and the
    server's bytes and requests per run."""
    walls, sent, asked = [], 0, 0
    out = ""
    for _ in range(runs):
        before = (server.bytes_sent(), len(server.requests)) if server else (0, 0)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - t0)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd[:6])} failed ({proc.returncode}):\n"
                             f"{proc.stderr[-2000:]}")
        if server:
            sent, asked = server.bytes_sent() - before[0], len(server.requests) - before[1]
        out = proc.stdout
    return {"wall": statistics.median(walls), "bytes": sent, "requests": asked, "out": out}


def ours(rows_csv: str) -> dict[str, tuple[int | None, int]]:
    """paramcount's rows: source -> (total params, bytes read)."""
    out = {}
    for r in csv.DictReader(io.StringIO(rows_csv)):
        out[r["source"]] = (int(r["total_params"]) if r["total_params"] else None,
                            int(r["bytes_read"] or 0))
    return out


def report(label: str, n: int, r: dict, workers: int) -> None:
    rate = n / r["wall"]
    net = (f"; {r['bytes'] / n / 1024:,.1f} KiB and {r['requests'] / n:.1f} requests per "
           "model" if r["requests"] else "")
    print(f"{label:<44} workers {workers}: {r['wall']:7.2f} s, {rate:7.1f} models/s{net}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repos", type=int, default=300)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    p.add_argument("--hfmem-python", default=None,
                   help="the Python of a virtual environment with hf-mem==0.5.6")
    p.add_argument("--per-process", type=int, default=20,
                   help="ids read by hf-mem one process each (0: none)")
    ns = p.parse_args()
    cached_derived_fields()
    t0 = time.perf_counter()
    repos, folders, expected = build(ns.repos)
    print(f"{ns.repos} repos ({len(SHAPES)} shapes, {sum(len(r.commits) for r in repos.values())}"
          f" commits) built in {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    work = Path(tempfile.mkdtemp(prefix="paramcount-scan-bench-"))
    (work / "local.txt").write_text("".join(f"{f}\n" for f in folders))
    (work / "ids.txt").write_text("".join(f"{i}\n" for i in repos))
    cache = work / "empty-hf-cache"
    cache.mkdir()
    scan = [PY, "-m", "paramcount", "scan", "--format", "csv", "--no-progress"]
    local_env = child_env(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    with hub_server.HubServer(repos) as server:
        hub_env = child_env(PYTHONPATH=str(ROOT), HF_ENDPOINT=server.endpoint,
                            HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1",
                            HF_TOKEN="", HF_HUB_OFFLINE="0")
        results = {}
        for w in ns.workers:
            r = timed([*scan, "--workers", str(w), "--from", str(work / "local.txt")],
                      local_env, ns.runs, None)
            report("paramcount scan, local folders", len(folders), r, w)
            results["local", w] = r
        for w in ns.workers:
            r = timed([*scan, "--workers", str(w), "--from", str(work / "ids.txt")],
                      hub_env, ns.runs, server)
            report("paramcount scan, served Hub ids", len(repos), r, w)
            results["hub", w] = r
        check_ours(results, folders, expected)
        if ns.hfmem_python:
            hf_mem(ns, work, server, results, expected)


def check_ours(results: dict, folders: list[Path], expected: dict[str, int]) -> None:
    for (kind, w), r in results.items():
        rows = ours(r["out"])
        names = [str(f) for f in folders] if kind == "local" else list(expected)
        got = [rows[n][0] for n in names]
        assert got == list(expected.values()), f"paramcount {kind} workers {w}: counts differ"
    hub = ours(results["hub", max(w for k, w in results if k == "hub")]["out"])
    read = sum(b for _, b in hub.values()) / len(hub)
    print(f"paramcount's counts equal the headers' elements for every repo; its bytes_read "
          f"column (configs and headers, not the file list): {read / 1024:,.1f} KiB per model")


def hf_mem(ns: argparse.Namespace, work: Path, server: hub_server.HubServer, results: dict,
           expected: dict[str, int]) -> None:
    driver = [ns.hfmem_python, str(Path(__file__).resolve().parent / "hfmem_scan.py"),
              "--endpoint", server.endpoint]
    env = child_env(HF_TOKEN="", HF_HOME=str(work / "hfmem-home"))
    env.pop("PYTHONPATH", None)
    for w in ns.workers:
        r = timed([*driver, "--workers", str(w), str(work / "ids.txt")], env, ns.runs, server)
        report("hf-mem 0.5.6, served Hub ids, one process", len(expected), r, w)
        rows = [json.loads(line) for line in r["out"].splitlines()]
        agree = sum(row["params"] == expected[row["id"]] for row in rows)
        errors = [row for row in rows if row["error"]]
        ratio = results["hub", w]["wall"] / r["wall"]
        print(f"  counts equal paramcount's on {agree} of {len(rows)} repos"
              f"{f'; {len(errors)} errors, first: {errors[0]}' if errors else ''}; "
              f"wall time paramcount / hf-mem = {ratio:.2f}")
    if ns.per_process:
        few = list(expected)[:ns.per_process]
        (work / "few.txt").write_text("".join(f"{i}\n" for i in few))
        walls = []
        for i in few:
            (work / "one.txt").write_text(f"{i}\n")
            walls.append(timed([*driver, "--workers", "1", str(work / "one.txt")], env, 1,
                               None)["wall"])
        mine = timed([PY, "-m", "paramcount", "scan", "-f", "csv", "--no-progress", "--from",
                      str(work / "one.txt")], child_env(
            PYTHONPATH=str(ROOT), HF_ENDPOINT=server.endpoint,
            HF_HUB_CACHE=str(work / "empty-hf-cache"), HF_TOKEN=""), ns.runs, None)
        print(f"hf-mem, one process per id ({len(few)} ids): median "
              f"{statistics.median(walls):.2f} s per model "
              f"({1 / statistics.median(walls):.1f} models/s); paramcount scan of one id in "
              f"one process: {mine['wall']:.2f} s")


if __name__ == "__main__":
    main()
