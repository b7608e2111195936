"""A careless or hostile user, case by case: bad images, bad CSVs, a tampered models folder and
retrains killed with SIGKILL, each through the command line, each in its own subprocess.

    python -m bench.bad_input_matrix [--quick] [--only A,B,C,D] [--kills N] [--kill-max S]
                                     [--seed N] [--strict] [--keep DIR] [--json-out FILE]

Groups:
  A  images through `python -m training predict digits|anomaly|forgery PATH... --json`
  B  CSVs through `python -m training imbalanced --csv F ... --models logistic_regression
     --methods none --json`, and through `predict imbalanced` with a model saved by `--save`
  C  a tampered user models folder (`FINTECH_USER_DIR`): `models`, `predict digits` on a bundled
     sample, and for the pickle cases `predict imbalanced --model NAME`
  D  `python -m training digits --kind mlp --epochs 2 --subset 2000` killed with SIGKILL after a
     seeded random delay of 2 to 25 s (`--kills`, default 12; 3 with `--quick`; one delay drawn in
     each equal slice of the range, so few kills still cover it), then `models` (digits-mlp must
     say "sha256 ok") and the leftovers (dot files, *.partial, folders in models/scratch/, model
     files no manifest version names), then one complete retrain that should remove them. A run
     can finish before its kill (about 10 s on a 2-core machine): a note counts the kills that
     landed; `--kill-max` narrows the range.

Outcome of each case (one row per case and command):
  clean    refused with a plain message (non-zero exit and `error: ...` on stderr, no traceback;
           for `predict IMAGE --json`, which answers per file, a JSON line with status "error"
           whose message names the file exactly once), or answered correctly when the input is odd
           but valid (flag A). A refusal of an input that should have been read is flagged R.
  crash    a Python traceback, a JSON line missing, or a non-JSON line on stdout in --json mode
  hang     no answer within the timeout (60 s per image, 120 s per CSV; batches get more)
  wrong    finished, but the answer is known to be wrong (each case that should succeed states its
           check: the same ROC AUC as the clean file, the same digit as the sample, ...); for C, a
           tampered model was loaded or a marker file written by an unpickled payload (flag X)
  not run  the case could not be set up here (the reason is in the message)
Separately, flag M: the message is misleading by the case's own expectation (a symlink loop must
not say "no such file", permission denied must say permission, ...).

Image cases are batched: one `predict` call per tool for all regular files (the CLI answers per
file, one JSON line each, attributed to cases by their "path"); if that call fails in any way, the
cases are run again one per call. Special paths (FIFO, /dev/zero, folders) get their own calls.
Every command runs with `FINTECH_USER_DIR` set to a temporary folder, stdin from /dev/null and
PYTHONUNBUFFERED=1 (so a killed run still shows what it printed).

Run as root, file permissions do not apply; when `setpriv` can drop CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH (checked at start: it must then fail to read a mode-000 file), every command
runs through `setpriv --bounding-set -dac_override,-dac_read_search ...`, so that a mode-000 file
is unreadable again; otherwise the permission cases are "not run" with the reason.

The exit status is 0 (this is a measurement), or with --strict 1 when crashes + hangs + wrong +
code executed > 0.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import hashlib
import io
import json
import math
import os
import pathlib
import pickle
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIGIT = REPO_ROOT / "assets" / "samples" / "digits" / "digit_3.png"
OTHER_DIGIT = REPO_ROOT / "assets" / "samples" / "digits" / "digit_7.png"
TRACEBACK = "Traceback (most recent call last)"
IMAGE_TIMEOUT = 60  # per image case
BATCH_SECONDS_PER_FILE = 6  # a batch of n files gets IMAGE_TIMEOUT + n × this
CSV_TIMEOUT = 120
REGISTRY_TIMEOUT = 120
RETRAIN_TIMEOUT = 300
KILL_EARLIEST, KILL_LATEST = 2.0, 25.0  # seconds after the start of a retrain
IMAGE_TOOLS = ("digits", "anomaly", "forgery")
IMAGE_KEYS = {
    "digits": {"path", "label", "probabilities", "status", "message"},
    "anomaly": {"path", "score", "threshold", "anomaly", "status", "message", "verdict", "evidence"},
    "forgery": {"path", "tampered_probability", "label", "warnings", "jpeg_quality", "status", "message"},
}
AUC_TOLERANCE = 1e-3
CLOSE_AUC_TOLERANCE = 0.02  # a few unreadable cells may move the answer a little, not more
DROP_CAPS = (
    "setpriv",
    "--bounding-set",
    "-dac_override,-dac_read_search",
    "--inh-caps",
    "-dac_override,-dac_read_search",
)
MODEL_SUFFIXES = (".keras", ".h5", ".pipeline", ".joblib", ".pkl", ".pickle", ".npz", ".json.gz")
GROUPS = ("A", "B", "C", "D")
OUTCOME_ORDER = ("crash", "hang", "wrong", "clean", "not run")
REFERENCE_CASE = "reference: digit_3.png copy"


# Running commands -------------------------------------------------------------------------------
@dataclass
class Run:
    argv: list[str]
    returncode: int | None
    stdout_lines: list[tuple[float, str]]  # (seconds since the start, line)
    stderr: str
    seconds: float
    timed_out: bool = False
    killed_at: float | None = None  # seconds, when killed on purpose (group D)

    @property
    def stdout(self) -> str:
        return "".join(line for _seconds, line in self.stdout_lines)

    def traceback(self) -> str | None:
        """The last line of the first traceback on stderr or stdout, if there is one."""
        for text in (self.stderr, self.stdout):
            if TRACEBACK in text:
                tail = [line for line in text[text.index(TRACEBACK) :].splitlines() if line.strip()]
                ends = [line for line in tail[1:] if not line.startswith((" ", "\t"))]
                return "Traceback: " + (ends[0] if ends else tail[-1]).strip()
        return None

    def json_lines(self) -> tuple[list[tuple[float, dict]], list[str]]:
        """(seconds, object) for each JSON object line on stdout, and the lines that are not."""
        answers, other = [], []
        for seconds, line in self.stdout_lines:
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                other.append(line.strip())
                continue
            if isinstance(value, dict):
                answers.append((seconds, value))
            else:
                other.append(line.strip())
        return answers, other

    def error_message(self) -> str:
        """The `error: ...` line of stderr, else its last line that says something."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if line.startswith("error:"):
                return line
        return lines[-1] if lines else ""


class Runner:
    """Runs `python ARGS...` in the repository, each in a new session, stdin from /dev/null."""

    def __init__(self, prefix: tuple[str, ...], base_env: dict[str, str]):
        self.prefix = prefix
        self.base_env = base_env

    def run(
        self,
        arguments: list[str],
        env: dict[str, str] | None = None,
        timeout: float = IMAGE_TIMEOUT,
        kill_after: float | None = None,
    ) -> Run:
        argv = [*self.prefix, sys.executable, *arguments]
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env={**self.base_env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        lines: list[tuple[float, str]] = []
        errors: list[bytes] = []

        def read_stdout() -> None:
            for raw in process.stdout:
                lines.append((time.perf_counter() - started, raw.decode("utf-8", "replace")))

        def read_stderr() -> None:
            errors.append(process.stderr.read())

        readers = [threading.Thread(target=read_stdout, daemon=True), threading.Thread(target=read_stderr)]
        readers[1].daemon = True
        for reader in readers:
            reader.start()
        timed_out, killed_at = False, None
        try:
            if kill_after is not None and kill_after < timeout:
                try:
                    process.wait(timeout=kill_after)
                except subprocess.TimeoutExpired:
                    killed_at = time.perf_counter() - started
                    self.kill(process)
            process.wait(timeout=max(0.1, timeout - (time.perf_counter() - started)))
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill(process)
            process.wait()
        for reader in readers:
            reader.join(timeout=10)
        return Run(
            argv,
            None if timed_out else process.returncode,
            list(lines),
            b"".join(errors).decode("utf-8", "replace"),
            time.perf_counter() - started,
            timed_out,
            killed_at,
        )

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the process we started, and its session (it is the session's leader)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def permission_wrapper(folder: Path) -> tuple[tuple[str, ...], str]:
    """(command prefix, what was done about root and file permissions)."""
    if os.geteuid() != 0:
        return (), "not root: mode-000 files are unreadable as they are"
    if shutil.which("setpriv") is None:
        return (), "root, and no setpriv: permission cases not run"
    probe = folder / "permission-probe"
    probe.write_text("secret")
    probe.chmod(0)
    try:
        denied = subprocess.run(
            [*DROP_CAPS, "cat", str(probe)], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
        )
        python = subprocess.run(
            [*DROP_CAPS, sys.executable, "-c", "import numpy, PIL"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            cwd=REPO_ROOT,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return (), f"root, and setpriv failed ({error}): permission cases not run"
    finally:
        probe.unlink()
    if denied.returncode != 0 and python.returncode == 0:
        return DROP_CAPS, (
            "root: every command runs through setpriv without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, "
            "so mode-000 files are unreadable"
        )
    return (), "root, and setpriv could not take away root's file access: permission cases not run"


# Results ----------------------------------------------------------------------------------------
@dataclass
class Row:
    group: str
    case: str
    tool: str
    outcome: str  # clean | crash | hang | wrong | not run
    seconds: float | None
    message: str
    answered: bool = False  # clean because it answered correctly (not a refusal)
    refused_valid: bool = False  # clean refusal of an input that should have been read
    misleading: str = ""  # why the message is misleading, if it is
    code_executed: bool = False
    detail: str = ""  # why the outcome, when not clean

    @property
    def flags(self) -> str:
        return (
            ("A" if self.answered else "")
            + ("R" if self.refused_valid else "")
            + ("M" if self.misleading else "")
            + ("X" if self.code_executed else "")
        )


def not_run(group: str, case: str, tool: str, reason: str) -> Row:
    return Row(group, case, tool, "not run", None, reason)


def worst(outcomes: list[str]) -> str:
    return min(outcomes, key=OUTCOME_ORDER.index) if outcomes else "clean"


def first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def misleading_reason(
    message: str, must: tuple[str, ...], must_not: tuple[str, ...], must_all: tuple[str, ...] = ()
) -> str:
    """Why `message` is misleading: it lacks all of `must` (any one will do), lacks one of
    `must_all`, or says one of `must_not` (case-insensitive); "" when it is fine."""
    lowered = message.lower()
    said = [phrase for phrase in must_not if phrase.lower() in lowered]
    if said:
        return f"says '{said[0]}'"
    if must and not any(phrase.lower() in lowered for phrase in must):
        return "does not say " + " / ".join(f"'{phrase}'" for phrase in must)
    lacking = [phrase for phrase in must_all if phrase.lower() not in lowered]
    if lacking:
        return "does not say " + " and ".join(f"'{phrase}'" for phrase in lacking)
    return ""


# A. Images --------------------------------------------------------------------------------------
@dataclass
class ImageCase:
    name: str
    path: Path | None  # None: not run (see skip)
    expect: str  # "error" | "digit" (same answer as the sample) | "blank" (no digit) | "any"
    special: bool = False  # its own call per tool (FIFO, devices, folders)
    folder: bool = False  # a folder: every answer for a file inside it belongs to this case
    allow_exit: bool = False  # a non-zero exit with a message and no JSON line is a clean refusal
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    skip: str = ""


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int, rows: int = 4) -> bytes:
    """A tiny 8-bit grayscale PNG whose header declares `width`×`height` (a decompression bomb
    by its header; only `rows` rows of data follow)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * ((width + 1) * rows), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    )


def image_bytes(image, format_name: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def make_image_cases(folder: Path, can_deny: bool, deny_reason: str) -> list[ImageCase]:
    """Write every image case's input into `folder` (deterministic) and describe each."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    with Image.open(SAMPLE_DIGIT) as opened:
        digit = opened.convert("L")
    with Image.open(OTHER_DIGIT) as opened:
        other = opened.convert("L")
    rgb = digit.convert("RGB")
    pixels = np.asarray(digit)
    cases: list[ImageCase] = []

    def add(name: str, file_name: str, expect: str, write: Callable[[Path], object] | None, **options):
        path = folder / file_name
        try:
            if write is not None:
                write(path)
        except Exception as error:  # noqa: BLE001 - a case we cannot write is reported, not fatal
            cases.append(ImageCase(name, None, expect, skip=f"could not be generated here: {error}"))
            return
        cases.append(ImageCase(name, path, expect, **options))

    def save(image, **options) -> Callable[[Path], object]:
        return lambda path: image.save(path, **options)

    def data(content: bytes) -> Callable[[Path], object]:
        return lambda path: path.write_bytes(content)

    unreadable = ("truncated", "corrupt", "damaged", "incomplete", "not an image", "cannot", "unreadable")
    jpeg = image_bytes(rgb, "JPEG", quality=90)
    png = image_bytes(digit, "PNG")
    add(REFERENCE_CASE, "reference.png", "digit", save(digit))
    add("empty file", "empty.png", "error", data(b""), must=("empty",))
    add("truncated PNG", "truncated.png", "error", data(png[: len(png) // 2]), must=unreadable)
    add("truncated JPEG", "truncated.jpg", "error", data(jpeg[: len(jpeg) // 2]), must=unreadable)
    add("random bytes named .png", "random.png", "error", data(rng.bytes(4096)))
    add(
        "text file named .jpg",
        "notes.jpg",
        "error",
        data(b"this is not a picture, it is a shopping list\n" * 20),
        must_not=("truncated", "empty"),
    )
    header_only = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
    add("PNG signature + IHDR only", "header-only.png", "error", data(header_only))
    add("1×1 image", "one-pixel.png", "any", save(Image.new("L", (1, 1), 200)))
    add(
        "bomb: 30000×30000 declared, tiny",
        "bomb-30000.png",
        "error",
        data(png_declaring(30000, 30000)),
        must=("large", "megapixel"),
        must_not=("truncated", "corrupt"),
    )
    add(
        "bomb: 9000×9000 (81 MP) declared",
        "bomb-81mp.png",
        "error",
        data(png_declaring(9000, 9000)),
        must=("large", "megapixel"),
        must_not=("truncated", "corrupt"),
    )
    add(
        "16-bit grayscale PNG",
        "digit-16bit.png",
        "digit",
        save(Image.fromarray(pixels.astype(np.uint16) * 257)),
    )
    add(
        "32-bit float TIFF",
        "digit-float.tif",
        "digit",
        save(Image.fromarray(pixels.astype(np.float32) / 255.0)),
    )
    add("CMYK JPEG", "digit-cmyk.jpg", "digit", save(digit.convert("CMYK"), quality=95))
    palette = rgb.quantize(colors=16)
    add(
        "palette PNG, transparent background",
        "digit-palette.png",
        "digit",
        save(palette, transparency=palette.getpixel((0, 0))),
    )
    alpha = Image.new("L", digit.size, 255)
    alpha.paste(0, (0, 0, digit.width, 40))
    alpha.paste(0, (0, digit.height - 40, digit.width, digit.height))
    add("LA PNG (alpha bands)", "digit-la.png", "digit", save(Image.merge("LA", (digit, alpha))))
    ink = Image.fromarray(np.where(pixels < 100, 255, 0).astype(np.uint8))
    add(
        "RGBA: dark ink on a clear sheet",
        "digit-ink-only.png",
        "digit",
        save(Image.merge("RGBA", (*Image.new("RGB", digit.size, (20, 20, 20)).split(), ink))),
    )
    add(
        "RGBA fully transparent PNG",
        "transparent.png",
        "blank",
        save(Image.new("RGBA", (256, 256), (0, 0, 0, 0))),
    )
    add(
        "animated GIF (3 then 7)",
        "digit-animated.gif",
        "digit",
        save(digit.convert("P"), save_all=True, append_images=[other.convert("P")], duration=300, loop=0),
    )
    add(
        "multi-page TIFF (3 then 7)",
        "digit-pages.tif",
        "digit",
        save(digit, save_all=True, append_images=[other]),
    )
    add("BMP", "digit.bmp", "digit", save(rgb))
    add("WebP (lossless)", "digit.webp", "digit", save(rgb, lossless=True))
    broken_exif = Image.Exif()
    broken_exif[274] = 42  # Orientation must be 1-8
    add(
        "EXIF orientation 42 (invalid)",
        "exif-orientation-42.jpg",
        "digit",
        save(rgb, quality=95, exif=broken_exif),
    )
    rotated_exif = Image.Exif()
    rotated_exif[274] = 6  # stored turned a quarter left: "rotate 90° clockwise to view"
    add(
        "EXIF orientation 6, pixels rotated",
        "exif-orientation-6.jpg",
        "digit",
        save(rgb.transpose(Image.Transpose.ROTATE_90), quality=95, exif=rotated_exif),
    )
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + rng.bytes(64)
    corrupt_exif = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
    add("JPEG with a corrupt EXIF block", "corrupt-exif.jpg", "digit", data(corrupt_exif))
    add("progressive JPEG", "progressive.jpg", "digit", save(rgb, quality=90, progressive=True))
    add(
        "12-bit JPEG",
        "twelve-bit.jpg",
        "digit",
        save(Image.fromarray(pixels.astype(np.uint16) * 16), quality=95),
    )
    add(
        "odd JPEG: gray, q100, restart markers",
        "odd-restart.jpg",
        "digit",
        save(digit, quality=100, restart_marker_rows=1),
    )
    fake_heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + rng.bytes(2048)
    add("HEIC magic bytes + garbage", "fake.heic", "error", data(fake_heic))
    heic_note = ""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        heic = image_bytes(rgb, "HEIF", quality=90)
    except Exception as error:  # noqa: BLE001 - no pillow-heif, or no HEVC encoder
        heic, heic_note = None, f"cannot write HEIC here ({error})"
    if heic is not None:
        add("HEIC (written by pillow-heif)", "digit.heic", "digit", data(heic))
    else:
        cases.append(ImageCase("HEIC (written by pillow-heif)", None, "digit", skip=heic_note))
    heic_folder = folder / "heic-only"
    heic_folder.mkdir()
    for number in (1, 2):
        (heic_folder / f"photo-{number}.heic").write_bytes(heic if heic is not None else fake_heic)
    cases.append(
        ImageCase(
            "folder holding only .heic files",
            heic_folder,
            "digit" if heic is not None else "error",
            special=True,
            folder=True,
        )
    )
    add("odd file name (spaces, unicode)", "scan 3 – ünïcødé (copy) [1] & 'x' #.png", "digit", save(digit))
    os.symlink("loop-b.png", folder / "loop-a.png")
    os.symlink("loop-a.png", folder / "loop-b.png")
    add("symlink loop", "loop-a.png", "error", None, must=("link", "loop"), must_not=("no such file",))
    os.symlink("nowhere.png", folder / "dangling.png")
    add("dangling symlink", "dangling.png", "error", None, must=("link", "not exist", "no such", "missing"))
    add("nonexistent file", "missing.png", "error", None, must=("no such file", "not exist", "not found"))
    (folder / "folder.png").mkdir()
    add(
        "directory passed as a file",
        "folder.png",
        "error",
        None,
        special=True,
        allow_exit=True,
        must=("folder", "directory"),
        must_not=("no such file",),
    )
    os.mkfifo(folder / "pipe.png")
    add(
        "FIFO (named pipe)",
        "pipe.png",
        "error",
        None,
        special=True,
        must=("pipe", "fifo", "not a regular file"),
        must_not=("truncated", "corrupt", "empty"),
    )
    if os.access("/dev/zero", os.R_OK):
        cases.append(
            ImageCase(
                "/dev/zero",
                Path("/dev/zero"),
                "error",
                special=True,
                must=("device", "not a regular file"),
                must_not=("truncated", "corrupt", "empty"),
            )
        )
    else:
        cases.append(ImageCase("/dev/zero", None, "error", skip="/dev/zero is not readable here"))
    if can_deny:
        add("permission denied (mode 000)", "locked.png", "error", save(digit), must=("permission",))
        os.chmod(folder / "locked.png", 0)
    else:
        cases.append(ImageCase("permission denied (mode 000)", None, "error", skip=deny_reason))
    strip = Image.fromarray(np.linspace(0, 255, 10000, dtype=np.float32).astype(np.uint8).reshape(10000, 1))
    add("1×10000 extreme aspect", "strip-1x10000.png", "any", save(strip))
    add(
        "6000×4000 solid colour",
        "solid-6000x4000.png",
        "blank",
        save(Image.new("RGB", (6000, 4000), (30, 110, 200))),
    )
    return cases


def key_of(path: str | Path) -> str:
    return str(Path(path))


def judge_image_answer(case: ImageCase, tool: str, answer: dict, reference: dict) -> Row:
    """One JSON answer against the case's expectation (group, tool, seconds filled by the caller)."""
    row = Row("A", case.name, f"predict {tool}", "clean", None, str(answer.get("message", "")))
    missing = IMAGE_KEYS[tool] - set(answer)
    if missing:
        row.outcome, row.detail = "crash", f"JSON line lacks {', '.join(sorted(missing))}"
        return row
    status = answer.get("status")
    if status == "error":
        name = Path(str(answer.get("path", ""))).name or str(answer.get("path", ""))
        count = row.message.count(name) if name else 0
        reasons = [misleading_reason(row.message, case.must, case.must_not)]
        if count != 1:
            reasons.append(f"names the file {count} times")
        row.misleading = "; ".join(reason for reason in reasons if reason)
        if case.expect in ("digit", "blank"):
            row.refused_valid = True
        return row
    if case.expect == "error":
        row.outcome = "wrong"
        row.detail = f"answered '{status}' for a file that cannot be read"
        return row
    row.answered = True
    if case.expect == "digit":
        if tool == "digits" and answer.get("label") != reference["digits"]:
            row.outcome = "wrong"
            row.detail = f"digit {answer.get('label')} ({status}), the sample reads {reference['digits']}"
        elif tool == "anomaly" and (status != "ok" or answer.get("anomaly") != reference["anomaly"]):
            row.outcome = "wrong"
            row.detail = (
                f"{status}, anomaly={answer.get('anomaly')}; the same digit as the sample reads "
                f"anomaly={reference['anomaly']}"
            )
        elif tool == "forgery" and status != "ok":
            row.outcome, row.detail = "wrong", f"status '{status}' for a readable photo"
    elif case.expect == "blank":
        if tool == "digits" and status not in ("rejected", "unsure"):
            row.outcome = "wrong"
            row.detail = f"'{status}' digit {answer.get('label')} on an image with no digit in it"
        elif tool == "anomaly" and answer.get("anomaly") is not True:
            row.outcome, row.detail = "wrong", "an image with no digit in it called normal"
    return row


def combine(case: ImageCase, tool: str, rows: list[Row], seconds: float | None) -> Row:
    """One row for a case from the rows of its answers (a folder has several)."""
    if len(rows) == 1:
        rows[0].seconds = seconds
        return rows[0]
    row = Row("A", case.name, f"predict {tool}", worst([part.outcome for part in rows]), seconds, "")
    row.message = f"{len(rows)} files: " + " | ".join(first_line(part.message) for part in rows)
    row.answered = all(part.answered for part in rows)
    row.refused_valid = any(part.refused_valid for part in rows)
    row.misleading = "; ".join(dict.fromkeys(part.misleading for part in rows if part.misleading))
    row.detail = "; ".join(dict.fromkeys(part.detail for part in rows if part.detail))
    return row


def judge_image_run(case: ImageCase, tool: str, run: Run, reference: dict) -> Row:
    """A case run on its own: every JSON answer belongs to it."""
    tool_name = f"predict {tool}"
    if run.timed_out:
        return Row("A", case.name, tool_name, "hang", run.seconds, f"no answer within {IMAGE_TIMEOUT} s")
    traceback = run.traceback()
    answers, other = run.json_lines()
    if traceback:
        return Row("A", case.name, tool_name, "crash", run.seconds, traceback, detail="traceback")
    if other:
        return Row(
            "A", case.name, tool_name, "crash", run.seconds, other[0], detail="non-JSON line on stdout"
        )
    if not answers:
        message = run.error_message()
        if case.allow_exit and run.returncode not in (0, None) and message:
            row = Row("A", case.name, tool_name, "clean", run.seconds, message)
            row.misleading = misleading_reason(message, case.must, case.must_not)
            return row
        return Row(
            "A",
            case.name,
            tool_name,
            "crash",
            run.seconds,
            message or "(nothing on stderr)",
            detail=f"no JSON line for the file (exit {run.returncode})",
        )
    rows = [judge_image_answer(case, tool, answer, reference) for _seconds, answer in answers]
    return combine(case, tool, rows, run.seconds)


def reference_answers(answers_by_case: dict[str, list[tuple[float, dict]]]) -> dict:
    reference = {"digits": 3, "anomaly": False}
    for _seconds, answer in answers_by_case.get(REFERENCE_CASE, []):
        if answer.get("status") in ("ok", "unsure") and "label" in answer and "probabilities" in answer:
            reference["digits"] = answer["label"]
        if answer.get("status") == "ok" and "anomaly" in answer:
            reference["anomaly"] = answer["anomaly"]
    return reference


def run_image_tool(runner: Runner, env: dict, cases: list[ImageCase], tool: str, log) -> list[Row]:
    prefix = ["-m", "training", "predict", tool]
    regular = [case for case in cases if case.path is not None and not case.special]
    by_key = {key_of(case.path): case for case in regular}
    answers: dict[str, list[tuple[float, dict]]] = {case.name: [] for case in regular}
    rows: dict[str, Row] = {}
    batch = runner.run(
        [*prefix, *map(str, (case.path for case in regular)), "--json"],
        env,
        timeout=IMAGE_TIMEOUT + BATCH_SECONDS_PER_FILE * len(regular),
    )
    found, other = batch.json_lines()
    unattributed = []
    previous = 0.0
    for seconds, answer in found:
        case = by_key.get(key_of(answer.get("path", "")))
        if case is None:
            unattributed.append(answer)
            continue
        answers[case.name].append((seconds - previous, answer))
        previous = seconds
    damaged = bool(batch.traceback() or other or unattributed)
    missing = [case for case in regular if not answers[case.name]]
    log(
        f"  predict {tool}: batch of {len(regular)} files in {batch.seconds:.0f} s, exit {batch.returncode}"
        + (", timed out" if batch.timed_out else "")
        + (f", {len(missing)} without an answer" if missing else "")
        + (", damaged output: rerunning every file alone" if damaged else "")
    )
    reference = reference_answers(answers)
    again = regular if damaged else missing
    for case in again:
        rows[case.name] = judge_image_run(
            case, tool, runner.run([*prefix, str(case.path), "--json"], env), reference
        )
    if missing and not damaged:
        # The batch answers in order: the first file without an answer stopped it (or hung);
        # the files after it were only masked, and their own runs above judge them.
        first = rows[missing[0].name]
        first.detail = (first.detail + "; " if first.detail else "") + (
            f"the batch stopped at this file (exit {batch.returncode}"
            + (", timed out" if batch.timed_out else "")
            + f"): {first_line(batch.error_message()) or 'nothing on stderr'}"
        )
        if first.outcome == "clean":
            first.outcome = "hang" if batch.timed_out else "crash"
    for case in regular:
        if case.name in rows:
            continue
        parts = [judge_image_answer(case, tool, answer, reference) for _seconds, answer in answers[case.name]]
        rows[case.name] = combine(case, tool, parts, sum(seconds for seconds, _answer in answers[case.name]))
    for case in cases:
        if case.path is not None and case.special:
            run = runner.run([*prefix, str(case.path), "--json"], env)
            rows[case.name] = judge_image_run(case, tool, run, reference)
    ordered = []
    for case in cases:
        if case.path is None:
            ordered.append(not_run("A", case.name, f"predict {tool}", case.skip))
        else:
            ordered.append(rows[case.name])
    return ordered


def group_images(runner: Runner, work: Path, can_deny: bool, deny_reason: str, log) -> list[Row]:
    env = {"FINTECH_USER_DIR": str(work / "A-user")}
    cases = make_image_cases(work / "A", can_deny, deny_reason)
    rows = []
    for tool in IMAGE_TOOLS:
        tool_rows = run_image_tool(runner, env, cases, tool, log)
        rows.extend(tool_rows)
    order = {case.name: position for position, case in enumerate(cases)}
    return sorted(rows, key=lambda row: order[row.case])


# B. CSVs ----------------------------------------------------------------------------------------
def bank_columns(rows: int = 1000, seed: int = 0) -> dict[str, list]:
    """A small Bank-Marketing-like table whose rare 'yes' depends on amount, score and job."""
    import numpy as np

    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    amount = rng.uniform(0, 50000, rows).round(2)
    score = rng.normal(0, 1, rows).round(4)
    job = rng.choice(["admin", "technician", "services", "retired"], rows)
    logit = 1.4 * score + (amount - 25000) / 12000 + 0.8 * (job == "retired") - 1.8
    positive = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return {
        "age": [int(value) for value in age],
        "amount": [float(value) for value in amount],
        "score": [float(value) for value in score],
        "job": [str(value) for value in job],
        "y": ["yes" if value else "no" for value in positive],
    }


def formatted(columns: dict[str, list], number_style: str = "plain") -> dict[str, list[str]]:
    """Text of each cell: numbers written plainly, with a decimal comma ("comma"), or with
    thousands separators ("groups-comma": 1.234,56; "groups-point": 1,234.56)."""

    def number(value, decimals: int) -> str:
        if number_style == "plain":
            return f"{value:.{decimals}f}"
        if number_style == "comma":
            return f"{value:.{decimals}f}".replace(".", ",")
        grouped = f"{value:,.{decimals}f}"
        return grouped.translate(str.maketrans(",.", ".,")) if number_style == "groups-comma" else grouped

    text = {}
    for name, values in columns.items():
        if name == "amount":
            text[name] = [number(value, 2) for value in values]
        elif name == "score":
            text[name] = [number(value, 4) for value in values]
        else:
            text[name] = ["" if value is None else str(value) for value in values]
    return text


def write_table(
    path: Path,
    columns: dict[str, list[str]],
    separator: str = ",",
    encoding: str = "utf-8",
    header: list[str] | None = None,
    tail: str = "",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    writer.writerow(header or list(columns))
    for row in zip(*columns.values(), strict=True):
        writer.writerow(row)
    path.write_bytes((buffer.getvalue() + tail).encode(encoding))
    return path


def take(columns: dict[str, list], rows) -> dict[str, list]:
    return {name: [values[row] for row in rows] for name, values in columns.items()}


@dataclass
class CsvCase:
    name: str
    path: Path | None
    expect: str  # "error" | "same" (ROC AUC of the clean file) | "close" (near it) | "answer"
    refusal_ok: bool = False  # for an answer case: a plain refusal is fine too (else flag R)
    target: str | None = "y"
    extra: tuple[str, ...] = ()
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    check: Callable[[dict, str], tuple[str, str]] | None = None  # (answer, stderr) → (kind, reason)
    skip: str = ""


def excluded_check(column: str, wrong_if_kept: bool) -> Callable[[dict, str], tuple[str, str]]:
    def check(answer: dict, stderr: str) -> tuple[str, str]:
        if column not in (answer.get("excluded") or {}):
            return ("wrong" if wrong_if_kept else "misleading", f"'{column}' was not left out")
        if f"'{column}'" not in stderr:
            return "misleading", f"stderr does not say '{column}' was left out"
        return "", ""

    return check


def date_check(answer: dict, stderr: str) -> tuple[str, str]:
    if "signup" not in (answer.get("date_columns") or []) and "signup" not in (answer.get("excluded") or {}):
        return "misleading", "'signup' neither read as a date nor left out"
    if "signup" not in stderr:
        return "misleading", "stderr does not say what became of 'signup'"
    return "", ""


def make_csv_cases(folder: Path, can_deny: bool, deny_reason: str) -> list[CsvCase]:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    base = bank_columns()
    rows = len(base["y"])
    plain = formatted(base)
    rng = np.random.default_rng(1)
    cases: list[CsvCase] = []

    def add(name: str, expect: str, write: Callable[[Path], object] | None, file_name: str, **options):
        path = folder / file_name
        try:
            if write is not None:
                write(path)
        except Exception as error:  # noqa: BLE001 - reported as not run
            cases.append(CsvCase(name, None, expect, skip=f"could not be generated here: {error}"))
            return
        cases.append(CsvCase(name, path, expect, **options))

    def table(columns, **options) -> Callable[[Path], object]:
        return lambda path: write_table(path, columns, **options)

    def data(content: bytes) -> Callable[[Path], object]:
        return lambda path: path.write_bytes(content)

    too_few = ("too few", "at least", "rows")
    add("control: clean comma CSV", "answer", table(plain), "clean.csv")
    add("empty file", "error", data(b""), "empty.csv", must=("empty",))
    add(
        "header only", "error", data(b"age,amount,score,job,y\n"), "header-only.csv", must=("no data", "rows")
    )
    add("one column", "error", table({"y": plain["y"]}), "one-column.csv", must=("column",))
    add("one row", "error", table(take(plain, range(1))), "one-row.csv", must=too_few)
    add("19 rows", "error", table(take(plain, range(19))), "19-rows.csv", must=too_few)
    add(
        "only one class in the target",
        "error",
        table({**take(plain, range(300)), "y": ["no"] * 300}),
        "one-class.csv",
        must=("one class", "only"),
    )
    add("--target nope", "error", None, "clean.csv", target="nope", must=("nope",))
    add(
        "--target nope --positive yes",
        "error",
        None,
        "clean.csv",
        target="nope",
        extra=("--positive", "yes"),
        must=("nope",),
    )
    three = [value if rng.random() > 0.2 else "maybe" for value in plain["y"]]
    add(
        "three-class target",
        "answer",
        table({**plain, "y": three}),
        "three-class.csv",
        refusal_ok=True,
        must=("values", "class"),
    )
    add(
        "all-missing feature column", "same", table({**plain, "notes": [""] * rows}), "all-missing-column.csv"
    )
    holes = {
        name: [
            value if (name == "y" and rng.random() > 0.02) or (name != "y" and rng.random() > 0.15) else ""
            for value in values
        ]
        for name, values in plain.items()
    }
    add("missing values everywhere", "answer", table(holes), "holes.csv", refusal_ok=True)
    add("';' separator", "same", table(plain, separator=";"), "semicolon.csv")
    add("tab separator", "same", table(plain, separator="\t"), "tab.csv")
    add("'|' separator", "same", table(plain, separator="|"), "pipe-separated.csv")
    add("';' + decimal commas", "same", table(formatted(base, "comma"), separator=";"), "decimal-comma.csv")
    add(
        "thousands 1.234,56 (';')",
        "same",
        table(formatted(base, "groups-comma"), separator=";"),
        "groups-comma.csv",
    )
    add("thousands 1,234.56 (quoted)", "same", table(formatted(base, "groups-point")), "groups-point.csv")
    embedded = {
        "admin": 'admin, "office"\nstaff',
        "technician": "technician;\tfield, night",
        "services": "services|\ncounter",
        "retired": 'retired "since, 2019"',
    }
    add(
        "quoted fields: separators, newlines",
        "same",
        table({**plain, "job": [embedded[value] for value in plain["job"]]}),
        "quoted.csv",
    )
    accents = {"admin": "employé", "technician": "técnico", "services": "señoría", "retired": "retraité"}
    add(
        "latin-1 with accents",
        "same",
        table({**plain, "job": [accents[value] for value in plain["job"]]}, encoding="latin-1"),
        "latin1.csv",
    )
    first = {"y": plain["y"], **{name: values for name, values in plain.items() if name != "y"}}
    add("UTF-8 BOM, target first", "same", table(first, encoding="utf-8-sig"), "bom.csv")
    add(
        "UTF-16",
        "same",
        table(plain, encoding="utf-16"),
        "utf16.csv",
        refusal_ok=True,
        must=("utf-16", "utf16", "encoding"),
        must_not=("binary",),
    )
    add(
        "binary garbage named .csv",
        "error",
        data(np.random.default_rng(2).bytes(4096)),
        "garbage.csv",
        must=("binary", "not a text"),
    )
    clean_bytes = write_table(folder / "gzip-source.txt", plain).read_bytes()
    add(
        "gzip file named .csv",
        "error",
        data(gzip.compress(clean_bytes, mtime=0)),
        "compressed.csv",
        must=("gzip", "compressed", "binary", "not a text"),
    )
    add("trailing empty lines", "same", table(plain, tail="\n\n   \n,,,,\n\n\n"), "trailing.csv")
    lines = clean_bytes.decode().splitlines()
    for position in (10, 20, 30):
        lines[position] += ",extra,fields"
    for position in (40, 50):
        lines[position] = lines[position].rsplit(",", 2)[0]
    add(
        "ragged rows (extra/missing fields)",
        "answer",
        data(("\n".join(lines) + "\n").encode()),
        "ragged.csv",
        refusal_ok=True,
        must=("line", "row"),
    )
    add(
        "duplicate column names",
        "answer",
        table(plain, header=["age", "amount", "amount", "job", "y"]),
        "duplicate-columns.csv",
        refusal_ok=True,
    )
    spaced_y = [
        f" {value}" if row % 3 == 0 else f"{value} " if row % 3 == 1 else value
        for row, value in enumerate(plain["y"])
    ]
    spaced_job = [f" {value} " if row % 2 else value for row, value in enumerate(plain["job"])]
    add(
        "whitespace around values",
        "same",
        table({**plain, "y": spaced_y, "job": spaced_job}),
        "whitespace.csv",
        extra=("--positive", "yes"),
    )
    add(
        "numeric target 0/1",
        "same",
        table({**plain, "y": ["1" if v == "yes" else "0" for v in plain["y"]]}),
        "target-01.csv",
    )
    add(
        "boolean target True/False",
        "same",
        table({**plain, "y": ["True" if v == "yes" else "False" for v in plain["y"]]}),
        "target-bool.csv",
    )
    words = ["n/a", "?", "unknown", "-", "missing"]
    texty = list(plain["amount"])
    for position, word in zip((5, 50, 150, 500, 900), words, strict=True):
        texty[position] = word
    add(
        "text in a numeric column (5 rows)",
        "close",
        table({**plain, "amount": texty}),
        "text-in-numbers.csv",
        refusal_ok=True,
        must=("amount",),
    )
    add(
        "id column unique per row",
        "same",
        table({"customer_id": [f"C-{row:06d}" for row in range(rows)], **plain}),
        "with-id.csv",
        check=excluded_check("customer_id", wrong_if_kept=False),
    )
    start = np.datetime64("2022-01-01")
    dates = [str(start + int(days)) for days in rng.integers(0, 730, rows)]
    add("date column", "answer", table({**plain, "signup": dates}), "with-date.csv", check=date_check)
    duration = [f"{rng.exponential(120) + (400 if value == 'yes' else 0):.0f}" for value in plain["y"]]
    add(
        "leaky column named 'duration'",
        "same",
        table({**plain, "duration": duration}),
        "with-duration.csv",
        check=excluded_check("duration", wrong_if_kept=True),
    )
    os.mkfifo(folder / "pipe.csv")
    add(
        "FIFO path",
        "error",
        None,
        "pipe.csv",
        must=("pipe", "fifo", "not a regular file", "not a file"),
        must_not=("empty", "binary"),
    )
    (folder / "folder.csv").mkdir()
    add(
        "directory path",
        "error",
        None,
        "folder.csv",
        must=("folder", "directory"),
        must_not=("no such file",),
    )
    os.symlink("loop-b.csv", folder / "loop-a.csv")
    os.symlink("loop-a.csv", folder / "loop-b.csv")
    add("symlink loop", "error", None, "loop-a.csv", must=("link", "loop"), must_not=("no such file",))
    os.symlink("nowhere.csv", folder / "dangling.csv")
    add("dangling symlink", "error", None, "dangling.csv", must=("link", "not exist", "no such", "missing"))
    add("nonexistent file", "error", None, "missing.csv", must=("no such file", "not exist", "not found"))
    if os.access("/dev/zero", os.R_OK):
        cases.append(
            CsvCase(
                "/dev/zero", Path("/dev/zero"), "error", must=("device", "not a regular file", "not a file")
            )
        )
    if can_deny:
        add("permission denied (mode 000)", "error", table(plain), "locked.csv", must=("permission",))
        os.chmod(folder / "locked.csv", 0)
    else:
        cases.append(CsvCase("permission denied (mode 000)", None, "error", skip=deny_reason))
    return cases


def imbalanced_arguments(path, target: str | None, extra=()) -> list[str]:
    return [
        "-m",
        "training",
        "imbalanced",
        "--csv",
        str(path),
        *(["--target", target] if target else []),
        *extra,
        "--models",
        "logistic_regression",
        "--methods",
        "none",
        "--json",
    ]


def judge_refusal(row: Row, run: Run, expect_error: bool, must=(), must_not=(), must_all=()) -> bool:
    """Fill `row` for a run that may have refused; True when the run is settled (hang, crash or
    refusal), False when it answered and the caller must check the answer."""
    if run.timed_out:
        row.outcome, row.message = "hang", f"no answer within {run.seconds:.0f} s"
        return True
    traceback = run.traceback()
    if traceback:
        row.outcome, row.message, row.detail = "crash", traceback, "traceback"
        return True
    _answers, other = run.json_lines()
    if other:
        row.outcome, row.message, row.detail = "crash", other[0], "non-JSON line on stdout in --json mode"
        return True
    if run.returncode != 0:
        row.message = run.error_message() or f"(exit {run.returncode}, nothing on stderr)"
        if not row.message.startswith("error:"):
            row.detail = "the message does not start with 'error:'"
        if expect_error:
            row.misleading = misleading_reason(row.message, must, must_not, must_all)
        else:
            row.refused_valid = True
        return True
    return False


def judge_csv(case: CsvCase, run: Run, reference: float | None) -> Row:
    row = Row("B", case.name, "imbalanced", "clean", run.seconds, "")
    if judge_refusal(row, run, case.expect == "error" or case.refusal_ok, case.must, case.must_not):
        return row
    answers, _other = run.json_lines()
    if not answers:
        row.outcome, row.message, row.detail = "crash", "exit 0 and no JSON line", "JSON line missing"
        return row
    answer = answers[0][1]
    auc = answer.get("roc_auc")
    figure = f"ROC AUC {auc:.4f}" if isinstance(auc, float) else f"roc_auc {auc!r}"
    if isinstance(auc, float) and reference is not None and case.expect in ("same", "close"):
        figure += f" (clean file {reference:.4f})"
    notes = [line.strip() for line in run.stderr.splitlines() if line.startswith(("note:", "excluding"))]
    row.message = figure + (f" · {notes[0]}" if notes else "")
    if case.expect == "error":
        row.outcome, row.detail = "wrong", "answered an input that should be refused"
        return row
    if not isinstance(auc, float) or not 0.0 <= auc <= 1.0 or math.isnan(auc):
        row.outcome, row.detail = "wrong", f"roc_auc is {auc!r}"
        return row
    row.answered = True
    if case.expect in ("same", "close"):
        tolerance = AUC_TOLERANCE if case.expect == "same" else CLOSE_AUC_TOLERANCE
        if reference is None:
            row.detail = "not checked: the control CSV gave no ROC AUC"
        else:
            if abs(auc - reference) > tolerance:
                row.outcome = "wrong"
                row.detail = (
                    f"ROC AUC {auc:.4f}, the clean file gives {reference:.4f} (tolerance {tolerance})"
                )
    if case.check is not None:
        kind, reason = case.check(answer, run.stderr)
        if kind == "wrong":
            row.outcome, row.detail = "wrong", reason
        elif kind == "misleading":
            row.misleading = reason
    return row


@dataclass
class PredictCase:
    name: str
    path: Path | None
    model: str
    expect: str  # "rows:N" | "error"
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    must_all: tuple[str, ...] = ()


def group_csvs(runner: Runner, work: Path, can_deny: bool, deny_reason: str, log) -> list[Row]:
    env = {"FINTECH_USER_DIR": str(work / "B-user")}
    folder = work / "B"
    cases = make_csv_cases(folder, can_deny, deny_reason)
    rows: list[Row] = []
    reference = None
    for case in cases:
        if case.path is None:
            rows.append(not_run("B", case.name, "imbalanced", case.skip))
            continue
        run = runner.run(imbalanced_arguments(case.path, case.target, case.extra), env, timeout=CSV_TIMEOUT)
        row = judge_csv(case, run, reference)
        if case.name.startswith("control"):
            answers, _other = run.json_lines()
            auc = answers[0][1].get("roc_auc") if answers else None
            reference = auc if isinstance(auc, float) else None
        rows.append(row)
        log(f"  B {case.name}: {row.outcome} ({row.seconds:.1f} s)")
    rows.extend(predict_tables(runner, env, folder, log))
    return rows


def predict_tables(runner: Runner, env: dict, folder: Path, log) -> list[Row]:
    """`--save` a model from the clean CSV, then `predict imbalanced` on small tables."""
    tool = "predict imbalanced"
    plain = formatted(bank_columns())
    features = {name: values for name, values in plain.items() if name != "y"}
    one = write_table(folder / "score-1-row.csv", take(features, range(1)))
    three = write_table(folder / "score-3-rows.csv", take(features, range(3)))
    lacking = write_table(
        folder / "score-missing-column.csv",
        take({name: values for name, values in features.items() if name != "amount"}, range(3)),
    )
    texty = take(features, range(3))
    texty["amount"][1] = "abc"
    text_file = write_table(folder / "score-text-in-amount.csv", texty)
    cases = [
        PredictCase("1-row CSV", one, "badinput-model", "rows:1"),
        PredictCase("3-row CSV", three, "badinput-model", "rows:3"),
        PredictCase("CSV missing a column", lacking, "badinput-model", "error", must=("amount",)),
        PredictCase(
            "text 'abc' in a numeric column",
            text_file,
            "badinput-model",
            "error",
            must_all=("amount", "row 2"),
            must_not=("could not convert string to float",),
        ),
        PredictCase(
            "unknown model name",
            one,
            "no-such-model",
            "error",
            must=("no-such-model",),
            must_not=("No bundled model",),
        ),
    ]
    help_run = runner.run(["-m", "training", "imbalanced", "--help"], env, timeout=60)
    if "--save" not in help_run.stdout:
        return [not_run("B", case.name, tool, "not run: --save unavailable") for case in cases]
    save_row = Row("B", "save a model (--save badinput-model)", "imbalanced --save", "clean", None, "")
    run = runner.run(
        imbalanced_arguments(folder / "clean.csv", "y", ("--save", "badinput-model")),
        env,
        timeout=CSV_TIMEOUT,
    )
    save_row.seconds = run.seconds
    saved = False
    if not judge_refusal(save_row, run, expect_error=False):
        saved_lines = [line for line in run.stderr.splitlines() if line.startswith("saved")]
        save_row.message = saved_lines[0] if saved_lines else "exit 0"
        save_row.answered = saved = bool(saved_lines)
        if not saved:
            save_row.outcome, save_row.detail = "wrong", "exit 0 but stderr does not say the model was saved"
    elif save_row.outcome == "clean":
        save_row.outcome, save_row.detail = "wrong", "saving a model from the clean CSV failed"
    rows = [save_row]
    if not saved:
        return rows + [
            not_run("B", case.name, tool, "not run: the model could not be saved") for case in cases
        ]
    first_probability = None
    for case in cases:
        run = runner.run(
            ["-m", "training", "predict", "imbalanced", str(case.path), "--model", case.model, "--json"],
            env,
            timeout=CSV_TIMEOUT,
        )
        row = Row("B", case.name, tool, "clean", run.seconds, "")
        rows.append(row)
        log(f"  B predict {case.name}: exit {run.returncode}")
        if judge_refusal(row, run, case.expect == "error", case.must, case.must_not, case.must_all):
            continue
        answers, _other = run.json_lines()
        if case.expect == "error":
            row.outcome, row.detail = "wrong", "scored a table that should be refused"
            row.message = f"{len(answers)} JSON lines"
            continue
        wanted = int(case.expect.split(":")[1])
        probabilities = [answer.get("probability") for _seconds, answer in answers]
        row.message = f"{len(answers)} JSON line(s); probabilities " + ", ".join(
            f"{value:.4f}" if isinstance(value, float) else repr(value) for value in probabilities
        )
        if len(answers) != wanted:
            row.outcome, row.detail = (
                ("crash" if len(answers) < wanted else "wrong"),
                (f"{len(answers)} JSON lines for {wanted} rows"),
            )
            continue
        if not all(isinstance(value, float) and 0.0 <= value <= 1.0 for value in probabilities):
            row.outcome, row.detail = "wrong", "a probability outside [0, 1]"
            continue
        row.answered = True
        if wanted == 1:
            first_probability = probabilities[0]
        elif first_probability is not None and abs(probabilities[0] - first_probability) > 1e-9:
            row.outcome = "wrong"
            row.detail = f"row 0 scores {probabilities[0]:.6f} here, {first_probability:.6f} alone"
    return rows


# C. A tampered user models folder ----------------------------------------------------------------
class Payload:
    """Pickled, it writes a marker file when unpickled: proof that a model file ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "ran"))


def evil_record(file_name: str, digest: str) -> dict:
    return {
        "tool": "imbalanced",
        "description": "tampered",
        "file": file_name,
        "sha256": digest,
        "target": "y",
        "positive": "yes",
        "excluded": [],
        "columns": {"age": "numeric", "amount": "numeric", "score": "numeric", "job": "categorical"},
        "threshold": 0.5,
    }


def evil_manifest(file_name: str, digest: str) -> dict:
    return {
        "version": 1,
        "models": {"imbalanced-evil": {"versions": [evil_record(file_name, digest)], "active": file_name}},
    }


@dataclass
class TamperCase:
    name: str
    build: Callable[[Path, Path, bytes], None]  # (models folder, case folder, pickle bytes)
    pickle: bool
    expect_warning: bool  # the manifest itself is damaged: the user must be told


def tamper_cases() -> list[TamperCase]:
    def text(content: str):
        def build(models: Path, _case: Path, _evil: bytes) -> None:
            (models / "manifest.json").write_text(content)

        return build

    def outside(kind: str):
        def build(models: Path, case: Path, evil: bytes) -> None:
            target = case / "evil.pkl"
            target.write_bytes(evil)
            digest = hashlib.sha256(evil).hexdigest()
            if kind == "absolute":
                name = str(target)
            elif kind == "dotdot":
                (models.parent / "evil.pkl").write_bytes(evil)
                name = "../evil.pkl"
            else:
                name = "imbalanced-evil-20250101-000000.pipeline"
                os.symlink(target, models / name)
            (models / "manifest.json").write_text(json.dumps(evil_manifest(name, digest)))

        return build

    def inside(suffix: str):
        def build(models: Path, _case: Path, evil: bytes) -> None:
            name = f"imbalanced-evil-20250101-000000{suffix}"
            (models / name).write_bytes(evil)
            digest = hashlib.sha256(evil).hexdigest()
            (models / "manifest.json").write_text(json.dumps(evil_manifest(name, digest)))

        return build

    no_file = json.dumps(
        {"version": 1, "models": {"digits-cnn": {"versions": [{"sha256": "0" * 64}], "active": None}}}
    )
    return [
        TamperCase('manifest {"version":1,"models":[]}', text('{"version": 1, "models": []}'), False, True),
        TamperCase("manifest []", text("[]"), False, True),
        TamperCase('version record without "file"', text(no_file), False, True),
        TamperCase("manifest is invalid JSON", text('{"version": 1, "models": {"digits-cnn": '), False, True),
        TamperCase("record file: absolute path to pickle", outside("absolute"), True, True),
        TamperCase("record file: ../ path to pickle", outside("dotdot"), True, True),
        TamperCase("symlink in models/ to pickle", outside("link"), True, True),
        TamperCase(".joblib pickle, correct sha256", inside(".joblib"), True, False),
        TamperCase("pickle named .pipeline, sha256 ok", inside(".pipeline"), True, False),
    ]


def payload_control(runner: Runner, work: Path) -> str:
    """Unpickle the payload in a subprocess once: 'code executed 0' only means something if the
    payload does run when it is unpickled."""
    folder = work / "C-control"
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "marker-ran"
    (folder / "evil.pkl").write_bytes(pickle.dumps(Payload(marker)))
    run = runner.run(
        ["-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", str(folder / "evil.pkl")],
        timeout=60,
    )
    if marker.exists():
        return "payload control: unpickling the test pickle does write its marker file"
    return f"payload control FAILED: unpickling wrote no marker (exit {run.returncode}); 'code executed' means little"


def group_tampered(runner: Runner, work: Path, log, notes: list[str]) -> list[Row]:
    notes.append(payload_control(runner, work))
    rows = []
    sample_rows = work / "C-rows.csv"
    write_table(
        sample_rows,
        take({name: values for name, values in formatted(bank_columns()).items() if name != "y"}, range(3)),
    )
    for case in tamper_cases():
        case_dir = work / "C" / "".join(character if character.isalnum() else "-" for character in case.name)
        case_dir.mkdir(parents=True, exist_ok=True)
        marker = case_dir / "marker-ran"
        evil = pickle.dumps(Payload(marker))
        user = case_dir / "user"
        commands = [
            ("models", ["-m", "training", "models"]),
            ("predict digits", ["-m", "training", "predict", "digits", str(SAMPLE_DIGIT), "--json"]),
        ]
        if case.pickle:
            commands.append(
                (
                    "predict imbalanced",
                    [
                        "-m",
                        "training",
                        "predict",
                        "imbalanced",
                        str(sample_rows),
                        "--model",
                        "evil",
                        "--json",
                    ],
                )
            )
        for tool, arguments in commands:
            row = Row("C", case.name, tool, "clean", None, "")
            rows.append(row)
            try:
                shutil.rmtree(user, ignore_errors=True)
                (user / "models").mkdir(parents=True)
                case.build(user / "models", case_dir, evil)
            except Exception as error:  # noqa: BLE001 - reported as not run
                row.outcome, row.message = "not run", f"could not set up: {error}"
                continue
            run = runner.run(arguments, {"FINTECH_USER_DIR": str(user)}, timeout=REGISTRY_TIMEOUT)
            row.seconds = run.seconds
            judge_tampered(row, run, case, tool)
            if marker.exists():
                row.outcome, row.code_executed = "wrong", True
                row.detail = "the pickled payload ran: the marker file exists"
                marker.unlink()
            log(f"  C {case.name} / {tool}: {row.outcome}")
    return rows


def judge_tampered(row: Row, run: Run, case: TamperCase, tool: str) -> None:
    said = [
        line.strip()
        for line in run.stderr.splitlines()
        if line.lstrip().lower().startswith(("warning", "error"))
    ]
    if tool == "predict imbalanced":
        if judge_refusal(row, run, expect_error=True):
            return
        row.outcome, row.detail = "wrong", "the tampered model was loaded and used"
        row.message = first_line(run.stdout)
        return
    if run.timed_out:
        row.outcome, row.message = "hang", f"no answer within {run.seconds:.0f} s"
        return
    traceback = run.traceback()
    if traceback:
        row.outcome, row.message, row.detail = "crash", traceback, "traceback"
        return
    if tool == "models":
        lines = run.stdout.splitlines()
        bundled = next((line for line in lines if line.startswith("digits-cnn")), "")
        evil = next((line for line in lines if line.startswith("imbalanced-evil")), "")
        row.message = said[0] if said else (evil.strip() or f"{len(lines)} models listed")
        row.answered = "sha256 ok" in bundled
        if "sha256 ok" not in bundled:
            row.outcome, row.detail = (
                "wrong",
                f"the bundled digits-cnn is not listed as ok (exit {run.returncode})",
            )
        elif case.expect_warning and not said and "FAILED" not in evil:
            row.misleading = "the damaged entry is passed over without a word"
        return
    answers, other = run.json_lines()
    if other:
        row.outcome, row.message, row.detail = "crash", other[0], "non-JSON line on stdout"
        return
    if not answers:
        row.outcome = "crash" if run.returncode == 0 else "wrong"
        row.message = run.error_message() or "no JSON line"
        row.detail = "the bundled digits model did not answer"
        return
    answer = answers[0][1]
    row.message = (said[0] + " · " if said else "") + f"{answer.get('status')}: {answer.get('message')}"
    if answer.get("status") != "ok" or answer.get("label") != 3:
        row.outcome, row.detail = "wrong", "the bundled digits model no longer reads the sample 3"
    else:
        row.answered = True


# D. Kill -9 during retraining ---------------------------------------------------------------------
def manifest_files(models: Path) -> set[str]:
    try:
        manifest = json.loads((models / "manifest.json").read_text())
        return {
            record.get("file")
            for model in manifest.get("models", {}).values()
            for record in model.get("versions", [])
            if isinstance(record, dict)
        }
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def leftovers(models: Path) -> list[str]:
    """What killed runs may leave in the user models folder: dot files, `.partial` copies,
    scratch folders, and model files that no manifest version names."""
    if not models.is_dir():
        return []
    named = manifest_files(models)
    found = []
    for child in sorted(models.iterdir()):
        name = child.name
        if name.startswith(".") or name.endswith(".partial"):
            found.append(name)
        elif child.is_file() and name.endswith(MODEL_SUFFIXES) and name not in named:
            found.append(name)
    scratch = models / "scratch"
    if scratch.is_dir():
        found.extend(f"scratch/{child.name}" for child in sorted(scratch.iterdir()))
    return found


def registry_check(runner: Runner, env: dict) -> tuple[str, str, str]:
    """(outcome, message, detail) of `python -m training models` after a kill."""
    run = runner.run(["-m", "training", "models"], env, timeout=REGISTRY_TIMEOUT)
    if run.timed_out:
        return "hang", "`models` did not answer", ""
    traceback = run.traceback()
    if traceback:
        return "crash", traceback, "`models` crashed"
    line = next((line for line in run.stdout.splitlines() if line.startswith("digits-mlp")), "")
    if run.returncode != 0 or "sha256 ok" not in line:
        return "wrong", first_line(line) or run.error_message(), f"`models` exit {run.returncode}"
    said = [line.strip() for line in run.stderr.splitlines() if line.startswith("warning")]
    return "clean", " ".join(line.split()[:3]) + " sha256 ok" + (f" · {said[0]}" if said else ""), ""


def last_progress(run: Run) -> str:
    lines = [line.strip() for line in run.stderr.splitlines() if line.strip()]
    return lines[-1][:40] if lines else "(nothing printed yet)"


def group_kills(
    runner: Runner, work: Path, kills: int, seed: int, log, notes: list[str], latest: float = KILL_LATEST
) -> list[Row]:
    user = work / "D-user"
    env = {"FINTECH_USER_DIR": str(user)}
    models = user / "models"
    retrain = ["-m", "training", "digits", "--kind", "mlp", "--epochs", "2", "--subset", "2000"]
    generator = random.Random(seed)
    # Random delays between 2 and 25 s, one in each of `kills` equal slices of that range (in a
    # random order), so that even 3 kills hit early, middle and late phases of the run.
    width = (max(latest, KILL_EARLIEST) - KILL_EARLIEST) / max(kills, 1)
    delays = [KILL_EARLIEST + width * (slot + generator.random()) for slot in range(kills)]
    generator.shuffle(delays)
    rows = []
    for number, delay in enumerate(delays, start=1):
        run = runner.run(retrain, env, timeout=RETRAIN_TIMEOUT, kill_after=delay)
        outcome, message, detail = registry_check(runner, env)
        if run.killed_at is not None:
            when = f"killed at {run.killed_at:.1f} s during '{last_progress(run)}'"
        elif run.timed_out:
            when = "retrain hung"
            outcome = "hang"
        else:
            when = f"finished (exit {run.returncode}) before the kill at {delay:.1f} s"
            if run.traceback():
                outcome, message = "crash", run.traceback()
        found = leftovers(models)
        row = Row("D", f"kill #{number} after {delay:.1f} s", "digits (SIGKILL)", outcome, run.seconds, "")
        row.message = f"{when} · {message} · leftovers {len(found)}" + (
            f": {', '.join(found[:4])}" if found else ""
        )
        row.detail = detail
        row.answered = row.outcome == "clean"
        rows.append(row)
        log(f"  D kill #{number}: {row.message}")
    landed = sum(row.message.startswith("killed at") for row in rows)
    notes.append(
        f"D: {landed} of {kills} kills landed before the retrain finished by itself (delays "
        f"{KILL_EARLIEST:.0f}-{latest:.0f} s; lower --kill-max to land more)"
    )
    before = leftovers(models)
    run = runner.run(retrain, env, timeout=RETRAIN_TIMEOUT)
    outcome, message, detail = registry_check(runner, env)
    after = leftovers(models)
    row = Row("D", "complete retrain after the kills", "digits + models", outcome, run.seconds, "")
    if run.timed_out:
        row.outcome, row.message = "hang", f"the retrain did not finish within {RETRAIN_TIMEOUT} s"
    elif run.traceback():
        row.outcome, row.message, row.detail = "crash", run.traceback(), "the retrain crashed"
    elif run.returncode not in (0, 3):
        row.outcome, row.message = "wrong", run.error_message()
        row.detail = f"the retrain failed (exit {run.returncode})"
    else:
        row.message = (
            f"exit {run.returncode} · {message} · leftovers before {len(before)}, after {len(after)}"
            + (f": {', '.join(after[:4])}" if after else "")
        )
        row.detail = detail
        if after and row.outcome == "clean":
            row.outcome = "wrong"
            row.detail = f"{len(after)} leftovers of killed runs remain after a complete retrain"
    row.answered = row.outcome == "clean"
    rows.append(row)
    log(f"  D final retrain: {row.message}")
    return rows


# Report -----------------------------------------------------------------------------------------
COLUMNS = (("", 1), ("case", 36), ("tool", 18), ("outcome", 7), ("s", 6), ("flag", 4))


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(rows: list[Row]) -> None:
    header = " ".join(f"{name:<{width}}" for name, width in COLUMNS) + " message (first line)"
    print(header)
    print("-" * len(header))
    for row in rows:
        seconds = "" if row.seconds is None else f"{row.seconds:6.1f}"
        print(
            f"{row.group:<1} {cut(row.case, 36):<36} {cut(row.tool, 18):<18} {row.outcome:<7} "
            f"{seconds:>6} {row.flags:<4} {cut(first_line(row.message), 120)}"
        )


def summary(rows: list[Row]) -> dict[str, int]:
    ran = [row for row in rows if row.outcome != "not run"]
    return {
        "cases": len(ran),
        "clean": sum(row.outcome == "clean" for row in ran),
        "answers": sum(row.outcome == "clean" and row.answered for row in ran),
        "refused_valid": sum(row.outcome == "clean" and row.refused_valid for row in ran),
        "crashes": sum(row.outcome == "crash" for row in ran),
        "hangs": sum(row.outcome == "hang" for row in ran),
        "wrong": sum(row.outcome == "wrong" for row in ran),
        "misleading": sum(bool(row.misleading) for row in ran),
        "code_executed": sum(row.code_executed for row in ran),
        "not_run": len(rows) - len(ran),
    }


def report(rows: list[Row], seconds: float, notes: list[str], work: Path) -> dict[str, int]:
    for row in rows:  # the temporary folder's path says nothing and hides the message
        row.message = row.message.replace(f"{work}/", "").replace(str(work), "<work>")
    print()
    print_table(rows)
    print(
        "\nflags: A answered correctly · R refused an input it should read · M misleading message · "
        "X code executed. Batched image cases: seconds since the previous answer (the first includes start-up)."
    )
    problems = [row for row in rows if row.outcome not in ("clean", "not run") or row.misleading]
    if problems:
        print("\nNot clean, or misleading:")
        for row in problems:
            why = "; ".join(
                part for part in (row.detail, row.misleading and f"misleading: {row.misleading}") if part
            )
            print(f"  [{row.outcome}] {row.group} {row.case} / {row.tool}: {first_line(row.message)}")
            if why:
                print(f"      why: {why}")
    refused = [row for row in rows if row.outcome == "clean" and row.refused_valid]
    if refused:
        print("\nClean refusals of inputs that should have been read:")
        for row in refused:
            print(f"  {row.group} {row.case} / {row.tool}: {first_line(row.message)}")
    skipped = [row for row in rows if row.outcome == "not run"]
    if skipped:
        print("\nNot run:")
        for row in skipped:
            print(f"  {row.group} {row.case} / {row.tool}: {row.message}")
    for note in notes:
        print(f"note: {note}")
    counts = summary(rows)
    print(
        f"\nclean {counts['clean']} = {counts['clean'] - counts['answers'] - counts['refused_valid']} clean "
        f"refusals + {counts['answers']} correct answers + {counts['refused_valid']} refusals of valid input; "
        f"not run {counts['not_run']}; {seconds:.0f} s in all"
    )
    print(
        f"cases {counts['cases']} · clean {counts['clean']} · crashes {counts['crashes']} · hangs {counts['hangs']} "
        f"· wrong {counts['wrong']} · misleading {counts['misleading']} · code executed {counts['code_executed']}"
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 kills instead of 12")
    parser.add_argument("--only", help="groups to run, e.g. A,B (default: A,B,C,D)")
    parser.add_argument("--kills", type=int, help="kill -9 runs in group D (default 12; 3 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    parser.add_argument(
        "--kill-max",
        type=float,
        default=KILL_LATEST,
        help=f"latest kill, seconds after the start of a retrain (default {KILL_LATEST:.0f})",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on crashes, hangs, wrong answers or code run"
    )
    parser.add_argument("--keep", type=Path, help="write the generated inputs here and keep them")
    parser.add_argument("--json-out", type=Path, help="also write every row as JSON to this file")
    arguments = parser.parse_args(argv)
    groups = [
        group.strip().upper() for group in (arguments.only or ",".join(GROUPS)).split(",") if group.strip()
    ]
    unknown = [group for group in groups if group not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    kills = arguments.kills if arguments.kills is not None else (3 if arguments.quick else 12)

    started = time.perf_counter()
    if arguments.keep:
        if arguments.keep.exists() and any(arguments.keep.iterdir()):
            parser.error(f"{arguments.keep} is not empty")
        arguments.keep.mkdir(parents=True, exist_ok=True)
        work = arguments.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="bad-input-matrix-")).resolve()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    prefix, permission_note = permission_wrapper(work)
    can_deny = bool(prefix) or os.geteuid() != 0
    base_env = {
        **os.environ,
        "FINTECH_USER_DIR": str(work / "default-user"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    runner = Runner(prefix, base_env)
    notes = [
        permission_note,
        f"inputs in {work}" + (" (kept)" if arguments.keep else " (removed at the end)"),
    ]
    log(f"bad-input matrix: groups {','.join(groups)}; {permission_note}")
    rows: list[Row] = []
    counts = summary(rows)
    steps = {
        "A": lambda: group_images(runner, work, can_deny, permission_note, log),
        "B": lambda: group_csvs(runner, work, can_deny, permission_note, log),
        "C": lambda: group_tampered(runner, work, log, notes),
        "D": lambda: group_kills(runner, work, kills, arguments.seed, log, notes, arguments.kill_max),
    }
    try:
        for group in groups:
            log(f"group {group} …")
            group_started = time.perf_counter()
            try:
                rows.extend(steps[group]())
            except Exception as error:  # noqa: BLE001 - one group's harness failure must not stop the others
                rows.append(
                    not_run(
                        group, "(the whole group)", "-", f"harness error: {type(error).__name__}: {error}"
                    )
                )
            log(f"group {group}: {time.perf_counter() - group_started:.0f} s")
        counts = report(rows, time.perf_counter() - started, notes, work)
        if arguments.json_out:
            arguments.json_out.write_text(
                json.dumps({"summary": counts, "rows": [asdict(row) for row in rows]}, indent=1)
            )
    finally:
        if not arguments.keep:
            for path in work.rglob("*"):
                with contextlib.suppress(OSError):
                    if not path.is_symlink() and path.is_file():
                        path.chmod(0o600)
            shutil.rmtree(work, ignore_errors=True)
    bad = counts["crashes"] + counts["hangs"] + counts["wrong"] + counts["code_executed"]
    return 1 if arguments.strict and bad else 0


if __name__ == "__main__":
    sys.exit(main())
