"""Fuzz campaign over import files: broken CSV and XLSX files by class, each checked in a forked
child with bounded memory and time, and a table of outcomes per class.

    python bench/fuzz_imports.py [--per-class 200] [--seed 1] [--timeout 10] [--memory-mb 1024]

Each mutant is checked as a spot-check file for the guangdong 2010 plan (``check_file``, what
``jx import`` runs before writing). Outcomes:
- clear: refused with a DataError/UsageError whose every problem names the file
- vague: refused, but a problem does not name the file
- crash: any other exception (a traceback for the user), or memory exhausted
- hang: not done within --timeout seconds (killed)
- slow: done, but it used more than 1 s of CPU
- accepted: entries returned (a mutation inside a cell's text, say); ``accepted-bad`` if an
  entry holds a control character
The quick version of this campaign is the hypothesis tests in
plugins/collectors/tests/test_manual_reading.py.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import signal
import sys
import zipfile
from collections import Counter

GOOD_ROWS = [["日期", "单位", "档案类别", "档案号", "瑕疵"]] + [
    [f"2010-0{1 + i % 9}-1{i % 10}", ["虎门", "长安", "humen", "洪梅"][i % 4], ["登记", "案件"][i % 2], f"DJ{i:05d}",
     ["", "超越职权", "程序错误、超过时限"][i % 3]] for i in range(40)]
CONTROL = [chr(c) for c in (*range(9), 11, 12, *range(14, 32), 127)]


def good_csv() -> str:
    return "".join(",".join(row) + "\n" for row in GOOD_ROWS)


def good_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in GOOD_ROWS:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def mutate(rnd: random.Random, data: bytes, n: int = 4) -> bytes:
    out = bytearray(data)
    for _ in range(rnd.randint(1, n)):
        at = rnd.randrange(len(out) + 1)
        action = rnd.choice(["flip", "insert", "delete", "truncate", "dup"])
        if action == "flip" and at < len(out):
            out[at] ^= 1 << rnd.randrange(8)
        elif action == "insert":
            out[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        elif action == "delete":
            del out[at:at + rnd.randint(1, 16)]
        elif action == "truncate":
            del out[at:]
        elif action == "dup":
            out[at:at] = out[max(0, at - 64):at]
    return bytes(out)


def csv_bytes(rnd):
    return "f.csv", mutate(rnd, good_csv().encode(rnd.choice(["utf-8", "gbk", "utf-8-sig"])))


def csv_control(rnd):
    text = list(good_csv())
    for _ in range(rnd.randint(1, 3)):
        text.insert(rnd.randrange(len(text)), rnd.choice(CONTROL))
    return "f.csv", "".join(text).encode(rnd.choice(["utf-8", "gbk"]))


def csv_encoding(rnd):
    codec = rnd.choice(["utf-16", "utf-16-le", "utf-16-be", "cp950", "shift_jis", "euc-kr", "utf-32", "cp1252"])
    text = good_csv()
    if codec == "cp950":
        text = text.replace("单位", "單位").replace("档案类别", "檔案類別").replace("档案号", "檔案號")
    return "f.csv", text.encode(codec, errors="replace")


def csv_structure(rnd):
    lines = good_csv().splitlines(keepends=True)
    at = rnd.randrange(1, len(lines))
    lines[at] = rnd.choice([
        '"unclosed,' + lines[at], lines[at].replace(",", ",,", 1), lines[at].rstrip("\n") + ",x" * 80 + "\n",
        lines[at].replace(",", '"x' * 40000 + '",', 1), "\n" * 50, lines[at] * 2, ",,,,\n", '""' * 100 + "\n"])
    return "f.csv", "".join(lines).encode()


def xlsx_bytes(rnd):
    return "f.xlsx", mutate(rnd, GOOD_XLSX, n=2)


def xlsx_bomb(rnd):
    """A valid workbook with one part padded by megabytes of blanks (which compress a thousandfold)."""
    target = rnd.choice(["xl/worksheets/sheet1.xml", "xl/styles.xml", "[Content_Types].xml"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, zipfile.ZipFile(io.BytesIO(GOOD_XLSX)) as good:
        for member in good.infolist():
            data = good.read(member)
            if member.filename == target:
                data += b" " * (rnd.randint(2, 64) << 20)
            archive.writestr(member, data)
    return "f.xlsx", out.getvalue()


def xlsx_cells(rnd):
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(GOOD_XLSX))
    sheet = book.active
    for _ in range(rnd.randint(1, 5)):
        row, col = rnd.randint(1, 200_000), rnd.choice([rnd.randint(1, 8), 16384])
        sheet.cell(row=row, column=col, value=rnd.choice(["x", "=1+1", 3.5, "虎门", None]))
    if rnd.random() < 0.3:
        sheet.merge_cells("A2:A3")
    out = io.BytesIO()
    book.save(out)
    return "f.xlsx", out.getvalue()


CLASSES = {f.__name__: f for f in (csv_bytes, csv_control, csv_encoding, csv_structure, xlsx_bytes, xlsx_bomb,
                                   xlsx_cells)}
GOOD_XLSX = b""


def check(name: str, data: bytes) -> str:
    """The outcome of one file, in this (child) process."""
    from jx_collectors.manual.importer import check_file
    from jx_collectors.manual.kinds import KINDS
    from jxcore.errors import JxError

    try:
        rows, _ = check_file(SCHEME, KINDS["spot_check"], name, data)
    except JxError as exc:
        return "clear" if all(p.location.file for p in exc.problems) else "vague"
    except MemoryError:
        return "crash"
    except Exception as exc:  # noqa: BLE001 - what the campaign looks for
        return f"crash:{type(exc).__name__}"
    bad = any(any(c in str(v) for c in CONTROL) for r in rows for v in r.payload.values())
    return "accepted-bad" if bad else "accepted"


def run_one(name: str, data: bytes, timeout: float, memory_mb: int) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        start = resource.getrusage(resource.RUSAGE_SELF)
        got = check(name, data)
        end = resource.getrusage(resource.RUSAGE_SELF)
        if got in ("clear", "accepted") and end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime > 1:
            got = "slow"
        os.write(write, got.encode())
        os._exit(0)
    os.close(write)
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.setitimer(signal.ITIMER_REAL, timeout)
    _, status = os.waitpid(pid, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    with os.fdopen(read, "rb") as pipe:
        got = pipe.read().decode()
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return "hang"
    return got or "crash:died"


def main() -> None:
    global GOOD_XLSX, SCHEME
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--classes", default=",".join(CLASSES))
    args = parser.parse_args()
    from jx_collectors.manual import (
        importer,  # loaded before forking: children start warm
    )
    from jx_scheme_guangdong import PACK_DIR
    from jxcore.scheme import load_scheme

    assert importer
    SCHEME = load_scheme(PACK_DIR, 2010)
    GOOD_XLSX = good_xlsx()
    rnd = random.Random(args.seed)
    print(f"{'class':14} " + " ".join(f"{o:>13}" for o in OUTCOMES))
    for name in args.classes.split(","):
        outcomes: Counter = Counter()
        for _ in range(args.per_class):
            file, data = CLASSES[name](rnd)
            got = run_one(file, data, args.timeout, args.memory_mb)
            outcomes["crash" if got.startswith("crash") else got] += 1
            if got.startswith("crash") or got in ("hang", "accepted-bad", "vague"):
                print(f"  {name}: {got}", file=sys.stderr)
        print(f"{name:14} " + " ".join(f"{outcomes[o]:>13}" for o in OUTCOMES), flush=True)


OUTCOMES = ("clear", "vague", "crash", "hang", "slow", "accepted", "accepted-bad")
SCHEME = None

if __name__ == "__main__":
    main()
