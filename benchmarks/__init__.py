"""Benchmarks (`make bench`): speed targets are checked here, never by timed unit tests."""

import os

# polars, once this harness imports it, writes its allocator defaults into _RJEM_MALLOC_CONF, and
# commands started from here would inherit them as if the user had set them (`underpay ingest`
# then keeps them instead of choosing its own). The commands measured get the environment as it
# was before polars was imported: see ``user_env``.
_ALLOCATOR_AT_START = os.environ.get("_RJEM_MALLOC_CONF")


def user_env() -> dict[str, str]:
    """The environment for a measured command: this one, with _RJEM_MALLOC_CONF as the user had it."""
    env = dict(os.environ)
    env.pop("_RJEM_MALLOC_CONF", None)
    if _ALLOCATOR_AT_START is not None:
        env["_RJEM_MALLOC_CONF"] = _ALLOCATOR_AT_START
    return env
