"""The knobs that bend the world: faults, latency, config, the clock, the signing keys."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..api.common import emulator_of
from ..clock import iso
from ..errors import WebexError
from ..faults import FaultRule, Latency
from ..state import CONFIG_JSON_NAMES, EmulatorConfig
from .common import number, read_body


async def put_faults(request: Request) -> Response:
    body = await read_body(request)
    raw_rules = body.get("rules")
    if not isinstance(raw_rules, list):
        raise WebexError(400, "rules must be a list")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise WebexError(400, "seed must be an integer")
    rules = [FaultRule.from_json(index, raw) for index, raw in enumerate(raw_rules)]
    emulator = emulator_of(request)
    emulator.faults.set_rules(rules, seed)
    return JSONResponse(emulator.faults.to_json())


async def get_faults(request: Request) -> Response:
    return JSONResponse(emulator_of(request).faults.to_json())


async def delete_faults(request: Request) -> Response:
    emulator = emulator_of(request)
    emulator.faults.clear()
    return JSONResponse(emulator.faults.to_json())


async def put_latency(request: Request) -> Response:
    body = await read_body(request)
    ms = number(body, "ms", minimum=0)
    jitter = number(body, "jitterMs", minimum=0) if body.get("jitterMs") is not None else 0.0
    emulator = emulator_of(request)
    emulator.latency = Latency(ms, jitter)
    return JSONResponse(emulator.latency.to_json())


async def get_latency(request: Request) -> Response:
    return JSONResponse(emulator_of(request).latency.to_json())


async def put_config(request: Request) -> Response:
    """Partial update of the settings: only the fields present change."""
    body = await read_body(request)
    unknown = sorted(set(body) - set(CONFIG_JSON_NAMES))
    if unknown:
        raise WebexError(400, f"Unknown config field(s): {', '.join(unknown)}")
    emulator = emulator_of(request)
    values = emulator.store.config.to_json()
    for name, value in body.items():
        default = values[name]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise WebexError(400, f"{name} must be a boolean")
        elif isinstance(default, int):
            value = int(number(body, name, minimum=1))
        else:
            value = number(body, name, minimum=0)
        values[name] = value
    config = EmulatorConfig(**{CONFIG_JSON_NAMES[name]: value for name, value in values.items()})
    emulator.store.save_config(config)
    return JSONResponse(config.to_json())


async def get_config(request: Request) -> Response:
    return JSONResponse(emulator_of(request).store.config.to_json())


def clock_json(request: Request) -> dict[str, Any]:
    store = emulator_of(request).store
    now = store.now()
    return {"now": iso(now), "epochSeconds": now, "offsetSeconds": store.clock.offset}


async def advance_clock(request: Request) -> Response:
    body = await read_body(request)
    emulator_of(request).store.advance_clock(number(body, "advanceSeconds"))
    return JSONResponse(clock_json(request))


async def get_clock(request: Request) -> Response:
    return JSONResponse(clock_json(request))


def keys_json(request: Request) -> dict[str, Any]:
    keys = emulator_of(request).keys
    return {"kid": keys.current.kid, "previousKid": keys.previous.kid if keys.previous else None}


async def rotate_keys(request: Request) -> Response:
    emulator_of(request).keys.rotate()
    return JSONResponse(keys_json(request))


async def get_keys(request: Request) -> Response:
    return JSONResponse(keys_json(request))
