"""Spec §5, and the checksum parts of §4.5 and §7: the text of `fw_checksum`."""

from otaconformance.rules import KIND_TYPES, Rule

RULES = (
    Rule(
        "checksum.digest-hex",
        "§5",
        "MD5, SHA256, SHA384 and SHA512 texts are the lower-case hex digest, no prefix",
        KIND_TYPES,
    ),
    Rule(
        "checksum.crc32-le",
        "§5",
        "CRC32 text is the lower-case hex of the 32-bit value's little-endian bytes "
        "(b'123456789' gives 2639f4cb)",
        KIND_TYPES,
    ),
    Rule(
        "checksum.murmur3-le",
        "§5",
        "MURMUR3_32 text is the little-endian bytes of the x86_32 hash (seed 0); MURMUR3_128 is "
        "h1 then h2 of the x64_128 hash, each little-endian",
        KIND_TYPES,
    ),
    Rule(
        "checksum.zero-padded",
        "§5",
        "32-bit texts keep their leading zeros: always 8 hex digits",
        KIND_TYPES,
    ),
    Rule(
        "checksum.supplied-accepted",
        "§4.5",
        "a supplied checksum in the §5 text is accepted and kept",
        KIND_TYPES,
    ),
    Rule(
        "checksum.supplied-trimmed",
        "§4.5 (otakit extension)",
        "a supplied checksum is read trimmed and in any case: upper-case hex and spaces around "
        "it are accepted, as long as the whole text is at most 1020 characters",
        KIND_TYPES,
    ),
    Rule(
        "checksum.mismatch-refused",
        "§4.5",
        "a supplied checksum that does not match the data is refused (400), and nothing is stored",
        KIND_TYPES,
    ),
    Rule(
        "checksum.computed-when-absent",
        "§4.5",
        "an upload without a checksum gets it computed by the server, with the chosen algorithm",
        KIND_TYPES,
    ),
    Rule(
        "checksum.whole-stream",
        "§5",
        "the checksum is computed over the whole upload, however large (several MB, more than "
        "any one read buffer)",
        KIND_TYPES,
    ),
    Rule(
        "checksum.supplied-whole-stream",
        "§4.5",
        "a supplied checksum is checked against the whole upload: the checksum of all but its "
        "tail is refused (400)",
        KIND_TYPES,
    ),
)
