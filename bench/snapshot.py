"""The Pyodide memory-snapshot experiment (issue 8): building the snapshot in the bench's
browser, and what the page does with damaged copies of it.
"""

import json
import time

from bench.common import TIMEOUT_MS, log
from bench.page_scripts import DECIDED, read_trace, trace_script
from bench.roots import SNAPSHOT_GZ_URL, SNAPSHOT_URL, pyodide_path
from bench.traces import first_decision, fmt_ms


# What each damaged copy of a snapshot is (see damaged_snapshots).
DAMAGE = {
    "other-build": "one byte of the header's Pyodide build id changed (what a snapshot of another"
                   " Pyodide version or build looks like)",
    "truncated-half": "cut to its first half",
    "truncated-page": "its last 64 KiB cut off (still whole wasm pages)",
    "flipped-header": "one byte of its JSON header inverted",
    "flipped-image": "one byte in the middle of the memory image inverted",
    "flipped-spread": "one byte of every 64 KiB of the memory image inverted",
    "missing": "no such file (HTTP 404)",
}
# What the snap page checks itself before handing a snapshot to Pyodide, by its `verify` parameter.
CHECKS = {"": "layout and SHA-256 against the manifest", "0": "layout only", "none": "none (Pyodide's own)"}


def damaged_snapshots(good):
    """{name: bytes (None: no file)} for every kind of damage in DAMAGE, from a good snapshot.

    The layout read here is Pyodide 314's (API.makeSnapshot): little-endian 32-bit words, [1] the
    offset of the memory image, [2] the length of the JSON header that starts at byte 48, [4:12]
    the build id."""
    image = int.from_bytes(good[4:8], "little")
    header = int.from_bytes(good[8:12], "little")
    if not 48 < image < len(good) or header <= 0:
        raise ValueError("not a Pyodide memory snapshot")

    def flipped(offsets):
        data = bytearray(good)
        for offset in offsets:
            data[offset] ^= 0xFF
        return bytes(data)

    return {
        "other-build": flipped([16]),
        "truncated-half": good[:len(good) // 2 // 4 * 4],
        "truncated-page": good[:-65536],
        "flipped-header": flipped([48 + header // 2]),
        "flipped-image": flipped([image + (len(good) - image) // 2]),
        "flipped-spread": flipped(range(image + 32768, len(good), 65536)),
        "missing": None,
    }


class SnapshotExperiment:
    """The Pyodide memory-snapshot experiment, as methods of Bench (phases.py): the snapshot
    built once per run in the bench's browser, and what the page does with damaged copies."""

    async def ensure_snapshot(self):
        """The snapshot's facts, built on first use (once per run)."""
        if getattr(self, "snapshot", None) is None:
            self.snapshot = await self.build_snapshot()
        return self.snapshot

    async def build_snapshot(self):
        """Build the Pyodide memory snapshot the `snap` page boots from, in this browser: the page
        at `/?snapshot=build` (bench/pages/snap.js) hands it over as a download."""
        import gzip

        server = self.servers.get("snap", "pyodide", "browser")
        target = self.servers.roots["snapshot_folder"] / SNAPSHOT_URL.rsplit("/", 1)[1]
        context = await self.browser.new_context(accept_downloads=True)
        page = await context.new_page()
        started = time.monotonic()
        async with page.expect_download(timeout=TIMEOUT_MS["pyodide"]) as info:
            await page.goto(server("/?snapshot=build"), wait_until="commit")
        download = await info.value
        await download.save_as(target)
        seconds = time.monotonic() - started
        import hashlib

        data = target.read_bytes()
        manifest = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                    "pyodide": pyodide_path().split("/")[2].removeprefix("pyodide-")}
        target.with_suffix(".json").write_text(json.dumps(manifest))
        in_page_ms = float(await page.evaluate(
            "() => document.documentElement.getAttribute('data-snapshot-ms')"))
        await context.close()
        compress_started = time.monotonic()
        packed = gzip.compress(data, 6)
        (target.parent / SNAPSHOT_GZ_URL.rsplit("/", 1)[1]).write_bytes(packed)
        deflated = len(packed)
        info = {"bytes": len(data), "gzip_bytes": deflated,
                "gzip_seconds": round(time.monotonic() - compress_started, 2),
                "build_seconds": round(seconds, 2), "snapshot_call_ms": round(in_page_ms),
                "pyodide": pyodide_path().split("/")[2]}
        log(f"  snapshot: {len(data) / 1e6:.1f} MB ({deflated / 1e6:.1f} MB gzipped), built in {seconds:.1f} s"
            f" (page load to download; writing and importing the core + makeMemorySnapshot {in_page_ms:.0f} ms)")
        return info

    async def snapshot_robustness(self):
        """Damaged copies of the snapshot: what the page does with each (it should say so on the
        console and boot without the snapshot)."""
        folder = self.servers.roots["snapshot_folder"]
        good = (folder / SNAPSHOT_URL.rsplit("/", 1)[1]).read_bytes()
        cases = damaged_snapshots(good)
        for name, data in cases.items():
            if data is not None:
                (folder / f"{name}.wasm").write_bytes(data)
        server = self.servers.get("snap", "pyodide", "browser")
        state = await self.state_for("snap-pyodide")
        out = {}
        for name, verify in ((name, verify) for verify in ("", "0", "none") for name in cases):
            context = await self.browser.new_context(storage_state=state)
            await context.add_init_script(script=trace_script())
            page = await context.new_page()
            messages = []
            page.on("console", lambda m: m.type in ("warning", "error") and messages.append(
                f"{m.type}: {m.text[:240]}"))
            page.on("pageerror", lambda error: messages.append(f"pageerror: {str(error)[:240]}"))
            await page.goto(server(f"/?snapshot-file={name}.wasm" + (f"&verify={verify}" if verify else "")),
                            wait_until="commit")
            try:
                await page.locator(DECIDED).wait_for(state="attached", timeout=TIMEOUT_MS["pyodide"])
                decided = first_decision(await read_trace(page))
            except Exception:  # noqa: BLE001 - a page that never decided is the finding
                decided = None
            boot = await page.evaluate("""() => ({boot: document.documentElement.getAttribute('data-boot'),
              problem: document.documentElement.getAttribute('data-boot-problem')})""")
            await context.close()
            key = name + {"": "", "0": ",no-digest", "none": ",no-page-checks"}[verify]
            out[key] = {"what": DAMAGE[name], "page_checks": CHECKS[verify], "boot": boot["boot"],
                        "problem": boot["problem"], "state": decided["state"] if decided else None,
                        "decided_ms": decided["t"] if decided else None, "console": messages[:6]}
            log(f"  damaged snapshot {key}: booted {boot['boot']}, decided"
                f" {out[key]['state']} in {fmt_ms(out[key]['decided_ms'])}; {boot['problem'] or ''}")
        return out
