"""Typed settings for the appliance.

Precedence, lowest first: built-in defaults < TOML file (``--config``/``PICHR_CONFIG``)
< environment variables ``PICHR_<SECTION>__<KEY>`` < ``-s section.key=value`` overrides.
Any string value may instead be ``{"$env": "NAME"}`` or ``{"$file": "/path"}`` so that
secrets stay out of the config file.

Settings are plain pydantic models: they pickle, which matters because Sanic builds the
app again inside every worker process from these settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_DATA_DIR = "./pichr-data"
ENV_PREFIX = "PICHR_"
# Environment variables that are command options, not settings.
RESERVED_ENV = {"PICHR_DATA_DIR", "PICHR_CONFIG", "PICHR_LOAD_PLUGINS", "PICHR_TRACE_PLUGINS"}


class ConfigError(Exception):
    """A configuration problem, phrased for an operator (names the key)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    public_url: str = ""
    workers: int = Field(1, ge=1, le=64)
    trusted_proxies: list[str] = []
    cors_origins: list[str] = []
    max_json_bytes: int = Field(1_048_576, ge=1024)
    request_timeout: int = Field(60, ge=1)
    # The whole request head (request line and headers) within this many seconds of
    # its first byte, and a new connection's first byte within it (slow-header clients).
    header_timeout: int = Field(20, ge=1)
    # A handler silent this long (nothing sent) is answered 503 response_timeout.
    response_timeout: int = Field(60, ge=1)
    # On SIGTERM, requests in flight may finish within this many seconds; then what is
    # still running is answered 503 shutting_down (docs/reliability.md "Shutdown").
    # Keep it below the service manager's stop timeout (systemd TimeoutStopSec=30).
    graceful_timeout: float = Field(15.0, ge=0, le=600)
    # Open connections per worker: from one address (0: no cap; trusted proxies are
    # exempt) and in all (0: the descriptor limit less a reserve). Over: 503, closed.
    max_connections_per_address: int = Field(256, ge=0)
    max_connections: int = Field(0, ge=0)
    # Connections the kernel queues before a worker accepts them. Sanic's default of 100
    # overflowed when 128 clients connected at once: the rest had their SYN dropped and
    # retried after 1 s and 3 s (bench/run_all.py p99-128). Capped by net.core.somaxconn.
    backlog: int = Field(1024, ge=1, le=65535)
    # The workers' event loop. asyncio's own by default: with uvloop, one worker sending
    # 514 KB answers to 128 connections kept some of them waiting 1.3 s at p99 (wrk
    # time-outs over 2 s), against 80-100 ms with asyncio at the same throughput
    # (bench/run_all.py p99-128, docs/benchmarks.md).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    log_level: str = "INFO"
    # Validate every JSON answer against its declared model (tests; costs CPU).
    check_responses: bool = False
    # Behind nginx/Caddy: answer /i/ with a header naming the object file and an empty
    # body, so the proxy sends the bytes with sendfile ("" off, "x-accel-redirect" for
    # nginx: prefix + key, "x-sendfile" for Caddy/Apache: the absolute path). Local
    # storage only (docs/operations.md "Reverse proxy: sendfile").
    accel_redirect: Literal["", "x-accel-redirect", "x-sendfile"] = ""
    accel_prefix: str = Field("/_pichr_objects/", pattern=r"^/")


class DatabaseSettings(_Section):
    url: str = ""
    busy_timeout_ms: int = Field(5000, ge=0)
    # Extra engine options that a database plugin understands (pool sizes, ...).
    options: dict[str, Any] = {}


class StorageSettings(BaseModel):
    # Backend plugins read their own keys from this section, so unknown keys are allowed.
    model_config = ConfigDict(extra="allow", validate_assignment=True)
    backend: str = "local"
    path: str = ""
    cdn_base_url: str = ""
    # Uploads answer 507 once they would leave less free space than this on the data
    # directory's (and local storage's) disk; 0 disables (docs/reliability.md).
    min_free_bytes: int = Field(1024**3, ge=0)
    # Local storage fsyncs each object and its folder before the database marks it
    # ready (docs/reliability.md "Commit protocol"); false trades durability for speed.
    fsync: bool = True


MIN_SECRET_BYTES = 32  # HS256 keys: RFC 7518 wants at least the hash size


def check_secret(value: str) -> str:
    """An empty secret (one is generated in ``secret.key``) or at least 32 bytes."""
    if value and len(value.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"must be at least {MIN_SECRET_BYTES} bytes (it signs sessions and URLs); "
            "leave it empty to have one generated, or use: openssl rand -base64 48"
        )
    return value


ANON_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
MIN_ANON_KEY = 16


def check_anon_key(value: str) -> str:
    """An empty anon key (one is generated in ``supabase-anon.key``) or 16+ characters
    of ``[A-Za-z0-9._-]`` (it travels in an ``apikey`` header and in web pages)."""
    if value and (len(value) < MIN_ANON_KEY or not set(value) <= ANON_KEY_CHARS):
        raise ValueError(
            f"must be at least {MIN_ANON_KEY} characters of letters, digits, '.', '_' or '-'; "
            "leave it empty to have one generated"
        )
    return value


class AuthSettings(_Section):
    secret: str = ""
    # The key supabase-js clients pass to createClient() for /auth/v1 (docs/supabase-js.md).
    # Not a secret: it names this server to the client and grants nothing by itself.
    supabase_anon_key: str = ""
    allow_signup: bool = True
    access_token_ttl: int = Field(3600, ge=30)
    refresh_token_ttl: int = Field(30 * 24 * 3600, ge=60)
    default_plan: str = "free"
    # Argon2id cost. The defaults follow RFC 9106's second recommendation; tests lower them.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)

    @field_validator("secret")
    @classmethod
    def _secret_long_enough(cls, value: str) -> str:
        return check_secret(value)

    @field_validator("supabase_anon_key")
    @classmethod
    def _anon_key_shape(cls, value: str) -> str:
        return check_anon_key(value)


class UploadSettings(_Section):
    allow_anonymous: bool = False
    # formats.py knows these (docs/formats.md); the list may only narrow them.
    accepted_types: list[str] = [
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif",
        "image/heic", "image/heif", "image/tiff", "image/bmp",
    ]  # fmt: skip
    upload_token_ttl: int = Field(3600, ge=60)
    strip_location: bool = True
    max_pixels: int = Field(100_000_000, ge=1)
    max_metadata_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)
    max_buffered_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024)
    # Inspect HEIC/HEIF uploads in a child process: a decoder crash refuses the upload
    # instead of killing the worker (isolation.py).
    isolate_heif: bool = True
    stale_upload_hours: int = Field(24, ge=1)
    sweep_interval: int = Field(300, ge=5)
    # A request receiving an upload holds it this long past its last progress; a
    # process that dies mid-upload frees it for a retry after at most this.
    receive_lease_seconds: int = Field(60, ge=2)


class ImageSettings(_Section):
    base_url: str = ""
    variant_sizes: list[int] = [64, 128, 256, 320, 480, 640, 800, 1024, 1280, 1600, 1920]
    variant_quality: int = Field(82, ge=1, le=100)
    # format=auto and the renditions of HEIC/TIFF pick the first of these that the
    # client's Accept names; else JPEG (PNG for PNG/GIF sources).
    auto_formats: list[Literal["avif", "webp"]] = ["avif", "webp"]
    # Animated GIF/WebP/APNG sources keep their animation in WebP variants while the
    # variant has at most this many frames and this many pixels in all frames together
    # (it is built in memory: 4 bytes a pixel); beyond, the variant is the first frame.
    animation_max_frames: int = Field(300, ge=1)
    animation_max_pixels: int = Field(32_000_000, ge=1)
    # Variants being made at once per worker (each holds a decoded image: bounded
    # memory), and requests for new variants that may wait for a slot; beyond, 503
    # ``overloaded`` with Retry-After rather than a pile-up that ends in timeouts.
    variant_workers: int = Field(2, ge=1)
    variant_queue: int = Field(8, ge=0)
    # Disk budget of all variants (least recently used evicted, made again on demand),
    # and how often a worker writes a served variant's last use (and re-checks it).
    variant_cache_max_bytes: int = Field(1024**3, ge=0)
    variant_touch_seconds: float = Field(60.0, gt=0)
    count_flush_interval: float = Field(5.0, gt=0)
    share_max_seconds: int = Field(30 * 24 * 3600, ge=60)
    # How long browsers and shared caches may keep public/unlisted bytes before they
    # revalidate (ETag, 304): the longest a cache can serve a file made private,
    # age-restricted or removed.
    cache_max_age: int = Field(300, ge=0)


class PlanSettings(_Section):
    uploads_per_hour: int = Field(ge=0)
    requests_per_hour: int = Field(ge=0)
    quota_bytes: int | None = Field(default=None, ge=0)
    max_file_bytes: int = Field(ge=1)


MB = 1000 * 1000
GB = 1000 * MB
DEFAULT_PLANS = {
    "anonymous": PlanSettings(
        uploads_per_hour=5, requests_per_hour=100, quota_bytes=None, max_file_bytes=10 * MB
    ),
    "free": PlanSettings(
        uploads_per_hour=20, requests_per_hour=1000, quota_bytes=5 * GB, max_file_bytes=50 * MB
    ),
    "pro": PlanSettings(
        uploads_per_hour=100, requests_per_hour=10000, quota_bytes=100 * GB, max_file_bytes=200 * MB
    ),
    "enterprise": PlanSettings(
        uploads_per_hour=1000,
        requests_per_hour=100000,
        quota_bytes=1000 * GB,
        max_file_bytes=1000 * MB,
    ),
}


class ModerationSettings(_Section):
    age_restrict_threshold: float = Field(0.8, ge=0, le=1)
    queue_threshold: float = Field(0.9, ge=0, le=1)
    removed_retention_days: int = Field(30, ge=0)
    # What an anonymous `csam` report does: "hold" hides the target at once (until a
    # moderator decides); "queue" only puts it first in the queue. Reports by signed-in
    # accounts always hold.
    anonymous_csam: Literal["hold", "queue"] = "hold"


class RateLimitSettings(_Section):
    enabled: bool = True
    # Which registered store keeps the counts ("local": a SQLite file shared by the
    # workers of one machine; plugins add others, e.g. Redis for several machines).
    store: str = "local"
    # Development: clients on loopback (127.0.0.1, ::1) are not held to the plans'
    # hourly API-call and upload limits (sign-in guards still apply). Off in production:
    # behind a proxy on the same machine every client would look local.
    exempt_loopback: bool = False
    login_per_ip_per_hour: int = Field(60, ge=1)
    login_failures_per_account: int = Field(10, ge=1)
    signup_per_ip_per_hour: int = Field(20, ge=1)
    # Moderation reports per hour per client address (anonymous) or account, and the
    # stricter limit on `csam` reports (each one can hide content at once).
    reports_per_hour: int = Field(30, ge=1)
    csam_reports_per_hour: int = Field(3, ge=1)


class PluginSettings(_Section):
    dir: str = ""
    disabled: list[str] = []


class WebSettings(_Section):
    """The browser interface (``pichr_appliance/web``; docs/web.md)."""

    enabled: bool = True
    # The public feed at "/"; off, "/" is the sign-in page.
    public_feed: bool = True
    site_name: str = Field("Pichr", min_length=1, max_length=60)
    # Files above this size go through the multipart API from the upload page, in parts
    # of part_size bytes, so that a dropped connection or a reload resumes.
    multipart_threshold: int = Field(16 * 1024 * 1024, ge=5 * 1024 * 1024)
    part_size: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024)


class Settings(_Section):
    """Every setting of the appliance; see ``config.example.toml``."""

    data_dir: str = DEFAULT_DATA_DIR
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    auth: AuthSettings = AuthSettings()
    uploads: UploadSettings = UploadSettings()
    images: ImageSettings = ImageSettings()
    plans: dict[str, PlanSettings] = Field(default_factory=lambda: dict(DEFAULT_PLANS))
    moderation: ModerationSettings = ModerationSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    web: WebSettings = WebSettings()
    plugins: PluginSettings = PluginSettings()
    # Free-form sections for plugins: [plugin.<name>] in TOML.
    plugin: dict[str, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _accel_needs_local_files(self) -> Settings:
        # The proxy reads the object from disk: only local storage has files to name.
        # A ConfigError passes through pydantic unwrapped: one plain line for the operator.
        if self.server.accel_redirect and self.storage.backend != "local":
            raise ConfigError(
                f"server.accel_redirect = {self.server.accel_redirect!r} needs "
                f'storage.backend = "local" (objects as files), not {self.storage.backend!r}'
            )
        return self

    @field_validator("plans", mode="before")
    @classmethod
    def _plans_complete(cls, plans: Any) -> Any:
        # A partial override of a built-in plan (PICHR_PLANS__FREE__QUOTA_BYTES=...)
        # keeps that plan's other limits; missing plans keep their defaults.
        if not isinstance(plans, dict):
            return plans
        merged: dict[str, Any] = {k: v.model_dump() for k, v in DEFAULT_PLANS.items()}
        for name, plan in plans.items():
            if isinstance(plan, dict) and name in merged:
                merged[name] = {**merged[name], **plan}
            else:
                merged[name] = plan
        return merged

    # Derived values -----------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = self.server.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.server.port}"

    @property
    def image_base_url(self) -> str:
        return (self.images.base_url or f"{self.public_url}/i").rstrip("/")

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite://{self.data_path / 'pichr.sqlite3'}"

    @property
    def storage_path(self) -> Path:
        return (
            Path(self.storage.path).expanduser().resolve()
            if self.storage.path
            else (self.data_path / "storage")
        )

    def plan(self, name: str | None) -> PlanSettings:
        """The limits of plan ``name`` (unknown plans fall back to the default plan)."""
        return self.plans.get(name or "anonymous") or self.plans[self.auth.default_plan]

    def plugin_config(self, name: str) -> dict[str, Any]:
        """The ``[plugin.<name>]`` section, with ``$env``/``$file`` secrets resolved."""
        return self.plugin.get(name, {})


SECRET_KEYS = {"secret", "password", "secret_key", "access_key", "token", "url"}


def _resolve_secrets(value: Any, where: str, env: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$env"}:
            name = value["$env"]
            if name not in env:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return env[name]
        if set(value) == {"$file"}:
            path = Path(value["$file"]).expanduser()
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"{where}: cannot read secret file {path}: {exc.strerror}"
                ) from None
        return {
            k: _resolve_secrets(v, f"{where}.{k}" if where else k, env) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_secrets(v, where, env) for v in value]
    return value


def _parse_scalar(raw: str) -> Any:
    """Parse an environment or command-line value: JSON/TOML-ish literals, else the string."""
    text = raw.strip()
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _set_path(tree: dict[str, Any], path: list[str], value: Any, origin: str) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {'.'.join(path)} cannot be set below a plain value")
        node = child
    node[path[-1]] = value


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "$env" not in value:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Settings:
    """Build the effective settings; raises ConfigError naming the key on bad input."""
    env = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    config_file = config_file or env.get("PICHR_CONFIG")
    if config_file:
        path = Path(config_file).expanduser()
        try:
            tree = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        _set_path(tree, path, _parse_scalar(raw), f"environment variable {name}")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        _set_path(tree, key.strip().split("."), _parse_scalar(raw), f"override {key}")
    if extra:
        tree = _deep_merge(tree, extra)
    if data_dir is not None:
        tree["data_dir"] = str(data_dir)
    elif env.get("PICHR_DATA_DIR"):
        tree["data_dir"] = env["PICHR_DATA_DIR"]
    tree = _resolve_secrets(tree, "", env)
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """From now on this process creates files 0600 and directories 0700 (the commands
    call it first: the database, sessions, key hashes and private images are the
    service user's alone, whatever umask the service manager gave)."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


def private_file(path: Path) -> None:
    """Create ``path`` empty and mode 0600 unless it exists (SQLite then makes its
    -wal/-shm files with the same mode), under any umask."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def ensure_data_dir(settings: Settings) -> Path:
    """Create the data directory (0700), its SQLite database file (0600), its signing
    secret and its supabase-js anon key (both 0600) on first start; return the path."""
    path = settings.data_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        url = settings.database_url
        if url.startswith("sqlite://") and ":memory:" not in url:
            db = Path(url[len("sqlite://") :].split("?", 1)[0])
            if db.parent.is_dir():
                private_file(db)
    except OSError as exc:
        raise ConfigError(f"data_dir: cannot create {path}: {exc.strerror}") from None
    if not settings.auth.secret:
        secret_file = path / "secret.key"
        secret = _generated_once(secret_file, lambda: secrets.token_urlsafe(48))
        try:
            settings.auth.secret = check_secret(secret)
        except ValueError as exc:
            raise ConfigError(f"{secret_file}: {exc}") from None
    fill_anon_key(settings)
    return path


ANON_KEY_FILE = "supabase-anon.key"


def fill_anon_key(settings: Settings) -> str:
    """``auth.supabase_anon_key``, generated once into ``<data_dir>/supabase-anon.key``
    (0600, like the signing secret) when the settings leave it empty."""
    if settings.auth.supabase_anon_key:
        return settings.auth.supabase_anon_key
    key_file = settings.data_path / ANON_KEY_FILE
    try:
        settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = _generated_once(key_file, lambda: "anon_" + secrets.token_urlsafe(32))
    except OSError as exc:
        raise ConfigError(f"data_dir: cannot create {key_file}: {exc.strerror}") from None
    try:
        settings.auth.supabase_anon_key = check_anon_key(key)
    except ValueError as exc:
        raise ConfigError(f"{key_file}: {exc}") from None
    return key


def _generated_once(path: Path, make: Any) -> str:
    """The stripped content of ``path``, written first (0600) with ``make()`` when it does
    not exist. O_EXCL: two processes starting at once must not both write one."""
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
        except FileExistsError:
            pass
    return path.read_text().strip()


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as a dict with secrets replaced by ``***`` (for ``config show``)."""

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if isinstance(node, str) and node and key in SECRET_KEYS:
            if key == "url" and "@" not in node:
                return node
            return "***"
        return node

    return walk(settings.model_dump(mode="json"))
