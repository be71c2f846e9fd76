"""The room's Lua scripts: one file each in livestreams/lua, loaded by name, called by name."""

from __future__ import annotations

import re

import pytest

from livestreams import realtime
from livestreams.realtime import adapters, scripts

SCRIPTS = sorted(p.stem for p in scripts.LUA_DIR.glob("*.lua"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_says_what_it_takes(name):
    """Each script's header names its keys and arguments in the comment a reader sees, the
    same names its `--! keys` / `--! args` lines bind."""
    script = scripts.lua(name)
    text = (scripts.LUA_DIR / f"{name}.lua").read_text()
    assert text.startswith(f"-- {name}: ")
    lines = text.splitlines()
    comment = "\n".join(line for line in lines if line.startswith("--"))
    body = "\n".join(line for line in lines if not line.startswith("--"))
    for bound in script.keys + script.args:
        bare = bound.removeprefix("...")
        assert re.search(rf"^--\s+(Keys|Arguments)?\s+.*\b{bare}\b", comment, re.M), bare
        assert re.search(rf"\b{bare}\b", body), f"{bare} is bound but unused"


def test_scripts_are_called_by_name_not_position():
    keys, args = scripts.SEED.bind(
        board="b", labels="l", combo_key="c", seq_key="s", step=2, combo_ttl=5, size=3, ttl=60,
        channel="", frame="{}", gifters=["m1", 5, "{}", "m2", 4, "{}"],
    )  # fmt: skip
    assert keys == ["b", "l", "c", "s"]
    assert args == [2, 5, 3, 60, "", "{}", "m1", 5, "{}", "m2", 4, "{}"]
    with pytest.raises(TypeError, match="seed.lua takes"):
        scripts.SEED.bind(board="b", labels="l")
    with pytest.raises(TypeError, match="relabel.lua takes"):
        scripts.RELABEL.bind(labels="l", member="m", label="{}", extra=1)


def test_libraries_come_first_and_names_are_locals():
    source = scripts.GIFT.source
    assert source.index("local function publish") < source.index("local function apply")
    assert source.index("local function apply") < source.index("local combo_key = KEYS[1]")
    assert "local channel = ARGV[9]" in source
    assert "KEYS[" not in source.split("local channel = ARGV[9]")[1]  # the body uses names
    assert "ARGV[" not in source.split("local channel = ARGV[9]")[1]


@pytest.mark.skipif(not realtime.boards_kept(), reason="the scripts run on Redis (set REDIS_URL)")
def test_the_scripts_run_on_redis():
    from django.core.cache import caches

    backend = caches["default"]
    key = f"lua-test:{id(backend)}"
    counted = scripts._script(backend, scripts.COUNT)(
        *scripts.COUNT.bind(counters=[key, key + ":b"], steps=[2, 30, 5, 0])
    )
    assert [int(v) for v in counted] == [2, 5]
    assert 0 < adapters.redis_client(backend).ttl(key) <= 30
