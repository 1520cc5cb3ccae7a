"""What the benchmark scripts share: the machine's description and their sections of RESULTS.md."""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine(*versions: str) -> str:
    """CPU, cores, memory, OS, Python, the given library versions and today's date."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return ", ".join([f"{model.group(1) if model else platform.processor() or 'unknown CPU'}",
                      f"{os.cpu_count()} cores", f"{memory:.0f} GB RAM", f"{platform.system()} {platform.release()}",
                      f"Python {platform.python_version()}", *versions, date.today().isoformat()])


def write_results(section: str, results: Path | None = None) -> None:
    """Replace (or add) the section of RESULTS.md that has `section`'s heading, leaving the others alone."""
    results = results or HERE / "RESULTS.md"
    heading = section.split("\n", 1)[0]
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip() + "\n\n", text)
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    results.write_text(text.rstrip() + "\n")
