"""The composition root: the one place that picks the concrete adapters and wires them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware

from .api.errors import EXCEPTION_HANDLERS
from .api.guard import UrlTextGuard
from .api.metrics import metrics_routes
from .api.routes import routes
from .blobs.filestore import FileBlobStore
from .domain import faults
from .domain.enums import UpdateStatus
from .domain.inputs import InputLimits
from .domain.logins import LoginPolicy
from .domain.orchestration import PackRate
from .listeners import Listeners, StartupError, port_of
from .metrics import Metrics
from .pubsub import PostgresPubSub, asyncpg_dsn
from .secret_file import write_owner_only
from .services.auth import Authenticator, signing_secret
from .services.bootstrap import (
    DEMO_PROFILE,
    DEMO_TENANT,
    ensure_admin,
    has_password,
    seed_demo,
)
from .services.bootstrap import reset_password as bootstrap_reset_password
from .services.changes import ChangeFeed
from .services.container import Services
from .services.login_guard import LoginGuard
from .services.passwords import Passwords
from .services.queue_worker import QueueWorker, StuckPolicy
from .sessions import SessionRegistry
from .settings import Settings
from .storage.database import create_engine, migrate
from .storage.repositories import SqlStorage
from .throttled_log import ThrottledLog
from .transports import http as http_device_api
from .transports.coap import CoapServer
from .transports.http_chunks import ChunkFastPath
from .transports.mqtt.connection import Limits
from .transports.mqtt.server import MqttServer
from .web.pages import console_routes

log = logging.getLogger("otakit")
PASSWORD_FILE = "admin-password.txt"
# How long shutdown waits for MQTT devices to take their DISCONNECT before closing anyway.
MQTT_GOODBYE_SECONDS = 0.5


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class StartupReport:
    """What a newcomer must see once: where a generated password is, the demo's devices."""

    admin_email: str | None = None
    password_file: Path | None = None
    demo_devices: tuple[tuple[str, str], ...] = ()


def input_limits(settings: Settings) -> InputLimits:
    return InputLimits(
        max_json_body=settings.max_json_body,
        max_json_depth=settings.max_json_depth,
        max_keys=settings.max_telemetry_keys,
        max_name_length=settings.max_name_length,
    )


def create_app(settings: Settings) -> Starlette:
    """The web application; `start` gives it its services."""
    app = Starlette(
        routes=[
            *routes(http_device_api.OPERATIONS, input_limits(settings)),
            *metrics_routes(settings.metrics),
            *console_routes(),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        # The guard first, then a device's chunk download, answered before the routing.
        middleware=[Middleware(UrlTextGuard), Middleware(ChunkFastPath)],
    )
    app.state.metrics = Metrics()  # Prometheus's /metrics (api/metrics.py)
    return app


class RunningServer:
    """Everything a started server holds, over the listeners bound before it."""

    def __init__(
        self,
        app: Starlette,
        settings: Settings,
        listeners: Listeners,
        sessions: SessionRegistry,
        mqtt: MqttServer,
        resources: contextlib.AsyncExitStack,
    ) -> None:
        self.app, self.settings, self.listeners = app, settings, listeners
        self.report = StartupReport()
        self._sessions, self._mqtt, self._resources = sessions, mqtt, resources

    async def shut_down(self) -> None:
        """The devices' side of stopping: open long polls answered, MQTT devices told."""
        self._sessions.close()
        await self._mqtt.shut_down(MQTT_GOODBYE_SECONDS)

    async def close(self) -> None:
        await self._resources.aclose()

    def banner(self) -> str:
        settings, listeners, report = self.settings, self.listeners, self.report
        host = settings.host
        lines = [f"otakit is serving HTTP on {host}:{port_of(listeners.http)}"]
        if listeners.mqtt is not None:
            lines.append(f"MQTT on {host}:{port_of(listeners.mqtt)}")
        if listeners.coap is not None:
            lines.append(f"CoAP on {host}:{port_of(listeners.coap)} (UDP)")
        if report.admin_email:
            lines.append(f"System administrator created: {report.admin_email}")
            if report.password_file:
                lines.append(
                    f"  its generated password is in {report.password_file} "
                    "(readable only by its owner)"
                )
        if report.demo_devices:
            lines.append(
                "Demo accounts: sysadmin@thingsboard.org/sysadmin, "
                "tenant@thingsboard.org/tenant, customer@thingsboard.org/customer"
            )
            lines.append(
                f'Demo devices of tenant "{DEMO_TENANT}", devices on profile "{DEMO_PROFILE}":'
            )
            lines += [
                f"  device {name!r}: access token {token}" for name, token in report.demo_devices
            ]
        return "\n".join(lines)


async def start(settings: Settings, listeners: Listeners) -> RunningServer:
    """Opens the data directory and the database, creates what a first start creates and
    starts the device transports on `listeners`. Raises StartupError, with nothing left open,
    when the environment does not allow it."""
    async with contextlib.AsyncExitStack() as resources:
        server = await _start(settings, listeners, resources)
        server._resources = resources.pop_all()
        return server
    raise AssertionError("unreachable")  # for mypy: the stack does not swallow exceptions


async def _start(
    settings: Settings, listeners: Listeners, resources: contextlib.AsyncExitStack
) -> RunningServer:
    open_data_dir(settings.data_dir)
    faults.enable(set(settings.inject_faults))
    database_url = settings.effective_database_url
    engine = create_engine(database_url)
    resources.push_async_callback(engine.dispose)
    changes = ChangeFeed()  # committed update-state changes, for the live dashboard
    storage = SqlStorage(engine, on_commit=changes.committed)
    clock = SystemClock()
    passwords = Passwords(settings.password_hash_threads, settings.login_max_waiting)
    sessions = SessionRegistry()
    pubsub = (
        PostgresPubSub(asyncpg_dsn(database_url), sessions, changes)
        if database_url.startswith("postgresql")
        else None
    )
    try:
        await migrate(engine)
        secret = await signing_secret(storage, settings.jwt_secret)
        if pubsub is not None:
            await pubsub.start()
            resources.push_async_callback(pubsub.close)
    except (OSError, TimeoutError, SQLAlchemyError, asyncpg.PostgresError) as error:
        raise StartupError(database_problem(settings, error)) from None
    authenticator = Authenticator(
        storage,
        clock,
        secret,
        settings.jwt_token_expiration,
        settings.jwt_refresh_token_expiration,
        passwords,
        LoginGuard(
            storage,
            clock,
            LoginPolicy(
                max_failures_per_account=settings.login_max_failures,
                max_failures_per_address=settings.login_max_failures_per_address,
                lockout_ms=settings.login_lockout_seconds * 1000,
            ),
            trust_ms=settings.jwt_refresh_token_expiration * 1000,
        ),
    )
    services = Services.build(
        storage,
        FileBlobStore(settings.blob_dir),
        clock,
        authenticator,
        pubsub or sessions,
        settings.max_package_size,
        input_limits(settings),
        changes,
        settings.console_push_interval_ms,
    )
    app = create_app(settings)
    app.state.sessions = sessions
    app.state.services = services
    metrics: Metrics = app.state.metrics
    mqtt = MqttServer(
        services.device_api,
        sessions,
        Limits(
            max_chunk_size=settings.mqtt_max_chunk_size,
            max_packet_size=settings.mqtt_max_packet_size,
            max_subscriptions=settings.mqtt_max_subscriptions,
            max_downloads=settings.mqtt_max_downloads,
        ),
        max_connections=settings.mqtt_max_connections,
        warnings=ThrottledLog(logging.getLogger("otaserver.mqtt"), settings.log_repeat_seconds),
        metrics=metrics,
    )
    server = RunningServer(app, settings, listeners, sessions, mqtt, resources)
    server.report = await _bootstrap(settings, storage, clock, passwords)
    if listeners.mqtt is not None:
        await mqtt.start(listeners.mqtt)
        resources.push_async_callback(mqtt.close)
    if listeners.coap is not None:
        coap = CoapServer(
            services.device_api,
            sessions,
            ThrottledLog(logging.getLogger("otaserver.coap"), settings.log_repeat_seconds),
            metrics=metrics,
        )
        await coap.start(listeners.coap)
        resources.push_async_callback(coap.close)
    worker = QueueWorker(
        storage,
        clock,
        services.orchestrator,
        PackRate(settings.queue_pack_size, settings.queue_pack_interval_ms),
        StuckPolicy(
            {UpdateStatus(name): seconds for name, seconds in settings.ota_stuck_timeouts.items()},
            settings.ota_max_retries,
        ),
        on_notified=metrics.notified,
        batch_size=settings.queue_batch_size,
    )
    worker_task = asyncio.create_task(worker.run())
    resources.push_async_callback(_cancelled, worker_task)
    return server


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def open_data_dir(path: Path) -> None:
    """The data directory, made if missing and tried for writing; StartupError if it cannot be."""
    where = f"data directory {path} (--data-dir)"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StartupError(f"{where} is a file, not a directory") from None
    except NotADirectoryError:
        raise StartupError(f"{where} cannot be made: a part of its path is a file") from None
    except OSError as error:
        raise StartupError(f"{where} cannot be made: {error.strerror or error}") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise StartupError(f"{where} is not writable: {error.strerror or error}") from None


def database_problem(settings: Settings, error: BaseException) -> str:
    if settings.database_url:
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        where = f"database {url} (--database-url)"
    else:
        where = f"database {settings.data_dir / 'otakit.db'} (--data-dir)"
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    reason = " ".join(str(cause).split()) or type(cause).__name__
    return f"{where} cannot be used: {reason}"


def keep_password_file(data_dir: Path) -> tuple[Path, Callable[[str], None]]:
    """Where a generated password goes, and what writes it there (owner-only, atomically)."""
    path = (data_dir / PASSWORD_FILE).resolve()
    return path, lambda password: write_owner_only(path, password + "\n")


async def _bootstrap(
    settings: Settings, storage: SqlStorage, clock: SystemClock, passwords: Passwords
) -> StartupReport:
    if settings.demo:
        return StartupReport(demo_devices=tuple(await seed_demo(storage, clock, passwords)))
    path, keep = keep_password_file(settings.data_dir)
    email, password = settings.admin_email, settings.admin_password
    created = await ensure_admin(storage, clock, passwords, email, password, keep)
    if created is not None:
        return StartupReport(admin_email=email, password_file=path if created.generated else None)
    if password and not await has_password(storage, passwords, email, password):
        # Applying it would undo, at every restart, a password changed since; saying so
        # beats ignoring it in silence.
        log.warning(
            "--admin-password (OTAKIT_ADMIN_PASSWORD) is only used for a new administrator, "
            "and one exists; to change a password run: otakit admin reset-password "
            "--email %s --password ... with the same --data-dir or --database-url",
            email,
        )
    return StartupReport()


async def reset_password(
    settings: Settings, email: str | None, password: str
) -> tuple[str, Path | None]:
    """`otakit admin reset-password`: the account's email, and the file of a generated password."""
    if not settings.database_url and not (settings.data_dir / "otakit.db").is_file():
        raise StartupError(
            f"there is no database in {settings.data_dir} (--data-dir): "
            "is it the directory `otakit serve` uses?"
        )
    open_data_dir(settings.data_dir)
    engine = create_engine(settings.effective_database_url)
    try:
        try:
            await migrate(engine)
        except (OSError, TimeoutError, SQLAlchemyError, asyncpg.PostgresError) as error:
            raise StartupError(database_problem(settings, error)) from None
        path, keep = keep_password_file(settings.data_dir)
        account, generated = await bootstrap_reset_password(
            SqlStorage(engine), Passwords(), email, password, keep
        )
    finally:
        await engine.dispose()
    return account, path if generated else None
