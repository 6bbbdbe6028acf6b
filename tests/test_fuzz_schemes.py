"""Fuzzing the scheme check with mutants of the guangdong pack (its 2010 plan only, to stay quick):
whatever the mutation, the check returns problems that each name their file (and their line,
unless about the whole file) or accepts a pack that then loads; it never raises. The longer
campaign with counts per mutant class is `make fuzz` (bench/fuzz_schemes.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scheme_mutants as sm
from jxcore.errors import Problem
from jxcore.scheme import check_pack, load_pack, load_scheme
from jxcore.testing import installed_registry

FILES = ("scheme.yaml", "units.yaml", "plans/2010.yaml")
#: Problems about a whole file carry no line.
WHOLE_FILE = ("file not found", "cannot read the file", "a directory where", "not a regular file",
              "the file is", "the file holds", "plans directory not found", "plan file ", "scheme ", "…")
FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    root = sm.copy_pack(tmp_path_factory.mktemp("fuzz") / "guangdong")
    for year in (2007, 2008, 2009):
        (root / "plans" / f"{year}.yaml").unlink()
    return root


@pytest.fixture(scope="module")
def registry():
    return installed_registry()


def outcome(original: Path, registry, mutate) -> list[Problem]:
    """Check a mutated copy; assert the check's promises; return its problems."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(original, Path(tmp) / "pack"))
        mutate(root)
        problems = check_pack(root, registry, warnings=[])
        for problem in problems:
            where = problem.location
            assert where.file, problem
            assert where.line is not None or problem.message.startswith(WHOLE_FILE), problem
        if not problems:  # accepted: then it loads, as jx run would load it
            for year in load_pack(root).periods:
                load_scheme(root, year, registry)
        for path in root.rglob("*"):
            if path.is_symlink() or path.is_fifo():
                path.unlink()
        return problems


files = st.sampled_from(FILES)
positions = st.floats(0, 1, exclude_max=True)


@FUZZ
@given(file=files, position=positions, value=st.integers(0, 255))
def test_byte_flips(original, registry, file, position, value):
    outcome(original, registry, lambda p: sm.flip_byte(p, file, position, value))


@FUZZ
@given(file=files, position=positions)
def test_truncation(original, registry, file, position):
    outcome(original, registry, lambda p: sm.truncate(p, file, position))


@FUZZ
@given(file=files, encoding=st.sampled_from(sm.ENCODINGS))
def test_other_encodings_are_refused(original, registry, file, encoding):
    problems = outcome(original, registry, lambda p: sm.reencode(p, file, encoding))
    assert problems and "UTF-8" in problems[0].message


@FUZZ
@given(levels=st.integers(1, 12), width=st.integers(2, 12))
def test_alias_bombs_are_refused(original, registry, levels, width):
    problems = outcome(original, registry, lambda p: sm.alias_bomb(p, levels, width))
    assert [p.message for p in problems] == ["YAML alias *b0 is not allowed in scheme files"]


@FUZZ
@given(file=files, index=st.integers(0, 2000), new=st.sampled_from(sm.BAD_NUMBERS) | st.from_regex(
    r"-?[0-9]{1,25}(\.[0-9]{1,6})?(e[+-]?[0-9]{1,3})?", fullmatch=True))
def test_numbers(original, registry, file, index, new):
    outcome(original, registry, lambda p: sm.replace_number(p, file, index, new))


@FUZZ
@given(index=st.integers(0, 100), day=st.sampled_from(sm.BAD_DATES) | st.dates().map(str))
def test_stage_dates(original, registry, index, day):
    outcome(original, registry, lambda p: sm.replace_nth(p, "plans/2010.yaml", r"date: 2010-[0-9-]+", index,
                                                         "date: " + day))


@FUZZ
@given(file=files, position=positions, text=st.sampled_from(sm.CONTROL + sm.LOOKALIKE) | st.text(max_size=3))
def test_inserted_characters(original, registry, file, position, text):
    outcome(original, registry, lambda p: sm.insert(p, file, position, text))


@FUZZ
@given(variant=st.sampled_from(sm.CSV_VARIANTS), index=st.integers(0, 100))
def test_units_csv_variants_are_refused(original, registry, variant, index):
    assert outcome(original, registry, lambda p: sm.units_csv(p, variant, index))


@FUZZ
@given(index=st.integers(0, 100), char=st.sampled_from(sm.LOOKALIKE))
def test_lookalike_characters_are_refused(original, registry, index, char):
    assert outcome(original, registry, lambda p: sm.lookalike_unit(p, index, char))


@pytest.mark.parametrize("kind", sm.SPECIAL)
@pytest.mark.parametrize("file", FILES)
def test_special_files(original, registry, file, kind):
    problems = outcome(original, registry, lambda p: sm.special_file(p, file, kind))
    assert problems or (kind == "missing" and file.startswith("plans/"))


@pytest.mark.parametrize("name", [name for name in sorted(sm.HAND_WRITTEN) if sm.HAND_WRITTEN[name][0] in FILES])
def test_hand_written_mistakes(original, registry, name):
    warnings: list[Problem] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(original, Path(tmp) / "pack"))
        sm.hand_written(root, name)
        problems = check_pack(root, registry, warnings=warnings)
    if name == "stage target as percent":  # valid, and probably not meant
        assert not problems and [w.message for w in warnings] == [
            "stage target 47 looks like a percentage; the indicator's other targets are rates between 0 and 1"]
    else:
        assert problems and all(p.location.file and p.location.line for p in problems), problems


def test_jx_validate_prints_warnings_and_still_passes(original, capsys):
    from jxcore.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(original, Path(tmp) / "pack"))
        sm.hand_written(root, "stage target as percent")
        code = main(["validate", "--scheme", str(root)])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("ok: scheme guangdong")
    assert "warning: " in err and "stage target 47 looks like a percentage" in err
