"""Top-level keys of a scheme's ``settings:`` that nothing reads are errors at ``jx validate``.

The core reads ``ranking``, ``records`` and ``plans``; a plugin names the keys it reads through the
``jx_settings_keys`` hook. Any other key (a typo, or a key of a plugin that is not installed) is a
problem with file:line, the key's path and the known keys.
"""

from __future__ import annotations

from pathlib import Path

from jxcore import hookimpl
from jxcore.cli import main
from jxcore.plugins import Registry, get_plugin_manager
from jxcore.scheme import check_pack
from jxcore.settings import CORE_SETTINGS_KEYS, known_settings_keys
from jxcore.testing import installed_registry, write_pack

SCHEME = """\
name: keys
sources:
  business: {url: "sqlite:///unused.db"}
settings:
  ranking: {ties: shared}
  SCHEME_KEY
"""

PLAN = """\
period: 2010
scale: 100
nodes:
  - code: X
    name: item
    points: 100
    children:
      - code: X.1
        name: one
        points: 100
        rule: {name: pass_fail, params: {target: 1}}
        collector: {name: system_feed, params: {source: business, table: t}}
settings:
  leadership_review: {bottom: 1, admonition_years: 2, reshuffle_years: 3, pass_line: 600}
  PLAN_KEY
"""


def pack(tmp_path: Path, scheme_key: str = "", plan_key: str = "") -> Path:
    return write_pack(tmp_path / "pack", PLAN.replace("PLAN_KEY", plan_key),
                      scheme=SCHEME.replace("SCHEME_KEY", scheme_key))


def test_a_pack_with_known_keys_only_is_valid(tmp_path):
    assert check_pack(pack(tmp_path, "checklists: {}"), installed_registry()) == []


def test_a_misspelt_key_in_a_plan_is_reported_with_its_line_and_the_known_keys(tmp_path):
    found = [str(p) for p in check_pack(pack(tmp_path, plan_key="comendation: {top: 3}"), installed_registry())]
    assert len(found) == 1
    assert found[0].startswith("plans/2010.yaml:15: settings.comendation: unknown setting 'comendation' "
                               "(did you mean 'commendation'? known settings: ")
    for key in (*CORE_SETTINGS_KEYS, "checklists", "commendation", "leadership_review", "web", "evaluation"):
        assert key in found[0]


def test_an_unknown_key_in_scheme_yaml_is_reported_once_with_its_line(tmp_path):
    root = pack(tmp_path, scheme_key="colour: red")
    (root / "plans" / "2011.yaml").write_text((root / "plans" / "2010.yaml").read_text(encoding="utf-8")
                                              .replace("period: 2010", "period: 2011"), encoding="utf-8")
    found = [str(p) for p in check_pack(root, installed_registry())]
    assert len(found) == 1, found
    assert found[0].startswith("scheme.yaml:6: settings.colour: unknown setting 'colour' (known settings: ")
    assert "a setting of a plugin that is not installed is unknown too" in found[0]


def test_jx_validate_exits_2_without_a_traceback(tmp_path, capsys):
    root = pack(tmp_path, plan_key="leadership_reveiw: {}")
    code = main(["validate", "--scheme", str(root)])
    err = capsys.readouterr().err
    assert code == 2
    assert "plans/2010.yaml:15: settings.leadership_reveiw: unknown setting 'leadership_reveiw'" in err
    assert "did you mean 'leadership_review'?" in err and "Traceback" not in err


class ProvinceSettings:
    """A third-party plugin that reads ``settings.province``."""

    @hookimpl
    def jx_settings_keys(self):
        return ["province"]


def registry_with(*plugins: object) -> Registry:
    return Registry.from_plugin_manager(get_plugin_manager(plugins=plugins))


def test_a_plugin_makes_its_keys_known_through_the_hook(tmp_path):
    root = pack(tmp_path, plan_key="province: {anything: 1}")
    assert [p.message for p in check_pack(root, installed_registry())] == ["unknown setting 'province'"]
    registry = registry_with(ProvinceSettings())
    assert check_pack(root, registry) == []
    known = known_settings_keys(registry.pm)
    assert known["province"].startswith("ProvinceSettings")  # the plugin's name
    assert known["ranking"] == "jx" and known["commendation"] == "outputs"


class BrokenSettings:
    @hookimpl
    def jx_settings_keys(self):
        return "province"  # a bare string, not an iterable of names


class FailingSettings:
    @hookimpl
    def jx_settings_keys(self):
        raise RuntimeError("boom")


def test_a_bad_hook_is_a_problem_naming_the_plugin_not_a_traceback(tmp_path):
    root = pack(tmp_path)
    for plugin, what in ((BrokenSettings(), "returned 'province'"), (FailingSettings(), "failed: RuntimeError: boom")):
        found = [str(p) for p in check_pack(root, registry_with(plugin))]
        assert len(found) == 1, found
        assert f"the jx_settings_keys hook of plugin '{type(plugin).__name__}" in found[0]
        assert what in found[0]
