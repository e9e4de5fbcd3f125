#!/usr/bin/env python3
"""Drive tb-mqtt-client's MQTT firmware update (TBDeviceMqttClient.get_firmware_update).

Runs inside the venv where tb-mqtt-client (1.13.x) is installed.  Uses only the
SDK's public API.  The device must already have the shared attributes
fw_title, fw_version, fw_size, fw_checksum, fw_checksum_algorithm set on the
server.  The SDK writes the firmware to ./<fw_title> (relative to cwd), so this
script chdirs into --out-dir first.

Prints exactly one JSON line on stdout:
  {"state": ..., "file": ..., "title": ..., "version": ..., "states": [...], "error": ...}
Exit code 0 on success (fw_state UPDATED and file saved), 1 otherwise.
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
import time


def _sanitize_sys_path():
    # The SDK ships top-level modules named `utils`, `sdk_utils`, ... ; a file with the
    # same name next to this script would shadow them.  Drop the script dir from sys.path.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]


def _import_sdk():
    # On import, sdk_utils runs `pip install mmh3` if mmh3 is missing and pip writes to
    # fd 1.  Keep stdout clean for the JSON result: point fd 1 at stderr during import.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        import tb_device_mqtt
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return tb_device_mqtt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--token", required=True, help="device access token (MQTT username)")
    ap.add_argument(
        "--chunk-size",
        type=int,
        default=0,
        help="bytes per chunk; 0 = whole file in one response (SDK default)",
    )
    ap.add_argument("--out-dir", required=True, help="directory the SDK saves <fw_title> into")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall timeout, seconds")
    ap.add_argument("--client-id", default="", help="MQTT client id (SDK default: empty)")
    ap.add_argument(
        "--settle",
        type=float,
        default=0.5,
        help="seconds to wait after CONNACK so the SDK's on-connect SUBSCRIBEs go first",
    )
    ap.add_argument(
        "--grace",
        type=float,
        default=1.0,
        help="seconds to wait after UPDATED before DISCONNECT (lets the telemetry flush)",
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
        "states": [],
        "error": None,
    }

    def finish(ok):
        print(json.dumps(result), flush=True)
        return 0 if ok else 1

    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)

    _sanitize_sys_path()
    try:
        sdk = _import_sdk()
    except Exception as exc:  # pragma: no cover
        result["error"] = f"import failed: {exc!r}"
        return finish(False)

    os.chdir(out_dir)  # SDK: open(fw_title, "wb") relative to cwd

    client = sdk.TBDeviceMqttClient(
        args.host,
        port=args.port,
        username=args.token,
        client_id=args.client_id,
        chunk_size=args.chunk_size,
    )
    try:
        client.connect()
    except Exception as exc:
        result["error"] = f"connect failed: {exc!r}"
        client.stop()
        return finish(False)

    while not client.is_connected():
        if time.monotonic() > deadline:
            result["error"] = "timeout waiting for CONNACK"
            client.stop()
            return finish(False)
        time.sleep(0.05)
    time.sleep(args.settle)

    # get_firmware_update() blocks (send_telemetry waits forever while disconnected),
    # so run it in a daemon thread to keep our own timeout authoritative.
    starter_error = []

    def _start():
        try:
            client.get_firmware_update()
        except Exception as exc:  # pragma: no cover
            starter_error.append(repr(exc))

    threading.Thread(target=_start, name="get_firmware_update", daemon=True).start()

    ok = False
    while True:
        info = client.current_firmware_info  # public dict updated by update_firmware_info()
        state = info.get("fw_state")
        if not result["states"] or result["states"][-1] != state:
            result["states"].append(state)
        result["state"] = state
        if starter_error:
            result["error"] = "get_firmware_update raised: " + starter_error[0]
            break
        if state == "UPDATED":
            ok = True
            break
        if state == "FAILED":  # SDK would re-request and retry forever; fail fast
            result["error"] = info.get("fw_error") or "fw_state FAILED"
            break
        if time.monotonic() > deadline:
            result["error"] = f"timeout in state {state}"
            break
        time.sleep(0.02)

    info = client.current_firmware_info
    if ok:
        result["title"] = info.get("current_fw_title")
        result["version"] = info.get("current_fw_version")
        path = os.path.join(out_dir, str(result["title"]))
        result["file"] = path
        if not os.path.isfile(path):
            ok = False
            result["error"] = "SDK reported UPDATED but file not found"
        time.sleep(args.grace)  # UPDATED telemetry is queued to paho just after the dict changes
    else:
        fw = getattr(client, "firmware_info", None) or {}
        result["title"] = fw.get("fw_title")
        result["version"] = fw.get("fw_version")

    with contextlib.suppress(Exception):
        client.disconnect()  # DISCONNECT is queued after the pending PUBLISHes
    client.stop()
    return finish(ok)


if __name__ == "__main__":
    sys.exit(main())
