"""Settings: one TOML file plus CONGREGATION_* environment overrides, read into one frozen object."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONFIG_FILE = "congregation.toml"
DB_FILE = "congregation.sqlite3"
ENV_PREFIX = "CONGREGATION_"
HANDLE_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,29}$")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""


@dataclass(frozen=True)
class Config:
    base_url: str
    name: str
    data_dir: Path
    group_handle: str = "group"
    summary: str = ""
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    # "manual": follows of the Group wait for approval; "auto": accepted at once.
    public_follows: str = "manual"
    # Tests and the local demo open loopback; a real node refuses non-global addresses.
    allow_private_addresses: bool = False
    # Every GET of an actor or object must be signed (as GoToSocial always does).
    authorized_fetch: bool = False
    # Accept-but-don't-process: the inbox worker stays idle (maintenance, crash tests).
    process_inbox: bool = True
    max_inbox_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    date_skew_seconds: int = 3600
    key_refetch_seconds: int = 60
    fetch_max_bytes: int = 1024 * 1024
    fetch_connect_timeout: float = 5.0
    fetch_total_timeout: float = 30.0
    fetch_max_redirects: int = 3
    page_size: int = 20
    # Inbox POSTs per verified sending host: sustained per second, and the burst allowed above that.
    inbox_rate_per_host: float = 20.0
    inbox_burst_per_host: int = 300
    # The same, shared by every host under one registrable domain (wildcard DNS hands out names for free); never
    # less than the per-host one. Also for unknown keys fetched, per key host and per domain.
    inbox_rate_per_domain: float = 100.0
    inbox_burst_per_domain: int = 1500
    # Deliveries in flight to one host at once.
    delivery_per_host: int = 4
    # Whose posts to the Group are accepted and re-shared: "followers" (approved) or "members" only.
    group_accepts_from: str = "followers"
    # Design for smallness: at soft_size members everyone is told it is time to think about splitting;
    # at hard_size no new invitation is issued or accepted.
    soft_size: int = 100
    hard_size: int = 150
    # Who may invite: "partners" (the microsolidarity default) or any "members".
    who_invites: str = "partners"
    # Partners who must endorse an invitation before it works; the inviting Partner is the first.
    invitation_endorsements: int = 1
    invitation_days: int = 14
    # The most people in one crew: a crew is a few who can hold each other (microsolidarity: 3 to 8).
    crew_max: int = 8
    session_days: int = 30
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR networks): behind one, every
    # request comes from the proxy's address, and the sign-in throttle needs the client's. Empty: none.
    trusted_proxies: str = ""
    log_level: str = "INFO"
    # "json": one JSON object per line on stderr, for log collectors; "text": for people.
    log_format: str = "text"
    # One INFO line per HTTP request (method, path, status, duration, request id).
    log_requests: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    @property
    def host(self) -> str:
        """The authority (host[:port]) of the base URL: what WebFinger acct: names and Host must match."""
        return urlsplit(self.base_url).netloc

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).netloc


_FIELDS = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("data_dir", "extra")}
_CHOICES = {"public_follows": ("manual", "auto"), "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
            "log_format": ("text", "json"),
            "group_accepts_from": ("followers", "members"), "who_invites": ("partners", "members")}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"setting {name}: expected true or false, got {value!r}")
    if kind == "int":
        if isinstance(value, bool):
            raise ConfigError(f"setting {name}: expected a whole number, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name}: expected a whole number, got {value!r}") from None
        if number < 0:
            raise ConfigError(f"setting {name}: must not be negative, got {number}")
        return number
    if kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name}: expected a number, got {value!r}") from None
        if not number > 0:
            raise ConfigError(f"setting {name}: must be positive, got {value!r}")
        return number
    if not isinstance(value, str):
        raise ConfigError(f"setting {name}: expected text, got {value!r}")
    return value


def validate_base_url(url: str) -> str:
    """Return the base URL without a trailing slash, or raise naming the setting."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"setting base_url: expected an http(s) URL such as https://example.org, got {url!r}")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ConfigError(f"setting base_url: must be scheme://host[:port] with no path, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"setting base_url: bad port in {url!r}") from None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _validate(values: dict[str, Any]) -> None:
    for name, choices in _CHOICES.items():
        if name in values and values[name] not in choices:
            raise ConfigError(f"setting {name}: expected one of {', '.join(choices)}, got {values[name]!r}")
    if not HANDLE_RE.match(values.get("group_handle", "group")):
        raise ConfigError(
            f"setting group_handle: use 1-30 lowercase letters, digits, _ . -, got {values['group_handle']!r}"
        )
    if not str(values.get("name", "")).strip():
        raise ConfigError("setting name: must not be empty")
    if values.get("soft_size", 100) > values.get("hard_size", 150):
        raise ConfigError(f"setting soft_size: must not exceed hard_size ({values.get('hard_size', 150)}),"
                          f" got {values['soft_size']}")
    for name in ("hard_size", "invitation_endorsements", "invitation_days", "session_days"):
        if name in values and values[name] < 1:
            raise ConfigError(f"setting {name}: must be at least 1, got {values[name]}")
    if values.get("crew_max", 8) < 3:
        raise ConfigError(f"setting crew_max: must be at least 3, got {values['crew_max']}")
    if values.get("trusted_proxies"):
        proxy_networks(values["trusted_proxies"])  # raises naming the setting
    if values.get("listen_port", 0) > 65535:
        raise ConfigError(f"setting listen_port: must be at most 65535, got {values['listen_port']}")


@functools.cache
def proxy_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The trusted_proxies setting as networks ("10.0.0.0/8, 127.0.0.1")."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"setting trusted_proxies: {part!r} is not an address or network such as "
                              "172.16.0.0/12") from None
    return tuple(networks)


def load(data_dir: Path | str, env: dict[str, str] | None = None, **overrides: Any) -> Config:
    """Read DATA_DIR/congregation.toml, then CONGREGATION_* variables, then keyword overrides."""
    env = os.environ if env is None else env
    data_dir = Path(data_dir)
    path = data_dir / CONFIG_FILE
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} does not exist (run `congregation init` first)")
    if not path.is_file():
        raise ConfigError(f"{path} does not exist (run `congregation init` first)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    table = raw.get("congregation", raw)
    values: dict[str, Any] = {}
    for name, value in table.items():
        if name not in _FIELDS:
            raise ConfigError(f"setting {name}: unknown setting in {path}")
        values[name] = _coerce(name, value)
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in (ENV_PREFIX + "DATA",):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in _FIELDS:
            raise ConfigError(f"setting {key}: unknown environment setting")
        values[name] = _coerce(name, value)
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value)
    for required in ("base_url", "name"):
        if required not in values:
            raise ConfigError(f"setting {required}: missing from {path}")
    values["base_url"] = validate_base_url(values["base_url"])
    _validate(values)
    return Config(data_dir=data_dir, **values)


# What the Congregation may change by a consent proposal (action change_setting); the rest is the operator's.
DECIDABLE = ("soft_size", "hard_size", "who_invites", "invitation_endorsements", "invitation_days", "crew_max",
             "public_follows", "group_accepts_from")


def with_decided(config: Config | LiveConfig, decided: dict[str, Any]) -> Config:
    """CONFIG with DECIDED settings in place of its own, each coerced, and the whole checked as `load` checks it."""
    if isinstance(config, LiveConfig):
        config = config.current
    changes = {}
    for name, value in decided.items():
        if name not in DECIDABLE:
            known = "" if name in _FIELDS else "unknown, and "
            raise ConfigError(f"setting {name}: {known}not one the Congregation decides"
                              f" (it decides {', '.join(DECIDABLE)})")
        changes[name] = _coerce(name, value)
    values = {name: getattr(config, name) for name in _FIELDS}
    _validate({**values, **changes})
    return dataclasses.replace(config, **changes)


class LiveConfig:
    """The node's settings while it runs: reads go to the current Config, which a decision can swap for a new one
    (every component holding this object sees the change at once, without a restart)."""

    def __init__(self, config: Config):
        self.current = config
        self.decided: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        if name in ("current", "decided"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.current, name)

    def apply(self, decided: dict[str, str]) -> None:
        """Put decided settings in place; raises ConfigError naming a setting that does not fit, changing nothing."""
        if not decided:  # keep the very object: nothing was decided
            return
        self.current = with_decided(self.current, decided)
        self.decided = {**self.decided, **{name: str(getattr(self.current, name)) for name in decided}}


def render_toml(values: dict[str, Any]) -> str:
    """Write settings as a [congregation] table (strings, ints, floats and booleans only)."""
    lines = ["# Congregation node settings. Any of them can be overridden by CONGREGATION_<NAME>.", "",
             "[congregation]"]
    for name, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{name} = {value}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            lines.append(f'{name} = "{escaped}"')
    return "\n".join(lines) + "\n"
