"""The rooms' counters and Lua scripts on Redis (or the process's own cache without
it): one round trip for several counters, scripts called by SHA on the sync client or on
the event loop's own async client."""

from __future__ import annotations

import asyncio
import functools
import re
import weakref
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio
from django.core.cache.backends.redis import RedisCache

from . import adapters

_cache = adapters.shared_cache


def _incr(key: str, by: int = 1, *, timeout: int | None = None) -> int:
    """Add `by` to a counter in the cache, made (with `timeout`) on first use: one round trip
    once the counter exists."""
    for _ in range(3):
        try:
            return _cache().incr(key, by)
        except ValueError:  # missing (or just expired): make it, then count
            _cache().add(key, 0, timeout=timeout)
    raise RuntimeError(f"cache counter {key} keeps vanishing")


# Lua scripts live in livestreams/lua, one file each, loaded by name. A script's header
# names its keys and arguments (`--! keys: …`, `--! args: …`; a last name `...name` takes the
# rest as a list) and the libraries it includes (`--! uses: …`); the loader binds each name
# to a Lua local of the same name, and callers pass them by name (LuaScript.bind), so
# nothing counts KEYS or ARGV positions.
LUA_DIR = Path(__file__).parent.parent / "lua"


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str
    keys: tuple[str, ...]
    args: tuple[str, ...]

    def bind(self, **named) -> tuple[list, list]:
        """Keys and arguments by name, in the order Redis gives them to the script."""
        wanted = {name.removeprefix("...") for name in self.keys + self.args}
        if set(named) != wanted:
            raise TypeError(f"{self.name}.lua takes {sorted(wanted)}, not {sorted(named)}")
        return _positions(self.keys, named), _positions(self.args, named)


def _positions(names: tuple[str, ...], named: dict) -> list:
    out = []
    for name in names:
        if name.startswith("..."):
            out.extend(named[name[3:]])
        else:
            out.append(named[name])
    return out


def _lua_locals(table: str, names: tuple[str, ...]) -> str:
    lines = []
    for i, name in enumerate(names, start=1):
        if name.startswith("..."):
            rest = name[3:]
            lines.append(
                f"local {rest} = {{}} for i = {i}, #{table} do {rest}[#{rest} + 1] = {table}[i] end"
            )
        else:
            lines.append(f"local {name} = {table}[{i}]")
    return "\n".join(lines)


@functools.cache
def lua(name: str) -> LuaScript:
    """The script livestreams/lua/<name>.lua, its libraries first, its names bound."""
    text = (LUA_DIR / f"{name}.lua").read_text()
    header = dict(re.findall(r"^--! (\w+):[ \t]*(.*)$", text, flags=re.MULTILINE))
    keys, args = tuple(header.get("keys", "").split()), tuple(header.get("args", "").split())
    if any(n.startswith("...") for n in keys[:-1] + args[:-1]):
        raise ValueError(f"{name}.lua: only the last key or argument can take the rest")
    parts = [lua(library).source for library in header.get("uses", "").split()]
    parts += [_lua_locals("KEYS", keys), _lua_locals("ARGV", args), text]
    return LuaScript(name, "\n".join(part for part in parts if part), keys, args)


COUNT, BROADCAST, GIFT, SEED, RELABEL, PRESENCE = (
    lua(name) for name in ("count", "broadcast", "gift", "seed", "relabel", "presence")
)


def _count(*counters: tuple[str, int, int | None]) -> list[int]:
    """Add to cache counters, each (key, by, timeout on first use); their new values.

    On Redis (Django's RedisCache) one script call does them all; Django's own incr costs
    two round trips a counter, and a gift moves three. Elsewhere, one _incr each.
    """
    backend = _cache()
    if not isinstance(backend, RedisCache):
        return [_incr(key, by, timeout=timeout) for key, by, timeout in counters]
    return [int(value) for value in _script(backend, COUNT)(*_count_call(backend, counters))]


async def _acount(*counters: tuple[str, int, int | None]) -> list[int]:
    """_count for async code on Redis, awaited on the event loop's own Redis client."""
    backend = _cache()
    answer = await _ascript(backend, COUNT)(*_count_call(backend, counters))
    return [int(value) for value in answer]


def _count_call(backend: RedisCache, counters) -> tuple[list[str], list]:
    return COUNT.bind(
        counters=[backend.make_and_validate_key(key) for key, _, _ in counters],
        steps=[arg for _, by, timeout in counters for arg in (by, timeout or 0)],
    )


def _script(backend: RedisCache, lua: LuaScript):
    """A Lua script on `backend`'s Redis, called by its SHA (EVALSHA, loaded again by redis-py
    should Redis have lost it) as `script(keys, args)`. Made once per backend: Django's
    RedisCache builds a new client object on every call (about 170 µs of Python), and EVAL
    would send the source every time. Clients are thread-safe over their pool."""
    scripts = backend.__dict__.setdefault("_giftcast_scripts", {})
    script = scripts.get(lua.name)
    if script is None:
        client = adapters.redis_client(backend)
        script = scripts[lua.name] = client.register_script(lua.source)
    return script


ASYNC_REDIS_CONNECTIONS = 32
_aclients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> (client, scripts)


def _ascript(backend: RedisCache, lua: LuaScript):
    """_script for async code: the script on a redis.asyncio client of the running event
    loop's own (to the cache's server), awaited there with no hop to a worker thread."""
    client, scripts = _aclient(backend)
    script = scripts.get(lua.name)
    if script is None:
        script = scripts[lua.name] = client.register_script(lua.source)
    return script


def _aclient(backend: RedisCache):
    """The running event loop's redis.asyncio client to the cache's server, and its scripts."""
    loop = asyncio.get_running_loop()
    client, scripts = _aclients.get(loop) or (None, None)
    if client is None:
        # A bounded pool that makes callers wait their turn: a join storm awaits hundreds of
        # presence calls at once, and redis-py's default pool refuses past its limit.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            adapters.redis_url(backend), max_connections=ASYNC_REDIS_CONNECTIONS, timeout=20,
            **adapters.async_pool_options(),
        )  # fmt: skip
        client = redis.asyncio.Redis(connection_pool=pool)
        client, scripts = _aclients[loop] = (client, {})
    return client, scripts
