"""Log lines operators can grep and parse, and the money log that uses them.

Money events (a ledger transaction posted, a gift sent, a recharge's or a payout's change of
status) are written to the `giftcast.money` logger, one record per event, once the database
transaction that made them has committed: a movement rolled back is never logged as done.
The record's message is the event's name and its fields ride on the record as `money`
(`extra={"money": {...}}`), so each formatter renders them its own way:

- KeyValueFormatter (development): the usual line, then `key=value` for each field;
- JSONFormatter (production): one JSON object a line, with timestamp, level, logger,
  message and the fields at the top level.

Both keep a record to one line (a traceback, if any, follows on the lines after).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping

from django.db import transaction

MONEY_LOGGER = "giftcast.money"
money_logger = logging.getLogger(MONEY_LOGGER)


def money_log(event: str, fields: Mapping[str, object]) -> None:
    """Log one money event now (the caller knows it is committed)."""
    money_logger.info(event, extra={"money": {"event": event, **fields}})


def money_log_on_commit(event: str, fields: Mapping[str, object]) -> None:
    """Log one money event when the current database transaction commits (at once outside
    one); nothing if it rolls back, savepoints included."""
    fields = dict(fields)  # as it is now, not as the caller's dict may become
    transaction.on_commit(lambda: money_log(event, fields), robust=True)


# ----------------------------------------------------------------------------- formatters

# Values written without quotes in a key=value line; anything else goes as JSON.
_BARE = re.compile(r"[A-Za-z0-9_.:@/+#-]+\Z")


def _value(value: object) -> str:
    if isinstance(value, str) and _BARE.match(value):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def _fields(record: logging.LogRecord) -> Mapping[str, object]:
    fields = getattr(record, "money", None)
    return fields if isinstance(fields, Mapping) else {}


class KeyValueFormatter(logging.Formatter):
    """The configured format, then the record's money fields as ` key=value` pairs (the
    event's name is the message already, so it is not repeated)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        pairs = [
            f"{key}={_value(value)}"
            for key, value in _fields(record).items()
            if not (key == "event" and value == record.message)
        ]
        return " ".join([line, *pairs])


class JSONFormatter(logging.Formatter):
    """One JSON object a line: timestamp (UTC, ISO 8601), level, logger, message, the money
    fields, and the traceback as `exc_info` when there is one. A field never replaces one of
    the first four; it would be kept as `field.<name>`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            data[f"field.{key}" if key in data else key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str)
