# MicroPython manifest of otakit's device client: what an MQTT device runs, and what it needs from
# micropython-lib (by package name, never copied here). MicroPython's build reads this file with
# its own functions (metadata, require, package). To freeze it into a firmware, include it from a
# board manifest (client/README.md shows how).

metadata(description="otakit's device client: ThingsBoard OTA updates over MQTT", version="0.1.0")

require("umqtt.simple")
# SHA-384 and SHA-512 for packages that use them: MicroPython's own hashlib has SHA256 (and MD5
# on some ports). These two packages make `import hashlib` a package that adds both, and
# otaclient.checksums takes hashlib.sha384 and hashlib.sha512 from it, so the client's own
# portable copy, digest_sha512.py, is left out of this manifest.
require("hashlib-sha512")
require("hashlib-sha384")

package(
    "otaclient",
    files=[
        "__init__.py",
        "protocol.py",
        "checksums.py",
        "updater.py",
        "agent.py",
        "net_mqtt.py",
        "store_file.py",
        # Portable digests for what MicroPython has no module for (MD5 on some ports, Murmur3),
        # imported only when a package uses that algorithm.
        "digest_md5.py",
        "digest_murmur3.py",
    ],
)
