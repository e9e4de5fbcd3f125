#!/usr/bin/env python3
"""Drive tb-mqtt-client's HTTP firmware update (TBHTTPDevice.get_firmware_update).

Runs inside the venv where tb-mqtt-client (1.13.x) is installed.  Uses only the
SDK's public API.  The device must already have the shared attributes
fw_title, fw_version, fw_size, fw_checksum, fw_checksum_algorithm set.  The SDK
writes the firmware to ./<fw_title> (relative to cwd), so this script chdirs
into --out-dir first.

get_firmware_update() is synchronous and returns None; the SDK's final
{"fw_state": "UPDATED", current_fw_*} telemetry is only *queued* for the
background publish worker, so after it returns we wait --drain seconds.
Success = the call returned without exception, the SDK's own state reached
"UPDATING" (the last state kept on current_firmware_info; UPDATED is posted from
a separate dict right after the file write) and the file exists.

Prints exactly one JSON line on stdout:
  {"state": ..., "file": ..., "title": ..., "version": ..., "sdk_state": ..., "error": ...}
Exit code 0 on success, 1 otherwise.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time


def _sanitize_sys_path():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]


def _import_sdk():
    # tb_device_http imports sdk_utils, which may `pip install mmh3` (output on fd 1).
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        import tb_device_http
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return tb_device_http


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--host",
        default="127.0.0.1",
        help="hostname, or a full base URL such as https://tb.example.com",
    )
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--token", required=True, help="device access token")
    ap.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="bytes per chunk; 0 = whole file in one request (SDK default)",
    )
    ap.add_argument("--out-dir", required=True, help="directory the SDK saves <fw_title> into")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall timeout, seconds")
    ap.add_argument(
        "--drain",
        type=float,
        default=3.0,
        help="seconds to let the SDK's publish worker POST the queued UPDATED telemetry",
    )
    ap.add_argument("--log-level", default="WARNING")
    args = ap.parse_args()

    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.log_level.upper(), logging.WARNING),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    deadline = time.monotonic() + args.timeout
    result = {
        "state": None,
        "file": None,
        "title": None,
        "version": None,
        "sdk_state": None,
        "error": None,
    }

    def finish(ok):
        print(json.dumps(result), flush=True)
        return 0 if ok else 1

    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    base_url = args.host if "://" in args.host else f"http://{args.host}:{args.port}"

    _sanitize_sys_path()
    try:
        sdk = _import_sdk()
    except Exception as exc:  # pragma: no cover
        result["error"] = f"import failed: {exc!r}"
        return finish(False)

    os.chdir(out_dir)  # SDK: open(fw_title, "wb") relative to cwd
    before = set(os.listdir(out_dir))

    device = sdk.TBHTTPDevice(base_url, args.token, chunk_size=args.chunk_size)
    try:
        # POSTs {} to /api/v1/<token>/telemetry and starts the publish worker
        # (without it, the SDK's queued fw_state telemetry is never sent).
        connected = device.connect()
    except Exception as exc:
        result["error"] = f"connect failed: {exc!r}"
        return finish(False)
    if not connected:
        result["error"] = "connect failed (test_connection returned False)"
        return finish(False)

    # The SDK's GETs have no timeout; run in a daemon thread so --timeout holds.
    outcome = {}

    def _run():
        try:
            device.get_firmware_update()
            outcome["done"] = True
        except Exception as exc:
            outcome["error"] = repr(exc)

    worker = threading.Thread(target=_run, name="get_firmware_update", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))

    sdk_state = device.current_firmware_info.get("fw_state")  # public dict
    result["sdk_state"] = sdk_state
    result["state"] = sdk_state

    if worker.is_alive():
        result["error"] = f"timeout in state {sdk_state}"
        return finish(False)
    if "error" in outcome:
        result["error"] = "get_firmware_update raised: " + outcome["error"]
        return finish(False)

    new_files = sorted(f for f in set(os.listdir(out_dir)) - before if os.path.isfile(f))

    # Title/version are not exposed by the SDK after the update; ask via the SDK's public
    # request_attributes() (best effort: it sends shared_keys=..., which ThingsBoard ignores
    # and then returns all attributes).
    try:
        attrs = device.request_attributes(shared_keys=["fw_title", "fw_version"]) or {}
        shared = attrs.get("shared", {}) if isinstance(attrs, dict) else {}
        result["title"] = shared.get("fw_title")
        result["version"] = shared.get("fw_version")
    except Exception as exc:
        logging.getLogger("drive_http").warning("request_attributes failed: %r", exc)

    if result["title"] is None and len(new_files) == 1:
        result["title"] = new_files[0]
    if result["title"] is not None:
        result["file"] = os.path.join(out_dir, str(result["title"]))
    elif new_files:
        result["file"] = os.path.join(out_dir, new_files[0])

    if sdk_state is None:
        result["error"] = (
            "SDK found no new firmware (fw_title/fw_version equal to current or missing)"
        )
        return finish(False)
    if sdk_state != "UPDATING":
        result["error"] = f"SDK stopped in state {sdk_state}"
        return finish(False)
    if not result["file"] or not os.path.isfile(result["file"]):
        result["error"] = "SDK finished but the firmware file was not found"
        return finish(False)

    # The SDK's last act was queueing UPDATED with current_fw_title and current_fw_version.
    time.sleep(max(0.0, min(args.drain, deadline - time.monotonic())))
    result["state"] = "UPDATED"
    return finish(True)


if __name__ == "__main__":
    sys.exit(main())
