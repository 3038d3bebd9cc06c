"""A file's kind (in-network, table of contents, provider reference) and the local copies of the files a
table of contents or a provider reference names by URL. Nothing is downloaded.

A table of contents lists a reporting entity's in-network files by URL (``reporting_structure[]
.in_network_files[].location``); a 1.x provider reference may give its groups by the URL of a
provider-reference file. Such a file is read when a copy lies beside the file that names it under the
URL's file name (``in-network-file-123456.json``, or the same with ``.gz`` added or removed), or was
given with the import under that name; a location that is a local path is read from there (relative to
the naming file's folder). Any other location is reported as not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipelines.market.source import LocalFile
from pipelines.market.stream import root_keys, walk

IN_NETWORK, TABLE_OF_CONTENTS, PROVIDER_REFERENCE = "in-network", "table of contents", "provider reference"


def file_kind(file: LocalFile) -> str:
    """What ``file`` is, from the root keys at its start; a file whose first keys say nothing is taken for an
    in-network file (its import refuses it if it is not one)."""
    keys = set(root_keys(file))
    if keys & {"in_network", "provider_references"}:
        return IN_NETWORK
    if "reporting_structure" in keys:
        return TABLE_OF_CONTENTS
    if "provider_groups" in keys:
        return PROVIDER_REFERENCE
    return IN_NETWORK


def file_name(location: str) -> str:
    """The file name a location ends with (a URL's last path segment, unquoted)."""
    parsed = urlparse(location)
    path = parsed.path if parsed.scheme else location
    return Path(unquote(path)).name


def local_copy(location: str, folder: Path, given: dict[str, Path] | None = None) -> Path | None:
    """The local file holding what ``location`` names: a local path as it is (relative to ``folder``); for
    a URL, a file given under its name (``given``: name -> path) or one beside ``folder``."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):  # a plain path or a file:// URL: only inside the TOC's own folder
        path = Path(unquote(parsed.path if parsed.scheme else location))
        path = path if path.is_absolute() else folder / path
        try:  # a location is text from the file: never a path outside its folder (.., absolute, a link out)
            path.resolve().relative_to(Path(folder).resolve())
        except (ValueError, OSError):
            return None
        return path if path.is_file() else None
    name = file_name(location)
    if not name:
        return None
    names = [name, name + ".gz", name.removesuffix(".gz")]
    for candidate in names:
        if given and candidate in given:
            return given[candidate]
    for candidate in names:
        path = folder / candidate
        if path.is_file():
            return path
    return None


@dataclass
class Contents:
    """What a table of contents lists: its in-network file locations (each once, in order), which of them
    have a local copy, which do not."""

    path: Path
    locations: list[str] = field(default_factory=list)
    found: dict[str, Path] = field(default_factory=dict)
    not_read: list[str] = field(default_factory=list)


def read_contents(file: LocalFile, given: dict[str, Path] | None = None) -> Contents:
    """The in-network files ``file`` (a table of contents) lists, and their local copies."""
    out = Contents(path=file.path)
    seen: set[str] = set()

    def on_item(key: str, index: int, entry) -> None:
        if key != "reporting_structure" or type(entry) is not dict:
            return
        for listed in entry.get("in_network_files") or []:
            location = listed.get("location") if type(listed) is dict else None
            if isinstance(location, str) and location.strip() and location.strip() not in seen:
                seen.add(location.strip())
                out.locations.append(location.strip())

    walk(file, on_item)
    for location in out.locations:
        copy = local_copy(location, file.path.parent, given)
        if copy is None:
            out.not_read.append(location)
        else:
            out.found[location] = copy
    return out
