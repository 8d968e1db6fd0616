"""The object layout of the S3 store: every key the store reads or writes is built here.

Under the configured prefix ``<p>``::

    <p>requests/<id>.json                      the request document (the truth)
    <p>events/<id>/<seq:012d>.json             one object per event, created with If-None-Match
    <p>artifacts/<id>/<name>                   artifact bytes (sha256 in the object metadata)
    <p>records/<namespace>/<encoded key>       a keyed record (JSON, version inside)
    <p>index/all/<entry>                       one listing entry per request
    <p>index/status/<status>/<entry>           status markers (may be stale: see store.py)
    <p>index/shard/applied/<shard key><entry>  applied requests by drift shard hash (empty)
    <p>meta/shard-index-ready                  every applied request has its shard marker
    <p>index/due/<namespace>/<due>~<key>       due-time entries of records (the outbox), empty

An index ``<entry>`` is ``<inverted created time><inverted id>~<env>~<module>~<project>~<author>``.
S3 lists keys in ascending byte order, so inverting the time (``10**19 - microseconds``) and the
id (each character mapped to its mirror in the id alphabet, terminated by ``~``) makes a plain
ascending listing come out newest first with ties broken by id descending: exactly the
``(created_at, id)`` descending order of the contract. Keyset pagination is then S3's own
``StartAfter``. The filter fields ride in the key so that filtering needs only LIST calls; a field
too long for S3's 1,024-byte key limit is written as ``*`` ("unknown, check the document").

A shard marker's name starts with the request's 16-digit drift shard key
(:func:`tfpilot_core.stores.rows.shard_key`) instead of the time, so that the applied requests of
one drift shard, a range of that key, are one listing from the range's start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from tfpilot_core.models import Request
from tfpilot_core.stores.rows import shard_key

#: Digits of the shard key that starts a shard marker's name.
_SHARD_DIGITS = 16

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Times are inverted against this so that newer sorts first; 20 digits fit every datetime.
_TIME_BASE = 10**19
_TIME_DIGITS = 20

#: The characters of request ids (``NAME_PATTERN``) in ASCII order; an id is inverted by
#: mapping each character to its mirror image in this alphabet.
_ID_ALPHABET = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_MIRROR = {c: _ID_ALPHABET[len(_ID_ALPHABET) - 1 - i] for i, c in enumerate(_ID_ALPHABET)}
#: Ends an inverted id and separates fields; it sorts after every character of the alphabet and of
#: a percent-encoded field, which is what makes inverted ids order correctly when one id is a
#: prefix of another.
SEPARATOR = "~"
#: A field whose encoded form is longer than this is indexed as unknown (``*``).
_FIELD_MAX = 150
UNKNOWN = "*"

#: Record keys encode to at most this many characters before they are shortened with a hash.
_RECORD_NAME_MAX = 700


def to_us(value: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC (the domain's clock)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def from_us(value: int) -> datetime:
    """The datetime of ``value`` microseconds since the epoch (UTC)."""
    return _EPOCH + timedelta(microseconds=value)


def _encode_field(value: str) -> str:
    # quote() keeps "~" unescaped (it is unreserved in URLs) but here it is the separator.
    encoded = quote(value, safe="").replace("~", "%7E")
    return encoded if len(encoded) <= _FIELD_MAX else UNKNOWN


def invert_id(request_id: str) -> str:
    """The id mapped so that ascending order of the result is descending order of ids."""
    return "".join(_MIRROR[c] for c in request_id)


def time_part(created_us: int) -> str:
    """The fixed-width inverted time that starts every index entry."""
    return f"{_TIME_BASE - created_us:0{_TIME_DIGITS}d}"


@dataclass(frozen=True)
class IndexEntry:
    """What an index entry's key says about a request (``None`` fields are unknown)."""

    created_us: int
    request_id: str
    environment: str | None
    module: str | None
    project: str | None
    author: str | None

    def sort_key(self) -> tuple[int, str]:
        """The contract's order (``created_at``, ``id``), for comparisons with a cursor."""
        return (self.created_us, self.request_id)


def entry_name(request: Request) -> str:
    """The index entry of ``request`` (the part of the key after the index prefix)."""
    placement = request.placement
    fields = (placement.environment, placement.module, placement.project, request.created_by)
    return (
        time_part(to_us(request.created_at))
        + invert_id(request.id)
        + SEPARATOR
        + SEPARATOR.join(_encode_field(f) for f in fields)
    )


def position_after(created_us: int, request_id: str) -> str:
    """An index name that sorts after every entry of ``(created_us, request_id)`` and before
    every entry that comes later in newest-first order: a ``StartAfter`` for a cursor."""
    # Entries of this request are "<time><inverted id>~<fields>" and every field character
    # sorts before "~", so "<time><inverted id>~~" is above all of them.
    return time_part(created_us) + invert_id(request_id) + SEPARATOR + SEPARATOR


def position_before_time(created_us: int) -> str:
    """A ``StartAfter`` that skips every entry created at or after ``created_us``."""
    # Entries created earlier have a larger inverted time, hence a larger fixed-width prefix.
    return time_part(created_us - 1)


def parse_entry(name: str) -> IndexEntry | None:
    """The fields of an index entry name, or ``None`` for a name this layout did not write."""
    try:
        inverted_time = int(name[:_TIME_DIGITS])
        rest = name[_TIME_DIGITS:]
        parts = rest.split(SEPARATOR)
        if len(parts) != 5:
            return None
        request_id = invert_id(parts[0])
        fields = [None if p == UNKNOWN else unquote(p) for p in parts[1:]]
    except (ValueError, KeyError):
        return None
    return IndexEntry(_TIME_BASE - inverted_time, request_id, *fields)


def shard_name(request_id: str, entry: str) -> str:
    """The name of ``entry``'s shard marker (the part after ``index/shard/<status>/``)."""
    return shard_key(request_id) + entry


def parse_shard_name(name: str) -> tuple[str, IndexEntry] | None:
    """The shard key and the entry of a shard marker's name (``None``: not this layout's)."""
    entry = parse_entry(name[_SHARD_DIGITS:])
    if entry is None or name[:_SHARD_DIGITS] != shard_key(entry.request_id):
        return None
    return name[:_SHARD_DIGITS], entry


#: Digits of the due time (microseconds since the epoch) in a due-index name.
_DUE_DIGITS = 20


def due_name(at: datetime, key: str) -> str:
    """The name of the due entry ``(at, key)``: fixed-width time first, so that ascending key
    order (what S3 lists) is due order, then the record's encoded key."""
    return f"{to_us(at):0{_DUE_DIGITS}d}{SEPARATOR}{record_name(key)}"


def record_name(key: str) -> str:
    """The object name of a record key: percent-encoded, shortened with a hash when long.

    Encoding each character on its own keeps prefixes: a key that starts with ``p`` has a name
    that starts with ``record_name_prefix(p)``, so ``list_records`` is a LIST by prefix. A
    shortened name contains ``~`` (never left unescaped in a full name), so names do not clash.
    """
    encoded = quote(key, safe="").replace("~", "%7E")
    if len(encoded) <= _RECORD_NAME_MAX:
        return encoded
    cut = _cut(encoded, _RECORD_NAME_MAX - 80)
    return f"{cut}~{hashlib.sha256(key.encode()).hexdigest()}"


def record_name_prefix(prefix: str) -> str:
    """The LIST prefix that finds every record whose key starts with ``prefix``."""
    encoded = quote(prefix, safe="").replace("~", "%7E")
    # Shortened names keep at least their first _RECORD_NAME_MAX - 80 characters.
    return _cut(encoded, _RECORD_NAME_MAX - 80)


def _cut(encoded: str, limit: int) -> str:
    """``encoded`` cut to at most ``limit`` characters, never inside a ``%XX`` escape."""
    if len(encoded) <= limit:
        return encoded
    cut = encoded[:limit]
    percent = cut.rfind("%", max(0, limit - 2))
    return cut[:percent] if percent != -1 else cut
