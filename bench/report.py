"""``bench/suite.py``'s outputs: the machine, the table (markdown and JSON), the chart (PNG),
and the docs page's generated part (``--publish``)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: the Python distributions whose versions a result names
PACKAGES = ("python-socketio", "python-engineio", "uvicorn", "websockets", "aiohttp",
            "gunicorn", "simple-websocket", "limits", "PyJWT", "structlog", "coredis",
            "redis", "siomw-core", "siomw-logging", "siomw-jwt", "siomw-ratelimit",
            "siomw-headers")
NODE_PACKAGES = ("socket.io", "jsonwebtoken", "rate-limiter-flexible", "pino")
BEGIN, END = "<!-- bench/suite.py:begin -->", "<!-- bench/suite.py:end -->"


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20,
                              cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    """The CPU model, cores, memory, OS, Python, package versions, Node's, the commit."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    node: dict[str, str] = {}
    lock = HERE / "node" / "package-lock.json"
    if lock.exists():
        deps = json.loads(lock.read_text()).get("packages", {})
        node = {name: deps.get(f"node_modules/{name}", {}).get("version", "?")
                for name in NODE_PACKAGES}
    meminfo = Path("/proc/meminfo")
    memory = meminfo.read_text().split()[1] if meminfo.exists() else "0"
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_run(["git", "status", "--porcelain", "--", "siomw_core", "plugins", "bench"]))
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(int(memory) / 2**20),
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "packages": versions,
            "node": _run(["node", "--version"]) or None, "node_packages": node,
            "commit": commit + (" (with uncommitted changes)" if dirty else ""),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _goal(row: dict[str, Any]) -> str:
    goal = row.get("goal")
    if goal is None:
        return "reported"
    if "unit" in row and "ratio" not in row:
        return f"≤ {goal:g} {row['unit']}"
    return f"≥ {goal:.2f}"


def _measured(row: dict[str, Any]) -> str:
    if row.get("note"):
        return str(row["note"])
    if "value" in row:
        return f"{row['value']:g} {row['unit']}"
    return f"{row['ratio']:.2f}"


def _verdict(row: dict[str, Any]) -> str:
    return {True: "pass", False: "**fail**", None: "—"}[row.get("pass")]


def _detail(row: dict[str, Any]) -> str:
    if "rates" in row:
        (num, den), (cn, cd) = row["rates"], row["cpu_us"]
        return (f"{num:g} / {den:g} {row['unit']}; CPU µs {cn:g} / {cd:g} "
                f"(CPU ratio {row['cpu_ratio']:.2f}); busy {row['busy'][0]:.2f} / "
                f"{row['busy'][1]:.2f}")
    if "per_socket" in row:
        return f"{row['per_socket'][0]:,} / {row['per_socket'][1]:,} B per socket (full / bare)"
    return ""


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table: target, server kind, side, goal, measured,
    verdict, the figures behind it (the mode's / the reference's)."""
    lines = ["| target | kind | side | goal | measured | result | figures (mode / reference) |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['target']} | {row['kind']} | {row['side']} | {_goal(row)} | "
                     f"{_measured(row)} | {_verdict(row)} | {_detail(row)} |")
    return "\n".join(lines)


def machine_text(info: dict[str, Any]) -> str:
    """The machine as one markdown paragraph."""
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    node = ", ".join(f"{k} {v}" for k, v in info["node_packages"].items())
    return (f"{info['date']}; {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
            f"{info['os']}; Python {info['python']} ({packages}); Node "
            f"{info['node'] or 'absent'} ({node}); siomw commit {info['commit']}; load "
            f"average before / after: {info.get('load_before', '?')} / "
            f"{info.get('load_after', '?')}")


def profile_text(profile: dict[str, Any] | None) -> str:
    """The profile's summary: components (own, charged) and top functions, as markdown."""
    if not profile:
        return "No profile in this run."
    if profile.get("error"):
        return f"No profile: {profile['error']}"
    lines = [f"py-spy, {profile['samples']} samples of the `full` server (asgi, uvicorn) during "
             f"a connect run ({profile['cps']:g} conn/s while sampled); "
             f"{profile['idle']:.0%} of the samples waited in the event loop's `select` "
             "(idle); shares below are of the busy rest.", "",
             "| component | own time | charged (its standard-library calls included) |",
             "|---|---|---|"]
    lines += [f"| {name} | {own:.1%} | {charged:.1%} |"
              for name, own, charged in profile["components"]]
    lines += ["", "| function (own time) | file | share |", "|---|---|---|"]
    lines += [f"| `{func}` | `{file}` | {share:.1%} |"
              for func, file, share in profile["functions"]]
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The whole result: command, machine, table, profile."""
    return "\n\n".join([
        "# bench/suite.py results", f"Command: `{result['command']}`",
        f"Machine: {machine_text(result['machine'])}", table(result["rows"]),
        "## Profile of the full chain", profile_text(result.get("profile")), ""])


def _label(row: dict[str, Any]) -> str:
    text = str(row["target"]).replace("`", "")
    return (text if len(text) <= 58 else text[:57] + "…") + f" [{row['kind']}]"


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Two horizontal bars per ratio row: the rate ratio (siomw blue, below its target
    orange; by hand grey; Node green) and, lighter, the CPU ratio; the target as a black
    tick. The value rows (µs, bytes) are in the table only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [r for r in rows if r.get("ratio") is not None]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(bars) + 1.6), dpi=110)
    ys = [2 * i for i in range(len(bars))][::-1]
    for y, r in zip(ys, bars, strict=True):
        color = {"node": "#2ca02c", "by hand": "#7f7f7f"}.get(
            r["side"], "#ff7f0e" if r["pass"] is False else "#1f77b4")
        ax.barh(y + 0.45, r["ratio"], height=0.85, color=color)
        ax.barh(y - 0.45, r["cpu_ratio"], height=0.85, color=color, alpha=0.35)
        ax.text(r["ratio"] + 0.01, y + 0.45, f"{r['ratio']:.2f}", va="center", fontsize=8)
        ax.text(r["cpu_ratio"] + 0.01, y - 0.45, f"CPU {r['cpu_ratio']:.2f}", va="center",
                fontsize=7, color="#444444")
        if r["goal"] is not None:
            ax.plot([r["goal"]] * 2, [y - 0.95, y + 0.95], color="black", linewidth=2)
    ax.set_yticks(ys, [_label(r) for r in bars], fontsize=8)
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("ratio to bare in the same run: rate (solid), CPU per unit (light)\n"
                  "black tick: the target")
    ax.set_xlim(0, max([1.25, *(max(r["ratio"], r["cpu_ratio"]) + 0.2 for r in bars)]))
    ax.set_title("siomw (blue; orange: below target), by hand (grey), Node socket.io "
                 "(green):\neach against its own bare server", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ``suite.json``, ``suite.md`` and ``ratios.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "suite.json", "md": out / "suite.md", "png": out / "ratios.png"}
    paths["json"].write_text(json.dumps(result, indent=2) + "\n")
    paths["md"].write_text(markdown(result))
    chart(result["rows"], paths["png"])
    return paths


def publish(result: dict[str, Any], png: Path, page: Path, image: Path) -> None:
    """Copy the chart to ``image`` and replace the generated part of ``page`` (between
    :data:`BEGIN` and :data:`END`) with the command, machine, table and profile.

    Raises:
        SystemExit: ``page`` lacks the markers (one line naming the page).
    """
    text = page.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"bench/suite.py: {page} has no {BEGIN} ... {END} section")
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(png.read_bytes())
    rel = os.path.relpath(image, page.parent)
    quick = ("**These figures come from `--quick` (tiny counts): they check that the suite "
             "runs and measure nothing.**") if result["options"].get("quick") else ""
    body = "\n\n".join([
        BEGIN, *([quick] if quick else []),
        f"Reproduce with `{result['command']}` (from the repository's root).",
        f"**Machine**: {machine_text(result['machine'])}.",
        f"![The ratios of this run]({rel})", table(result["rows"]),
        "### Where the full chain's time goes", profile_text(result.get("profile")), END])
    head, rest = text.split(BEGIN, 1)
    page.write_text(head + body + rest.split(END, 1)[1])


def command_line() -> str:
    """This process's command line as one would type it from the repository's root."""
    args = [os.path.relpath(a, ROOT) if a.endswith(".py") and os.path.isabs(a) else a
            for a in sys.argv]
    return " ".join([".venv/bin/python", *args])
