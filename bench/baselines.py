"""What jx is compared with in bench/scale.py, as scripts run in their own process (no jx imported).

    python bench/baselines.py limit SPEC.json
    python bench/baselines.py pandas SPEC.json OUT.npz

SPEC.json is written by bench/scale.py from the plan: the DuckDB file, the period's dates, the
units (codes, staff, market entities), the system-feed indicators' parameters and the SQL the
collector runs for them.

- ``limit``: DuckDB alone running the collector's SQL (one fused ``GROUP BY unit`` per table, as
  one would write it by hand), one statement after another on one connection, results fetched as
  numpy: the floor for any tool that reads these tables.
- ``pandas``: the script a competent team writes without jx: each table is read once, in Arrow
  record batches (bounded memory) of only the columns its indicators use, unit codes dictionary-
  encoded (categorical) and mapped to unit positions once per batch, each indicator's filter a
  boolean mask and its per-unit count or sum an ``np.bincount``; raw-SQL indicators run as written.
  It writes every measure to OUT.npz, and bench/scale.py checks that they equal jx's.
"""

from __future__ import annotations

import json
import operator
import sys
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 2_000_000  #: rows per Arrow record batch read by the pandas script


def limit(spec: dict) -> dict:
    import duckdb

    with duckdb.connect(spec["database"], read_only=True) as con:
        rows = sum(len(con.execute(sql).fetchnumpy()["unit"]) for sql in spec["sql"])
    return {"queries": len(spec["sql"]), "rows": rows}


COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge}


def pandas_script(spec: dict, out: Path) -> dict:
    import duckdb
    import pandas as pd

    units = pd.Index(spec["units"])
    n = len(units)
    dates = {k: pd.Timestamp(spec[k]) for k in ("start", "end", "as_of")}
    start, end_of_as_of = dates["start"], dates["as_of"] + pd.Timedelta(days=1)
    divisors = {"staff": np.asarray(spec["staff"], dtype=float), "entities": np.asarray(spec["entities"], dtype=float)}

    def resolve(value: Any) -> Any:
        return dates[value[1:-1]] if isinstance(value, str) and value[1:-1] in dates and value[0] == "{" else value

    def mask(df: pd.DataFrame, flt: dict | None) -> np.ndarray:
        keep = np.ones(len(df), dtype=bool)
        for col, cond in (flt or {}).items():
            ops = cond if isinstance(cond, dict) else {"in" if isinstance(cond, list) else "=": cond}
            column = df[col]
            for op, value in ops.items():
                if op == "is null" or value is None:
                    null = column.isna().to_numpy()
                    keep &= null if (value if op == "is null" else op == "=") else ~null
                elif op in ("in", "not in"):
                    hit = column.isin([resolve(v) for v in value]).to_numpy() & column.notna().to_numpy()
                    keep &= hit if op == "in" else ~hit & column.notna().to_numpy()
                else:
                    keep &= COMPARE[op](column, resolve(value)).fillna(False).to_numpy(dtype=bool)
        return keep

    by_table: dict[str, list[dict]] = {}
    for m in spec["measures"]:
        by_table.setdefault(m["params"].get("table") or "", []).append(m)
    results: dict[str, np.ndarray] = {}
    with duckdb.connect(spec["database"], read_only=True) as con:
        for m in by_table.pop("", []):  # raw SQL indicators: a team writes that SQL too
            sql = m["params"]["sql"]
            for k, day in dates.items():
                sql = sql.replace(f":{k}", f"DATE '{day.date()}'")
            got = con.execute(sql).df()
            value = np.full(n, np.nan)
            at = units.get_indexer(got["unit"].astype(str))
            value[at[at >= 0]] = got["value"].to_numpy(dtype=float)[at >= 0]
            results[m["node"]] = value
        for table, group in by_table.items():
            unit_col = group[0]["params"].get("unit_column") or "unit_code"
            used = {unit_col}
            for m in group:
                p = m["params"]
                used |= {c for key in ("where", "numerator") for c in (p.get(key) or {})}
                used |= {c for c in (p.get("window"), p.get("column")) if c}
            acc = {m["node"]: {"n": np.zeros(n), "d": np.zeros(n)} for m in group}
            reader = con.execute(f"SELECT {', '.join(sorted(used))} FROM {table}").to_arrow_reader(BATCH)
            for batch in reader:
                df = batch.to_pandas(strings_to_categorical=True, date_as_object=False)
                codes = df[unit_col]
                where = units.get_indexer(codes.cat.categories)[codes.cat.codes.to_numpy()]
                where[codes.cat.codes.to_numpy() < 0] = -1
                known = where >= 0
                for m in group:
                    p, a = m["params"], acc[m["node"]]
                    base = mask(df, p.get("where")) & known
                    windowed = base
                    if p.get("window"):
                        w = df[p["window"]]
                        windowed = base & ((w >= start) & (w < end_of_as_of)).fillna(False).to_numpy(dtype=bool)
                    how = p.get("aggregate", "count")
                    if how == "rate":
                        num = windowed & mask(df, p.get("numerator"))
                        den = windowed if p.get("denominator_window") else base
                        a["n"] += np.bincount(where[num], minlength=n)
                        a["d"] += np.bincount(where[den], minlength=n)
                    elif how in ("sum", "avg"):
                        values = df[p["column"]].to_numpy(dtype=float, na_value=np.nan)
                        keep = windowed & ~np.isnan(values)
                        a["n"] += np.bincount(where[keep], weights=values[keep], minlength=n)
                        a["d"] += np.bincount(where[keep], minlength=n)
                    elif how == "count":
                        a["n"] += np.bincount(where[windowed], minlength=n)
                    else:
                        raise SystemExit(f"{m['node']}: aggregate {how!r} is not in this baseline")
            for m in group:
                p, a = m["params"], acc[m["node"]]
                how = p.get("aggregate", "count")
                with np.errstate(divide="ignore", invalid="ignore"):
                    if how in ("rate", "avg"):
                        value = np.where(a["d"] > 0, a["n"] / np.where(a["d"] > 0, a["d"], 1), np.nan)
                    else:
                        value = a["n"]
                    if p.get("divide_by"):
                        div = divisors[p["divide_by"]]
                        value = np.where(div > 0, value / np.where(div > 0, div, 1), np.nan)
                results[m["node"]] = value * p.get("multiply", 1)
    np.savez(out, **results)
    return {"measures": len(results)}


def main() -> None:
    what, spec_path, *rest = sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    got = limit(spec) if what == "limit" else pandas_script(spec, Path(rest[0]))
    print(json.dumps(got, default=str))


if __name__ == "__main__":
    main()
