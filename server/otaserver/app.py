"""The composition root: the one place that picks the concrete adapters and wires them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

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
from .metrics import Metrics
from .pubsub import PostgresPubSub, asyncpg_dsn
from .services.auth import Authenticator, signing_secret
from .services.bootstrap import ensure_admin, seed_demo
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
from .transports.mqtt.connection import Limits
from .transports.mqtt.server import MqttServer

log = logging.getLogger("otakit")


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class StartupReport:
    """What a newcomer must see once: generated credentials and demo tokens."""

    admin_email: str | None = None
    admin_password: str | None = None
    demo_devices: tuple[tuple[str, str], ...] = ()


def input_limits(settings: Settings) -> InputLimits:
    return InputLimits(
        max_json_body=settings.max_json_body,
        max_json_depth=settings.max_json_depth,
        max_keys=settings.max_telemetry_keys,
        max_name_length=settings.max_name_length,
    )


def create_app(settings: Settings) -> Starlette:
    metrics = Metrics()  # Prometheus's /metrics (api/metrics.py)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        faults.enable(set(settings.inject_faults))
        engine = create_engine(settings.effective_database_url)
        await migrate(engine)
        storage = SqlStorage(engine)
        blobs = FileBlobStore(settings.blob_dir)
        clock = SystemClock()
        passwords = Passwords(settings.password_hash_threads, settings.login_max_waiting)
        authenticator = Authenticator(
            storage,
            clock,
            await signing_secret(storage, settings.jwt_secret),
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
        sessions = SessionRegistry()
        app.state.sessions = sessions
        database_url = settings.effective_database_url
        pubsub = (
            PostgresPubSub(asyncpg_dsn(database_url), sessions)
            if database_url.startswith("postgresql")
            else None
        )
        if pubsub is not None:
            await pubsub.start()
        services = Services.build(
            storage,
            blobs,
            clock,
            authenticator,
            pubsub or sessions,
            settings.max_package_size,
            input_limits(settings),
        )
        app.state.services = services
        report = await _bootstrap(settings, storage, clock, passwords)
        mqtt = MqttServer(
            app.state.services.device_api,
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
        if settings.mqtt_port:
            await mqtt.start(settings.host, settings.mqtt_port)
        coap = CoapServer(
            app.state.services.device_api,
            sessions,
            ThrottledLog(logging.getLogger("otaserver.coap"), settings.log_repeat_seconds),
            metrics=metrics,
        )
        if settings.coap_port:
            await coap.start(settings.host, settings.coap_port)
        worker = QueueWorker(
            storage,
            clock,
            services.orchestrator,
            PackRate(settings.queue_pack_size, settings.queue_pack_interval_ms),
            StuckPolicy(
                {
                    UpdateStatus(name): seconds
                    for name, seconds in settings.ota_stuck_timeouts.items()
                },
                settings.ota_max_retries,
            ),
            on_notified=metrics.notified,
        )
        worker_task = asyncio.create_task(worker.run())
        _print_report(report, settings)
        try:
            yield
        finally:
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
            await mqtt.close()
            await coap.close()
            if pubsub is not None:
                await pubsub.close()
            await engine.dispose()

    app = Starlette(
        routes=[
            *routes(http_device_api.OPERATIONS, input_limits(settings)),
            *metrics_routes(settings.metrics),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(UrlTextGuard)],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    return app


async def _bootstrap(
    settings: Settings, storage: SqlStorage, clock: SystemClock, passwords: Passwords
) -> StartupReport:
    if settings.demo:
        return StartupReport(demo_devices=tuple(await seed_demo(storage, clock, passwords)))
    created = await ensure_admin(
        storage, clock, passwords, settings.admin_email, settings.admin_password
    )
    if created is None:
        return StartupReport()
    return StartupReport(admin_email=created.email, admin_password=created.password)


def _print_report(report: StartupReport, settings: Settings) -> None:
    lines = [f"otakit is serving HTTP on {settings.host}:{settings.http_port}"]
    if settings.mqtt_port:
        lines.append(f"MQTT on {settings.host}:{settings.mqtt_port}")
    if settings.coap_port:
        lines.append(f"CoAP on {settings.host}:{settings.coap_port} (UDP)")
    if report.admin_email:
        lines.append(f"System administrator created: {report.admin_email}")
        if report.admin_password:
            lines.append(f"  generated password (shown once): {report.admin_password}")
    if report.demo_devices:
        lines.append(
            "Demo accounts: sysadmin@thingsboard.org/sysadmin, "
            "tenant@thingsboard.org/tenant, customer@thingsboard.org/customer"
        )
        lines += [f"  device {name!r}: access token {token}" for name, token in report.demo_devices]
    print("\n".join(lines), flush=True)
